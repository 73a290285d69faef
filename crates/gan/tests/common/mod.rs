//! One GPU context per test binary; with `CI=true` a missing adapter fails
//! the test, elsewhere GPU tests skip with a one-line reason.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::sync::OnceLock;

use webgan_tensor::GpuContext;

pub fn gpu() -> Option<&'static GpuContext> {
    static CONTEXT: OnceLock<Result<GpuContext, String>> = OnceLock::new();
    let context =
        CONTEXT.get_or_init(|| pollster::block_on(GpuContext::new()).map_err(|e| e.to_string()));
    match context {
        Ok(ctx) => Some(ctx),
        Err(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true requires a GPU adapter (lavapipe on CI): {reason}")
        }
        Err(reason) => {
            eprintln!("skipping GPU test: {reason}");
            None
        }
    }
}

//! Shared by the GPU test binaries: one context per process, uploads,
//! readback, seeded inputs and tolerant comparison.
//!
//! With `CI=true` a missing adapter fails the test; elsewhere GPU tests skip
//! with a one-line reason (the CPU-only tests still run).

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use webgan_tensor::{Encoder, GpuContext, Result, Tensor};

/// The process's GPU context, or `None` (after saying why) outside CI.
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

/// Records with `record`, submits, and fails the test on any op error.
pub fn run(ctx: &GpuContext, record: impl FnOnce(&mut Encoder) -> Result<()>) {
    let mut enc = Encoder::new(ctx);
    record(&mut enc).expect("recording failed");
    enc.submit();
}

/// A tensor holding `data` (f64 values rounded to f32).
pub fn upload(ctx: &GpuContext, shape: &[usize], data: &[f64], label: &str) -> Tensor {
    let data: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    Tensor::from_slice(ctx, shape, &data, label).expect("upload")
}

/// A zero tensor.
pub fn zeros(ctx: &GpuContext, shape: &[usize], label: &str) -> Tensor {
    Tensor::zeros(ctx, shape, label).expect("allocation")
}

/// Reads a tensor back as f64, failing on any GPU error reported meanwhile.
pub fn read(ctx: &GpuContext, tensor: &Tensor) -> Vec<f64> {
    let values = pollster::block_on(tensor.read(ctx)).expect("readback");
    if let Some(error) = ctx.take_gpu_error() {
        panic!("GPU error before reading '{}': {error}", tensor.label());
    }
    values.into_iter().map(f64::from).collect()
}

/// `count` values uniform in [-scale, scale), seeded, exactly representable
/// in f32 so the CPU reference sees what the GPU sees.
pub fn random(seed: u64, count: usize, scale: f64) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| (rng.random_range(-scale..scale) as f32) as f64)
        .collect()
}

/// Fails with the worst element unless |got - want| <= atol + rtol |want|
/// everywhere.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let excess = (g - w).abs() - (atol + rtol * w.abs());
        // NaN fails too: it is not <= 0.
        let fails = excess.is_nan() || excess > 0.0;
        if fails && worst.is_none_or(|(_, e)| excess > e || e.is_nan()) {
            worst = Some((i, excess));
        }
    }
    if let Some((i, _)) = worst {
        panic!(
            "{what}: element {i} is {} but should be {} (rtol {rtol}, atol {atol}; {} elements)",
            got[i],
            want[i],
            got.len()
        );
    }
}

/// The largest |v|, for tolerances relative to a tensor's scale.
pub fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

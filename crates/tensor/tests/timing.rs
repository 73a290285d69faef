//! Per-kernel timing: with timestamp queries on, every dispatch is counted
//! under its scope and kernel, results stay what they were, and turning
//! timing off stops the counting.

mod common;

use std::sync::Arc;

use webgan_tensor::ops::{self, ReduceMap};
use webgan_tensor::{Encoder, GpuContext, Tensor};

/// Waits until every timed submission has reported.
fn settle(ctx: &GpuContext) -> Vec<webgan_tensor::KernelTime> {
    ctx.wait_kernel_times()
        .expect("timed submissions report once the device is idle")
}

#[test]
fn timed_dispatches_are_counted_per_scope_and_kernel() {
    // A context of its own: the timer is per context.
    let Some(_) = common::gpu() else { return };
    let ctx = pollster::block_on(GpuContext::new()).expect("a second context");
    let x = Tensor::from_slice(&ctx, &[4, 8], &[0.5; 32], "x").unwrap();
    let sum = Tensor::zeros(&ctx, &[8], "sum").unwrap();
    let copy = Tensor::zeros(&ctx, &[8], "copy").unwrap();
    let record = |enc: &mut Encoder| {
        enc.set_scope(Some(Arc::from("layer A")));
        ops::reduce_sum(enc, &x, &sum, 0, 1.0, ReduceMap::Identity).unwrap();
        ops::reduce_sum(enc, &x, &sum, 0, 1.0, ReduceMap::Identity).unwrap();
        // A copy between dispatches splits the passes; it is not timed.
        enc.copy(&sum, &copy).unwrap();
        enc.set_scope(None);
        ops::reduce_sum(enc, &x, &sum, 0, 2.0, ReduceMap::Identity).unwrap();
    };

    if !ctx.timestamps_supported() {
        // Nothing to time with: timing stays off and nothing is counted.
        assert!(!ctx.time_kernels(true));
        let mut enc = Encoder::new(&ctx);
        record(&mut enc);
        enc.submit();
        assert!(settle(&ctx).is_empty());
        return;
    }

    let mut enc = Encoder::new(&ctx);
    record(&mut enc);
    enc.submit();
    let untimed = pollster::block_on(sum.read(&ctx)).unwrap();

    assert!(ctx.time_kernels(true));
    for _ in 0..3 {
        let mut enc = Encoder::new(&ctx);
        record(&mut enc);
        enc.submit();
    }
    // Timed or not, the kernels compute the same.
    assert_eq!(pollster::block_on(sum.read(&ctx)).unwrap(), untimed);
    let times = settle(&ctx);
    let find = |scope: &str| {
        times
            .iter()
            .find(|t| t.scope == scope)
            .unwrap_or_else(|| panic!("no row for scope {scope}: {times:?}"))
    };
    let (a, rest) = (find("layer A"), find("-"));
    assert_eq!(times.len(), 2, "{times:?}");
    assert_eq!((a.kernel, a.dispatches), (rest.kernel, 6));
    assert_eq!(rest.dispatches, 3);
    assert!(a.total_ms > 0.0 && a.total_ms.is_finite(), "{a:?}");
    assert!(times[0].total_ms >= times[1].total_ms, "slowest first");

    // Off: later submissions add nothing.
    assert!(!ctx.time_kernels(false));
    let mut enc = Encoder::new(&ctx);
    record(&mut enc);
    enc.submit();
    pollster::block_on(sum.read(&ctx)).unwrap();
    assert_eq!(settle(&ctx), times);
    // On again: the totals start from zero.
    assert!(ctx.time_kernels(true));
    assert!(settle(&ctx).is_empty());
    ctx.time_kernels(false);
    // The timing buffers are gone once read back.
    let live = ctx.buffer_stats().live;
    assert_eq!(
        live,
        4,
        "x, sum, copy and the parameter buffer: {}",
        ctx.buffer_stats()
    );
}

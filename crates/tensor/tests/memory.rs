//! The buffer ledger: every buffer made through a context is counted while
//! any handle to it lives, and only then.

mod common;

use webgan_tensor::ops::{self, ReduceMap};
use webgan_tensor::{Encoder, GpuContext, Tensor};

#[test]
fn the_ledger_counts_live_buffers_and_their_bytes() {
    // This binary's only test, on a context of its own: counts are exact.
    let Some(_) = common::gpu() else { return };
    let ctx = pollster::block_on(GpuContext::new()).expect("a second context");
    let empty = ctx.buffer_stats();
    assert_eq!((empty.live, empty.live_bytes, empty.created), (0, 0, 0));

    let a = Tensor::from_slice(&ctx, &[3, 5], &[1.0; 15], "a").unwrap();
    let shared = a.reshape(&[15]).unwrap();
    let sum = Tensor::zeros(&ctx, &[1], "sum").unwrap();
    let stats = ctx.buffer_stats();
    assert_eq!(
        (stats.live, stats.live_bytes, stats.created),
        (2, 64, 2),
        "{stats}"
    );

    // A submission adds the parameter buffer once; a readback's staging
    // buffer is gone when the read returns.
    for _ in 0..3 {
        let mut enc = Encoder::new(&ctx);
        ops::reduce_sum(&mut enc, &shared, &sum, 0, 1.0, ReduceMap::Identity).unwrap();
        enc.submit();
    }
    assert_eq!(pollster::block_on(sum.read(&ctx)).unwrap(), vec![15.0]);
    let used = ctx.buffer_stats();
    assert_eq!(used.live, 3, "tensors and the parameter buffer: {used}");
    assert_eq!(used.created, 4, "one staging buffer for the read: {used}");

    // The buffer lives while either handle does.
    drop(a);
    assert_eq!(ctx.buffer_stats().live, 3);
    drop(shared);
    let last = ctx.buffer_stats();
    assert_eq!(
        (last.live, last.live_bytes),
        (used.live - 1, used.live_bytes - 60)
    );
}

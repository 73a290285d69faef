//! The buffer ledger: every buffer made through a context is counted while
//! any handle to it lives, and only then.

mod common;

use webgan_tensor::ops::{self, ReduceMap};
use webgan_tensor::{Encoder, GpuContext, Tensor};

#[test]
fn the_ledger_counts_live_buffers_and_their_bytes() {
    // A context of its own (each has its own ledger): counts are exact.
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

#[test]
fn many_tensors_read_back_through_one_staging_buffer() {
    let Some(_) = common::gpu() else { return };
    let ctx = pollster::block_on(GpuContext::new()).expect("a second context");
    let values: [Vec<f32>; 3] = [
        vec![1.0, -2.0, 3.5],
        (0..17).map(|i| i as f32 * 0.25).collect(),
        vec![f32::MAX, f32::MIN_POSITIVE, -0.0, 7.0],
    ];
    let tensors: Vec<Tensor> = values
        .iter()
        .zip(["a", "b", "c"])
        .map(|(v, label)| Tensor::from_slice(&ctx, &[v.len()], v, label).unwrap())
        .collect();
    let before = ctx.buffer_stats();

    let refs: Vec<&Tensor> = tensors.iter().collect();
    let read = pollster::block_on(ctx.read_f32_many(&refs)).unwrap();
    for (got, want) in read.iter().zip(&values) {
        let (got, want): (Vec<u32>, Vec<u32>) = (
            got.iter().map(|x| x.to_bits()).collect(),
            want.iter().map(|x| x.to_bits()).collect(),
        );
        assert_eq!(got, want);
    }
    assert_eq!(read.len(), 3);
    let after = ctx.buffer_stats();
    assert_eq!(
        after.created,
        before.created + 1,
        "one staging buffer: {after}"
    );
    assert_eq!(after.live, before.live, "and gone after the read: {after}");

    let none = pollster::block_on(ctx.read_f32_many(&[])).unwrap();
    assert!(none.is_empty());
    assert_eq!(
        ctx.buffer_stats().created,
        after.created,
        "no buffer for nothing"
    );
}

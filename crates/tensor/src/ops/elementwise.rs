//! fill, scale, add, axpy (`shaders/elementwise.wgsl`) and sums for metrics
//! (`shaders/reduce.wgsl`).

use super::{check_distinct, check_len, to_u32};
use crate::encoder::Encoder;
use crate::error::{Result, TensorError};
use crate::shaders::{self, KernelId};
use crate::tensor::Tensor;

/// Mirrors `ElementwiseParams` in `shaders/elementwise.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ElementwiseParams {
    pub count: u32,
    pub alpha: f32,
    pub value: f32,
    pub _pad: u32,
}

/// Mirrors `ReduceParams` in `shaders/reduce.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ReduceParams {
    pub count: u32,
    pub out_index: u32,
    pub scale: f32,
    pub map: u32,
}

/// What [`reduce_sum`] applies to each value before summing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceMap {
    Identity = 0,
    Sigmoid = 1,
}

fn record(
    enc: &mut Encoder,
    kernel: KernelId,
    tensors: &[&Tensor],
    alpha: f32,
    value: f32,
) -> Result<()> {
    let out = tensors[tensors.len() - 1];
    let params = ElementwiseParams {
        count: to_u32(kernel.entry, "count", out.len())?,
        alpha,
        value,
        _pad: 0,
    };
    enc.dispatch_flat(kernel, &params, tensors, out.len())
}

/// Records `out = value` for every element.
///
/// # Errors
///
/// A tensor too large for u32 indices.
pub fn fill(enc: &mut Encoder, out: &Tensor, value: f32) -> Result<()> {
    record(enc, shaders::FILL, &[out], 0.0, value)
}

/// Records `x = alpha * x`, in place.
///
/// # Errors
///
/// A tensor too large for u32 indices.
pub fn scale(enc: &mut Encoder, x: &Tensor, alpha: f32) -> Result<()> {
    record(enc, shaders::SCALE, &[x], alpha, 0.0)
}

/// Records `out = a + alpha * b`.
///
/// # Shapes
///
/// a, b and out: the same number of elements.
///
/// # Errors
///
/// Counts that differ; out sharing a buffer with an input.
pub fn add(enc: &mut Encoder, a: &Tensor, b: &Tensor, alpha: f32, out: &Tensor) -> Result<()> {
    check_len("add", "b", b, a)?;
    check_len("add", "out", out, a)?;
    check_distinct("add", a, out)?;
    check_distinct("add", b, out)?;
    record(enc, shaders::ADD, &[a, b, out], alpha, 0.0)
}

/// Records `y = y + alpha * x`, in place in `y`.
///
/// # Shapes
///
/// x and y: the same number of elements.
///
/// # Errors
///
/// Counts that differ; x and y the same buffer.
pub fn axpy(enc: &mut Encoder, alpha: f32, x: &Tensor, y: &Tensor) -> Result<()> {
    check_len("axpy", "y", y, x)?;
    check_distinct("axpy", x, y)?;
    record(enc, shaders::AXPY, &[x, y], alpha, 0.0)
}

/// Records `out[out_index] = scale * sum(map(x))`.
///
/// Meant for per-step metrics over small tensors (one workgroup does the
/// sum); with [`ReduceMap::Sigmoid`] and `scale = 1 / count` over logits it
/// gives D's mean probability.
///
/// # Errors
///
/// `out_index` outside `out`; out sharing x's buffer.
pub fn reduce_sum(
    enc: &mut Encoder,
    x: &Tensor,
    out: &Tensor,
    out_index: usize,
    scale: f32,
    map: ReduceMap,
) -> Result<()> {
    const OP: &str = "reduce_sum";
    if out_index >= out.len() {
        return Err(TensorError::InvalidArgument {
            op: OP,
            message: format!(
                "out_index {out_index} is outside '{}' {:?}",
                out.label(),
                out.shape()
            ),
        });
    }
    check_distinct(OP, x, out)?;
    let params = ReduceParams {
        count: to_u32(OP, "count", x.len())?,
        out_index: to_u32(OP, "out_index", out_index)?,
        scale,
        map: map as u32,
    };
    enc.dispatch(shaders::REDUCE_SUM, &params, &[x, out], [1, 1, 1]);
    Ok(())
}

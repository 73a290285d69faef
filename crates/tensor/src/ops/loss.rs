//! bce_with_logits and mse, forward and backward (`shaders/loss.wgsl`).

use super::{check_distinct, check_len, to_u32};
use crate::encoder::Encoder;
use crate::error::{Result, TensorError};
use crate::shaders;
use crate::tensor::Tensor;

/// Mirrors `LossParams` in `shaders/loss.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LossParams {
    pub count: u32,
    pub out_index: u32,
    pub scale: f32,
    pub _pad: u32,
}

/// A loss averaged over the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Binary cross-entropy from logits: `max(l, 0) - l t + log(1 + exp(-|l|))`,
    /// finite for any logit; gradient `sigmoid(l) - t`.
    BceWithLogits,
    /// Squared error `(l - t)^2`; gradient `2 (l - t)`.
    Mse,
}

fn params(
    op: &'static str,
    logits: &Tensor,
    targets: &Tensor,
    out_index: usize,
    scale: f32,
) -> Result<LossParams> {
    check_len(op, "targets", targets, logits)?;
    Ok(LossParams {
        count: to_u32(op, "count", logits.len())?,
        out_index: to_u32(op, "out_index", out_index)?,
        scale,
        _pad: 0,
    })
}

/// Records `out[out_index] = scale * mean(loss(logits, targets))`.
///
/// Writing into one element of `out` lets a training step gather all its
/// metrics in one small tensor (or ring) read back at once.
///
/// # Shapes
///
/// logits and targets: the same number of elements; out: any, with more
/// than `out_index` elements.
///
/// # Errors
///
/// Counts that differ, `out_index` outside `out`, `out` sharing a buffer
/// with an input.
pub fn loss_forward(
    enc: &mut Encoder,
    loss: Loss,
    (logits, targets): (&Tensor, &Tensor),
    out: &Tensor,
    out_index: usize,
    scale: f32,
) -> Result<()> {
    const OP: &str = "loss_forward";
    let params = params(OP, logits, targets, out_index, scale)?;
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
    check_distinct(OP, logits, out)?;
    check_distinct(OP, targets, out)?;
    let kernel = match loss {
        Loss::BceWithLogits => shaders::BCE_WITH_LOGITS_FORWARD,
        Loss::Mse => shaders::MSE_FORWARD,
    };
    enc.dispatch(kernel, &params, &[logits, targets, out], [1, 1, 1]);
    Ok(())
}

/// Records `grad = scale * d mean(loss) / d logits`.
///
/// # Shapes
///
/// logits, targets and grad: the same number of elements.
///
/// # Errors
///
/// Counts that differ; grad sharing a buffer with an input.
pub fn loss_backward(
    enc: &mut Encoder,
    loss: Loss,
    (logits, targets): (&Tensor, &Tensor),
    grad: &Tensor,
    scale: f32,
) -> Result<()> {
    const OP: &str = "loss_backward";
    let params = params(OP, logits, targets, 0, scale)?;
    check_len(OP, "grad", grad, logits)?;
    check_distinct(OP, logits, grad)?;
    check_distinct(OP, targets, grad)?;
    let kernel = match loss {
        Loss::BceWithLogits => shaders::BCE_WITH_LOGITS_BACKWARD,
        Loss::Mse => shaders::MSE_BACKWARD,
    };
    enc.dispatch_flat(kernel, &params, &[logits, targets, grad], logits.len())
}

//! Kernel launchers: validate on the host, then record a dispatch.
//!
//! Every launcher checks ranks, shapes and sizes before it records anything,
//! so bad input is a [`TensorError`] naming the op and both shapes, never a
//! GPU validation error. Outputs are tensors the caller allocated; nothing
//! here allocates per call except [`BatchNorm2d::new`].
//!
//! Each parameter struct mirrors the WGSL struct of the same name field for
//! field (`#[repr(C)]`, 16-byte multiples); a test compares their sizes with
//! naga's layout.

mod activation;
mod adam;
mod batch_norm;
mod conv;
mod elementwise;
mod guard;
mod loss;
mod matmul;
mod mmd;
mod random;

pub use activation::{activation_backward, activation_forward, Activation};
pub use adam::{adam_step, AdamStep};
pub use batch_norm::{BatchNorm2d, NormMode};
pub use conv::{
    conv2d_backward_input, conv2d_backward_weight, conv2d_forward, conv_transpose2d_backward_input,
    conv_transpose2d_backward_weight, conv_transpose2d_forward, Conv2d, ConvGeometry,
    ConvTranspose2d,
};
pub use elementwise::{add, axpy, fill, reduce_sum, scale, ReduceMap};
pub use guard::{guard_finite, Halt};
pub use loss::{loss_backward, loss_forward, Loss};
pub use matmul::matmul;
pub use mmd::rbf_kernel;
pub use random::{random_normal, random_uniform, Philox};

#[doc(hidden)]
pub mod params {
    //! The uniform structs, public for the layout test only.
    pub use super::activation::ActivationParams;
    pub use super::adam::AdamParams;
    pub use super::batch_norm::BatchNormParams;
    pub use super::conv::{ConvParams, DenseParams};
    pub use super::elementwise::{ElementwiseParams, ReduceParams};
    pub use super::guard::GuardParams;
    pub use super::loss::LossParams;
    pub use super::matmul::MatmulParams;
    pub use super::mmd::RbfParams;
    pub use super::random::RandomParams;
}

use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

/// Fails unless `tensor` has `rank` dimensions.
pub(crate) fn check_rank(
    op: &'static str,
    what: &'static str,
    t: &Tensor,
    rank: usize,
) -> Result<()> {
    if t.shape().len() != rank {
        return Err(TensorError::Rank {
            op,
            what,
            expected: rank,
            got: t.shape().to_vec(),
        });
    }
    Ok(())
}

/// Fails unless `tensor` has exactly the shape `expected`.
pub(crate) fn check_shape(
    op: &'static str,
    what: &'static str,
    t: &Tensor,
    expected: &[usize],
) -> Result<()> {
    if t.shape() != expected {
        return Err(TensorError::ShapeMismatch {
            op,
            what,
            expected: expected.to_vec(),
            got: t.shape().to_vec(),
        });
    }
    Ok(())
}

/// Fails unless `t` has as many elements as `reference` (shapes may differ).
pub(crate) fn check_len(
    op: &'static str,
    what: &'static str,
    t: &Tensor,
    reference: &Tensor,
) -> Result<()> {
    if t.len() != reference.len() {
        return Err(TensorError::ShapeMismatch {
            op,
            what,
            expected: reference.shape().to_vec(),
            got: t.shape().to_vec(),
        });
    }
    Ok(())
}

/// Fails unless `a` and `b` are different buffers: WebGPU forbids binding a
/// buffer as writable storage and as another storage binding at once.
pub(crate) fn check_distinct(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.buffer() == b.buffer() {
        return Err(TensorError::InvalidArgument {
            op,
            message: format!(
                "'{}' and '{}' share one buffer; this op cannot run in place",
                a.label(),
                b.label()
            ),
        });
    }
    Ok(())
}

/// `value` as u32 for a kernel parameter, or a limit error.
pub(crate) fn to_u32(op: &'static str, what: &'static str, value: usize) -> Result<u32> {
    u32::try_from(value).map_err(|_| TensorError::Limit {
        op,
        what,
        needed: value as u64,
        limit: u32::MAX as u64,
    })
}

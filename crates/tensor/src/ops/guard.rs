//! The halt flag that stops a run at its first non-finite loss without a
//! readback (`shaders/guard.wgsl`).

use super::to_u32;
use crate::context::GpuContext;
use crate::encoder::Encoder;
use crate::error::{Result, TensorError};
use crate::shaders;
use crate::tensor::Tensor;

/// Mirrors `GuardParams` in `shaders/guard.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GuardParams {
    pub count: u32,
    pub offset: u32,
    pub step: f32,
    pub _pad: u32,
}

/// A one-element flag on the GPU: 0 while all is well, else the first bad
/// step + 1. [`adam_step`](super::adam_step) and batch norm's running
/// statistics do nothing once it is set.
#[derive(Clone, Debug)]
pub struct Halt(Tensor);

impl Halt {
    /// A cleared flag.
    ///
    /// # Errors
    ///
    /// Allocation errors of [`Tensor::zeros`].
    pub fn new(ctx: &GpuContext, label: &str) -> Result<Self> {
        Ok(Self(Tensor::zeros(ctx, &[1], label)?))
    }

    /// The flag's tensor, to read back or to reset with a write.
    pub fn tensor(&self) -> &Tensor {
        &self.0
    }
}

/// Records: if any of `values[offset .. offset + count]` is NaN or infinite
/// and the flag is clear, set it to `step + 1`.
///
/// # Errors
///
/// A range outside `values`.
pub fn guard_finite(
    enc: &mut Encoder,
    values: &Tensor,
    (offset, count): (usize, usize),
    step: u64,
    halt: &Halt,
) -> Result<()> {
    const OP: &str = "guard_finite";
    if count == 0 || offset + count > values.len() {
        return Err(TensorError::InvalidArgument {
            op: OP,
            message: format!(
                "{count} values from {offset} do not fit '{}' {:?}",
                values.label(),
                values.shape()
            ),
        });
    }
    let params = GuardParams {
        count: to_u32(OP, "count", count)?,
        offset: to_u32(OP, "offset", offset)?,
        step: step as f32,
        _pad: 0,
    };
    enc.dispatch(
        shaders::GUARD_FINITE,
        &params,
        &[values, halt.tensor()],
        [1, 1, 1],
    );
    Ok(())
}

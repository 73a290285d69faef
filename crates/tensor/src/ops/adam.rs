//! Adam, in place (`shaders/adam.wgsl`).

use super::{check_distinct, check_len, to_u32, Halt};
use crate::encoder::Encoder;
use crate::error::{Result, TensorError};
use crate::shaders;
use crate::tensor::Tensor;

/// Mirrors `AdamParams` in `shaders/adam.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamParams {
    pub count: u32,
    pub step_size: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub bias2_sqrt: f32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// The hyper-parameters of one Adam step; they may change between steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Step number, from 1, for bias correction.
    pub t: u64,
}

impl AdamStep {
    fn params(&self, count: usize) -> Result<AdamParams> {
        const OP: &str = "adam_step";
        let valid = self.t >= 1
            && self.lr.is_finite()
            && self.lr >= 0.0
            && (0.0..1.0).contains(&self.beta1)
            && (0.0..1.0).contains(&self.beta2)
            && self.eps > 0.0;
        if !valid {
            return Err(TensorError::InvalidArgument {
                op: OP,
                message: format!("needs t >= 1, lr >= 0, betas in [0, 1), eps > 0; got {self:?}"),
            });
        }
        // Bias corrections in f64: beta^t for large t underflows gracefully.
        let t = self.t.min(i32::MAX as u64) as i32;
        let bias1 = 1.0 - (self.beta1 as f64).powi(t);
        let bias2 = 1.0 - (self.beta2 as f64).powi(t);
        Ok(AdamParams {
            count: to_u32(OP, "count", count)?,
            step_size: (self.lr as f64 / bias1) as f32,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            bias2_sqrt: bias2.sqrt() as f32,
            _pad0: 0,
            _pad1: 0,
        })
    }
}

/// Records one Adam step of `param` with `grad`, updating the moments `m`
/// and `v` in place; nothing changes once `halt` is set.
///
/// # Shapes
///
/// param, grad, m and v: the same number of elements.
///
/// # Errors
///
/// Counts that differ, shared buffers, or hyper-parameters out of range.
pub fn adam_step(
    enc: &mut Encoder,
    step: &AdamStep,
    param: &Tensor,
    grad: &Tensor,
    (m, v): (&Tensor, &Tensor),
    halt: &Halt,
) -> Result<()> {
    const OP: &str = "adam_step";
    for (what, t) in [("grad", grad), ("m", m), ("v", v)] {
        check_len(OP, what, t, param)?;
        check_distinct(OP, t, param)?;
    }
    check_distinct(OP, m, v)?;
    check_distinct(OP, grad, m)?;
    check_distinct(OP, grad, v)?;
    let params = step.params(param.len())?;
    enc.dispatch_flat(
        shaders::ADAM_STEP,
        &params,
        &[grad, param, m, v, halt.tensor()],
        param.len(),
    )
}

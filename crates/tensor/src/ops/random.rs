//! Uniform and normal noise from a seed (`shaders/random.wgsl`).

use super::to_u32;
use crate::encoder::Encoder;
use crate::error::Result;
use crate::shaders::{self, KernelId};
use crate::tensor::Tensor;

/// Mirrors `RandomParams` in `shaders/random.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RandomParams {
    pub count: u32,
    pub key_lo: u32,
    pub key_hi: u32,
    pub stream: u32,
    pub offset_lo: u32,
    pub offset_hi: u32,
    pub a: f32,
    pub b: f32,
}

/// Where a Philox4x32-10 draw comes from: the values depend only on these
/// three numbers and the element index, so a draw is reproducible anywhere.
///
/// Use one `stream` per purpose (noise for D's step, for G's step, ...) and
/// bump `offset` for each new draw in that stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Philox {
    pub seed: u64,
    pub stream: u32,
    pub offset: u64,
}

impl Philox {
    fn params(&self, op: &'static str, out: &Tensor, a: f32, b: f32) -> Result<RandomParams> {
        Ok(RandomParams {
            count: to_u32(op, "count", out.len())?,
            key_lo: self.seed as u32,
            key_hi: (self.seed >> 32) as u32,
            stream: self.stream,
            offset_lo: self.offset as u32,
            offset_hi: (self.offset >> 32) as u32,
            a,
            b,
        })
    }
}

fn record(enc: &mut Encoder, kernel: KernelId, params: RandomParams, out: &Tensor) -> Result<()> {
    // One invocation per four elements.
    enc.dispatch_flat(kernel, &params, &[out], out.len().div_ceil(4))
}

/// Records `out` = uniform values in `[low, high)`.
///
/// # Errors
///
/// A tensor too large for u32 indices.
pub fn random_uniform(
    enc: &mut Encoder,
    rng: Philox,
    out: &Tensor,
    low: f32,
    high: f32,
) -> Result<()> {
    let params = rng.params("random_uniform", out, low, high)?;
    record(enc, shaders::RANDOM_UNIFORM, params, out)
}

/// Records `out` = normal values with the given mean and standard deviation.
///
/// # Errors
///
/// A tensor too large for u32 indices.
pub fn random_normal(
    enc: &mut Encoder,
    rng: Philox,
    out: &Tensor,
    mean: f32,
    std: f32,
) -> Result<()> {
    let params = rng.params("random_normal", out, mean, std)?;
    record(enc, shaders::RANDOM_NORMAL, params, out)
}

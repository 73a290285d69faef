//! Gaussian kernel matrices for the MMD quality figure (`shaders/mmd.wgsl`).

use super::{check_distinct, to_u32};
use crate::encoder::Encoder;
use crate::error::{Result, TensorError};
use crate::shaders;
use crate::tensor::Tensor;

/// Mirrors `RbfParams` in `shaders/mmd.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RbfParams {
    pub n: u32,
    pub m: u32,
    pub d: u32,
    pub count: u32,
    pub inv_two_sigma_sq: [f32; 4],
}

/// Records `out[i, j]` = the mean over `sigmas` of
/// `exp(-|a_i - b_j|^2 / (2 sigma^2))`.
///
/// # Shapes
///
/// a `[n, ...]` and b `[m, ...]` with the same trailing element count d;
/// out with n * m elements.
///
/// # Errors
///
/// Mismatched sizes, out sharing a buffer with an input, no bandwidth or
/// more than four, or a bandwidth that is not positive.
pub fn rbf_kernel(
    enc: &mut Encoder,
    a: &Tensor,
    b: &Tensor,
    out: &Tensor,
    sigmas: &[f32],
) -> Result<()> {
    const OP: &str = "rbf_kernel";
    let (n, m) = (a.shape()[0], b.shape()[0]);
    let d = a.len() / n;
    if b.len() / m != d {
        return Err(TensorError::ShapeMismatch {
            op: OP,
            what: "second set",
            expected: [&[m][..], &a.shape()[1..]].concat(),
            got: b.shape().to_vec(),
        });
    }
    if out.len() != n * m {
        return Err(TensorError::ShapeMismatch {
            op: OP,
            what: "output",
            expected: vec![n, m],
            got: out.shape().to_vec(),
        });
    }
    if sigmas.is_empty() || sigmas.len() > 4 || !sigmas.iter().all(|s| *s > 0.0) {
        return Err(TensorError::InvalidArgument {
            op: OP,
            message: format!("needs one to four positive bandwidths, got {sigmas:?}"),
        });
    }
    check_distinct(OP, a, out)?;
    check_distinct(OP, b, out)?;
    let mut inv_two_sigma_sq = [0.0; 4];
    for (slot, sigma) in inv_two_sigma_sq.iter_mut().zip(sigmas) {
        *slot = 1.0 / (2.0 * sigma * sigma);
    }
    let params = RbfParams {
        n: to_u32(OP, "n", n)?,
        m: to_u32(OP, "m", m)?,
        d: to_u32(OP, "d", d)?,
        count: sigmas.len() as u32,
        inv_two_sigma_sq,
    };
    enc.dispatch_flat(shaders::RBF_KERNEL, &params, &[a, b, out], n * m)
}

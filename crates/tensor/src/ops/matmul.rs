//! Matrix product `c = aᵀ b` (`shaders/matmul.wgsl`), the yardstick the
//! kernel benchmark holds the convolutions against. The model itself does
//! not use it.

use super::{check_distinct, check_rank, check_shape, to_u32};
use crate::encoder::Encoder;
use crate::error::{Result, TensorError};
use crate::shaders;
use crate::tensor::Tensor;

/// Mirrors `MatmulParams` in `shaders/matmul.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub _pad: u32,
}

/// Records `c[i, j] = sum over l of a[l, i] * b[l, j]`.
///
/// # Shapes
///
/// a `[k, m]` (the left factor transposed), b `[k, n]`, c `[m, n]`, with m
/// and n multiples of 8 (each invocation computes an 8 x 8 block, or a
/// 16 x 16 one where m and n are multiples of 16).
///
/// # Errors
///
/// Ranks other than 2, mismatched sizes, m or n not a multiple of 8 or
/// zero, c sharing a buffer with an input.
pub fn matmul(enc: &mut Encoder, a: &Tensor, b: &Tensor, c: &Tensor) -> Result<()> {
    const OP: &str = "matmul";
    check_rank(OP, "left factor (transposed)", a, 2)?;
    check_rank(OP, "right factor", b, 2)?;
    let (k, m, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    check_shape(OP, "right factor", b, &[k, n])?;
    check_shape(OP, "output", c, &[m, n])?;
    if k == 0 || m == 0 || n == 0 || m % 8 != 0 || n % 8 != 0 {
        return Err(TensorError::InvalidArgument {
            op: OP,
            message: format!(
                "needs m and n positive multiples of 8 and k > 0, got a {:?} and b {:?}",
                a.shape(),
                b.shape()
            ),
        });
    }
    check_distinct(OP, a, c)?;
    check_distinct(OP, b, c)?;
    let params = MatmulParams {
        m: to_u32(OP, "m", m)?,
        n: to_u32(OP, "n", n)?,
        k: to_u32(OP, "k", k)?,
        _pad: 0,
    };
    if m % 16 == 0 && n % 16 == 0 {
        let blocks = (m / 16) * (n / 16);
        enc.dispatch_flat(shaders::MATMUL_FORWARD_16, &params, &[a, b, c], blocks)
    } else {
        let blocks = (m / 8) * (n / 8);
        enc.dispatch_flat(shaders::MATMUL_FORWARD, &params, &[a, b, c], blocks)
    }
}

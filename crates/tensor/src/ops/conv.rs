//! conv2d and conv_transpose2d, forward and backward, both on the kernels
//! of `shaders/conv2d.wgsl`, except where the kernel covers the whole
//! input and a pass is a plain matrix product (`shaders/dense.wgsl`, see
//! `Pass::dense`) and for the DCGAN's one-channel layers, kernel 4, stride
//! 2, padding 1 (`shaders/conv2d_k4s2.wgsl`, see `k4s2_rows` and
//! `Pass::kernel`).
//!
//! Each kernel invocation computes an 8 x 8 block of its pass's matrix
//! product (see the file's header); the launcher picks the kernel for the
//! pass and shape and sizes its grid: `Pass::kernel` (which input-gradient
//! kernel), [`crate::Tuning::split_weight_sums`] (one lane per
//! weight-gradient block, or several) and `weight_slices` (how many), each
//! with the measurements behind its rule.

use super::{check_distinct, check_rank, check_shape, to_u32};
use crate::encoder::Encoder;
use crate::error::{Result, TensorError};
use crate::shaders;
use crate::tensor::Tensor;

/// Mirrors `ConvParams` in `shaders/conv2d.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ConvParams {
    pub n: u32,
    pub c_in: u32,
    pub c_out: u32,
    pub h_in: u32,
    pub w_in: u32,
    pub h_out: u32,
    pub w_out: u32,
    pub k_h: u32,
    pub k_w: u32,
    pub stride: u32,
    pub pad: u32,
    pub accumulate: u32,
    /// Weight gradient only: lanes sharing each block's sum over positions.
    pub slices: u32,
    /// Lanes of each workgroup that take a block (the rest return at once),
    /// to spread few blocks over more workgroups (`spread_lanes`); every
    /// kernel but those whose lanes share sums (`slices`).
    pub group_lanes: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

/// Mirrors `DenseParams` in `shaders/dense.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DenseParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub accumulate: u32,
    /// `dense_nt` only: lanes sharing each block's sum over k.
    pub slices: u32,
    /// `dense_nn_16` and `dense_tn_16` only: lanes of each workgroup that
    /// take a block (as `ConvParams::group_lanes`).
    pub group_lanes: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

/// A convolution as PyTorch's `Conv2d(c_in, c_out, k, stride, pad, bias=False)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    pub stride: usize,
    pub pad: usize,
}

/// A transposed convolution as PyTorch's
/// `ConvTranspose2d(c_in, c_out, k, stride, pad, out_pad, bias=False)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2d {
    pub stride: usize,
    pub pad: usize,
    pub out_pad: usize,
}

/// Every size of one (transposed) convolution, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub n: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub h_in: usize,
    pub w_in: usize,
    pub h_out: usize,
    pub w_out: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride: usize,
    pub pad: usize,
    /// True for a transposed convolution (weight `[C_in, C_out, K_h, K_w]`).
    pub transposed: bool,
}

impl ConvGeometry {
    /// `[N, C_in, H_in, W_in]`.
    pub fn input_shape(&self) -> [usize; 4] {
        [self.n, self.c_in, self.h_in, self.w_in]
    }

    /// `[N, C_out, H_out, W_out]`.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.n, self.c_out, self.h_out, self.w_out]
    }

    /// `[C_out, C_in, K_h, K_w]`, or `[C_in, C_out, K_h, K_w]` when transposed.
    pub fn weight_shape(&self) -> [usize; 4] {
        if self.transposed {
            [self.c_in, self.c_out, self.k_h, self.k_w]
        } else {
            [self.c_out, self.c_in, self.k_h, self.k_w]
        }
    }

    /// Multiply-adds times two of the forward pass (each backward pass does
    /// the same number, counting padding taps as work).
    pub fn flops(&self) -> f64 {
        let taps = (self.c_in * self.k_h * self.k_w) as f64;
        let outputs = if self.transposed {
            (self.n * self.c_out * self.h_in * self.w_in) as f64
        } else {
            (self.n * self.c_out * self.h_out * self.w_out) as f64
        };
        2.0 * taps * outputs
    }

    /// The parameters of the conv2d kernels; for a transposed convolution
    /// with input and output swapped (see `record`).
    fn kernel_params(&self, op: &'static str, accumulate: bool) -> Result<ConvParams> {
        let mut g = *self;
        if g.transposed {
            std::mem::swap(&mut g.c_in, &mut g.c_out);
            std::mem::swap(&mut g.h_in, &mut g.h_out);
            std::mem::swap(&mut g.w_in, &mut g.w_out);
        }
        let u = |what, v| to_u32(op, what, v);
        Ok(ConvParams {
            n: u("n", g.n)?,
            c_in: u("c_in", g.c_in)?,
            c_out: u("c_out", g.c_out)?,
            h_in: u("h_in", g.h_in)?,
            w_in: u("w_in", g.w_in)?,
            h_out: u("h_out", g.h_out)?,
            w_out: u("w_out", g.w_out)?,
            k_h: u("k_h", g.k_h)?,
            k_w: u("k_w", g.k_w)?,
            stride: u("stride", g.stride)?,
            pad: u("pad", g.pad)?,
            accumulate: accumulate as u32,
            slices: 1,
            group_lanes: crate::WORKGROUP_SIZE,
            _pad1: 0,
            _pad2: 0,
        })
    }
}

impl Conv2d {
    /// The geometry for input shape `x` `[N, C_in, H_in, W_in]` and weight
    /// shape `[C_out, C_in, K_h, K_w]`.
    ///
    /// # Errors
    ///
    /// Wrong ranks, a channel mismatch, zero sizes, stride 0, or a kernel
    /// larger than the padded input.
    pub fn geometry(&self, x: &[usize], weight: &[usize]) -> Result<ConvGeometry> {
        const OP: &str = "conv2d";
        let (x, weight) = (as_4d(OP, "input", x)?, as_4d(OP, "weight", weight)?);
        let [n, c_in, h_in, w_in] = x;
        let [c_out, w_c_in, k_h, k_w] = weight;
        if w_c_in != c_in {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                what: "weight [C_out, C_in, K_h, K_w]",
                expected: vec![c_out, c_in, k_h, k_w],
                got: weight.to_vec(),
            });
        }
        check_stride(OP, self.stride)?;
        let (h_out, w_out) = (
            conv_out(OP, h_in, k_h, self.stride, self.pad)?,
            conv_out(OP, w_in, k_w, self.stride, self.pad)?,
        );
        let (stride, pad) = (self.stride, self.pad);
        let transposed = false;
        Ok(ConvGeometry {
            n,
            c_in,
            c_out,
            h_in,
            w_in,
            h_out,
            w_out,
            k_h,
            k_w,
            stride,
            pad,
            transposed,
        })
    }
}

impl ConvTranspose2d {
    /// The geometry for input shape `x` `[N, C_in, H_in, W_in]` and weight
    /// shape `[C_in, C_out, K_h, K_w]`;
    /// `H_out = (H_in - 1) stride - 2 pad + K_h + out_pad`.
    ///
    /// # Errors
    ///
    /// Wrong ranks, a channel mismatch, zero sizes, stride 0,
    /// `out_pad >= stride` (as PyTorch), or an empty output.
    pub fn geometry(&self, x: &[usize], weight: &[usize]) -> Result<ConvGeometry> {
        const OP: &str = "conv_transpose2d";
        let (x, weight) = (as_4d(OP, "input", x)?, as_4d(OP, "weight", weight)?);
        let [n, c_in, h_in, w_in] = x;
        let [w_c_in, c_out, k_h, k_w] = weight;
        if w_c_in != c_in {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                what: "weight [C_in, C_out, K_h, K_w]",
                expected: vec![c_in, c_out, k_h, k_w],
                got: weight.to_vec(),
            });
        }
        check_stride(OP, self.stride)?;
        if self.out_pad >= self.stride {
            return Err(TensorError::InvalidArgument {
                op: OP,
                message: format!(
                    "out_pad {} must be smaller than stride {}",
                    self.out_pad, self.stride
                ),
            });
        }
        let out = |size: usize, k: usize| {
            let full = (size - 1) * self.stride + k + self.out_pad;
            full.checked_sub(2 * self.pad)
                .filter(|&o| o > 0)
                .ok_or(TensorError::InvalidArgument {
                    op: OP,
                    message: format!(
                        "input size {size}, kernel {k}, stride {}, pad {}, out_pad {} give an \
                     empty output",
                        self.stride, self.pad, self.out_pad
                    ),
                })
        };
        let (h_out, w_out) = (out(h_in, k_h)?, out(w_in, k_w)?);
        let (stride, pad) = (self.stride, self.pad);
        let transposed = true;
        Ok(ConvGeometry {
            n,
            c_in,
            c_out,
            h_in,
            w_in,
            h_out,
            w_out,
            k_h,
            k_w,
            stride,
            pad,
            transposed,
        })
    }
}

fn as_4d(op: &'static str, what: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
    let dims: [usize; 4] = shape.try_into().map_err(|_| TensorError::Rank {
        op,
        what,
        expected: 4,
        got: shape.to_vec(),
    })?;
    if dims.contains(&0) {
        return Err(TensorError::ZeroSize {
            op,
            what,
            shape: shape.to_vec(),
        });
    }
    Ok(dims)
}

fn check_stride(op: &'static str, stride: usize) -> Result<()> {
    if stride == 0 {
        return Err(TensorError::InvalidArgument {
            op,
            message: "stride must be at least 1".into(),
        });
    }
    Ok(())
}

fn conv_out(op: &'static str, size: usize, k: usize, stride: usize, pad: usize) -> Result<usize> {
    let padded = size + 2 * pad;
    if k > padded {
        return Err(TensorError::InvalidArgument {
            op,
            message: format!(
                "kernel {k} is larger than the padded input {padded} ({size} + 2 x {pad})"
            ),
        });
    }
    Ok((padded - k) / stride + 1)
}

/// The three passes of a (transposed) convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    Forward,
    BackwardInput,
    BackwardWeight,
}

/// Checks the pass's three tensors (two inputs, then the output) against the
/// geometry and records the kernel.
///
/// A transposed convolution is an ordinary one run backwards: with input
/// and output swapped (C_in <-> C_out, H_in <-> H_out), the transposed
/// weight `[C_in, C_out, K_h, K_w]` is exactly the ordinary weight
/// `[C_out', C_in', K_h, K_w]`, so its forward pass is conv2d's input
/// gradient, its input gradient is conv2d's forward pass, and its weight
/// gradient is conv2d's with x and dy exchanged. One set of kernels serves
/// both ops (and one set of kernels needs tuning).
fn record(
    enc: &mut Encoder,
    op: &'static str,
    (g, pass, accumulate): (ConvGeometry, Pass, bool),
    tensors: [(&'static str, &Tensor, [usize; 4]); 3],
) -> Result<()> {
    for (what, tensor, shape) in &tensors {
        check_rank(op, what, tensor, 4)?;
        check_shape(op, what, tensor, shape)?;
    }
    let [(_, a, _), (_, b, _), (_, out, _)] = tensors;
    check_distinct(op, a, out)?;
    check_distinct(op, b, out)?;

    // The pass the conv2d kernels run: a transposed convolution's forward
    // pass is conv2d's input gradient and the other way round.
    let (kernel_pass, bound) = match (pass, g.transposed) {
        (Pass::Forward, false) | (Pass::BackwardInput, true) => (Pass::Forward, [a, b, out]),
        (Pass::BackwardInput, false) | (Pass::Forward, true) => (Pass::BackwardInput, [a, b, out]),
        (Pass::BackwardWeight, false) => (Pass::BackwardWeight, [a, b, out]),
        (Pass::BackwardWeight, true) => (Pass::BackwardWeight, [b, a, out]),
    };
    let mut params = g.kernel_params(op, accumulate)?;
    let tuning = enc.context().tuning();
    if let Some(run) = kernel_pass.dense(&params, bound, tuning) {
        let DenseRun {
            kernel,
            params,
            tensors,
            lanes,
        } = run;
        let groups = lanes.div_ceil(crate::WORKGROUP_SIZE as usize);
        return enc.dispatch_groups(kernel, &params, &tensors, groups);
    }
    // D.0's and G.9's weight gradients (see `ROWS_WEIGHT_LANES`).
    if kernel_pass == Pass::BackwardWeight && tuning.workgroup_sums && k4s2_rows(&params) {
        let units = (params.n * params.h_out.div_ceil(ROWS_WEIGHT_RUN)) as usize;
        params.slices = units.next_power_of_two().min(ROWS_WEIGHT_LANES) as u32;
        let blocks = (params.c_in * params.c_out.div_ceil(4)) as usize;
        let per_group = crate::WORKGROUP_SIZE / params.slices;
        let groups = blocks.div_ceil(per_group as usize);
        let kernel = shaders::CONV2D_BACKWARD_WEIGHT_ROWS;
        return enc.dispatch_groups(kernel, &params, &bound, groups);
    }
    let (mut kernel, mut blocks) = kernel_pass.kernel(&params, tuning);
    if kernel_pass == Pass::BackwardWeight {
        let positions = (params.h_out * params.w_out) as usize;
        if tuning.split_weight_sums {
            params.slices = weight_slices(blocks, positions, params.n as usize);
        }
        if params.slices > 1 {
            let lanes = blocks * params.slices as usize;
            let groups = lanes.div_ceil(crate::WORKGROUP_SIZE as usize);
            return enc.dispatch_groups(kernel, &params, &bound, groups);
        }
        // One lane per block: the lane kernels, spread as every other.
        let taps = params.c_in * params.k_h * params.k_w;
        (kernel, blocks) = if tuning.wide_blocks && wide(taps, params.c_out) {
            let blocks = wide_blocks(taps) * wide_blocks(params.c_out);
            (shaders::CONV2D_BACKWARD_WEIGHT_LANE_16, blocks)
        } else {
            (shaders::CONV2D_BACKWARD_WEIGHT_LANE, blocks)
        };
    }
    params.group_lanes = spread_lanes(blocks);
    let groups = blocks.div_ceil(params.group_lanes as usize);
    enc.dispatch_groups(kernel, &params, &bound, groups)
}

/// With [`crate::Tuning::split_weight_sums`] (GPUs; software adapters run
/// one lane per block): how many lanes share the sum over `positions`
/// output positions (each
/// summed over `images` images) of each of `blocks` weight-gradient blocks:
/// the fewest (a power of two) that make 16 workgroups, so that both many
/// weights and many positions spread over every core, but at most 64, at
/// most half the positions, and each lane keeps 128 (position, image)
/// terms or more, so that adding up the lanes' partial blocks (about as
/// much work as 10 terms) stays small.
///
/// The rule was set on lavapipe with positions and images in one loop
/// (rows (b, oh) split, ow inner): a lane per block against this rule, D.2
/// 35 -> 27 ms, D.0 5.5 -> 2.5 ms; 4 or 8 workgroups instead of 16 changed
/// nothing measurable. With images as the inner loop (`benches/kernels.rs`,
/// CPU ms over all threads, median of 5-7, 2 cores, against the row loop):
/// Chromium's SwiftShader standard preset 1,131 -> 937 (G.3 196 -> 152,
/// D.2 251 -> 193), tiny 192 -> 122; lavapipe unchanged within noise
/// (standard 180 -> 177, tiny 27.1 -> 27.9).
fn weight_slices(blocks: usize, positions: usize, images: usize) -> u32 {
    const LANES: usize = 16 * crate::WORKGROUP_SIZE as usize;
    const MAX_SLICES: usize = 64;
    const MIN_TERMS: usize = 128;
    let mut slices = 1;
    while blocks * slices < LANES
        && slices < MAX_SLICES
        && positions.min(positions * images / MIN_TERMS) >= 2 * slices
    {
        slices *= 2;
    }
    slices as u32
}

/// Rows and columns of the blocks of the `_16` conv2d kernels
/// (`Tuning::wide_blocks`).
const WIDE: u32 = 16;

/// Whether a product with `rows` by `cols` runs the `_16` kernels (with
/// fewer than 16 on a side most of each block would repeat its last row or
/// column).
fn wide(rows: u32, cols: u32) -> bool {
    rows >= WIDE && cols >= WIDE
}

/// Blocks of 16 covering `count` rows or columns.
fn wide_blocks(count: u32) -> usize {
    count.div_ceil(WIDE) as usize
}

/// Lanes per workgroup for `blocks` invocations of a kernel that takes
/// `ConvParams::group_lanes`: enough workgroups (8) for the cores of a
/// software adapter, which runs one workgroup per thread, but at least 8
/// lanes, the width a software adapter runs together. D.2's forward pass,
/// 784 blocks, ran on 4 workgroups of 256, the last nearly empty, so 1.5
/// of this machine's 2 cores; spread, lavapipe (`benches/kernels.rs`,
/// standard preset, against the matmul beside it) 0.50 -> 0.64-0.65, G.6's
/// forward pass and input gradient 0.65, 0.50 -> 0.65, 0.63-0.65. At
/// least 16 workgroups instead of 8 was 0.03-0.09 slower.
fn spread_lanes(blocks: usize) -> u32 {
    const GROUPS: usize = 8;
    let lanes = (blocks / GROUPS).max(1);
    let pow2 = 1 << lanes.ilog2();
    pow2.clamp(8, crate::WORKGROUP_SIZE as usize) as u32
}

/// Rows and columns of the block each conv2d invocation computes (`BLOCK`
/// in `shaders/conv2d.wgsl`, fixed by its two-vec4 layout).
const BLOCK: usize = 8;

/// Input channels below which the input gradient runs
/// `conv2d_backward_input_narrow` (blocks of positions) rather than
/// `conv2d_backward_input` (blocks of 8 channels). Per useful multiply-add
/// the narrow kernel loads about 0.6 values with two taps per stride class
/// (1.1 with one), the channel blocks 2 / c_in.
const NARROW_BELOW: u32 = 4;

/// Kernel 4, stride 2, padding 1: the geometry `shaders/conv2d_k4s2.wgsl`
/// is written for.
fn k4s2(p: &ConvParams) -> bool {
    (p.k_h, p.k_w, p.stride, p.pad) == (4, 4, 2, 1)
}

/// Whether `shaders/conv2d_k4s2.wgsl`'s row kernels run the forward pass
/// and the weight gradient of `p`: its geometry, few input channels (below
/// [`FLAT_BELOW`]) and input rows a multiple of 4 long (read as vec4). In
/// the model: D.0, and G.9 mirrored, on 28 x 28.
fn k4s2_rows(p: &ConvParams) -> bool {
    k4s2(p) && p.c_in < FLAT_BELOW && p.w_in.is_multiple_of(4)
}

/// Lanes sharing one block's sum in `conv2d_backward_weight_rows` (at
/// most; fewer when there are fewer units of (image, run of output rows)).
/// On lavapipe (`benches/kernels.rs`, standard preset, G.9 and D.0, GPU
/// time against the matmul beside it), with runs of 7 rows: 32 lanes (one
/// workgroup, so one core) 0.37-0.38, 64 lanes 0.64-0.66, 128 lanes
/// 0.49-0.61. (With one row per unit it was 0.20-0.25, 0.44 and 0.39-0.45.)
const ROWS_WEIGHT_LANES: usize = 64;

/// Output rows per unit of `conv2d_backward_weight_rows` (`RUN` in
/// `shaders/conv2d_k4s2.wgsl`): 7, half the model's 14.
const ROWS_WEIGHT_RUN: u32 = 7;

/// Input channels below which the forward pass runs `conv2d_forward_flat`
/// (one loop over all taps) rather than `conv2d_forward` (a loop over
/// input channels inside loops over kh and kw). Measured with
/// `benches/kernels.rs` (standard preset, GPU time), for D.0's forward
/// (c_in 1) and G.9's input gradient (the same kernel, mirrored): on
/// Chromium's SwiftShader 28 -> 12-14 ms and 28-29 -> 13-15 ms; on
/// lavapipe from 0.21-0.29 to 0.37-0.41 of the matmul run beside it. With
/// c_in 32 and 64 (D.2, D.5) the flat loop was slower on lavapipe (GPU ms
/// 19 -> 35 and 17 -> 24) and no faster on SwiftShader.
const FLAT_BELOW: u32 = 4;

/// A pass that a `shaders/dense.wgsl` kernel runs (see `Pass::dense`).
struct DenseRun<'t> {
    kernel: shaders::KernelId,
    params: DenseParams,
    /// a, b and c of the product.
    tensors: [&'t Tensor; 3],
    /// Invocations: one per 8 x 8 block, times `params.slices`; for the
    /// 16 x 16 kernels, whole workgroups of `params.group_lanes` blocks.
    lanes: usize,
}

/// With an 8 x 8 block per lane, `dense_nt`'s lanes per block: the fewest
/// (a power of two) that make 16 workgroups, so that a product of few
/// blocks still spreads over every core, but at most 64, and each lane
/// keeps 64 or more vec4 steps of k: adding up the parts costs eight
/// barriers and a pass over workgroup memory, which more, shorter parts
/// did not repay. G.0's input gradient at the standard preset (64 blocks,
/// k 2,048; `benches/kernels.rs` on lavapipe, GPU time against the best
/// matmul beside it, twice each): 8 lanes per block (2 workgroups) 0.65
/// and 0.63, 16 lanes 0.54 and 0.54, 32 lanes 0.46 and 0.49, one lane
/// (one workgroup) 0.38.
fn dense_slices(blocks: usize, k4: usize) -> u32 {
    const LANES: usize = 16 * crate::WORKGROUP_SIZE as usize;
    const MAX_SLICES: usize = 64;
    const MIN_STEPS: usize = 64;
    let mut slices = 1;
    while blocks * slices < LANES && slices < MAX_SLICES && k4 >= 2 * slices * MIN_STEPS {
        slices *= 2;
    }
    slices as u32
}

impl Pass {
    /// The `shaders/dense.wgsl` kernel, its parameters, its three tensors
    /// (a, b, c) and lanes, when this pass of `p` is a plain matrix product
    /// that kernel can run: the kernel covers the whole unpadded input (so
    /// the output is 1 x 1, D.8; transposed, a 1 x 1 input stamped into a
    /// k x k output, G.0) and the dimensions read as vec4 are multiples
    /// of 4; the forward pass (`dense_nt`, which splits its sums across
    /// lanes) only with [`crate::Tuning::workgroup_sums`]. `None` for every
    /// other pass, which the conv2d kernels run.
    ///
    /// With T = c_in k_h k_w and conv2d's tensors as in `record`: forward
    /// y [n, c_out] = x [n, T] weight [c_out, T]ᵀ; input gradient dx [n, T]
    /// = dy [n, c_out] weight; weight gradient dw [c_out, T] = dyᵀ x.
    /// Measured with `benches/kernels.rs` (standard preset, lavapipe, GPU
    /// time against the best matmul beside it), G.0 on the conv2d kernels
    /// and here: forward 0.51 -> 0.78, input gradient 0.21 -> 0.63, weight
    /// gradient 0.43 -> 0.77. D.8's forward pass runs here too and stays at
    /// 0.02: its one output channel fills one column of each block's 8
    /// (its gradients, whose vec4 dimension would be that one channel, stay
    /// on the conv2d kernels).
    ///
    /// With [`crate::Tuning::wide_blocks`], dense_nn and dense_tn take
    /// 16 x 16 blocks where both sides of the product are multiples of 16,
    /// spread as the conv2d kernels' blocks (`spread_lanes`). G.0 against
    /// the 16 x 16 matmul, each way twice in turn: forward pass 0.55, 0.55
    /// -> 0.61, 0.59; weight gradient 0.53, 0.53 -> 0.61, 0.62. A 16 x 16
    /// dense_nt (G.0's input gradient, not needed in training) ran 0.30-0.42
    /// against 0.50 for the 8 x 8 one, however many lanes shared a sum: it
    /// holds 32 loaded vec4 beside its 256 sums.
    fn dense<'t>(
        self,
        p: &ConvParams,
        [t0, t1, t2]: [&'t Tensor; 3],
        tuning: crate::Tuning,
    ) -> Option<DenseRun<'t>> {
        let whole = p.pad == 0 && p.h_in == p.k_h && p.w_in == p.k_w;
        let taps = p.c_in * p.k_h * p.k_w;
        if !whole || !taps.is_multiple_of(4) {
            return None;
        }
        let params = |m, n, k| DenseParams {
            m,
            n,
            k,
            accumulate: p.accumulate,
            slices: 1,
            group_lanes: crate::WORKGROUP_SIZE,
            _pad1: 0,
            _pad2: 0,
        };
        let blocks = |m: u32, n: u32| (m as usize).div_ceil(BLOCK) * (n as usize).div_ceil(BLOCK);
        // dense_nn or dense_tn: with `Tuning::wide_blocks`, the 16 x 16
        // kernel where both sides of the product are whole blocks of 16.
        let plain_or_wide = |kernel, wide_kernel, mut params: DenseParams, tensors| {
            let (m, n) = (params.m, params.n);
            if tuning.wide_blocks && m.is_multiple_of(WIDE) && n.is_multiple_of(WIDE) {
                let blocks = (m / WIDE * (n / WIDE)) as usize;
                params.group_lanes = spread_lanes(blocks);
                let groups = blocks.div_ceil(params.group_lanes as usize);
                let lanes = groups * crate::WORKGROUP_SIZE as usize;
                DenseRun {
                    kernel: wide_kernel,
                    params,
                    tensors,
                    lanes,
                }
            } else {
                DenseRun {
                    kernel,
                    params,
                    tensors,
                    lanes: blocks(m, n),
                }
            }
        };
        match self {
            Pass::Forward if tuning.workgroup_sums => {
                let mut params = params(p.n, p.c_out, taps);
                params.slices = dense_slices(blocks(p.n, p.c_out), taps as usize / 4);
                Some(DenseRun {
                    kernel: shaders::DENSE_NT,
                    params,
                    tensors: [t0, t1, t2],
                    lanes: blocks(p.n, p.c_out) * params.slices as usize,
                })
            }
            Pass::BackwardInput if p.c_out.is_multiple_of(4) => Some(plain_or_wide(
                shaders::DENSE_NN,
                shaders::DENSE_NN_16,
                params(p.n, taps, p.c_out),
                [t0, t1, t2],
            )),
            // Bound as [x, dy, dw]: dw = dyᵀ x.
            Pass::BackwardWeight if p.c_out.is_multiple_of(4) => Some(plain_or_wide(
                shaders::DENSE_TN,
                shaders::DENSE_TN_16,
                params(p.c_out, taps, p.n),
                [t1, t0, t2],
            )),
            _ => None,
        }
    }

    /// The conv2d kernel that runs this pass for `p`, and its number of
    /// invocations, one per 8 x 8 block (see the grid formulas in
    /// `shaders/conv2d.wgsl`).
    fn kernel(self, p: &ConvParams, tuning: crate::Tuning) -> (shaders::KernelId, usize) {
        let blocks_of = |count: u32| (count as usize).div_ceil(BLOCK);
        let n = blocks_of(p.n);
        match self {
            // Kernel 4, stride 2, padding 1 with input rows of whole vec4
            // (D.0, and G.9's input gradient, on 28 x 28 images), with
            // `Tuning::forward_rows`: `conv2d_forward_rows`, 8 columns of
            // one output row for 8 channels per invocation, loading vec4.
            // On lavapipe
            // (`benches/kernels.rs`, standard preset, GPU time against the
            // matmul beside it, the flat kernel and this one interleaved
            // twice): D.0's forward pass 0.45, 0.45 -> 0.51, 0.54; G.9's
            // input gradient 0.45, 0.46 -> 0.53, 0.54.
            Pass::Forward if tuning.forward_rows && k4s2_rows(p) => {
                let chunks = blocks_of(p.w_out);
                let blocks = (p.n * p.h_out) as usize * blocks_of(p.c_out) * chunks;
                (shaders::CONV2D_FORWARD_ROWS, blocks)
            }
            // `Tuning::wide_blocks`: 16 x 16 blocks.
            Pass::Forward if tuning.wide_blocks && p.c_in >= FLAT_BELOW && wide(p.n, p.c_out) => {
                let blocks = wide_blocks(p.n) * wide_blocks(p.c_out) * (p.h_out * p.w_out) as usize;
                (shaders::CONV2D_FORWARD_16, blocks)
            }
            Pass::Forward => {
                let blocks = n * blocks_of(p.c_out) * (p.h_out * p.w_out) as usize;
                let kernel = if p.c_in < FLAT_BELOW {
                    shaders::CONV2D_FORWARD_FLAT
                } else {
                    shaders::CONV2D_FORWARD
                };
                (kernel, blocks)
            }
            // Kernel 4, stride 2, padding 1 with few input channels (D.0's
            // input gradient, G.9's forward pass; D.2's input gradient
            // was slower on it, lavapipe 0.76 -> 0.55 of the matmul and
            // SwiftShader 18 -> 26 GPU ms per 16:32 iteration), dy rows an
            // even number long (read as pairs): `conv2d_backward_input_tile`,
            // which loads a 6 x 6 window of dy per output channel for 64
            // positions. On lavapipe (`benches/kernels.rs`, standard
            // preset, GPU time against the matmul beside it): the narrow
            // kernel 0.19-0.20 for both passes; this one 0.32-0.38 at
            // first, 0.46-0.52 once it stored its sums with constant
            // indices, 0.57-0.63 with the window read as pairs.
            Pass::BackwardInput
                if p.c_in < NARROW_BELOW && k4s2(p) && p.w_out.is_multiple_of(2) =>
            {
                let tiles = (p.h_in as usize).div_ceil(8) * (p.w_in as usize + 2).div_ceil(8);
                let blocks = tiles * (p.c_in * p.n) as usize;
                (shaders::CONV2D_BACKWARD_INPUT_TILE, blocks)
            }
            Pass::BackwardInput if p.c_in < NARROW_BELOW => {
                let row = blocks_of(p.w_in.div_ceil(p.stride)) * p.stride as usize;
                let blocks = (p.c_in * p.h_in) as usize * n * row;
                (shaders::CONV2D_BACKWARD_INPUT_NARROW, blocks)
            }
            Pass::BackwardInput if tuning.wide_blocks && wide(p.n, p.c_in) => {
                let blocks = wide_blocks(p.n) * wide_blocks(p.c_in) * (p.h_in * p.w_in) as usize;
                (shaders::CONV2D_BACKWARD_INPUT_16, blocks)
            }
            Pass::BackwardInput => {
                let blocks = n * blocks_of(p.c_in) * (p.h_in * p.w_in) as usize;
                (shaders::CONV2D_BACKWARD_INPUT, blocks)
            }
            Pass::BackwardWeight => {
                let blocks = blocks_of(p.c_in * p.k_h * p.k_w) * blocks_of(p.c_out);
                (shaders::CONV2D_BACKWARD_WEIGHT, blocks)
            }
        }
    }
}

fn forward(
    enc: &mut Encoder,
    op: &'static str,
    g: ConvGeometry,
    x: &Tensor,
    w: &Tensor,
    y: &Tensor,
) -> Result<()> {
    let tensors = [
        ("input", x, g.input_shape()),
        ("weight", w, g.weight_shape()),
        ("output", y, g.output_shape()),
    ];
    record(enc, op, (g, Pass::Forward, false), tensors)
}

fn backward_input(
    enc: &mut Encoder,
    op: &'static str,
    g: ConvGeometry,
    dy: &Tensor,
    w: &Tensor,
    dx: &Tensor,
) -> Result<()> {
    let tensors = [
        ("dy", dy, g.output_shape()),
        ("weight", w, g.weight_shape()),
        ("dx", dx, g.input_shape()),
    ];
    record(enc, op, (g, Pass::BackwardInput, false), tensors)
}

fn backward_weight(
    enc: &mut Encoder,
    op: &'static str,
    g: ConvGeometry,
    (x, dy, dw): (&Tensor, &Tensor, &Tensor),
    accumulate: bool,
) -> Result<()> {
    let tensors = [
        ("input", x, g.input_shape()),
        ("dy", dy, g.output_shape()),
        ("dweight", dw, g.weight_shape()),
    ];
    record(enc, op, (g, Pass::BackwardWeight, accumulate), tensors)
}

/// Records `y = conv2d(x, weight)`.
///
/// # Shapes
///
/// x `[N, C_in, H_in, W_in]`, weight `[C_out, C_in, K_h, K_w]`,
/// y `[N, C_out, H_out, W_out]` with `H_out = (H_in + 2 pad - K_h) / stride + 1`.
///
/// # Errors
///
/// Any shape that does not fit, before anything is recorded.
pub fn conv2d_forward(
    enc: &mut Encoder,
    conv: Conv2d,
    x: &Tensor,
    weight: &Tensor,
    y: &Tensor,
) -> Result<()> {
    let g = conv.geometry(x.shape(), weight.shape())?;
    forward(enc, "conv2d_forward", g, x, weight, y)
}

/// Records `dx`, the gradient of conv2d with respect to its input.
///
/// # Shapes
///
/// dy `[N, C_out, H_out, W_out]`, weight `[C_out, C_in, K_h, K_w]`,
/// dx `[N, C_in, H_in, W_in]`.
///
/// # Errors
///
/// Any shape that does not fit, before anything is recorded.
pub fn conv2d_backward_input(
    enc: &mut Encoder,
    conv: Conv2d,
    dy: &Tensor,
    weight: &Tensor,
    dx: &Tensor,
) -> Result<()> {
    let g = conv.geometry(dx.shape(), weight.shape())?;
    backward_input(enc, "conv2d_backward_input", g, dy, weight, dx)
}

/// Records `dweight`, the gradient of conv2d with respect to its weight;
/// with `accumulate` it is added to what `dweight` holds.
///
/// # Shapes
///
/// x `[N, C_in, H_in, W_in]`, dy `[N, C_out, H_out, W_out]`,
/// dweight `[C_out, C_in, K_h, K_w]`.
///
/// # Errors
///
/// Any shape that does not fit, before anything is recorded.
pub fn conv2d_backward_weight(
    enc: &mut Encoder,
    conv: Conv2d,
    x: &Tensor,
    dy: &Tensor,
    dweight: &Tensor,
    accumulate: bool,
) -> Result<()> {
    let g = conv.geometry(x.shape(), dweight.shape())?;
    backward_weight(
        enc,
        "conv2d_backward_weight",
        g,
        (x, dy, dweight),
        accumulate,
    )
}

/// Records `y = conv_transpose2d(x, weight)`.
///
/// # Shapes
///
/// x `[N, C_in, H_in, W_in]`, weight `[C_in, C_out, K_h, K_w]`,
/// y `[N, C_out, H_out, W_out]` with
/// `H_out = (H_in - 1) stride - 2 pad + K_h + out_pad`.
///
/// # Errors
///
/// Any shape that does not fit, before anything is recorded.
pub fn conv_transpose2d_forward(
    enc: &mut Encoder,
    conv: ConvTranspose2d,
    x: &Tensor,
    weight: &Tensor,
    y: &Tensor,
) -> Result<()> {
    let g = conv.geometry(x.shape(), weight.shape())?;
    forward(enc, "conv_transpose2d_forward", g, x, weight, y)
}

/// Records `dx`, the gradient of conv_transpose2d with respect to its input.
///
/// # Shapes
///
/// dy `[N, C_out, H_out, W_out]`, weight `[C_in, C_out, K_h, K_w]`,
/// dx `[N, C_in, H_in, W_in]`.
///
/// # Errors
///
/// Any shape that does not fit, before anything is recorded.
pub fn conv_transpose2d_backward_input(
    enc: &mut Encoder,
    conv: ConvTranspose2d,
    dy: &Tensor,
    weight: &Tensor,
    dx: &Tensor,
) -> Result<()> {
    let g = conv.geometry(dx.shape(), weight.shape())?;
    backward_input(enc, "conv_transpose2d_backward_input", g, dy, weight, dx)
}

/// Records `dweight`, the gradient of conv_transpose2d with respect to its
/// weight; with `accumulate` it is added to what `dweight` holds.
///
/// # Shapes
///
/// x `[N, C_in, H_in, W_in]`, dy `[N, C_out, H_out, W_out]`,
/// dweight `[C_in, C_out, K_h, K_w]`.
///
/// # Errors
///
/// Any shape that does not fit, before anything is recorded.
pub fn conv_transpose2d_backward_weight(
    enc: &mut Encoder,
    conv: ConvTranspose2d,
    x: &Tensor,
    dy: &Tensor,
    dweight: &Tensor,
    accumulate: bool,
) -> Result<()> {
    let g = conv.geometry(x.shape(), dweight.shape())?;
    backward_weight(
        enc,
        "conv_transpose2d_backward_weight",
        g,
        (x, dy, dweight),
        accumulate,
    )
}

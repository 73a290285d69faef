//! BatchNorm2d: its tensors, forward and backward (`shaders/batch_norm.wgsl`).

use super::{check_distinct, check_rank, check_shape, to_u32, Activation, Halt};
use crate::context::GpuContext;
use crate::encoder::Encoder;
use crate::error::{Result, TensorError};
use crate::shaders;
use crate::tensor::Tensor;

/// Mirrors `BatchNormParams` in `shaders/batch_norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BatchNormParams {
    pub n: u32,
    pub c: u32,
    pub hw: u32,
    pub training: u32,
    pub eps: f32,
    pub momentum: f32,
    pub accumulate: u32,
    /// Per-channel kernels: lanes sharing each channel's sums.
    pub lanes: u32,
    /// `batch_norm_normalize_act`: 1 relu, 2 leaky relu.
    pub act: u32,
    /// Leaky relu's negative slope.
    pub slope: f32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Which statistics a batch-norm pass normalises with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormMode {
    /// The batch's mean and biased variance; the running statistics move
    /// toward them (PyTorch's train mode).
    Train,
    /// The batch's statistics, running statistics untouched: what a sample
    /// drawn "as in training" uses, so drawing changes no state.
    BatchOnly,
    /// The running statistics (PyTorch's eval mode).
    Eval,
}

impl NormMode {
    fn uses_batch(self) -> bool {
        self != NormMode::Eval
    }

    fn code(self) -> u32 {
        match self {
            NormMode::Eval => 0,
            NormMode::Train => 1,
            NormMode::BatchOnly => 2,
        }
    }
}

/// A batch-norm layer over `[N, C, H, W]`, as PyTorch's `BatchNorm2d(C)`:
/// its parameters, their gradients, its running statistics, and what the
/// forward pass saves for the backward pass.
///
/// Training normalises with the batch mean and biased variance and updates
/// the running statistics (running variance with the unbiased variance);
/// eval normalises with the running statistics.
pub struct BatchNorm2d {
    /// Number of channels C.
    pub channels: usize,
    /// Added to the variance before the square root (PyTorch: 1e-5).
    pub eps: f32,
    /// Weight of the new batch statistic in the running ones (PyTorch: 0.1).
    pub momentum: f32,
    /// Scale `[C]`, initially 1.
    pub gamma: Tensor,
    /// Shift `[C]`, initially 0.
    pub beta: Tensor,
    /// Gradient of gamma `[C]`.
    pub dgamma: Tensor,
    /// Gradient of beta `[C]`.
    pub dbeta: Tensor,
    /// Running mean `[C]`, initially 0.
    pub running_mean: Tensor,
    /// Running unbiased variance `[C]`, initially 1.
    pub running_var: Tensor,
    /// Mean the last forward pass normalised with `[C]`.
    mean: Tensor,
    /// 1 / sqrt(var + eps) of the last forward pass `[C]`.
    invstd: Tensor,
    /// The last backward pass's sum dy and sum dy * xhat `[2, C]`.
    sums: Tensor,
    /// Once set, the running statistics stop updating.
    halt: Halt,
}

impl BatchNorm2d {
    /// A layer with PyTorch's defaults; tensors are labelled `<label>.gamma`
    /// and so on.
    ///
    /// # Errors
    ///
    /// [`TensorError::ZeroSize`] for zero channels.
    pub fn new(ctx: &GpuContext, channels: usize, label: &str) -> Result<Self> {
        if channels == 0 {
            return Err(TensorError::ZeroSize {
                op: "BatchNorm2d::new",
                what: "channels",
                shape: vec![0],
            });
        }
        let filled = |name: &str, value: f32| {
            Tensor::from_slice(
                ctx,
                &[channels],
                &vec![value; channels],
                &format!("{label}.{name}"),
            )
        };
        Ok(Self {
            channels,
            eps: 1e-5,
            momentum: 0.1,
            gamma: filled("gamma", 1.0)?,
            beta: filled("beta", 0.0)?,
            dgamma: filled("dgamma", 0.0)?,
            dbeta: filled("dbeta", 0.0)?,
            running_mean: filled("running_mean", 0.0)?,
            running_var: filled("running_var", 1.0)?,
            mean: filled("mean", 0.0)?,
            invstd: filled("invstd", 1.0)?,
            sums: Tensor::zeros(ctx, &[2, channels], &format!("{label}.sums"))?,
            halt: Halt::new(ctx, &format!("{label}.halt"))?,
        })
    }

    /// Shares a run's halt flag: once it is set, training forward passes
    /// leave the running statistics as they are.
    pub fn set_halt(&mut self, halt: &Halt) {
        self.halt = halt.clone();
    }

    /// Records `y = batch_norm(x)` with the statistics `mode` says; in
    /// [`NormMode::Train`] also the running-statistics update. Saves the statistics used for [`BatchNorm2d::backward`].
    ///
    /// # Shapes
    ///
    /// x and y `[N, C, H, W]`.
    ///
    /// # Errors
    ///
    /// Shapes that do not fit; training with a single value per channel
    /// (its variance is undefined, as in PyTorch).
    pub fn forward(&self, enc: &mut Encoder, x: &Tensor, y: &Tensor, mode: NormMode) -> Result<()> {
        const OP: &str = "batch_norm_forward";
        let params = self.params(OP, x, mode, false)?;
        self.record_stats(enc, OP, &params, (x, y), mode)?;
        let normalize = [x, &self.mean, &self.invstd, &self.gamma, &self.beta, y];
        enc.dispatch_flat(shaders::BATCH_NORM_NORMALIZE, &params, &normalize, x.len())
    }

    /// Records the forward pass into `y` and, in the same pass over the
    /// values, the activation that follows into `act_y`: `act_y = act(y)`,
    /// the same values as [`crate::ops::activation_forward`] would give,
    /// with one dispatch and one read of `y` fewer. `y` is still written
    /// (the activation's backward pass reads it).
    ///
    /// # Errors
    ///
    /// As [`BatchNorm2d::forward`]; an activation other than relu or leaky
    /// relu; `act_y` of another shape or sharing a buffer with `x` or `y`.
    pub fn forward_activated(
        &self,
        enc: &mut Encoder,
        x: &Tensor,
        (y, act, act_y): (&Tensor, Activation, &Tensor),
        mode: NormMode,
    ) -> Result<()> {
        const OP: &str = "batch_norm_forward_activated";
        let mut params = self.params(OP, x, mode, false)?;
        (params.act, params.slope) = match act {
            Activation::Relu => (1, 0.0),
            Activation::LeakyRelu { slope } => (2, slope),
            other => {
                return Err(TensorError::InvalidArgument {
                    op: OP,
                    message: format!("fuses relu and leaky relu only, not {other:?}"),
                })
            }
        };
        check_shape(OP, "activation output", act_y, x.shape())?;
        check_distinct(OP, x, act_y)?;
        check_distinct(OP, y, act_y)?;
        self.record_stats(enc, OP, &params, (x, y), mode)?;
        let normalize = [
            x,
            &self.mean,
            &self.invstd,
            &self.gamma,
            &self.beta,
            y,
            act_y,
        ];
        enc.dispatch_flat(
            shaders::BATCH_NORM_NORMALIZE_ACT,
            &params,
            &normalize,
            x.len(),
        )
    }

    /// Checks `y` against `x` and records the statistics pass.
    fn record_stats(
        &self,
        enc: &mut Encoder,
        op: &'static str,
        params: &BatchNormParams,
        (x, y): (&Tensor, &Tensor),
        mode: NormMode,
    ) -> Result<()> {
        check_shape(op, "output", y, x.shape())?;
        check_distinct(op, x, y)?;
        if mode.uses_batch() && params.n * params.hw < 2 {
            return Err(TensorError::InvalidArgument {
                op,
                message: format!(
                    "batch statistics need more than one value per channel, got shape {:?}",
                    x.shape()
                ),
            });
        }

        let stats = [
            x,
            &self.running_mean,
            &self.running_var,
            &self.mean,
            &self.invstd,
            self.halt.tensor(),
        ];
        let groups = channel_groups(self.channels, params.lanes);
        enc.dispatch_groups(shaders::BATCH_NORM_STATS, params, &stats, groups)
    }

    /// Records dx, and dgamma and dbeta (added to what they hold with
    /// `accumulate`), for the forward pass that was last recorded on this
    /// layer with the same `x` and `mode`.
    ///
    /// # Shapes
    ///
    /// x, dy and dx `[N, C, H, W]`.
    ///
    /// # Errors
    ///
    /// Shapes that do not fit.
    pub fn backward(
        &self,
        enc: &mut Encoder,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
        mode: NormMode,
        accumulate: bool,
    ) -> Result<()> {
        const OP: &str = "batch_norm_backward";
        let params = self.params(OP, x, mode, accumulate)?;
        check_shape(OP, "dy", dy, x.shape())?;
        check_shape(OP, "dx", dx, x.shape())?;
        check_distinct(OP, x, dx)?;
        check_distinct(OP, dy, dx)?;

        let (m, s) = (&self.mean, &self.invstd);
        let reduce = [x, dy, m, s, &self.sums, &self.dgamma, &self.dbeta];
        let groups = channel_groups(self.channels, params.lanes);
        enc.dispatch_groups(
            shaders::BATCH_NORM_BACKWARD_REDUCE,
            &params,
            &reduce,
            groups,
        )?;
        let input = [x, dy, m, s, &self.gamma, &self.sums, dx];
        enc.dispatch_flat(shaders::BATCH_NORM_BACKWARD_INPUT, &params, &input, x.len())
    }

    fn params(
        &self,
        op: &'static str,
        x: &Tensor,
        mode: NormMode,
        accumulate: bool,
    ) -> Result<BatchNormParams> {
        check_rank(op, "input", x, 4)?;
        let [n, c, h, w] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
        if c != self.channels {
            return Err(TensorError::ShapeMismatch {
                op,
                what: "input [N, C, H, W]",
                expected: vec![n, self.channels, h, w],
                got: x.shape().to_vec(),
            });
        }
        Ok(BatchNormParams {
            n: to_u32(op, "n", n)?,
            c: to_u32(op, "c", c)?,
            hw: to_u32(op, "h * w", h * w)?,
            training: mode.code(),
            eps: self.eps,
            momentum: self.momentum,
            accumulate: accumulate as u32,
            lanes: channel_lanes(n * h * w),
            act: 0,
            slope: 0.0,
            _pad0: 0,
            _pad1: 0,
        })
    }
}

/// Lanes that share the sums of a channel of `m` values in the per-channel
/// kernels (`batch_norm_stats`, `batch_norm_backward_reduce`): a power of
/// two from 1 to the workgroup size, each lane summing at least
/// `VALUES_PER_LANE` values.
///
/// Measured with `webgan bench --config 16:32 --kernels` on Chromium's
/// SwiftShader (natively), GPU ms per iteration, against a workgroup of 256
/// lanes per channel: D.6 stats (64 channels of 512 values, 8 lanes each)
/// 55.8 -> under 2.5, D.3 stats (32 of 1,568, 16 lanes) 31.6 -> 3.7, D.3
/// backward_reduce 27.9 -> 2.6; the whole iteration 568 -> 398 ms. On
/// lavapipe the iteration went from about 105 to 87 ms.
fn channel_lanes(m: usize) -> u32 {
    const VALUES_PER_LANE: usize = 64;
    let mut lanes = 1;
    while lanes < crate::WORKGROUP_SIZE as usize && m / (2 * lanes) >= VALUES_PER_LANE {
        lanes *= 2;
    }
    lanes as u32
}

/// Workgroups for the per-channel kernels: `WG / lanes` channels each.
fn channel_groups(channels: usize, lanes: u32) -> usize {
    channels.div_ceil(crate::WORKGROUP_SIZE as usize / lanes as usize)
}

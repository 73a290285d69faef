//! One training iteration exactly as `MODEL.md` (PyTorch's DCGAN example),
//! recorded without waiting on the GPU.
//!
//! An iteration is one submission (one per extra D step when D takes
//! several): D on a real batch, D on a fresh fake batch (no gradient into
//! G), Adam on D; then D on the same fakes with the updated D, the gradient
//! back through D into G, Adam on G. Losses and metrics land in the metrics
//! ring and come back asynchronously; a non-finite loss sets the GPU halt
//! flag, which freezes the parameters and running statistics at the last
//! good step until the host notices.

use webgan_tensor::ops::{self, AdamStep, Halt, Loss, NormMode, Philox, ReduceMap};
use webgan_tensor::{Encoder, GpuContext, Tensor};

use crate::config::{GanLoss, Hyper, ModelConfig, IMAGE_SIZE, NC};
use crate::data::{Batcher, Dataset};
use crate::error::{GanError, Result};
use crate::metrics::{col, MetricsRing, StepMetrics};
use crate::model::{Activations, Network};

/// Philox streams: one per purpose, so draws never overlap.
pub mod stream {
    /// Training noise; the offset is the draw count.
    pub const NOISE: u32 = 1;
    /// The fixed noise of the sample grid.
    pub const FIXED_NOISE: u32 = 2;
    /// Generator initialisation: this + parameter index.
    pub const INIT_G: u32 = 1000;
    /// Discriminator initialisation: this + parameter index.
    pub const INIT_D: u32 = 2000;
}

/// Bandwidths of the MMD kernel, in pixel-vector units (images have 784
/// values in [-1, 1]; typical distances between digits are 15 to 30).
const MMD_SIGMAS: [f32; 3] = [5.0, 10.0, 20.0];

const IMAGE_PIXELS: usize = NC * IMAGE_SIZE * IMAGE_SIZE;

/// The counters that, with the seed, fix everything a run draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Counters {
    /// Iterations done.
    pub step: u64,
    /// Adam steps of D and of G.
    pub t_d: u64,
    pub t_g: u64,
    /// Noise batches drawn.
    pub noise_draws: u64,
}

/// A DCGAN in training on one GPU context.
pub struct Trainer {
    ctx: GpuContext,
    config: ModelConfig,
    /// Applies from the next step on.
    pub hyper: Hyper,
    seed: u64,
    pub(crate) g: Network,
    pub(crate) d: Network,
    g_acts: Activations,
    d_acts: Activations,
    /// The real batch `[N, 1, 28, 28]`.
    pub(crate) real: Tensor,
    /// The noise batch `[N, nz, 1, 1]`.
    pub(crate) noise: Tensor,
    ones: Tensor,
    zeros: Tensor,
    /// Kernel matrices of the quality figure `[N, N]`.
    kernels: [Tensor; 3],
    ring: MetricsRing,
    halt: Halt,
    data: Dataset,
    batch_host: Vec<f32>,
    pub(crate) batcher: Batcher,
    pub(crate) counters: Counters,
    /// Whether `g_acts` holds fakes from the current G (made since G's last
    /// update), which a G step can reuse.
    fake_fresh: bool,
    /// Every how many steps the quality figure is computed (0: never).
    pub quality_every: u64,
    collected: Vec<StepMetrics>,
    halted: Option<u64>,
    sample_acts: Option<Activations>,
    /// The next D step uses the real batch and noise already uploaded.
    fixed_inputs: bool,
    /// Counters and data position before each recent step, to roll back to
    /// after a halt.
    snapshots: std::collections::VecDeque<(Counters, crate::data::BatchPosition)>,
    /// Submissions not known to be finished, oldest first.
    submissions: std::collections::VecDeque<wgpu::SubmissionIndex>,
    /// Tests: put a NaN into the next real batch.
    #[cfg(test)]
    poison_next_batch: bool,
}

impl Trainer {
    /// A run with fresh weights drawn from `seed` on the data set `data`.
    ///
    /// # Errors
    ///
    /// Invalid sizes or hyper-parameters, a data set smaller than a batch,
    /// allocation errors.
    pub fn new(
        ctx: &GpuContext,
        config: ModelConfig,
        hyper: Hyper,
        seed: u64,
        data: Dataset,
    ) -> Result<Self> {
        Self::build(ctx, config, hyper, seed, data).map_err(|error| match error {
            GanError::Tensor(webgan_tensor::TensorError::Limit {
                what,
                needed,
                limit,
                ..
            }) => GanError::Config(format!(
                "the model is too large for this GPU: {what} needs {needed}, the device \
                     allows {limit}; lower ngf, ndf, nz or the batch size"
            )),
            other => other,
        })
    }

    fn build(
        ctx: &GpuContext,
        config: ModelConfig,
        hyper: Hyper,
        seed: u64,
        data: Dataset,
    ) -> Result<Self> {
        config.validate()?;
        hyper.validate()?;
        if data.len() < config.batch {
            return Err(GanError::Config(format!(
                "the data set '{}' has {} images, fewer than one batch of {}",
                data.source(),
                data.len(),
                config.batch
            )));
        }
        let n = config.batch;
        let halt = Halt::new(ctx, "run.halt")?;
        let (mut g, mut d) = (
            Network::generator(ctx, &config)?,
            Network::discriminator(ctx, &config)?,
        );
        g.set_halt(&halt);
        d.set_halt(&halt);
        let filled = |value: f32, label: &str| {
            Tensor::from_slice(ctx, &[n, 1, 1, 1], &vec![value; n], label)
        };
        let kernel = |label: &str| Tensor::zeros(ctx, &[n, n], label);
        let mut trainer = Self {
            g_acts: g.activations(ctx, n)?,
            d_acts: d.activations(ctx, n)?,
            real: Tensor::zeros(ctx, &d.input_shape(n), "run.real")?,
            noise: Tensor::zeros(ctx, &g.input_shape(n), "run.noise")?,
            ones: filled(1.0, "run.ones")?,
            zeros: filled(0.0, "run.zeros")?,
            kernels: [
                kernel("mmd.fake")?,
                kernel("mmd.real")?,
                kernel("mmd.cross")?,
            ],
            ring: MetricsRing::new(ctx, 8)?,
            batch_host: vec![0.0; n * IMAGE_PIXELS],
            batcher: Batcher::new(data.len(), n, seed)?,
            data,
            ctx: ctx.clone(),
            config,
            hyper,
            seed,
            g,
            d,
            halt,
            counters: Counters::default(),
            fake_fresh: false,
            quality_every: 50,
            collected: Vec::new(),
            halted: None,
            sample_acts: None,
            fixed_inputs: false,
            submissions: Default::default(),
            snapshots: Default::default(),
            #[cfg(test)]
            poison_next_batch: false,
        };
        trainer.reset(seed)?;
        Ok(trainer)
    }

    /// Fresh weights from `seed`, Adam's state, running statistics and
    /// counters cleared, the data order restarted.
    ///
    /// # Errors
    ///
    /// Op errors.
    pub fn reset(&mut self, seed: u64) -> Result<()> {
        self.seed = seed;
        let ctx = self.ctx.clone();
        let mut enc = Encoder::new(&ctx);
        self.g.initialize(&mut enc, seed, stream::INIT_G)?;
        self.d.initialize(&mut enc, seed, stream::INIT_D)?;
        ops::fill(&mut enc, self.halt.tensor(), 0.0)?;
        enc.submit();
        self.counters = Counters::default();
        self.snapshots.clear();
        self.batcher = Batcher::new(self.data.len(), self.config.batch, seed)?;
        self.fake_fresh = false;
        self.halted = None;
        Ok(())
    }

    /// The context the run uses.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The model's sizes.
    pub fn config(&self) -> ModelConfig {
        self.config
    }

    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Iterations done (recorded; the GPU may still be working on them).
    pub fn step(&self) -> u64 {
        self.counters.step
    }

    /// The data set.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// The first step whose loss was not finite, once the host knows.
    pub fn halted_at(&self) -> Option<u64> {
        self.halted
    }

    /// Records and submits one training iteration; returns without waiting.
    ///
    /// # Errors
    ///
    /// [`GanError::Diverged`] once a loss was not finite, invalid
    /// hyper-parameters, GPU errors.
    pub fn train_step(&mut self) -> Result<()> {
        self.check()?;
        self.hyper.validate()?;
        self.snapshots
            .push_back((self.counters, self.batcher.position()));
        if self.snapshots.len() > 1024 {
            self.snapshots.pop_front();
        }
        let d_steps = self.hyper.d_steps;
        for k in 0..d_steps {
            self.load_real_batch()?;
            let ctx = self.ctx.clone();
            let mut enc = Encoder::new(&ctx);
            self.record_d_step(&mut enc)?;
            if k + 1 == d_steps {
                self.record_g_step(&mut enc)?;
                self.record_metrics(&mut enc)?;
            }
            self.submissions.push_back(enc.submit());
            if self.submissions.len() > 1024 {
                // Only `throttle` (native) drains this; keep it bounded.
                self.submissions.pop_front();
            }
            self.ring.submitted();
        }
        self.counters.step += 1;
        Ok(())
    }

    /// Waits until at most `max` iterations are queued on the GPU, so a
    /// native loop that records faster than the GPU runs keeps a bounded
    /// queue. (In a browser the page paces itself by animation frames.)
    ///
    /// # Errors
    ///
    /// [`GanError::Gpu`] when the device is lost.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn throttle(&mut self, max: usize) -> Result<()> {
        while self.submissions.len() > max {
            let index = self.submissions.pop_front().expect("non-empty");
            let wait = wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            };
            self.ctx
                .device()
                .poll(wait)
                .map_err(|e| GanError::Gpu(e.to_string()))?;
        }
        Ok(())
    }

    /// Records and submits a discriminator step only (no metrics row).
    ///
    /// # Errors
    ///
    /// As [`Trainer::train_step`].
    pub fn train_d_only(&mut self) -> Result<()> {
        self.check()?;
        self.hyper.validate()?;
        self.load_real_batch()?;
        let ctx = self.ctx.clone();
        let mut enc = Encoder::new(&ctx);
        self.record_d_step(&mut enc)?;
        enc.submit();
        Ok(())
    }

    /// Records and submits a generator step only (no metrics row).
    ///
    /// # Errors
    ///
    /// As [`Trainer::train_step`].
    pub fn train_g_only(&mut self) -> Result<()> {
        self.check()?;
        self.hyper.validate()?;
        let ctx = self.ctx.clone();
        let mut enc = Encoder::new(&ctx);
        self.record_g_step(&mut enc)?;
        enc.submit();
        Ok(())
    }

    /// Changes the seed future draws (noise, fixed noise) use, keeping the
    /// weights.
    pub fn reseed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// Takes over a checkpoint's hyper-parameters, seed, counters and data
    /// order (its tensors are written by the caller).
    pub(crate) fn restore_run(&mut self, info: crate::checkpoint::RunInfo, batcher: Batcher) {
        self.hyper = info.hyper;
        self.seed = info.seed;
        self.counters = info.counters;
        self.snapshots.clear();
        self.quality_every = info.quality_every;
        self.batcher = batcher;
        self.fake_fresh = false;
        self.halted = None;
        self.collected.clear();
        // A halted run restored to a good state may train again.
        let _ = self.halt.tensor().write(&self.ctx, &[0.0]);
    }

    fn check(&mut self) -> Result<()> {
        if let Some(reason) = self.ctx.lost_reason() {
            return Err(GanError::DeviceLost(reason));
        }
        if let Some(error) = self.ctx.take_gpu_error() {
            return Err(GanError::Gpu(error));
        }
        self.poll()?;
        match self.halted {
            Some(step) => Err(GanError::Diverged { step }),
            None => Ok(()),
        }
    }

    fn load_real_batch(&mut self) -> Result<()> {
        self.batcher.fill_batch(&self.data, &mut self.batch_host);
        #[cfg(test)]
        if std::mem::take(&mut self.poison_next_batch) {
            self.batch_host[0] = f32::NAN;
        }
        self.real.write(&self.ctx, &self.batch_host)?;
        Ok(())
    }

    /// Uses `real` and `noise` for the next D step instead of a data batch
    /// and a fresh draw (parity runs).
    pub(crate) fn set_inputs(&mut self, real: &[f32], noise: &[f32]) -> Result<()> {
        self.real.write(&self.ctx, real)?;
        self.noise.write(&self.ctx, noise)?;
        self.fixed_inputs = true;
        Ok(())
    }

    /// Records and submits the D step of an iteration on the inputs given
    /// to `set_inputs` (parity runs read D's gradients in between).
    pub(crate) fn parity_d_step(&mut self) -> Result<()> {
        let ctx = self.ctx.clone();
        let mut enc = Encoder::new(&ctx);
        self.record_d_step(&mut enc)?;
        enc.submit();
        Ok(())
    }

    /// Records and submits the G step and the metrics of that iteration.
    pub(crate) fn parity_g_step(&mut self) -> Result<()> {
        let ctx = self.ctx.clone();
        let mut enc = Encoder::new(&ctx);
        self.record_g_step(&mut enc)?;
        self.record_metrics(&mut enc)?;
        enc.submit();
        self.ring.submitted();
        self.counters.step += 1;
        self.fixed_inputs = false;
        Ok(())
    }

    fn draw_noise(&mut self, enc: &mut Encoder) -> Result<()> {
        if self.fixed_inputs {
            return Ok(());
        }
        let rng = Philox {
            seed: self.seed,
            stream: stream::NOISE,
            offset: self.counters.noise_draws,
        };
        self.counters.noise_draws += 1;
        ops::random_normal(enc, rng, &self.noise, 0.0, 1.0)?;
        Ok(())
    }

    /// The loss, its gradient into `d_acts.output_grad()`, and the mean of
    /// D's output (as a probability) into the step's row.
    fn record_loss(
        &self,
        enc: &mut Encoder,
        target_real: bool,
        scale: f32,
        columns: (usize, usize),
    ) -> Result<()> {
        let loss = match self.hyper.loss {
            GanLoss::LeastSquares => Loss::Mse,
            _ => Loss::BceWithLogits,
        };
        let targets = if target_real { &self.ones } else { &self.zeros };
        let logits = self.d_acts.output();
        let step = self.counters.step;
        let n = self.config.batch as f32;
        let ring = &self.ring;
        ops::loss_forward(
            enc,
            loss,
            (logits, targets),
            &ring.tensor,
            ring.slot(step, columns.0),
            scale,
        )?;
        ops::reduce_sum(
            enc,
            logits,
            &ring.tensor,
            ring.slot(step, columns.1),
            1.0 / n,
            ReduceMap::Sigmoid,
        )?;
        ops::loss_backward(
            enc,
            loss,
            (logits, targets),
            self.d_acts.output_grad(),
            scale,
        )?;
        Ok(())
    }

    /// `MODEL.md` step 1: D on real (target 1), D on fresh fakes (target 0)
    /// with no gradient into G, gradients summed, Adam on D.
    fn record_d_step(&mut self, enc: &mut Encoder) -> Result<()> {
        let train = NormMode::Train;
        self.d.forward(enc, &self.d_acts, &self.real, train)?;
        self.record_loss(enc, true, 1.0, (col::LOSS_D_REAL, col::D_X))?;
        self.d
            .backward(enc, &self.d_acts, (&self.real, None), train, (true, false))?;

        self.draw_noise(enc)?;
        self.g.forward(enc, &self.g_acts, &self.noise, train)?;
        self.fake_fresh = true;
        let fake = self.g_acts.output();
        self.d.forward(enc, &self.d_acts, fake, train)?;
        self.record_loss(enc, false, 1.0, (col::LOSS_D_FAKE, col::D_G_Z1))?;
        self.d
            .backward(enc, &self.d_acts, (fake, None), train, (true, true))?;

        let first = self.ring.slot(self.counters.step, col::LOSS_D_REAL);
        ops::guard_finite(
            enc,
            &self.ring.tensor,
            (first, 2),
            self.counters.step,
            &self.halt,
        )?;
        self.counters.t_d += 1;
        let step = self.adam_step(self.hyper.lr_d, self.counters.t_d);
        self.d.adam(enc, &step, &self.halt)
    }

    /// `MODEL.md` step 2: the fakes through the updated D, the generator's
    /// loss back through D into G, Adam on G only.
    fn record_g_step(&mut self, enc: &mut Encoder) -> Result<()> {
        let train = NormMode::Train;
        if !self.fake_fresh {
            self.draw_noise(enc)?;
            self.g.forward(enc, &self.g_acts, &self.noise, train)?;
        }
        let fake = self.g_acts.output();
        self.d.forward(enc, &self.d_acts, fake, train)?;
        let (target_real, scale) = match self.hyper.loss {
            GanLoss::NonSaturating | GanLoss::LeastSquares => (true, 1.0),
            // E[log(1 - D(G(z)))] = -bce(D(G(z)), 0), minimised.
            GanLoss::Minimax => (false, -1.0),
        };
        self.record_loss(enc, target_real, scale, (col::LOSS_G, col::D_G_Z2))?;
        let dfake = Some(self.g_acts.output_grad());
        self.d
            .backward(enc, &self.d_acts, (fake, dfake), train, (false, true))?;
        self.g
            .backward(enc, &self.g_acts, (&self.noise, None), train, (true, false))?;

        let first = self.ring.slot(self.counters.step, col::LOSS_D_REAL);
        ops::guard_finite(
            enc,
            &self.ring.tensor,
            (first, 3),
            self.counters.step,
            &self.halt,
        )?;
        self.counters.t_g += 1;
        let step = self.adam_step(self.hyper.lr_g, self.counters.t_g);
        self.g.adam(enc, &step, &self.halt)?;
        self.fake_fresh = false;
        Ok(())
    }

    fn adam_step(&self, lr: f32, t: u64) -> AdamStep {
        let h = &self.hyper;
        AdamStep {
            lr,
            beta1: h.beta1,
            beta2: h.beta2,
            eps: h.eps,
            t,
        }
    }

    /// The halt flag, the quality figure when due, and the row's copy-out.
    fn record_metrics(&mut self, enc: &mut Encoder) -> Result<()> {
        let step = self.counters.step;
        enc.copy_elements(
            self.halt.tensor(),
            0,
            &self.ring.tensor,
            self.ring.slot(step, col::HALT),
            1,
        )?;
        let quality = self.quality_every > 0 && (step + 1).is_multiple_of(self.quality_every);
        if quality {
            let fake = self.g_acts.output();
            let n = self.config.batch as f32;
            let pairs = [
                (fake, fake, col::K_FAKE),
                (&self.real, &self.real, col::K_REAL),
                (fake, &self.real, col::K_CROSS),
            ];
            for ((a, b, column), k) in pairs.into_iter().zip(&self.kernels) {
                ops::rbf_kernel(enc, a, b, k, &MMD_SIGMAS)?;
                let slot = self.ring.slot(step, column);
                ops::reduce_sum(
                    enc,
                    k,
                    &self.ring.tensor,
                    slot,
                    1.0 / (n * n),
                    ReduceMap::Identity,
                )?;
            }
        }
        self.ring.recorded(&self.ctx, enc, step, quality)
    }

    /// Collects the metrics that have come back, without waiting.
    ///
    /// # Errors
    ///
    /// [`GanError::Gpu`] when a readback failed.
    pub fn poll(&mut self) -> Result<()> {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.ctx.device().poll(wgpu::PollType::Poll);
        if let Some(step) = self.ring.collect(&mut self.collected)? {
            if self.halted.is_none() {
                self.halted = Some(step);
                self.roll_back_to(step - 1);
            }
        }
        Ok(())
    }

    /// After a halt at step `good + 1`: the counters and data position as
    /// they were after step `good`, matching the state the halt flag kept
    /// on the GPU (the steps recorded after it changed nothing there).
    fn roll_back_to(&mut self, good: u64) {
        let Some(&(counters, position)) = self.snapshots.iter().find(|(c, _)| c.step == good)
        else {
            log::debug!("webgan: no snapshot of step {good}; counters stay");
            return;
        };
        self.counters = counters;
        // A position that was valid then is valid now.
        let _ = self.batcher.set_position(position);
        self.fake_fresh = false;
        self.snapshots.clear();
    }

    /// Takes the metrics collected so far, in step order.
    pub fn take_metrics(&mut self) -> Vec<StepMetrics> {
        std::mem::take(&mut self.collected)
    }

    /// Copies out every step's metrics still on the GPU and waits until all
    /// have come back (natively by polling, in a browser by yielding).
    ///
    /// # Errors
    ///
    /// [`GanError::Gpu`] when a readback failed.
    pub async fn flush(&mut self) -> Result<()> {
        let ctx = self.ctx.clone();
        let mut enc = Encoder::new(&ctx);
        self.ring.stage(&self.ctx, &mut enc)?;
        enc.submit();
        self.ring.submitted();
        #[cfg(not(target_arch = "wasm32"))]
        self.ctx
            .device()
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GanError::Gpu(e.to_string()))?;
        while self.ring.wait_oldest().await {
            self.poll()?;
        }
        self.poll()
    }

    /// Records the generator's output for `noise` (`[M, nz, 1, 1]`) with
    /// batch statistics and no change to any state, and returns the tensor
    /// the images `[M, 1, 28, 28]` will be in once the submission runs.
    ///
    /// # Errors
    ///
    /// A noise tensor of the wrong shape; a batch of one (batch statistics
    /// need more).
    pub fn record_samples(&mut self, enc: &mut Encoder, noise: &Tensor) -> Result<&Tensor> {
        let m = noise.shape()[0];
        if self.sample_acts.as_ref().is_none_or(|a| a.batch != m) {
            self.sample_acts = Some(self.g.activations(&self.ctx, m)?);
        }
        let acts = self.sample_acts.as_ref().expect("just made");
        self.g.forward(enc, acts, noise, NormMode::BatchOnly)?;
        Ok(acts.output())
    }

    /// A fixed noise batch `[count, nz, 1, 1]` drawn from the run's seed.
    ///
    /// # Errors
    ///
    /// Allocation errors.
    pub fn fixed_noise(&self, count: usize) -> Result<Tensor> {
        let noise = Tensor::zeros(&self.ctx, &self.g.input_shape(count), "fixed_noise")?;
        let ctx = self.ctx.clone();
        let mut enc = Encoder::new(&ctx);
        let rng = Philox {
            seed: self.seed,
            stream: stream::FIXED_NOISE,
            offset: 0,
        };
        ops::random_normal(&mut enc, rng, &noise, 0.0, 1.0)?;
        enc.submit();
        Ok(noise)
    }

    /// FLOPs of one iteration's convolutions, 2 per multiply-add, each
    /// backward pass (input or weight gradient) counted as one forward:
    /// per D step D forward twice and backward twice (both gradients) and G
    /// forward once; in the G step D forward once, D's input gradient, and
    /// G backward (both gradients).
    pub fn iteration_flops(&self) -> f64 {
        let n = self.config.batch;
        let (g, d) = (self.g.forward_flops(n), self.d.forward_flops(n));
        let d_steps = self.hyper.d_steps as f64;
        d_steps * (6.0 * d + g) + 2.0 * d + 2.0 * g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bundled_mnist;

    fn context() -> Option<GpuContext> {
        match pollster::block_on(GpuContext::new()) {
            Ok(ctx) => Some(ctx),
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI needs a GPU: {e}")
            }
            Err(e) => {
                eprintln!("skipping GPU test: {e}");
                None
            }
        }
    }

    async fn parameters(t: &Trainer) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        for p in t.g.params.iter().chain(&t.d.params) {
            for tensor in [&p.value, &p.m, &p.v] {
                out.push(t.ctx.read_f32(tensor).await.unwrap());
            }
        }
        out
    }

    #[test]
    fn a_non_finite_loss_stops_the_run_at_its_step_keeping_the_last_good_weights() {
        let Some(ctx) = context() else { return };
        let config = ModelConfig {
            nz: 8,
            ngf: 4,
            ndf: 4,
            batch: 4,
        };
        let mut t =
            Trainer::new(&ctx, config, Hyper::default(), 2, bundled_mnist().unwrap()).unwrap();
        for _ in 0..3 {
            t.train_step().unwrap();
        }
        pollster::block_on(t.flush()).unwrap();
        let good = pollster::block_on(parameters(&t));

        t.poison_next_batch = true;
        t.train_step().unwrap();
        // Steps recorded before the host learns of it change nothing.
        t.train_step().unwrap();
        pollster::block_on(t.flush()).unwrap();
        let error = t.train_step().unwrap_err();
        assert!(matches!(error, GanError::Diverged { step: 4 }), "{error}");
        assert!(error.to_string().contains("step 4"), "{error}");
        assert_eq!(t.halted_at(), Some(4));
        assert_eq!(
            t.step(),
            3,
            "the step count rolls back to the last good step"
        );
        assert_eq!(t.counters.t_d, 3, "and so do Adam's step counts");
        let steps: Vec<u64> = t.take_metrics().iter().map(|m| m.step).collect();
        assert_eq!(steps, [1, 2, 3], "only good steps are reported");
        assert_eq!(
            pollster::block_on(parameters(&t)),
            good,
            "weights and Adam state of step 3"
        );
        let checkpoint = pollster::block_on(t.save_checkpoint()).unwrap();
        assert!(!checkpoint.is_empty(), "the last good state can be saved");
    }
}

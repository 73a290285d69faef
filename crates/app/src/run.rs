//! The training session in the page (wasm32 only): one async loop that owns
//! the GPU context and the trainer, runs a few iterations per animation
//! frame, and takes the page's commands between frames.
//!
//! # Design choices
//!
//! - **One owner.** The loop owns the trainer outright; buttons and sliders
//!   push [`Command`]s onto a queue the loop drains at the start of each
//!   frame, so nothing else borrows the trainer and the loop may await
//!   (checkpoint readbacks, metric flushes) without locking.
//! - **Never wait for the GPU.** A frame's iterations are submitted and the
//!   loop moves on; `onSubmittedWorkDone` tells it when they finished. At
//!   most two frames of work are queued, and [`Pacer`] picks how many
//!   iterations a frame holds.
//! - **Samples without stalls.** After a frame, the fixed-noise samples are
//!   recorded into their own submission and copied to a staging buffer
//!   that is mapped asynchronously; they are drawn when they arrive, and a
//!   frame skips recording new ones while a readback is pending.
//! - **Every step kept.** Each step's metrics go into [`HISTORY`]; the
//!   charts draw it thinned, and hovering reads it whole.

use std::cell::RefCell;
use std::collections::VecDeque;

use futures_channel::oneshot;
use leptos::prelude::*;
use webgan::checkpoint::Checkpoint;
use webgan::data::Dataset;
use webgan::{GanError, Hyper, Preset, StepMetrics, Trainer};
use webgan_tensor::{Encoder, GpuBuffer, GpuContext, Tensor};

use crate::chart::{self, Series};
use crate::pace::Pacer;
use crate::report::MemoryReport;
use crate::settings::{self, count_of, Settings};
use crate::ui::{Phase, Ui};
use crate::web;

/// The bundled MNIST digits, copied into dist/ by Trunk.
pub const MNIST_URL: &str = "mnist-10k-images-idx3-ubyte.gz";
/// Samples in the grid (8 x 8).
const SAMPLES: usize = 64;
const PIXELS: usize = 28 * 28;
/// Save the state in memory (for a lost device) this often while training.
const SNAPSHOT_EVERY_MS: f64 = 20_000.0;
/// Refresh the memory line this often.
const MEMORY_EVERY_MS: f64 = 1_000.0;
/// Frames of work queued on the GPU, at most.
const FRAMES_AHEAD: usize = 2;
/// After this long without the first samples of a run, the page says the
/// model may be too large for the device.
const FIRST_SAMPLES_PATIENCE_MS: f64 = 10_000.0;
/// What the page shows while the first samples of a run are computed.
const FIRST_SAMPLES: &str = "Initialising: the GPU is computing the first samples…";

/// What the page asks the loop to do.
pub enum Command {
    /// Train frame after frame.
    Train,
    /// Stop after the queued steps.
    Pause,
    /// One iteration (D then G).
    Step,
    /// One discriminator step only.
    StepD,
    /// One generator step only.
    StepG,
    /// Fresh weights from the seed.
    Reset,
    /// New hyper-parameters, from the next step, Adam's state kept.
    Hyper(Hyper),
    /// New sizes, batch or seed: a fresh run.
    Restart(Settings),
    /// Download the checkpoint.
    SaveCheckpoint,
    /// Continue from a checkpoint: its file name and bytes.
    LoadCheckpoint(String, Vec<u8>),
    /// Download the sample grid as PNG.
    SavePng,
    /// A new data set: a fresh run on it.
    Data(Dataset),
    /// After a lost device: a new device, from the last state in memory.
    Recover,
    /// Destroys the device, as a driver reset would (for the tests).
    LoseDevice,
}

thread_local! {
    static COMMANDS: RefCell<VecDeque<Command>> = const { RefCell::new(VecDeque::new()) };
    /// Every step's metrics of the current run, in order.
    pub static HISTORY: RefCell<Vec<StepMetrics>> = const { RefCell::new(Vec::new()) };
}

/// Queues a command for the loop's next frame.
pub fn send(command: Command) {
    COMMANDS.with_borrow_mut(|queue| queue.push_back(command));
}

fn next_command() -> Option<Command> {
    COMMANDS.with_borrow_mut(VecDeque::pop_front)
}

/// Resolves when the GPU has finished everything submitted so far.
fn work_done(ctx: &GpuContext) -> oneshot::Receiver<()> {
    let (sender, receiver) = oneshot::channel();
    ctx.queue().on_submitted_work_done(move || {
        let _ = sender.send(());
    });
    receiver
}

/// The sample grid's readback: record, copy, map, draw when it arrives.
struct SampleReader {
    staging: GpuBuffer,
    pending: Option<(u64, oneshot::Receiver<Result<(), wgpu::BufferAsyncError>>)>,
    /// The last grid drawn: its step and values, for the PNG download.
    last: Option<(u64, Vec<f32>)>,
}

impl SampleReader {
    fn new(ctx: &GpuContext) -> Self {
        let staging = ctx.create_buffer(&wgpu::BufferDescriptor {
            label: Some("app.samples.readback"),
            size: (SAMPLES * PIXELS * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self {
            staging,
            pending: None,
            last: None,
        }
    }

    /// Records the samples of the trainer's current weights, unless a
    /// readback is still pending. Returns whether it recorded.
    fn request(&mut self, trainer: &mut Trainer, noise: &Tensor) -> Result<bool, GanError> {
        if self.pending.is_some() {
            return Ok(false);
        }
        let ctx = trainer.context().clone();
        let step = trainer.step();
        let mut enc = Encoder::new(&ctx);
        let images = trainer.record_samples(&mut enc, noise)?;
        enc.copy_to_buffer(images, 0, &self.staging, 0, SAMPLES * PIXELS)?;
        enc.submit();

        let (sender, receiver) = oneshot::channel();
        self.staging
            .slice(..)
            .map_async(wgpu::MapMode::Read, move |result| {
                let _ = sender.send(result);
            });
        self.pending = Some((step, receiver));
        Ok(true)
    }

    /// Draws the grid if its readback has arrived.
    fn poll(&mut self) -> Result<(), GanError> {
        let Some((step, receiver)) = &mut self.pending else {
            return Ok(());
        };
        let result = match receiver.try_recv() {
            Ok(None) => return Ok(()),
            Ok(Some(result)) => result,
            Err(_) => Err(wgpu::BufferAsyncError),
        };
        let step = *step;
        self.pending = None;
        result.map_err(|e| GanError::Gpu(format!("sample readback failed: {e}")))?;

        let values: Vec<f32> = {
            let view = self
                .staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| GanError::Gpu(format!("sample readback failed: {e}")))?;
            bytemuck_cast(&view)
        };
        self.staging.unmap();
        let (width, height, rgb) = webgan::picture::grid_pixels(&values, 8);
        web::draw_rgb("samples", width, height, &rgb, Some(step));
        self.last = Some((step, values));
        Ok(())
    }
}

/// Little-endian f32s from bytes (wasm32 is little-endian).
fn bytemuck_cast(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A frame's iterations on their way through the GPU.
struct InFlight {
    steps: u32,
    submitted_ms: f64,
    done: oneshot::Receiver<()>,
}

/// Where the page's run stands.
pub struct Session {
    ctx: GpuContext,
    trainer: Trainer,
    settings: Settings,
    noise: Tensor,
    samples: SampleReader,
    /// Whether the loop trains on its own (Train) or waits (Pause).
    running: bool,
    pacer: Pacer,
    in_flight: VecDeque<InFlight>,
    /// (time, steps finished) over the last two seconds, for steps/s.
    rate: VecDeque<(f64, u64)>,
    finished_steps: u64,
    /// The last state read back, for starting again after a lost device.
    snapshot: Option<(Settings, Vec<u8>)>,
    snapshot_ms: f64,
    samples_stale: bool,
    charts_stale: bool,
    /// Step D and Step G presses of this run.
    extra_steps: (u64, u64),
    /// Since when the first samples of this run are awaited, if they are.
    first_samples_since: Option<f64>,
    /// When the memory line was last refreshed.
    memory_ms: f64,
    ui: Ui,
}

/// Builds a trainer for `settings`, with the quality figure every 50 steps
/// as the native `webgan train` computes it.
fn new_trainer(ctx: &GpuContext, settings: &Settings, data: Dataset) -> Result<Trainer, GanError> {
    let mut trainer = Trainer::new(ctx, settings.config, settings.hyper, settings.seed, data)?;
    trainer.quality_every = 50;
    Ok(trainer)
}

impl Session {
    /// A fresh run of `settings` on `data`.
    pub fn new(
        ctx: GpuContext,
        settings: Settings,
        data: Dataset,
        ui: Ui,
    ) -> Result<Self, GanError> {
        let trainer = new_trainer(&ctx, &settings, data)?;
        let noise = trainer.fixed_noise(SAMPLES)?;
        let samples = SampleReader::new(&ctx);
        let session = Self {
            ctx,
            trainer,
            settings,
            noise,
            samples,
            running: false,
            pacer: Pacer::new(),
            in_flight: VecDeque::new(),
            rate: VecDeque::new(),
            finished_steps: 0,
            snapshot: None,
            snapshot_ms: 0.0,
            samples_stale: true,
            charts_stale: true,
            extra_steps: (0, 0),
            first_samples_since: Some(web::now_ms()),
            memory_ms: f64::NEG_INFINITY,
            ui,
        };
        ui.busy.set(Some(FIRST_SAMPLES.into()));
        session.draw_real_digits();
        HISTORY.with_borrow_mut(Vec::clear);
        Ok(session)
    }

    /// Runs until the page closes.
    pub async fn run(mut self) {
        self.ui.phase.set(Phase::Paused);
        self.publish();
        loop {
            web::next_frame().await;
            while let Some(command) = next_command() {
                if let Err(error) = self.handle(command).await {
                    self.fail(error);
                }
            }
            if let Err(error) = self.frame().await {
                self.fail(error);
            }
            self.publish();
        }
    }

    /// One animation frame's work.
    async fn frame(&mut self) -> Result<(), GanError> {
        if self.ui.phase.get_untracked() == Phase::Lost {
            return Ok(());
        }
        if let Some(reason) = self.ctx.lost_reason() {
            return Err(GanError::DeviceLost(reason));
        }
        self.collect_finished();

        // On a slow adapter (or when stopped) wait for the metrics of the
        // finished steps rather than for the ring's next batch of eight.
        let reported = HISTORY.with_borrow(|h| h.last().map_or(0, |m| m.step));
        let idle = self.in_flight.is_empty();
        let behind = self.trainer.step() > reported && self.trainer.halted_at().is_none();
        if behind && idle && (self.pacer.is_slow() || !self.running) {
            self.trainer.flush().await?;
        }
        self.collect_metrics()?;

        if self.running && self.in_flight.len() < FRAMES_AHEAD {
            let steps = self.pacer.per_frame();
            let start = web::now_ms();
            for _ in 0..steps {
                self.trainer.train_step()?;
            }
            self.pacer.recorded(steps, web::now_ms() - start);
            self.track(steps);
            self.samples_stale = true;
        }

        if self.samples_stale && self.samples.request(&mut self.trainer, &self.noise)? {
            self.samples_stale = false;
        }
        self.samples.poll()?;
        self.watch_first_samples();

        if self.running && web::now_ms() - self.snapshot_ms > SNAPSHOT_EVERY_MS {
            self.snapshot().await?;
        }
        Ok(())
    }

    /// Clears the "initialising" status once the first samples are drawn,
    /// and says so when they take long.
    fn watch_first_samples(&mut self) {
        let Some(since) = self.first_samples_since else {
            return;
        };
        if self.samples.last.is_some() {
            self.first_samples_since = None;
            self.ui.busy.set(None);
        } else if web::now_ms() - since > FIRST_SAMPLES_PATIENCE_MS {
            let c = self.settings.config;
            self.ui.busy.set(Some(format!(
                "Initialising: the GPU has worked on the first samples for over {} s. With ngf \
                 {}, ndf {} and batch {}, the model may be too large for this device: lower \
                 ngf, ndf or batch if nothing appears.",
                FIRST_SAMPLES_PATIENCE_MS / 1000.0,
                c.ngf,
                c.ndf,
                c.batch
            )));
            // Still awaited (the status clears when they come), said once.
            self.first_samples_since = Some(f64::INFINITY);
        }
    }

    /// Notes a frame's submission and asks to hear when the GPU is done.
    fn track(&mut self, steps: u32) {
        self.in_flight.push_back(InFlight {
            steps,
            submitted_ms: web::now_ms(),
            done: work_done(&self.ctx),
        });
    }

    fn collect_finished(&mut self) {
        while let Some(front) = self.in_flight.front_mut() {
            if !matches!(front.done.try_recv(), Ok(Some(())) | Err(_)) {
                break;
            }
            let now = web::now_ms();
            self.pacer.finished(front.steps, now - front.submitted_ms);
            self.finished_steps += u64::from(front.steps);
            self.rate.push_back((now, self.finished_steps));
            self.in_flight.pop_front();
        }
        let now = web::now_ms();
        while self.rate.len() > 2 && self.rate.front().is_some_and(|(t, _)| now - t > 3000.0) {
            self.rate.pop_front();
        }
    }

    fn collect_metrics(&mut self) -> Result<(), GanError> {
        self.trainer.poll()?;
        let metrics = self.trainer.take_metrics();
        if !metrics.is_empty() {
            HISTORY.with_borrow_mut(|h| h.extend(metrics));
            self.charts_stale = true;
        }
        if let Some(step) = self.trainer.halted_at() {
            if self.running || self.ui.phase.get_untracked() != Phase::Diverged {
                self.running = false;
                self.ui.phase.set(Phase::Diverged);
                self.ui.error(nan_message(step));
            }
        }
        Ok(())
    }

    /// Pushes what the page shows: counters, the values in use, the charts.
    fn publish(&mut self) {
        let ui = self.ui;
        ui.step.set(self.trainer.step());
        let rate = self.rate.iter().copied().collect::<Vec<_>>();
        ui.steps_per_second
            .set(chart::steps_per_second(&rate).filter(|_| self.running));
        ui.in_use.set(Some(self.trainer.hyper));
        if web::now_ms() - self.memory_ms > MEMORY_EVERY_MS {
            self.memory_ms = web::now_ms();
            ui.memory.set(Some(MemoryReport {
                buffers: self.ctx.buffer_stats(),
                js_heap_bytes: web::js_heap_bytes(),
                wasm_bytes: web::wasm_bytes(),
            }));
        }
        if ui.extra_steps.get_untracked() != self.extra_steps {
            ui.extra_steps.set(self.extra_steps);
        }
        if self.charts_stale || charts_resized() {
            self.charts_stale = false;
            HISTORY.with_borrow(|history| {
                ui.last.set(history.last().copied());
                draw_chart("chart-losses", &chart::LOSSES, history);
                draw_chart("chart-outputs", &chart::OUTPUTS, history);
                draw_chart("chart-quality", &chart::QUALITY, history);
            });
        }
    }

    /// Stops on an error, with a message; a lost device offers a restart.
    fn fail(&mut self, error: GanError) {
        self.running = false;
        let lost = matches!(error, GanError::DeviceLost(_)) || self.ctx.lost_reason().is_some();
        if lost {
            self.ui.phase.set(Phase::Lost);
            let reason = self.ctx.lost_reason().unwrap_or_else(|| error.to_string());
            self.ui.error(format!(
                "The GPU device was lost ({reason}). Training stopped; \"Start again\" continues \
                 from the last state in memory{}.",
                match &self.snapshot {
                    Some(_) => "",
                    None => " (none was saved yet, so from fresh weights)",
                }
            ));
        } else if let GanError::Diverged { step } = error {
            self.ui.phase.set(Phase::Diverged);
            self.ui.error(nan_message(step));
        } else {
            self.ui.phase.set(Phase::Paused);
            self.ui.error(settings::explain(&error));
        }
    }

    fn set_running(&mut self, running: bool) {
        self.running = running;
        self.ui.phase.set(if running {
            Phase::Training
        } else {
            Phase::Paused
        });
    }

    async fn handle(&mut self, command: Command) -> Result<(), GanError> {
        let phase = self.ui.phase.get_untracked();
        let stopped = matches!(phase, Phase::Lost | Phase::Diverged);
        match command {
            Command::Recover => return self.recover().await,
            Command::LoseDevice => self.ctx.device().destroy(),
            Command::Train if phase == Phase::Diverged => {
                self.ui.clear_message();
                self.resume_after_nan().await?;
                self.set_running(true);
            }
            Command::Train if !stopped => {
                self.ui.clear_message();
                self.set_running(true);
            }
            Command::Pause => {
                if !stopped {
                    self.set_running(false);
                }
            }
            Command::Step | Command::StepD | Command::StepG if !stopped => {
                self.set_running(false);
                match command {
                    Command::Step => self.trainer.train_step()?,
                    Command::StepD => {
                        self.trainer.train_d_only()?;
                        self.extra_steps.0 += 1;
                        self.ui.info(
                            "D step taken: D's weights were updated on one real and one fake \
                             batch. The trainer reports no metrics for a D-only step, so the \
                             step count and the charts stay as they are."
                                .into(),
                        );
                    }
                    _ => {
                        self.trainer.train_g_only()?;
                        self.extra_steps.1 += 1;
                        self.ui.info(
                            "G step taken: G's weights were updated to fool D; the samples show \
                             the change. The trainer reports no metrics for a G-only step, so \
                             the step count and the charts stay as they are."
                                .into(),
                        );
                    }
                }
                self.track(1);
                self.samples_stale = true;
            }
            Command::Hyper(hyper) => {
                self.trainer.hyper = hyper;
                self.settings.hyper = hyper;
            }
            Command::Reset => self.reset(self.settings).await?,
            Command::Restart(settings) => {
                let result = self.reset(settings).await;
                self.keep_settings_on_error(result)?;
            }
            Command::Data(data) => {
                let source = format!("{} ({})", data.source(), count_of(data.len(), "image"));
                let result = self.replace_trainer(self.settings, data).await;
                self.keep_settings_on_error(result)?;
                self.ui.data_source.set(source);
            }
            Command::SaveCheckpoint => {
                let bytes = self.trainer.save_checkpoint().await?;
                let name = format!("webgan-step{}.safetensors", self.trainer.step());
                web::download(&bytes, &name, "application/octet-stream").map_err(GanError::Gpu)?;
                self.snapshot = Some((self.settings, bytes));
            }
            Command::LoadCheckpoint(name, bytes) => self.load(&name, &bytes).await?,
            Command::SavePng => match &self.samples.last {
                Some((step, values)) => {
                    let png = webgan::picture::grid_png(values, 8)?;
                    let name = format!("webgan-samples-step{step}.png");
                    web::download(&png, &name, "image/png").map_err(GanError::Gpu)?;
                }
                None => self.ui.error("No samples have been drawn yet.".into()),
            },
            // Train and the steps while stopped by a NaN or a lost device.
            _ => self.ui.error(
                "Training is stopped: reset, load a checkpoint or start again first.".into(),
            ),
        }
        Ok(())
    }

    /// After a new run could not be built, shows the settings of the run
    /// that goes on, and the reason.
    fn keep_settings_on_error(&mut self, result: Result<(), GanError>) -> Result<(), GanError> {
        let Err(error) = result else {
            return Ok(());
        };
        self.ui.busy.set(None);
        self.ui.settings.set(self.settings);
        web::set_query(&self.settings.to_query());
        if matches!(error, GanError::DeviceLost(_)) || self.ctx.lost_reason().is_some() {
            return Err(error);
        }
        self.ui.error(format!(
            "Could not start the new run: {}",
            settings::explain(&error)
        ));
        Ok(())
    }

    /// Waits for the GPU and every metric, so nothing from the old state
    /// arrives after a change of run.
    async fn settle(&mut self) -> Result<(), GanError> {
        if self.ctx.lost_reason().is_none() {
            let _ = work_done(&self.ctx).await;
            self.trainer.flush().await?;
            self.collect_metrics()?;
        }
        self.in_flight.clear();
        Ok(())
    }

    async fn reset(&mut self, settings: Settings) -> Result<(), GanError> {
        self.set_running(false);
        self.settle().await?;
        if settings.config == self.settings.config {
            self.trainer.reset(settings.seed)?;
            self.trainer.hyper = settings.hyper;
            self.trainer.take_metrics();
            self.noise = self.trainer.fixed_noise(SAMPLES)?;
            self.settings = settings;
        } else {
            let data = self.trainer.data().clone();
            self.replace_trainer(settings, data).await?;
        }
        self.after_new_run();
        Ok(())
    }

    async fn replace_trainer(&mut self, settings: Settings, data: Dataset) -> Result<(), GanError> {
        self.set_running(false);
        self.settle().await?;
        self.ui.busy.set(Some(
            "Building the networks and initialising the weights…".into(),
        ));
        web::next_frame().await;
        let trainer = new_trainer(&self.ctx, &settings, data)?;
        self.noise = trainer.fixed_noise(SAMPLES)?;
        self.trainer = trainer;
        self.settings = settings;
        self.after_new_run();
        self.draw_real_digits();
        Ok(())
    }

    fn after_new_run(&mut self) {
        HISTORY.with_borrow_mut(Vec::clear);
        self.extra_steps = (0, 0);
        self.samples.last = None;
        self.first_samples_since = Some(web::now_ms());
        self.ui.busy.set(Some(FIRST_SAMPLES.into()));
        self.ui.settings.set(self.settings);
        web::set_query(&self.settings.to_query());
        self.samples_stale = true;
        self.charts_stale = true;
        self.rate.clear();
        self.pacer = Pacer::new();
        if self.ui.phase.get_untracked() != Phase::Lost {
            self.ui.phase.set(Phase::Paused);
        }
    }

    /// Continues a checkpoint; one of other sizes gets a trainer of its
    /// sizes. A bad file leaves the current run untouched.
    async fn load(&mut self, name: &str, bytes: &[u8]) -> Result<(), GanError> {
        let info = match Checkpoint::parse(name, bytes) {
            Ok(checkpoint) => checkpoint.info,
            Err(error) => {
                self.ui.error(format!("Not loaded: {error}"));
                return Ok(());
            }
        };
        self.set_running(false);
        self.settle().await?;
        let settings = Settings {
            preset: preset_of(info.config).unwrap_or(self.settings.preset),
            config: info.config,
            seed: info.seed,
            hyper: info.hyper,
        };
        let mut trainer = if info.config == self.trainer.config() {
            None
        } else {
            Some(new_trainer(
                &self.ctx,
                &settings,
                self.trainer.data().clone(),
            )?)
        };
        let target = trainer.as_mut().unwrap_or(&mut self.trainer);
        if let Err(error) = target.load_checkpoint(name, bytes) {
            self.ui.error(format!("Not loaded: {error}"));
            return Ok(());
        }
        if let Some(trainer) = trainer {
            self.trainer = trainer;
        }
        self.trainer.take_metrics();
        self.noise = self.trainer.fixed_noise(SAMPLES)?;
        self.settings = settings;
        self.after_new_run();
        self.snapshot = Some((settings, bytes.to_vec()));
        self.ui.info(format!(
            "Loaded {name}: step {}, seed {}.",
            self.trainer.step(),
            settings.seed
        ));
        Ok(())
    }

    /// Goes back to the last good state after a NaN: the trainer keeps it
    /// (the halt froze every update), and loading it clears the halt. The
    /// hyper-parameters are the page's, which the person may have lowered.
    async fn resume_after_nan(&mut self) -> Result<(), GanError> {
        self.settle().await?;
        let bytes = self.trainer.save_checkpoint().await?;
        self.trainer
            .load_checkpoint("the last good state", &bytes)?;
        self.trainer.hyper = self.settings.hyper;
        self.trainer.take_metrics();
        let step = self.trainer.step();
        HISTORY.with_borrow_mut(|h| h.retain(|m| m.step <= step));
        self.charts_stale = true;
        self.samples_stale = true;
        Ok(())
    }

    async fn snapshot(&mut self) -> Result<(), GanError> {
        self.snapshot_ms = web::now_ms();
        let bytes = self.trainer.save_checkpoint().await?;
        self.snapshot = Some((self.settings, bytes));
        Ok(())
    }

    /// A new device and a new trainer, from the snapshot if there is one.
    async fn recover(&mut self) -> Result<(), GanError> {
        let ctx = GpuContext::new().await?;
        // The kernels chosen for the adapter the browser named at start.
        ctx.set_tuning(self.ctx.tuning());
        let data = self.trainer.data().clone();
        let (settings, bytes) = match self.snapshot.clone() {
            Some((settings, bytes)) => (settings, Some(bytes)),
            None => (self.settings, None),
        };
        let mut trainer = new_trainer(&ctx, &settings, data)?;
        if let Some(bytes) = &bytes {
            trainer.load_checkpoint("the last state in memory", bytes)?;
        }
        self.noise = trainer.fixed_noise(SAMPLES)?;
        self.samples = SampleReader::new(&ctx);
        self.ctx = ctx;
        self.trainer = trainer;
        self.in_flight.clear();
        let step = self.trainer.step();
        HISTORY.with_borrow_mut(|h| h.retain(|m| m.step <= step));
        self.settings = settings;
        self.samples_stale = true;
        self.charts_stale = true;
        self.ui.phase.set(Phase::Paused);
        self.ui
            .info(format!("Started again on a new device, at step {step}."));
        Ok(())
    }

    fn draw_real_digits(&self) {
        let data = self.trainer.data();
        let count = data.len().min(SAMPLES);
        let (width, height, rgb) =
            webgan::picture::grid_pixels(&data.images()[..count * PIXELS], 8);
        web::draw_rgb("real", width, height, &rgb, None);
    }
}

/// What the page says when a loss was NaN or infinite at `step`.
fn nan_message(step: u64) -> String {
    format!(
        "A loss became NaN or infinite at step {step}; training paused with the weights of \
         step {}. Lower the learning rates and press Train to go on from there, or Reset.",
        step.saturating_sub(1)
    )
}

/// The preset whose sizes these are, if any.
fn preset_of(config: webgan::ModelConfig) -> Option<Preset> {
    Preset::ALL.into_iter().find(|p| {
        let c = p.config();
        (c.nz, c.ngf, c.ndf) == (config.nz, config.ngf, config.ndf)
    })
}

/// Plot margins in canvas pixels: left (labels), right, top, bottom.
const MARGIN: (f64, f64, f64, f64) = (44.0, 8.0, 8.0, 18.0);

/// Draws `series` over `history` into the canvas `id`; sets `data-points`
/// to the fewest finite points any series has, and `data-steps`.
pub fn draw_chart(id: &str, series: &[Series], history: &[StepMetrics]) {
    let Some((canvas, g)) = web::canvas_2d(id) else {
        return;
    };
    // The canvas's pixels follow its size on the page (CSS sets the width).
    let shown = canvas.client_width();
    if shown > 0 && shown as u32 != canvas.width() {
        canvas.set_width(shown as u32);
    }
    let (width, height) = (f64::from(canvas.width()), f64::from(canvas.height()));
    let (left, right, top, bottom) = MARGIN;
    let (plot_w, plot_h) = (width - left - right, height - top - bottom);
    g.clear_rect(0.0, 0.0, width, height);
    g.set_font("11px system-ui, sans-serif");
    g.set_fill_style_str("#888");
    g.set_stroke_style_str("#8884");
    g.stroke_rect(left, top, plot_w, plot_h);

    let values: Vec<Vec<Option<f32>>> = series
        .iter()
        .map(|s| history.iter().map(s.value).collect())
        .collect();
    let finite = values
        .iter()
        .map(|v| v.iter().flatten().filter(|x| x.is_finite()).count())
        .min()
        .unwrap_or(0);
    let _ = canvas.set_attribute("data-points", &finite.to_string());
    let _ = canvas.set_attribute("data-steps", &history.len().to_string());
    let Some((low, high)) = chart::y_range(values.iter().map(Vec::as_slice)) else {
        let empty = if history.is_empty() {
            "no steps yet"
        } else {
            "no values yet"
        };
        let _ = g.fill_text(empty, left + 8.0, top + 16.0);
        return;
    };

    let _ = g.fill_text(&chart::exact(high), 2.0, top + 9.0);
    let _ = g.fill_text(&chart::exact(low), 2.0, top + plot_h);
    if let (Some(first), Some(last)) = (history.first(), history.last()) {
        let _ = g.fill_text(&format!("step {}", first.step), left, height - 4.0);
        let label = format!("{}", last.step);
        let label_w = 6.5 * label.len() as f64;
        let _ = g.fill_text(&label, width - right - label_w, height - 4.0);
    }
    let y_of = |v: f32| top + plot_h - f64::from((v - low) / (high - low)) * plot_h;
    if low < 0.0 && high > 0.0 {
        g.begin_path();
        g.move_to(left, y_of(0.0));
        g.line_to(left + plot_w, y_of(0.0));
        g.stroke();
    }

    let columns = plot_w as usize;
    for (s, values) in series.iter().zip(&values) {
        let picks = chart::thin(values, columns);
        g.set_stroke_style_str(s.color);
        g.set_fill_style_str(s.color);
        g.set_line_width(1.5);
        g.begin_path();
        for (n, &i) in picks.iter().enumerate() {
            let x = left + chart::x_of(i, plot_w, history.len());
            let y = y_of(values[i].unwrap_or(0.0));
            if n == 0 {
                g.move_to(x, y);
            } else {
                g.line_to(x, y);
            }
        }
        g.stroke();
        if picks.len() < 40 {
            for &i in &picks {
                let x = left + chart::x_of(i, plot_w, history.len());
                g.fill_rect(x - 1.5, y_of(values[i].unwrap_or(0.0)) - 1.5, 3.0, 3.0);
            }
        }
    }
    g.set_line_width(1.0);
}

/// Whether a chart's size on the page differs from its pixels (the window
/// was resized), so the charts need drawing again.
fn charts_resized() -> bool {
    ["chart-losses", "chart-outputs", "chart-quality"]
        .into_iter()
        .filter_map(web::canvas_2d)
        .any(|(canvas, _)| {
            let shown = canvas.client_width();
            shown > 0 && shown as u32 != canvas.width()
        })
}

/// The hover text at canvas x `x` of the chart `id` showing `series`.
pub fn hover(id: &str, series: &[Series], x: f64) -> String {
    let Some((canvas, _)) = web::canvas_2d(id) else {
        return String::new();
    };
    let (left, right, _, _) = MARGIN;
    // Canvas pixels may be scaled by CSS: map the pointer back.
    let scale = f64::from(canvas.width()) / f64::from(canvas.client_width().max(1));
    let plot_w = f64::from(canvas.width()) - left - right;
    HISTORY.with_borrow(|history| {
        chart::index_at(x * scale - left, plot_w, history.len())
            .map(|i| chart::hover_text(series, &history[i]))
            .unwrap_or_default()
    })
}

/// The page's metrics as JSON, for the tests: `[{step, loss_d, ...}]`.
pub fn metrics_json() -> String {
    let number = |v: f32| {
        if v.is_finite() {
            v.to_string()
        } else {
            "null".into()
        }
    };
    HISTORY.with_borrow(|history| {
        let rows: Vec<String> = history
            .iter()
            .map(|m| {
                format!(
                    "{{\"step\":{},\"loss_d\":{},\"loss_d_real\":{},\"loss_d_fake\":{},\
                     \"loss_g\":{},\"d_x\":{},\"d_g_z1\":{},\"d_g_z2\":{},\"quality\":{}}}",
                    m.step,
                    number(m.loss_d()),
                    number(m.loss_d_real),
                    number(m.loss_d_fake),
                    number(m.loss_g),
                    number(m.d_x),
                    number(m.d_g_z1),
                    number(m.d_g_z2),
                    m.quality.map_or("null".into(), number)
                )
            })
            .collect();
        format!("[{}]", rows.join(","))
    })
}

//! Per-step metrics: written by the kernels into a ring of rows on the
//! GPU, copied out in batches and read back asynchronously, so training
//! never waits for a readback and no step's metrics are lost.
//!
//! Row layout (`ROW` floats per step):
//! `[loss_d_real, loss_d_fake, loss_g, d_x, d_g_z1, d_g_z2, halt, -,
//!   mean k(fake, fake), mean k(real, real), mean k(fake, real), -]`,
//! where halt is the GPU halt flag after the step (0, or the first
//! non-finite step + 1) and the kernel means form the MMD quality figure on
//! the steps that compute it.

use std::collections::VecDeque;

use webgan_tensor::{Encoder, GpuBuffer, GpuContext, Tensor};

use crate::error::{GanError, Result};

/// Floats per ring row.
pub const ROW: usize = 12;
/// Column of each value in a row.
pub mod col {
    pub const LOSS_D_REAL: usize = 0;
    pub const LOSS_D_FAKE: usize = 1;
    pub const LOSS_G: usize = 2;
    pub const D_X: usize = 3;
    pub const D_G_Z1: usize = 4;
    pub const D_G_Z2: usize = 5;
    pub const HALT: usize = 6;
    pub const K_FAKE: usize = 8;
    pub const K_REAL: usize = 9;
    pub const K_CROSS: usize = 10;
}

/// What one training iteration measured (`MODEL.md`, step 3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepMetrics {
    /// The iteration, from 1.
    pub step: u64,
    pub loss_d_real: f32,
    pub loss_d_fake: f32,
    pub loss_g: f32,
    /// Mean of D's output on real images (probability for BCE losses).
    pub d_x: f32,
    /// Mean of D's output on fakes in the D step.
    pub d_g_z1: f32,
    /// Mean of D's output on fakes in the G step.
    pub d_g_z2: f32,
    /// Squared MMD between a fake and a real batch, on the steps that
    /// compute it: lower is better, about 0 when fakes look like the data.
    pub quality: Option<f32>,
}

impl StepMetrics {
    /// `loss_d_real + loss_d_fake`.
    pub fn loss_d(&self) -> f32 {
        self.loss_d_real + self.loss_d_fake
    }

    /// True when every loss and metric is finite.
    pub fn is_finite(&self) -> bool {
        [
            self.loss_d_real,
            self.loss_d_fake,
            self.loss_g,
            self.d_x,
            self.d_g_z1,
            self.d_g_z2,
        ]
        .iter()
        .all(|v| v.is_finite())
    }
}

/// A batch of rows on its way back.
struct Pending {
    first_step: u64,
    quality_steps: Vec<bool>,
    buffer: GpuBuffer,
    done: futures_channel::oneshot::Receiver<Result<(), wgpu::BufferAsyncError>>,
    /// The mapping's outcome once known.
    result: Option<Result<(), wgpu::BufferAsyncError>>,
}

/// The ring on the GPU and the readbacks in flight.
pub struct MetricsRing {
    /// `[rows, ROW]`.
    pub tensor: Tensor,
    rows: usize,
    /// Steps recorded since the last copy-out: (step, computes quality).
    unstaged: Vec<(u64, bool)>,
    /// Copies recorded in the current encoder, mapped after its submit.
    staged: Vec<Pending>,
    pending: VecDeque<Pending>,
    pool: Vec<GpuBuffer>,
    /// Steps per copy-out.
    pub read_every: usize,
}

impl MetricsRing {
    /// A ring for `read_every` steps per readback (4x that many rows, so a
    /// batch is copied out long before its rows are written again).
    ///
    /// # Errors
    ///
    /// Allocation errors.
    pub fn new(ctx: &GpuContext, read_every: usize) -> Result<Self> {
        let rows = 4 * read_every.max(1);
        Ok(Self {
            tensor: Tensor::zeros(ctx, &[rows, ROW], "metrics.ring")?,
            rows,
            unstaged: Vec::new(),
            staged: Vec::new(),
            pending: VecDeque::new(),
            pool: Vec::new(),
            read_every: read_every.max(1),
        })
    }

    /// The flat index of `column` in `step`'s row.
    pub fn slot(&self, step: u64, column: usize) -> usize {
        (step as usize % self.rows) * ROW + column
    }

    /// Notes that `step` was recorded; when a batch is full, records its
    /// copy-out into `enc`.
    ///
    /// # Errors
    ///
    /// Op errors.
    pub fn recorded(
        &mut self,
        ctx: &GpuContext,
        enc: &mut Encoder,
        step: u64,
        quality: bool,
    ) -> Result<()> {
        self.unstaged.push((step, quality));
        if self.unstaged.len() >= self.read_every {
            self.stage(ctx, enc)?;
        }
        Ok(())
    }

    /// Records the copy-out of every step not yet staged.
    ///
    /// # Errors
    ///
    /// Op errors.
    pub fn stage(&mut self, ctx: &GpuContext, enc: &mut Encoder) -> Result<()> {
        if self.unstaged.is_empty() {
            return Ok(());
        }
        let steps = std::mem::take(&mut self.unstaged);
        let size = (steps.len() * ROW * 4) as u64;
        let buffer = match self.pool.iter().position(|b| b.size() >= size) {
            Some(i) => self.pool.swap_remove(i),
            None => ctx.create_buffer(&wgpu::BufferDescriptor {
                label: Some("metrics.readback"),
                size: (self.read_every * ROW * 4) as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        for (i, (step, _)) in steps.iter().enumerate() {
            let row = self.slot(*step, 0);
            enc.copy_to_buffer(&self.tensor, row, &buffer, (i * ROW * 4) as u64, ROW)?;
        }
        let (_, done) = futures_channel::oneshot::channel();
        self.staged.push(Pending {
            first_step: steps[0].0,
            quality_steps: steps.iter().map(|s| s.1).collect(),
            buffer,
            done,
            result: None,
        });
        Ok(())
    }

    /// Starts mapping what the just-submitted encoder copied out.
    pub fn submitted(&mut self) {
        for mut batch in self.staged.drain(..) {
            let (sender, done) = futures_channel::oneshot::channel();
            let bytes = (batch.quality_steps.len() * ROW * 4) as u64;
            batch
                .buffer
                .slice(..bytes)
                .map_async(wgpu::MapMode::Read, move |result| {
                    let _ = sender.send(result);
                });
            batch.done = done;
            self.pending.push_back(batch);
        }
    }

    /// Steps whose metrics are on their way back.
    pub fn in_flight(&self) -> usize {
        self.pending
            .iter()
            .map(|p| p.quality_steps.len())
            .sum::<usize>()
            + self.unstaged.len()
    }

    /// Collects every batch whose readback has completed, in step order,
    /// without waiting. Returns the metrics and the halt flag's first bad
    /// step, if a row reports one.
    ///
    /// # Errors
    ///
    /// [`GanError::Gpu`] when a mapping failed (device lost).
    pub fn collect(&mut self, out: &mut Vec<StepMetrics>) -> Result<Option<u64>> {
        let mut halted = None;
        while let Some(front) = self.pending.front_mut() {
            if front.result.is_none() {
                match front.done.try_recv() {
                    Ok(None) => break,
                    Ok(Some(result)) => front.result = Some(result),
                    Err(_) => return Err(GanError::Gpu("metrics readback was dropped".into())),
                }
            }
            let batch = self.pending.pop_front().expect("front exists");
            if let Some(Err(e)) = &batch.result {
                return Err(GanError::Gpu(format!("metrics readback failed: {e}")));
            }
            let bad = read_batch(&batch, out)?;
            if let Some(step) = bad {
                halted.get_or_insert(step);
            }
            batch.buffer.unmap();
            self.pool.push(batch.buffer);
        }
        Ok(halted)
    }

    /// Waits for the oldest readback in flight (the browser's way: the map
    /// callback runs once control returns to the event loop). Returns false
    /// when nothing is in flight.
    pub async fn wait_oldest(&mut self) -> bool {
        let Some(front) = self.pending.front_mut() else {
            return false;
        };
        if front.result.is_none() {
            let result = (&mut front.done).await;
            front.result = Some(result.unwrap_or(Err(wgpu::BufferAsyncError)));
        }
        true
    }
}

/// Parses a mapped batch into `out`; returns the first bad step if the halt
/// flag was set.
fn read_batch(batch: &Pending, out: &mut Vec<StepMetrics>) -> Result<Option<u64>> {
    let bytes = (batch.quality_steps.len() * ROW * 4) as u64;
    let view = batch
        .buffer
        .slice(..bytes)
        .get_mapped_range()
        .map_err(|e| GanError::Gpu(format!("metrics readback failed: {e}")))?;
    let values: &[f32] = bytemuck::cast_slice(&view);
    let mut halted = None;
    for (i, row) in values.chunks_exact(ROW).enumerate() {
        let step = batch.first_step + i as u64;
        if row[col::HALT] != 0.0 {
            // The flag holds the first bad step (counted from 1); it and the
            // steps after it are not reported as progress.
            let bad = row[col::HALT] as u64;
            halted.get_or_insert(bad);
            if step + 1 >= bad {
                continue;
            }
        }
        let quality = batch.quality_steps[i]
            .then(|| row[col::K_FAKE] + row[col::K_REAL] - 2.0 * row[col::K_CROSS]);
        out.push(StepMetrics {
            step: step + 1,
            loss_d_real: row[col::LOSS_D_REAL],
            loss_d_fake: row[col::LOSS_D_FAKE],
            loss_g: row[col::LOSS_G],
            d_x: row[col::D_X],
            d_g_z1: row[col::D_G_Z1],
            d_g_z2: row[col::D_G_Z2],
            quality,
        });
    }
    Ok(halted)
}

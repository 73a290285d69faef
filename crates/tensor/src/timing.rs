//! Per-kernel GPU times from timestamp queries, where the adapter has them.
//!
//! While timing is on ([`GpuContext::time_kernels`]), [`Encoder::submit`]
//! puts each dispatch into a compute pass of its own whose beginning and end
//! write a timestamp, resolves them into a buffer and maps it back; when the
//! map completes, each dispatch's time is added to a running total kept per
//! (scope, kernel). Nothing waits: the totals fill in as submissions finish,
//! and [`GpuContext::kernel_times`] reads them, with how many submissions
//! are still on their way.
//!
//! One pass per dispatch costs a little on its own, so a benchmark times
//! iterations with timing off and turns it on only for the table.
//!
//! [`Encoder::submit`]: crate::Encoder::submit
//! [`GpuContext::time_kernels`]: crate::GpuContext::time_kernels
//! [`GpuContext::kernel_times`]: crate::GpuContext::kernel_times

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::context::GpuContext;
use crate::memory::GpuBuffer;

/// Dispatches timed by one query set: two timestamps each, within
/// WebGPU's 4,096 queries per set.
pub(crate) const DISPATCHES_PER_SET: usize = 2048;

/// The total GPU time of one kernel in one scope, over every dispatch timed.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// What the caller was recording (e.g. `D.2 conv`), or `-` when it did
    /// not say ([`crate::Encoder::set_scope`]).
    pub scope: String,
    /// The kernel's entry point, e.g. `conv2d_backward_weight`.
    pub kernel: &'static str,
    /// Dispatches timed.
    pub dispatches: u64,
    /// Their GPU time added up, in milliseconds.
    pub total_ms: f64,
}

/// One line of a per-kernel table: a [`KernelTime`] per training iteration.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelShare {
    /// As [`KernelTime::scope`].
    pub scope: String,
    /// As [`KernelTime::kernel`].
    pub kernel: &'static str,
    /// Dispatches per iteration.
    pub per_iteration: f64,
    /// GPU milliseconds per iteration.
    pub ms: f64,
    /// Share of all the GPU time timed, in percent.
    pub share: f64,
}

/// The totals of `iterations` timed iterations, per iteration and as shares
/// of their sum, in the same order.
pub fn kernel_shares(times: Vec<KernelTime>, iterations: usize) -> Vec<KernelShare> {
    let total_ms: f64 = times.iter().map(|t| t.total_ms).sum();
    let per = iterations as f64;
    times
        .into_iter()
        .map(|t| KernelShare {
            scope: t.scope,
            kernel: t.kernel,
            per_iteration: t.dispatches as f64 / per,
            ms: t.total_ms / per,
            share: 100.0 * t.total_ms / total_ms.max(f64::MIN_POSITIVE),
        })
        .collect()
}

/// A dispatch's label: (scope, kernel entry point).
pub(crate) type Label = (Arc<str>, &'static str);

/// The timing state a context and its clones share.
#[derive(Default)]
pub(crate) struct Timer {
    /// The device was created with `TIMESTAMP_QUERY`.
    pub supported: bool,
    /// Nanoseconds per timestamp tick.
    pub period_ns: f64,
    enabled: AtomicBool,
    /// Submissions whose timestamps are not read back yet.
    pending: AtomicUsize,
    /// Dispatches and milliseconds per label.
    totals: Mutex<HashMap<Label, (u64, f64)>>,
}

impl Timer {
    pub(crate) fn new(supported: bool, period_ns: f64) -> Self {
        Self {
            supported,
            period_ns,
            ..Default::default()
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }
}

/// The labels of the dispatches one query set times, in order.
pub(crate) type Labels = Vec<Label>;

/// One query set and the buffers its timestamps travel through.
pub(crate) struct QueryBatch {
    pub set: wgpu::QuerySet,
    resolve: GpuBuffer,
    staging: GpuBuffer,
    labels: Labels,
}

impl QueryBatch {
    /// A query set for `labels.len()` dispatches (at most
    /// [`DISPATCHES_PER_SET`]).
    pub(crate) fn new(ctx: &GpuContext, labels: Labels) -> Self {
        let queries = 2 * labels.len() as u32;
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("webgan.timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: queries,
        });
        let size = u64::from(queries) * wgpu::QUERY_SIZE as u64;
        let resolve = ctx.create_buffer(&wgpu::BufferDescriptor {
            label: Some("webgan.timestamps.resolve"),
            size,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = ctx.create_buffer(&wgpu::BufferDescriptor {
            label: Some("webgan.timestamps.staging"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self {
            set,
            resolve,
            staging,
            labels,
        }
    }

    /// Records the resolve of every timestamp and the copy into staging.
    pub(crate) fn encode_readback(&self, encoder: &mut wgpu::CommandEncoder) {
        let queries = 2 * self.labels.len() as u32;
        encoder.resolve_query_set(&self.set, 0..queries, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.staging, 0, self.staging.size());
    }

    /// After the submission: maps the timestamps back and adds each
    /// dispatch's time to the totals when they arrive.
    pub(crate) fn read_back(self, timer: Arc<Timer>) {
        timer.pending.fetch_add(1, Ordering::Relaxed);
        let staging = self.staging.clone();
        let labels = self.labels;
        self.staging
            .map_async(wgpu::MapMode::Read, .., move |result| {
                if result.is_ok() {
                    if let Ok(view) = staging.get_mapped_range(..) {
                        let ticks: Vec<u64> = view
                            .chunks_exact(8)
                            .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
                            .collect();
                        drop(view);
                        timer.add(&labels, &ticks);
                    }
                    staging.unmap();
                } else {
                    log::warn!("webgan: kernel timestamps could not be read back");
                }
                timer.pending.fetch_sub(1, Ordering::Relaxed);
            });
    }
}

impl Timer {
    /// Adds each dispatch's end minus beginning; a pair that runs backwards
    /// (some adapters reset their counter) counts as a dispatch of 0 ms.
    fn add(&self, labels: &Labels, ticks: &[u64]) {
        let mut totals = self.totals.lock().unwrap();
        for (label, pair) in labels.iter().zip(ticks.chunks_exact(2)) {
            let ns = pair[1].saturating_sub(pair[0]) as f64 * self.period_ns;
            let total = totals.entry(label.clone()).or_default();
            total.0 += 1;
            total.1 += ns / 1e6;
        }
    }
}

impl GpuContext {
    /// Whether the device can time kernels (the adapter offers timestamp
    /// queries: most native drivers, lavapipe, Chromium's WebGPU).
    pub fn timestamps_supported(&self) -> bool {
        self.timer.supported
    }

    /// Turns per-kernel timing on or off for every later submission (see
    /// the module `timing`); turning it on clears the totals. Returns
    /// whether timing is on, which it cannot be without timestamp queries.
    pub fn time_kernels(&self, on: bool) -> bool {
        let on = on && self.timer.supported;
        if on {
            self.timer.totals.lock().unwrap().clear();
        }
        self.timer.enabled.store(on, Ordering::Relaxed);
        on
    }

    /// The totals so far, slowest first, and how many timed submissions
    /// have not reported yet (wait for them to finish, natively by polling
    /// the device, for the totals to be complete).
    pub fn kernel_times(&self) -> (Vec<KernelTime>, usize) {
        let totals = self.timer.totals.lock().unwrap();
        let mut times: Vec<KernelTime> = totals
            .iter()
            .map(|((scope, kernel), &(dispatches, total_ms))| KernelTime {
                scope: scope.to_string(),
                kernel,
                dispatches,
                total_ms,
            })
            .collect();
        times.sort_by(|a, b| {
            b.total_ms
                .total_cmp(&a.total_ms)
                .then_with(|| (&a.scope, a.kernel).cmp(&(&b.scope, b.kernel)))
        });
        (times, self.timer.pending.load(Ordering::Relaxed))
    }

    /// Natively: waits for the device until every timed submission has
    /// reported, then returns the totals as [`GpuContext::kernel_times`].
    /// (In a browser the timestamps arrive on the event loop by themselves.)
    ///
    /// # Errors
    ///
    /// [`crate::TensorError::Readback`] when the device cannot be polled, or when
    /// timestamps are still missing after it has finished all its work.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait_kernel_times(&self) -> crate::Result<Vec<KernelTime>> {
        let failed = |reason: String| crate::TensorError::Readback {
            label: "webgan.timestamps".into(),
            reason,
        };
        // A poll that waits for all submitted work also runs the map
        // callbacks of what it finished; a second covers a map requested
        // while the first ran.
        for _ in 0..2 {
            if let (times, 0) = self.kernel_times() {
                return Ok(times);
            }
            self.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| failed(e.to_string()))?;
        }
        match self.kernel_times() {
            (times, 0) => Ok(times),
            (_, pending) => Err(failed(format!(
                "{pending} timed submissions did not report after the device went idle"
            ))),
        }
    }
}

//! Counting the GPU buffers a context has made and which are still alive.
//!
//! Every buffer webgan makes goes through [`GpuContext::create_buffer`],
//! which hands back a [`GpuBuffer`]: a shared handle that adds itself to the
//! context's ledger when made and takes itself off when its last handle is
//! dropped. [`GpuContext::buffer_stats`] then says how many buffers and bytes
//! are alive, the same natively and in a browser (where wgpu's own counters
//! report nothing), so a long run can show that it allocates nothing per
//! step.
//!
//! The ledger counts what webgan holds. Transient handles that wgpu keeps
//! inside a submission (bind groups, copies) are not counted separately:
//! they release with the submission.
//!
//! [`GpuContext::create_buffer`]: crate::GpuContext::create_buffer
//! [`GpuContext::buffer_stats`]: crate::GpuContext::buffer_stats

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Buffers alive and made so far, as [`crate::GpuContext::buffer_stats`]
/// reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Buffers alive now.
    pub live: u64,
    /// Their sizes added up.
    pub live_bytes: u64,
    /// Buffers made since the context was opened, dropped ones included.
    pub created: u64,
}

impl std::fmt::Display for BufferStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} buffers alive, {:.2} MiB ({} made in all)",
            self.live,
            self.live_bytes as f64 / (1 << 20) as f64,
            self.created
        )
    }
}

/// A context's running totals.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    live: AtomicU64,
    live_bytes: AtomicU64,
    created: AtomicU64,
}

impl Ledger {
    pub(crate) fn stats(&self) -> BufferStats {
        BufferStats {
            live: self.live.load(Ordering::Relaxed),
            live_bytes: self.live_bytes.load(Ordering::Relaxed),
            created: self.created.load(Ordering::Relaxed),
        }
    }
}

/// A GPU buffer counted in its context's ledger while any handle to it
/// lives. Cloning shares the buffer; it dereferences to [`wgpu::Buffer`].
#[derive(Clone, Debug)]
pub struct GpuBuffer(Arc<Counted>);

#[derive(Debug)]
struct Counted {
    buffer: wgpu::Buffer,
    ledger: Arc<Ledger>,
}

impl GpuBuffer {
    pub(crate) fn new(buffer: wgpu::Buffer, ledger: Arc<Ledger>) -> Self {
        ledger.live.fetch_add(1, Ordering::Relaxed);
        ledger
            .live_bytes
            .fetch_add(buffer.size(), Ordering::Relaxed);
        ledger.created.fetch_add(1, Ordering::Relaxed);
        // Natively wgpu's buffers are Send and Sync, and so is this Arc; on
        // wasm they are neither, and the page is single-threaded anyway.
        #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
        Self(Arc::new(Counted { buffer, ledger }))
    }
}

impl Deref for GpuBuffer {
    type Target = wgpu::Buffer;

    fn deref(&self) -> &wgpu::Buffer {
        &self.0.buffer
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.ledger.live.fetch_sub(1, Ordering::Relaxed);
        self.ledger
            .live_bytes
            .fetch_sub(self.buffer.size(), Ordering::Relaxed);
    }
}

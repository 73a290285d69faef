//! The crate's one error type.

use thiserror::Error;

/// Result with [`TensorError`].
pub type Result<T, E = TensorError> = std::result::Result<T, E>;

/// Everything that can go wrong in the tensor layer.
#[derive(Debug, Error)]
pub enum TensorError {
    // ---- Opening the GPU ----------------------------------------------------
    /// No adapter was offered; `reason` is wgpu's explanation.
    #[error(
        "no GPU adapter found ({reason}); natively install a Vulkan, Metal or DX12 driver \
         (on Debian: `apt-get install mesa-vulkan-drivers`), in a browser enable WebGPU"
    )]
    NoAdapter { reason: String },

    /// The adapter refused to create a device.
    #[error("the adapter '{adapter}' could not create a device: {reason}")]
    RequestDevice { adapter: String, reason: String },

    // ---- Bad input, caught before anything is dispatched ------------------
    /// Two shapes that must agree do not.
    #[error("{op}: {what} has shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        op: &'static str,
        what: &'static str,
        expected: Vec<usize>,
        got: Vec<usize>,
    },

    /// A tensor has the wrong number of dimensions.
    #[error("{op}: {what} must have {expected} dimensions, got shape {got:?}")]
    Rank {
        op: &'static str,
        what: &'static str,
        expected: usize,
        got: Vec<usize>,
    },

    /// A tensor or parameter is empty where the op needs data.
    #[error("{op}: {what} has a zero size (shape {shape:?})")]
    ZeroSize {
        op: &'static str,
        what: &'static str,
        shape: Vec<usize>,
    },

    /// A parameter makes no sense (stride 0, negative output size, ...).
    #[error("{op}: {message}")]
    InvalidArgument { op: &'static str, message: String },

    /// The op would exceed a device limit.
    #[error("{op}: {what} needs {needed}, the device allows at most {limit}")]
    Limit {
        op: &'static str,
        what: &'static str,
        needed: u64,
        limit: u64,
    },

    // ---- The GPU at work -----------------------------------------------------
    /// Reading a buffer back failed (device lost, buffer destroyed).
    #[error("reading '{label}' back from the GPU failed: {reason}")]
    Readback { label: String, reason: String },

    /// wgpu reported a validation or out-of-memory error.
    #[error("GPU error in {op}: {reason}")]
    Gpu { op: &'static str, reason: String },
}

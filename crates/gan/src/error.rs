//! The crate's one error type.

use thiserror::Error;
use webgan_tensor::TensorError;

use crate::data::DataError;

/// Result with [`GanError`].
pub type Result<T, E = GanError> = std::result::Result<T, E>;

/// Everything that can go wrong in the model, the trainer and their files.
#[derive(Debug, Error)]
pub enum GanError {
    /// A size or hyper-parameter out of range.
    #[error("invalid setting: {0}")]
    Config(String),

    /// The tensor layer refused an op or the GPU failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),

    /// A data set could not be read.
    #[error(transparent)]
    Data(#[from] DataError),

    /// A checkpoint or fixture file is unreadable or does not fit the model.
    #[error("{path}: {reason}")]
    File { path: String, reason: String },

    /// A loss became NaN or infinite; the state is the last good one.
    #[error(
        "training stopped: a loss became NaN or infinite at step {step}; the state before that \
         step is kept (save it, or lower the learning rates and resume)"
    )]
    Diverged { step: u64 },

    /// The GPU device was lost; the run must restart on a new context.
    #[error(
        "the GPU device was lost ({0}); start again from the last state in memory or a checkpoint"
    )]
    DeviceLost(String),

    /// The GPU reported an error (validation, out of memory, device lost).
    #[error("GPU error: {0}")]
    Gpu(String),
}

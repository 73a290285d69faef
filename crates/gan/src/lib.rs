//! webgan: the DCGAN of `MODEL.md` on the `webgan-tensor` kernels.
//!
//! This crate owns the model (generator and discriminator), one training
//! iteration exactly as PyTorch's DCGAN example runs it, the data sets, the
//! checkpoint and parity-fixture files, and the native `webgan` binary.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod metrics;
pub mod model;
pub mod parity;
pub mod picture;
pub mod trainer;

pub use config::{GanLoss, Hyper, ModelConfig, Preset};
pub use error::{GanError, Result};
pub use metrics::StepMetrics;
pub use trainer::Trainer;

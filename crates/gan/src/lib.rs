//! webgan: the DCGAN of `MODEL.md` on the `webgan-tensor` kernels.
//!
//! This crate owns the model (generator and discriminator), one training
//! iteration exactly as PyTorch's DCGAN example runs it, the data sets, the
//! checkpoint and parity-fixture files, and the native `webgan` binary.

pub mod data;

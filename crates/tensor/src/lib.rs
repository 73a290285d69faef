//! webgan-tensor: f32 tensors on wgpu and the WGSL kernels of webgan's DCGAN.
//!
//! This crate owns everything that touches the GPU below the model: opening an
//! adapter and a device, GPU buffers with a shape, recording kernel dispatches,
//! and reading results back. The model and its training loop live in the
//! `webgan` crate; the kernels themselves live in the workspace's `shaders/`.
//!
//! # Shape legend
//!
//! One legend, used in every doc, launcher and shader of the project:
//!
//! - activations `[N, C, H, W]` (`n`, `c`, `h`, `w`), row-major, contiguous;
//! - convolution weight `[C_out, C_in, K_h, K_w]` (PyTorch's `Conv2d` order);
//! - transposed-convolution weight `[C_in, C_out, K_h, K_w]` (PyTorch's
//!   `ConvTranspose2d` order);
//! - per-channel vectors (batch-norm gamma, beta, statistics) `[C]`;
//! - names in Rust and WGSL alike: `n, c_in, c_out, h_in, w_in, h_out, w_out,
//!   k_h, k_w, stride, pad, out_pad`; the gradient of `x` is `dx`.
//!
//! # Design choices
//!
//! - **Record now, build at submit.** Ops append commands to an [`Encoder`]
//!   after validating shapes on the host. Nothing touches the GPU until
//!   [`Encoder::submit`], which writes every dispatch's parameters into one
//!   reused uniform buffer, builds the bind groups and encodes all dispatches
//!   into as few compute passes as copies allow. A whole training iteration is
//!   one submission with no wait inside it.
//! - **Buffers are the caller's.** Every op writes into an output tensor the
//!   caller allocated, so a training loop allocates once and reuses.
//! - **Pipelines are built once** per entry point and cached in the
//!   [`GpuContext`].
//! - **One workgroup size** ([`WORKGROUP_SIZE`]): the WGSL constant `WG` is
//!   generated from it when a shader module is built, so Rust and WGSL cannot
//!   disagree. Element-wise grids that would need more than 65,535 workgroups
//!   fold into two dimensions (see `shaders/common.wgsl`).
//! - **Weight gradients can accumulate** (`accumulate` in the parameter
//!   structs), as PyTorch's `.grad` does, so the discriminator's real and fake
//!   passes add into one gradient without an extra kernel.
//! - **Buffers are counted.** Every buffer comes from
//!   [`GpuContext::create_buffer`] and is counted while alive
//!   ([`GpuContext::buffer_stats`]), so a long run can show it allocates
//!   nothing per step, natively and in a browser.
//! - **One readback path** ([`GpuContext::read_f32`]) that is `async` and
//!   behaves the same natively and in the browser.
//! - **Per-kernel GPU times** where the adapter has timestamp queries:
//!   [`GpuContext::time_kernels`] puts each dispatch in a pass of its own
//!   with a timestamp at each end, and [`GpuContext::kernel_times`] adds
//!   them up per scope ([`Encoder::set_scope`], e.g. a layer) and kernel.
//! - Every kernel has a plain Rust reference in [`cpu`], which the tests
//!   compare against.

mod context;
pub mod cpu;
mod encoder;
mod error;
mod memory;
pub mod ops;
pub mod shaders;
mod tensor;
mod timing;

pub use context::{AdapterSummary, GpuContext, Tuning};
pub use encoder::Encoder;
pub use error::{Result, TensorError};
pub use memory::{BufferStats, GpuBuffer};
pub use tensor::{Shape, Tensor};
pub use timing::{kernel_shares, KernelShare, KernelTime};

/// Invocations per workgroup for every kernel; the WGSL constant `WG`.
pub const WORKGROUP_SIZE: u32 = 256;

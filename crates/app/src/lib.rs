//! webgan-app: the browser UI of webgan, a Leptos page over webgan-tensor.
//!
//! The page finds a WebGPU adapter, opens a device on it through
//! [`webgan_tensor::GpuContext`] (or explains why it found none), and trains
//! the DCGAN live: samples, charts, settings in the URL, checkpoints and
//! the person's own data.
//!
//! # Design choices
//!
//! - **Plain data first.** What the page shows is computed in [`report`],
//!   which has no browser dependency, so its logic is tested natively by
//!   `cargo test --workspace`. Only [`ui`] (wasm32 only) touches the DOM.
//! - **Native builds stay cheap.** Leptos, web-sys and the console helpers
//!   are wasm32-only dependencies; natively this crate builds against
//!   webgan-tensor and wgpu alone, which the tensor tests build anyway.
//! - **Tests find the page by id.** `#status` carries `data-state` (see
//!   [`report::Probe::state`]) and `#adapter` the adapter's name; the
//!   browser test in `tests/browser` waits on them.

#![deny(missing_docs)]

pub mod chart;
pub mod pace;
pub mod report;
#[cfg(target_arch = "wasm32")]
pub mod run;
pub mod settings;
#[cfg(target_arch = "wasm32")]
mod start;
#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod web;

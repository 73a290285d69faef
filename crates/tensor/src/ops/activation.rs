//! relu, leaky_relu, tanh and sigmoid (`shaders/activation.wgsl`).

use super::{check_distinct, check_len, to_u32};
use crate::encoder::Encoder;
use crate::error::Result;
use crate::shaders;
use crate::tensor::Tensor;

/// Mirrors `ActivationParams` in `shaders/activation.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ActivationParams {
    pub count: u32,
    pub slope: f32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// An element-wise activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// max(x, 0); gradient 0 at x = 0.
    Relu,
    /// x for x > 0, else slope * x; gradient `slope` at x = 0 and -0.
    LeakyRelu { slope: f32 },
    /// tanh(x); gradient from the output, 1 - y^2.
    Tanh,
    /// 1 / (1 + exp(-x)); gradient from the output, y (1 - y).
    Sigmoid,
}

impl Activation {
    fn params(self, op: &'static str, count: usize) -> Result<ActivationParams> {
        let slope = match self {
            Activation::LeakyRelu { slope } => slope,
            _ => 0.0,
        };
        Ok(ActivationParams {
            count: to_u32(op, "count", count)?,
            slope,
            _pad0: 0,
            _pad1: 0,
        })
    }
}

/// Records `y = act(x)`.
///
/// # Shapes
///
/// x and y: any shapes with the same number of elements.
///
/// # Errors
///
/// Element counts that differ; x and y the same buffer.
pub fn activation_forward(
    enc: &mut Encoder,
    act: Activation,
    x: &Tensor,
    y: &Tensor,
) -> Result<()> {
    const OP: &str = "activation_forward";
    check_len(OP, "output", y, x)?;
    check_distinct(OP, x, y)?;
    let kernel = match act {
        Activation::Relu => shaders::RELU_FORWARD,
        Activation::LeakyRelu { .. } => shaders::LEAKY_RELU_FORWARD,
        Activation::Tanh => shaders::TANH_FORWARD,
        Activation::Sigmoid => shaders::SIGMOID_FORWARD,
    };
    enc.dispatch_flat(kernel, &act.params(OP, x.len())?, &[x, y], x.len())
}

/// Records `dx = dy * act'`, reading the forward input `x` (relu,
/// leaky_relu) or the forward output `y` (tanh, sigmoid).
///
/// # Shapes
///
/// x, y, dy and dx: any shapes with the same number of elements.
///
/// # Errors
///
/// Element counts that differ; dx sharing a buffer with an input.
pub fn activation_backward(
    enc: &mut Encoder,
    act: Activation,
    x: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
) -> Result<()> {
    const OP: &str = "activation_backward";
    for (what, t) in [("output", y), ("dy", dy), ("dx", dx)] {
        check_len(OP, what, t, x)?;
    }
    let (kernel, from) = match act {
        Activation::Relu => (shaders::RELU_BACKWARD, x),
        Activation::LeakyRelu { .. } => (shaders::LEAKY_RELU_BACKWARD, x),
        Activation::Tanh => (shaders::TANH_BACKWARD, y),
        Activation::Sigmoid => (shaders::SIGMOID_BACKWARD, y),
    };
    check_distinct(OP, from, dx)?;
    check_distinct(OP, dy, dx)?;
    enc.dispatch_flat(kernel, &act.params(OP, x.len())?, &[from, dy, dx], x.len())
}

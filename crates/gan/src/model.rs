//! The generator and discriminator of `MODEL.md` as sequences of layers
//! whose indices are PyTorch's `nn.Sequential` indices, so parameter names
//! are the `state_dict()` keys (`main.3.weight`, `main.4.running_mean`).

use std::sync::Arc;

use webgan_tensor::ops::{
    self, Activation, AdamStep, BatchNorm2d, Conv2d, ConvTranspose2d, Halt, NormMode, Philox,
};
use webgan_tensor::{Encoder, GpuContext, Tensor};

use crate::config::{ModelConfig, IMAGE_SIZE, NC};
use crate::error::Result;

/// A learnable tensor with its gradient and Adam moments.
pub struct Param {
    /// `state_dict()` key without the network prefix, e.g. `main.1.weight`.
    pub key: String,
    pub value: Tensor,
    pub grad: Tensor,
    /// Adam's first moment (PyTorch's `exp_avg`).
    pub m: Tensor,
    /// Adam's second moment (PyTorch's `exp_avg_sq`).
    pub v: Tensor,
    /// How to draw the initial value: N(mean, std).
    init: (f32, f32),
}

impl Param {
    fn new(
        ctx: &GpuContext,
        key: String,
        value: Tensor,
        grad: Tensor,
        init: (f32, f32),
    ) -> Result<Self> {
        let m = Tensor::zeros(ctx, value.shape(), &format!("{key}.exp_avg"))?;
        let v = Tensor::zeros(ctx, value.shape(), &format!("{key}.exp_avg_sq"))?;
        Ok(Self {
            key,
            value,
            grad,
            m,
            v,
            init,
        })
    }
}

/// A (transposed) convolution without bias.
#[derive(Clone, Copy, Debug)]
enum ConvKind {
    Conv(Conv2d),
    Transposed(ConvTranspose2d),
}

enum Layer {
    Conv { kind: ConvKind, param: usize },
    Norm { bn: Box<BatchNorm2d> },
    Act(Activation),
}

/// Per-batch-size buffers of one network: each layer's output and the
/// gradient with respect to it. Several sets let one network run at
/// several batch sizes (training, a sample grid) without reallocating.
pub struct Activations {
    pub batch: usize,
    outs: Vec<Tensor>,
    grads: Vec<Tensor>,
}

impl Activations {
    /// The network's output (logits for D, images for G).
    pub fn output(&self) -> &Tensor {
        self.outs.last().expect("a network has layers")
    }

    /// The gradient with respect to the output; the loss writes it.
    pub fn output_grad(&self) -> &Tensor {
        self.grads.last().expect("a network has layers")
    }
}

/// One network: its layers, parameters and running statistics.
pub struct Network {
    /// `generator` or `discriminator`: the prefix of its checkpoint keys.
    pub name: &'static str,
    layers: Vec<Layer>,
    /// Output shape of each layer for a batch of one.
    shapes: Vec<[usize; 4]>,
    input_shape: [usize; 4],
    pub params: Vec<Param>,
    /// Each layer's name in the per-kernel time table, e.g. `D.2 conv`.
    scopes: Vec<Arc<str>>,
    /// The Adam step's name in that table, e.g. `D adam`.
    adam_scope: Arc<str>,
    /// Training forward passes per batch-norm layer (PyTorch's
    /// `num_batches_tracked`), by layer index.
    pub batches_tracked: Vec<(usize, u64)>,
}

/// A layer description: (kind, output channels, kernel, stride, pad).
enum Spec {
    ConvT(usize, usize, usize, usize),
    Conv(usize, usize, usize, usize),
    Norm,
    Relu,
    Leaky,
    Tanh,
}

impl Network {
    /// The generator of `MODEL.md`: z `[N, nz, 1, 1]` to images `[N, 1, 28, 28]`.
    ///
    /// # Errors
    ///
    /// Allocation errors.
    pub fn generator(ctx: &GpuContext, config: &ModelConfig) -> Result<Self> {
        let g = config.ngf;
        let specs = [
            Spec::ConvT(4 * g, 4, 1, 0),
            Spec::Norm,
            Spec::Relu,
            Spec::ConvT(2 * g, 3, 2, 1),
            Spec::Norm,
            Spec::Relu,
            Spec::ConvT(g, 4, 2, 1),
            Spec::Norm,
            Spec::Relu,
            Spec::ConvT(NC, 4, 2, 1),
            Spec::Tanh,
        ];
        Self::build(ctx, "generator", [1, config.nz, 1, 1], &specs)
    }

    /// The discriminator of `MODEL.md`: images `[N, 1, 28, 28]` to logits
    /// `[N, 1, 1, 1]`.
    ///
    /// # Errors
    ///
    /// Allocation errors.
    pub fn discriminator(ctx: &GpuContext, config: &ModelConfig) -> Result<Self> {
        let d = config.ndf;
        let specs = [
            Spec::Conv(d, 4, 2, 1),
            Spec::Leaky,
            Spec::Conv(2 * d, 4, 2, 1),
            Spec::Norm,
            Spec::Leaky,
            Spec::Conv(4 * d, 3, 2, 1),
            Spec::Norm,
            Spec::Leaky,
            Spec::Conv(1, 4, 1, 0),
        ];
        Self::build(
            ctx,
            "discriminator",
            [1, NC, IMAGE_SIZE, IMAGE_SIZE],
            &specs,
        )
    }

    fn build(
        ctx: &GpuContext,
        name: &'static str,
        input_shape: [usize; 4],
        specs: &[Spec],
    ) -> Result<Self> {
        let letter = if name == "generator" { "G" } else { "D" };
        let mut net = Self {
            name,
            layers: Vec::new(),
            shapes: Vec::new(),
            input_shape,
            params: Vec::new(),
            scopes: Vec::new(),
            adam_scope: format!("{letter} adam").into(),
            batches_tracked: Vec::new(),
        };
        let mut shape = input_shape;
        for (index, spec) in specs.iter().enumerate() {
            let key = |what: &str| format!("main.{index}.{what}");
            let label = format!("{name}.main.{index}");
            let layer = match *spec {
                Spec::ConvT(c_out, k, stride, pad) | Spec::Conv(c_out, k, stride, pad) => {
                    let transposed = matches!(spec, Spec::ConvT(..));
                    let weight_shape = if transposed {
                        [shape[1], c_out, k, k]
                    } else {
                        [c_out, shape[1], k, k]
                    };
                    let kind = if transposed {
                        let conv = ConvTranspose2d {
                            stride,
                            pad,
                            out_pad: 0,
                        };
                        shape = conv.geometry(&shape, &weight_shape)?.output_shape();
                        ConvKind::Transposed(conv)
                    } else {
                        let conv = Conv2d { stride, pad };
                        shape = conv.geometry(&shape, &weight_shape)?.output_shape();
                        ConvKind::Conv(conv)
                    };
                    let value = Tensor::zeros(ctx, &weight_shape, &format!("{label}.weight"))?;
                    let grad = Tensor::zeros(ctx, &weight_shape, &format!("{label}.weight.grad"))?;
                    net.params
                        .push(Param::new(ctx, key("weight"), value, grad, (0.0, 0.02))?);
                    Layer::Conv {
                        kind,
                        param: net.params.len() - 1,
                    }
                }
                Spec::Norm => {
                    let bn = BatchNorm2d::new(ctx, shape[1], &label)?;
                    let (gamma, dgamma) = (bn.gamma.clone(), bn.dgamma.clone());
                    net.params
                        .push(Param::new(ctx, key("weight"), gamma, dgamma, (1.0, 0.02))?);
                    let (beta, dbeta) = (bn.beta.clone(), bn.dbeta.clone());
                    net.params
                        .push(Param::new(ctx, key("bias"), beta, dbeta, (0.0, 0.0))?);
                    net.batches_tracked.push((index, 0));
                    Layer::Norm { bn: Box::new(bn) }
                }
                Spec::Relu => Layer::Act(Activation::Relu),
                Spec::Leaky => Layer::Act(Activation::LeakyRelu { slope: 0.2 }),
                Spec::Tanh => Layer::Act(Activation::Tanh),
            };
            let kind = match spec {
                Spec::ConvT(..) => "convT",
                Spec::Conv(..) => "conv",
                Spec::Norm => "batch norm",
                Spec::Relu => "relu",
                Spec::Leaky => "leaky relu",
                Spec::Tanh => "tanh",
            };
            net.scopes.push(format!("{letter}.{index} {kind}").into());
            net.layers.push(layer);
            net.shapes.push(shape);
        }
        Ok(net)
    }

    /// Buffers for batches of `batch`.
    ///
    /// # Errors
    ///
    /// Allocation errors.
    pub fn activations(&self, ctx: &GpuContext, batch: usize) -> Result<Activations> {
        let mut outs = Vec::with_capacity(self.shapes.len());
        let mut grads = Vec::with_capacity(self.shapes.len());
        for (index, shape) in self.shapes.iter().enumerate() {
            let shape = [batch, shape[1], shape[2], shape[3]];
            outs.push(Tensor::zeros(
                ctx,
                &shape,
                &format!("{}.out{index}", self.name),
            )?);
            grads.push(Tensor::zeros(
                ctx,
                &shape,
                &format!("{}.grad{index}", self.name),
            )?);
        }
        Ok(Activations { batch, outs, grads })
    }

    /// The input shape for batches of `batch`.
    pub fn input_shape(&self, batch: usize) -> [usize; 4] {
        [
            batch,
            self.input_shape[1],
            self.input_shape[2],
            self.input_shape[3],
        ]
    }

    /// Shares the run's halt flag with every batch-norm layer.
    pub fn set_halt(&mut self, halt: &Halt) {
        for layer in &mut self.layers {
            if let Layer::Norm { bn } = layer {
                bn.set_halt(halt);
            }
        }
    }

    /// The batch-norm layers with their `Sequential` index.
    pub fn norms(&self) -> impl Iterator<Item = (usize, &BatchNorm2d)> {
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(i, layer)| match layer {
                Layer::Norm { bn } => Some((i, bn.as_ref())),
                _ => None,
            })
    }

    /// Records fresh initial values: conv weights N(0, 0.02), batch-norm
    /// weights N(1, 0.02) and biases 0 (`MODEL.md`), drawn on the GPU from
    /// `seed` (stream `stream_base + parameter index`); Adam's moments and
    /// the running statistics reset.
    ///
    /// # Errors
    ///
    /// Op errors (none for a well-formed network).
    pub fn initialize(&mut self, enc: &mut Encoder, seed: u64, stream_base: u32) -> Result<()> {
        for (i, p) in self.params.iter().enumerate() {
            let (mean, std) = p.init;
            if std > 0.0 {
                let rng = Philox {
                    seed,
                    stream: stream_base + i as u32,
                    offset: 0,
                };
                ops::random_normal(enc, rng, &p.value, mean, std)?;
            } else {
                ops::fill(enc, &p.value, mean)?;
            }
            ops::fill(enc, &p.m, 0.0)?;
            ops::fill(enc, &p.v, 0.0)?;
        }
        for layer in &self.layers {
            if let Layer::Norm { bn } = layer {
                ops::fill(enc, &bn.running_mean, 0.0)?;
                ops::fill(enc, &bn.running_var, 1.0)?;
            }
        }
        for (_, count) in &mut self.batches_tracked {
            *count = 0;
        }
        Ok(())
    }

    /// Records the forward pass of `input` through every layer into `acts`.
    /// In [`NormMode::Train`] the running statistics update and
    /// `batches_tracked` counts the pass.
    ///
    /// # Errors
    ///
    /// Shape errors when `input` does not fit.
    pub fn forward(
        &mut self,
        enc: &mut Encoder,
        acts: &Activations,
        input: &Tensor,
        mode: NormMode,
    ) -> Result<()> {
        for (i, layer) in self.layers.iter().enumerate() {
            if self.fused_with_norm(i).is_some() {
                // Written with the batch norm before it.
                continue;
            }
            enc.set_scope(Some(self.scopes[i].clone()));
            let x = if i == 0 { input } else { &acts.outs[i - 1] };
            let y = &acts.outs[i];
            match layer {
                Layer::Conv { kind, param } => {
                    let w = &self.params[*param].value;
                    match *kind {
                        ConvKind::Conv(conv) => ops::conv2d_forward(enc, conv, x, w, y)?,
                        ConvKind::Transposed(conv) => {
                            ops::conv_transpose2d_forward(enc, conv, x, w, y)?
                        }
                    }
                }
                Layer::Norm { bn } => match self.fused_with_norm(i + 1) {
                    // Batch norm then relu or leaky relu: one pass writes both.
                    Some(act) => bn.forward_activated(enc, x, (y, act, &acts.outs[i + 1]), mode)?,
                    None => bn.forward(enc, x, y, mode)?,
                },
                Layer::Act(act) => ops::activation_forward(enc, *act, x, y)?,
            }
        }
        enc.set_scope(None);
        if mode == NormMode::Train {
            for (_, count) in &mut self.batches_tracked {
                *count += 1;
            }
        }
        Ok(())
    }

    /// Layer `i`'s activation when the forward pass computes it together
    /// with the batch norm just before it (relu or leaky relu after a
    /// batch norm: see `BatchNorm2d::forward_activated`).
    fn fused_with_norm(&self, i: usize) -> Option<Activation> {
        let before = i.checked_sub(1).and_then(|j| self.layers.get(j));
        match (before, self.layers.get(i)) {
            (
                Some(Layer::Norm { .. }),
                Some(Layer::Act(act @ (Activation::Relu | Activation::LeakyRelu { .. }))),
            ) => Some(*act),
            _ => None,
        }
    }

    /// Records the backward pass for the forward pass last recorded with
    /// the same `acts`, `input` and `mode`, starting from
    /// `acts.output_grad()`.
    ///
    /// Weight gradients are written (or added, with `accumulate`) only when
    /// `weight_grads`; the gradient with respect to the input goes to
    /// `input_grad` when given.
    ///
    /// # Errors
    ///
    /// Shape errors when a tensor does not fit.
    pub fn backward(
        &self,
        enc: &mut Encoder,
        acts: &Activations,
        (input, input_grad): (&Tensor, Option<&Tensor>),
        mode: NormMode,
        (weight_grads, accumulate): (bool, bool),
    ) -> Result<()> {
        for (i, layer) in self.layers.iter().enumerate().rev() {
            enc.set_scope(Some(self.scopes[i].clone()));
            let x = if i == 0 { input } else { &acts.outs[i - 1] };
            let dy = &acts.grads[i];
            let dx = if i == 0 {
                input_grad
            } else {
                Some(&acts.grads[i - 1])
            };
            match layer {
                Layer::Conv { kind, param } => {
                    let p = &self.params[*param];
                    if weight_grads {
                        match *kind {
                            ConvKind::Conv(c) => {
                                ops::conv2d_backward_weight(enc, c, x, dy, &p.grad, accumulate)?
                            }
                            ConvKind::Transposed(c) => ops::conv_transpose2d_backward_weight(
                                enc, c, x, dy, &p.grad, accumulate,
                            )?,
                        }
                    }
                    if let Some(dx) = dx {
                        match *kind {
                            ConvKind::Conv(c) => {
                                ops::conv2d_backward_input(enc, c, dy, &p.value, dx)?
                            }
                            ConvKind::Transposed(c) => {
                                ops::conv_transpose2d_backward_input(enc, c, dy, &p.value, dx)?
                            }
                        }
                    }
                }
                Layer::Norm { bn } => {
                    let dx = dx.expect("batch norm is never the first layer");
                    // Without weight gradients the (unused) dgamma and dbeta
                    // still receive this pass's sums; accumulating keeps the
                    // gradients of an earlier pass intact.
                    bn.backward(enc, x, dy, dx, mode, accumulate || !weight_grads)?;
                }
                Layer::Act(act) => {
                    if let Some(dx) = dx {
                        ops::activation_backward(enc, *act, x, &acts.outs[i], dy, dx)?;
                    }
                }
            }
        }
        enc.set_scope(None);
        Ok(())
    }

    /// Records one Adam step on every parameter (nothing once `halt` is set).
    ///
    /// # Errors
    ///
    /// Invalid hyper-parameters.
    pub fn adam(&self, enc: &mut Encoder, step: &AdamStep, halt: &Halt) -> Result<()> {
        enc.set_scope(Some(self.adam_scope.clone()));
        for p in &self.params {
            ops::adam_step(enc, step, &p.value, &p.grad, (&p.m, &p.v), halt)?;
        }
        enc.set_scope(None);
        Ok(())
    }

    /// Every tensor of the network's `state_dict()` except
    /// `num_batches_tracked`: (key, tensor), in PyTorch's order.
    pub fn state_tensors(&self) -> Vec<(String, &Tensor)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            match layer {
                Layer::Conv { param, .. } => {
                    out.push((self.params[*param].key.clone(), &self.params[*param].value))
                }
                Layer::Norm { bn } => {
                    out.push((format!("main.{i}.weight"), &bn.gamma));
                    out.push((format!("main.{i}.bias"), &bn.beta));
                    out.push((format!("main.{i}.running_mean"), &bn.running_mean));
                    out.push((format!("main.{i}.running_var"), &bn.running_var));
                }
                Layer::Act(_) => {}
            }
        }
        out
    }

    /// Multiply-adds x 2 of one forward pass of a batch (conv layers).
    pub fn forward_flops(&self, batch: usize) -> f64 {
        let mut flops = 0.0;
        let mut shape = self.input_shape(batch);
        for (layer, out) in self.layers.iter().zip(&self.shapes) {
            if let Layer::Conv { param, kind } = layer {
                let w = self.params[*param].value.shape();
                let g = match kind {
                    ConvKind::Conv(c) => c.geometry(&shape, w),
                    ConvKind::Transposed(c) => c.geometry(&shape, w),
                };
                flops += g.map(|g| g.flops()).unwrap_or(0.0);
            }
            shape = [batch, out[1], out[2], out[3]];
        }
        flops
    }
}

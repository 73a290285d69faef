//! Plain Rust references for every kernel, in f64.
//!
//! These are the definitions the GPU kernels are tested against: written
//! for clarity, not speed, and where possible in a different form than the
//! kernel (the transposed convolution here scatters, the kernel gathers) so
//! that the two do not share a mistake. Layouts follow the crate's shape
//! legend; all tensors are flat row-major slices.

use crate::ops::{Activation, AdamStep, ConvGeometry, Loss, Philox, ReduceMap};

/// Index of `[a, b, c, d]` in a row-major tensor of shape `[_, s1, s2, s3]`.
fn at(a: usize, b: usize, c: usize, d: usize, [_, s1, s2, s3]: [usize; 4]) -> usize {
    ((a * s1 + b) * s2 + c) * s3 + d
}

/// Calls `f(b, ci, ih, iw, co, oh, ow, kh, kw)` for every tap of a
/// convolution that lands inside the input (padding taps are skipped).
/// For a transposed convolution the roles of input and output swap: the
/// tap connects input (ih, iw) to output (ih * stride - pad + kh, ...).
fn for_each_tap(g: &ConvGeometry, mut f: impl FnMut([usize; 4], [usize; 4], [usize; 4])) {
    let (small_h, small_w) = if g.transposed {
        (g.h_in, g.w_in)
    } else {
        (g.h_out, g.w_out)
    };
    let (big_h, big_w) = if g.transposed {
        (g.h_out, g.w_out)
    } else {
        (g.h_in, g.w_in)
    };
    for b in 0..g.n {
        for ci in 0..g.c_in {
            for co in 0..g.c_out {
                for sh in 0..small_h {
                    for sw in 0..small_w {
                        for kh in 0..g.k_h {
                            for kw in 0..g.k_w {
                                let bh = (sh * g.stride + kh) as isize - g.pad as isize;
                                let bw = (sw * g.stride + kw) as isize - g.pad as isize;
                                if bh < 0 || bw < 0 || bh >= big_h as isize || bw >= big_w as isize
                                {
                                    continue;
                                }
                                let (bh, bw) = (bh as usize, bw as usize);
                                let (input, output) = if g.transposed {
                                    ([b, ci, sh, sw], [b, co, bh, bw])
                                } else {
                                    ([b, ci, bh, bw], [b, co, sh, sw])
                                };
                                let weight = if g.transposed {
                                    [ci, co, kh, kw]
                                } else {
                                    [co, ci, kh, kw]
                                };
                                f(input, output, weight);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn index(i: [usize; 4], shape: [usize; 4]) -> usize {
    at(i[0], i[1], i[2], i[3], shape)
}

/// Forward convolution or transposed convolution (per `g.transposed`).
pub fn conv_forward(g: &ConvGeometry, x: &[f64], weight: &[f64]) -> Vec<f64> {
    let (xs, ws, ys) = (g.input_shape(), g.weight_shape(), g.output_shape());
    let mut y = vec![0.0; ys.iter().product()];
    for_each_tap(g, |i, o, w| {
        y[index(o, ys)] += x[index(i, xs)] * weight[index(w, ws)]
    });
    y
}

/// Gradient with respect to the input, for the gradient `dy` of the output.
pub fn conv_backward_input(g: &ConvGeometry, dy: &[f64], weight: &[f64]) -> Vec<f64> {
    let (xs, ws, ys) = (g.input_shape(), g.weight_shape(), g.output_shape());
    let mut dx = vec![0.0; xs.iter().product()];
    for_each_tap(g, |i, o, w| {
        dx[index(i, xs)] += dy[index(o, ys)] * weight[index(w, ws)]
    });
    dx
}

/// Gradient with respect to the weight, for the gradient `dy` of the output.
pub fn conv_backward_weight(g: &ConvGeometry, x: &[f64], dy: &[f64]) -> Vec<f64> {
    let (xs, ws, ys) = (g.input_shape(), g.weight_shape(), g.output_shape());
    let mut dw = vec![0.0; ws.iter().product()];
    for_each_tap(g, |i, o, w| {
        dw[index(w, ws)] += x[index(i, xs)] * dy[index(o, ys)]
    });
    dw
}

/// What a training-mode batch-norm forward pass produces.
#[derive(Clone, Debug)]
pub struct BatchNormForward {
    pub y: Vec<f64>,
    pub mean: Vec<f64>,
    /// The biased variance the batch was normalised with.
    pub var: Vec<f64>,
    pub running_mean: Vec<f64>,
    pub running_var: Vec<f64>,
}

/// Values of channel `ch` of an `[n, c, hw]` tensor.
fn channel(x: &[f64], [n, c, hw]: [usize; 3], ch: usize) -> impl Iterator<Item = usize> {
    let _ = x;
    (0..n).flat_map(move |b| (0..hw).map(move |s| (b * c + ch) * hw + s))
}

/// Batch norm in training mode over `x` of shape `[n, c, hw]`.
pub fn batch_norm_train(
    x: &[f64],
    shape: [usize; 3],
    (gamma, beta): (&[f64], &[f64]),
    (running_mean, running_var): (&[f64], &[f64]),
    (eps, momentum): (f64, f64),
) -> BatchNormForward {
    let [n, c, hw] = shape;
    let m = (n * hw) as f64;
    let mut out = BatchNormForward {
        y: vec![0.0; x.len()],
        mean: vec![0.0; c],
        var: vec![0.0; c],
        running_mean: running_mean.to_vec(),
        running_var: running_var.to_vec(),
    };
    for ch in 0..c {
        let mean = channel(x, shape, ch).map(|i| x[i]).sum::<f64>() / m;
        let sq = channel(x, shape, ch)
            .map(|i| (x[i] - mean).powi(2))
            .sum::<f64>();
        let var = sq / m;
        for i in channel(x, shape, ch) {
            out.y[i] = (x[i] - mean) / (var + eps).sqrt() * gamma[ch] + beta[ch];
        }
        out.mean[ch] = mean;
        out.var[ch] = var;
        out.running_mean[ch] = (1.0 - momentum) * running_mean[ch] + momentum * mean;
        out.running_var[ch] = (1.0 - momentum) * running_var[ch] + momentum * sq / (m - 1.0);
    }
    out
}

/// Batch norm in eval mode: normalised with the running statistics.
pub fn batch_norm_eval(
    x: &[f64],
    shape: [usize; 3],
    (gamma, beta): (&[f64], &[f64]),
    (running_mean, running_var): (&[f64], &[f64]),
    eps: f64,
) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for ch in 0..shape[1] {
        let invstd = 1.0 / (running_var[ch] + eps).sqrt();
        for i in channel(x, shape, ch) {
            y[i] = (x[i] - running_mean[ch]) * invstd * gamma[ch] + beta[ch];
        }
    }
    y
}

/// Gradients (dx, dgamma, dbeta) of training-mode batch norm.
pub fn batch_norm_backward_train(
    x: &[f64],
    shape: [usize; 3],
    gamma: &[f64],
    dy: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let [n, c, hw] = shape;
    let m = (n * hw) as f64;
    let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; x.len()], vec![0.0; c], vec![0.0; c]);
    for ch in 0..c {
        let mean = channel(x, shape, ch).map(|i| x[i]).sum::<f64>() / m;
        let var = channel(x, shape, ch)
            .map(|i| (x[i] - mean).powi(2))
            .sum::<f64>()
            / m;
        let invstd = 1.0 / (var + eps).sqrt();
        let xhat = |i: usize| (x[i] - mean) * invstd;
        dbeta[ch] = channel(x, shape, ch).map(|i| dy[i]).sum();
        dgamma[ch] = channel(x, shape, ch).map(|i| dy[i] * xhat(i)).sum();
        for i in channel(x, shape, ch) {
            dx[i] = gamma[ch] * invstd * (dy[i] - dbeta[ch] / m - xhat(i) * dgamma[ch] / m);
        }
    }
    (dx, dgamma, dbeta)
}

/// The activation applied to every element.
pub fn activation_forward(act: Activation, x: &[f64]) -> Vec<f64> {
    x.iter()
        .map(|&v| match act {
            Activation::Relu => v.max(0.0),
            Activation::LeakyRelu { slope } => {
                if v > 0.0 {
                    v
                } else {
                    slope as f64 * v
                }
            }
            Activation::Tanh => v.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        })
        .collect()
}

/// `dy` times the activation's derivative at the forward input `x`.
pub fn activation_backward(act: Activation, x: &[f64], dy: &[f64]) -> Vec<f64> {
    x.iter()
        .zip(dy)
        .map(|(&v, &g)| match act {
            Activation::Relu => {
                if v > 0.0 {
                    g
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { slope } => {
                if v > 0.0 {
                    g
                } else {
                    slope as f64 * g
                }
            }
            Activation::Tanh => g * (1.0 - v.tanh().powi(2)),
            Activation::Sigmoid => {
                let s = 1.0 / (1.0 + (-v).exp());
                g * s * (1.0 - s)
            }
        })
        .collect()
}

/// The loss of one prediction.
fn loss_term(loss: Loss, l: f64, t: f64) -> f64 {
    match loss {
        Loss::BceWithLogits => l.max(0.0) - l * t + (-l.abs()).exp().ln_1p(),
        Loss::Mse => (l - t).powi(2),
    }
}

/// `scale * mean(loss(logits, targets))`.
pub fn loss_forward(loss: Loss, logits: &[f64], targets: &[f64], scale: f64) -> f64 {
    let sum: f64 = logits
        .iter()
        .zip(targets)
        .map(|(&l, &t)| loss_term(loss, l, t))
        .sum();
    scale * sum / logits.len() as f64
}

/// Gradient of [`loss_forward`] with respect to the logits.
pub fn loss_backward(loss: Loss, logits: &[f64], targets: &[f64], scale: f64) -> Vec<f64> {
    let n = logits.len() as f64;
    logits
        .iter()
        .zip(targets)
        .map(|(&l, &t)| match loss {
            Loss::BceWithLogits => scale * (1.0 / (1.0 + (-l).exp()) - t) / n,
            Loss::Mse => scale * 2.0 * (l - t) / n,
        })
        .collect()
}

/// `scale * sum(map(x))`.
pub fn reduce_sum(x: &[f64], scale: f64, map: ReduceMap) -> f64 {
    let mapped = x.iter().map(|&v| match map {
        ReduceMap::Identity => v,
        ReduceMap::Sigmoid => 1.0 / (1.0 + (-v).exp()),
    });
    scale * mapped.sum::<f64>()
}

/// Gaussian kernel matrix `[n, m]` between the rows of `a` (n rows) and
/// `b`, averaged over the bandwidths `sigmas`.
pub fn rbf_kernel(a: &[f64], n: usize, b: &[f64], m: usize, sigmas: &[f64]) -> Vec<f64> {
    let d = a.len() / n;
    let mut out = Vec::with_capacity(n * m);
    for i in 0..n {
        for j in 0..m {
            let dist: f64 = (0..d).map(|k| (a[i * d + k] - b[j * d + k]).powi(2)).sum();
            let sum: f64 = sigmas.iter().map(|s| (-dist / (2.0 * s * s)).exp()).sum();
            out.push(sum / sigmas.len() as f64);
        }
    }
    out
}

/// `c = aᵀ b` for a `[k, m]` and b `[k, n]`, as `[m, n]`.
pub fn matmul_transposed_left(a: &[f64], b: &[f64], k: usize, m: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for l in 0..k {
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] += a[l * m + i] * b[l * n + j];
            }
        }
    }
    c
}

/// One Adam step, as PyTorch's `torch.optim.Adam` (no weight decay).
pub fn adam_step(step: &AdamStep, param: &mut [f64], grad: &[f64], m: &mut [f64], v: &mut [f64]) {
    let (b1, b2) = (step.beta1 as f64, step.beta2 as f64);
    let bias1 = 1.0 - b1.powi(step.t as i32);
    let bias2 = 1.0 - b2.powi(step.t as i32);
    for i in 0..param.len() {
        m[i] = b1 * m[i] + (1.0 - b1) * grad[i];
        v[i] = b2 * v[i] + (1.0 - b2) * grad[i] * grad[i];
        let denom = v[i].sqrt() / bias2.sqrt() + step.eps as f64;
        param[i] -= step.lr as f64 / bias1 * m[i] / denom;
    }
}

/// Philox4x32-10 of `counter` under `key`, with 64-bit products.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    const M0: u64 = 0xD251_1F53;
    const M1: u64 = 0xCD9E_8D57;
    let (mut c, mut k) = (counter, key);
    for _ in 0..10 {
        let p0 = M0 * c[0] as u64;
        let p1 = M1 * c[2] as u64;
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
        k = [
            k[0].wrapping_add(0x9E37_79B9),
            k[1].wrapping_add(0xBB67_AE85),
        ];
    }
    c
}

/// The 32-bit words behind a draw of `count` values, in element order.
fn philox_words(rng: Philox, count: usize) -> Vec<u32> {
    let key = [rng.seed as u32, (rng.seed >> 32) as u32];
    (0..count.div_ceil(4))
        .flat_map(|j| {
            let counter = [
                j as u32,
                rng.offset as u32,
                (rng.offset >> 32) as u32,
                rng.stream,
            ];
            philox4x32_10(counter, key)
        })
        .collect()
}

/// Uniform values in `[low, high)`, as `random_uniform` draws them.
pub fn random_uniform(rng: Philox, count: usize, low: f64, high: f64) -> Vec<f64> {
    let words = philox_words(rng, count);
    words[..count]
        .iter()
        .map(|&w| low + (high - low) * (w >> 8) as f64 / 16_777_216.0)
        .collect()
}

/// Normal values, as `random_normal` draws them (Box-Muller on word pairs).
pub fn random_normal(rng: Philox, count: usize, mean: f64, std: f64) -> Vec<f64> {
    let words = philox_words(rng, count);
    let mut out = Vec::with_capacity(words.len());
    for pair in words.chunks(2) {
        let u1 = ((pair[0] >> 8) + 1) as f64 / 16_777_216.0;
        let u2 = (pair[1] >> 8) as f64 / 16_777_216.0;
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        out.push(mean + std * r * theta.cos());
        out.push(mean + std * r * theta.sin());
    }
    out.truncate(count);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_matches_the_random123_known_answers() {
        assert_eq!(
            philox4x32_10([0; 4], [0; 2]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }
}

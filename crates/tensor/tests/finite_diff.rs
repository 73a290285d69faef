//! Every backward of the CPU reference against central finite differences
//! of its forward, in f64. The GPU backward kernels are checked against
//! these references elsewhere, so together they check the GPU gradients.
//!
//! For a forward f and a random output gradient dy, the scalar
//! L(x) = sum(f(x) * dy) has dL/dx = backward(dy); we compare a sample of
//! coordinates with (L(x + h e_i) - L(x - h e_i)) / 2h.

use rand::{Rng, SeedableRng};
use webgan_tensor::cpu;
use webgan_tensor::ops::{Activation, Conv2d, ConvTranspose2d, Loss};

const H: f64 = 1e-5;

fn random(seed: u64, count: usize) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..count).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Compares `analytic` with the finite-difference gradient of `loss` at
/// `point`, on every coordinate (the tensors here are small).
fn check(what: &str, point: &[f64], analytic: &[f64], loss: impl Fn(&[f64]) -> f64) {
    assert_eq!(point.len(), analytic.len(), "{what}: gradient length");
    let mut moved = point.to_vec();
    for i in 0..point.len() {
        moved[i] = point[i] + H;
        let up = loss(&moved);
        moved[i] = point[i] - H;
        let down = loss(&moved);
        moved[i] = point[i];
        let numeric = (up - down) / (2.0 * H);
        let error = (numeric - analytic[i]).abs();
        assert!(
            error <= 1e-6 + 1e-5 * numeric.abs(),
            "{what}: coordinate {i}: analytic {} vs numeric {numeric}",
            analytic[i]
        );
    }
}

#[test]
fn convolution_gradients_match_finite_differences() {
    let conv = Conv2d { stride: 2, pad: 1 }
        .geometry(&[2, 3, 5, 6], &[4, 3, 3, 3])
        .unwrap();
    let transposed = ConvTranspose2d {
        stride: 2,
        pad: 1,
        out_pad: 1,
    }
    .geometry(&[2, 3, 3, 4], &[3, 2, 4, 4]);
    for g in [conv, transposed.unwrap()] {
        let x = random(1, g.input_shape().iter().product());
        let w = random(2, g.weight_shape().iter().product());
        let dy = random(3, g.output_shape().iter().product());
        let what = if g.transposed {
            "conv_transpose2d"
        } else {
            "conv2d"
        };
        let dx = cpu::conv_backward_input(&g, &dy, &w);
        check(&format!("{what} dx"), &x, &dx, |x| {
            dot(&cpu::conv_forward(&g, x, &w), &dy)
        });
        let dw = cpu::conv_backward_weight(&g, &x, &dy);
        check(&format!("{what} dw"), &w, &dw, |w| {
            dot(&cpu::conv_forward(&g, &x, w), &dy)
        });
    }
}

#[test]
fn batch_norm_gradients_match_finite_differences() {
    let shape = [3, 2, 4];
    let x: Vec<f64> = random(4, 24).iter().map(|v| 3.0 * v + 5.0).collect();
    let (gamma, beta) = (random(5, 2), random(6, 2));
    let dy = random(7, 24);
    let (rm, rv) = ([0.0; 2], [1.0; 2]);
    let forward = |x: &[f64], gamma: &[f64], beta: &[f64]| {
        cpu::batch_norm_train(x, shape, (gamma, beta), (&rm, &rv), (1e-5, 0.1)).y
    };
    let (dx, dgamma, dbeta) = cpu::batch_norm_backward_train(&x, shape, &gamma, &dy, 1e-5);
    check("batch_norm dx", &x, &dx, |x| {
        dot(&forward(x, &gamma, &beta), &dy)
    });
    check("batch_norm dgamma", &gamma, &dgamma, |g| {
        dot(&forward(&x, g, &beta), &dy)
    });
    check("batch_norm dbeta", &beta, &dbeta, |b| {
        dot(&forward(&x, &gamma, b), &dy)
    });
}

#[test]
fn activation_gradients_match_finite_differences() {
    // Away from relu's kink at 0, where the derivative is a convention.
    let x: Vec<f64> = random(8, 50)
        .iter()
        .map(|v| 4.0 * v)
        .filter(|v| v.abs() > 1e-3)
        .collect();
    let dy = random(9, x.len());
    let acts = [
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.2 },
        Activation::Tanh,
        Activation::Sigmoid,
    ];
    for act in acts {
        let dx = cpu::activation_backward(act, &x, &dy);
        check(&format!("{act:?}"), &x, &dx, |x| {
            dot(&cpu::activation_forward(act, x), &dy)
        });
    }
}

#[test]
fn loss_gradients_match_finite_differences() {
    let logits: Vec<f64> = random(10, 9).iter().map(|v| 8.0 * v).collect();
    let targets: Vec<f64> = random(11, 9).iter().map(|v| v.abs()).collect();
    for (loss, scale) in [
        (Loss::BceWithLogits, 1.0),
        (Loss::BceWithLogits, -1.0),
        (Loss::Mse, 1.0),
    ] {
        let grad = cpu::loss_backward(loss, &logits, &targets, scale);
        check(&format!("{loss:?} x{scale}"), &logits, &grad, |l| {
            cpu::loss_forward(loss, l, &targets, scale)
        });
    }
}

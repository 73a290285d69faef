//! The GPU kernels against values PyTorch computed
//! (`tools/pytorch/kernel_fixtures.py` wrote `fixtures/pytorch_kernels.safetensors`).

mod common;

use common::{assert_close, gpu, max_abs, read, run, upload, zeros};
use safetensors::SafeTensors;
use webgan_tensor::ops::{self, Activation, AdamStep, Conv2d, ConvTranspose2d, Loss, NormMode};
use webgan_tensor::GpuContext;

const FIXTURE: &[u8] = include_bytes!("fixtures/pytorch_kernels.safetensors");

struct Fixture(SafeTensors<'static>);

impl Fixture {
    fn load() -> Self {
        Self(SafeTensors::deserialize(FIXTURE).expect("the fixture is safetensors"))
    }

    /// Values and shape of one tensor.
    fn get(&self, name: &str) -> (Vec<f64>, Vec<usize>) {
        let view = self
            .0
            .tensor(name)
            .unwrap_or_else(|e| panic!("fixture lacks {name}: {e}"));
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect();
        (values, view.shape().to_vec())
    }

    fn values(&self, name: &str) -> Vec<f64> {
        self.get(name).0
    }

    fn upload(&self, ctx: &GpuContext, name: &str) -> webgan_tensor::Tensor {
        let (values, shape) = self.get(name);
        upload(ctx, &shape, &values, name)
    }

    fn zeros_like(&self, ctx: &GpuContext, name: &str) -> webgan_tensor::Tensor {
        zeros(ctx, &self.get(name).1, name)
    }
}

/// |got - want| <= 1e-5 (1 + max |want|) + 1e-4 |want|.
fn assert_matches(what: &str, got: &[f64], want: &[f64]) {
    assert_close(what, got, want, 1e-4, 1e-5 * (1.0 + max_abs(want)));
}

#[test]
fn conv2d_matches_pytorch() {
    let Some(ctx) = gpu() else { return };
    let f = Fixture::load();
    for i in 0..4 {
        let name = |t: &str| format!("conv2d.{i}.{t}");
        let config = f.values(&name("config"));
        let conv = Conv2d {
            stride: config[0] as usize,
            pad: config[1] as usize,
        };
        let (x, w, dy) = (
            f.upload(ctx, &name("x")),
            f.upload(ctx, &name("weight")),
            f.upload(ctx, &name("dy")),
        );
        let (y, dx, dw) = (
            f.zeros_like(ctx, &name("y")),
            f.zeros_like(ctx, &name("dx")),
            f.zeros_like(ctx, &name("dweight")),
        );
        run(ctx, |enc| {
            ops::conv2d_forward(enc, conv, &x, &w, &y)?;
            ops::conv2d_backward_input(enc, conv, &dy, &w, &dx)?;
            ops::conv2d_backward_weight(enc, conv, &x, &dy, &dw, false)
        });
        assert_matches(&name("y"), &read(ctx, &y), &f.values(&name("y")));
        assert_matches(&name("dx"), &read(ctx, &dx), &f.values(&name("dx")));
        assert_matches(
            &name("dweight"),
            &read(ctx, &dw),
            &f.values(&name("dweight")),
        );
    }
}

#[test]
fn conv_transpose2d_matches_pytorch() {
    let Some(ctx) = gpu() else { return };
    let f = Fixture::load();
    for i in 0..4 {
        let name = |t: &str| format!("conv_transpose2d.{i}.{t}");
        let c = f.values(&name("config"));
        let conv = ConvTranspose2d {
            stride: c[0] as usize,
            pad: c[1] as usize,
            out_pad: c[2] as usize,
        };
        let (x, w, dy) = (
            f.upload(ctx, &name("x")),
            f.upload(ctx, &name("weight")),
            f.upload(ctx, &name("dy")),
        );
        let (y, dx, dw) = (
            f.zeros_like(ctx, &name("y")),
            f.zeros_like(ctx, &name("dx")),
            f.zeros_like(ctx, &name("dweight")),
        );
        run(ctx, |enc| {
            ops::conv_transpose2d_forward(enc, conv, &x, &w, &y)?;
            ops::conv_transpose2d_backward_input(enc, conv, &dy, &w, &dx)?;
            ops::conv_transpose2d_backward_weight(enc, conv, &x, &dy, &dw, false)
        });
        assert_matches(&name("y"), &read(ctx, &y), &f.values(&name("y")));
        assert_matches(&name("dx"), &read(ctx, &dx), &f.values(&name("dx")));
        assert_matches(
            &name("dweight"),
            &read(ctx, &dw),
            &f.values(&name("dweight")),
        );
    }
}

#[test]
fn batch_norm_matches_pytorch_in_train_and_eval() {
    let Some(ctx) = gpu() else { return };
    let f = Fixture::load();
    for i in 0..2 {
        let name = |t: &str| format!("batch_norm.{i}.{t}");
        let (x_values, shape) = f.get(&name("x"));
        let bn = ops::BatchNorm2d::new(ctx, shape[1], "bn").unwrap();
        for (tensor, source) in [
            (&bn.gamma, "gamma"),
            (&bn.beta, "beta"),
            (&bn.running_mean, "running_mean_in"),
            (&bn.running_var, "running_var_in"),
        ] {
            let values: Vec<f32> = f.values(&name(source)).iter().map(|&v| v as f32).collect();
            tensor.write(ctx, &values).unwrap();
        }
        let x = upload(ctx, &shape, &x_values, "x");
        let dy = f.upload(ctx, &name("dy"));
        let (y, dx, y_eval) = (
            zeros(ctx, &shape, "y"),
            zeros(ctx, &shape, "dx"),
            zeros(ctx, &shape, "y_eval"),
        );
        run(ctx, |enc| {
            bn.forward(enc, &x, &y, NormMode::Train)?;
            bn.backward(enc, &x, &dy, &dx, NormMode::Train, false)?;
            bn.forward(enc, &x, &y_eval, NormMode::Eval)
        });
        assert_matches(&name("y"), &read(ctx, &y), &f.values(&name("y")));
        assert_matches(&name("dx"), &read(ctx, &dx), &f.values(&name("dx")));
        assert_matches(
            &name("dgamma"),
            &read(ctx, &bn.dgamma),
            &f.values(&name("dgamma")),
        );
        assert_matches(
            &name("dbeta"),
            &read(ctx, &bn.dbeta),
            &f.values(&name("dbeta")),
        );
        let rm = f.values(&name("running_mean_out"));
        assert_close(
            &name("running_mean"),
            &read(ctx, &bn.running_mean),
            &rm,
            1e-6,
            1e-5,
        );
        let rv = f.values(&name("running_var_out"));
        assert_close(
            &name("running_var"),
            &read(ctx, &bn.running_var),
            &rv,
            1e-6,
            1e-5,
        );
        assert_matches(
            &name("y_eval"),
            &read(ctx, &y_eval),
            &f.values(&name("y_eval")),
        );
    }
}

#[test]
fn losses_match_pytorch() {
    let Some(ctx) = gpu() else { return };
    let f = Fixture::load();
    for (loss, prefix, pred, target, grad) in [
        (Loss::BceWithLogits, "bce", "logits", "targets", "dlogits"),
        (Loss::Mse, "mse", "pred", "target", "dpred"),
    ] {
        let name = |t: &str| format!("{prefix}.{t}");
        let (logits, targets) = (f.upload(ctx, &name(pred)), f.upload(ctx, &name(target)));
        let (out, dlogits) = (zeros(ctx, &[1], "loss"), f.zeros_like(ctx, &name(grad)));
        run(ctx, |enc| {
            ops::loss_forward(enc, loss, (&logits, &targets), &out, 0, 1.0)?;
            ops::loss_backward(enc, loss, (&logits, &targets), &dlogits, 1.0)
        });
        assert_close(
            &name("loss"),
            &read(ctx, &out),
            &f.values(&name("loss")),
            1e-6,
            1e-7,
        );
        assert_close(
            &name(grad),
            &read(ctx, &dlogits),
            &f.values(&name(grad)),
            1e-5,
            1e-8,
        );
    }
}

#[test]
fn activations_match_pytorch() {
    let Some(ctx) = gpu() else { return };
    let f = Fixture::load();
    for (act, prefix) in [
        (Activation::LeakyRelu { slope: 0.2 }, "leaky_relu"),
        (Activation::Tanh, "tanh"),
        (Activation::Sigmoid, "sigmoid"),
    ] {
        let name = |t: &str| format!("{prefix}.{t}");
        let x = f.upload(ctx, &name("x"));
        // leaky_relu's fixture is the gradient of y.sum(): dy = 1.
        let dy = match f.0.tensor(&name("dy")) {
            Ok(_) => f.upload(ctx, &name("dy")),
            Err(_) => upload(ctx, &[x.len()], &vec![1.0; x.len()], "ones"),
        };
        let (y, dx) = (
            f.zeros_like(ctx, &name("y")),
            f.zeros_like(ctx, &name("dx")),
        );
        run(ctx, |enc| {
            ops::activation_forward(enc, act, &x, &y)?;
            ops::activation_backward(enc, act, &x, &y, &dy, &dx)
        });
        assert_close(
            &name("y"),
            &read(ctx, &y),
            &f.values(&name("y")),
            1e-5,
            1e-7,
        );
        assert_close(
            &name("dx"),
            &read(ctx, &dx),
            &f.values(&name("dx")),
            1e-4,
            1e-7,
        );
    }
}

#[test]
fn adam_matches_pytorch_over_two_steps() {
    let Some(ctx) = gpu() else { return };
    let want = Fixture::load().values("adam.after");
    let param = upload(ctx, &[1], &[1.0], "param");
    let halt = ops::Halt::new(ctx, "halt").unwrap();
    let (m, v) = (zeros(ctx, &[1], "m"), zeros(ctx, &[1], "v"));
    let mut got = Vec::new();
    for (t, g) in [(1, 0.5), (2, -0.5)] {
        let grad = upload(ctx, &[1], &[g], "grad");
        let step = AdamStep {
            lr: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            t,
        };
        run(ctx, |enc| {
            ops::adam_step(enc, &step, &param, &grad, (&m, &v), &halt)
        });
        got.extend(read(ctx, &param));
    }
    assert_close("adam.after", &got, &want, 0.0, 1e-7);
}

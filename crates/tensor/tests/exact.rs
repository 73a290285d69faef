//! Exact cases with known answers (issue 2's list), on the GPU.

mod common;

use common::{assert_close, gpu, read, run, upload, zeros};
use webgan_tensor::ops::{self, Activation, AdamStep, ConvTranspose2d, Loss, NormMode};

#[test]
fn bce_with_logits_is_exact_and_finite_at_extreme_logits() {
    let Some(ctx) = gpu() else { return };
    for (logit, target, want) in [(100.0, 0.0, 100.0), (-100.0, 1.0, 100.0), (17.0, 0.0, 17.0)] {
        let logits = upload(ctx, &[1], &[logit], "logit");
        let targets = upload(ctx, &[1], &[target], "target");
        let (out, grad) = (zeros(ctx, &[1], "loss"), zeros(ctx, &[1], "grad"));
        run(ctx, |enc| {
            ops::loss_forward(enc, Loss::BceWithLogits, (&logits, &targets), &out, 0, 1.0)?;
            ops::loss_backward(enc, Loss::BceWithLogits, (&logits, &targets), &grad, 1.0)
        });
        let loss = read(ctx, &out)[0];
        assert_eq!(loss as f32, want as f32, "bce({logit}, {target})");
        let grad = read(ctx, &grad)[0];
        let sigmoid = 1.0 / (1.0 + (-logit).exp());
        assert!(grad.is_finite(), "gradient at {logit} is {grad}");
        assert_eq!(
            grad as f32,
            (sigmoid - target) as f32,
            "gradient at {logit}"
        );
    }
}

#[test]
fn leaky_relu_gradient_at_zero_and_negative_zero_is_the_slope() {
    let Some(ctx) = gpu() else { return };
    let x = upload(ctx, &[2], &[0.0, -0.0], "x");
    let dy = upload(ctx, &[2], &[1.0, 1.0], "dy");
    let (y, dx) = (zeros(ctx, &[2], "y"), zeros(ctx, &[2], "dx"));
    let act = Activation::LeakyRelu { slope: 0.2 };
    run(ctx, |enc| {
        ops::activation_forward(enc, act, &x, &y)?;
        ops::activation_backward(enc, act, &x, &y, &dy, &dx)
    });
    assert_eq!(read(ctx, &dx), [0.2f32 as f64; 2]);
    assert_eq!(read(ctx, &y), [0.0, 0.0]);
}

#[test]
fn batch_norm_keeps_precision_for_a_large_mean() {
    let Some(ctx) = gpu() else { return };
    let bn = ops::BatchNorm2d::new(ctx, 1, "bn").unwrap();
    let x = upload(
        ctx,
        &[4, 1, 1, 1],
        &[10000.0, 10001.0, 10002.0, 10003.0],
        "x",
    );
    let y = zeros(ctx, &[4, 1, 1, 1], "y");
    run(ctx, |enc| bn.forward(enc, &x, &y, NormMode::Train));
    let want = [-1.34164, -0.44721, 0.44721, 1.34164];
    assert_close("normalised", &read(ctx, &y), &want, 0.0, 2e-5);
    // Running statistics: mean 0.1 * 10001.5, unbiased variance 5/3.
    let running_var = 0.9 + 0.1 * 5.0 / 3.0;
    assert_close(
        "running_mean",
        &read(ctx, &bn.running_mean),
        &[1000.15],
        1e-6,
        0.0,
    );
    assert_close(
        "running_var",
        &read(ctx, &bn.running_var),
        &[running_var],
        1e-6,
        0.0,
    );
}

#[test]
fn conv_transpose2d_of_a_single_pixel_stamps_the_kernel() {
    let Some(ctx) = gpu() else { return };
    let x = upload(ctx, &[1, 2, 1, 1], &[1.0, 2.0], "x");
    // W[i, o, :, :] = 3 i + o + 1.
    let weight: Vec<f64> = (0..2 * 3 * 16)
        .map(|idx| (3 * (idx / 48) + (idx / 16) % 3 + 1) as f64)
        .collect();
    let w = upload(ctx, &[2, 3, 4, 4], &weight, "weight");
    let y = zeros(ctx, &[1, 3, 4, 4], "y");
    let conv = ConvTranspose2d {
        stride: 1,
        pad: 0,
        out_pad: 0,
    };
    run(ctx, |enc| {
        ops::conv_transpose2d_forward(enc, conv, &x, &w, &y)
    });
    let want: Vec<f64> = [9.0, 12.0, 15.0].iter().flat_map(|&v| [v; 16]).collect();
    assert_eq!(read(ctx, &y), want);
}

#[test]
fn adam_takes_two_known_steps() {
    let Some(ctx) = gpu() else { return };
    let param = upload(ctx, &[1], &[1.0], "param");
    let halt = ops::Halt::new(ctx, "halt").unwrap();
    let (m, v) = (zeros(ctx, &[1], "m"), zeros(ctx, &[1], "v"));
    for (t, g, want) in [(1, 0.5, 0.9998), (2, -0.5, 0.999866666669)] {
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
        let got = read(ctx, &param)[0];
        // f32 resolution near 1 is 6e-8.
        assert!(
            (got - want).abs() < 1.2e-7,
            "after step {t}: {got}, want {want}"
        );
    }
}

#[test]
fn elementwise_kernels_fold_grids_past_65535_workgroups() {
    let Some(ctx) = gpu() else { return };
    let count = 65_535 * 256 + 1_000;
    let (a, out) = (zeros(ctx, &[count], "a"), zeros(ctx, &[count], "out"));
    run(ctx, |enc| {
        ops::fill(enc, &a, 1.5)?;
        ops::fill(enc, &out, 2.0)?;
        ops::axpy(enc, 2.0, &a, &out)
    });
    let values = read(ctx, &out);
    let wrong = values.iter().position(|&v| v != 5.0);
    assert_eq!(wrong, None, "first element not written by the folded grid");
}

#[test]
fn a_non_finite_loss_halts_adam_and_the_running_statistics() {
    let Some(ctx) = gpu() else { return };
    let halt = ops::Halt::new(ctx, "halt").unwrap();
    let metrics = upload(
        ctx,
        &[2, 3],
        &[0.5, 0.25, 1.0, 0.5, f64::NAN, 1.0],
        "metrics",
    );
    run(ctx, |enc| {
        ops::guard_finite(enc, &metrics, (0, 3), 6, &halt)?;
        ops::guard_finite(enc, &metrics, (3, 3), 7, &halt)?;
        ops::guard_finite(enc, &metrics, (3, 3), 8, &halt)
    });
    assert_eq!(
        read(ctx, halt.tensor()),
        [8.0],
        "the first bad step (7) + 1"
    );

    let param = upload(ctx, &[2], &[1.0, 2.0], "param");
    let grad = upload(ctx, &[2], &[0.5, 0.5], "grad");
    let (m, v) = (zeros(ctx, &[2], "m"), zeros(ctx, &[2], "v"));
    let step = AdamStep {
        lr: 0.1,
        beta1: 0.5,
        beta2: 0.999,
        eps: 1e-8,
        t: 1,
    };
    let mut bn = ops::BatchNorm2d::new(ctx, 1, "bn").unwrap();
    bn.set_halt(&halt);
    let (x, y) = (
        upload(ctx, &[2, 1, 1, 1], &[3.0, 5.0], "x"),
        zeros(ctx, &[2, 1, 1, 1], "y"),
    );
    run(ctx, |enc| {
        ops::adam_step(enc, &step, &param, &grad, (&m, &v), &halt)?;
        bn.forward(enc, &x, &y, NormMode::Train)
    });
    assert_eq!(
        read(ctx, &param),
        [1.0, 2.0],
        "Adam does nothing once halted"
    );
    assert_eq!(read(ctx, &m), [0.0, 0.0]);
    assert_eq!(
        read(ctx, &bn.running_mean),
        [0.0],
        "running statistics frozen"
    );
    assert_eq!(read(ctx, &bn.running_var), [1.0]);
    assert_close(
        "forward still normalises",
        &read(ctx, &y),
        &[-1.0, 1.0],
        0.0,
        1e-4,
    );
}

#[test]
fn batch_only_mode_normalises_like_training_and_changes_no_state() {
    let Some(ctx) = gpu() else { return };
    let bn = ops::BatchNorm2d::new(ctx, 1, "bn").unwrap();
    let x = upload(
        ctx,
        &[4, 1, 1, 1],
        &[10000.0, 10001.0, 10002.0, 10003.0],
        "x",
    );
    let y = zeros(ctx, &[4, 1, 1, 1], "y");
    run(ctx, |enc| bn.forward(enc, &x, &y, NormMode::BatchOnly));
    let want = [-1.34164, -0.44721, 0.44721, 1.34164];
    assert_close("normalised", &read(ctx, &y), &want, 0.0, 2e-5);
    assert_eq!(read(ctx, &bn.running_mean), [0.0]);
    assert_eq!(read(ctx, &bn.running_var), [1.0]);
}

#[test]
fn running_statistics_never_take_a_non_finite_batch_statistic() {
    let Some(ctx) = gpu() else { return };
    let bn = ops::BatchNorm2d::new(ctx, 1, "bn").unwrap();
    let x = upload(ctx, &[3, 1, 1, 1], &[1.0, f64::NAN, 2.0], "x");
    let y = zeros(ctx, &[3, 1, 1, 1], "y");
    run(ctx, |enc| bn.forward(enc, &x, &y, NormMode::Train));
    assert_eq!(read(ctx, &bn.running_mean), [0.0]);
    assert_eq!(read(ctx, &bn.running_var), [1.0]);
}

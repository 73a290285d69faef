//! Bad input is a typed error naming the op and both shapes, returned
//! before anything is recorded.

mod common;

use common::{gpu, zeros};
use webgan_tensor::ops::{self, Activation, AdamStep, Conv2d, ConvTranspose2d, Loss, NormMode};
use webgan_tensor::{Encoder, Tensor, TensorError};

#[test]
fn conv_geometry_refuses_what_does_not_fit() {
    let conv = Conv2d { stride: 1, pad: 0 };
    let error = conv.geometry(&[2, 3, 8, 8], &[4, 5, 3, 3]).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, TensorError::ShapeMismatch { op: "conv2d", .. }),
        "{error:?}"
    );
    assert!(
        message.contains("[4, 3, 3, 3]") && message.contains("[4, 5, 3, 3]"),
        "{message}"
    );

    let rank = conv.geometry(&[3, 8, 8], &[4, 3, 3, 3]).unwrap_err();
    assert!(
        matches!(rank, TensorError::Rank { expected: 4, .. }),
        "{rank:?}"
    );
    let zero = conv.geometry(&[0, 3, 8, 8], &[4, 3, 3, 3]).unwrap_err();
    assert!(matches!(zero, TensorError::ZeroSize { .. }), "{zero:?}");
    let big_kernel = conv.geometry(&[1, 3, 2, 2], &[4, 3, 3, 3]).unwrap_err();
    assert!(
        big_kernel
            .to_string()
            .contains("larger than the padded input"),
        "{big_kernel}"
    );
    let stride0 = Conv2d { stride: 0, pad: 0 }.geometry(&[1, 3, 8, 8], &[4, 3, 3, 3]);
    assert!(stride0.is_err());

    let out_pad = ConvTranspose2d {
        stride: 1,
        pad: 0,
        out_pad: 1,
    };
    let error = out_pad.geometry(&[1, 2, 3, 3], &[2, 3, 3, 3]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("out_pad 1 must be smaller than stride 1"),
        "{error}"
    );
    let channels = ConvTranspose2d {
        stride: 2,
        pad: 1,
        out_pad: 0,
    };
    let error = channels.geometry(&[1, 2, 3, 3], &[3, 2, 3, 3]).unwrap_err();
    assert!(matches!(
        error,
        TensorError::ShapeMismatch {
            op: "conv_transpose2d",
            ..
        }
    ));
}

/// Runs `record` on a fresh encoder, expects an error, and checks that the
/// encoder recorded nothing.
fn refused(
    ctx: &webgan_tensor::GpuContext,
    record: impl FnOnce(&mut Encoder) -> webgan_tensor::Result<()>,
) -> TensorError {
    let mut enc = Encoder::new(ctx);
    let error = record(&mut enc).expect_err("bad input must be refused");
    assert!(enc.is_empty(), "nothing is recorded after {error}");
    error
}

#[test]
fn launchers_refuse_bad_tensors_before_recording() {
    let Some(ctx) = gpu() else { return };
    let x = zeros(ctx, &[2, 3, 8, 8], "x");
    let w = zeros(ctx, &[4, 3, 3, 3], "w");
    let wrong_y = zeros(ctx, &[2, 4, 8, 8], "y");
    let conv = Conv2d { stride: 1, pad: 0 };
    let error = refused(ctx, |enc| ops::conv2d_forward(enc, conv, &x, &w, &wrong_y));
    let message = error.to_string();
    assert!(
        message.contains("conv2d_forward") && message.contains("[2, 4, 6, 6]"),
        "{message}"
    );
    assert!(message.contains("[2, 4, 8, 8]"), "{message}");

    let dw = zeros(ctx, &[4, 3, 3, 3], "dw");
    let wrong_dy = zeros(ctx, &[2, 4, 5, 6], "dy");
    refused(ctx, |enc| {
        ops::conv2d_backward_weight(enc, conv, &x, &wrong_dy, &dw, false)
    });

    let a = zeros(ctx, &[10], "a");
    let b = zeros(ctx, &[11], "b");
    let error = refused(ctx, |enc| ops::add(enc, &a, &b, 1.0, &a));
    assert!(error.to_string().contains("[11]"), "{error}");
    let error = refused(ctx, |enc| {
        ops::activation_forward(enc, Activation::Relu, &a, &a)
    });
    assert!(error.to_string().contains("in place"), "{error}");
    refused(ctx, |enc| {
        ops::loss_forward(enc, Loss::BceWithLogits, (&a, &b), &a, 0, 1.0)
    });
    let out = zeros(ctx, &[2], "out");
    refused(ctx, |enc| {
        ops::reduce_sum(enc, &a, &out, 2, 1.0, ops::ReduceMap::Identity)
    });

    let halt = ops::Halt::new(ctx, "halt").unwrap();
    let step = AdamStep {
        lr: 1e-3,
        beta1: 1.5,
        beta2: 0.999,
        eps: 1e-8,
        t: 1,
    };
    let (m, v, g) = (
        zeros(ctx, &[10], "m"),
        zeros(ctx, &[10], "v"),
        zeros(ctx, &[10], "g"),
    );
    refused(ctx, |enc| {
        ops::adam_step(enc, &step, &a, &g, (&m, &v), &halt)
    });

    let (left, right) = (zeros(ctx, &[5, 12], "left"), zeros(ctx, &[5, 8], "right"));
    let product = zeros(ctx, &[12, 8], "product");
    let error = refused(ctx, |enc| ops::matmul(enc, &left, &right, &product));
    assert!(error.to_string().contains("multiples of 8"), "{error}");
    let (left, wrong) = (zeros(ctx, &[5, 16], "left"), zeros(ctx, &[4, 8], "right"));
    let error = refused(ctx, |enc| ops::matmul(enc, &left, &wrong, &product));
    assert!(
        error.to_string().contains("[5, 8]") && error.to_string().contains("[4, 8]"),
        "{error}"
    );
}

#[test]
fn batch_norm_refuses_wrong_channels_and_single_values() {
    let Some(ctx) = gpu() else { return };
    let bn = ops::BatchNorm2d::new(ctx, 3, "bn").unwrap();
    let (x, y) = (
        zeros(ctx, &[2, 4, 5, 5], "x"),
        zeros(ctx, &[2, 4, 5, 5], "y"),
    );
    let error = refused(ctx, |enc| bn.forward(enc, &x, &y, NormMode::Train));
    assert!(error.to_string().contains("[2, 3, 5, 5]"), "{error}");
    let (one, one_y) = (
        zeros(ctx, &[1, 3, 1, 1], "x"),
        zeros(ctx, &[1, 3, 1, 1], "y"),
    );
    let error = refused(ctx, |enc| bn.forward(enc, &one, &one_y, NormMode::Train));
    assert!(
        error
            .to_string()
            .contains("more than one value per channel"),
        "{error}"
    );
    // Eval needs no batch statistics, so a single value is fine.
    let mut enc = Encoder::new(ctx);
    bn.forward(&mut enc, &one, &one_y, NormMode::Eval).unwrap();
    assert!(!enc.is_empty());
}

#[test]
fn tensors_refuse_zero_sizes_and_wrong_data() {
    let Some(ctx) = gpu() else { return };
    let zero = Tensor::zeros(ctx, &[3, 0], "empty").unwrap_err();
    assert!(matches!(zero, TensorError::ZeroSize { .. }), "{zero:?}");
    let data = Tensor::from_slice(ctx, &[2, 2], &[1.0; 3], "short").unwrap_err();
    assert!(
        data.to_string().contains("[2, 2]") && data.to_string().contains("[3]"),
        "{data}"
    );
    let huge = Tensor::zeros(ctx, &[1 << 20, 1 << 20], "huge").unwrap_err();
    assert!(matches!(huge, TensorError::Limit { .. }), "{huge:?}");
    let t = zeros(ctx, &[6], "t");
    assert!(t.reshape(&[4, 2]).is_err());
    assert_eq!(t.reshape(&[2, 3]).unwrap().shape(), [2, 3]);
}

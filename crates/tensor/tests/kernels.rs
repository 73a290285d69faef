//! Every kernel, forward and backward, on the GPU against the CPU reference
//! in `webgan_tensor::cpu`, on seeded random inputs.

mod common;

use common::{assert_close, gpu, max_abs, random, read, run, upload, zeros};
use webgan_tensor::cpu;
use webgan_tensor::ops::{
    self, Activation, AdamStep, Conv2d, ConvGeometry, ConvTranspose2d, Loss, NormMode, Philox,
    ReduceMap,
};
use webgan_tensor::{GpuContext, Tensor};

/// (n, c_in, c_out, h_in, w_in, k, stride, pad, out_pad): odd and
/// non-square sizes, C_in != C_out both ways, stride 1 and 2, padding 0 and
/// 1, output padding 0 and 1 (transposed only), the model's own layers, and
/// batches and channel counts that leave the kernels' 8 x 8 blocks partial.
/// Input gradients with fewer than 4 input channels (conv2d c_in 1 to 3,
/// conv_transpose2d c_out 1 to 3) run the narrow kernel, over rows of
/// several position blocks (w_in 28) and of one partial block.
const CONV_CASES: &[[usize; 9]] = &[
    [2, 3, 5, 7, 9, 3, 1, 1, 0],
    [2, 4, 2, 9, 6, 4, 2, 1, 1],
    [1, 2, 3, 5, 5, 3, 2, 0, 1],
    [3, 5, 4, 6, 7, 2, 1, 0, 0],
    [2, 1, 8, 28, 28, 4, 2, 1, 0],
    [2, 8, 4, 7, 7, 3, 2, 1, 0],
    [2, 16, 1, 4, 4, 4, 1, 0, 0],
    [2, 16, 8, 1, 1, 4, 1, 0, 0],
    // Few weights, many positions: 16 lanes share each weight-gradient
    // block (see `weight_slices` in ops/conv.rs); the small cases use one.
    [8, 2, 3, 16, 16, 3, 1, 1, 0],
    // Partial blocks of 8 with more than 8 channels on both sides, stride
    // 2, padding and output padding; and many positions with 9 channels.
    [3, 12, 10, 9, 7, 3, 2, 1, 1],
    [8, 9, 3, 16, 16, 3, 1, 1, 0],
    // Kernel 4, stride 2, padding 1 with few input channels (the tile
    // kernel, where dy rows are an even number long): G.9's shape with
    // partial tiles, output padding, and a conv2d input gradient with 3
    // channels over partial tiles; dy rows of odd length run the narrow
    // kernel.
    [3, 6, 1, 14, 14, 4, 2, 1, 0],
    [2, 5, 2, 5, 6, 4, 2, 1, 1],
    [2, 3, 4, 9, 13, 4, 2, 1, 0],
    [2, 5, 2, 5, 7, 4, 2, 1, 1],
    // The same geometry's forward pass with rows a multiple of 4 (vec4
    // rows): two column chunks, the second partial, and 11 channels.
    [2, 2, 11, 10, 20, 4, 2, 1, 0],
    // More units (image, run of 7 output rows) than the 64 lanes that
    // share a weight gradient's sum (`ROWS_WEIGHT_LANES`), so lanes take
    // several; 15 output rows, so each image's last run is one row.
    [36, 1, 2, 30, 28, 4, 2, 1, 0],
    // The row kernels with 3 input channels, odd h_in and one partial
    // column chunk, the weight gradient's blocks over 2 workgroups and
    // runs shorter than 7 rows; and a single unit (one lane per block,
    // h_out 1).
    [12, 3, 6, 7, 8, 4, 2, 1, 0],
    [1, 1, 2, 2, 4, 4, 2, 1, 0],
    // 16 x 16 blocks (`Tuning::wide_blocks`): 18 images and 17 and 20
    // channels leave every block partial, and the weight gradient's 20
    // blocks spread 8 lanes to a workgroup, the last workgroup part full;
    // then whole blocks.
    [18, 17, 20, 6, 5, 3, 2, 1, 0],
    [16, 16, 16, 4, 4, 4, 2, 1, 0],
    // Kernels covering the whole input (`shaders/dense.wgsl`): a strided
    // conv2d to 1x1 with partial blocks; transposed from 1x1 with c_out
    // leaving a half vec4 block (12 taps), with the weight gradient's rows
    // a half block (20), and with a long sum over 2,560 taps split 8 ways
    // (the shorter sums above run unsplit).
    [5, 12, 4, 4, 4, 4, 2, 0, 0],
    [7, 12, 3, 1, 1, 2, 1, 0, 0],
    [9, 20, 12, 1, 1, 4, 1, 0, 0],
    [3, 10, 160, 1, 1, 4, 1, 0, 0],
    // dense_nt split 2 ways over 2 workgroups, the second partial.
    [72, 120, 32, 1, 1, 4, 1, 0, 0],
    // The dense kernels' 16 x 16 blocks (`Tuning::wide_blocks`), from 1x1:
    // dense_nn_16's 5 blocks on one part-full workgroup and dense_tn_16's
    // 10 on two; then 64 blocks each, 8 to a workgroup.
    [16, 32, 5, 1, 1, 4, 1, 0, 0],
    [16, 16, 64, 1, 1, 4, 1, 0, 0],
];

fn geometries() -> impl Iterator<Item = ConvGeometry> {
    CONV_CASES
        .iter()
        .flat_map(|&[n, c_in, c_out, h, w, k, stride, pad, out_pad]| {
            let x = [n, c_in, h, w];
            let conv = Conv2d { stride, pad }
                .geometry(&x, &[c_out, c_in, k, k])
                .ok();
            let transposed = ConvTranspose2d {
                stride,
                pad,
                out_pad,
            }
            .geometry(&x, &[c_in, c_out, k, k]);
            conv.into_iter().chain(transposed.ok())
        })
}

/// Runs forward, backward to input, and backward to weight (accumulating
/// onto a non-zero gradient) for one geometry and compares each with the CPU.
fn check_conv(ctx: &GpuContext, g: ConvGeometry, seed: u64) {
    let (xs, ws, ys) = (g.input_shape(), g.weight_shape(), g.output_shape());
    let x_data = random(seed, xs.iter().product(), 1.0);
    let w_data = random(seed + 1, ws.iter().product(), 0.5);
    let dy_data = random(seed + 2, ys.iter().product(), 1.0);
    let dw_before = random(seed + 3, ws.iter().product(), 1.0);
    let (x, w) = (
        upload(ctx, &xs, &x_data, "x"),
        upload(ctx, &ws, &w_data, "weight"),
    );
    let dy = upload(ctx, &ys, &dy_data, "dy");
    let (y, dx) = (zeros(ctx, &ys, "y"), zeros(ctx, &xs, "dx"));
    let dw = upload(ctx, &ws, &dw_before, "dw");

    run(ctx, |enc| {
        if g.transposed {
            let conv = ConvTranspose2d {
                stride: g.stride,
                pad: g.pad,
                out_pad: out_pad(&g),
            };
            ops::conv_transpose2d_forward(enc, conv, &x, &w, &y)?;
            ops::conv_transpose2d_backward_input(enc, conv, &dy, &w, &dx)?;
            ops::conv_transpose2d_backward_weight(enc, conv, &x, &dy, &dw, true)
        } else {
            let conv = Conv2d {
                stride: g.stride,
                pad: g.pad,
            };
            ops::conv2d_forward(enc, conv, &x, &w, &y)?;
            ops::conv2d_backward_input(enc, conv, &dy, &w, &dx)?;
            ops::conv2d_backward_weight(enc, conv, &x, &dy, &dw, true)
        }
    });

    let name = if g.transposed {
        "conv_transpose2d"
    } else {
        "conv2d"
    };
    let want_y = cpu::conv_forward(&g, &x_data, &w_data);
    let want_dx = cpu::conv_backward_input(&g, &dy_data, &w_data);
    let grad_w = cpu::conv_backward_weight(&g, &x_data, &dy_data);
    let want_dw: Vec<f64> = dw_before.iter().zip(&grad_w).map(|(a, b)| a + b).collect();
    let tol = |v: &[f64]| 1e-5 * max_abs(v).max(1.0);
    assert_close(
        &format!("{name} forward {g:?}"),
        &read(ctx, &y),
        &want_y,
        1e-4,
        tol(&want_y),
    );
    assert_close(
        &format!("{name} dx {g:?}"),
        &read(ctx, &dx),
        &want_dx,
        1e-4,
        tol(&want_dx),
    );
    assert_close(
        &format!("{name} dw {g:?}"),
        &read(ctx, &dw),
        &want_dw,
        1e-4,
        tol(&want_dw),
    );
}

/// The output padding a transposed geometry was built with.
fn out_pad(g: &ConvGeometry) -> usize {
    g.h_out - ((g.h_in - 1) * g.stride + g.k_h - 2 * g.pad)
}

/// A context of its own whose kernels are those of every other choice of
/// `Tuning` than `ctx`'s, so that a test runs the kernels this adapter
/// picks and the ones it does not.
fn flipped(ctx: &GpuContext) -> GpuContext {
    let other = pollster::block_on(GpuContext::new()).expect("a second context");
    other.set_tuning(ctx.tuning().flipped());
    other
}

#[test]
fn conv2d_and_conv_transpose2d_match_the_cpu_reference() {
    let Some(ctx) = gpu() else { return };
    let other = flipped(ctx);
    let mut count = 0;
    for (i, g) in geometries().enumerate() {
        check_conv(ctx, g, 100 + 10 * i as u64);
        check_conv(&other, g, 100 + 10 * i as u64);
        count += 1;
    }
    // The 1x1 inputs with larger kernels only make sense transposed.
    let one_pixel = CONV_CASES.iter().filter(|c| c[3] == 1).count();
    assert_eq!(one_pixel, 7);
    assert_eq!(
        count,
        2 * CONV_CASES.len() - one_pixel,
        "every other case builds both convolutions"
    );
}

#[test]
fn weight_gradients_overwrite_without_accumulate() {
    let Some(ctx) = gpu() else { return };
    let other = flipped(ctx);
    // (input, weight, stride, pad): the conv2d weight kernels, a whole-input
    // kernel (dense_tn) and kernel 4, stride 2 on one channel (the weight
    // rows kernel, or the lane kernel where the tuning says so).
    let cases: [([usize; 4], [usize; 4], usize, usize); 3] = [
        ([2, 3, 6, 5], [4, 3, 3, 3], 2, 1),
        ([2, 16, 4, 4], [8, 16, 4, 4], 1, 0),
        ([2, 1, 28, 28], [8, 1, 4, 4], 2, 1),
    ];
    for (i, (input, weight, stride, pad)) in cases.into_iter().enumerate() {
        let conv = Conv2d { stride, pad };
        let g = conv.geometry(&input, &weight).unwrap();
        let seed = 7 + 10 * i as u64;
        let x_data = random(seed, input.iter().product(), 1.0);
        let dy_data = random(seed + 1, g.output_shape().iter().product(), 1.0);
        let want = cpu::conv_backward_weight(&g, &x_data, &dy_data);
        for ctx in [ctx, &other] {
            let x = upload(ctx, &input, &x_data, "x");
            let dy = upload(ctx, &g.output_shape(), &dy_data, "dy");
            let before = random(seed + 2, weight.iter().product(), 5.0);
            let dw = upload(ctx, &weight, &before, "dw");
            run(ctx, |enc| {
                ops::conv2d_backward_weight(enc, conv, &x, &dy, &dw, false)
            });
            let what = format!("conv2d dw overwritten, {g:?}, {:?}", ctx.tuning());
            assert_close(&what, &read(ctx, &dw), &want, 1e-4, 1e-5);
        }
    }
}

/// [n, c, h, w] and the offset added to channel ch (ch * offset).
const BATCH_NORM_CASES: &[([usize; 4], f64)] = &[
    ([4, 3, 5, 5], 0.0),
    ([2, 5, 7, 3], 10.0),
    ([64, 2, 4, 4], 1000.0),
    ([3, 1, 1, 1], 0.0),
    // Several lanes per channel and several channels per workgroup, the
    // last workgroup part full: 2 lanes x 128 channels (70 of them), 16
    // lanes x 16 channels (40 over 3 workgroups), 256 lanes on one channel.
    ([16, 70, 4, 4], 1.0),
    ([32, 40, 7, 7], -3.0),
    ([8, 3, 64, 64], 5.0),
];

#[test]
fn batch_norm_train_and_eval_match_the_cpu_reference() {
    let Some(ctx) = gpu() else { return };
    for (case, &(shape, offset)) in BATCH_NORM_CASES.iter().enumerate() {
        let [n, c, h, w] = shape;
        let seed = 300 + 10 * case as u64;
        let (hw, count) = (h * w, n * c * h * w);
        let x_data: Vec<f64> = random(seed, count, 2.0)
            .iter()
            .enumerate()
            .map(|(i, v)| v + offset * ((i / hw) % c) as f64)
            .collect();
        let dy_data = random(seed + 1, count, 1.0);
        let gamma = random(seed + 2, c, 1.0);
        let beta = random(seed + 3, c, 1.0);
        let rm: Vec<f64> = random(seed + 4, c, 0.5);
        let rv: Vec<f64> = random(seed + 5, c, 0.5).iter().map(|v| 1.0 + v).collect();
        let dgamma_before = random(seed + 6, c, 1.0);

        let bn = ops::BatchNorm2d::new(ctx, c, "bn").unwrap();
        for (tensor, data) in [
            (&bn.gamma, &gamma),
            (&bn.beta, &beta),
            (&bn.running_mean, &rm),
            (&bn.running_var, &rv),
            (&bn.dgamma, &dgamma_before),
        ] {
            tensor
                .write(ctx, &data.iter().map(|&v| v as f32).collect::<Vec<_>>())
                .unwrap();
        }
        let x = upload(ctx, &shape, &x_data, "x");
        let dy = upload(ctx, &shape, &dy_data, "dy");
        let (y, dx, y_eval) = (
            zeros(ctx, &shape, "y"),
            zeros(ctx, &shape, "dx"),
            zeros(ctx, &shape, "y_eval"),
        );
        run(ctx, |enc| {
            bn.forward(enc, &x, &y, NormMode::Train)?;
            bn.backward(enc, &x, &dy, &dx, NormMode::Train, true)?;
            bn.forward(enc, &x, &y_eval, NormMode::Eval)
        });

        let s3 = [n, c, hw];
        let want = cpu::batch_norm_train(&x_data, s3, (&gamma, &beta), (&rm, &rv), (1e-5, 0.1));
        let (want_dx, want_dgamma, want_dbeta) =
            cpu::batch_norm_backward_train(&x_data, s3, &gamma, &dy_data, 1e-5);
        let want_eval = cpu::batch_norm_eval(
            &x_data,
            s3,
            (&gamma, &beta),
            (&want.running_mean, &want.running_var),
            1e-5,
        );
        let acc: Vec<f64> = dgamma_before
            .iter()
            .zip(&want_dgamma)
            .map(|(a, b)| a + b)
            .collect();
        let what = |s: &str| format!("batch_norm {s} {shape:?} offset {offset}");
        let atol = 1e-4;
        assert_close(&what("y"), &read(ctx, &y), &want.y, 1e-4, atol);
        assert_close(
            &what("running_mean"),
            &read(ctx, &bn.running_mean),
            &want.running_mean,
            1e-5,
            1e-5,
        );
        assert_close(
            &what("running_var"),
            &read(ctx, &bn.running_var),
            &want.running_var,
            1e-4,
            1e-5,
        );
        assert_close(&what("dx"), &read(ctx, &dx), &want_dx, 1e-3, atol);
        assert_close(
            &what("dgamma (accumulated)"),
            &read(ctx, &bn.dgamma),
            &acc,
            1e-4,
            atol,
        );
        assert_close(
            &what("dbeta"),
            &read(ctx, &bn.dbeta),
            &want_dbeta,
            1e-4,
            atol,
        );
        assert_close(&what("eval y"), &read(ctx, &y_eval), &want_eval, 1e-4, atol);
    }
}

#[test]
fn activations_match_the_cpu_reference() {
    let Some(ctx) = gpu() else { return };
    let count = 1000;
    let mut x_data = random(400, count, 6.0);
    x_data[..4].copy_from_slice(&[0.0, -0.0, 40.0, -40.0]);
    let dy_data = random(401, count, 1.0);
    let acts = [
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.2 },
        Activation::Tanh,
        Activation::Sigmoid,
    ];
    for act in acts {
        let x = upload(ctx, &[count], &x_data, "x");
        let dy = upload(ctx, &[count], &dy_data, "dy");
        let (y, dx) = (zeros(ctx, &[count], "y"), zeros(ctx, &[count], "dx"));
        run(ctx, |enc| {
            ops::activation_forward(enc, act, &x, &y)?;
            ops::activation_backward(enc, act, &x, &y, &dy, &dx)
        });
        let want_y = cpu::activation_forward(act, &x_data);
        let want_dx = cpu::activation_backward(act, &x_data, &dy_data);
        assert_close(
            &format!("{act:?} forward"),
            &read(ctx, &y),
            &want_y,
            1e-5,
            1e-6,
        );
        assert_close(
            &format!("{act:?} backward"),
            &read(ctx, &dx),
            &want_dx,
            1e-4,
            1e-6,
        );
    }
}

#[test]
fn losses_and_their_gradients_match_the_cpu_reference() {
    let Some(ctx) = gpu() else { return };
    for (count, seed) in [(1, 500), (37, 501), (300, 502)] {
        let logits_data = random(seed, count, 12.0);
        let targets_data: Vec<f64> = random(seed + 1, count, 1.0)
            .iter()
            .map(|v| v.abs())
            .collect();
        for (loss, scale) in [
            (Loss::BceWithLogits, 1.0),
            (Loss::BceWithLogits, -1.0),
            (Loss::Mse, 0.5),
        ] {
            let logits = upload(ctx, &[count], &logits_data, "logits");
            let targets = upload(ctx, &[count], &targets_data, "targets");
            let (out, grad) = (zeros(ctx, &[4], "out"), zeros(ctx, &[count], "grad"));
            run(ctx, |enc| {
                ops::loss_forward(enc, loss, (&logits, &targets), &out, 2, scale as f32)?;
                ops::loss_backward(enc, loss, (&logits, &targets), &grad, scale as f32)
            });
            let want = cpu::loss_forward(loss, &logits_data, &targets_data, scale);
            let want_grad = cpu::loss_backward(loss, &logits_data, &targets_data, scale);
            let got = read(ctx, &out);
            assert_close(
                &format!("{loss:?} x{scale} over {count}"),
                &got[2..3],
                &[want],
                1e-5,
                1e-6,
            );
            assert_eq!([got[0], got[1], got[3]], [0.0; 3], "only out[2] is written");
            assert_close(
                &format!("{loss:?} grad over {count}"),
                &read(ctx, &grad),
                &want_grad,
                1e-4,
                1e-7,
            );
        }
    }
}

#[test]
fn reduce_sum_matches_the_cpu_reference() {
    let Some(ctx) = gpu() else { return };
    let data = random(600, 777, 5.0);
    let x = upload(ctx, &[777], &data, "x");
    let out = zeros(ctx, &[2], "out");
    run(ctx, |enc| {
        ops::reduce_sum(enc, &x, &out, 0, 1.0, ReduceMap::Identity)?;
        ops::reduce_sum(enc, &x, &out, 1, 1.0 / 777.0, ReduceMap::Sigmoid)
    });
    let want = [
        cpu::reduce_sum(&data, 1.0, ReduceMap::Identity),
        cpu::reduce_sum(&data, 1.0 / 777.0, ReduceMap::Sigmoid),
    ];
    assert_close("reduce_sum", &read(ctx, &out), &want, 1e-5, 1e-4);
}

#[test]
fn elementwise_ops_match_the_cpu_reference() {
    let Some(ctx) = gpu() else { return };
    let (a_data, b_data) = (random(700, 1001, 3.0), random(701, 1001, 3.0));
    let (a, b) = (
        upload(ctx, &[7, 11, 13], &a_data, "a"),
        upload(ctx, &[1001], &b_data, "b"),
    );
    let (sum, filled, acc) = (
        zeros(ctx, &[1001], "sum"),
        zeros(ctx, &[1001], "filled"),
        upload(ctx, &[1001], &b_data, "acc"),
    );
    run(ctx, |enc| {
        ops::add(enc, &a, &b, -0.5, &sum)?;
        ops::fill(enc, &filled, 2.5)?;
        ops::scale(enc, &filled, 3.0)?;
        ops::axpy(enc, 2.0, &a, &acc)
    });
    let want_sum: Vec<f64> = a_data
        .iter()
        .zip(&b_data)
        .map(|(a, b)| a - 0.5 * b)
        .collect();
    let want_acc: Vec<f64> = a_data
        .iter()
        .zip(&b_data)
        .map(|(a, b)| b + 2.0 * a)
        .collect();
    assert_close("add", &read(ctx, &sum), &want_sum, 1e-6, 1e-6);
    assert_close(
        "fill then scale",
        &read(ctx, &filled),
        &[7.5; 1001],
        0.0,
        0.0,
    );
    assert_close("axpy", &read(ctx, &acc), &want_acc, 1e-6, 1e-6);
}

#[test]
fn copies_move_whole_tensors_and_ranges() {
    let Some(ctx) = gpu() else { return };
    let data = random(750, 10, 1.0);
    let (src, dst) = (upload(ctx, &[10], &data, "src"), zeros(ctx, &[2, 5], "dst"));
    let part = zeros(ctx, &[4], "part");
    run(ctx, |enc| {
        enc.copy(&src, &dst)?;
        enc.copy_elements(&src, 3, &part, 1, 3)
    });
    assert_eq!(read(ctx, &dst), data);
    assert_eq!(read(ctx, &part), [0.0, data[3], data[4], data[5]]);
}

#[test]
fn adam_matches_the_cpu_reference_over_steps_with_changing_hyperparameters() {
    let Some(ctx) = gpu() else { return };
    let count = 513;
    let mut param_data = random(800, count, 1.0);
    let (mut m_data, mut v_data) = (vec![0.0; count], vec![0.0; count]);
    let param = upload(ctx, &[count], &param_data, "param");
    let halt = ops::Halt::new(ctx, "halt").unwrap();
    let (m, v) = (zeros(ctx, &[count], "m"), zeros(ctx, &[count], "v"));
    for t in 1..=5u64 {
        let grad_data = random(800 + t, count, 0.1);
        let grad = upload(ctx, &[count], &grad_data, "grad");
        // The learning rate and beta1 change between steps, as the UI allows.
        let step = AdamStep {
            lr: 1e-3 * t as f32,
            beta1: 0.5 + 0.05 * t as f32,
            beta2: 0.999,
            eps: 1e-8,
            t,
        };
        run(ctx, |enc| {
            ops::adam_step(enc, &step, &param, &grad, (&m, &v), &halt)
        });
        cpu::adam_step(&step, &mut param_data, &grad_data, &mut m_data, &mut v_data);
    }
    assert_close("adam param", &read(ctx, &param), &param_data, 1e-6, 1e-6);
    assert_close("adam m", &read(ctx, &m), &m_data, 1e-5, 1e-8);
    assert_close("adam v", &read(ctx, &v), &v_data, 1e-5, 1e-10);
}

#[test]
fn noise_matches_the_cpu_philox_and_is_reproducible() {
    let Some(ctx) = gpu() else { return };
    let count = 10_003;
    let rng = Philox {
        seed: 0x1234_5678_9abc_def0,
        stream: 3,
        offset: (1 << 32) + 7,
    };
    let (u, z, z_again) = (
        zeros(ctx, &[count], "u"),
        zeros(ctx, &[count], "z"),
        zeros(ctx, &[count], "z2"),
    );
    let other = zeros(ctx, &[count], "other");
    run(ctx, |enc| {
        ops::random_uniform(enc, rng, &u, -2.0, 3.0)?;
        ops::random_normal(enc, rng, &z, 0.5, 2.0)?;
        ops::random_normal(enc, rng, &z_again, 0.5, 2.0)?;
        ops::random_normal(
            enc,
            Philox {
                offset: rng.offset + 1,
                ..rng
            },
            &other,
            0.5,
            2.0,
        )
    });
    let (u, z) = (read(ctx, &u), read(ctx, &z));
    assert_close(
        "uniform",
        &u,
        &cpu::random_uniform(rng, count, -2.0, 3.0),
        1e-6,
        1e-6,
    );
    assert_close(
        "normal",
        &z,
        &cpu::random_normal(rng, count, 0.5, 2.0),
        1e-4,
        1e-4,
    );
    assert_eq!(
        z,
        read(ctx, &z_again),
        "same seed, stream and offset: same values"
    );
    assert_ne!(z, read(ctx, &other), "another offset: other values");
    assert!(u.iter().all(|&v| (-2.0..3.0).contains(&v)));

    // Moments of 10,003 draws: mean within ~5 standard errors.
    let mean = z.iter().sum::<f64>() / count as f64;
    let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count as f64;
    assert!((mean - 0.5).abs() < 0.1, "normal mean {mean}");
    assert!((var.sqrt() - 2.0).abs() < 0.1, "normal std {}", var.sqrt());
}

#[test]
fn rbf_kernel_matches_the_cpu_reference() {
    let Some(ctx) = gpu() else { return };
    let (n, m, d) = (5, 7, 30);
    let (a_data, b_data) = (random(900, n * d, 1.0), random(901, m * d, 1.0));
    let a = upload(ctx, &[n, 1, 5, 6], &a_data, "a");
    let b = upload(ctx, &[m, 1, 5, 6], &b_data, "b");
    let out = zeros(ctx, &[n, m], "k");
    let sigmas = [1.0, 4.0, 16.0];
    run(ctx, |enc| ops::rbf_kernel(enc, &a, &b, &out, &sigmas));
    let want = cpu::rbf_kernel(&a_data, n, &b_data, m, &[1.0, 4.0, 16.0]);
    assert_close("rbf_kernel", &read(ctx, &out), &want, 1e-4, 1e-6);
}

#[test]
fn matmul_matches_the_cpu_reference() {
    let Some(ctx) = gpu() else { return };
    // Odd k, m != n, several blocks in each direction, and one block, of
    // 8 x 8 and (m and n multiples of 16) of 16 x 16.
    let sizes = [
        (5, 16, 24),
        (33, 40, 8),
        (1, 8, 8),
        (64, 64, 72),
        (7, 32, 48),
        (3, 16, 16),
    ];
    for (seed, (k, m, n)) in sizes.into_iter().enumerate() {
        let a_data = random(920 + seed as u64, k * m, 1.0);
        let b_data = random(940 + seed as u64, k * n, 1.0);
        let a = upload(ctx, &[k, m], &a_data, "a");
        let b = upload(ctx, &[k, n], &b_data, "b");
        let c = zeros(ctx, &[m, n], "c");
        run(ctx, |enc| ops::matmul(enc, &a, &b, &c));
        let want = cpu::matmul_transposed_left(&a_data, &b_data, k, m, n);
        assert_close(
            &format!("matmul {k}x{m}x{n}"),
            &read(ctx, &c),
            &want,
            1e-4,
            1e-5,
        );
    }
}

#[test]
fn batch_norm_with_its_activation_equals_the_two_passes() {
    let Some(ctx) = gpu() else { return };
    let shape = [6, 5, 7, 7];
    let count: usize = shape.iter().product();
    let mut x_data = random(500, count, 2.0);
    x_data[..3].copy_from_slice(&[0.0, -0.0, 1e-3]);
    let gamma = random(501, 5, 1.0);
    let beta = random(502, 5, 1.0);
    let x = upload(ctx, &shape, &x_data, "x");
    let bits = |t: &Tensor| {
        pollster::block_on(t.read(ctx))
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    for act in [Activation::Relu, Activation::LeakyRelu { slope: 0.2 }] {
        for mode in [NormMode::Train, NormMode::Eval] {
            // Two layers with the same state: one runs the two passes, the
            // other the fused one.
            let layers = [0, 1].map(|_| {
                let bn = ops::BatchNorm2d::new(ctx, 5, "bn").unwrap();
                for (tensor, data) in [(&bn.gamma, &gamma), (&bn.beta, &beta)] {
                    let data: Vec<f32> = data.iter().map(|&v| v as f32).collect();
                    tensor.write(ctx, &data).unwrap();
                }
                bn
            });
            let outs: Vec<Tensor> = (0..4)
                .map(|i| zeros(ctx, &shape, &format!("out{i}")))
                .collect();
            run(ctx, |enc| {
                layers[0].forward(enc, &x, &outs[0], mode)?;
                ops::activation_forward(enc, act, &outs[0], &outs[1])?;
                layers[1].forward_activated(enc, &x, (&outs[2], act, &outs[3]), mode)
            });
            let what = format!("{act:?} {mode:?}");
            assert_eq!(bits(&outs[2]), bits(&outs[0]), "{what}: batch norm output");
            assert_eq!(bits(&outs[3]), bits(&outs[1]), "{what}: activation");
            assert_eq!(
                bits(&layers[1].running_mean),
                bits(&layers[0].running_mean),
                "{what}: running mean"
            );
            assert!(
                bits(&outs[1]).iter().any(|&b| b != 0),
                "{what}: not all zero"
            );
        }
    }
    let bn = ops::BatchNorm2d::new(ctx, 5, "bn").unwrap();
    let (y, a) = (zeros(ctx, &shape, "y"), zeros(ctx, &shape, "a"));
    let mut enc = webgan_tensor::Encoder::new(ctx);
    let refused = bn.forward_activated(&mut enc, &x, (&y, Activation::Tanh, &a), NormMode::Train);
    assert!(refused.is_err(), "tanh is not fused");
    assert!(enc.is_empty(), "nothing recorded for a refused call");
    let same = bn.forward_activated(&mut enc, &x, (&y, Activation::Relu, &y), NormMode::Train);
    assert!(same.is_err(), "the activation needs its own buffer");
}

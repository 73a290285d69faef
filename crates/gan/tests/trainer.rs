//! The trainer on the GPU: checkpoints (names, resume, bad files), samples
//! that change nothing, and reproducibility.

mod common;

use std::sync::OnceLock;

use safetensors::{Dtype, SafeTensors};
use webgan::data::{bundled_mnist, Dataset};
use webgan::{Hyper, ModelConfig, StepMetrics, Trainer};
use webgan_tensor::{Encoder, GpuContext};

const SMALL: ModelConfig = ModelConfig {
    nz: 8,
    ngf: 8,
    ndf: 6,
    batch: 8,
};

fn data() -> Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| bundled_mnist().expect("bundled MNIST"))
        .clone()
}

fn trainer(ctx: &GpuContext, seed: u64) -> Trainer {
    let mut trainer = Trainer::new(ctx, SMALL, Hyper::default(), seed, data()).expect("trainer");
    trainer.quality_every = 3;
    trainer
}

/// Trains `steps` iterations and returns their metrics.
fn train(trainer: &mut Trainer, steps: u64) -> Vec<StepMetrics> {
    for _ in 0..steps {
        trainer.train_step().expect("step");
    }
    pollster::block_on(trainer.flush()).expect("flush");
    trainer.take_metrics()
}

fn checkpoint(trainer: &Trainer) -> Vec<u8> {
    pollster::block_on(trainer.save_checkpoint()).expect("checkpoint")
}

/// Every tensor of a checkpoint as (name, bytes), sorted: metadata order
/// is not fixed, so checkpoints are compared by their tensors.
fn tensors(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let file = SafeTensors::deserialize(bytes).expect("safetensors");
    let mut out: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.data().to_vec()))
        .collect();
    out.sort();
    out
}

#[test]
fn checkpoint_names_dtypes_and_shapes_follow_model_md() {
    let Some(ctx) = common::gpu() else { return };
    let mut t = trainer(ctx, 1);
    train(&mut t, 1);
    let bytes = checkpoint(&t);
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let (nz, g, d) = (SMALL.nz, SMALL.ngf, SMALL.ndf);
    let mut expected: Vec<(String, Vec<usize>)> = Vec::new();
    let mut conv = |net: &str, i: usize, shape: [usize; 4]| {
        expected.push((format!("{net}.main.{i}.weight"), shape.to_vec()))
    };
    conv("generator", 0, [nz, 4 * g, 4, 4]);
    conv("generator", 3, [4 * g, 2 * g, 3, 3]);
    conv("generator", 6, [2 * g, g, 4, 4]);
    conv("generator", 9, [g, 1, 4, 4]);
    conv("discriminator", 0, [d, 1, 4, 4]);
    conv("discriminator", 2, [2 * d, d, 4, 4]);
    conv("discriminator", 5, [4 * d, 2 * d, 3, 3]);
    conv("discriminator", 8, [1, 4 * d, 4, 4]);
    for (net, i, c) in [
        ("generator", 1, 4 * g),
        ("generator", 4, 2 * g),
        ("generator", 7, g),
        ("discriminator", 3, 2 * d),
        ("discriminator", 6, 4 * d),
    ] {
        for what in ["weight", "bias", "running_mean", "running_var"] {
            expected.push((format!("{net}.main.{i}.{what}"), vec![c]));
        }
        let tracked = file
            .tensor(&format!("{net}.main.{i}.num_batches_tracked"))
            .unwrap();
        assert_eq!((tracked.dtype(), tracked.shape()), (Dtype::I64, &[][..]));
        let count = i64::from_le_bytes(tracked.data().try_into().unwrap());
        assert_eq!(
            count,
            if net == "generator" { 1 } else { 3 },
            "{net}.main.{i} passes in one step"
        );
    }
    for (name, shape) in &expected {
        let view = file
            .tensor(name)
            .unwrap_or_else(|_| panic!("checkpoint lacks {name}"));
        assert_eq!(view.dtype(), Dtype::F32, "{name}");
        assert_eq!(view.shape(), &shape[..], "{name}");
    }
    let model_tensors = file
        .names()
        .iter()
        .filter(|n| !n.starts_with("optimizer."))
        .count();
    assert_eq!(
        model_tensors,
        expected.len() + 5,
        "nothing else under the network prefixes"
    );
}

#[test]
fn a_resumed_run_continues_exactly() {
    let Some(ctx) = common::gpu() else { return };
    let mut first = trainer(ctx, 7);
    train(&mut first, 4);
    let saved = checkpoint(&first);
    let uninterrupted = train(&mut first, 10);

    let info = webgan::checkpoint::Checkpoint::parse("saved", &saved)
        .unwrap()
        .info;
    let mut resumed = Trainer::new(ctx, info.config, info.hyper, info.seed, data()).unwrap();
    resumed.load_checkpoint("saved", &saved).unwrap();
    assert_eq!(resumed.step(), 4);
    let continued = train(&mut resumed, 10);
    assert_eq!(continued.len(), 10);
    assert_eq!(
        continued, uninterrupted,
        "the 10 steps after a resume equal the uninterrupted run"
    );
    assert!(
        continued.iter().any(|m| m.quality.is_some()),
        "quality figures are resumed too"
    );
}

#[test]
fn bad_checkpoints_are_refused_and_change_nothing() {
    let Some(ctx) = common::gpu() else { return };
    let mut t = trainer(ctx, 3);
    train(&mut t, 2);
    let before = checkpoint(&t);

    let truncated = &before[..before.len() / 2];
    let error = t
        .load_checkpoint("half.safetensors", truncated)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("half.safetensors") && error.contains("truncated"),
        "{error}"
    );
    let error = t
        .load_checkpoint("notes.txt", b"hello, not a checkpoint")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("notes.txt") && error.contains("not a safetensors"),
        "{error}"
    );

    let other = ModelConfig { ngf: 4, ..SMALL };
    let other_run = Trainer::new(ctx, other, Hyper::default(), 3, data()).unwrap();
    let error = t
        .load_checkpoint("other.safetensors", &checkpoint(&other_run))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("ngf 4") && error.contains("ngf 8"),
        "{error}"
    );

    assert_eq!(
        tensors(&checkpoint(&t)),
        tensors(&before),
        "the run is as it was"
    );
    assert_eq!(t.step(), 2);
    assert_eq!(train(&mut t, 1).len(), 1, "and it trains on");
}

#[test]
fn drawing_samples_every_step_changes_no_metric() {
    let Some(ctx) = common::gpu() else { return };
    let (mut plain, mut drawing) = (trainer(ctx, 11), trainer(ctx, 11));
    let noise = drawing.fixed_noise(16).unwrap();
    for _ in 0..6 {
        plain.train_step().unwrap();
        drawing.train_step().unwrap();
        let mut enc = Encoder::new(ctx);
        let images = drawing.record_samples(&mut enc, &noise).unwrap().clone();
        enc.submit();
        let values = pollster::block_on(images.read(ctx)).unwrap();
        assert!(values.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    }
    pollster::block_on(plain.flush()).unwrap();
    pollster::block_on(drawing.flush()).unwrap();
    assert_eq!(plain.take_metrics(), drawing.take_metrics());
    assert_eq!(
        tensors(&checkpoint(&plain)),
        tensors(&checkpoint(&drawing)),
        "running statistics too"
    );
}

#[test]
fn a_seed_fixes_the_run_and_another_seed_changes_it() {
    let Some(ctx) = common::gpu() else { return };
    let (mut a, mut b, mut c) = (trainer(ctx, 5), trainer(ctx, 5), trainer(ctx, 6));
    let (ma, mb, mc) = (train(&mut a, 3), train(&mut b, 3), train(&mut c, 3));
    assert_eq!(ma, mb);
    assert_ne!(ma, mc);
    assert!(ma.iter().all(StepMetrics::is_finite));
    assert_eq!(ma.iter().map(|m| m.step).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn learning_rates_change_between_steps_keeping_adam_state() {
    let Some(ctx) = common::gpu() else { return };
    let (mut a, mut b) = (trainer(ctx, 9), trainer(ctx, 9));
    let (ma, mb) = (train(&mut a, 2), train(&mut b, 2));
    assert_eq!(ma, mb);
    b.hyper.lr_g = 1e-3;
    b.hyper.beta1 = 0.7;
    let (ma, mb) = (train(&mut a, 2), train(&mut b, 2));
    assert_eq!(
        ma[0].loss_d_real, mb[0].loss_d_real,
        "D's step 3 does not see G's new rate"
    );
    assert_ne!(ma[1], mb[1], "step 4 does");
    assert_eq!(b.step(), 4, "no reset");
    b.hyper.lr_d = -1.0;
    assert!(b
        .train_step()
        .unwrap_err()
        .to_string()
        .contains("learning rates"));
}

#[test]
fn a_checkpoint_with_a_nan_weight_is_refused() {
    let Some(ctx) = common::gpu() else { return };
    let mut t = trainer(ctx, 4);
    let bytes = checkpoint(&t);
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, v)| (name, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    let weight = entries
        .iter_mut()
        .find(|e| e.0 == "generator.main.0.weight")
        .unwrap();
    weight.3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = entries
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let poisoned = safetensors::serialize(views, header.metadata().clone()).unwrap();
    let error = t
        .load_checkpoint("nan.safetensors", &poisoned)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("nan.safetensors") && error.contains("generator.main.0.weight"),
        "{error}"
    );
    assert!(error.contains("non-finite"), "{error}");
}

#[test]
fn training_makes_no_buffer_per_step() {
    // A context of its own: the shared one counts other tests' buffers.
    let Some(_) = common::gpu() else { return };
    let ctx = pollster::block_on(GpuContext::new()).expect("a second context");
    let mut t = trainer(&ctx, 5);
    // Warm up: the metrics ring's readback buffers and the quality figure's
    // scratch are made on first use.
    train(&mut t, 8);
    let before = ctx.buffer_stats();
    assert!(before.live > 20 && before.live_bytes > 0, "{before}");

    let metrics = train(&mut t, 40);
    assert_eq!(metrics.len(), 40);
    let after = ctx.buffer_stats();
    assert_eq!(
        (after.live, after.live_bytes, after.created),
        (before.live, before.live_bytes, before.created),
        "40 steps: before {before}, after {after}"
    );

    drop(t);
    let gone = ctx.buffer_stats();
    assert!(
        gone.live < before.live / 2,
        "a dropped trainer frees its buffers: {gone}"
    );
}

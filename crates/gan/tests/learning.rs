//! The tiny preset learns MNIST on the GPU present (lavapipe on CI): over a
//! few hundred steps the sample-quality figure (squared MMD between a fake
//! and a real batch) falls by at least half and every metric stays finite.

mod common;

use webgan::data::bundled_mnist;
use webgan::{Hyper, Preset, Trainer};

const STEPS: u64 = 300;

#[test]
fn the_tiny_preset_learns_mnist() {
    let Some(ctx) = common::gpu() else { return };
    let start = std::time::Instant::now();
    let data = bundled_mnist().unwrap();
    let mut trainer = Trainer::new(ctx, Preset::Tiny.config(), Hyper::default(), 1, data).unwrap();
    trainer.quality_every = 25;
    let mut metrics = Vec::new();
    for _ in 0..STEPS {
        trainer.train_step().expect("training step");
        trainer.throttle(4).unwrap();
        metrics.extend(trainer.take_metrics());
    }
    pollster::block_on(trainer.flush()).unwrap();
    metrics.extend(trainer.take_metrics());

    assert_eq!(
        metrics.len() as u64,
        STEPS,
        "every step's metrics came back"
    );
    assert!(
        metrics.iter().all(|m| m.is_finite()),
        "a metric was not finite"
    );
    let quality: Vec<(u64, f32)> = metrics
        .iter()
        .filter_map(|m| m.quality.map(|q| (m.step, q)))
        .collect();
    let (first, last) = (quality[0], quality[quality.len() - 1]);
    eprintln!(
        "tiny preset, {STEPS} steps in {:.0} s; quality {quality:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(
        last.1 <= 0.5 * first.1,
        "quality fell from {} (step {}) to only {} (step {})",
        first.1,
        first.0,
        last.1,
        last.0
    );
}

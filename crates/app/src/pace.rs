//! How many training iterations to queue per animation frame.
//!
//! Recording an iteration costs the CPU a little; running it costs the GPU
//! anything from under a millisecond (a real GPU, tiny model) to seconds
//! (SwiftShader). The page queues `k` iterations per frame, where `k` keeps
//! a frame's recording under [`RECORD_BUDGET_MS`] and the GPU's share of a
//! frame near [`GPU_BUDGET_MS`]; the caller queues a frame's work only when
//! the GPU has finished all but the previous frame's, so the queue stays
//! short and the page stays responsive.

/// CPU time per frame spent recording, at most.
pub const RECORD_BUDGET_MS: f64 = 10.0;
/// GPU time per frame to aim for.
pub const GPU_BUDGET_MS: f64 = 16.0;
/// Iterations per frame, at most.
pub const MAX_PER_FRAME: u32 = 64;
/// Above this GPU time per iteration the adapter counts as slow: metrics
/// are then fetched after every frame instead of in batches.
pub const SLOW_STEP_MS: f64 = 40.0;

/// Smoothed costs per iteration and the resulting iterations per frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Pacer {
    record_ms: Option<f64>,
    gpu_ms: Option<f64>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
}

impl Pacer {
    /// No measurements yet: one iteration per frame.
    pub fn new() -> Self {
        Self {
            record_ms: None,
            gpu_ms: None,
        }
    }

    /// Notes that recording `steps` iterations took `ms` of CPU time.
    pub fn recorded(&mut self, steps: u32, ms: f64) {
        if steps > 0 {
            smooth(&mut self.record_ms, ms / f64::from(steps));
        }
    }

    /// Notes that the GPU finished `steps` iterations `ms` after they were
    /// submitted (an upper bound on their GPU time).
    pub fn finished(&mut self, steps: u32, ms: f64) {
        if steps > 0 {
            smooth(&mut self.gpu_ms, ms / f64::from(steps));
        }
    }

    /// Iterations to queue in the next frame.
    pub fn per_frame(&self) -> u32 {
        if self.record_ms.is_none() && self.gpu_ms.is_none() {
            return 1;
        }
        let by = |budget: f64, cost: Option<f64>| cost.map_or(f64::MAX, |c| budget / c.max(1e-3));
        let k = by(RECORD_BUDGET_MS, self.record_ms).min(by(GPU_BUDGET_MS, self.gpu_ms));
        (k.floor() as u32).clamp(1, MAX_PER_FRAME)
    }

    /// Whether iterations take long enough that waiting for each frame's
    /// metrics costs nothing noticeable.
    pub fn is_slow(&self) -> bool {
        self.gpu_ms.is_some_and(|ms| ms > SLOW_STEP_MS)
    }
}

/// An exponential moving average that starts at the first sample.
fn smooth(average: &mut Option<f64>, sample: f64) {
    *average = Some(match *average {
        Some(a) => 0.7 * a + 0.3 * sample,
        None => sample,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_one_iteration_per_frame() {
        assert_eq!(Pacer::new().per_frame(), 1);
        assert!(!Pacer::new().is_slow());
    }

    #[test]
    fn a_fast_gpu_gets_several_iterations_per_frame() {
        let mut pacer = Pacer::new();
        for _ in 0..10 {
            pacer.recorded(4, 2.0);
            pacer.finished(4, 8.0);
        }
        // 0.5 ms to record, 2 ms on the GPU: the GPU budget decides.
        assert_eq!(pacer.per_frame(), 8);
    }

    #[test]
    fn recording_time_caps_the_count() {
        let mut pacer = Pacer::new();
        pacer.recorded(1, 5.0);
        pacer.finished(1, 0.1);
        assert_eq!(pacer.per_frame(), 2);
    }

    #[test]
    fn a_software_adapter_runs_one_per_frame_and_counts_as_slow() {
        let mut pacer = Pacer::new();
        pacer.recorded(1, 3.0);
        pacer.finished(1, 900.0);
        assert_eq!(pacer.per_frame(), 1);
        assert!(pacer.is_slow());
        let mut fast = Pacer::new();
        fast.finished(64, 1.0);
        assert_eq!(fast.per_frame(), MAX_PER_FRAME);
    }
}

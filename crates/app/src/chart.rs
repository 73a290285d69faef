//! The charts' arithmetic: which points to draw, where, and what the
//! pointer is over. The page keeps every step; drawing thins a long run to
//! about two points per pixel column, keeping each column's lowest and
//! highest value so spikes stay visible.

use webgan::StepMetrics;

/// One line of a chart: a name, a colour, and a value per step.
pub struct Series {
    /// Shown in the legend and the hover text.
    pub name: &'static str,
    /// A CSS colour.
    pub color: &'static str,
    /// What it measures, in a sentence (the legend's tooltip).
    pub about: &'static str,
    /// Reads the value from a step's metrics; `None` where the step has none
    /// (the quality figure is computed only every so many steps).
    pub value: fn(&StepMetrics) -> Option<f32>,
}

/// The losses chart.
pub const LOSSES: [Series; 2] = [
    Series {
        name: "loss_d",
        color: "#1f77b4",
        about: "D's loss: BCE on real digits (as real) plus on fakes (as fake)",
        value: |m| Some(m.loss_d()),
    },
    Series {
        name: "loss_g",
        color: "#ff7f0e",
        about: "G's loss: how badly its fakes fool D (for the non-saturating loss, -log D(G(z)))",
        value: |m| Some(m.loss_g),
    },
];

/// D's outputs: on real images, on fakes in the D step and in the G step.
pub const OUTPUTS: [Series; 3] = [
    Series {
        name: "d_x",
        color: "#2ca02c",
        about: "D's mean probability that the real digits are real",
        value: |m| Some(m.d_x),
    },
    Series {
        name: "d_g_z1",
        color: "#d62728",
        about: "D's mean probability that the fakes are real, in the D step, before D's update",
        value: |m| Some(m.d_g_z1),
    },
    Series {
        name: "d_g_z2",
        color: "#9467bd",
        about: "D's mean probability that the fakes are real, in the G step, after D's update",
        value: |m| Some(m.d_g_z2),
    },
];

/// The trainer's sample-quality figure (squared MMD, lower is better).
pub const QUALITY: [Series; 1] = [Series {
    name: "quality (MMD²)",
    color: "#8c564b",
    about: "MMD² between a batch of fakes and one of real digits, every 50 steps; lower is better",
    value: |m| m.quality,
}];

/// Indices into `values` worth drawing in `columns` pixel columns: all of
/// them when they fit, else per column the first, lowest and highest
/// finite values, in order. Non-finite values are never drawn.
pub fn thin(values: &[Option<f32>], columns: usize) -> Vec<usize> {
    let finite = |i: &usize| values[*i].is_some_and(f32::is_finite);
    if values.len() <= 2 * columns.max(1) {
        return (0..values.len()).filter(finite).collect();
    }
    let per_column = values.len() as f64 / columns as f64;
    let mut out = Vec::with_capacity(3 * columns);
    for column in 0..columns {
        let start = (column as f64 * per_column) as usize;
        let end = (((column + 1) as f64 * per_column) as usize).min(values.len());
        let bucket: Vec<usize> = (start..end).filter(finite).collect();
        let Some(&first) = bucket.first() else {
            continue;
        };
        let value = |i: &&usize| values[**i].unwrap_or(0.0);
        let low = *bucket
            .iter()
            .min_by(|a, b| value(a).total_cmp(&value(b)))
            .unwrap();
        let high = *bucket
            .iter()
            .max_by(|a, b| value(a).total_cmp(&value(b)))
            .unwrap();
        let mut picks = [first, low, high];
        picks.sort_unstable();
        for pick in picks {
            if out.last() != Some(&pick) {
                out.push(pick);
            }
        }
    }
    out
}

/// The y range that holds every finite value of every series, padded by
/// 5% (and widened to at least 1e-3 so a flat line sits mid-chart).
/// `None` when there is no finite value.
pub fn y_range<'a>(series: impl IntoIterator<Item = &'a [Option<f32>]>) -> Option<(f32, f32)> {
    let finite = series
        .into_iter()
        .flat_map(|s| s.iter().flatten().copied())
        .filter(|v| v.is_finite());
    let (low, high) = finite.fold(None, |range: Option<(f32, f32)>, v| {
        Some(range.map_or((v, v), |(l, h)| (l.min(v), h.max(v))))
    })?;
    let pad = ((high - low) * 0.05).max(5e-4);
    Some((low - pad, high + pad))
}

/// The step index nearest to pixel `x` of a chart `width` pixels wide that
/// spreads `count` steps over its whole width.
pub fn index_at(x: f64, width: f64, count: usize) -> Option<usize> {
    if count == 0 || width <= 0.0 {
        return None;
    }
    let t = (x / width).clamp(0.0, 1.0);
    Some((t * (count - 1) as f64).round() as usize)
}

/// The x pixel of step index `i` of `count` across `width`.
pub fn x_of(i: usize, width: f64, count: usize) -> f64 {
    if count <= 1 {
        return width / 2.0;
    }
    i as f64 / (count - 1) as f64 * width
}

/// The hover text of one step: "step 12: loss_d 1.3862, loss_g 0.6931".
pub fn hover_text(series: &[Series], metrics: &StepMetrics) -> String {
    let values: Vec<String> = series
        .iter()
        .map(|s| match (s.value)(metrics) {
            Some(v) => format!("{} {}", s.name, exact(v)),
            None => format!("{} -", s.name),
        })
        .collect();
    format!("step {}: {}", metrics.step, values.join(", "))
}

/// A value with enough digits to tell steps apart: 5 significant digits.
pub fn exact(value: f32) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0.0000".into();
    }
    if value != 0.0 && (value.abs() < 1e-3 || value.abs() >= 1e5) {
        return format!("{value:.4e}");
    }
    let digits = (4 - value.abs().max(1e-30).log10().floor() as i32).clamp(0, 8) as usize;
    format!("{value:.digits$}")
}

/// Steps per second over recent (time in ms, completed steps) samples.
pub fn steps_per_second(samples: &[(f64, u64)]) -> Option<f64> {
    let (first, last) = (samples.first()?, samples.last()?);
    let seconds = (last.0 - first.0) / 1000.0;
    (seconds > 0.0 && last.1 >= first.1).then(|| (last.1 - first.1) as f64 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(step: u64, loss_g: f32) -> StepMetrics {
        StepMetrics {
            step,
            loss_d_real: 0.5,
            loss_d_fake: 0.25,
            loss_g,
            d_x: 0.5,
            d_g_z1: 0.5,
            d_g_z2: 0.5,
            quality: None,
        }
    }

    #[test]
    fn short_runs_are_drawn_whole_without_non_finite_points() {
        let values = [Some(1.0), None, Some(f32::NAN), Some(2.0)];
        assert_eq!(thin(&values, 100), [0, 3]);
    }

    #[test]
    fn long_runs_keep_each_columns_extremes() {
        let mut values: Vec<Option<f32>> = (0..10_000).map(|i| Some(i as f32 * 1e-4)).collect();
        values[5_003] = Some(50.0);
        values[7_001] = Some(-50.0);
        let picked = thin(&values, 100);
        assert!(picked.len() <= 300, "{}", picked.len());
        assert!(picked.contains(&5_003) && picked.contains(&7_001));
        assert!(picked.windows(2).all(|w| w[0] < w[1]), "in order");
    }

    #[test]
    fn the_y_range_pads_and_skips_non_finite_values() {
        let a = [Some(0.0), Some(f32::INFINITY), None];
        let b = [Some(10.0)];
        let (low, high) = y_range([&a[..], &b[..]]).unwrap();
        assert!((low + 0.5).abs() < 1e-6 && (high - 10.5).abs() < 1e-6);
        let (low, high) = y_range([&[Some(1.0)][..]]).unwrap();
        assert!(low < 1.0 && high > 1.0);
        assert_eq!(y_range([&[None][..]]), None);
    }

    #[test]
    fn hovering_finds_the_nearest_step() {
        assert_eq!(index_at(0.0, 400.0, 30), Some(0));
        assert_eq!(index_at(400.0, 400.0, 30), Some(29));
        assert_eq!(index_at(1e9, 400.0, 30), Some(29));
        assert_eq!(index_at(200.0, 400.0, 3), Some(1));
        assert_eq!(index_at(10.0, 400.0, 0), None);
        assert_eq!(x_of(29, 400.0, 30), 400.0);
    }

    #[test]
    fn hover_text_shows_exact_values() {
        let text = hover_text(&LOSSES, &metrics(12, 0.693_8));
        assert_eq!(text, "step 12: loss_d 0.75000, loss_g 0.69380");
        assert_eq!(
            hover_text(&QUALITY, &metrics(3, 1.0)),
            "step 3: quality (MMD²) -"
        );
        assert_eq!(exact(12.345_67), "12.346");
        assert_eq!(exact(2.5e-5), "2.5000e-5");
        assert_eq!(exact(0.0), "0.0000");
    }

    #[test]
    fn steps_per_second_over_a_window() {
        assert_eq!(steps_per_second(&[(0.0, 0), (2000.0, 10)]), Some(5.0));
        assert_eq!(steps_per_second(&[(0.0, 3)]), None);
    }
}

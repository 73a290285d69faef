//! A run's settings as the page's URL carries them, and the slider scales.
//!
//! The query string holds everything that fixes a run (preset, sizes,
//! seed, hyper-parameters), so a link reproduces it. Values that make no
//! sense are refused with a message naming the parameter, and the default
//! is kept in their place.

use webgan::{Hyper, ModelConfig, Preset};

/// Everything that fixes a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// The preset the sizes started from.
    pub preset: Preset,
    /// Sizes and batch (the preset's, or overridden).
    pub config: ModelConfig,
    /// Seed of the weights, the noise and the data order.
    pub seed: u64,
    /// What may change between steps.
    pub hyper: Hyper,
}

/// Which settings need a fresh run, and which apply from the next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing differs.
    None,
    /// Only hyper-parameters: the run goes on with Adam's state kept.
    Hyper,
    /// Sizes, batch or seed: the run starts again.
    Restart,
}

impl Settings {
    /// The preset's sizes, seed 1 and PyTorch's hyper-parameters.
    pub fn new(preset: Preset) -> Self {
        Self {
            preset,
            config: preset.config(),
            seed: 1,
            hyper: Hyper::default(),
        }
    }

    /// Reads a query string (`?preset=tiny&lr_g=1e-3`, the `?` optional).
    /// Unknown keys are ignored; each bad value leaves the default in place
    /// and adds a message to the second element.
    pub fn from_query(query: &str, default_preset: Preset) -> (Self, Vec<String>) {
        let pairs = query_pairs(query);
        let mut errors = Vec::new();
        let preset = match lookup(&pairs, "preset") {
            Some(name) => name.parse().unwrap_or_else(|e: webgan::GanError| {
                errors.push(format!("preset: {}", strip_prefix(&e.to_string())));
                default_preset
            }),
            None => default_preset,
        };
        let mut settings = Settings::new(preset);
        for (key, value) in &pairs {
            if let Err(message) = settings.set(key, value) {
                errors.push(message);
            }
        }
        (settings, errors)
    }

    /// Sets one parameter by its URL name, refusing values that make no
    /// sense; the settings are unchanged on error. Unknown names are
    /// ignored (`preset` is read by [`Settings::from_query`]).
    ///
    /// # Errors
    ///
    /// A message naming the parameter and what it accepts.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let mut next = *self;
        match key {
            "batch" => next.config.batch = parse(key, value)?,
            "nz" => next.config.nz = parse(key, value)?,
            "ngf" => next.config.ngf = parse(key, value)?,
            "ndf" => next.config.ndf = parse(key, value)?,
            "seed" => next.seed = parse(key, value)?,
            "lr_g" => next.hyper.lr_g = parse(key, value)?,
            "lr_d" => next.hyper.lr_d = parse(key, value)?,
            "beta1" => next.hyper.beta1 = parse(key, value)?,
            "d_steps" => next.hyper.d_steps = parse(key, value)?,
            "loss" => {
                next.hyper.loss = value.parse().map_err(|e: webgan::GanError| {
                    format!("loss: {}", strip_prefix(&e.to_string()))
                })?
            }
            _ => return Ok(()),
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Switches to a preset's sizes and batch, keeping seed and hyper.
    pub fn with_preset(self, preset: Preset) -> Self {
        Self {
            preset,
            config: preset.config(),
            ..self
        }
    }

    /// Checks sizes and hyper-parameters, as the trainer will.
    ///
    /// # Errors
    ///
    /// The first value out of range, in words.
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.config;
        for (key, value) in [
            ("batch", c.batch),
            ("nz", c.nz),
            ("ngf", c.ngf),
            ("ndf", c.ndf),
        ] {
            let (low, high) = size_range(key);
            if !(low..=high).contains(&value) {
                return Err(refusal(key, &value.to_string()));
            }
        }
        let h = &self.hyper;
        for (key, lr) in [("lr_g", h.lr_g), ("lr_d", h.lr_d)] {
            if !(lr.is_finite() && lr > 0.0 && lr <= LR_MAX) {
                return Err(refusal(key, &lr.to_string()));
            }
        }
        if !(0.0..1.0).contains(&h.beta1) {
            return Err(refusal("beta1", &h.beta1.to_string()));
        }
        if !(1..=D_STEPS_MAX).contains(&h.d_steps) {
            return Err(refusal("d_steps", &h.d_steps.to_string()));
        }
        // The trainer's own checks, in case they grow stricter than these.
        let checked = self.config.validate().and_then(|()| self.hyper.validate());
        checked.map_err(|e| strip_prefix(&e.to_string()).to_string())
    }

    /// Notes on values the URL may set but the controls cannot show: a
    /// learning rate outside the slider's range.
    pub fn notes(&self) -> Vec<String> {
        [("lr_g", self.hyper.lr_g), ("lr_d", self.hyper.lr_d)]
            .into_iter()
            .filter(|(_, lr)| !(SLIDER_LR_MIN..=SLIDER_LR_MAX).contains(lr))
            .map(|(key, lr)| {
                format!(
                    "{key} {} is outside the slider's range ({} to {}) and is used as given; \
                     moving the slider replaces it",
                    format_lr(lr),
                    format_lr(SLIDER_LR_MIN),
                    format_lr(SLIDER_LR_MAX)
                )
            })
            .collect()
    }

    /// What moving from `self` to `next` needs.
    pub fn change_to(&self, next: &Settings) -> Change {
        if (self.config, self.seed) != (next.config, next.seed) {
            Change::Restart
        } else if self.hyper != next.hyper {
            Change::Hyper
        } else {
            Change::None
        }
    }

    /// The query string (without `?`) that reproduces these settings: the
    /// preset, the sizes that differ from it, the seed, and every
    /// hyper-parameter that differs from PyTorch's defaults.
    pub fn to_query(&self) -> String {
        let base = self.preset.config();
        let defaults = Hyper::default();
        let mut parts = vec![format!("preset={}", self.preset.name())];
        let sizes = [
            ("batch", self.config.batch, base.batch),
            ("nz", self.config.nz, base.nz),
            ("ngf", self.config.ngf, base.ngf),
            ("ndf", self.config.ndf, base.ndf),
        ];
        for (key, value, default) in sizes {
            if value != default {
                parts.push(format!("{key}={value}"));
            }
        }
        parts.push(format!("seed={}", self.seed));
        let h = &self.hyper;
        if h.lr_g != defaults.lr_g {
            parts.push(format!("lr_g={}", h.lr_g));
        }
        if h.lr_d != defaults.lr_d {
            parts.push(format!("lr_d={}", h.lr_d));
        }
        if h.beta1 != defaults.beta1 {
            parts.push(format!("beta1={}", h.beta1));
        }
        if h.d_steps != defaults.d_steps {
            parts.push(format!("d_steps={}", h.d_steps));
        }
        if h.loss != defaults.loss {
            parts.push(format!("loss={}", h.loss.name()));
        }
        parts.join("&")
    }
}

/// Each size's range, as `webgan::ModelConfig::validate` checks it (a
/// test below keeps the two in step). A size the device cannot hold is
/// refused by the trainer, with the device's limit in the message.
pub const SIZE_RANGES: [(&str, usize, usize); 4] = [
    ("batch", 2, 4096),
    ("nz", 1, 4096),
    ("ngf", 1, 1024),
    ("ndf", 1, 1024),
];

/// The range of `key` in [`SIZE_RANGES`]; `(0, 0)` for other keys.
pub fn size_range(key: &str) -> (usize, usize) {
    SIZE_RANGES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or((0, 0), |&(_, low, high)| (low, high))
}

/// The largest learning rate the trainer accepts (any above 0 up to this).
pub const LR_MAX: f32 = 1.0;
/// The most D steps per G step the trainer accepts.
pub const D_STEPS_MAX: u32 = 100;

/// The learning-rate sliders' range: narrower than the trainer's, since
/// rates beyond it make little sense for this model; the URL may still set
/// any rate the trainer accepts.
pub const SLIDER_LR_MIN: f32 = 1e-6;
/// See [`SLIDER_LR_MIN`].
pub const SLIDER_LR_MAX: f32 = 1e-1;
/// Positions of a log-scale slider: 0 to this.
pub const SLIDER_STEPS: u32 = 1000;

/// What a setting accepts, in words: "a whole number from 2 to 4096".
pub fn accepts(key: &str) -> String {
    match key {
        "batch" | "nz" | "ngf" | "ndf" => {
            let (low, high) = size_range(key);
            format!("a whole number from {low} to {high}")
        }
        "seed" => format!("a whole number from 0 to {}", u64::MAX),
        "lr_g" | "lr_d" => format!(
            "a number above 0 and at most {LR_MAX} (the slider covers {} to {}; larger or \
             smaller rates can be set in the URL)",
            format_lr(SLIDER_LR_MIN),
            format_lr(SLIDER_LR_MAX)
        ),
        "beta1" => "a number from 0 up to, but not including, 1".into(),
        "d_steps" => format!("a whole number from 1 to {D_STEPS_MAX}"),
        _ => "a valid value".into(),
    }
}

/// "batch must be a whole number from 2 to 4096, not '-3'".
fn refusal(key: &str, value: &str) -> String {
    format!("{key} must be {}, not '{value}'", accepts(key))
}

/// The value at a log-scale slider position in `0..=SLIDER_STEPS`,
/// rounded to three significant digits so that URLs stay readable.
pub fn slider_to_lr(position: u32) -> f32 {
    let t = f64::from(position.min(SLIDER_STEPS)) / f64::from(SLIDER_STEPS);
    let (low, high) = (
        f64::from(SLIDER_LR_MIN).log10(),
        f64::from(SLIDER_LR_MAX).log10(),
    );
    round_significant(10f64.powf(low + t * (high - low)), 3) as f32
}

/// The slider position nearest to a learning rate (clamped to the range).
pub fn lr_to_slider(lr: f32) -> u32 {
    let (low, high) = (
        f64::from(SLIDER_LR_MIN).log10(),
        f64::from(SLIDER_LR_MAX).log10(),
    );
    let value = f64::from(lr.clamp(SLIDER_LR_MIN, SLIDER_LR_MAX)).log10();
    ((value - low) / (high - low) * f64::from(SLIDER_STEPS)).round() as u32
}

fn round_significant(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits - 1 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

/// A learning rate for people: "2.00e-4".
pub fn format_lr(lr: f32) -> String {
    format!("{lr:.2e}")
}

/// `key=value` pairs of a query string, in order, with `+` and `%XX`
/// decoded.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// Whether the query string holds `key` (with or without a value).
pub fn has_key(query: &str, key: &str) -> bool {
    query_pairs(query).iter().any(|(k, _)| k == key)
}

/// The noise length of the TensorFlow.js peer benchmark
/// (`../shared/bench/tfjs`), whose configurations `?bench&configs=` takes.
pub const BENCH_NZ: usize = 64;

/// One model to time in `?bench`: its name in the table and its sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchModel {
    /// A preset's name, or `ngf=ndf=G,batch=B` as the peer prints it.
    pub name: String,
    /// The sizes timed.
    pub config: ModelConfig,
}

/// Reads `?bench&configs=16:32,32:64`: each `G:B` is nz 64, ngf = ndf = G
/// and batch B, the configurations the TensorFlow.js peer times.
///
/// # Errors
///
/// A message naming the entry that is not `G:B` or whose sizes are out of
/// range.
pub fn bench_configs(value: &str) -> Result<Vec<BenchModel>, String> {
    value
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let bad = || format!("configs: '{part}' is not WIDTH:BATCH (e.g. 16:32)");
            let (width, batch) = part.trim().split_once(':').ok_or_else(bad)?;
            let width: usize = width.parse().map_err(|_| bad())?;
            let batch: usize = batch.parse().map_err(|_| bad())?;
            let config = ModelConfig {
                nz: BENCH_NZ,
                ngf: width,
                ndf: width,
                batch,
            };
            config
                .validate()
                .map_err(|e| format!("configs: '{part}': {}", strip_prefix(&e.to_string())))?;
            Ok(BenchModel {
                name: format!("ngf=ndf={width},batch={batch}"),
                config,
            })
        })
        .collect()
}

fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value.trim().parse().map_err(|_| refusal(key, value))
}

/// The trainer's messages start "invalid setting: "; the page names the
/// setting itself.
fn strip_prefix(message: &str) -> &str {
    message.strip_prefix("invalid setting: ").unwrap_or(message)
}

/// What files given to the page (chosen or dropped) are taken for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Files {
    /// One `.safetensors` file: a checkpoint to continue.
    Checkpoint,
    /// An IDX image file (MNIST's format, gzipped or not): the first such.
    Idx(usize),
    /// Image files (PNG, JPEG): a data set of them.
    Images,
}

/// Sorts out what a set of file names is.
pub fn classify_files(names: &[String]) -> Files {
    let lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    if let [only] = lower.as_slice() {
        if only.ends_with(".safetensors") {
            return Files::Checkpoint;
        }
    }
    let idx = |n: &String| n.ends_with(".gz") || n.contains("idx") || n.contains("ubyte");
    match lower.iter().position(idx) {
        Some(i) => Files::Idx(i),
        None => Files::Images,
    }
}

/// "1 file", "3 files".
pub fn count_of(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// What the data files accept, in words, for messages and labels.
pub const DATA_KINDS: &str =
    "an MNIST IDX file (.idx or .gz, e.g. train-images-idx3-ubyte.gz) or PNG/JPEG images";

/// Why files given as training data cannot be one, when their names alone
/// tell: none is an IDX file or an image. `None` when some may be.
pub fn no_data_in(names: &[String]) -> Option<String> {
    let image = |n: &String| {
        let n = n.to_lowercase();
        [".png", ".jpg", ".jpeg"].iter().any(|ext| n.ends_with(ext))
    };
    if classify_files(names) != Files::Images || names.iter().any(image) {
        return None;
    }
    Some(match names {
        [only] => format!("{only} is not {DATA_KINDS}"),
        _ => format!(
            "none of the {} given is {DATA_KINDS}",
            count_of(names.len(), "file")
        ),
    })
}

/// Why a data set of `count` images cannot train with batches of `batch`.
pub fn too_few_images(count: usize, batch: usize) -> Option<String> {
    (count < batch).then(|| {
        let hint = if count >= 2 {
            format!("set batch to {count} or less first, or give more images")
        } else {
            "give at least 2 images".into()
        };
        format!(
            "{} given, fewer than one batch of {batch}: {hint}",
            count_of(count, "image")
        )
    })
}

/// An error in words, ending in a full stop. A model too large for the
/// device gets a hint: the trainer says so itself (a setting error naming
/// the device's limit and what to lower); a bare device limit from the
/// tensor layer gets the page's.
pub fn explain(error: &webgan::GanError) -> String {
    match error {
        webgan::GanError::Tensor(webgan_tensor::TensorError::Limit { .. }) => {
            format!("{error}. The model is too large for this device: lower ngf, ndf or batch.")
        }
        webgan::GanError::Config(message) => format!("{message}."),
        other => format!("{other}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_round_trips_through_the_url() {
        let (mut settings, errors) = Settings::from_query("", Preset::Tiny);
        assert!(errors.is_empty());
        assert_eq!(settings.to_query(), "preset=tiny&seed=1");
        for (key, value) in [
            ("batch", "8"),
            ("seed", "7"),
            ("lr_g", "0.001"),
            ("beta1", "0.9"),
            ("d_steps", "2"),
            ("loss", "least-squares"),
        ] {
            settings.set(key, value).unwrap();
        }
        let query = settings.to_query();
        assert_eq!(
            query,
            "preset=tiny&batch=8&seed=7&lr_g=0.001&beta1=0.9&d_steps=2&loss=least-squares"
        );
        let (again, errors) = Settings::from_query(&format!("?{query}"), Preset::Standard);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(again, settings);
    }

    #[test]
    fn bad_values_are_refused_with_a_message_and_the_default_kept() {
        let (settings, errors) = Settings::from_query(
            "preset=huge&batch=1&lr_g=-1&beta1=1&d_steps=x&loss=hinge&nz=32",
            Preset::Standard,
        );
        let mut expected = Settings::new(Preset::Standard);
        expected.config.nz = 32;
        assert_eq!(settings, expected);
        let joined = errors.join("\n");
        for needle in [
            "preset:",
            "batch must",
            "lr_g must",
            "beta1 must",
            "d_steps must",
            "loss:",
        ] {
            assert!(joined.contains(needle), "{needle} missing from {joined}");
        }
        assert!(joined.contains("tiny, standard or large"), "{joined}");
    }

    #[test]
    fn a_failed_set_changes_nothing() {
        let mut settings = Settings::new(Preset::Tiny);
        let before = settings;
        assert!(settings.set("lr_d", "NaN").is_err());
        assert!(settings.set("lr_d", "5").is_err());
        assert!(settings.set("batch", "100000").is_err());
        assert!(settings.set("seed", "-3").is_err());
        assert_eq!(settings, before);
    }

    #[test]
    fn sizes_and_seed_restart_the_run_hyper_parameters_do_not() {
        let settings = Settings::new(Preset::Tiny);
        let mut next = settings;
        assert_eq!(settings.change_to(&next), Change::None);
        next.hyper.lr_g = 1e-3;
        assert_eq!(settings.change_to(&next), Change::Hyper);
        next.seed = 2;
        assert_eq!(settings.change_to(&next), Change::Restart);
        let other = settings.with_preset(Preset::Standard);
        assert_eq!(other.config, Preset::Standard.config());
        assert_eq!(settings.change_to(&other), Change::Restart);
    }

    #[test]
    fn the_log_slider_covers_its_range_and_hits_the_default() {
        assert_eq!(slider_to_lr(0), SLIDER_LR_MIN);
        assert_eq!(slider_to_lr(SLIDER_STEPS), SLIDER_LR_MAX);
        let default = Hyper::default().lr_g;
        assert_eq!(slider_to_lr(lr_to_slider(default)), default);
        // Every position maps back to itself and values increase.
        for position in 0..=SLIDER_STEPS {
            let lr = slider_to_lr(position);
            assert!(
                lr_to_slider(lr).abs_diff(position) <= 1,
                "{position} -> {lr}"
            );
            if position > 0 {
                assert!(lr > slider_to_lr(position - 1));
            }
        }
    }

    #[test]
    fn learning_rates_read_in_scientific_notation() {
        assert_eq!(format_lr(2e-4), "2.00e-4");
        assert_eq!(format_lr(0.1), "1.00e-1");
        assert_eq!(format_lr(1.0), "1.00e0");
    }

    #[test]
    fn files_are_told_apart_by_name() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            classify_files(&names(&["run.safetensors"])),
            Files::Checkpoint
        );
        assert_eq!(
            classify_files(&names(&["a.png", "train-images-idx3-ubyte.gz"])),
            Files::Idx(1)
        );
        assert_eq!(
            classify_files(&names(&["t10k-images.idx3-ubyte"])),
            Files::Idx(0)
        );
        assert_eq!(classify_files(&names(&["a.png", "b.JPG"])), Files::Images);
    }

    #[test]
    fn the_size_ranges_are_the_trainers() {
        for (key, low, high) in SIZE_RANGES {
            let valid = |value: usize| {
                let mut settings = Settings::new(Preset::Tiny);
                settings.set(key, &value.to_string()).is_ok() && settings.config.validate().is_ok()
            };
            assert!(valid(low) && valid(high), "{key}: {low} to {high}");
            let mut config = Preset::Tiny.config();
            for (k, value) in [(key, low - 1), (key, high + 1)] {
                match k {
                    "batch" => config.batch = value,
                    "nz" => config.nz = value,
                    "ngf" => config.ngf = value,
                    _ => config.ndf = value,
                }
                assert!(
                    config.validate().is_err(),
                    "the trainer takes {key} {value}"
                );
            }
        }
        let mut hyper = Hyper {
            lr_g: LR_MAX,
            d_steps: D_STEPS_MAX,
            ..Hyper::default()
        };
        assert!(hyper.validate().is_ok());
        hyper.d_steps = D_STEPS_MAX + 1;
        assert!(hyper.validate().is_err());
    }

    #[test]
    fn refusals_say_what_is_allowed() {
        let mut settings = Settings::new(Preset::Tiny);
        assert_eq!(
            settings.set("batch", "-3").unwrap_err(),
            "batch must be a whole number from 2 to 4096, not '-3'"
        );
        let seed = settings.set("seed", "99999999999999999999999").unwrap_err();
        assert!(seed.contains("from 0 to 18446744073709551615"), "{seed}");
        let d_steps = settings.set("d_steps", "101").unwrap_err();
        assert!(d_steps.contains("from 1 to 100"), "{d_steps}");
        let lr = settings.set("lr_g", "2").unwrap_err();
        assert!(lr.contains("at most 1") && lr.contains("slider"), "{lr}");
    }

    #[test]
    fn the_url_may_set_rates_beyond_the_slider_with_a_note() {
        let (settings, errors) = Settings::from_query("lr_g=0.5&batch=4096", Preset::Tiny);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(settings.hyper.lr_g, 0.5);
        assert_eq!(settings.config.batch, 4096);
        let notes = settings.notes();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("lr_g 5.00e-1 is outside"), "{notes:?}");
        assert!(Settings::new(Preset::Tiny).notes().is_empty());
    }

    #[test]
    fn data_messages_name_idx_files_and_count_in_words() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let one = no_data_in(&names(&["notes.txt"])).unwrap();
        assert!(
            one.starts_with("notes.txt is not an MNIST IDX file"),
            "{one}"
        );
        assert!(one.contains("train-images-idx3-ubyte.gz"), "{one}");
        let two = no_data_in(&names(&["a.txt", "b.doc"])).unwrap();
        assert!(two.starts_with("none of the 2 files given"), "{two}");
        assert_eq!(no_data_in(&names(&["a.txt", "b.png"])), None);
        assert_eq!(no_data_in(&names(&["train-images-idx3-ubyte.gz"])), None);
        assert_eq!(count_of(1, "file"), "1 file");
        let few = too_few_images(3, 32).unwrap();
        assert_eq!(
            few,
            "3 images given, fewer than one batch of 32: set batch to 3 or less first, or give \
             more images"
        );
        assert!(too_few_images(1, 8).unwrap().starts_with("1 image given"));
        assert_eq!(too_few_images(32, 32), None);
    }

    #[test]
    fn a_model_too_large_for_the_device_gets_a_hint() {
        let limit = webgan::GanError::Tensor(webgan_tensor::TensorError::Limit {
            op: "conv_transpose2d",
            what: "the weight",
            needed: 1 << 30,
            limit: 1 << 27,
        });
        let text = explain(&limit);
        assert!(text.contains("the device allows at most"), "{text}");
        assert!(text.ends_with("lower ngf, ndf or batch."), "{text}");
        let other = webgan::GanError::Config("nz must be between 1 and 4096".into());
        assert_eq!(explain(&other), "nz must be between 1 and 4096.");
    }

    #[test]
    fn query_pairs_decode_and_find_flags() {
        let pairs = query_pairs("?a=1&b=x%2By+z&bench");
        assert_eq!(pairs[1], ("b".into(), "x+y z".into()));
        assert!(has_key("?preset=tiny&bench", "bench"));
        assert!(!has_key("?preset=tiny", "bench"));
    }

    #[test]
    fn bench_configs_are_the_peers_sizes() {
        let models = bench_configs("16:32, 32:64").unwrap();
        assert_eq!(models.len(), 2);
        assert_eq!(models[0].name, "ngf=ndf=16,batch=32");
        assert_eq!(
            models[1].config,
            ModelConfig {
                nz: 64,
                ngf: 32,
                ndf: 32,
                batch: 64
            }
        );
        let error = bench_configs("16:32,wide").unwrap_err();
        assert!(error.contains("'wide' is not WIDTH:BATCH"), "{error}");
        let error = bench_configs("16:1").unwrap_err();
        assert!(error.contains("batch must be between 2"), "{error}");
    }
}

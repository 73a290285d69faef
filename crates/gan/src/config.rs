//! Model sizes, presets and the training hyper-parameters.

use std::fmt;
use std::str::FromStr;

use crate::error::{GanError, Result};

/// Image channels (MNIST is grayscale).
pub const NC: usize = 1;
/// Image side in pixels.
pub const IMAGE_SIZE: usize = 28;

/// The sizes that fix the architecture of `MODEL.md`, and the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    /// Length of the noise vector z.
    pub nz: usize,
    /// Generator width (channels of its last hidden layer).
    pub ngf: usize,
    /// Discriminator width (channels of its first layer).
    pub ndf: usize,
    /// Images per batch.
    pub batch: usize,
}

impl ModelConfig {
    /// Checks that every size is usable.
    ///
    /// # Errors
    ///
    /// [`GanError::Config`] naming the first size out of range.
    pub fn validate(&self) -> Result<()> {
        let checks = [
            ("nz", self.nz, 1, 4096),
            ("ngf", self.ngf, 1, 1024),
            ("ndf", self.ndf, 1, 1024),
            ("batch", self.batch, 2, 4096),
        ];
        for (name, value, low, high) in checks {
            if !(low..=high).contains(&value) {
                return Err(GanError::Config(format!(
                    "{name} must be between {low} and {high}, got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// The presets of `MODEL.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// nz 32, ngf = ndf = 16, batch 32: for software adapters.
    Tiny,
    /// nz 64, ngf = ndf = 32, batch 64.
    Standard,
    /// nz 100, ngf = ndf = 64, batch 128.
    Large,
}

impl Preset {
    /// Every preset, smallest first.
    pub const ALL: [Preset; 3] = [Preset::Tiny, Preset::Standard, Preset::Large];

    /// The preset's sizes.
    pub fn config(self) -> ModelConfig {
        match self {
            Preset::Tiny => ModelConfig {
                nz: 32,
                ngf: 16,
                ndf: 16,
                batch: 32,
            },
            Preset::Standard => ModelConfig {
                nz: 64,
                ngf: 32,
                ndf: 32,
                batch: 64,
            },
            Preset::Large => ModelConfig {
                nz: 100,
                ngf: 64,
                ndf: 64,
                batch: 128,
            },
        }
    }

    /// The preset's name as written on the command line and in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Standard => "standard",
            Preset::Large => "large",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = GanError;

    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                GanError::Config(format!("unknown preset '{s}'; use tiny, standard or large"))
            })
    }
}

/// The generator's loss (the discriminator's follows from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GanLoss {
    /// G minimises bce(D(G(z)), 1) = -E[log D(G(z))] (the default).
    #[default]
    NonSaturating,
    /// G minimises -bce(D(G(z)), 0) = E[log(1 - D(G(z)))], Goodfellow's
    /// original, which stalls when D wins early.
    Minimax,
    /// LSGAN: D regresses its raw output to 1 (real) and 0 (fake) with mean
    /// squared error; G pushes it to 1.
    LeastSquares,
}

impl GanLoss {
    /// Every loss.
    pub const ALL: [GanLoss; 3] = [
        GanLoss::NonSaturating,
        GanLoss::Minimax,
        GanLoss::LeastSquares,
    ];

    /// The loss's name on the command line and in URLs.
    pub fn name(self) -> &'static str {
        match self {
            GanLoss::NonSaturating => "non-saturating",
            GanLoss::Minimax => "minimax",
            GanLoss::LeastSquares => "least-squares",
        }
    }
}

impl fmt::Display for GanLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GanLoss {
    type Err = GanError;

    fn from_str(s: &str) -> Result<Self> {
        GanLoss::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                GanError::Config(format!(
                    "unknown loss '{s}'; use non-saturating, minimax or least-squares"
                ))
            })
    }
}

/// What may change between any two steps without restarting the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hyper {
    pub lr_g: f32,
    pub lr_d: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Discriminator steps per generator step.
    pub d_steps: u32,
    pub loss: GanLoss,
}

impl Default for Hyper {
    /// PyTorch's DCGAN example: Adam(2e-4, (0.5, 0.999), 1e-8), one D step
    /// per G step, non-saturating BCE.
    fn default() -> Self {
        Self {
            lr_g: 2e-4,
            lr_d: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            d_steps: 1,
            loss: GanLoss::NonSaturating,
        }
    }
}

impl Hyper {
    /// Checks every value.
    ///
    /// # Errors
    ///
    /// [`GanError::Config`] naming the first value out of range.
    pub fn validate(&self) -> Result<()> {
        let lr_ok = |lr: f32| lr.is_finite() && lr > 0.0 && lr <= 1.0;
        let fail = |message: String| Err(GanError::Config(message));
        if !lr_ok(self.lr_g) || !lr_ok(self.lr_d) {
            return fail(format!(
                "learning rates must be in (0, 1], got lr_g {} and lr_d {}",
                self.lr_g, self.lr_d
            ));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return fail(format!(
                "betas must be in [0, 1), got {} and {}",
                self.beta1, self.beta2
            ));
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return fail(format!("eps must be positive, got {}", self.eps));
        }
        if !(1..=100).contains(&self.d_steps) {
            return fail(format!(
                "D steps per G step must be 1 to 100, got {}",
                self.d_steps
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_say_what_is_allowed() {
        for preset in Preset::ALL {
            assert_eq!(preset.name().parse::<Preset>().unwrap(), preset);
        }
        for loss in GanLoss::ALL {
            assert_eq!(loss.name().parse::<GanLoss>().unwrap(), loss);
        }
        let error = "huge".parse::<Preset>().unwrap_err().to_string();
        assert!(error.contains("tiny, standard or large"), "{error}");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert!(Hyper {
            lr_g: 0.0,
            ..Hyper::default()
        }
        .validate()
        .is_err());
        assert!(Hyper {
            beta1: 1.0,
            ..Hyper::default()
        }
        .validate()
        .is_err());
        assert!(Hyper {
            d_steps: 0,
            ..Hyper::default()
        }
        .validate()
        .is_err());
        assert!(Hyper::default().validate().is_ok());
        let bad = ModelConfig {
            batch: 1,
            ..Preset::Tiny.config()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("batch"));
    }
}

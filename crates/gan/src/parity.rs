//! `webgan parity FILE`: one iteration from a PyTorch fixture's state and
//! inputs (`MODEL.md`, "Parity fixture"), every tensor and scalar compared
//! with what PyTorch computed.

use safetensors::{Dtype, SafeTensors};
use webgan_tensor::GpuContext;

use crate::checkpoint::{collect_network_state, in_file};
use crate::config::{GanLoss, Hyper, ModelConfig};
use crate::error::{GanError, Result};
use crate::model::Network;
use crate::trainer::Trainer;

/// Tolerances of issue 3.
pub mod limits {
    /// Gradients: relative to the largest gradient magnitude of the tensor.
    pub const GRAD: f64 = 1e-4;
    /// Losses and metrics: relative.
    pub const METRIC: f64 = 1e-4;
    /// Running statistics: absolute.
    pub const RUNNING: f64 = 1e-5;
    /// Parameters after the step where the gradient is not tiny: absolute.
    pub const PARAM: f64 = 1e-5;
    /// A gradient below this fraction of its tensor's largest is tiny, and
    /// Adam's first step may move the weight by up to 2 lr either way.
    pub const TINY_GRAD: f64 = 1e-3;
}

/// One compared tensor or scalar.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub name: String,
    /// Largest absolute error.
    pub max_abs: f64,
    /// Largest error relative to the reference value's magnitude.
    pub max_rel: f64,
    /// Whether it is within its limit.
    pub ok: bool,
    /// The limit, in words.
    pub limit: String,
}

/// The result of a parity run.
pub struct Report {
    pub comparisons: Vec<Comparison>,
}

impl Report {
    /// True when every comparison is within its limit.
    pub fn passed(&self) -> bool {
        self.comparisons.iter().all(|c| c.ok)
    }
}

struct Fixture<'a> {
    name: String,
    tensors: SafeTensors<'a>,
    meta: std::collections::HashMap<String, String>,
}

impl<'a> Fixture<'a> {
    fn parse(name: &str, bytes: &'a [u8]) -> Result<Self> {
        let error = |e: String| GanError::File {
            path: name.to_string(),
            reason: e,
        };
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| error(format!("not a safetensors file ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| error(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        Ok(Self {
            name: name.to_string(),
            tensors,
            meta,
        })
    }

    fn meta<T: std::str::FromStr>(&self, key: &str) -> Result<T> {
        let value = self
            .meta
            .get(key)
            .ok_or_else(|| self.error(format!("metadata lacks '{key}': not a parity fixture (tools/pytorch/parity.py writes them)")))?;
        value
            .parse()
            .map_err(|_| self.error(format!("metadata '{key}' = '{value}' is not valid")))
    }

    fn error(&self, reason: String) -> GanError {
        GanError::File {
            path: self.name.clone(),
            reason,
        }
    }

    fn view(
        &self,
        key: &str,
        shape: &[usize],
        dtype: Dtype,
    ) -> Result<safetensors::tensor::TensorView<'_>> {
        let view = self
            .tensors
            .tensor(key)
            .map_err(|_| self.error(format!("has no tensor '{key}'")))?;
        if view.shape() != shape || view.dtype() != dtype {
            return Err(self.error(format!(
                "tensor '{key}' is {:?} {:?}, expected {dtype:?} {shape:?}",
                view.dtype(),
                view.shape()
            )));
        }
        Ok(view)
    }

    fn values(&self, key: &str) -> Result<Vec<f64>> {
        let view = self
            .tensors
            .tensor(key)
            .map_err(|_| self.error(format!("has no tensor '{key}'")))?;
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect())
    }
}

fn compare(
    name: String,
    got: &[f32],
    want: &[f64],
    limit: impl Fn(usize, f64) -> f64,
    words: String,
) -> Comparison {
    let (mut max_abs, mut max_rel, mut ok) = (0.0f64, 0.0f64, got.len() == want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let error = (g as f64 - w).abs();
        max_abs = max_abs.max(error);
        max_rel = max_rel.max(error / w.abs().max(1e-30));
        ok &= error <= limit(i, w) || (error.is_nan() && w.is_nan());
    }
    Comparison {
        name,
        max_abs,
        max_rel,
        ok,
        limit: words,
    }
}

fn max_magnitude(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Runs one iteration from the fixture `bytes` (named `name`) and compares.
///
/// # Errors
///
/// An unreadable fixture, GPU errors.
pub async fn run(ctx: &GpuContext, name: &str, bytes: &[u8]) -> Result<Report> {
    let fixture = Fixture::parse(name, bytes)?;
    let config = ModelConfig {
        nz: fixture.meta("nz")?,
        ngf: fixture.meta("ngf")?,
        ndf: fixture.meta("ndf")?,
        batch: fixture.meta("batch")?,
    };
    let lr: f32 = fixture.meta("lr")?;
    let loss = match fixture.meta::<String>("loss")?.as_str() {
        "bce" => GanLoss::NonSaturating,
        "minimax" => GanLoss::Minimax,
        "lsgan" => GanLoss::LeastSquares,
        other => return Err(fixture.error(format!("unknown loss '{other}'"))),
    };
    let hyper = Hyper {
        lr_g: lr,
        lr_d: lr,
        beta1: fixture.meta("beta1")?,
        beta2: fixture.meta("beta2")?,
        eps: fixture.meta("eps")?,
        d_steps: 1,
        loss,
    };
    // The trainer needs a data set; the fixture supplies the batch itself.
    let data = crate::data::bundled_mnist()?;
    let mut trainer = Trainer::new(ctx, config, hyper, fixture.meta("seed")?, data)?;

    // The fixture's initial state and inputs.
    let view = |key: &str, shape: &[usize], dtype| fixture.view(key, shape, dtype);
    let g_state =
        collect_network_state(&trainer.g, false, view, "init.generator.").map_err(in_file(name))?;
    let d_state = collect_network_state(&trainer.d, false, view, "init.discriminator.")
        .map_err(in_file(name))?;
    trainer.g.batches_tracked = g_state.apply(ctx)?;
    trainer.d.batches_tracked = d_state.apply(ctx)?;
    let as_f32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<_>>();
    let real = as_f32(fixture.values("input.real")?);
    let noise = as_f32(fixture.values("input.noise")?);
    trainer.set_inputs(&real, &noise)?;

    let mut comparisons = Vec::new();
    trainer.parity_d_step()?;
    comparisons.extend(compare_grads(ctx, &fixture, &trainer.d).await?);
    trainer.parity_g_step()?;
    comparisons.extend(compare_grads(ctx, &fixture, &trainer.g).await?);
    trainer.flush().await?;
    let metrics = trainer.take_metrics();
    let m = metrics
        .first()
        .ok_or_else(|| GanError::Gpu("the parity step reported no metrics".into()))?;
    let scalars = [
        ("loss_d_real", m.loss_d_real),
        ("loss_d_fake", m.loss_d_fake),
        ("loss_g", m.loss_g),
        ("d_x", m.d_x),
        ("d_g_z1", m.d_g_z1),
        ("d_g_z2", m.d_g_z2),
    ];
    for (key, got) in scalars {
        let want = fixture.values(&format!("expect.{key}"))?;
        let limit = |_, w: f64| limits::METRIC * w.abs();
        comparisons.push(compare(
            key.to_string(),
            &[got],
            &want,
            limit,
            "1e-4 relative".into(),
        ));
    }
    comparisons.extend(compare_state(ctx, &fixture, &trainer.g, lr).await?);
    comparisons.extend(compare_state(ctx, &fixture, &trainer.d, lr).await?);
    Ok(Report { comparisons })
}

async fn compare_grads(
    ctx: &GpuContext,
    fixture: &Fixture<'_>,
    net: &Network,
) -> Result<Vec<Comparison>> {
    let mut out = Vec::new();
    for p in &net.params {
        let key = format!("grad.{}.{}", net.name, p.key);
        let want = fixture.values(&key)?;
        let got = ctx.read_f32(&p.grad).await?;
        let scale = max_magnitude(&want);
        let words = format!(
            "{:.0e} x max |grad| = {:.2e}",
            limits::GRAD,
            limits::GRAD * scale
        );
        out.push(compare(
            key,
            &got,
            &want,
            |_, _| limits::GRAD * scale,
            words,
        ));
    }
    Ok(out)
}

async fn compare_state(
    ctx: &GpuContext,
    fixture: &Fixture<'_>,
    net: &Network,
    lr: f32,
) -> Result<Vec<Comparison>> {
    let mut out = Vec::new();
    for (key, tensor) in net.state_tensors() {
        let name = format!("expect.{}.{key}", net.name);
        let want = fixture.values(&name)?;
        let got = ctx.read_f32(tensor).await?;
        if key.contains("running_") {
            let words = format!("{:.0e} absolute", limits::RUNNING);
            out.push(compare(name, &got, &want, |_, _| limits::RUNNING, words));
            continue;
        }
        let grad = fixture.values(&format!("grad.{}.{key}", net.name))?;
        let tiny = limits::TINY_GRAD * max_magnitude(&grad);
        let loose = 2.0 * lr as f64;
        let limit = |i: usize, _| {
            if grad[i].abs() > tiny {
                limits::PARAM
            } else {
                loose
            }
        };
        let words = format!(
            "{:.0e} absolute, {loose:.0e} where |grad| <= {tiny:.1e}",
            limits::PARAM
        );
        out.push(compare(name, &got, &want, limit, words));
    }
    for &(layer, count) in &net.batches_tracked {
        let name = format!("expect.{}.main.{layer}.num_batches_tracked", net.name);
        let view = fixture.view(&name, &[], Dtype::I64)?;
        let want = i64::from_le_bytes(view.data().try_into().expect("8 bytes")) as f64;
        out.push(compare(
            name,
            &[count as f32],
            &[want],
            |_, _| 0.0,
            "exact".into(),
        ));
    }
    Ok(out)
}

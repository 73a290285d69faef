//! The safetensors checkpoint of `MODEL.md`: both networks' `state_dict()`
//! under `generator.` and `discriminator.`, Adam's moments under
//! `optimizer.<network>.<key>.exp_avg` / `.exp_avg_sq`, and the run's
//! settings, counters and data position in the metadata, so that a run
//! resumes exactly and either network loads into PyTorch with
//! `load_state_dict`.
//!
//! Loading checks the whole file against the model before it writes
//! anything, so a bad file leaves the current run as it was.

use std::collections::HashMap;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use webgan_tensor::Tensor;

use crate::config::{GanLoss, Hyper, ModelConfig, NC};
use crate::data::BatchPosition;
use crate::error::{GanError, Result};
use crate::model::Network;
use crate::trainer::{Counters, Trainer};

/// Format version written to the metadata.
const FORMAT: &str = "webgan-checkpoint-1";

/// Everything a checkpoint holds besides the tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    pub config: ModelConfig,
    pub hyper: Hyper,
    pub seed: u64,
    pub counters: Counters,
    pub position: BatchPosition,
    pub quality_every: u64,
}

/// A parsed checkpoint: its run information and where its bytes are.
pub struct Checkpoint<'a> {
    pub info: RunInfo,
    tensors: SafeTensors<'a>,
    name: String,
}

fn file_error(name: &str, reason: impl Into<String>) -> GanError {
    GanError::File {
        path: name.to_string(),
        reason: reason.into(),
    }
}

impl<'a> Checkpoint<'a> {
    /// Parses `bytes` (from a file called `name`, for messages).
    ///
    /// # Errors
    ///
    /// [`GanError::File`] when the bytes are not safetensors or lack the
    /// run information.
    pub fn parse(name: &str, bytes: &'a [u8]) -> Result<Self> {
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| file_error(name, format!("not a safetensors file, or truncated ({e})")))?;
        let (_, metadata) = SafeTensors::read_metadata(bytes)
            .map_err(|e| file_error(name, format!("unreadable header ({e})")))?;
        let meta = metadata.metadata().clone().unwrap_or_default();
        let info = run_info(name, &meta)?;
        Ok(Self {
            info,
            tensors,
            name: name.to_string(),
        })
    }

    fn tensor(&self, key: &str, shape: &[usize], dtype: Dtype) -> Result<TensorView<'_>> {
        let view = self.tensors.tensor(key).map_err(|_| {
            file_error(
                &self.name,
                format!("has no tensor '{key}'; is it a webgan checkpoint of this architecture?"),
            )
        })?;
        if view.shape() != shape || view.dtype() != dtype {
            return Err(file_error(
                &self.name,
                format!(
                    "tensor '{key}' is {:?} {:?}, the model needs {dtype:?} {shape:?}",
                    view.dtype(),
                    view.shape()
                ),
            ));
        }
        Ok(view)
    }
}

fn get<T: std::str::FromStr>(name: &str, meta: &HashMap<String, String>, key: &str) -> Result<T> {
    let value = meta.get(key).ok_or_else(|| {
        file_error(
            name,
            format!("metadata lacks '{key}'; is it a webgan checkpoint?"),
        )
    })?;
    value
        .parse()
        .map_err(|_| file_error(name, format!("metadata '{key}' = '{value}' is not valid")))
}

fn run_info(name: &str, meta: &HashMap<String, String>) -> Result<RunInfo> {
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(file_error(
            name,
            format!("metadata 'format' is not '{FORMAT}'; not a webgan checkpoint"),
        ));
    }
    let loss: String = get(name, meta, "loss")?;
    Ok(RunInfo {
        config: ModelConfig {
            nz: get(name, meta, "nz")?,
            ngf: get(name, meta, "ngf")?,
            ndf: get(name, meta, "ndf")?,
            batch: get(name, meta, "batch")?,
        },
        hyper: Hyper {
            lr_g: get(name, meta, "lr_g")?,
            lr_d: get(name, meta, "lr_d")?,
            beta1: get(name, meta, "beta1")?,
            beta2: get(name, meta, "beta2")?,
            eps: get(name, meta, "eps")?,
            d_steps: get(name, meta, "d_steps")?,
            loss: loss
                .parse::<GanLoss>()
                .map_err(|e| file_error(name, e.to_string()))?,
        },
        seed: get(name, meta, "seed")?,
        counters: Counters {
            step: get(name, meta, "step")?,
            t_d: get(name, meta, "adam_step_d")?,
            t_g: get(name, meta, "adam_step_g")?,
            noise_draws: get(name, meta, "noise_draws")?,
        },
        position: BatchPosition {
            epoch: get(name, meta, "data_epoch")?,
            batch: get(name, meta, "data_batch")?,
        },
        quality_every: get(name, meta, "quality_every")?,
    })
}

fn metadata(info: &RunInfo) -> HashMap<String, String> {
    let (c, h, k) = (&info.config, &info.hyper, &info.counters);
    [
        ("format", FORMAT.to_string()),
        ("nz", c.nz.to_string()),
        ("ngf", c.ngf.to_string()),
        ("ndf", c.ndf.to_string()),
        ("nc", NC.to_string()),
        ("batch", c.batch.to_string()),
        ("lr_g", h.lr_g.to_string()),
        ("lr_d", h.lr_d.to_string()),
        ("beta1", h.beta1.to_string()),
        ("beta2", h.beta2.to_string()),
        ("eps", h.eps.to_string()),
        ("d_steps", h.d_steps.to_string()),
        ("loss", h.loss.name().to_string()),
        ("seed", info.seed.to_string()),
        ("step", k.step.to_string()),
        ("adam_step_d", k.t_d.to_string()),
        ("adam_step_g", k.t_g.to_string()),
        ("noise_draws", k.noise_draws.to_string()),
        ("data_epoch", info.position.epoch.to_string()),
        ("data_batch", info.position.batch.to_string()),
        ("quality_every", info.quality_every.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// One tensor to write: name, shape, dtype and little-endian bytes.
pub(crate) struct Entry {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub bytes: Vec<u8>,
}

impl safetensors::View for &Entry {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Reads a network's state (and optionally Adam's moments) back from the
/// GPU as checkpoint entries named `<prefix><key>`.
pub(crate) async fn network_entries(
    ctx: &webgan_tensor::GpuContext,
    net: &Network,
    prefix: &str,
    with_optimizer: bool,
) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let f32_entry = |name: String, shape: &[usize], values: Vec<f32>| Entry {
        name,
        shape: shape.to_vec(),
        dtype: Dtype::F32,
        bytes: bytemuck::cast_slice(&values).to_vec(),
    };
    // The network's state, then (when asked) Adam's two moments per
    // parameter, read back together.
    let state = net.state_tensors();
    let mut tensors: Vec<&Tensor> = state.iter().map(|(_, t)| *t).collect();
    if with_optimizer {
        tensors.extend(net.params.iter().flat_map(|p| [&p.m, &p.v]));
    }
    let mut values = ctx.read_f32_many(&tensors).await?.into_iter();
    let mut next = || values.next().expect("one result per tensor read");

    for (key, tensor) in state {
        entries.push(f32_entry(format!("{prefix}{key}"), tensor.shape(), next()));
        if let Some(index) = key.strip_suffix(".running_var") {
            let layer: usize = index
                .trim_start_matches("main.")
                .parse()
                .expect("main.<index>");
            let count = net
                .batches_tracked
                .iter()
                .find(|(i, _)| *i == layer)
                .map_or(0, |c| c.1);
            entries.push(Entry {
                name: format!("{prefix}{index}.num_batches_tracked"),
                shape: Vec::new(),
                dtype: Dtype::I64,
                bytes: (count as i64).to_le_bytes().to_vec(),
            });
        }
    }
    if with_optimizer {
        for p in &net.params {
            let optimizer = format!("optimizer.{}.{}", net.name, p.key);
            entries.push(f32_entry(
                format!("{optimizer}.exp_avg"),
                p.m.shape(),
                next(),
            ));
            entries.push(f32_entry(
                format!("{optimizer}.exp_avg_sq"),
                p.v.shape(),
                next(),
            ));
        }
    }
    Ok(entries)
}

/// What a network's state in a file will set: (tensor, values) pairs and
/// the batches-tracked counts, all checked before anything is written.
pub(crate) struct NetworkState<'n> {
    writes: Vec<(&'n webgan_tensor::Tensor, Vec<f32>)>,
    tracked: Vec<(usize, u64)>,
}

fn f32_values(view: &TensorView<'_>) -> Vec<f32> {
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect()
}

/// The values of a tensor, refused if one is NaN or infinite: such a state
/// cannot train or sample.
fn finite_values(name: &str, view: &TensorView<'_>) -> Result<Vec<f32>> {
    let values = f32_values(view);
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(GanError::File {
            path: String::new(),
            reason: format!(
                "tensor '{name}' holds a non-finite value ({} at index {i})",
                values[i]
            ),
        }),
        None => Ok(values),
    }
}

/// Names the file in an error that does not name one yet.
pub(crate) fn in_file(name: &str) -> impl Fn(GanError) -> GanError + '_ {
    move |error| match error {
        GanError::File { path, reason } if path.is_empty() => GanError::File {
            path: name.to_string(),
            reason,
        },
        other => other,
    }
}

/// Checks and collects a network's state from `get`, which looks a key up
/// (with its shape and dtype) in a file.
pub(crate) fn collect_network_state<'n, 'v>(
    net: &'n Network,
    with_optimizer: bool,
    get: impl Fn(&str, &[usize], Dtype) -> Result<TensorView<'v>>,
    prefix: &str,
) -> Result<NetworkState<'n>> {
    let mut state = NetworkState {
        writes: Vec::new(),
        tracked: Vec::new(),
    };
    for (key, tensor) in net.state_tensors() {
        let name = format!("{prefix}{key}");
        let view = get(&name, tensor.shape(), Dtype::F32)?;
        state.writes.push((tensor, finite_values(&name, &view)?));
    }
    for &(layer, _) in &net.batches_tracked {
        let view = get(
            &format!("{prefix}main.{layer}.num_batches_tracked"),
            &[],
            Dtype::I64,
        )?;
        let count = i64::from_le_bytes(view.data().try_into().expect("8 bytes"));
        state.tracked.push((layer, count.max(0) as u64));
    }
    if with_optimizer {
        for p in &net.params {
            let optimizer = format!("optimizer.{}.{}", net.name, p.key);
            let (m_name, v_name) = (
                format!("{optimizer}.exp_avg"),
                format!("{optimizer}.exp_avg_sq"),
            );
            let m = get(&m_name, p.m.shape(), Dtype::F32)?;
            state.writes.push((&p.m, finite_values(&m_name, &m)?));
            let v = get(&v_name, p.v.shape(), Dtype::F32)?;
            state.writes.push((&p.v, finite_values(&v_name, &v)?));
        }
    }
    Ok(state)
}

impl NetworkState<'_> {
    /// Writes the collected values (queued before the next submission).
    pub(crate) fn apply(self, ctx: &webgan_tensor::GpuContext) -> Result<Vec<(usize, u64)>> {
        for (tensor, values) in self.writes {
            tensor.write(ctx, &values)?;
        }
        Ok(self.tracked)
    }
}

impl Trainer {
    /// The run as checkpoint bytes (reads the GPU state back; the run goes
    /// on afterwards).
    ///
    /// # Errors
    ///
    /// Readback errors.
    pub async fn save_checkpoint(&self) -> Result<Vec<u8>> {
        let ctx = self.context().clone();
        let mut entries = network_entries(&ctx, &self.g, "generator.", true).await?;
        entries.extend(network_entries(&ctx, &self.d, "discriminator.", true).await?);
        let info = self.run_info();
        let views = entries.iter().map(|e| (e.name.clone(), e));
        safetensors::serialize(views, Some(metadata(&info)))
            .map_err(|e| GanError::Gpu(format!("could not serialise the checkpoint: {e}")))
    }

    /// Everything but the tensors, as a checkpoint stores it.
    pub fn run_info(&self) -> RunInfo {
        RunInfo {
            config: self.config(),
            hyper: self.hyper,
            seed: self.seed(),
            counters: self.counters,
            position: self.batcher.position(),
            quality_every: self.quality_every,
        }
    }

    /// Continues from a checkpoint of the same architecture: weights,
    /// running statistics, Adam's moments and step counts, hyper-parameters,
    /// counters and the data position. Checks everything first; on any
    /// error the run is left as it was.
    ///
    /// # Errors
    ///
    /// [`GanError::File`] for a file that is not a webgan checkpoint, is
    /// truncated, or was made for other sizes (the message names both).
    pub fn load_checkpoint(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let checkpoint = Checkpoint::parse(name, bytes)?;
        let info = checkpoint.info.clone();
        let ours = self.config();
        let theirs = info.config;
        if (theirs.nz, theirs.ngf, theirs.ndf) != (ours.nz, ours.ngf, ours.ndf) {
            return Err(file_error(
                name,
                format!(
                    "made for nz {}, ngf {}, ndf {}; this run has nz {}, ngf {}, ndf {} \
                     (start a run with the checkpoint's sizes to continue it)",
                    theirs.nz, theirs.ngf, theirs.ndf, ours.nz, ours.ngf, ours.ndf
                ),
            ));
        }
        if theirs.batch != ours.batch {
            return Err(file_error(
                name,
                format!(
                    "made with batch {}; this run has batch {}",
                    theirs.batch, ours.batch
                ),
            ));
        }
        info.hyper
            .validate()
            .map_err(|e| file_error(name, e.to_string()))?;
        let get = |key: &str, shape: &[usize], dtype| checkpoint.tensor(key, shape, dtype);
        let g_state =
            collect_network_state(&self.g, true, get, "generator.").map_err(in_file(name))?;
        let d_state =
            collect_network_state(&self.d, true, get, "discriminator.").map_err(in_file(name))?;
        let mut batcher = self.batcher.clone();
        batcher
            .set_position(info.position)
            .map_err(|e| file_error(name, e.to_string()))?;

        // Everything checked: from here on nothing fails but the GPU.
        let ctx = self.context().clone();
        self.g.batches_tracked = g_state.apply(&ctx)?;
        self.d.batches_tracked = d_state.apply(&ctx)?;
        self.restore_run(info, batcher);
        Ok(())
    }
}

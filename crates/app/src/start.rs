//! Start-up (wasm32 only): the device, the settings from the URL, the
//! bundled digits with a progress indicator, then either the training
//! session or, with `?bench`, the benchmark.

use leptos::prelude::*;
use webgan::data::Dataset;
use webgan::{Hyper, Preset, Trainer};
use webgan_tensor::{kernel_shares, AdapterSummary, GpuContext, KernelShare, Tuning};

use crate::report::{AdapterReport, Probe};
use crate::run::{Session, MNIST_URL};
use crate::settings::{self, BenchModel, Settings};
use crate::ui::{browser_adapter_info, BenchRow, Phase, Ui};
use crate::web;

/// Timed iterations per preset in `?bench`, unless `?bench=N` says.
const BENCH_ITERATIONS: usize = 10;
/// Untimed iterations first (pipelines are built on first use); as many as
/// the TensorFlow.js peer runs before it times.
pub const BENCH_WARM_UP: usize = 3;

/// Everything from the device to the first frame.
pub async fn start(ui: Ui) {
    let ctx = match GpuContext::new().await {
        Ok(ctx) => ctx,
        Err(error) => {
            log::error!("webgan: no WebGPU device: {error}");
            ui.probe.set(Probe::Failed(error.to_string()));
            return;
        }
    };
    let browser = browser_adapter_info().await;
    let report = AdapterReport::new(ctx.adapter(), ctx.limits(), browser);
    // wgpu does not see which adapter the browser handed out, the browser's
    // own description does, and some kernel choices follow it (SwiftShader).
    let seen = AdapterSummary {
        name: report.name(),
        driver: report.driver().unwrap_or_default(),
        ..ctx.adapter().clone()
    };
    ctx.set_tuning(Tuning::for_adapter(&seen));
    let software = seen.is_cpu || seen.is_swiftshader();
    let limits = ctx.limits();
    log::info!(
        "webgan: adapter {} ({}, {}); storage binding {} MiB, buffer {} MiB, workgroups per \
         dimension {}",
        report.name(),
        report.adapter.backend,
        report.adapter.device_type,
        limits.max_storage_buffer_binding_size >> 20,
        limits.max_buffer_size >> 20,
        limits.max_compute_workgroups_per_dimension
    );
    ui.probe.set(Probe::Ready(report));

    let query = web::query();
    let default = if software {
        Preset::Tiny
    } else {
        Preset::Standard
    };
    let (settings, errors) = Settings::from_query(&query, default);
    let notes = settings.notes().join("; ");
    if !errors.is_empty() {
        let notes = if notes.is_empty() {
            notes
        } else {
            format!(" Note: {notes}.")
        };
        ui.error(format!(
            "Refused in the URL, defaults kept: {}.{notes}",
            errors.join("; ")
        ));
    } else if !notes.is_empty() {
        ui.info(format!("From the URL: {notes}."));
    }
    ui.settings.set(settings);

    ui.phase.set(Phase::Loading);
    let Some(data) = load_mnist(ui).await else {
        return;
    };
    if settings::has_key(&query, "bench") {
        bench(ui, &ctx, data, &query).await;
        return;
    }

    web::set_query(&settings.to_query());
    ui.busy.set(Some(
        "Building the networks and initialising the weights…".into(),
    ));
    // Lets the status show before the (synchronous) building starts.
    web::next_frame().await;
    let session = match Session::new(ctx.clone(), settings, data.clone(), ui) {
        Ok(session) => session,
        Err(error) => {
            // Sizes the device cannot hold: fall back to the preset.
            ui.error(format!(
                "Could not start with these settings: {} Started with the {default} preset \
                 instead.",
                settings::explain(&error)
            ));
            let fallback = Settings::new(default);
            ui.settings.set(fallback);
            web::set_query(&fallback.to_query());
            match Session::new(ctx, fallback, data, ui) {
                Ok(session) => session,
                Err(error) => {
                    ui.phase.set(Phase::Failed);
                    ui.busy.set(None);
                    ui.error(format!(
                        "Could not start training: {}",
                        settings::explain(&error)
                    ));
                    return;
                }
            }
        }
    };
    session.run().await;
}

/// Fetches and decodes the bundled digits, showing progress.
async fn load_mnist(ui: Ui) -> Option<Dataset> {
    let bytes = web::fetch_bytes(MNIST_URL, |loaded, total| {
        ui.data_progress.set(Some((loaded, total)));
    })
    .await;
    let data = bytes
        .and_then(|bytes| Dataset::from_idx_bytes(MNIST_URL, &bytes).map_err(|e| e.to_string()));
    ui.data_progress.set(None);
    match data {
        Ok(data) => {
            ui.data_source.set(format!(
                "MNIST, {} digits (bundled; LeCun and Cortes, CC BY-SA 3.0)",
                data.len()
            ));
            Some(data)
        }
        Err(error) => {
            ui.phase.set(Phase::Failed);
            ui.error(format!("Could not load the digits: {error}"));
            None
        }
    }
}

/// `?bench`: a fixed number of iterations per preset (or only the URL's
/// preset, or the `configs` of the TensorFlow.js peer), each waited for,
/// and the median milliseconds per iteration.
async fn bench(ui: Ui, ctx: &GpuContext, data: Dataset, query: &str) {
    ui.phase.set(Phase::Bench);
    let pairs = settings::query_pairs(query);
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let iterations = value("bench")
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=1000).contains(n))
        .unwrap_or(BENCH_ITERATIONS);
    let models = match (
        value("configs"),
        value("preset").and_then(|p| p.parse().ok()),
    ) {
        (Some(configs), _) => match settings::bench_configs(&configs) {
            Ok(models) => models,
            Err(message) => {
                ui.error(message);
                ui.phase.set(Phase::BenchDone);
                return;
            }
        },
        (None, Some(preset)) => vec![preset_model(preset)],
        (None, None) => Preset::ALL.into_iter().map(preset_model).collect(),
    };
    ui.bench_iterations.set(iterations);

    for model in models {
        match bench_model(ctx, &model, &data, iterations).await {
            Ok(row) => ui.bench.update(|rows| rows.push(row)),
            Err(error) => {
                ui.error(format!("{}: {error}", model.name));
                break;
            }
        }
    }
    ui.phase.set(Phase::BenchDone);
}

fn preset_model(preset: Preset) -> BenchModel {
    BenchModel {
        name: preset.name().to_string(),
        config: preset.config(),
    }
}

async fn bench_model(
    ctx: &GpuContext,
    model: &BenchModel,
    data: &Dataset,
    iterations: usize,
) -> Result<BenchRow, webgan::GanError> {
    let config = model.config;
    let mut trainer = Trainer::new(ctx, config, Hyper::default(), 1, data.clone())?;
    trainer.quality_every = 0;
    let mut times = Vec::with_capacity(iterations);
    for i in 0..iterations + BENCH_WARM_UP {
        let start = web::now_ms();
        trainer.train_step()?;
        let (sender, receiver) = futures_channel::oneshot::channel();
        ctx.queue().on_submitted_work_done(move || {
            let _ = sender.send(());
        });
        let _ = receiver.await;
        if i >= BENCH_WARM_UP {
            times.push(web::now_ms() - start);
        }
    }
    trainer.flush().await?;
    times.sort_by(f64::total_cmp);
    let median_ms = times[times.len() / 2];
    let gflop = trainer.iteration_flops() / 1e9;
    let kernels = kernel_rows(ctx, &mut trainer, iterations).await?;
    Ok(BenchRow {
        name: model.name.clone(),
        batch: config.batch,
        median_ms,
        gflops: gflop / median_ms * 1e3,
        kernels,
    })
}

/// Runs `iterations` more with a timestamp around every kernel (where the
/// adapter has timestamp queries) and returns the GPU time per iteration
/// of each (layer, kernel), slowest first; nothing without timestamps.
async fn kernel_rows(
    ctx: &GpuContext,
    trainer: &mut Trainer,
    iterations: usize,
) -> Result<Vec<KernelShare>, webgan::GanError> {
    if !ctx.time_kernels(true) {
        return Ok(Vec::new());
    }
    for _ in 0..iterations {
        trainer.train_step()?;
    }
    trainer.flush().await?;
    ctx.time_kernels(false);
    // The timestamps map back on their own; a few event-loop turns at most.
    let mut times = ctx.kernel_times();
    for _ in 0..100 {
        if times.1 == 0 {
            break;
        }
        web::sleep(20).await;
        times = ctx.kernel_times();
    }
    Ok(kernel_shares(times.0, iterations))
}

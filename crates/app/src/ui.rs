//! The page: a Leptos component tree mounted on `<body>` (wasm32 only).
//!
//! Controls push commands to the training loop ([`crate::run`]); the loop
//! publishes what the page shows through the signals of [`Ui`].

use js_sys::Reflect;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use webgan::data::Dataset;
use webgan::{GanLoss, Hyper, Preset, StepMetrics};
use webgan_tensor::KernelShare;

use crate::chart;
use crate::report::{self, AdapterReport, BrowserAdapterInfo, MemoryReport, Probe};
use crate::run::{self, Command};
use crate::settings::{
    self, count_of, lr_to_slider, size_range, slider_to_lr, Change, Files, Settings, D_STEPS_MAX,
    SLIDER_STEPS,
};
use crate::web;

/// Installs the panic hook and the console logger, then mounts the page.
pub fn start() {
    console_error_panic_hook::set_once();
    // Fails only if a logger is already set, which leaves logging working.
    if log::set_logger(&PageLogger).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    leptos::mount::mount_to_body(App);
}

/// `console_log`, less the tensor crate's adapter line: on the web wgpu
/// names every adapter "unnamed adapter" (gfx-rs/wgpu#8819), so the page
/// logs its own line with the name the browser gives (see `start`).
struct PageLogger;

impl log::Log for PageLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        let adapter_line = record.target().starts_with("webgan_tensor")
            && record.args().to_string().starts_with("webgan: adapter ");
        if self.enabled(record.metadata()) && !adapter_line {
            console_log::log(record);
        }
    }

    fn flush(&self) {}
}

/// Whether `navigator.gpu` exists. Browsers without WebGPU, and every
/// browser outside a secure context, leave it undefined.
fn navigator_has_webgpu() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::get(&window.navigator(), &"gpu".into())
        .map(|gpu| !gpu.is_undefined() && !gpu.is_null())
        .unwrap_or(false)
}

fn is_secure_context() -> bool {
    web_sys::window().is_some_and(|window| window.is_secure_context())
}

/// Asks the browser which adapter it would hand out (`GPUAdapter.info`),
/// asking as wgpu does, for high performance. `None` if anything is missing.
pub(crate) async fn browser_adapter_info() -> Option<BrowserAdapterInfo> {
    let gpu = Reflect::get(&web_sys::window()?.navigator(), &"gpu".into()).ok()?;
    let request_adapter: js_sys::Function = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let options = js_sys::Object::new();
    Reflect::set(
        &options,
        &"powerPreference".into(),
        &"high-performance".into(),
    )
    .ok()?;

    let promise: js_sys::Promise = request_adapter
        .call1(&gpu, &options)
        .ok()?
        .dyn_into()
        .ok()?;
    let adapter = JsFuture::from(promise).await.ok()?;
    let info = Reflect::get(&adapter, &"info".into())
        .ok()
        .filter(JsValue::is_object)?;
    let field = |name: &str| {
        Reflect::get(&info, &name.into())
            .ok()
            .and_then(|value| value.as_string())
            .unwrap_or_default()
    };
    Some(BrowserAdapterInfo {
        vendor: field("vendor"),
        architecture: field("architecture"),
        device: field("device"),
        description: field("description"),
    })
}

/// Where the run stands; `#run`'s `data-state`, which the tests wait on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Looking for a device.
    Starting,
    /// Fetching the digits.
    Loading,
    /// Ready, not training.
    Paused,
    /// Training on its own, frame after frame.
    Training,
    /// A loss was NaN or infinite; stopped at that step.
    Diverged,
    /// The GPU device was lost.
    Lost,
    /// Could not start at all.
    Failed,
    /// `?bench` is running.
    Bench,
    /// `?bench` has finished.
    BenchDone,
}

impl Phase {
    /// The `data-state` value.
    pub fn state(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Loading => "loading",
            Phase::Paused => "paused",
            Phase::Training => "training",
            Phase::Diverged => "diverged",
            Phase::Lost => "lost",
            Phase::Failed => "failed",
            Phase::Bench => "bench",
            Phase::BenchDone => "bench-done",
        }
    }
}

/// One model's line of the `?bench` table.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchRow {
    /// The preset's name, or the peer's `ngf=ndf=G,batch=B`.
    pub name: String,
    /// Images per batch.
    pub batch: usize,
    /// Median time per iteration.
    pub median_ms: f64,
    /// Convolution GFLOP/s at that time.
    pub gflops: f64,
    /// Where the GPU time goes, slowest first, from timestamp queries
    /// (empty where the adapter has none).
    pub kernels: Vec<KernelShare>,
}

/// A message for the person: an error or a note.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// An error (else a note).
    pub error: bool,
    /// What it says.
    pub text: String,
}

/// The page's reactive state. Every field is a signal handle, so `Ui` is
/// `Copy` and moves freely into event handlers and the training loop.
#[derive(Clone, Copy)]
pub struct Ui {
    /// The adapter report.
    pub probe: RwSignal<Probe>,
    /// Where the run stands.
    pub phase: RwSignal<Phase>,
    /// Bytes loaded and expected while the digits download.
    pub data_progress: RwSignal<Option<(u64, Option<u64>)>>,
    /// What the run trains on.
    pub data_source: RwSignal<String>,
    /// Iterations done.
    pub step: RwSignal<u64>,
    /// Measured over the last seconds, while training.
    pub steps_per_second: RwSignal<Option<f64>>,
    /// The settings the controls show (and the URL holds).
    pub settings: RwSignal<Settings>,
    /// The hyper-parameters the trainer uses now.
    pub in_use: RwSignal<Option<Hyper>>,
    /// The latest step's metrics.
    pub last: RwSignal<Option<StepMetrics>>,
    /// The message line.
    pub message: RwSignal<Option<Message>>,
    /// Each chart's hover text.
    pub hover: [RwSignal<String>; 3],
    /// `?bench` results so far.
    pub bench: RwSignal<Vec<BenchRow>>,
    /// `?bench` iterations per preset.
    pub bench_iterations: RwSignal<usize>,
    /// Extra D-only and G-only steps of this run (Step D, Step G), which
    /// the trainer neither counts as iterations nor reports metrics for.
    pub extra_steps: RwSignal<(u64, u64)>,
    /// What the page is busy with (building a run, waiting for the GPU).
    pub busy: RwSignal<Option<String>>,
    /// GPU buffers, JS heap and wasm memory, refreshed about once a second.
    pub memory: RwSignal<Option<MemoryReport>>,
}

impl Ui {
    fn new() -> Self {
        Self {
            probe: RwSignal::new(Probe::Checking),
            phase: RwSignal::new(Phase::Starting),
            data_progress: RwSignal::new(None),
            data_source: RwSignal::new(String::new()),
            step: RwSignal::new(0),
            steps_per_second: RwSignal::new(None),
            settings: RwSignal::new(Settings::new(Preset::Tiny)),
            in_use: RwSignal::new(None),
            last: RwSignal::new(None),
            message: RwSignal::new(None),
            hover: std::array::from_fn(|_| RwSignal::new(String::new())),
            bench: RwSignal::new(Vec::new()),
            bench_iterations: RwSignal::new(0),
            extra_steps: RwSignal::new((0, 0)),
            busy: RwSignal::new(None),
            memory: RwSignal::new(None),
        }
    }

    /// Shows an error (and logs it as a warning: the page handled it).
    pub fn error(&self, text: String) {
        log::warn!("webgan: {text}");
        self.message.set(Some(Message { error: true, text }));
    }

    /// Shows a note.
    pub fn info(&self, text: String) {
        self.message.set(Some(Message { error: false, text }));
    }

    /// Clears the message.
    pub fn clear_message(&self) {
        self.message.set(None);
    }

    fn stopped(&self) -> bool {
        matches!(
            self.phase.get(),
            Phase::Starting
                | Phase::Loading
                | Phase::Failed
                | Phase::Lost
                | Phase::Bench
                | Phase::BenchDone
        )
    }
}

/// Tries new settings: refuses bad ones with a message, applies hyper-
/// parameters at once, and asks before a change that restarts the run.
fn propose(ui: Ui, next: Result<Settings, String>) {
    let current = ui.settings.get_untracked();
    let next = match next.and_then(|next| next.validate().map(|()| next)) {
        Ok(next) => next,
        Err(message) => {
            ui.error(format!("Refused: {message}"));
            // Puts the controls back to the values in use.
            ui.settings.set(current);
            return;
        }
    };
    match current.change_to(&next) {
        Change::None => {}
        Change::Hyper => {
            ui.settings.set(next);
            web::set_query(&next.to_query());
            run::send(Command::Hyper(next.hyper));
        }
        Change::Restart => {
            let step = ui.step.get_untracked();
            let question = format!(
                "This change starts a new run with fresh weights; the {step} steps so far are \
                 dropped (download a checkpoint first to keep them). Restart?"
            );
            if step > 0 && !web::confirm(&question) {
                ui.settings.set(current);
                return;
            }
            ui.clear_message();
            ui.settings.set(next);
            web::set_query(&next.to_query());
            run::send(Command::Restart(next));
        }
    }
}

/// Sets one named setting from a control's text.
fn propose_value(ui: Ui, key: &str, value: &str) {
    let mut next = ui.settings.get_untracked();
    propose(ui, next.set(key, value).map(|()| next));
}

/// Reads the files of a drop or of the data input: a checkpoint (one
/// `.safetensors` file), an IDX file or images.
fn take_files(ui: Ui, files: Vec<web_sys::File>) {
    if files.is_empty() {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let Some(mut named) = read_files(ui, &files).await else {
            return;
        };
        let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
        if let Some(why) = settings::no_data_in(&names) {
            return ui.error(format!("Not used as training data: {why}."));
        }
        let data = match settings::classify_files(&names) {
            Files::Checkpoint => {
                let (name, bytes) = named.pop().expect("one file");
                return run::send(Command::LoadCheckpoint(name, bytes));
            }
            Files::Idx(i) => Dataset::from_idx_bytes(&named[i].0, &named[i].1),
            Files::Images => Dataset::from_image_bytes(&named),
        };
        match data {
            Ok(data) => offer_data(ui, data),
            Err(error) => ui.error(format!("Not used as training data: {error}")),
        }
    });
}

/// Reads a file chosen under "Continue from a checkpoint": whatever its
/// name, it is a checkpoint, and the checkpoint loader judges it.
fn take_checkpoint(ui: Ui, files: Vec<web_sys::File>) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Some(mut named) = read_files(ui, &files).await {
            if let Some((name, bytes)) = named.pop() {
                run::send(Command::LoadCheckpoint(name, bytes));
            }
        }
    });
}

/// The names and bytes of `files`; `None` (after a message) when one
/// cannot be read.
async fn read_files(ui: Ui, files: &[web_sys::File]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut named = Vec::with_capacity(files.len());
    for file in files {
        match web::file_bytes(file).await {
            Ok(bytes) => named.push((file.name(), bytes)),
            Err(message) => {
                ui.error(message);
                return None;
            }
        }
    }
    Some(named)
}

/// A decoded data set: refused if it holds less than a batch, else used
/// after asking (when there are steps to lose).
fn offer_data(ui: Ui, data: Dataset) {
    let batch = ui.settings.get_untracked().config.batch;
    if let Some(why) = settings::too_few_images(data.len(), batch) {
        return ui.error(format!("Not used as training data: {why}."));
    }
    let step = ui.step.get_untracked();
    let question = format!(
        "Train on {} ({})? This starts a new run; the {} so far are dropped.",
        data.source(),
        count_of(data.len(), "image"),
        count_of(step as usize, "step")
    );
    if step == 0 || web::confirm(&question) {
        ui.clear_message();
        run::send(Command::Data(data));
    }
}

/// Takes files dropped anywhere on the page, so that the browser never
/// navigates away to show them.
fn take_drops_everywhere(ui: Ui) {
    let window = web::window();
    let dragover = Closure::<dyn Fn(web_sys::DragEvent)>::new(|ev: web_sys::DragEvent| {
        ev.prevent_default();
    });
    let drop = Closure::<dyn Fn(web_sys::DragEvent)>::new(move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        let files = web::files_of(ev.data_transfer().and_then(|t| t.files()));
        if files.is_empty() {
            ui.error(format!(
                "Nothing to use in what was dropped: drop {} or a checkpoint (.safetensors).",
                settings::DATA_KINDS
            ));
        }
        take_files(ui, files);
    });
    for (name, handler) in [("dragover", &dragover), ("drop", &drop)] {
        let _ = window.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
    }
    // The page lives as long as the window: the handlers may leak.
    dragover.forget();
    drop.forget();
}

#[component]
fn App() -> impl IntoView {
    let ui = Ui::new();
    web::expose("webgan_metrics", || run::metrics_json().into());
    web::expose("webgan_memory", move || {
        ui.memory
            .get_untracked()
            .map_or(JsValue::NULL, |m| m.json().into())
    });
    web::expose("webgan_lose_device", || {
        run::send(Command::LoseDevice);
        JsValue::UNDEFINED
    });

    // wasm_bindgen_futures' spawn_local needs no Leptos executor set up.
    if navigator_has_webgpu() {
        wasm_bindgen_futures::spawn_local(crate::start::start(ui));
    } else {
        let secure_context = is_secure_context();
        log::info!("webgan: navigator.gpu is missing (secure context: {secure_context})");
        ui.probe.set(Probe::NoWebGpu { secure_context });
    }
    let probe = ui.probe;
    let ready = move || probe.with(|p| matches!(p, Probe::Ready(_)));
    take_drops_everywhere(ui);

    view! {
        <main>
            <header>
                <h1>"webgan"</h1>
                <p class="tagline">
                    "A DCGAN that learns to draw digits on your GPU, in this page, through WebGPU."
                </p>
            </header>
            <section id="status" data-state=move || probe.with(Probe::state)>
                {move || probe.with(status_view)}
            </section>
            <Show when=ready>
                <RunView ui=ui />
            </Show>
        </main>
    }
}

fn status_view(probe: &Probe) -> AnyView {
    match probe {
        Probe::Checking => view! { <p>"Looking for a WebGPU adapter…"</p> }.into_any(),
        Probe::NoWebGpu { secure_context } => {
            view! { <NoWebGpu secure_context=*secure_context /> }.into_any()
        }
        Probe::Ready(report) => view! { <AdapterDetails report=report.clone() /> }.into_any(),
        Probe::Failed(message) => view! {
            <p class="problem">"This browser has WebGPU, but it gave no usable device."</p>
            <pre class="detail">{message.clone()}</pre>
        }
        .into_any(),
    }
}

#[component]
fn NoWebGpu(secure_context: bool) -> impl IntoView {
    let context_note = if secure_context {
        "This page is in a secure context, so the browser itself lacks WebGPU \
         (or has it switched off)."
    } else {
        "This page is not in a secure context: serve it over https, or open it \
         from localhost."
    };
    view! {
        <p class="problem">"This page needs a browser with WebGPU, and this one does not offer it."</p>
        <p>
            "WebGPU ships in Chrome and Edge 113 or newer, Safari 26 or newer, and \
             Firefox 141 or newer on Windows. Browsers offer it only to pages served \
             over https or from localhost."
        </p>
        <p class="detail">{context_note}</p>
    }
}

#[component]
fn AdapterDetails(report: AdapterReport) -> impl IntoView {
    let name = report.name();
    let driver = report.driver().unwrap_or_else(|| "not reported".into());
    let adapter = report.adapter;
    let kind = if adapter.is_cpu {
        "software: the GPU is emulated on the CPU, so training will be slow"
    } else {
        "hardware"
    };
    let limits = report
        .limits
        .into_iter()
        .map(|(label, value)| view! { <dt>{label}</dt><dd>{value}</dd> })
        .collect_view();

    view! {
        <p class="ready">"WebGPU is ready."</p>
        <dl class="facts">
            <dt>"Adapter"</dt><dd id="adapter">{name}</dd>
            <dt>"Backend"</dt><dd>{adapter.backend}</dd>
            <dt>"Device type"</dt><dd>{adapter.device_type}</dd>
            <dt>"Driver"</dt><dd>{driver}</dd>
            <dt>"Kind"</dt><dd id="adapter-kind">{kind}</dd>
        </dl>
        <details>
            <summary>"Device limits used"</summary>
            <dl class="facts" id="limits">{limits}</dl>
        </details>
    }
}

/// Everything below the adapter: data, controls, pictures, charts.
#[component]
fn RunView(ui: Ui) -> impl IntoView {
    let phase = ui.phase;
    let state = move || phase.get().state();
    let bench = move || matches!(phase.get(), Phase::Bench | Phase::BenchDone);
    view! {
        <section id="run" data-state=state>
            <DataLine ui=ui />
            <MessageLine ui=ui />
            {move || ui.busy.get().map(|text| view! { <p id="busy" class="busy">{text}</p> })}
            <Show when=bench fallback=move || view! { <Training ui=ui /> }>
                <BenchView ui=ui />
            </Show>
        </section>
    }
}

#[component]
fn DataLine(ui: Ui) -> impl IntoView {
    let progress = move || {
        ui.data_progress.get().map(|(loaded, total)| {
            let value = loaded as f64;
            let max = total.map_or(value.max(1.0), |total| total as f64);
            let text = match total {
                Some(total) => format!(
                    "Loading the digits: {} of {}",
                    report::bytes(loaded),
                    report::bytes(total)
                ),
                None => format!("Loading the digits: {}", report::bytes(loaded)),
            };
            view! {
                <p id="data-progress">
                    {text} " "
                    <progress value=value max=max />
                </p>
            }
        })
    };
    view! {
        {progress}
        <p id="data" class="detail">
            {move || {
                let source = ui.data_source.get();
                if source.is_empty() { "Data: loading…".to_string() } else { format!("Data: {source}") }
            }}
        </p>
    }
}

#[component]
fn MessageLine(ui: Ui) -> impl IntoView {
    move || {
        ui.message.get().map(|message| {
            let kind = if message.error { "error" } else { "info" };
            view! {
                <p id="message" class="message" data-kind=kind>
                    {message.text}
                    " "
                    <button class="link" on:click=move |_| ui.clear_message()>"dismiss"</button>
                </p>
            }
        })
    }
}

#[component]
fn Training(ui: Ui) -> impl IntoView {
    let phase = ui.phase;
    let training = move || phase.get() == Phase::Training;
    let halted = move || ui.stopped() || matches!(phase.get(), Phase::Diverged);
    let recover = move || phase.get() == Phase::Lost;
    let rate = move || match ui.steps_per_second.get() {
        Some(rate) if rate >= 10.0 => format!("{rate:.0}"),
        Some(rate) => format!("{rate:.2}"),
        None => "-".into(),
    };
    let in_use = move |pick: fn(&Hyper) -> String| {
        move || ui.in_use.get().map(|h| pick(&h)).unwrap_or_default()
    };
    let last = move || {
        ui.last.get().map(|m| {
            format!(
                "loss_d {} · loss_g {} · D(x) {} · D(G(z)) {} / {}",
                chart::exact(m.loss_d()),
                chart::exact(m.loss_g),
                chart::exact(m.d_x),
                chart::exact(m.d_g_z1),
                chart::exact(m.d_g_z2)
            )
        })
    };

    let extra = move || {
        let (d, g) = ui.extra_steps.get();
        (d + g > 0).then(|| {
            view! {
                " · extra steps: "
                <span id="extra-steps" title=EXTRA_STEPS_TITLE>
                    {format!("{d} D-only, {g} G-only")}
                </span>
            }
        })
    };

    view! {
        <div class="controls">
            <button id="train" title="Train step after step (D step, then G step), frame after frame"
                on:click=|_| run::send(Command::Train) disabled=move || training() || ui.stopped()>
                "Train"
            </button>
            <button id="pause" on:click=|_| run::send(Command::Pause) disabled=move || !training()>
                "Pause"
            </button>
            <button id="step" title="One iteration: a D step, then a G step; adds a row to the charts"
                on:click=|_| run::send(Command::Step) disabled=halted>"Step"</button>
            <button id="step-d" title=STEP_D_TITLE
                on:click=|_| run::send(Command::StepD) disabled=halted>"Step D"</button>
            <button id="step-g" title=STEP_G_TITLE
                on:click=|_| run::send(Command::StepG) disabled=halted>"Step G"</button>
            <button id="reset" title="Fresh weights from the seed; the steps so far are dropped" on:click=move |_| {
                let step = ui.step.get_untracked();
                if step == 0 || web::confirm(&format!("Drop the {} and start again from fresh weights (same seed)?", count_of(step as usize, "step"))) {
                    ui.clear_message();
                    run::send(Command::Reset);
                }
            } disabled=move || ui.stopped()>"Reset"</button>
            <Show when=recover>
                <button id="recover" class="primary" on:click=|_| run::send(Command::Recover)>"Start again"</button>
            </Show>
        </div>
        <p class="stats">
            "Step " <strong id="step-count">{move || ui.step.get()}</strong>
            " · " <span id="rate">{rate}</span> " steps/s"
            " · in use: lr_g " <span id="lr-g-used">{in_use(|h| settings::format_lr(h.lr_g))}</span>
            ", lr_d " <span id="lr-d-used">{in_use(|h| settings::format_lr(h.lr_d))}</span>
            ", beta1 " <span id="beta1-used">{in_use(|h| h.beta1.to_string())}</span>
            ", D steps " <span id="d-steps-used">{in_use(|h| h.d_steps.to_string())}</span>
            ", loss " <span id="loss-used">{in_use(|h| h.loss.name().to_string())}</span>
            {extra}
        </p>
        <p class="stats detail" id="last-metrics">{last}</p>
        <p class="stats detail" id="memory"
            title="GPU buffers webgan holds, the page's JavaScript heap and the wasm module's memory: flat while training">
            {move || ui.memory.get().map(|m| m.line())}
        </p>
        <div class="workspace">
            <div class="side">
                <div class="pictures">
                    <figure>
                        <canvas id="samples" width="242" height="242"></canvas>
                        <figcaption>
                            "Samples from fixed noise "
                            <button id="save-png" class="link" on:click=|_| run::send(Command::SavePng)>"download PNG"</button>
                        </figcaption>
                    </figure>
                    <figure>
                        <canvas id="real" width="242" height="242"></canvas>
                        <figcaption>"Real digits"</figcaption>
                    </figure>
                </div>
                <Controls ui=ui />
            </div>
            <div class="charts">
                <Chart ui=ui id="chart-losses" title="Losses" series=&chart::LOSSES index=0 />
                <Chart ui=ui id="chart-outputs" title="D's outputs: D(x), D(G(z)) in the D and G steps" series=&chart::OUTPUTS index=1 />
                <Chart ui=ui id="chart-quality" title="Quality: MMD² between fakes and real digits, every 50 steps (lower is better)" series=&chart::QUALITY index=2 />
                <MetricsLegend />
            </div>
        </div>
        <Files ui=ui />
    }
}

/// Step D's tooltip.
const STEP_D_TITLE: &str = "One discriminator step only: D learns from one real and one fake \
    batch; G is unchanged. The trainer reports no metrics for it, so the step count and the \
    charts stay as they are";
/// Step G's tooltip.
const STEP_G_TITLE: &str = "One generator step only: G learns to make D call its fakes real; \
    D is unchanged. The trainer reports no metrics for it, so the step count and the charts \
    stay as they are";
/// The extra-steps counter's tooltip.
const EXTRA_STEPS_TITLE: &str = "Step D and Step G presses since this run started: they change \
    the weights but are not iterations, so the step count leaves them out";

/// A few lines on what the charts show, for people learning GANs.
#[component]
fn MetricsLegend() -> impl IntoView {
    view! {
        <details id="metrics-legend" class="legend" open>
            <summary>"What the charts show"</summary>
            <dl>
                <dt>"loss_d"</dt>
                <dd>"D's loss: how badly it tells real digits (as real) from fakes (as fake)."</dd>
                <dt>"loss_g"</dt>
                <dd>"G's loss: how badly its fakes fool D. Neither loss falls steadily in a GAN; \
                     they push against each other."</dd>
                <dt>"d_x"</dt>
                <dd>"D's mean probability that the real digits of the batch are real."</dd>
                <dt>"d_g_z1"</dt>
                <dd>"D's mean probability that the fakes are real, in the D step, before D's update."</dd>
                <dt>"d_g_z2"</dt>
                <dd>"The same for the fakes in the G step, after D's update; G's loss comes from it."</dd>
                <dt>"quality"</dt>
                <dd>"MMD² between a batch of fakes and a batch of real digits, computed every \
                     50 steps: lower is better, 0 means this measure cannot tell them apart."</dd>
                <dt>"Step D, Step G"</dt>
                <dd>"One update of D alone or of G alone, to watch one side move. The trainer \
                     records no metrics for them: a chart row comes from a whole step (Step, Train)."</dd>
            </dl>
        </details>
    }
}

#[component]
fn Chart(
    ui: Ui,
    id: &'static str,
    title: &'static str,
    series: &'static [chart::Series],
    index: usize,
) -> impl IntoView {
    let hover = ui.hover[index];
    let legend = series
        .iter()
        .map(|s| {
            view! {
                <span class="key" style=format!("--key: {}", s.color) title=s.about>{s.name}</span>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>{title} " " {legend}</figcaption>
            <canvas
                id=id
                width="480"
                height="170"
                on:mousemove=move |ev: web_sys::MouseEvent| {
                    hover.set(run::hover(id, series, f64::from(ev.offset_x())));
                }
                on:mouseleave=move |_| hover.set(String::new())
            ></canvas>
            <p class="hover" id=format!("{id}-hover")>{move || hover.get()}</p>
        </figure>
    }
}

/// A labelled control row.
fn row(label: &'static str, control: impl IntoView, value: impl IntoView) -> impl IntoView {
    view! { <label class="row"><span>{label}</span>{control}<output>{value}</output></label> }
}

#[component]
fn Controls(ui: Ui) -> impl IntoView {
    let s = ui.settings;
    let lr_slider = move |key: &'static str, id: &'static str, get: fn(&Settings) -> f32| {
        view! {
            <input
                type="range"
                id=id
                min="0"
                max=SLIDER_STEPS.to_string()
                step="1"
                title=settings::accepts(key)
                prop:value=move || lr_to_slider(get(&s.get())).to_string()
                on:input=move |ev| {
                    let position: u32 = event_target_value(&ev).parse().unwrap_or(0);
                    propose_value(ui, key, &slider_to_lr(position).to_string());
                }
            />
        }
    };
    let number =
        move |key: &'static str, min: String, max: String, get: fn(&Settings) -> String| {
            view! {
                <input
                    type="number"
                    id=key.replace('_', "-")
                    min=min
                    max=max
                    step="1"
                    title=settings::accepts(key)
                    prop:value=move || get(&s.get())
                    on:change=move |ev| propose_value(ui, key, &event_target_value(&ev))
                />
            }
        };
    let size = move |key: &'static str, get: fn(&Settings) -> usize| {
        let (low, high) = size_range(key);
        view! {
            <input
                type="number"
                id=key
                min=low.to_string()
                max=high.to_string()
                step="1"
                title=settings::accepts(key)
                prop:value=move || get(&s.get()).to_string()
                on:change=move |ev| propose_value(ui, key, &event_target_value(&ev))
            />
        }
    };
    let presets = Preset::ALL
        .map(|p| view! { <option value=p.name() selected=move || s.get().preset == p>{p.name()}</option> })
        .collect_view();
    let losses = GanLoss::ALL
        .map(|l| view! { <option value=l.name() selected=move || s.get().hyper.loss == l>{l.name()}</option> })
        .collect_view();

    view! {
        <form class="settings" on:submit=|ev| ev.prevent_default()>
            <fieldset>
                <legend>"From the next step"</legend>
                {row("lr_g", lr_slider("lr_g", "lr-g", |s| s.hyper.lr_g),
                    view! { <span id="lr-g-value">{move || settings::format_lr(s.get().hyper.lr_g)}</span> })}
                {row("lr_d", lr_slider("lr_d", "lr-d", |s| s.hyper.lr_d),
                    view! { <span id="lr-d-value">{move || settings::format_lr(s.get().hyper.lr_d)}</span> })}
                {row("beta1", view! {
                    <input type="range" id="beta1" min="0" max="0.99" step="0.01"
                        prop:value=move || s.get().hyper.beta1.to_string()
                        on:input=move |ev| propose_value(ui, "beta1", &event_target_value(&ev)) />
                }, move || format!("{:.2}", s.get().hyper.beta1))}
                {row("D steps per G step",
                    number("d_steps", "1".into(), D_STEPS_MAX.to_string(), |s| s.hyper.d_steps.to_string()),
                    "")}
                {row("loss", view! {
                    <select id="loss" on:change=move |ev| propose_value(ui, "loss", &event_target_value(&ev))>
                        {losses}
                    </select>
                }, "")}
            </fieldset>
            <fieldset>
                <legend>"These restart the run"</legend>
                {row("preset", view! {
                    <select id="preset" on:change=move |ev| {
                        let next = event_target_value(&ev).parse::<Preset>()
                            .map(|p| s.get_untracked().with_preset(p))
                            .map_err(|e| e.to_string());
                        propose(ui, next);
                    }>{presets}</select>
                }, "")}
                {row("batch", size("batch", |s| s.config.batch), "")}
                {row("nz", size("nz", |s| s.config.nz), "")}
                {row("ngf", size("ngf", |s| s.config.ngf), "")}
                {row("ndf", size("ndf", |s| s.config.ndf), "")}
                {row("seed", number("seed", "0".into(), u64::MAX.to_string(), |s| s.seed.to_string()), "")}
            </fieldset>
        </form>
    }
}

#[component]
fn Files(ui: Ui) -> impl IntoView {
    let chosen = move |ev: web_sys::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        take_files(ui, web::files_of(input.files()));
        // The same file chosen again should fire `change` again.
        input.set_value("");
    };
    let checkpoint = move |ev: web_sys::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        take_checkpoint(ui, web::files_of(input.files()));
        input.set_value("");
    };
    view! {
        <div class="files">
            <button id="save-checkpoint" on:click=|_| run::send(Command::SaveCheckpoint)
                disabled=move || ui.stopped()>"Download checkpoint"</button>
            <label class="file">
                "Continue from a checkpoint (.safetensors): "
                <input type="file" id="load-checkpoint" accept=".safetensors" on:change=checkpoint />
            </label>
            <label class="file">
                "Your own data: " {settings::DATA_KINDS} " (or drop them anywhere on the page): "
                <input type="file" id="data-files" multiple on:change=chosen />
            </label>
        </div>
    }
}

#[component]
fn BenchView(ui: Ui) -> impl IntoView {
    let rows = move || {
        ui.bench
            .get()
            .into_iter()
            .map(|row| {
                let model = row.name.clone();
                view! {
                    <tr data-model=model>
                        <td>{row.name}</td>
                        <td>{row.batch}</td>
                        <td class="ms">{format!("{:.1}", row.median_ms)}</td>
                        <td>{format!("{:.2}", row.gflops)}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    let kernel_tables = move || {
        ui.bench
            .get()
            .into_iter()
            .filter(|row| !row.kernels.is_empty())
            .map(|row| {
                let gpu_ms: f64 = row.kernels.iter().map(|k| k.ms).sum();
                let lines = row
                    .kernels
                    .into_iter()
                    .take(KERNEL_ROWS)
                    .map(|k| {
                        view! {
                            <tr>
                                <td>{k.scope}</td>
                                <td>{k.kernel}</td>
                                <td>{format!("{:.1}", k.per_iteration)}</td>
                                <td class="ms">{format!("{:.2}", k.ms)}</td>
                                <td>{format!("{:.1}%", k.share)}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                view! {
                    <h3>{format!("{}: {:.1} ms of GPU time per iteration", row.name, gpu_ms)}</h3>
                    <table class="kernels" data-model=row.name.clone()>
                        <thead><tr>
                            <th>"layer"</th><th>"kernel"</th><th>"per iteration"</th>
                            <th>"ms"</th><th>"share"</th>
                        </tr></thead>
                        <tbody>{lines}</tbody>
                    </table>
                }
            })
            .collect_view()
    };
    view! {
        <h2>"Benchmark"</h2>
        <p>
            {move || format!(
                "Median milliseconds per training iteration in this browser, over {} iterations \
                 after {} untimed ones, each waited for.",
                ui.bench_iterations.get(),
                crate::start::BENCH_WARM_UP
            )}
            {move || (ui.phase.get() == Phase::Bench).then_some(" Running…")}
        </p>
        <table id="bench">
            <thead><tr><th>"model"</th><th>"batch"</th><th>"ms / iteration"</th><th>"GFLOP/s"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <p>
            "Where the GPU time goes, per layer and kernel, from timestamp queries around \
             each kernel (a second run of the same iterations; shown where the adapter has \
             timestamp queries), slowest first:"
        </p>
        {kernel_tables}
    }
}

/// Lines of each per-kernel table (the rest are in its total).
const KERNEL_ROWS: usize = 25;

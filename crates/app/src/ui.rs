//! The page: a Leptos component tree mounted on `<body>` (wasm32 only).

use js_sys::Reflect;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use webgan_tensor::GpuContext;

use crate::report::{AdapterReport, BrowserAdapterInfo, Probe};

/// Installs the panic hook and the console logger, then mounts the page.
pub fn start() {
    console_error_panic_hook::set_once();
    // Fails only if a logger is already set, which leaves logging working.
    let _ = console_log::init_with_level(log::Level::Info);
    leptos::mount::mount_to_body(App);
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
async fn browser_adapter_info() -> Option<BrowserAdapterInfo> {
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

/// Opens a context and turns the outcome into a [`Probe`].
async fn open_context() -> Probe {
    match GpuContext::new().await {
        Ok(context) => {
            let browser = browser_adapter_info().await;
            Probe::Ready(AdapterReport::new(
                context.adapter(),
                context.limits(),
                browser,
            ))
        }
        Err(error) => {
            log::error!("webgan: no WebGPU device: {error}");
            Probe::Failed(error.to_string())
        }
    }
}

#[component]
fn App() -> impl IntoView {
    let (probe, set_probe) = signal(Probe::Checking);

    // wasm_bindgen_futures' spawn_local needs no Leptos executor set up.
    if navigator_has_webgpu() {
        wasm_bindgen_futures::spawn_local(async move { set_probe.set(open_context().await) });
    } else {
        let secure_context = is_secure_context();
        log::info!("webgan: navigator.gpu is missing (secure context: {secure_context})");
        set_probe.set(Probe::NoWebGpu { secure_context });
    }

    view! {
        <main>
            <header>
                <h1>"webgan"</h1>
                <p class="tagline">
                    "A DCGAN that will train on your GPU, in this page, through WebGPU."
                </p>
            </header>
            <section id="status" data-state=move || probe.with(Probe::state)>
                {move || probe.with(status_view)}
            </section>
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
        <h2>"Device limits"</h2>
        <dl class="facts" id="limits">{limits}</dl>
    }
}

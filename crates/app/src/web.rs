//! Small browser helpers (wasm32 only): animation frames, the clock, the
//! URL, fetching with progress, files in and out, and 2-D canvas drawing.

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// The page's window; a page always has one.
pub fn window() -> web_sys::Window {
    web_sys::window().expect("a page has a window")
}

/// Milliseconds since the page started (`performance.now()`).
pub fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

/// The JS heap in use, where the browser reports it (Chromium's
/// non-standard `performance.memory.usedJSHeapSize`).
pub fn js_heap_bytes() -> Option<f64> {
    let performance = window().performance()?;
    let memory = Reflect::get(&performance, &"memory".into()).ok()?;
    Reflect::get(&memory, &"usedJSHeapSize".into())
        .ok()?
        .as_f64()
}

/// The size of this module's wasm linear memory.
pub fn wasm_bytes() -> f64 {
    let memory = wasm_bindgen::memory();
    Reflect::get(&memory, &"buffer".into())
        .and_then(|buffer| Reflect::get(&buffer, &"byteLength".into()))
        .ok()
        .and_then(|length| length.as_f64())
        .unwrap_or(0.0)
}

/// The longest the page's loop waits for an animation frame.
const FRAME_PATIENCE_MS: i32 = 100;

/// Resolves at the next animation frame, or after `FRAME_PATIENCE_MS` when
/// none comes first. Frames stop while a software adapter keeps the GPU
/// process busy (SwiftShader with a model too large for it delivered none
/// for minutes), and in a hidden tab; the loop must still see finished
/// work and update its status then. Resolving twice is harmless.
pub async fn next_frame() {
    let promise = Promise::new(&mut |resolve, _| {
        let window = window();
        let _ = window.request_animation_frame(&resolve);
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, FRAME_PATIENCE_MS);
    });
    let _ = JsFuture::from(promise).await;
}

/// Resolves after `ms` milliseconds (frames stop in a hidden tab; timers
/// keep going, more slowly).
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// The query string, with its `?`.
pub fn query() -> String {
    window().location().search().unwrap_or_default()
}

/// Replaces the URL's query string without reloading or adding history.
pub fn set_query(query: &str) {
    if let Ok(history) = window().history() {
        let url = format!("?{query}");
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
    }
}

/// Asks the person; `false` when the browser blocks the dialog.
pub fn confirm(question: &str) -> bool {
    window().confirm_with_message(question).unwrap_or(false)
}

fn js_error(value: JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Fetches `url` as bytes, calling `progress(loaded, total)` as chunks
/// arrive (`total` when the server sends a length).
///
/// # Errors
///
/// A message naming the URL: network failure or an HTTP error status.
pub async fn fetch_bytes(
    url: &str,
    progress: impl Fn(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let fail = |reason: String| format!("could not load {url}: {reason}");
    let response = JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|e| fail(js_error(e)))?;
    let response: web_sys::Response = response.dyn_into().map_err(|e| fail(js_error(e)))?;
    if !response.ok() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|length| length.parse().ok());
    let Some(body) = response.body() else {
        return Err(fail("the response has no body".into()));
    };

    let reader: web_sys::ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|e| fail(js_error(e.into())))?;
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| fail(js_error(e)))?;
        let done = Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy());
        if done.unwrap_or(true) {
            break;
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(|e| fail(js_error(e)))?;
        bytes.extend(Uint8Array::new(&value).to_vec());
        progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}

/// The bytes of a file the person chose or dropped.
///
/// # Errors
///
/// A message naming the file when the browser cannot read it.
pub async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("{}: cannot read the file: {}", file.name(), js_error(e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The files of a `FileList`.
pub fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// Offers `bytes` as a download called `name`.
pub fn download(bytes: &[u8], name: &str, mime: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(js_error)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    let document = window().document().expect("a page has a document");
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(js_error)?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();

    // The download has started by then; the URL only holds the blob alive.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    let _ = window()
        .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    Ok(())
}

/// The canvas with this id and its 2-D context, if the page shows it.
pub fn canvas_2d(id: &str) -> Option<(HtmlCanvasElement, CanvasRenderingContext2d)> {
    let document = window().document()?;
    let canvas: HtmlCanvasElement = document.get_element_by_id(id)?.dyn_into().ok()?;
    let context = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    Some((canvas, context))
}

/// Draws RGB pixels (3 bytes each) into the canvas `id`, resizing it to
/// fit, and sets its `data-step` (what the tests and people read).
pub fn draw_rgb(id: &str, width: usize, height: usize, rgb: &[u8], step: Option<u64>) {
    let Some((canvas, context)) = canvas_2d(id) else {
        return;
    };
    let mut rgba = Vec::with_capacity(width * height * 4);
    for pixel in rgb.chunks_exact(3) {
        rgba.extend_from_slice(&[pixel[0], pixel[1], pixel[2], 255]);
    }
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let image = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        Clamped(&rgba),
        width as u32,
        height as u32,
    );
    if let Ok(image) = image {
        let _ = context.put_image_data(&image, 0.0, 0.0);
    }
    if let Some(step) = step {
        let _ = canvas.set_attribute("data-step", &step.to_string());
    }
}

/// Installs `window.<name>` as a function with no arguments.
pub fn expose(name: &str, function: impl Fn() -> JsValue + 'static) {
    let closure = Closure::<dyn Fn() -> JsValue>::new(function);
    let _ = Reflect::set(&window(), &name.into(), closure.as_ref());
    closure.forget();
}

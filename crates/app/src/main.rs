//! Entry point of the page; `trunk build` compiles it to wasm32.

#[cfg(target_arch = "wasm32")]
fn main() {
    webgan_app::ui::start();
}

/// Natively there is nothing to show: the binary only exists so that
/// `cargo build --workspace` works on every target.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("webgan-app is a browser app: serve it with scripts/serve.sh and open the page");
    std::process::exit(2);
}

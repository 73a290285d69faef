//! What the page reports about WebGPU, as plain data.
//!
//! Nothing here touches the browser, so the page's wording and number
//! formatting are tested natively.

use webgan_tensor::{AdapterSummary, BufferStats};

/// Where the WebGPU probe stands; the page renders one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The adapter and device requests are in flight.
    Checking,
    /// `navigator.gpu` is missing: the browser has no WebGPU, or the page is
    /// not in a secure context (https or localhost).
    NoWebGpu {
        /// Whether the page was served from a secure context.
        secure_context: bool,
    },
    /// A device is open on this adapter.
    Ready(AdapterReport),
    /// WebGPU exists but no adapter or device could be had.
    Failed(String),
}

impl Probe {
    /// The `data-state` of `#status`: the contract with the browser test.
    pub fn state(&self) -> &'static str {
        match self {
            Probe::Checking => "checking",
            Probe::NoWebGpu { .. } => "no-webgpu",
            Probe::Ready(_) => "ready",
            Probe::Failed(_) => "error",
        }
    }
}

/// The adapter's identity as the browser tells it (WebGPU's `GPUAdapterInfo`).
///
/// wgpu 30 keeps only `description` of it on the web, which Chrome leaves
/// empty (gfx-rs/wgpu#8819), so the page asks the browser itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrowserAdapterInfo {
    /// e.g. "google", "nvidia"; may be empty.
    pub vendor: String,
    /// e.g. "swiftshader", "ampere"; may be empty.
    pub architecture: String,
    /// A vendor-specific device id; often empty.
    pub device: String,
    /// A human-readable name; browsers usually leave it empty.
    pub description: String,
}

impl BrowserAdapterInfo {
    /// Vendor, architecture and device, those that are known: "google swiftshader".
    pub fn hardware(&self) -> String {
        [&self.vendor, &self.architecture, &self.device]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The adapter in use and the device limits that matter for training.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterReport {
    /// The adapter, as the tensor crate summarises it.
    pub adapter: AdapterSummary,
    /// What the browser says about the adapter; `None` natively.
    pub browser: Option<BrowserAdapterInfo>,
    /// `(label, value)` pairs, formatted for people.
    pub limits: Vec<(&'static str, String)>,
}

impl AdapterReport {
    /// Builds the report from a context's adapter and device limits.
    pub fn new(
        adapter: &AdapterSummary,
        limits: &wgpu::Limits,
        browser: Option<BrowserAdapterInfo>,
    ) -> Self {
        Self {
            adapter: adapter.clone(),
            browser,
            limits: limit_rows(limits),
        }
    }

    /// The best name there is: the browser's description, else its vendor
    /// and architecture, else wgpu's adapter name.
    pub fn name(&self) -> String {
        let from_browser = self.browser.as_ref().map(|browser| {
            if browser.description.is_empty() {
                browser.hardware()
            } else {
                browser.description.clone()
            }
        });
        from_browser
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| self.adapter.name.clone())
    }

    /// wgpu's driver string, else the browser's vendor and architecture.
    pub fn driver(&self) -> Option<String> {
        if !self.adapter.driver.is_empty() {
            return Some(self.adapter.driver.clone());
        }
        self.browser
            .as_ref()
            .map(BrowserAdapterInfo::hardware)
            .filter(|s| !s.is_empty())
    }
}

/// The limits that bound batch size and kernel grids, formatted.
pub fn limit_rows(limits: &wgpu::Limits) -> Vec<(&'static str, String)> {
    vec![
        (
            "Largest storage binding",
            bytes(limits.max_storage_buffer_binding_size),
        ),
        ("Largest buffer", bytes(limits.max_buffer_size)),
        (
            "Workgroups per dimension",
            count(limits.max_compute_workgroups_per_dimension.into()),
        ),
        (
            "Invocations per workgroup",
            count(limits.max_compute_invocations_per_workgroup.into()),
        ),
    ]
}

/// A byte size in the largest binary unit that keeps it at least 1, with at
/// most one decimal: "128 MiB", "1.5 GiB", "512 bytes".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }

    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

/// An integer with thousands separated by commas: "65,535".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// What the page holds in memory, as the page shows it (`#memory`) and a
/// long run's check reads it (`window.webgan_memory()`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryReport {
    /// GPU buffers webgan holds.
    pub buffers: BufferStats,
    /// The JS heap in use, where the browser tells (Chromium's
    /// `performance.memory`).
    pub js_heap_bytes: Option<f64>,
    /// The wasm module's linear memory.
    pub wasm_bytes: f64,
}

impl MemoryReport {
    /// One line for the page.
    pub fn line(&self) -> String {
        let mib = |bytes: f64| format!("{:.1} MiB", bytes / (1u64 << 20) as f64);
        let js = self
            .js_heap_bytes
            .map_or(String::new(), |b| format!(" · JS heap {}", mib(b)));
        format!(
            "Memory: {} GPU buffers, {}{js} · wasm {}",
            self.buffers.live,
            mib(self.buffers.live_bytes as f64),
            mib(self.wasm_bytes)
        )
    }

    /// The same as JSON, for scripts.
    pub fn json(&self) -> String {
        let js = self
            .js_heap_bytes
            .map_or("null".to_string(), |b| format!("{b}"));
        format!(
            "{{\"gpu_buffers\":{},\"gpu_bytes\":{},\"gpu_buffers_made\":{},\
             \"js_heap_bytes\":{js},\"wasm_bytes\":{}}}",
            self.buffers.live, self.buffers.live_bytes, self.buffers.created, self.wasm_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> AdapterSummary {
        AdapterSummary {
            name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            backend: "Vulkan".into(),
            device_type: "Cpu".into(),
            driver: "llvmpipe Mesa 22.3.6".into(),
            is_cpu: true,
        }
    }

    #[test]
    fn bytes_uses_the_largest_unit_that_keeps_a_whole_number() {
        assert_eq!(bytes(0), "0 bytes");
        assert_eq!(bytes(1023), "1023 bytes");
        assert_eq!(bytes(1024), "1 KiB");
        assert_eq!(bytes(128 << 20), "128 MiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
        assert_eq!(bytes(1 << 32), "4 GiB");
        assert_eq!(bytes(u64::MAX), "16384 PiB");
    }

    #[test]
    fn count_groups_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(256), "256");
        assert_eq!(count(65_535), "65,535");
        assert_eq!(count(4_294_967_295), "4,294,967,295");
    }

    #[test]
    fn webgpu_default_limits_read_as_documented() {
        let rows = limit_rows(&wgpu::Limits::default());
        let value = |label| {
            rows.iter()
                .find(|(l, _)| *l == label)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("Largest storage binding"), Some("128 MiB"));
        assert_eq!(value("Largest buffer"), Some("256 MiB"));
        assert_eq!(value("Workgroups per dimension"), Some("65,535"));
        assert_eq!(value("Invocations per workgroup"), Some("256"));
    }

    #[test]
    fn natively_the_name_and_driver_are_wgpus() {
        let report = AdapterReport::new(&summary(), &wgpu::Limits::default(), None);
        assert_eq!(report.name(), "llvmpipe (LLVM 15.0.6, 256 bits)");
        assert_eq!(report.driver().as_deref(), Some("llvmpipe Mesa 22.3.6"));
    }

    #[test]
    fn in_a_browser_the_name_falls_back_to_vendor_and_architecture() {
        // What wgpu 30 and Chromium give for SwiftShader: no name, no driver.
        let adapter = AdapterSummary {
            name: "unnamed adapter".into(),
            backend: "BrowserWebGpu".into(),
            device_type: "Cpu".into(),
            driver: String::new(),
            is_cpu: true,
        };
        let info = BrowserAdapterInfo {
            vendor: "google".into(),
            architecture: "swiftshader".into(),
            ..Default::default()
        };
        let report = AdapterReport::new(&adapter, &wgpu::Limits::default(), Some(info.clone()));
        assert_eq!(report.name(), "google swiftshader");
        assert_eq!(report.driver().as_deref(), Some("google swiftshader"));

        let described = BrowserAdapterInfo {
            description: "SwiftShader Device".into(),
            ..info
        };
        let report = AdapterReport::new(&adapter, &wgpu::Limits::default(), Some(described));
        assert_eq!(report.name(), "SwiftShader Device");

        let silent = Some(BrowserAdapterInfo::default());
        let report = AdapterReport::new(&adapter, &wgpu::Limits::default(), silent);
        assert_eq!(report.name(), "unnamed adapter");
        assert_eq!(report.driver(), None);
    }

    #[test]
    fn states_match_what_the_browser_test_waits_for() {
        let report = AdapterReport::new(&summary(), &wgpu::Limits::default(), None);
        assert_eq!(Probe::Checking.state(), "checking");
        assert_eq!(
            Probe::NoWebGpu {
                secure_context: true
            }
            .state(),
            "no-webgpu"
        );
        assert_eq!(Probe::Ready(report).state(), "ready");
        assert_eq!(Probe::Failed("lost".into()).state(), "error");
    }

    #[test]
    fn memory_reads_as_a_line_and_as_json() {
        let report = MemoryReport {
            buffers: BufferStats {
                live: 150,
                live_bytes: 3 << 20,
                created: 160,
            },
            js_heap_bytes: Some(12.5 * (1 << 20) as f64),
            wasm_bytes: (40 << 20) as f64,
        };
        assert_eq!(
            report.line(),
            "Memory: 150 GPU buffers, 3.0 MiB · JS heap 12.5 MiB · wasm 40.0 MiB"
        );
        assert_eq!(
            report.json(),
            "{\"gpu_buffers\":150,\"gpu_bytes\":3145728,\"gpu_buffers_made\":160,\
             \"js_heap_bytes\":13107200,\"wasm_bytes\":41943040}"
        );
        let no_heap = MemoryReport {
            js_heap_bytes: None,
            ..report
        };
        assert!(!no_heap.line().contains("JS heap"));
        assert!(no_heap.json().contains("\"js_heap_bytes\":null"));
    }
}

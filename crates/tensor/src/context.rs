//! The GPU context: adapter, device, queue, pipeline cache and readback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Result, TensorError};
use crate::memory::{BufferStats, GpuBuffer, Ledger};
use crate::shaders::{self, KernelId};
use crate::tensor::Tensor;
use crate::timing::Timer;

/// What the user should know about the adapter in use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    /// Adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Backend, e.g. "Vulkan" or "BrowserWebGpu".
    pub backend: String,
    /// Device type, e.g. "Cpu" or "DiscreteGpu".
    pub device_type: String,
    /// Driver (natively) or vendor/architecture (in a browser), if known.
    pub driver: String,
    /// True for software adapters (lavapipe, SwiftShader, WARP).
    pub is_cpu: bool,
}

impl AdapterSummary {
    /// True for Google's SwiftShader, natively (its Vulkan driver) or as
    /// Chromium's WebGPU fallback, whose costs some kernel choices follow
    /// ([`Tuning`]).
    pub fn is_swiftshader(&self) -> bool {
        format!("{} {}", self.name, self.driver)
            .to_lowercase()
            .contains("swiftshader")
    }
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.backend, self.device_type)?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        write!(f, ")")
    }
}

/// Kernel choices that depend on the adapter; a context sets them from its
/// adapter when it opens ([`GpuContext::tuning`]), and tests and benchmarks
/// may change them ([`GpuContext::set_tuning`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Weight gradients split each 8 x 8 block's sum over positions across
    /// several lanes and add the parts in workgroup memory
    /// (`conv2d_backward_weight`), so that few blocks still fill a GPU.
    /// Off, one lane sums each block alone (`conv2d_backward_weight_lane`),
    /// with no barrier: what software adapters run fastest, since there a
    /// barrier parks and resumes every lane of the workgroup, and a few
    /// cores are filled by few blocks anyway. Measured with `webgan bench
    /// --kernels`, weight gradients' GPU ms per 32:64 iteration, split ->
    /// one lane: Chromium's SwiftShader 777 -> 482, lavapipe 190 -> 170; at
    /// 16:32, 127 -> 97 and 32 -> 30.
    pub split_weight_sums: bool,
    /// Sums shared by the lanes of a workgroup where the work has few
    /// outputs: `dense_nt` splits each block's sum over k (G.0's input
    /// gradient, D.8's forward pass) and D.0's and G.9's weight gradients
    /// run `conv2d_backward_weight_rows`. Off, D.8's forward pass and G.0's
    /// input gradient run `conv2d_forward` and those weight gradients the
    /// other weight kernels. On everywhere but SwiftShader. On lavapipe
    /// (`benches/kernels.rs`, standard preset, GPU time against the best
    /// matmul beside it): G.0's input gradient 0.21 -> 0.63, the weight
    /// gradients 0.26-0.27 -> 0.41-0.52. On Chromium's SwiftShader, where
    /// a barrier costs far more (`?bench`, GPU ms per iteration at 16:32
    /// and 32:64, two runs each): D.8's forward pass 1.1 -> 11.7 and 3.1 ->
    /// 13.8, D.0's weight gradient 3.2 -> 12.2 and 11.9 -> 16.3.
    pub workgroup_sums: bool,
    /// D.0's forward pass and G.9's input gradient run
    /// `conv2d_forward_rows` (input rows as vec4) rather than
    /// `conv2d_forward_flat`. On everywhere but SwiftShader. Lavapipe: 0.45
    /// -> 0.55-0.61 of the matmul beside it; Chromium's SwiftShader: D.0's
    /// forward pass 4.2 -> 5.1 and 14.2 -> 17.1 GPU ms per iteration at
    /// 16:32 and 32:64.
    pub forward_rows: bool,
    /// The conv2d kernels compute 16 x 16 blocks (four 8 x 8 blocks sharing
    /// their loads) where both sides of the product have 16 rows or more.
    /// On for software adapters, where a storage load costs far more than
    /// a multiply-add and spilled sums cost little; a GPU would run out of
    /// registers. On lavapipe (`benches/kernels.rs`, standard preset, GPU
    /// time against the matmul beside it): the middle layers' passes
    /// (G.3, G.6, D.2, D.5) 0.33-0.60 -> 0.55-0.82.
    pub wide_blocks: bool,
}

impl Tuning {
    /// The choices for an adapter.
    pub fn for_adapter(adapter: &AdapterSummary) -> Self {
        let swiftshader = adapter.is_swiftshader();
        Self {
            // In a browser wgpu marks only a fallback adapter as a CPU.
            split_weight_sums: !adapter.is_cpu && !swiftshader,
            workgroup_sums: !swiftshader,
            forward_rows: !swiftshader,
            wide_blocks: adapter.is_cpu && !swiftshader,
        }
    }

    /// Every choice the other way, so that a test can run the kernels this
    /// adapter does not pick.
    pub fn flipped(self) -> Self {
        Self {
            split_weight_sums: !self.split_weight_sums,
            workgroup_sums: !self.workgroup_sums,
            forward_rows: !self.forward_rows,
            wide_blocks: !self.wide_blocks,
        }
    }
}

/// A compiled compute pipeline and the layout of its bind group 0.
pub(crate) struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// Owns the device and queue, builds each pipeline once, and reads back.
///
/// Cloning is cheap (`wgpu` handles are reference counted); clones share the
/// pipeline cache.
#[derive(Clone)]
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    adapter: AdapterSummary,
    limits: wgpu::Limits,
    kernels: Arc<Mutex<HashMap<&'static str, Arc<Kernel>>>>,
    modules: Arc<Mutex<HashMap<&'static str, wgpu::ShaderModule>>>,
    /// The uniform buffer that holds every dispatch's parameters; grows.
    pub(crate) params: Arc<Mutex<Option<GpuBuffer>>>,
    /// Buffers alive and made (see [`GpuContext::buffer_stats`]).
    ledger: Arc<Ledger>,
    /// The first GPU error wgpu reported outside an error scope, if any.
    gpu_error: Arc<Mutex<Option<String>>>,
    /// Why the device was lost, once it is.
    lost: Arc<Mutex<Option<String>>>,
    /// Per-kernel timing (see `timing.rs`).
    pub(crate) timer: Arc<Timer>,
    tuning: Arc<Mutex<Tuning>>,
}

impl GpuContext {
    /// Opens the best adapter (high performance, any backend natively,
    /// WebGPU in a browser) and a device with the limits the kernels need.
    ///
    /// # Errors
    ///
    /// [`TensorError::NoAdapter`] when there is no adapter,
    /// [`TensorError::RequestDevice`] when the adapter refuses the device.
    pub async fn new() -> Result<Self> {
        let instance = wgpu::Instance::new(instance_descriptor());
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            // Report the adapter's real limits; we request only what we need.
            apply_limit_buckets: false,
        };
        let adapter =
            instance
                .request_adapter(&options)
                .await
                .map_err(|e| TensorError::NoAdapter {
                    reason: e.to_string(),
                })?;
        Self::from_adapter(adapter).await
    }

    /// Opens a device on a given adapter.
    ///
    /// # Errors
    ///
    /// [`TensorError::RequestDevice`] when the adapter refuses the device.
    pub async fn from_adapter(adapter: wgpu::Adapter) -> Result<Self> {
        let summary = summarize(&adapter.get_info());
        let tuning = Tuning::for_adapter(&summary);
        let limits = required_limits(&adapter.limits());
        // Timestamps only feed `webgan bench`'s per-kernel table; ask for
        // them where the adapter has them, and go without elsewhere.
        let features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("webgan"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) =
            adapter
                .request_device(&descriptor)
                .await
                .map_err(|e| TensorError::RequestDevice {
                    adapter: summary.name.clone(),
                    reason: e.to_string(),
                })?;
        log::info!(
            "webgan: adapter {summary}; storage binding {} MiB, buffer {} MiB, \
             workgroups per dimension {}",
            limits.max_storage_buffer_binding_size >> 20,
            limits.max_buffer_size >> 20,
            limits.max_compute_workgroups_per_dimension
        );

        let timer = Timer::new(
            features.contains(wgpu::Features::TIMESTAMP_QUERY),
            f64::from(queue.get_timestamp_period()),
        );
        let gpu_error = Arc::new(Mutex::new(None));
        let sink = gpu_error.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            log::error!("webgan: GPU error: {error}");
            sink.lock()
                .unwrap()
                .get_or_insert_with(|| error.to_string());
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            log::error!("webgan: GPU device lost ({reason:?}): {message}");
            *lost_sink.lock().unwrap() = Some(format!("{reason:?}: {message}"));
        });
        Ok(Self {
            device,
            queue,
            adapter: summary,
            limits,
            kernels: Default::default(),
            modules: Default::default(),
            params: Default::default(),
            ledger: Default::default(),
            gpu_error,
            lost,
            timer: Arc::new(timer),
            tuning: Arc::new(Mutex::new(tuning)),
        })
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.adapter
    }

    /// The kernel choices in use.
    pub fn tuning(&self) -> Tuning {
        *self.tuning.lock().unwrap()
    }

    /// Changes the kernel choices for everything recorded from now on (by
    /// this context and its clones). Every choice computes the same values
    /// up to rounding; only the speed differs.
    pub fn set_tuning(&self, tuning: Tuning) {
        *self.tuning.lock().unwrap() = tuning;
    }

    /// The limits the device was created with.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The wgpu device, for callers that build their own resources.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Makes a buffer that is counted in [`GpuContext::buffer_stats`] while
    /// any handle to it lives. Every buffer of webgan's is made here.
    pub fn create_buffer(&self, descriptor: &wgpu::BufferDescriptor<'_>) -> GpuBuffer {
        GpuBuffer::new(self.device.create_buffer(descriptor), self.ledger.clone())
    }

    /// How many buffers made through [`GpuContext::create_buffer`] are alive,
    /// their bytes, and how many were made in all.
    pub fn buffer_stats(&self) -> BufferStats {
        self.ledger.stats()
    }

    /// Takes the first GPU error reported since the last call, if any.
    ///
    /// wgpu reports validation and out-of-memory errors asynchronously; a
    /// caller that must not go on after one (the trainer) checks here.
    pub fn take_gpu_error(&self) -> Option<String> {
        self.gpu_error.lock().unwrap().take()
    }

    /// Why the device was lost (driver reset, tab in the background too
    /// long, `destroy`), once it has been; a lost device runs nothing more
    /// and a new context is needed.
    pub fn lost_reason(&self) -> Option<String> {
        self.lost.lock().unwrap().clone()
    }

    /// The pipeline of an entry point, built on first use.
    pub(crate) fn kernel(&self, id: KernelId) -> Arc<Kernel> {
        let mut kernels = self.kernels.lock().unwrap();
        if let Some(kernel) = kernels.get(id.entry) {
            return kernel.clone();
        }
        let module = self.module(id);
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(id.entry),
                layout: None,
                module: &module,
                entry_point: Some(id.entry),
                compilation_options: Default::default(),
                cache: None,
            });
        let layout = pipeline.get_bind_group_layout(0);
        log::debug!("webgan: built pipeline {}", id.entry);
        let kernel = Arc::new(Kernel { pipeline, layout });
        kernels.insert(id.entry, kernel.clone());
        kernel
    }

    fn module(&self, id: KernelId) -> wgpu::ShaderModule {
        let mut modules = self.modules.lock().unwrap();
        modules
            .entry(id.file)
            .or_insert_with(|| {
                let source = shaders::compose(id.source);
                self.device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(id.file),
                        source: wgpu::ShaderSource::Wgsl(source.into()),
                    })
            })
            .clone()
    }

    /// Reads a tensor back as f32 values.
    ///
    /// Works the same natively (it polls the device) and in a browser (it
    /// awaits the map callback, which runs once control returns to the
    /// event loop).
    ///
    /// # Errors
    ///
    /// [`TensorError::Readback`] when mapping fails, e.g. the device was lost.
    pub async fn read_f32(&self, tensor: &Tensor) -> Result<Vec<f32>> {
        let mut values = self.read_f32_many(&[tensor]).await?;
        Ok(values.pop().expect("one result for one tensor"))
    }

    /// Reads several tensors through one staging buffer, one submission and
    /// one map, in the order given (a checkpoint's 60-odd tensors would
    /// otherwise cost as many buffers and, in a browser, event-loop turns).
    ///
    /// # Errors
    ///
    /// [`TensorError::Readback`] when mapping fails, e.g. the device was lost.
    pub async fn read_f32_many(&self, tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        // Nothing to read: no zero-sized staging buffer (wgpu refuses to map one).
        if tensors.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = self.read_together(tensors).await?;
        let mut offset = 0;
        let values = tensors
            .iter()
            .map(|t| {
                let end = offset + t.byte_size() as usize;
                let values = bytes[offset..end]
                    .chunks_exact(4)
                    .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                offset = end;
                values
            })
            .collect();
        Ok(values)
    }

    /// The bytes of every tensor, one after another, copied into one
    /// staging buffer in one submission (readback errors name the first).
    async fn read_together(&self, tensors: &[&Tensor]) -> Result<Vec<u8>> {
        let label = tensors[0].label();
        let size = tensors.iter().map(|t| t.byte_size()).sum();
        let staging = self.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback.staging"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        let mut at = 0;
        for tensor in tensors {
            encoder.copy_buffer_to_buffer(tensor.buffer(), 0, &staging, at, tensor.byte_size());
            at += tensor.byte_size();
        }
        self.queue.submit([encoder.finish()]);

        let (sender, receiver) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| readback_error(label, e))?;

        let mapped = receiver.await.map_err(|e| readback_error(label, e))?;
        mapped.map_err(|e| readback_error(label, e))?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| readback_error(label, e))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

fn readback_error(label: &str, error: impl std::fmt::Display) -> TensorError {
    TensorError::Readback {
        label: label.to_string(),
        reason: error.to_string(),
    }
}

fn instance_descriptor() -> wgpu::InstanceDescriptor {
    wgpu::InstanceDescriptor::new_without_display_handle_from_env()
}

/// WebGPU's default limits, with the buffer limits raised to the adapter's:
/// large batches need storage bindings beyond the 128 MiB default.
fn required_limits(adapter: &wgpu::Limits) -> wgpu::Limits {
    let mut limits = if wgpu::Limits::default().check_limits(adapter) {
        wgpu::Limits::default()
    } else {
        log::debug!("webgan: adapter below WebGPU defaults, using downlevel limits");
        wgpu::Limits::downlevel_defaults()
    };
    limits.max_storage_buffer_binding_size = adapter.max_storage_buffer_binding_size;
    limits.max_buffer_size = adapter.max_buffer_size;
    limits.max_compute_workgroups_per_dimension = adapter.max_compute_workgroups_per_dimension;
    limits
}

fn summarize(info: &wgpu::AdapterInfo) -> AdapterSummary {
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let name = if info.name.is_empty() {
        "unnamed adapter".to_string()
    } else {
        info.name.clone()
    };
    let lower = format!("{} {}", info.name, driver).to_lowercase();
    let is_cpu = info.device_type == wgpu::DeviceType::Cpu
        || ["swiftshader", "llvmpipe", "lavapipe", "warp"]
            .iter()
            .any(|s| lower.contains(s));
    AdapterSummary {
        name,
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver,
        is_cpu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, driver: &str, is_cpu: bool) -> AdapterSummary {
        AdapterSummary {
            name: name.into(),
            backend: "Vulkan".into(),
            device_type: "Cpu".into(),
            driver: driver.into(),
            is_cpu,
        }
    }

    #[test]
    fn swiftshader_alone_turns_the_workgroup_kernels_off() {
        // Natively on SwiftShader's Vulkan driver, and in Chromium, where
        // the vendor and architecture stand in for the driver.
        for swiftshader in [
            adapter("SwiftShader Device (Subzero)", "", true),
            adapter("unnamed adapter", "google swiftshader", true),
            adapter("unnamed adapter", "google swiftshader", false),
        ] {
            let tuning = Tuning::for_adapter(&swiftshader);
            assert!(
                !tuning.workgroup_sums && !tuning.forward_rows,
                "{swiftshader}"
            );
            assert!(!tuning.split_weight_sums && !tuning.wide_blocks);
        }
        let lavapipe = adapter("llvmpipe (LLVM 15.0.6, 256 bits)", "Mesa", true);
        let tuning = Tuning::for_adapter(&lavapipe);
        assert!(tuning.workgroup_sums && tuning.forward_rows && !tuning.split_weight_sums);
        assert!(tuning.wide_blocks);
        let gpu = Tuning::for_adapter(&adapter("NVIDIA H200", "", false));
        assert!(gpu.workgroup_sums && gpu.forward_rows && gpu.split_weight_sums);
        assert!(!gpu.wide_blocks);
        assert_eq!(gpu.flipped().flipped(), gpu);
        let opposite = Tuning {
            wide_blocks: true,
            ..Tuning::for_adapter(&swiftshader_like())
        };
        assert_eq!(gpu.flipped(), opposite);
    }

    /// The choices opposite to a GPU's on every count but the wide blocks:
    /// a software adapter that is SwiftShader.
    fn swiftshader_like() -> AdapterSummary {
        adapter("SwiftShader Device", "", true)
    }
}

//! Recording kernel dispatches and copies, and submitting them at once.

use std::num::NonZeroU64;
use std::sync::Arc;

use crate::context::{GpuContext, Kernel};
use crate::error::{Result, TensorError};
use crate::memory::GpuBuffer;
use crate::shaders::KernelId;
use crate::tensor::Tensor;
use crate::timing::{Labels, QueryBatch, DISPATCHES_PER_SET};
use crate::WORKGROUP_SIZE;

/// Records ops for one submission.
///
/// Ops validate their arguments and append a command; nothing reaches the
/// GPU until [`Encoder::submit`]. Each dispatch's parameters go into one
/// uniform buffer owned by the context and reused across submissions (queue
/// writes are ordered with submissions, so reuse is safe without waiting).
pub struct Encoder<'c> {
    ctx: &'c GpuContext,
    commands: Vec<Command>,
    params: Vec<u8>,
    scope: Option<Arc<str>>,
}

enum Command {
    Dispatch {
        kernel: Arc<Kernel>,
        entry: &'static str,
        scope: Option<Arc<str>>,
        params_offset: u64,
        params_size: u64,
        bindings: &'static [u32],
        buffers: Vec<wgpu::Buffer>,
        groups: [u32; 3],
    },
    Copy {
        src: wgpu::Buffer,
        src_offset: u64,
        dst: wgpu::Buffer,
        dst_offset: u64,
        size: u64,
    },
}

impl<'c> Encoder<'c> {
    /// An empty recording on `ctx`.
    pub fn new(ctx: &'c GpuContext) -> Self {
        Self {
            ctx,
            commands: Vec::new(),
            params: Vec::new(),
            scope: None,
        }
    }

    /// Names what the dispatches recorded from now on belong to (a layer,
    /// `D.2 conv`), for the per-kernel time table ([`GpuContext::kernel_times`]);
    /// `None` for no name.
    pub fn set_scope(&mut self, scope: Option<Arc<str>>) {
        self.scope = scope;
    }

    /// The context this encoder records for.
    pub fn context(&self) -> &'c GpuContext {
        self.ctx
    }

    /// Number of commands recorded so far.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Records a dispatch of `groups` workgroups of `id` with `params` bound
    /// at binding 0 and `tensors` at the bindings `id.bindings` names.
    pub(crate) fn dispatch<P: bytemuck::Pod>(
        &mut self,
        id: KernelId,
        params: &P,
        tensors: &[&Tensor],
        groups: [u32; 3],
    ) {
        assert_eq!(
            tensors.len(),
            id.bindings.len(),
            "{}: one tensor per binding",
            id.entry
        );
        let align = self.ctx.limits().min_uniform_buffer_offset_alignment as usize;
        let params_offset = self.params.len().next_multiple_of(align);
        let bytes = bytemuck::bytes_of(params);
        self.params.resize(params_offset, 0);
        self.params.extend_from_slice(bytes);
        log::trace!("webgan: dispatch {} {:?}", id.entry, groups);

        self.commands.push(Command::Dispatch {
            kernel: self.ctx.kernel(id),
            entry: id.entry,
            scope: self.scope.clone(),
            params_offset: params_offset as u64,
            params_size: bytes.len() as u64,
            bindings: id.bindings,
            buffers: tensors.iter().map(|t| t.buffer().clone()).collect(),
            groups,
        });
    }

    /// Records a dispatch with one invocation per element of a flat range of
    /// `count` elements, folding into a 2-D grid past the per-dimension limit.
    pub(crate) fn dispatch_flat<P: bytemuck::Pod>(
        &mut self,
        id: KernelId,
        params: &P,
        tensors: &[&Tensor],
        count: usize,
    ) -> Result<()> {
        let max = self.ctx.limits().max_compute_workgroups_per_dimension;
        let groups = flat_grid(id.entry, count as u64, max)?;
        self.dispatch(id, params, tensors, groups);
        Ok(())
    }

    /// Records a dispatch of `workgroups` workgroups (one per output of a
    /// reduction), folded into a 2-D grid past the per-dimension limit.
    pub(crate) fn dispatch_groups<P: bytemuck::Pod>(
        &mut self,
        id: KernelId,
        params: &P,
        tensors: &[&Tensor],
        workgroups: usize,
    ) -> Result<()> {
        let max = self.ctx.limits().max_compute_workgroups_per_dimension;
        let groups = fold_groups(id.entry, workgroups as u64, max)?;
        self.dispatch(id, params, tensors, groups);
        Ok(())
    }

    /// Records a copy of all of `src` into `dst`.
    ///
    /// # Errors
    ///
    /// [`TensorError::ShapeMismatch`] when the element counts differ.
    pub fn copy(&mut self, src: &Tensor, dst: &Tensor) -> Result<()> {
        if src.len() != dst.len() {
            return Err(TensorError::ShapeMismatch {
                op: "copy",
                what: "destination",
                expected: src.shape().to_vec(),
                got: dst.shape().to_vec(),
            });
        }
        self.copy_elements(src, 0, dst, 0, src.len())
    }

    /// Records a copy of `count` elements from `src[src_start..]` into
    /// `dst[dst_start..]`.
    ///
    /// # Errors
    ///
    /// [`TensorError::InvalidArgument`] when a range falls outside its tensor.
    pub fn copy_elements(
        &mut self,
        src: &Tensor,
        src_start: usize,
        dst: &Tensor,
        dst_start: usize,
        count: usize,
    ) -> Result<()> {
        if src_start + count > src.len() || dst_start + count > dst.len() || count == 0 {
            return Err(TensorError::InvalidArgument {
                op: "copy_elements",
                message: format!(
                    "{count} elements from {src_start} of {:?} into {dst_start} of {:?} \
                     do not fit",
                    src.shape(),
                    dst.shape()
                ),
            });
        }
        self.commands.push(Command::Copy {
            src: src.buffer().clone(),
            src_offset: src_start as u64 * 4,
            dst: dst.buffer().clone(),
            dst_offset: dst_start as u64 * 4,
            size: count as u64 * 4,
        });
        Ok(())
    }

    /// Records a copy of `count` elements from `src[src_start..]` into a raw
    /// buffer at byte `dst_offset`, e.g. a `MAP_READ` staging buffer for an
    /// asynchronous readback.
    ///
    /// # Errors
    ///
    /// [`TensorError::InvalidArgument`] when the range falls outside `src`
    /// or `dst`.
    pub fn copy_to_buffer(
        &mut self,
        src: &Tensor,
        src_start: usize,
        dst: &wgpu::Buffer,
        dst_offset: u64,
        count: usize,
    ) -> Result<()> {
        let size = count as u64 * 4;
        if count == 0 || src_start + count > src.len() || dst_offset + size > dst.size() {
            return Err(TensorError::InvalidArgument {
                op: "copy_to_buffer",
                message: format!(
                    "{count} elements from {src_start} of {:?} into byte {dst_offset} of a \
                     {}-byte buffer do not fit",
                    src.shape(),
                    dst.size()
                ),
            });
        }
        self.commands.push(Command::Copy {
            src: src.buffer().clone(),
            src_offset: src_start as u64 * 4,
            dst: dst.clone(),
            dst_offset,
            size,
        });
        Ok(())
    }

    /// Encodes everything recorded into one command buffer and submits it.
    /// Returns without waiting for the GPU.
    pub fn submit(self) -> wgpu::SubmissionIndex {
        let ctx = self.ctx;
        // Held until the submission is queued: another thread's parameters
        // written in between would overwrite ours before our dispatches run.
        let mut slot = ctx.params.lock().unwrap();
        let params = ctx.params_buffer(&mut slot, &self.params);
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("webgan.encoder"),
            });

        let timed = ctx.timer.enabled();
        let mut batches: Vec<QueryBatch> = Vec::new();
        if timed {
            let labels: Labels = self
                .commands
                .iter()
                .filter_map(|c| match c {
                    Command::Dispatch { entry, scope, .. } => {
                        Some((scope.clone().unwrap_or_else(|| Arc::from("-")), *entry))
                    }
                    Command::Copy { .. } => None,
                })
                .collect();
            batches = labels
                .chunks(DISPATCHES_PER_SET)
                .map(|chunk| QueryBatch::new(ctx, chunk.to_vec()))
                .collect();
        }

        let mut rest = self.commands.as_slice();
        let mut dispatched = 0;
        while !rest.is_empty() {
            let run = rest
                .iter()
                .take_while(|c| matches!(c, Command::Dispatch { .. }))
                .count();
            if run > 0 && timed {
                // A pass per dispatch, each writing its two timestamps.
                for command in &rest[..run] {
                    let batch = &batches[dispatched / DISPATCHES_PER_SET];
                    let at = (dispatched % DISPATCHES_PER_SET) as u32 * 2;
                    let writes = wgpu::ComputePassTimestampWrites {
                        query_set: &batch.set,
                        beginning_of_pass_write_index: Some(at),
                        end_of_pass_write_index: Some(at + 1),
                    };
                    let command = std::slice::from_ref(command);
                    encode_pass(ctx, &mut encoder, command, params.as_deref(), Some(writes));
                    dispatched += 1;
                }
                rest = &rest[run..];
            } else if run > 0 {
                encode_pass(ctx, &mut encoder, &rest[..run], params.as_deref(), None);
                rest = &rest[run..];
            } else {
                if let Command::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    size,
                } = &rest[0]
                {
                    encoder.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *size);
                }
                rest = &rest[1..];
            }
        }
        for batch in &batches {
            batch.encode_readback(&mut encoder);
        }
        let index = ctx.queue.submit([encoder.finish()]);
        for batch in batches {
            batch.read_back(ctx.timer.clone());
        }
        index
    }
}

/// Encodes a run of dispatches into one compute pass. Dispatches in a pass
/// run in order and see each other's storage writes.
fn encode_pass(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    dispatches: &[Command],
    params: Option<&wgpu::Buffer>,
    timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
) {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("webgan.pass"),
        timestamp_writes,
    });
    for command in dispatches {
        let Command::Dispatch {
            kernel,
            entry: _,
            scope: _,
            params_offset,
            params_size,
            bindings,
            buffers,
            groups,
        } = command
        else {
            unreachable!("encode_pass is only given dispatches");
        };
        let params = params.expect("a dispatch always writes parameters");
        let bind_group = bind_group(
            ctx,
            kernel,
            params,
            (*params_offset, *params_size),
            bindings,
            buffers,
        );
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }
}

fn bind_group(
    ctx: &GpuContext,
    kernel: &Kernel,
    params: &wgpu::Buffer,
    (offset, size): (u64, u64),
    bindings: &[u32],
    buffers: &[wgpu::Buffer],
) -> wgpu::BindGroup {
    let params_binding = wgpu::BufferBinding {
        buffer: params,
        offset,
        size: NonZeroU64::new(size),
    };
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(params_binding),
    }];
    for (&binding, buffer) in bindings.iter().zip(buffers) {
        entries.push(wgpu::BindGroupEntry {
            binding,
            resource: buffer.as_entire_binding(),
        });
    }
    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &kernel.layout,
        entries: &entries,
    })
}

/// Workgroup counts for `count` invocations of [`WORKGROUP_SIZE`]: a row of
/// at most `max_per_dim` workgroups, as many rows as needed. The shader
/// flattens with `(wid.y * num_workgroups.x + wid.x) * WG + lid.x`.
pub(crate) fn flat_grid(op: &'static str, count: u64, max_per_dim: u32) -> Result<[u32; 3]> {
    fold_groups(op, count.div_ceil(WORKGROUP_SIZE as u64), max_per_dim)
}

/// `groups` workgroups as a row of at most `max_per_dim`, as many rows as
/// needed; the shader flattens with `wid.y * num_workgroups.x + wid.x`.
pub(crate) fn fold_groups(op: &'static str, groups: u64, max_per_dim: u32) -> Result<[u32; 3]> {
    let groups = groups.max(1);
    let x = groups.min(max_per_dim as u64);
    let y = groups.div_ceil(x);
    if y > max_per_dim as u64 {
        return Err(TensorError::Limit {
            op,
            what: "workgroups",
            needed: groups,
            limit: max_per_dim as u64 * max_per_dim as u64,
        });
    }
    Ok([x as u32, y as u32, 1])
}

impl GpuContext {
    /// The shared parameter buffer holding `bytes`, grown when too small.
    fn params_buffer(&self, slot: &mut Option<GpuBuffer>, bytes: &[u8]) -> Option<GpuBuffer> {
        if bytes.is_empty() {
            return None;
        }
        let needed = (bytes.len() as u64).next_multiple_of(256);
        if slot.as_ref().is_none_or(|b| b.size() < needed) {
            let size = needed.next_power_of_two().max(4096);
            log::debug!("webgan: parameter buffer grown to {size} bytes");
            *slot = Some(self.create_buffer(&wgpu::BufferDescriptor {
                label: Some("webgan.params"),
                size,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let buffer = slot.clone().expect("just ensured");
        self.queue.write_buffer(&buffer, 0, bytes);
        Some(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_grid_stays_one_row_below_the_limit() {
        assert_eq!(flat_grid("t", 1, 65535).unwrap(), [1, 1, 1]);
        assert_eq!(flat_grid("t", 256 * 65535, 65535).unwrap(), [65535, 1, 1]);
    }

    #[test]
    fn flat_grid_folds_into_rows_past_the_limit() {
        let [x, y, _] = flat_grid("t", 256 * 65535 + 1, 65535).unwrap();
        assert_eq!((x, y), (65535, 2));
        assert!(x as u64 * y as u64 * 256 > 256 * 65535);
    }

    #[test]
    fn flat_grid_refuses_what_two_dimensions_cannot_hold() {
        assert!(flat_grid("t", 256 * 4 * 4 + 1, 4).is_err());
    }
}

//! A tensor: one GPU buffer of f32 with a shape and a label.

use crate::context::GpuContext;
use crate::error::{Result, TensorError};
use crate::memory::GpuBuffer;

/// Dimensions of a tensor, outermost first.
pub type Shape = Vec<usize>;

/// A contiguous, row-major f32 tensor in a GPU storage buffer.
///
/// The buffer can be bound as storage, copied from and copied to. Cloning a
/// tensor clones the handle, not the data.
#[derive(Clone, Debug)]
pub struct Tensor {
    buffer: GpuBuffer,
    shape: Shape,
    label: String,
}

impl Tensor {
    /// A zero-filled tensor.
    ///
    /// # Errors
    ///
    /// [`TensorError::ZeroSize`] for an empty shape, [`TensorError::Limit`]
    /// when the buffer would exceed the device's storage binding size.
    pub fn zeros(ctx: &GpuContext, shape: &[usize], label: &str) -> Result<Self> {
        let size = checked_byte_size(ctx, shape, label)?;
        let buffer = ctx.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: usage(),
            mapped_at_creation: false,
        });
        Ok(Self {
            buffer,
            shape: shape.to_vec(),
            label: label.to_string(),
        })
    }

    /// A tensor holding `data`.
    ///
    /// # Errors
    ///
    /// [`TensorError::ShapeMismatch`] when `data.len()` is not the product of
    /// `shape`, and the errors of [`Tensor::zeros`].
    pub fn from_slice(
        ctx: &GpuContext,
        shape: &[usize],
        data: &[f32],
        label: &str,
    ) -> Result<Self> {
        let count: usize = shape.iter().product();
        if data.len() != count {
            return Err(TensorError::ShapeMismatch {
                op: "Tensor::from_slice",
                what: "data",
                expected: shape.to_vec(),
                got: vec![data.len()],
            });
        }
        let tensor = Self::zeros(ctx, shape, label)?;
        tensor.write(ctx, data)?;
        Ok(tensor)
    }

    /// Overwrites the whole tensor with `data` (queued before the next submit).
    ///
    /// # Errors
    ///
    /// [`TensorError::ShapeMismatch`] when `data` has the wrong length.
    pub fn write(&self, ctx: &GpuContext, data: &[f32]) -> Result<()> {
        if data.len() != self.len() {
            return Err(TensorError::ShapeMismatch {
                op: "Tensor::write",
                what: "data",
                expected: self.shape.clone(),
                got: vec![data.len()],
            });
        }
        ctx.queue
            .write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Reads the tensor back; see [`GpuContext::read_f32`].
    ///
    /// # Errors
    ///
    /// [`TensorError::Readback`] when mapping fails.
    pub async fn read(&self, ctx: &GpuContext) -> Result<Vec<f32>> {
        ctx.read_f32(self).await
    }

    /// A tensor that shares this one's buffer under another shape with the
    /// same number of elements.
    ///
    /// # Errors
    ///
    /// [`TensorError::ShapeMismatch`] when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if shape.iter().product::<usize>() != self.len() {
            return Err(TensorError::ShapeMismatch {
                op: "Tensor::reshape",
                what: "new shape",
                expected: self.shape.clone(),
                got: shape.to_vec(),
            });
        }
        Ok(Self {
            buffer: self.buffer.clone(),
            shape: shape.to_vec(),
            label: self.label.clone(),
        })
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Always false: tensors are never empty (see [`Tensor::zeros`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of the data in bytes.
    pub fn byte_size(&self) -> u64 {
        (self.len() * 4) as u64
    }

    /// The label the buffer was created with.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The underlying buffer.
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }
}

fn usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

fn checked_byte_size(ctx: &GpuContext, shape: &[usize], label: &str) -> Result<u64> {
    let count: usize = shape.iter().product();
    if shape.is_empty() || count == 0 {
        return Err(TensorError::ZeroSize {
            op: "Tensor::zeros",
            what: "tensor",
            shape: shape.to_vec(),
        });
    }
    let bytes = count as u64 * 4;
    let limit = ctx.limits().max_storage_buffer_binding_size;
    if bytes > limit {
        log::debug!("webgan: refused tensor '{label}' of {bytes} bytes");
        return Err(TensorError::Limit {
            op: "Tensor::zeros",
            what: "storage binding bytes",
            needed: bytes,
            limit,
        });
    }
    Ok(bytes)
}

// Matrix product c = aᵀ b, the yardstick for the convolution kernels.
//
// Layouts, row-major and contiguous, viewed as rows of vec4:
//   a [k, m]   (the left factor stored transposed, so that both factors
//               are read along their contiguous dimension)
//   b [k, n]
//   c [m, n]
// with m and n multiples of 8 (the launcher checks).
//
// Each invocation computes an 8 x 8 block of c, as the convolution kernels
// do, but here every load is a whole vec4 from contiguous memory: per step
// of k, four vec4 loads feed 64 multiply-adds. That is the most a kernel
// of this shape can get out of an adapter whose storage loads are the
// bottleneck, which is why `benches/kernels.rs` measures the convolutions
// against it. Neighbouring invocations share a block row of c, so they read
// the same a and consecutive b.

// Mirrors the Rust `MatmulParams`.
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// One invocation per 8 x 8 block of c, flat index row_block * n / 8 + col_block.
@compute @workgroup_size(WG)
fn matmul_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    let col_blocks = p.n / 8u;
    if index >= col_blocks * (p.m / 8u) {
        return;
    }
    let a_stride = p.m / 4u;
    let b_stride = p.n / 4u;
    var a_at = index / col_blocks * 2u;
    var b_at = index % col_blocks * 2u;
    // m_rc: rows 4r..4r+3 of the block (one per mat4x4 column), columns
    // 4c..4c+3 (the vec4 in that column).
    var m00: mat4x4<f32>;
    var m01: mat4x4<f32>;
    var m10: mat4x4<f32>;
    var m11: mat4x4<f32>;
    for (var i = 0u; i < p.k; i++) {
        let a0 = a[a_at];
        let a1 = a[a_at + 1u];
        let b0 = b[b_at];
        let b1 = b[b_at + 1u];
        m00 += mat4x4<f32>(b0 * a0.x, b0 * a0.y, b0 * a0.z, b0 * a0.w);
        m01 += mat4x4<f32>(b1 * a0.x, b1 * a0.y, b1 * a0.z, b1 * a0.w);
        m10 += mat4x4<f32>(b0 * a1.x, b0 * a1.y, b0 * a1.z, b0 * a1.w);
        m11 += mat4x4<f32>(b1 * a1.x, b1 * a1.y, b1 * a1.z, b1 * a1.w);
        a_at += a_stride;
        b_at += b_stride;
    }
    let row0 = index / col_blocks * 8u;
    let col = index % col_blocks * 2u;
    for (var r = 0u; r < 4u; r++) {
        c[(row0 + r) * b_stride + col] = m00[r];
        c[(row0 + r) * b_stride + col + 1u] = m01[r];
        c[(row0 + 4u + r) * b_stride + col] = m10[r];
        c[(row0 + 4u + r) * b_stride + col + 1u] = m11[r];
    }
}

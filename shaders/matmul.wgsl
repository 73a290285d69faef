// Matrix product c = aᵀ b, the yardstick for the convolution kernels.
//
// Layouts, row-major and contiguous, viewed as rows of vec4:
//   a [k, m]   (the left factor stored transposed, so that both factors
//               are read along their contiguous dimension)
//   b [k, n]
//   c [m, n]
// with m and n multiples of 8 (the launcher checks).
//
// Each invocation computes a block of c from contiguous vec4 loads:
// matmul_forward 8 x 8 (per step of k, four vec4 loads feed 64
// multiply-adds), matmul_forward_16 16 x 16 where m and n allow (eight
// loads feed 256). On lavapipe a storage load costs far more than a
// multiply-add (each is a loop over the 8 lanes, see conv2d_k4s2.wgsl), so
// the larger block runs about 1.6 times as fast; 32 x 16 was no faster and
// 32 x 32 fifteen times slower. `benches/kernels.rs` measures the
// convolutions against the fastest. Neighbouring invocations share a block
// row of c, so they read the same a and consecutive b.

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
    var acc: Block;
    for (var i = 0u; i < p.k; i++) {
        acc = add_outer(acc, a[a_at], a[a_at + 1u], b[b_at], b[b_at + 1u]);
        a_at += a_stride;
        b_at += b_stride;
    }
    store_block(acc, index / col_blocks * 8u, index % col_blocks * 2u);
}

// One invocation per 16 x 16 block of c (m and n multiples of 16), flat
// index row_block * n / 16 + col_block; the block is 2 x 2 blocks of 8.
@compute @workgroup_size(WG)
fn matmul_forward_16(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    let col_blocks = p.n / 16u;
    if index >= col_blocks * (p.m / 16u) {
        return;
    }
    let a_stride = p.m / 4u;
    let b_stride = p.n / 4u;
    var a_at = index / col_blocks * 4u;
    var b_at = index % col_blocks * 4u;
    // acc_rc: rows 8r..8r+7, columns 8c..8c+7 of the block.
    var acc00: Block;
    var acc01: Block;
    var acc10: Block;
    var acc11: Block;
    for (var i = 0u; i < p.k; i++) {
        let a0 = a[a_at];
        let a1 = a[a_at + 1u];
        let a2 = a[a_at + 2u];
        let a3 = a[a_at + 3u];
        let b0 = b[b_at];
        let b1 = b[b_at + 1u];
        let b2 = b[b_at + 2u];
        let b3 = b[b_at + 3u];
        acc00 = add_outer(acc00, a0, a1, b0, b1);
        acc01 = add_outer(acc01, a0, a1, b2, b3);
        acc10 = add_outer(acc10, a2, a3, b0, b1);
        acc11 = add_outer(acc11, a2, a3, b2, b3);
        a_at += a_stride;
        b_at += b_stride;
    }
    let row0 = index / col_blocks * 16u;
    let col = index % col_blocks * 4u;
    store_block(acc00, row0, col);
    store_block(acc01, row0, col + 2u);
    store_block(acc10, row0 + 8u, col);
    store_block(acc11, row0 + 8u, col + 2u);
}

/// `acc` plus the outer product of 8 rows' a values (a0: rows 0-3, a1:
/// rows 4-7) and 8 columns' b values (b0: columns 0-3, b1: 4-7). Block
/// tile m_rc holds rows 4r..4r+3 (one per matrix column), columns
/// 4c..4c+3 (the vec4 in that column).
fn add_outer(acc: Block, a0: vec4<f32>, a1: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) -> Block {
    return Block(
        acc.m00 + mat4x4<f32>(b0 * a0.x, b0 * a0.y, b0 * a0.z, b0 * a0.w),
        acc.m01 + mat4x4<f32>(b1 * a0.x, b1 * a0.y, b1 * a0.z, b1 * a0.w),
        acc.m10 + mat4x4<f32>(b0 * a1.x, b0 * a1.y, b0 * a1.z, b0 * a1.w),
        acc.m11 + mat4x4<f32>(b1 * a1.x, b1 * a1.y, b1 * a1.z, b1 * a1.w),
    );
}

/// Stores an 8 x 8 block at rows row0.. of c, from vec4 column `col` on.
fn store_block(acc: Block, row0: u32, col: u32) {
    let stride = p.n / 4u;
    for (var r = 0u; r < 4u; r++) {
        c[(row0 + r) * stride + col] = acc.m00[r];
        c[(row0 + r) * stride + col + 1u] = acc.m01[r];
        c[(row0 + 4u + r) * stride + col] = acc.m10[r];
        c[(row0 + 4u + r) * stride + col + 1u] = acc.m11[r];
    }
}

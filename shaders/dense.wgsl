// Dense matrix products for the convolutions that are one: a kernel that
// covers its whole, unpadded input (a 4x4 kernel on a 4x4 image, D.8; in
// transposed form a 1x1 input stamped into a 4x4 output, G.0). With
// T = c_in * k_h * k_w taps, x is [n, T], the weight [c_out, T] and y
// [n, c_out], so the three passes are
//   forward          y  = x  * weightᵀ   dense_nt
//   input gradient   dx = dy * weight    dense_nn
//   weight gradient  dw = dyᵀ * x        dense_tn
// (see `crates/tensor/src/ops/conv.rs`, which routes those geometries here).
//
// The conv2d kernels load one f32 per lane at a time; these load whole
// vec4 along each factor's contiguous dimension, as `matmul.wgsl` does,
// which software adapters serve with far fewer memory operations. Each
// invocation computes an 8 x 8 block of c (rows 8 of m, columns 8 of n;
// four mat4x4 accumulators whose column r is row r of a 4 x 4 tile), so
// every loaded value feeds 8 multiply-adds. Rows and columns past the end
// are clamped to the last one (recomputing it) and not stored.
//
// Layouts, row-major and contiguous, where a "vec4 dimension" must be a
// multiple of 4 (the launcher checks):
//   dense_nn  a [m, k], b [k, n], c [m, n]   vec4 along k of a, n of b and c
//   dense_tn  a [k, m], b [k, n], c [m, n]   vec4 along m of a, n of b and c
//   dense_nt  a [m, k], b [n, k], c [m, n]   vec4 along k of a and b
// dense_nt serves products with few blocks and a long k (G.0's input
// gradient: a 64 x 64 product, 64 blocks, over k = 2,048): `slices` lanes
// share each block's sum over k, and add their parts in workgroup memory,
// so that the few blocks still spread over every core.
//
// Grids: dense_nn and dense_tn one invocation per block, flat index
// row_block * col_blocks + col_block (neighbouring lanes share a's rows);
// dense_nt one lane per (block, slice), WG / slices blocks per workgroup.

// Mirrors the Rust `DenseParams`.
struct DenseParams {
    m: u32,
    n: u32,
    k: u32,
    // 1: add the product to what c holds; 0: overwrite c.
    accumulate: u32,
    // dense_nt: lanes sharing each block's sum over k, a power of two
    // dividing WG.
    slices: u32,
    // dense_nn_16 and dense_tn_16: lanes of a workgroup that take a block
    // (common.wgsl's spread_index); the other kernels use every lane.
    group_lanes: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: DenseParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
// dense_nn and dense_tn: c as rows of vec4.
@group(0) @binding(3) var<storage, read_write> c4: array<vec4<f32>>;
// dense_nt: c element by element (n need not be a multiple of 4).
@group(0) @binding(4) var<storage, read_write> c1: array<f32>;

// A `Block` (see common.wgsl) here holds block row 4r + i in matrix
// column i of m_rc.

/// One step of k: rows (the block's 8 values of the left factor, rows 0-3
/// and 4-7) times columns (its 8 of the right factor, as two vec4).
fn add_outer(acc: ptr<function, Block>, rows_lo: vec4<f32>, rows_hi: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) {
    (*acc).m00 += mat4x4<f32>(b0 * rows_lo.x, b0 * rows_lo.y, b0 * rows_lo.z, b0 * rows_lo.w);
    (*acc).m01 += mat4x4<f32>(b1 * rows_lo.x, b1 * rows_lo.y, b1 * rows_lo.z, b1 * rows_lo.w);
    (*acc).m10 += mat4x4<f32>(b0 * rows_hi.x, b0 * rows_hi.y, b0 * rows_hi.z, b0 * rows_hi.w);
    (*acc).m11 += mat4x4<f32>(b1 * rows_hi.x, b1 * rows_hi.y, b1 * rows_hi.z, b1 * rows_hi.w);
}

/// Block `index` (row block * col_blocks + column block): its first row,
/// and its two vec4 columns (the second clamped to the last vec4 of a row
/// of c).
struct At {
    row0: u32,
    col0: u32,
    col1: u32,
}

fn block_at(index: u32) -> At {
    let col_blocks = ceil_div(p.n, 8u);
    let rb = index / col_blocks;
    let cb = index % col_blocks;
    let last = p.n / 4u - 1u;
    return At(rb * 8u, min(cb * 2u, last), min(cb * 2u + 1u, last));
}

fn blocks() -> u32 {
    return ceil_div(p.m, 8u) * ceil_div(p.n, 8u);
}

/// Four vec4 of a from offsets `at` plus `l`, transposed: column s holds
/// the four rows' values at step s.
fn a4x4(at: vec4<u32>, l: u32) -> mat4x4<f32> {
    return transpose(mat4x4<f32>(a[at.x + l], a[at.y + l], a[at.z + l], a[at.w + l]));
}

fn b4x4(at: vec4<u32>, l: u32) -> mat4x4<f32> {
    return transpose(mat4x4<f32>(b[at.x + l], b[at.y + l], b[at.z + l], b[at.w + l]));
}

// c = a * b, a [m, k] and b [k, n]: per 4 steps of k, 8 vec4 of a (one
// per row, along k) and 8 of b (two per step).
@compute @workgroup_size(WG)
fn dense_nn(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    if index >= blocks() {
        return;
    }
    let at = block_at(index);
    let k4 = p.k / 4u;
    let b_stride = p.n / 4u;
    let a_at = offsets8(at.row0, p.m, k4);
    var b_at = 0u;
    var acc: Block;
    for (var l = 0u; l < k4; l++) {
        let lo = a4x4(a_at.lo, l);
        let hi = a4x4(a_at.hi, l);
        add_outer(&acc, lo[0], hi[0], b[b_at + at.col0], b[b_at + at.col1]);
        b_at += b_stride;
        add_outer(&acc, lo[1], hi[1], b[b_at + at.col0], b[b_at + at.col1]);
        b_at += b_stride;
        add_outer(&acc, lo[2], hi[2], b[b_at + at.col0], b[b_at + at.col1]);
        b_at += b_stride;
        add_outer(&acc, lo[3], hi[3], b[b_at + at.col0], b[b_at + at.col1]);
        b_at += b_stride;
    }
    store_block4(at, acc);
}

// c = aᵀ * b, a [k, m] and b [k, n]: per step of k, two vec4 of a and two
// of b, as `matmul_forward`, plus clamped edges and accumulation.
@compute @workgroup_size(WG)
fn dense_tn(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    if index >= blocks() {
        return;
    }
    let at = block_at(index);
    let a_stride = p.m / 4u;
    let b_stride = p.n / 4u;
    let a_last = a_stride - 1u;
    var a_lo = min(at.row0 / 4u, a_last);
    var a_hi = min(at.row0 / 4u + 1u, a_last);
    var b_at = 0u;
    var acc: Block;
    for (var l = 0u; l < p.k; l++) {
        add_outer(&acc, a[a_lo], a[a_hi], b[b_at + at.col0], b[b_at + at.col1]);
        a_lo += a_stride;
        a_hi += a_stride;
        b_at += b_stride;
    }
    store_block4(at, acc);
}

/// Stores (or adds) the block's rows as vec4 into c4, skipping the rows and
/// the vec4 column clamped past the end.
fn store_block4(at: At, acc: Block) {
    let second = at.col1 != at.col0;
    for (var r = 0u; r < 4u; r++) {
        store4(at.row0 + r, at.col0, acc.m00[r]);
        store4(at.row0 + 4u + r, at.col0, acc.m10[r]);
        if second {
            store4(at.row0 + r, at.col1, acc.m01[r]);
            store4(at.row0 + 4u + r, at.col1, acc.m11[r]);
        }
    }
}

fn store4(row: u32, col4: u32, value: vec4<f32>) {
    if row < p.m {
        let at = row * (p.n / 4u) + col4;
        c4[at] = select(vec4(0.0), c4[at], p.accumulate != 0u) + value;
    }
}

// c = a * bᵀ, a [m, k] and b [n, k]: per 4 steps of k, 8 vec4 of a and 8
// of b, all along k. Lane `slice` of a block sums the vec4 steps slice,
// slice + slices, ...
@compute @workgroup_size(WG)
fn dense_nt(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let per_group = WG / p.slices;
    let first_block = group_index(wid, nwg) * per_group;
    let block = first_block + lid.x / p.slices;
    let slice = lid.x % p.slices;
    let col_blocks = ceil_div(p.n, 8u);
    let row0 = block / col_blocks * 8u;
    let col0 = block % col_blocks * 8u;
    let k4 = p.k / 4u;
    // No early return: with slices > 1 every lane must reach the barriers.
    // Lanes past the last block sum nothing.
    let steps = select(0u, k4, block < blocks());
    let a_at = offsets8(row0, p.m, k4);
    let b_at = offsets8(col0, p.n, k4);
    var acc: Block;
    for (var l = slice; l < steps; l += p.slices) {
        let lo = a4x4(a_at.lo, l);
        let hi = a4x4(a_at.hi, l);
        let b_lo = b4x4(b_at.lo, l);
        let b_hi = b4x4(b_at.hi, l);
        add_outer(&acc, lo[0], hi[0], b_lo[0], b_hi[0]);
        add_outer(&acc, lo[1], hi[1], b_lo[1], b_hi[1]);
        add_outer(&acc, lo[2], hi[2], b_lo[2], b_hi[2]);
        add_outer(&acc, lo[3], hi[3], b_lo[3], b_hi[3]);
    }
    if p.slices == 1u {
        if block < blocks() {
            store_tile1(acc.m00, row0, col0);
            store_tile1(acc.m01, row0, col0 + 4u);
            store_tile1(acc.m10, row0 + 4u, col0);
            store_tile1(acc.m11, row0 + 4u, col0 + 4u);
        }
        return;
    }
    for (var tile = 0u; tile < 4u; tile++) {
        // Tile `tile` of every lane's block, then each sum over the slices.
        lane_tiles[lid.x] = block_tile(acc, tile);
        workgroupBarrier();
        for (var i = lid.x; i < 16u * per_group; i += WG) {
            let local = i / 16u;
            let e = i % 16u;
            let total = lane_tiles_sum(local * p.slices, p.slices, e);
            let at = first_block + local;
            if at < blocks() {
                let r = at / col_blocks * 8u + tile / 2u * 4u + e / 4u;
                let c = at % col_blocks * 8u + tile % 2u * 4u + e % 4u;
                store1(r, c, total);
            }
        }
        workgroupBarrier();
    }
}

/// Stores tile[i][j] at c[row0 + i, col0 + j], skipping those past the end.
fn store_tile1(tile: mat4x4<f32>, row0: u32, col0: u32) {
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            store1(row0 + i, col0 + j, tile[i][j]);
        }
    }
}

fn store1(r: u32, c: u32, value: f32) {
    if r < p.m && c < p.n {
        let at = r * p.n + c;
        c1[at] = select(0.0, c1[at], p.accumulate != 0u) + value;
    }
}

// 16 x 16 blocks (`Tuning::wide_blocks`, m and n multiples of 16, so no
// clamping): each invocation computes four 8 x 8 blocks sharing their
// loads, acc_rc holding rows 8r.., columns 8c.. of its block, so every
// loaded value feeds 16 multiply-adds instead of 8 (as matmul_forward_16
// against matmul_forward). Each element sums in the same order as in the
// 8 x 8 kernels. Grid: one invocation per block, index row_block * (n /
// 16) + col_block, over the first `group_lanes` lanes of each workgroup
// (common.wgsl's spread_index). There is no dense_nt_16: holding 32
// loaded vec4 beside its 256 sums, it ran slower than dense_nt on
// lavapipe.

/// One step of k for a 16 x 16 block: rows 0-3, 4-7, 8-11, 12-15 of the
/// left factor (r0..r3) times columns 0-3 .. 12-15 of the right (c0..c3).
fn add_outer16(
    acc00: ptr<function, Block>,
    acc01: ptr<function, Block>,
    acc10: ptr<function, Block>,
    acc11: ptr<function, Block>,
    r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32>,
    c0: vec4<f32>, c1: vec4<f32>, c2: vec4<f32>, c3: vec4<f32>,
) {
    add_outer(acc00, r0, r1, c0, c1);
    add_outer(acc01, r0, r1, c2, c3);
    add_outer(acc10, r2, r3, c0, c1);
    add_outer(acc11, r2, r3, c2, c3);
}

// A 16 x 16 block's first row and first vec4 column; valid is false past
// the last block.
struct At16 {
    valid: bool,
    row0: u32,
    col: u32,
}

fn block16_at(index: u32) -> At16 {
    let col_blocks = p.n / 16u;
    let valid = index < p.m / 16u * col_blocks;
    return At16(valid, index / col_blocks * 16u, index % col_blocks * 4u);
}

/// Stores (or adds) a 16 x 16 block's rows from row0, vec4 column col.
fn store_block16(row0: u32, col: u32, acc00: Block, acc01: Block, acc10: Block, acc11: Block) {
    store_block4(At(row0, col, col + 1u), acc00);
    store_block4(At(row0, col + 2u, col + 3u), acc01);
    store_block4(At(row0 + 8u, col, col + 1u), acc10);
    store_block4(At(row0 + 8u, col + 2u, col + 3u), acc11);
}

// c = a * b as dense_nn: per 4 steps of k, 16 vec4 of a and 16 of b.
@compute @workgroup_size(WG)
fn dense_nn_16(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let at = block16_at(spread_index(wid, nwg, lid, p.group_lanes));
    if !at.valid {
        return;
    }
    let k4 = p.k / 4u;
    let b_stride = p.n / 4u;
    let a_top = offsets8(at.row0, p.m, k4);
    let a_bottom = offsets8(at.row0 + 8u, p.m, k4);
    var b_at = at.col;
    var acc00: Block;
    var acc01: Block;
    var acc10: Block;
    var acc11: Block;
    for (var l = 0u; l < k4; l++) {
        let r0 = a4x4(a_top.lo, l);
        let r1 = a4x4(a_top.hi, l);
        let r2 = a4x4(a_bottom.lo, l);
        let r3 = a4x4(a_bottom.hi, l);
        add_outer16(&acc00, &acc01, &acc10, &acc11, r0[0], r1[0], r2[0], r3[0],
            b[b_at], b[b_at + 1u], b[b_at + 2u], b[b_at + 3u]);
        b_at += b_stride;
        add_outer16(&acc00, &acc01, &acc10, &acc11, r0[1], r1[1], r2[1], r3[1],
            b[b_at], b[b_at + 1u], b[b_at + 2u], b[b_at + 3u]);
        b_at += b_stride;
        add_outer16(&acc00, &acc01, &acc10, &acc11, r0[2], r1[2], r2[2], r3[2],
            b[b_at], b[b_at + 1u], b[b_at + 2u], b[b_at + 3u]);
        b_at += b_stride;
        add_outer16(&acc00, &acc01, &acc10, &acc11, r0[3], r1[3], r2[3], r3[3],
            b[b_at], b[b_at + 1u], b[b_at + 2u], b[b_at + 3u]);
        b_at += b_stride;
    }
    store_block16(at.row0, at.col, acc00, acc01, acc10, acc11);
}

// c = aᵀ * b as dense_tn: per step of k, four vec4 of a and four of b.
@compute @workgroup_size(WG)
fn dense_tn_16(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let at = block16_at(spread_index(wid, nwg, lid, p.group_lanes));
    if !at.valid {
        return;
    }
    let a_stride = p.m / 4u;
    let b_stride = p.n / 4u;
    var a_at = at.row0 / 4u;
    var b_at = at.col;
    var acc00: Block;
    var acc01: Block;
    var acc10: Block;
    var acc11: Block;
    for (var l = 0u; l < p.k; l++) {
        add_outer16(&acc00, &acc01, &acc10, &acc11,
            a[a_at], a[a_at + 1u], a[a_at + 2u], a[a_at + 3u],
            b[b_at], b[b_at + 1u], b[b_at + 2u], b[b_at + 3u]);
        a_at += a_stride;
        b_at += b_stride;
    }
    store_block16(at.row0, at.col, acc00, acc01, acc10, acc11);
}

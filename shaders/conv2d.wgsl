// 2-D convolution (cross-correlation, as PyTorch's Conv2d), no bias.
//
// Layouts, row-major and contiguous:
//   x, dx      [n, c_in, h_in, w_in]
//   weight, dw [c_out, c_in, k_h, k_w]
//   y, dy      [n, c_out, h_out, w_out]
// with h_out = (h_in + 2 pad - k_h) / stride + 1 (likewise w_out), and
//   y[b, co, oh, ow] = sum over ci, kh, kw of
//                      x[b, ci, oh * stride + kh - pad, ow * stride + kw - pad]
//                      * weight[co, ci, kh, kw]
// where taps outside the input read zero (padding).
//
// The same kernels run conv_transpose2d: a transposed convolution is this
// convolution with input and output exchanged (the launcher swaps
// c_in/c_out, h_in/h_out, w_in/w_out in the parameters and binds the
// tensors accordingly; see `crates/tensor/src/ops/conv.rs`). Its weight
// [c_in, c_out, k_h, k_w] then reads as this file's [c_out, c_in, k_h, k_w].
//
// (Kernel 4, stride 2, padding 1 with few input channels, the DCGAN's
// first and last layers, runs on conv2d_k4s2.wgsl's kernels instead: the
// input gradient always, the forward pass and the weight gradient when
// input rows are a multiple of 4 long and `Tuning` allows; see
// `crates/tensor/src/ops/conv.rs`.)
//
// Blocking: each pass is a matrix product, and each invocation computes an
// 8 x 8 block of it (BLOCK rows by BLOCK columns, four mat4x4 accumulators),
// so every value it loads is used 8 times. On software adapters a storage
// load costs far more than a multiply-add (lavapipe gathers each lane's
// value one by one), so loads per multiply-add decide the speed:
//   conv2d_forward(_flat)         rows: 8 images,             columns: 8 of c_out
//   conv2d_backward_input         rows: 8 images,             columns: 8 of c_in
//   conv2d_backward_input_narrow  rows: 8 positions of a row, columns: 8 images
//   conv2d_backward_weight        rows: 8 (ci, kh, kw) taps,  columns: 8 of c_out
// With `Tuning::wide_blocks` (software adapters) the _16 kernels compute
// 16 x 16 blocks of the same products, as four 8 x 8 blocks sharing their
// loads: 32 loads per 256 multiply-adds instead of 16 per 64. Their grids
// are those below with 16 for 8.
// Blocking over images keeps a block's taps and padding identical for all
// its rows. Partial blocks (n, c_in, c_out or taps not multiples of 8)
// clamp their indices to the last row or column: those rows and columns
// repeat the last one's sums, and storing them again changes nothing
// (the weight gradient, which may add into dw, skips them instead).
//
// Grids: one invocation per block, flat index (common.wgsl's spread_index:
// each workgroup gives blocks to its first `group_lanes` lanes only, so
// that a pass with few blocks still reaches every thread of a software
// adapter; the launcher picks `group_lanes`):
//   conv2d_forward(_flat)   ((oh * w_out + ow) * n_blocks + b / 8) * co_blocks + co / 8
//   conv2d_backward_input   ((ih * w_in + iw) * n_blocks + b / 8) * ci_blocks + ci / 8
//   ..._input_narrow        (((ih * stride + r) * q_blocks + q / 8) * n_blocks + b / 8)
//                           * c_in + ci, for iw = r + stride * q
//   conv2d_backward_weight  ((co / 8 * tap_blocks + tap / 8) * slices + slice, one
//                           workgroup per WG / slices blocks (group_index)
//   ..._weight_lane         co / 8 * tap_blocks + tap / 8 (slices = 1)
// where x_blocks = ceil(x / 8), q_blocks = ceil(ceil(w_in / stride) / 8)
// and tap = (ci * k_h + kh) * k_w + kw.
// Neighbouring invocations share a position, so the lanes that a software
// adapter runs together take the same taps and the same padding branches.
// Limits: every tensor below 2^31 elements (i32 offsets).

// Geometry of the convolution; mirrors the Rust `ConvParams`.
struct ConvParams {
    n: u32,
    c_in: u32,
    c_out: u32,
    h_in: u32,
    w_in: u32,
    h_out: u32,
    w_out: u32,
    k_h: u32,
    k_w: u32,
    stride: u32,
    pad: u32,
    // 1: add into the output (weight gradients over several passes); 0: overwrite.
    accumulate: u32,
    // Weight gradient: lanes that share one block's sum over positions, a
    // power of two dividing WG.
    slices: u32,
    // Lanes of a workgroup that take a block (see Grids above).
    group_lanes: u32,
    _pad1: u32,
    _pad2: u32,
}

// Sizes, stride and padding.
@group(0) @binding(0) var<uniform> p: ConvParams;
// Forward and weight gradient: x [n, c_in, h_in, w_in].
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Forward and input gradient: weight [c_out, c_in, k_h, k_w].
@group(0) @binding(2) var<storage, read> weight: array<f32>;
// Gradients: dy [n, c_out, h_out, w_out].
@group(0) @binding(3) var<storage, read> dy: array<f32>;
// Forward output y [n, c_out, h_out, w_out].
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// Input gradient dx [n, c_in, h_in, w_in].
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
// Weight gradient dw [c_out, c_in, k_h, k_w].
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;

// Rows and columns of one invocation's block; the code below spells out
// its two halves (lo, hi), so this is not a tuning knob.
const BLOCK: u32 = 8u;

// Eight values: rows or columns 0-3 (lo) and 4-7 (hi). A `Block` (see
// common.wgsl) here holds block column 4c + i in matrix column i of m_rc.
struct Vec8 {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

/// Adds the outer product rows * columns to the block.
fn accumulate(acc: ptr<function, Block>, rows: Vec8, cols: Vec8) {
    (*acc).m00 += outer(rows.lo, cols.lo);
    (*acc).m01 += outer(rows.lo, cols.hi);
    (*acc).m10 += outer(rows.hi, cols.lo);
    (*acc).m11 += outer(rows.hi, cols.hi);
}

/// The matrix whose column c is u * v[c].
fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(u * v.x, u * v.y, u * v.z, u * v.w);
}

// Four elements of x, weight or dy (WGSL cannot pass a storage buffer to a
// function, hence one accessor per binding).
fn x4(i: vec4<u32>) -> vec4<f32> {
    return vec4(x[i.x], x[i.y], x[i.z], x[i.w]);
}
fn weight4(i: vec4<u32>) -> vec4<f32> {
    return vec4(weight[i.x], weight[i.y], weight[i.z], weight[i.w]);
}
fn dy4(i: vec4<u32>) -> vec4<f32> {
    return vec4(dy[i.x], dy[i.y], dy[i.z], dy[i.w]);
}

// y for 8 images by 8 output channels at one (oh, ow): for each tap inside
// the input, c_in steps of 8 x loads, 8 weight loads, 64 multiply-adds.
@compute @workgroup_size(WG)
fn conv2d_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let at = forward_block(spread_index(wid, nwg, lid, p.group_lanes), BLOCK);
    if !at.valid {
        return;
    }
    let x_plane = p.h_in * p.w_in;
    var acc: Block;
    for (var kh = 0u; kh < p.k_h; kh++) {
        let ih = at.ih0 + i32(kh);
        if ih < 0 || ih >= i32(p.h_in) {
            continue;
        }
        for (var kw = 0u; kw < p.k_w; kw++) {
            let iw = at.iw0 + i32(kw);
            if iw < 0 || iw >= i32(p.w_in) {
                continue;
            }
            var x_at = u32(ih) * p.w_in + u32(iw);
            var w_at = kh * p.k_w + kw;
            for (var ci = 0u; ci < p.c_in; ci++) {
                let xs = Vec8(x4(at.images.lo + x_at), x4(at.images.hi + x_at));
                let ws = Vec8(weight4(at.channels.lo + w_at), weight4(at.channels.hi + w_at));
                accumulate(&acc, xs, ws);
                x_at += x_plane;
                w_at += p.k_h * p.k_w;
            }
        }
    }
    store_y_block(at, acc);
}

// y as conv2d_forward computes it, 16 images by 16 output channels per
// invocation (four 8 x 8 blocks sharing their loads): per tap and input
// channel 16 x loads and 16 weight loads for 256 multiply-adds.
@compute @workgroup_size(WG)
fn conv2d_forward_16(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let at = forward_block(spread_index(wid, nwg, lid, p.group_lanes), 2u * BLOCK);
    if !at.valid {
        return;
    }
    let images = offsets8(at.b0 + BLOCK, p.n, p.c_in * p.h_in * p.w_in);
    let channels = offsets8(at.co0 + BLOCK, p.c_out, p.c_in * p.k_h * p.k_w);
    let x_plane = p.h_in * p.w_in;
    var acc00: Block;
    var acc01: Block;
    var acc10: Block;
    var acc11: Block;
    for (var kh = 0u; kh < p.k_h; kh++) {
        let ih = at.ih0 + i32(kh);
        if ih < 0 || ih >= i32(p.h_in) {
            continue;
        }
        for (var kw = 0u; kw < p.k_w; kw++) {
            let iw = at.iw0 + i32(kw);
            if iw < 0 || iw >= i32(p.w_in) {
                continue;
            }
            var x_at = u32(ih) * p.w_in + u32(iw);
            var w_at = kh * p.k_w + kw;
            for (var ci = 0u; ci < p.c_in; ci++) {
                let xs0 = Vec8(x4(at.images.lo + x_at), x4(at.images.hi + x_at));
                let xs1 = Vec8(x4(images.lo + x_at), x4(images.hi + x_at));
                let ws0 = Vec8(weight4(at.channels.lo + w_at), weight4(at.channels.hi + w_at));
                let ws1 = Vec8(weight4(channels.lo + w_at), weight4(channels.hi + w_at));
                accumulate(&acc00, xs0, ws0);
                accumulate(&acc01, xs0, ws1);
                accumulate(&acc10, xs1, ws0);
                accumulate(&acc11, xs1, ws1);
                x_at += x_plane;
                w_at += p.k_h * p.k_w;
            }
        }
    }
    store_y_block(at, acc00);
    store_y_block(shifted(at, 0u, BLOCK), acc01);
    store_y_block(shifted(at, BLOCK, 0u), acc10);
    store_y_block(shifted(at, BLOCK, BLOCK), acc11);
}

/// `at` moved by `db` images and `dco` output channels (for storing).
fn shifted(at: ForwardBlock, db: u32, dco: u32) -> ForwardBlock {
    var moved = at;
    moved.b0 += db;
    moved.co0 += dco;
    return moved;
}

// y as conv2d_forward computes it, for few input channels: one flat loop
// over the taps (ci, kh, kw), padding read as zero, where conv2d_forward
// nests a loop over ci (as long as c_in) inside the loops over kh and kw.
// On software adapters entering and leaving a loop costs about as much as
// a few steps of it, which a nest with c_in = 1 pays at every tap; the
// flat loop's extra index arithmetic costs more than that once c_in is
// larger (see `FLAT_BELOW` in `crates/tensor/src/ops/conv.rs`).
@compute @workgroup_size(WG)
fn conv2d_forward_flat(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let at = forward_block(spread_index(wid, nwg, lid, p.group_lanes), BLOCK);
    if !at.valid {
        return;
    }
    let x_plane = p.h_in * p.w_in;
    var acc: Block;
    var kh = 0u;
    var kw = 0u;
    var plane = 0u;
    for (var t = 0u; t < p.c_in * p.k_h * p.k_w; t++) {
        let ih = at.ih0 + i32(kh);
        let iw = at.iw0 + i32(kw);
        let inside = ih >= 0 && ih < i32(p.h_in) && iw >= 0 && iw < i32(p.w_in);
        let x_at = plane + select(0u, u32(ih) * p.w_in + u32(iw), inside);
        let xs = Vec8(
            select(vec4(0.0), x4(at.images.lo + x_at), inside),
            select(vec4(0.0), x4(at.images.hi + x_at), inside),
        );
        let ws = Vec8(weight4(at.channels.lo + t), weight4(at.channels.hi + t));
        accumulate(&acc, xs, ws);
        // Next tap: kw, then kh, then the input channel's plane.
        kw += 1u;
        let row_done = kw == p.k_w;
        kw = select(kw, 0u, row_done);
        kh += select(0u, 1u, row_done);
        let plane_done = kh == p.k_h;
        kh = select(kh, 0u, plane_done);
        plane += select(0u, x_plane, plane_done);
    }
    store_y_block(at, acc);
}

// The block of y one forward invocation computes: images b0.., output
// channels co0.., at (oh, ow); `valid` is false past the grid's end. The
// images' offsets into x, the channels' into the weight, and the input
// position of tap (0, 0), for the loops over taps.
struct ForwardBlock {
    b0: u32,
    co0: u32,
    oh: u32,
    ow: u32,
    valid: bool,
    images: Index8,
    channels: Index8,
    ih0: i32,
    iw0: i32,
}

fn forward_block(index: u32, size: u32) -> ForwardBlock {
    let co_blocks = ceil_div(p.c_out, size);
    let n_blocks = ceil_div(p.n, size);
    let valid = index < n_blocks * co_blocks * p.h_out * p.w_out;
    let co0 = index % co_blocks * size;
    let b0 = index / co_blocks % n_blocks * size;
    let ow = index / (co_blocks * n_blocks) % p.w_out;
    let oh = index / (co_blocks * n_blocks * p.w_out);
    return ForwardBlock(
        b0,
        co0,
        oh,
        ow,
        valid,
        offsets8(b0, p.n, p.c_in * p.h_in * p.w_in),
        offsets8(co0, p.c_out, p.c_in * p.k_h * p.k_w),
        i32(oh * p.stride) - i32(p.pad),
        i32(ow * p.stride) - i32(p.pad),
    );
}

/// Stores a forward block's sums into y.
fn store_y_block(at: ForwardBlock, acc: Block) {
    let y_plane = p.h_out * p.w_out;
    let rows = offsets8(at.b0, p.n, p.c_out * y_plane);
    let cols = offsets8(at.co0, p.c_out, y_plane);
    let y_at = at.oh * p.w_out + at.ow;
    y_tile(acc.m00, rows.lo + y_at, cols.lo);
    y_tile(acc.m01, rows.lo + y_at, cols.hi);
    y_tile(acc.m10, rows.hi + y_at, cols.lo);
    y_tile(acc.m11, rows.hi + y_at, cols.hi);
}

/// Stores tile[c][r] at y[rows[r] + cols[c]].
fn y_tile(tile: mat4x4<f32>, rows: vec4<u32>, cols: vec4<u32>) {
    for (var c = 0u; c < 4u; c++) {
        let at = rows + cols[c];
        y[at.x] = tile[c].x;
        y[at.y] = tile[c].y;
        y[at.z] = tile[c].z;
        y[at.w] = tile[c].w;
    }
}

// dx[b, ci, ih, iw] = sum over co, kh, kw with oh * stride = ih + pad - kh
// (and likewise for ow) of dy[b, co, oh, ow] * weight[co, ci, kh, kw].
// 8 images by 8 input channels at one (ih, iw); only the taps with
// kh = ih + pad (mod stride) reach an output row, so the loops start at
// the first of them and step by the stride.
@compute @workgroup_size(WG)
fn conv2d_backward_input(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let at = input_block(spread_index(wid, nwg, lid, p.group_lanes), BLOCK);
    if !at.valid {
        return;
    }

    let y_plane = p.h_out * p.w_out;
    let taps = p.k_h * p.k_w;
    let images = offsets8(at.b0, p.n, p.c_out * y_plane);
    let channels = offsets8(at.ci0, p.c_in, taps);
    let oh_scaled = at.ih + p.pad;
    let ow_scaled = at.iw + p.pad;
    var acc: Block;
    for (var kh = oh_scaled % p.stride; kh < p.k_h && kh <= oh_scaled; kh += p.stride) {
        let oh = (oh_scaled - kh) / p.stride;
        if oh >= p.h_out {
            continue;
        }
        for (var kw = ow_scaled % p.stride; kw < p.k_w && kw <= ow_scaled; kw += p.stride) {
            let ow = (ow_scaled - kw) / p.stride;
            if ow >= p.w_out {
                continue;
            }
            var dy_at = oh * p.w_out + ow;
            var w_at = kh * p.k_w + kw;
            for (var co = 0u; co < p.c_out; co++) {
                let dys = Vec8(dy4(images.lo + dy_at), dy4(images.hi + dy_at));
                let ws = Vec8(weight4(channels.lo + w_at), weight4(channels.hi + w_at));
                accumulate(&acc, dys, ws);
                dy_at += y_plane;
                w_at += p.c_in * taps;
            }
        }
    }

    store_dx_block(acc, at.b0, at.ci0, at.ih, at.iw);
}

// dx as conv2d_backward_input computes it, 16 images by 16 input channels
// per invocation (four 8 x 8 blocks sharing their loads).
@compute @workgroup_size(WG)
fn conv2d_backward_input_16(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let at = input_block(spread_index(wid, nwg, lid, p.group_lanes), 2u * BLOCK);
    if !at.valid {
        return;
    }

    let y_plane = p.h_out * p.w_out;
    let taps = p.k_h * p.k_w;
    let images0 = offsets8(at.b0, p.n, p.c_out * y_plane);
    let images1 = offsets8(at.b0 + BLOCK, p.n, p.c_out * y_plane);
    let channels0 = offsets8(at.ci0, p.c_in, taps);
    let channels1 = offsets8(at.ci0 + BLOCK, p.c_in, taps);
    let oh_scaled = at.ih + p.pad;
    let ow_scaled = at.iw + p.pad;
    var acc00: Block;
    var acc01: Block;
    var acc10: Block;
    var acc11: Block;
    for (var kh = oh_scaled % p.stride; kh < p.k_h && kh <= oh_scaled; kh += p.stride) {
        let oh = (oh_scaled - kh) / p.stride;
        if oh >= p.h_out {
            continue;
        }
        for (var kw = ow_scaled % p.stride; kw < p.k_w && kw <= ow_scaled; kw += p.stride) {
            let ow = (ow_scaled - kw) / p.stride;
            if ow >= p.w_out {
                continue;
            }
            var dy_at = oh * p.w_out + ow;
            var w_at = kh * p.k_w + kw;
            for (var co = 0u; co < p.c_out; co++) {
                let dys0 = Vec8(dy4(images0.lo + dy_at), dy4(images0.hi + dy_at));
                let dys1 = Vec8(dy4(images1.lo + dy_at), dy4(images1.hi + dy_at));
                let ws0 = Vec8(weight4(channels0.lo + w_at), weight4(channels0.hi + w_at));
                let ws1 = Vec8(weight4(channels1.lo + w_at), weight4(channels1.hi + w_at));
                accumulate(&acc00, dys0, ws0);
                accumulate(&acc01, dys0, ws1);
                accumulate(&acc10, dys1, ws0);
                accumulate(&acc11, dys1, ws1);
                dy_at += y_plane;
                w_at += p.c_in * taps;
            }
        }
    }
    store_dx_block(acc00, at.b0, at.ci0, at.ih, at.iw);
    store_dx_block(acc01, at.b0, at.ci0 + BLOCK, at.ih, at.iw);
    store_dx_block(acc10, at.b0 + BLOCK, at.ci0, at.ih, at.iw);
    store_dx_block(acc11, at.b0 + BLOCK, at.ci0 + BLOCK, at.ih, at.iw);
}

// Where an input-gradient block lies: images b0.., input channels ci0..
// at (ih, iw), for blocks of `size` (8 or 16) on each side; grid as in
// the Grids table above. `valid` is false past the last block.
struct InputBlock {
    valid: bool,
    b0: u32,
    ci0: u32,
    ih: u32,
    iw: u32,
}

fn input_block(index: u32, size: u32) -> InputBlock {
    let ci_blocks = ceil_div(p.c_in, size);
    let n_blocks = ceil_div(p.n, size);
    return InputBlock(
        index < n_blocks * ci_blocks * p.h_in * p.w_in,
        index / ci_blocks % n_blocks * size,
        index % ci_blocks * size,
        index / (ci_blocks * n_blocks * p.w_in),
        index / (ci_blocks * n_blocks) % p.w_in,
    );
}

/// Stores the block of dx for images b0.. and input channels ci0.. at
/// (ih, iw) (clamped rows and columns store the last one's sums again).
fn store_dx_block(acc: Block, b0: u32, ci0: u32, ih: u32, iw: u32) {
    let x_plane = p.h_in * p.w_in;
    let rows = offsets8(b0, p.n, p.c_in * x_plane);
    let cols = offsets8(ci0, p.c_in, x_plane);
    let x_at = ih * p.w_in + iw;
    let all = vec4(true);
    dx_tile(acc.m00, rows.lo + x_at, cols.lo, all);
    dx_tile(acc.m01, rows.lo + x_at, cols.hi, all);
    dx_tile(acc.m10, rows.hi + x_at, cols.lo, all);
    dx_tile(acc.m11, rows.hi + x_at, cols.hi, all);
}

/// Stores tile[c][r] at dx[rows[r] + cols[c]] for the rows marked `keep`.
fn dx_tile(tile: mat4x4<f32>, rows: vec4<u32>, cols: vec4<u32>, keep: vec4<bool>) {
    for (var c = 0u; c < 4u; c++) {
        let at = rows + cols[c];
        if keep.x {
            dx[at.x] = tile[c].x;
        }
        if keep.y {
            dx[at.y] = tile[c].y;
        }
        if keep.z {
            dx[at.z] = tile[c].z;
        }
        if keep.w {
            dx[at.w] = tile[c].w;
        }
    }
}

// dx for few input channels, where blocks of 8 channels would mostly
// repeat the last one: 8 positions iw = r + stride * (q0 + j) of one row
// ih (rows j) by 8 images (columns), one input channel. The positions share
// their taps, and taps kw and kw + stride read dy at ow and ow - 1, so each
// image loads one window of 9 dy values per pair of taps: per output
// channel and pair 72 dy loads and 2 weight loads for 128 multiply-adds.
@compute @workgroup_size(WG)
fn conv2d_backward_input_narrow(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = spread_index(wid, nwg, lid, p.group_lanes);
    let n_blocks = ceil_div(p.n, BLOCK);
    let q_blocks = ceil_div(ceil_div(p.w_in, p.stride), BLOCK);
    let per_row = p.c_in * n_blocks * q_blocks * p.stride;
    if index >= per_row * p.h_in {
        return;
    }
    let ci = index % p.c_in;
    let b0 = index / p.c_in % n_blocks * BLOCK;
    let q0 = index / (p.c_in * n_blocks) % q_blocks * BLOCK;
    let r = index / (p.c_in * n_blocks * q_blocks) % p.stride;
    let ih = index / per_row;

    let y_plane = p.h_out * p.w_out;
    let images = offsets8(b0, p.n, p.c_out * y_plane);
    let oh_scaled = ih + p.pad;
    var acc: Block;
    for (var kh = oh_scaled % p.stride; kh < p.k_h && kh <= oh_scaled; kh += p.stride) {
        let oh = (oh_scaled - kh) / p.stride;
        if oh >= p.h_out {
            continue;
        }
        for (var kw = (r + p.pad) % p.stride; kw < p.k_w; kw += 2u * p.stride) {
            // Column j reads ow0 + j for tap kw, ow0 + j - 1 for kw + stride.
            let ow0 = i32(q0) + (i32(r + p.pad) - i32(kw)) / i32(p.stride);
            let second = kw + p.stride < p.k_w;
            var w_at = ci * p.k_h * p.k_w + kh * p.k_w + kw;
            var dy_at = oh * p.w_out;
            for (var co = 0u; co < p.c_out; co++) {
                let w0 = weight[w_at];
                let w1 = select(0.0, weight[select(w_at, w_at + p.stride, second)], second);
                let u0 = window_sum(images.lo.x + dy_at, ow0, w0, w1);
                let u1 = window_sum(images.lo.y + dy_at, ow0, w0, w1);
                let u2 = window_sum(images.lo.z + dy_at, ow0, w0, w1);
                let u3 = window_sum(images.lo.w + dy_at, ow0, w0, w1);
                let u4 = window_sum(images.hi.x + dy_at, ow0, w0, w1);
                let u5 = window_sum(images.hi.y + dy_at, ow0, w0, w1);
                let u6 = window_sum(images.hi.z + dy_at, ow0, w0, w1);
                let u7 = window_sum(images.hi.w + dy_at, ow0, w0, w1);
                acc.m00 += mat4x4<f32>(u0.lo, u1.lo, u2.lo, u3.lo);
                acc.m01 += mat4x4<f32>(u4.lo, u5.lo, u6.lo, u7.lo);
                acc.m10 += mat4x4<f32>(u0.hi, u1.hi, u2.hi, u3.hi);
                acc.m11 += mat4x4<f32>(u4.hi, u5.hi, u6.hi, u7.hi);
                w_at += p.c_in * p.k_h * p.k_w;
                dy_at += y_plane;
            }
        }
    }

    // Rows are positions (skipped past the row's end), columns images.
    let x_plane = p.h_in * p.w_in;
    let cols = offsets8(b0, p.n, p.c_in * x_plane);
    let iw_lo = r + p.stride * (vec4(q0) + vec4(0u, 1u, 2u, 3u));
    let iw_hi = r + p.stride * (vec4(q0) + vec4(4u, 5u, 6u, 7u));
    let x_at = ci * x_plane + ih * p.w_in;
    let keep_lo = iw_lo < vec4(p.w_in);
    let keep_hi = iw_hi < vec4(p.w_in);
    let rows_lo = select(vec4(0u), iw_lo, keep_lo) + x_at;
    let rows_hi = select(vec4(0u), iw_hi, keep_hi) + x_at;
    dx_tile(acc.m00, rows_lo, cols.lo, keep_lo);
    dx_tile(acc.m01, rows_lo, cols.hi, keep_lo);
    dx_tile(acc.m10, rows_hi, cols.lo, keep_hi);
    dx_tile(acc.m11, rows_hi, cols.hi, keep_hi);
}

/// w0 * dy[at + ow0 + j] + w1 * dy[at + ow0 + j - 1] for j = 0..7, reading
/// zero where ow0 + j or ow0 + j - 1 falls outside 0..w_out.
fn window_sum(at: u32, ow0: i32, w0: f32, w1: f32) -> Vec8 {
    let first = ow0 - 1;
    let a = dy4_row(at, first, vec4(0, 1, 2, 3));
    let b = dy4_row(at, first, vec4(4, 5, 6, 7));
    let last_ow = first + 8;
    let inside = last_ow >= 0 && last_ow < i32(p.w_out);
    let last = select(0.0, dy[select(0u, u32(last_ow), inside) + at], inside);
    let lo = w0 * vec4(a.yzw, b.x) + w1 * a;
    let hi = w0 * vec4(b.yzw, last) + w1 * b;
    return Vec8(lo, hi);
}

/// dy[at + first + i] for four i, zero where first + i is not in 0..w_out.
fn dy4_row(at: u32, first: i32, i: vec4<i32>) -> vec4<f32> {
    let ow = first + i;
    let inside = (ow >= vec4(0)) & (ow < vec4(i32(p.w_out)));
    let safe = vec4<u32>(select(vec4(0), ow, inside)) + at;
    return select(vec4(0.0), dy4(safe), inside);
}

// dw[co, ci, kh, kw] = sum over b, oh, ow of
//     x[b, ci, oh * stride + kh - pad, ow * stride + kw - pad] * dy[b, co, oh, ow].
// 8 taps (ci, kh, kw) by 8 output channels: per output position and image
// 8 x loads (zero where a tap falls in the padding), 8 dy loads, 64
// multiply-adds. Images are the inner loop: the taps' offsets and padding
// depend only on the position, so they are worked out once per position
// and the inner loop is as lean as the forward pass's.
// The sum over positions is split `slices` ways: a workgroup holds WG /
// slices blocks, each summed by `slices` lanes over interleaved positions
// (oh, ow), which then add their partial blocks in workgroup memory.
@compute @workgroup_size(WG)
fn conv2d_backward_weight(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let taps = p.c_in * p.k_h * p.k_w;
    let tap_blocks = ceil_div(taps, BLOCK);
    let blocks = tap_blocks * ceil_div(p.c_out, BLOCK);
    let first_block = group_index(wid, nwg) * (WG / p.slices);
    let block = first_block + lid.x / p.slices;
    // No early return: every lane must reach the barriers below. Lanes past
    // the last block sum nothing.
    let positions = select(0u, p.h_out * p.w_out, block < blocks);
    let acc = weight_block_sum(block % tap_blocks * BLOCK, block / tap_blocks * BLOCK, positions, lid.x % p.slices);

    for (var tile = 0u; tile < 4u; tile++) {
        // Tile `tile` of every lane's block, then each sum of `slices` of them.
        lane_tiles[lid.x] = block_tile(acc, tile);
        workgroupBarrier();
        for (var i = lid.x; i < 16u * (WG / p.slices); i += WG) {
            store_weight_sum(first_block + i / 16u, tile, i % 16u, tap_blocks, blocks);
        }
        workgroupBarrier();
    }
}

// dw as conv2d_backward_weight computes it, one lane per block summing
// every position (slices = 1), without workgroup memory or barriers: on
// software adapters a barrier parks and resumes every lane of the
// workgroup, which costs more than the split saves unless blocks are few.
@compute @workgroup_size(WG)
fn conv2d_backward_weight_lane(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let at = lane_weight_block(spread_index(wid, nwg, lid, p.group_lanes), BLOCK);
    if !at.valid {
        return;
    }
    store_weight_block(weight_block_sum(at.t0, at.co0, p.h_out * p.w_out, 0u), at.t0, at.co0);
}

// Where a lane kernel's weight-gradient block lies: taps t0.., output
// channels co0.., for blocks of `size` (8 or 16) on each side, index
// co0 / size * tap_blocks + t0 / size. `valid` is false past the last.
struct WeightBlock {
    valid: bool,
    t0: u32,
    co0: u32,
}

fn lane_weight_block(index: u32, size: u32) -> WeightBlock {
    let tap_blocks = ceil_div(p.c_in * p.k_h * p.k_w, size);
    return WeightBlock(
        index < tap_blocks * ceil_div(p.c_out, size),
        index % tap_blocks * size,
        index / tap_blocks * size,
    );
}

/// Stores (or adds) an 8 x 8 block of dw at taps t0.., channels co0...
fn store_weight_block(acc: Block, t0: u32, co0: u32) {
    store_weight_tile(acc.m00, t0, co0);
    store_weight_tile(acc.m01, t0, co0 + 4u);
    store_weight_tile(acc.m10, t0 + 4u, co0);
    store_weight_tile(acc.m11, t0 + 4u, co0 + 4u);
}

/// Stores (or adds, with `accumulate`) tile[j][i] at dw[co0 + j, t0 + i],
/// skipping the taps and channels past the end.
fn store_weight_tile(tile: mat4x4<f32>, t0: u32, co0: u32) {
    for (var j = 0u; j < 4u; j++) {
        for (var i = 0u; i < 4u; i++) {
            store_dw(t0 + i, co0 + j, tile[j][i]);
        }
    }
}

/// Stores (or adds, with `accumulate`) `value` at dw[co, t], unless tap t
/// or channel co is past the end (a partial block's clamped rows).
fn store_dw(t: u32, co: u32, value: f32) {
    let taps = p.c_in * p.k_h * p.k_w;
    if t < taps && co < p.c_out {
        let at = co * taps + t;
        dw[at] = select(0.0, dw[at], p.accumulate != 0u) + value;
    }
}

/// The 8 x 8 block of dw at taps t0.., channels co0.., summed over all
/// images at the positions slice, slice + slices, ... below `positions`.
fn weight_block_sum(t0: u32, co0: u32, positions: u32, slice: u32) -> Block {
    let taps = tap_block(t0);
    let y_plane = p.h_out * p.w_out;
    let channels = offsets8(co0, p.c_out, y_plane);
    let x_image = vec4(p.c_in * p.h_in * p.w_in);
    let dy_image = vec4(p.c_out * y_plane);
    var acc: Block;
    for (var pos = slice; pos < positions; pos += p.slices) {
        let at = tap_reads(taps, pos);
        var x_lo = at.x_lo;
        var x_hi = at.x_hi;
        var dy_lo = channels.lo + pos;
        var dy_hi = channels.hi + pos;
        for (var b = 0u; b < p.n; b++) {
            let xs = Vec8(
                select(vec4(0.0), x4(x_lo), at.in_lo),
                select(vec4(0.0), x4(x_hi), at.in_hi),
            );
            let dys = Vec8(dy4(dy_lo), dy4(dy_hi));
            accumulate(&acc, xs, dys);
            x_lo += x_image;
            x_hi += x_image;
            dy_lo += dy_image;
            dy_hi += dy_image;
        }
    }
    return acc;
}

// Eight taps t0.. (clamped to the last), as each one's input channel's
// plane offset and its kh - pad, kw - pad.
struct TapBlock {
    kh_lo: vec4<i32>,
    kh_hi: vec4<i32>,
    kw_lo: vec4<i32>,
    kw_hi: vec4<i32>,
    plane_lo: vec4<u32>,
    plane_hi: vec4<u32>,
}

fn tap_block(t0: u32) -> TapBlock {
    let taps = p.c_in * p.k_h * p.k_w;
    let x_plane = p.h_in * p.w_in;
    let pad = i32(p.pad);
    let t_lo = min(vec4(t0) + vec4(0u, 1u, 2u, 3u), vec4(taps - 1u));
    let t_hi = min(vec4(t0) + vec4(4u, 5u, 6u, 7u), vec4(taps - 1u));
    return TapBlock(
        vec4<i32>(t_lo / p.k_w % p.k_h) - pad,
        vec4<i32>(t_hi / p.k_w % p.k_h) - pad,
        vec4<i32>(t_lo % p.k_w) - pad,
        vec4<i32>(t_hi % p.k_w) - pad,
        t_lo / (p.k_h * p.k_w) * x_plane,
        t_hi / (p.k_h * p.k_w) * x_plane,
    );
}

// Where a block's 8 taps read image 0 of x at one output position, and
// which of them fall inside the input (the others read zero).
struct TapReads {
    x_lo: vec4<u32>,
    x_hi: vec4<u32>,
    in_lo: vec4<bool>,
    in_hi: vec4<bool>,
}

fn tap_reads(t: TapBlock, pos: u32) -> TapReads {
    let ih = i32(pos / p.w_out * p.stride);
    let iw = i32(pos % p.w_out * p.stride);
    let in_lo = inside(ih + t.kh_lo, iw + t.kw_lo);
    let in_hi = inside(ih + t.kh_hi, iw + t.kw_hi);
    let row_lo = (ih + t.kh_lo) * i32(p.w_in) + iw + t.kw_lo;
    let row_hi = (ih + t.kh_hi) * i32(p.w_in) + iw + t.kw_hi;
    return TapReads(
        t.plane_lo + vec4<u32>(select(vec4(0), row_lo, in_lo)),
        t.plane_hi + vec4<u32>(select(vec4(0), row_hi, in_hi)),
        in_lo,
        in_hi,
    );
}

// dw as conv2d_backward_weight_lane computes it, 16 taps by 16 output
// channels per invocation (four 8 x 8 blocks sharing their loads).
@compute @workgroup_size(WG)
fn conv2d_backward_weight_lane_16(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let at = lane_weight_block(spread_index(wid, nwg, lid, p.group_lanes), 2u * BLOCK);
    if !at.valid {
        return;
    }
    let taps0 = tap_block(at.t0);
    let taps1 = tap_block(at.t0 + BLOCK);
    let y_plane = p.h_out * p.w_out;
    let channels0 = offsets8(at.co0, p.c_out, y_plane);
    let channels1 = offsets8(at.co0 + BLOCK, p.c_out, y_plane);
    let x_image = vec4(p.c_in * p.h_in * p.w_in);
    let dy_image = vec4(p.c_out * y_plane);
    var acc00: Block;
    var acc01: Block;
    var acc10: Block;
    var acc11: Block;
    for (var pos = 0u; pos < y_plane; pos++) {
        let at0 = tap_reads(taps0, pos);
        let at1 = tap_reads(taps1, pos);
        var x0 = Index8(at0.x_lo, at0.x_hi);
        var x1 = Index8(at1.x_lo, at1.x_hi);
        var dy0 = Index8(channels0.lo + pos, channels0.hi + pos);
        var dy1 = Index8(channels1.lo + pos, channels1.hi + pos);
        for (var b = 0u; b < p.n; b++) {
            let xs0 = Vec8(select(vec4(0.0), x4(x0.lo), at0.in_lo), select(vec4(0.0), x4(x0.hi), at0.in_hi));
            let xs1 = Vec8(select(vec4(0.0), x4(x1.lo), at1.in_lo), select(vec4(0.0), x4(x1.hi), at1.in_hi));
            let dys0 = Vec8(dy4(dy0.lo), dy4(dy0.hi));
            let dys1 = Vec8(dy4(dy1.lo), dy4(dy1.hi));
            accumulate(&acc00, xs0, dys0);
            accumulate(&acc01, xs0, dys1);
            accumulate(&acc10, xs1, dys0);
            accumulate(&acc11, xs1, dys1);
            x0 = Index8(x0.lo + x_image, x0.hi + x_image);
            x1 = Index8(x1.lo + x_image, x1.hi + x_image);
            dy0 = Index8(dy0.lo + dy_image, dy0.hi + dy_image);
            dy1 = Index8(dy1.lo + dy_image, dy1.hi + dy_image);
        }
    }
    store_weight_block(acc00, at.t0, at.co0);
    store_weight_block(acc01, at.t0, at.co0 + BLOCK);
    store_weight_block(acc10, at.t0 + BLOCK, at.co0);
    store_weight_block(acc11, at.t0 + BLOCK, at.co0 + BLOCK);
}

/// Whether (ih, iw) lies inside the input, for four taps.
fn inside(ih: vec4<i32>, iw: vec4<i32>) -> vec4<bool> {
    let h = vec4(i32(p.h_in));
    let w = vec4(i32(p.w_in));
    return (ih >= vec4(0)) & (ih < h) & (iw >= vec4(0)) & (iw < w);
}

/// Adds element `e` (column e / 4, row e % 4) of tile `tile` over the
/// slices of the workgroup's block `block` and stores it into dw.
fn store_weight_sum(block: u32, tile: u32, e: u32, tap_blocks: u32, blocks: u32) {
    let total = lane_tiles_sum((block % (WG / p.slices)) * p.slices, p.slices, e);
    let t = block % tap_blocks * BLOCK + tile / 2u * 4u + e % 4u;
    let co = block / tap_blocks * BLOCK + tile % 2u * 4u + e / 4u;
    if block < blocks {
        store_dw(t, co, total);
    }
}

// Convolutions with kernel 4 x 4, stride 2 and padding 1 (the DCGAN's
// resampling layers) with few input channels, where conv2d.wgsl's blocks
// of 8 channels have little to reuse: D.0 (one input channel) and,
// mirrored, G.9 (one output channel). Layouts as conv2d.wgsl (x, dx
// [n, c_in, h_in, w_in], weight [c_out, c_in, 4, 4], y, dy [n, c_out,
// h_out, w_out]); the weight is read one kernel row (a vec4) at a time.
//
// All three kernels reuse each value they load across a tile of
// positions, as a stride-2 kernel's overlapping windows allow, where the
// conv2d kernels load one f32 per lane per use. On software adapters
// loads decide the speed: lavapipe (Mesa 22, profiled with perf) runs
// each storage load as a loop over the 8 lanes with a bounds check per
// value, so a vec2 or vec4 load costs less per value than an f32 one.
// Sums are indexed with constants only: a matrix indexed by a variable
// leaves the registers for a per-lane scratch array.
//
// conv2d_forward_rows (input rows a multiple of 4 long, read as vec4):
// each invocation computes 8 output columns ow0.. of one output row oh,
// for one image and 8 output channels co0..: per input channel and kernel
// row kh, the 18 input columns those outputs read (2 ow0 - 1 to 2 ow0 +
// 16) come as 6 vec4 and the 8 channels' kernel rows as 8 vec4, for 256
// multiply-adds. Grid: one invocation per (oh, column chunk, channel
// block, image), flat index ((oh * chunks + ow0 / 8) * co_blocks + co0 /
// 8) * n + b: neighbouring lanes take neighbouring images, so they skip
// the same padding rows. Channels past c_out repeat the last one and are
// not stored.
//
// conv2d_backward_input_tile and conv2d_backward_weight_rows: see each
// kernel.

// Mirrors the Rust `ConvParams` (conv2d.wgsl's struct of the same name).
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
    accumulate: u32,
    slices: u32,
    // Lanes of a workgroup that take a block (see conv2d.wgsl's Grids).
    group_lanes: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
// Forward: x [n, c_in, h_in, w_in] as rows of vec4.
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
// weight [c_out, c_in, 4, 4], one vec4 per kernel row.
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
// Input gradient dx [n, c_in, h_in, w_in].
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
// Weight gradient dw [c_out, c_in, 4, 4].
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;
// dy [n, c_out, h_out, w_out] (input and weight gradients) and y (forward)
// as pairs: the launcher picks these kernels only for rows an even number
// long.
@group(0) @binding(7) var<storage, read> dy2: array<vec2<f32>>;
@group(0) @binding(8) var<storage, read_write> y2: array<vec2<f32>>;

// 8 output columns of one channel.
struct Cols8 {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

@compute @workgroup_size(WG)
fn conv2d_forward_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = spread_index(wid, nwg, lid, p.group_lanes);
    let chunks = ceil_div(p.w_out, 8u);
    let co_blocks = ceil_div(p.c_out, 8u);
    if index >= p.n * co_blocks * chunks * p.h_out {
        return;
    }
    let b = index % p.n;
    let co0 = index / p.n % co_blocks * 8u;
    let chunk = index / (p.n * co_blocks) % chunks;
    let oh = index / (p.n * co_blocks * chunks);

    let cols = chunk_cols(chunk);

    // Channel co0 + j's offset into the weight (in vec4), clamped to the last.
    let last = vec4(p.c_out - 1u);
    let step = p.c_in * 4u;
    let w_lo = min(vec4(co0) + vec4(0u, 1u, 2u, 3u), last) * step;
    let w_hi = min(vec4(co0) + vec4(4u, 5u, 6u, 7u), last) * step;

    var acc: array<Cols8, 8>;
    for (var ci = 0u; ci < p.c_in; ci++) {
        for (var kh = 0u; kh < 4u; kh++) {
            let ih = i32(2u * oh + kh) - 1;
            if ih < 0 || ih >= i32(p.h_in) {
                continue;
            }
            let t = row_taps(((b * p.c_in + ci) * p.h_in + u32(ih)) * (p.w_in / 4u), cols);
            let k = ci * 4u + kh;
            acc[0] = add_taps(acc[0], weight[w_lo.x + k], t);
            acc[1] = add_taps(acc[1], weight[w_lo.y + k], t);
            acc[2] = add_taps(acc[2], weight[w_lo.z + k], t);
            acc[3] = add_taps(acc[3], weight[w_lo.w + k], t);
            acc[4] = add_taps(acc[4], weight[w_hi.x + k], t);
            acc[5] = add_taps(acc[5], weight[w_hi.y + k], t);
            acc[6] = add_taps(acc[6], weight[w_hi.z + k], t);
            acc[7] = add_taps(acc[7], weight[w_hi.w + k], t);
        }
    }

    // Constant indices only, so that the sums can stay in registers.
    let y_at = (b * p.c_out + co0) * p.h_out * p.w_out + oh * p.w_out + chunk * 8u;
    store_cols(acc[0], co0, y_at, chunk);
    store_cols(acc[1], co0 + 1u, y_at, chunk);
    store_cols(acc[2], co0 + 2u, y_at, chunk);
    store_cols(acc[3], co0 + 3u, y_at, chunk);
    store_cols(acc[4], co0 + 4u, y_at, chunk);
    store_cols(acc[5], co0 + 5u, y_at, chunk);
    store_cols(acc[6], co0 + 6u, y_at, chunk);
    store_cols(acc[7], co0 + 7u, y_at, chunk);
}

/// Stores channel co's 8 columns, `y_at` (even) being channel co0's first,
/// unless co is past c_out; column pairs past w_out are skipped.
fn store_cols(sums: Cols8, co: u32, y_at: u32, chunk: u32) {
    if co >= p.c_out {
        return;
    }
    let pair = (y_at + (co % 8u) * p.h_out * p.w_out) / 2u;
    let valid = p.w_out - chunk * 8u;
    y2[pair] = sums.lo.xy;
    if valid > 2u {
        y2[pair + 1u] = sums.lo.zw;
    }
    if valid > 4u {
        y2[pair + 2u] = sums.hi.xy;
    }
    if valid > 6u {
        y2[pair + 3u] = sums.hi.zw;
    }
}

/// Where the input columns of output columns 8 chunk.. lie in a row of
/// vec4: columns 16 chunk - 1 .. 16 chunk + 16 are the last component of
/// vec4 `left`, all of `mid` and the first of `right` (4 chunk - 1 ..
/// 4 chunk + 4); those outside the row read zero.
struct ChunkCols {
    mid: vec4<u32>,
    mid_in: vec4<bool>,
    left: u32,
    left_in: bool,
    right: u32,
    right_in: bool,
}

fn chunk_cols(chunk: u32) -> ChunkCols {
    let row4 = p.w_in / 4u;
    let v0 = 4u * chunk;
    let first = vec4(v0) + vec4(0u, 1u, 2u, 3u);
    let mid_in = first < vec4(row4);
    let left_in = chunk > 0u;
    let right_in = v0 + 4u < row4;
    return ChunkCols(
        select(vec4(0u), first, mid_in),
        mid_in,
        select(0u, v0 - 1u, left_in),
        left_in,
        select(0u, v0 + 4u, right_in),
        right_in,
    );
}

// What each tap kw of a kernel row reads for 8 output columns.
struct Taps {
    t0: Cols8,
    t1: Cols8,
    t2: Cols8,
    t3: Cols8,
}

/// The input row starting at vec4 `row`, as the 4 taps of 8 output
/// columns: tap kw reads input column 2 ow - 1 + kw.
fn row_taps(row: u32, c: ChunkCols) -> Taps {
    let l = select(0.0, x[row + c.left].w, c.left_in);
    let r = select(0.0, x[row + c.right].x, c.right_in);
    let b0 = select(vec4(0.0), x[row + c.mid.x], c.mid_in.x);
    let b1 = select(vec4(0.0), x[row + c.mid.y], c.mid_in.y);
    let b2 = select(vec4(0.0), x[row + c.mid.z], c.mid_in.z);
    let b3 = select(vec4(0.0), x[row + c.mid.w], c.mid_in.w);
    return Taps(
        Cols8(vec4(l, b0.y, b0.w, b1.y), vec4(b1.w, b2.y, b2.w, b3.y)),
        Cols8(vec4(b0.x, b0.z, b1.x, b1.z), vec4(b2.x, b2.z, b3.x, b3.z)),
        Cols8(vec4(b0.y, b0.w, b1.y, b1.w), vec4(b2.y, b2.w, b3.y, b3.w)),
        Cols8(vec4(b0.z, b1.x, b1.z, b2.x), vec4(b2.z, b3.x, b3.z, r)),
    );
}

/// `sums` plus one channel's kernel row `w` (kw = 0..3) times the columns
/// each tap reads.
fn add_taps(sums: Cols8, w: vec4<f32>, t: Taps) -> Cols8 {
    let lo = sums.lo + w.x * t.t0.lo + w.y * t.t1.lo + w.z * t.t2.lo + w.w * t.t3.lo;
    let hi = sums.hi + w.x * t.t0.hi + w.y * t.t1.hi + w.z * t.t2.hi + w.w * t.t3.hi;
    return Cols8(lo, hi);
}

// dw for few input channels, input rows a multiple of 4 long (D.0's and
// G.9's weight gradients): the sum over images and output positions
// splits into units (image b, a run of RUN output rows), which `slices`
// lanes share (lane s takes units s, s + slices, ...); each lane sums one
// input channel ci and 4 output channels co0.. for all 16 taps (a mat4x4
// per channel, column kh holding kw = 0..3), over its units' 8-column
// chunks. Per chunk and output row: the 4 channels' 8 dy values as 16
// pairs, and the 4 input rows the row reads as taps (conv2d_forward_rows'
// 6 vec4 per input row), of which the previous output row read two, for
// 512 multiply-adds. The lanes of a block then add their sums in workgroup
// memory. Grid: WG / slices blocks per workgroup, block index (co0 / 4) *
// c_in + ci, lanes of a block consecutive.
//
// Output rows per unit: more reuse the input rows more (2 RUN + 2 row
// loads instead of 4 RUN), fewer units spread over fewer lanes. Mirrors
// `ROWS_WEIGHT_RUN` in `crates/tensor/src/ops/conv.rs`.
const RUN: u32 = 7u;

@compute @workgroup_size(WG)
fn conv2d_backward_weight_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let per_group = WG / p.slices;
    let first_block = group_index(wid, nwg) * per_group;
    let block = first_block + lid.x / p.slices;
    let blocks = p.c_in * ceil_div(p.c_out, 4u);
    let ci = block % p.c_in;
    let co0 = block / p.c_in * 4u;
    // No early return: every lane must reach the barriers below. Lanes past
    // the last block sum nothing.
    let runs = ceil_div(p.h_out, RUN);
    let units = select(0u, p.n * runs, block < blocks);
    let chunks = ceil_div(p.w_out, 8u);
    let y_plane = p.h_out * p.w_out;
    // Channel co0 + j's offset in an image's dy, clamped to the last (its
    // sums are then not stored).
    let dy_at = min(vec4(co0) + vec4(0u, 1u, 2u, 3u), vec4(p.c_out - 1u)) * y_plane;
    // Channel co0 + j's sums: column kh holds kw = 0..3.
    var acc0: mat4x4<f32>;
    var acc1: mat4x4<f32>;
    var acc2: mat4x4<f32>;
    var acc3: mat4x4<f32>;
    for (var unit = lid.x % p.slices; unit < units; unit += p.slices) {
        let b = unit / runs;
        let first = unit % runs * RUN;
        let last = min(first + RUN, p.h_out);
        let x_image = (b * p.c_in + ci) * p.h_in;
        for (var chunk = 0u; chunk < chunks; chunk++) {
            let cols = chunk_cols(chunk);
            let valid = p.w_out - chunk * 8u;
            // Output row oh reads input rows 2 oh - 1 .. 2 oh + 2; the next
            // output row shares the last two.
            var t0 = input_taps(x_image, i32(2u * first) - 1, cols);
            var t1 = input_taps(x_image, i32(2u * first), cols);
            for (var oh = first; oh < last; oh++) {
                let t2 = input_taps(x_image, i32(2u * oh) + 1, cols);
                let t3 = input_taps(x_image, i32(2u * oh) + 2, cols);
                let y_at = b * p.c_out * y_plane + oh * p.w_out + chunk * 8u;
                let d0 = dy_cols(y_at + dy_at.x, valid);
                let d1 = dy_cols(y_at + dy_at.y, valid);
                let d2 = dy_cols(y_at + dy_at.z, valid);
                let d3 = dy_cols(y_at + dy_at.w, valid);
                acc0 += mat4x4(tap_dots(t0, d0), tap_dots(t1, d0), tap_dots(t2, d0), tap_dots(t3, d0));
                acc1 += mat4x4(tap_dots(t0, d1), tap_dots(t1, d1), tap_dots(t2, d1), tap_dots(t3, d1));
                acc2 += mat4x4(tap_dots(t0, d2), tap_dots(t1, d2), tap_dots(t2, d2), tap_dots(t3, d2));
                acc3 += mat4x4(tap_dots(t0, d3), tap_dots(t1, d3), tap_dots(t2, d3), tap_dots(t3, d3));
                t0 = t2;
                t1 = t3;
            }
        }
    }

    // Channel j's sums over the block's lanes, one channel per round.
    for (var j = 0u; j < 4u; j++) {
        switch j {
            case 0u: { lane_tiles[lid.x] = acc0; }
            case 1u: { lane_tiles[lid.x] = acc1; }
            case 2u: { lane_tiles[lid.x] = acc2; }
            default: { lane_tiles[lid.x] = acc3; }
        }
        workgroupBarrier();
        for (var i = lid.x; i < 16u * per_group; i += WG) {
            let local = i / 16u;
            let e = i % 16u;
            let total = lane_tiles_sum(local * p.slices, p.slices, e);
            let at_block = first_block + local;
            let co = at_block / p.c_in * 4u + j;
            if at_block < blocks && co < p.c_out {
                let at = (co * p.c_in + at_block % p.c_in) * 16u + e;
                dw[at] = select(0.0, dw[at], p.accumulate != 0u) + total;
            }
        }
        workgroupBarrier();
    }
}

/// 8 columns of one channel's dy row from `at` (even), zero past w_out
/// (`valid` columns remain in the row, an even number).
fn dy_cols(at: u32, valid: u32) -> Cols8 {
    let pair = at / 2u;
    let p0 = select(vec2(0.0), dy2[pair], valid > 0u);
    let p1 = select(vec2(0.0), dy2[select(pair, pair + 1u, valid > 2u)], valid > 2u);
    let p2 = select(vec2(0.0), dy2[select(pair, pair + 2u, valid > 4u)], valid > 4u);
    let p3 = select(vec2(0.0), dy2[select(pair, pair + 3u, valid > 6u)], valid > 6u);
    return Cols8(vec4(p0, p1), vec4(p2, p3));
}

/// Input row `ih` of the image plane starting at row `x_image` as the taps
/// of a chunk's 8 output columns, zero outside the input.
fn input_taps(x_image: u32, ih: i32, cols: ChunkCols) -> Taps {
    if ih < 0 || ih >= i32(p.h_in) {
        return Taps();
    }
    return row_taps((x_image + u32(ih)) * (p.w_in / 4u), cols);
}

/// (t_kw . d) for kw = 0..3, each a dot product over the 8 columns.
fn tap_dots(t: Taps, d: Cols8) -> vec4<f32> {
    return vec4(
        dot(t.t0.lo, d.lo) + dot(t.t0.hi, d.hi),
        dot(t.t1.lo, d.lo) + dot(t.t1.hi, d.hi),
        dot(t.t2.lo, d.lo) + dot(t.t2.hi, d.hi),
        dot(t.t3.lo, d.lo) + dot(t.t3.hi, d.hi),
    );
}

// dx, for few input channels (D.0's input gradient, G.9's forward pass),
// dy rows an even number long (read as pairs): one image and one input
// channel per invocation, an 8 x 8 tile of dx at rows ih0.. (a multiple
// of 8) and columns iw0.. (8 t - 2, so that the tile's dy window starts on
// a pair). Each position of the tile takes 2 x 2 of the 16 taps, which
// ones depending on its parity (row class a = ih % 2, column class c = iw
// % 2), and the 4 x 4 positions of one class read dy at shifted copies of
// the same window, so per output channel the tile loads one 6 x 6 window
// of dy (18 pairs) and the 4 kernel rows for 256 multiply-adds.
// With padding 1, class a's taps are kh = 3 - a and 1 - a at window rows
// i + a and i + a + 1 (i the position's row in its class, window row 0
// being dy row ih0 / 2 - 1), and likewise for columns.
@compute @workgroup_size(WG)
fn conv2d_backward_input_tile(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = spread_index(wid, nwg, lid, p.group_lanes);
    let tiles_w = tile_cols(p.w_in);
    let tiles = ceil_div(p.h_in, 8u) * tiles_w;
    if index >= tiles * p.c_in * p.n {
        return;
    }
    // Neighbouring lanes take neighbouring images of the same tile, so
    // they take the same window-edge branches.
    let b = index % p.n;
    let ci = index / p.n % p.c_in;
    let tile = index / (p.n * p.c_in);
    let ih0 = tile / tiles_w * 8u;
    let iw0 = i32(tile % tiles_w * 8u) - 2;

    // The window: dy rows oh0 + r, r in 0..5, and the pairs of columns
    // pair0 + q, q in 0..2, reading zero outside dy.
    let oh0 = i32(ih0 / 2u) - 1;
    let pairs = vec3(i32(tile % tiles_w) * 2 - 1) + vec3(0, 1, 2);
    let pairs_in = (pairs >= vec3(0)) & (pairs < vec3(i32(p.w_out / 2u)));
    let win = WindowPairs(pairs_in, vec3<u32>(select(vec3(0), pairs, pairs_in)));
    let y_plane = p.h_out * p.w_out;
    var dy_at = b * p.c_out * y_plane;
    var w_at = ci * 4u;
    // The four parity classes' 4 x 4 sums: acc.m_ac for rows of parity a
    // and columns of parity c, matrix column i holding the class's row i.
    var acc: Block;
    for (var co = 0u; co < p.c_out; co++) {
        let r0 = window_row(dy_at, oh0, win);
        let r1 = window_row(dy_at, oh0 + 1, win);
        let r2 = window_row(dy_at, oh0 + 2, win);
        let r3 = window_row(dy_at, oh0 + 3, win);
        let r4 = window_row(dy_at, oh0 + 4, win);
        let r5 = window_row(dy_at, oh0 + 5, win);
        // Row kh of the 4 x 4 kernel, kw = 0..3.
        let k0 = weight[w_at];
        let k1 = weight[w_at + 1u];
        let k2 = weight[w_at + 2u];
        let k3 = weight[w_at + 3u];
        // Each class's taps (kh, kw) in the order class_row takes them:
        // (far row, far column), (far row, near column), (near row, ...).
        let w00 = vec4(k3.w, k3.y, k1.w, k1.y);
        let w01 = vec4(k3.z, k3.x, k1.z, k1.x);
        let w10 = vec4(k2.w, k2.y, k0.w, k0.y);
        let w11 = vec4(k2.z, k2.x, k0.z, k0.x);
        acc.m00 += mat4x4(even_cols(r0, r1, w00), even_cols(r1, r2, w00), even_cols(r2, r3, w00), even_cols(r3, r4, w00));
        acc.m01 += mat4x4(odd_cols(r0, r1, w01), odd_cols(r1, r2, w01), odd_cols(r2, r3, w01), odd_cols(r3, r4, w01));
        acc.m10 += mat4x4(even_cols(r1, r2, w10), even_cols(r2, r3, w10), even_cols(r3, r4, w10), even_cols(r4, r5, w10));
        acc.m11 += mat4x4(odd_cols(r1, r2, w11), odd_cols(r2, r3, w11), odd_cols(r3, r4, w11), odd_cols(r4, r5, w11));
        dy_at += y_plane;
        w_at += p.c_in * 4u;
    }

    // dx row ih0 + 2 i + a interleaves row i of classes (a, 0) and (a, 1).
    // Constant indices only: an indexed matrix would leave the registers.
    let x_at = (b * p.c_in + ci) * p.h_in * p.w_in;
    store_row(interleave(acc.m00[0], acc.m01[0]), x_at, ih0, iw0);
    store_row(interleave(acc.m10[0], acc.m11[0]), x_at, ih0 + 1u, iw0);
    store_row(interleave(acc.m00[1], acc.m01[1]), x_at, ih0 + 2u, iw0);
    store_row(interleave(acc.m10[1], acc.m11[1]), x_at, ih0 + 3u, iw0);
    store_row(interleave(acc.m00[2], acc.m01[2]), x_at, ih0 + 4u, iw0);
    store_row(interleave(acc.m10[2], acc.m11[2]), x_at, ih0 + 5u, iw0);
    store_row(interleave(acc.m00[3], acc.m01[3]), x_at, ih0 + 6u, iw0);
    store_row(interleave(acc.m10[3], acc.m11[3]), x_at, ih0 + 7u, iw0);
}

/// Tiles across a dx row of `w_in` columns: columns -2..5, 6..13, ...
fn tile_cols(w_in: u32) -> u32 {
    return ceil_div(w_in + 2u, 8u);
}

// The window's 3 pairs of columns: which lie inside dy, and their pair
// offsets in a row (0 where not, so that no read leaves dy).
struct WindowPairs {
    inside: vec3<bool>,
    at: vec3<u32>,
}

// One window row's columns 0-3, 1-4 and 2-5.
struct Shifted {
    s0: vec4<f32>,
    s1: vec4<f32>,
    s2: vec4<f32>,
}

/// Row `oh` of the dy plane at `at`, over the window's columns, zero where
/// outside dy.
fn window_row(at: u32, oh: i32, win: WindowPairs) -> Shifted {
    let inside = win.inside & vec3(oh >= 0 && oh < i32(p.h_out));
    let row = (at + select(0u, u32(oh), inside.x || inside.y || inside.z) * p.w_out) / 2u;
    let q0 = select(vec2(0.0), dy2[row + win.at.x], inside.x);
    let q1 = select(vec2(0.0), dy2[row + win.at.y], inside.y);
    let q2 = select(vec2(0.0), dy2[row + win.at.z], inside.z);
    return Shifted(vec4(q0, q1), vec4(q0.y, q1, q2.x), vec4(q1, q2));
}

/// A row of 4 positions of an even column class (taps kw 3 and 1 at
/// window columns j and j + 1): from window rows `far` and `near` (taps
/// kh 3 - a and 1 - a), weights (far kw 3, far kw 1, near kw 3, near kw 1).
fn even_cols(far: Shifted, near: Shifted, w: vec4<f32>) -> vec4<f32> {
    return w.x * far.s0 + w.y * far.s1 + w.z * near.s0 + w.w * near.s1;
}

/// As `even_cols` for an odd column class: taps kw 2 and 0 at window
/// columns j + 1 and j + 2.
fn odd_cols(far: Shifted, near: Shifted, w: vec4<f32>) -> vec4<f32> {
    return w.x * far.s1 + w.y * far.s2 + w.z * near.s1 + w.w * near.s2;
}

/// A dx row's 8 columns from its even and odd ones.
fn interleave(even: vec4<f32>, odd: vec4<f32>) -> Cols8 {
    return Cols8(vec4(even.x, odd.x, even.y, odd.y), vec4(even.z, odd.z, even.w, odd.w));
}

/// Stores 8 columns of dx row `row` of the plane at `at`, from column
/// `iw0` on, skipping the row past h_in and the columns outside the row.
fn store_row(v: Cols8, at: u32, row: u32, iw0: i32) {
    if row >= p.h_in {
        return;
    }
    let i = i32(at + row * p.w_in) + iw0;
    store4(v.lo, i, iw0);
    store4(v.hi, i + 4, iw0 + 4);
}

/// Stores `v` at dx[i..i + 4], columns iw.., those inside the row.
fn store4(v: vec4<f32>, i: i32, iw: i32) {
    let col = vec4(iw) + vec4(0, 1, 2, 3);
    let inside = (col >= vec4(0)) & (col < vec4(i32(p.w_in)));
    if inside.x {
        dx[i] = v.x;
    }
    if inside.y {
        dx[i + 1] = v.y;
    }
    if inside.z {
        dx[i + 2] = v.z;
    }
    if inside.w {
        dx[i + 3] = v.w;
    }
}

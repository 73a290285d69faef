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
// The same three kernels run conv_transpose2d: a transposed convolution is
// this convolution with input and output exchanged (the launcher swaps
// c_in/c_out, h_in/h_out, w_in/w_out in the parameters and binds the
// tensors accordingly; see `crates/tensor/src/ops/conv.rs`). Its weight
// [c_in, c_out, k_h, k_w] then reads as this file's [c_out, c_in, k_h, k_w].
//
// Grids: one invocation per output element (flat index, see common.wgsl),
// except conv2d_backward_weight_reduce: one workgroup per weight element.
// Limits: every tensor below 2^32 elements (u32 indices).

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

@compute @workgroup_size(WG)
fn conv2d_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    if index >= p.n * p.c_out * p.h_out * p.w_out {
        return;
    }
    let ow = index % p.w_out;
    let oh = (index / p.w_out) % p.h_out;
    let co = (index / (p.w_out * p.h_out)) % p.c_out;
    let b = index / (p.w_out * p.h_out * p.c_out);

    let ih0 = i32(oh * p.stride) - i32(p.pad);
    let iw0 = i32(ow * p.stride) - i32(p.pad);
    var sum = 0.0;
    for (var ci = 0u; ci < p.c_in; ci++) {
        let x_plane = (b * p.c_in + ci) * p.h_in * p.w_in;
        let w_plane = (co * p.c_in + ci) * p.k_h * p.k_w;
        for (var kh = 0u; kh < p.k_h; kh++) {
            let ih = ih0 + i32(kh);
            if ih < 0 || ih >= i32(p.h_in) {
                continue;
            }
            for (var kw = 0u; kw < p.k_w; kw++) {
                let iw = iw0 + i32(kw);
                if iw < 0 || iw >= i32(p.w_in) {
                    continue;
                }
                let x_at = x_plane + u32(ih) * p.w_in + u32(iw);
                sum += x[x_at] * weight[w_plane + kh * p.k_w + kw];
            }
        }
    }
    y[index] = sum;
}

// dx[b, ci, ih, iw] = sum over co, kh, kw with oh * stride = ih + pad - kh
// (and likewise for ow) of dy[b, co, oh, ow] * weight[co, ci, kh, kw].
@compute @workgroup_size(WG)
fn conv2d_backward_input(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    if index >= p.n * p.c_in * p.h_in * p.w_in {
        return;
    }
    let iw = index % p.w_in;
    let ih = (index / p.w_in) % p.h_in;
    let ci = (index / (p.w_in * p.h_in)) % p.c_in;
    let b = index / (p.w_in * p.h_in * p.c_in);

    var sum = 0.0;
    for (var kh = 0u; kh < p.k_h; kh++) {
        // oh * stride = ih + pad - kh must be a non-negative multiple of stride.
        let oh_scaled = i32(ih + p.pad) - i32(kh);
        if oh_scaled < 0 || oh_scaled % i32(p.stride) != 0 {
            continue;
        }
        let oh = u32(oh_scaled) / p.stride;
        if oh >= p.h_out {
            continue;
        }
        for (var kw = 0u; kw < p.k_w; kw++) {
            let ow_scaled = i32(iw + p.pad) - i32(kw);
            if ow_scaled < 0 || ow_scaled % i32(p.stride) != 0 {
                continue;
            }
            let ow = u32(ow_scaled) / p.stride;
            if ow >= p.w_out {
                continue;
            }
            for (var co = 0u; co < p.c_out; co++) {
                let dy_at = ((b * p.c_out + co) * p.h_out + oh) * p.w_out + ow;
                let w_at = ((co * p.c_in + ci) * p.k_h + kh) * p.k_w + kw;
                sum += dy[dy_at] * weight[w_at];
            }
        }
    }
    dx[index] = sum;
}

// dw[co, ci, kh, kw] = sum over b, oh, ow of
//     x[b, ci, oh * stride + kh - pad, ow * stride + kw - pad] * dy[b, co, oh, ow].
// Two ways to sum over the n * h_out * w_out output positions: one
// invocation per weight element walking all of them (many weights, few
// positions), or one workgroup per weight element with its lanes sharing
// them (few weights, many positions); the launcher picks.

/// The contribution of output position `pos` (b, oh, ow) to dw at `index`.
fn weight_tap(index: u32, pos: u32) -> f32 {
    let kw = index % p.k_w;
    let kh = (index / p.k_w) % p.k_h;
    let ci = (index / (p.k_w * p.k_h)) % p.c_in;
    let co = index / (p.k_w * p.k_h * p.c_in);
    let ow = pos % p.w_out;
    let oh = (pos / p.w_out) % p.h_out;
    let b = pos / (p.w_out * p.h_out);
    let ih = i32(oh * p.stride + kh) - i32(p.pad);
    let iw = i32(ow * p.stride + kw) - i32(p.pad);
    if ih < 0 || ih >= i32(p.h_in) || iw < 0 || iw >= i32(p.w_in) {
        return 0.0;
    }
    let x_at = ((b * p.c_in + ci) * p.h_in + u32(ih)) * p.w_in + u32(iw);
    let dy_at = ((b * p.c_out + co) * p.h_out + oh) * p.w_out + ow;
    return x[x_at] * dy[dy_at];
}

fn store_weight_gradient(index: u32, total: f32) {
    dw[index] = select(0.0, dw[index], p.accumulate != 0u) + total;
}

// One invocation per weight element (flat index).
@compute @workgroup_size(WG)
fn conv2d_backward_weight(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    if index >= p.c_out * p.c_in * p.k_h * p.k_w {
        return;
    }
    var sum = 0.0;
    for (var pos = 0u; pos < p.n * p.h_out * p.w_out; pos++) {
        sum += weight_tap(index, pos);
    }
    store_weight_gradient(index, sum);
}

// One workgroup per weight element; lanes stride over the positions, then
// the workgroup sums the lanes.
@compute @workgroup_size(WG)
fn conv2d_backward_weight_reduce(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    // Workgroup-uniform, so the early return keeps the barriers uniform.
    let index = group_index(wid, nwg);
    if index >= p.c_out * p.c_in * p.k_h * p.k_w {
        return;
    }
    var sum = 0.0;
    for (var pos = lid.x; pos < p.n * p.h_out * p.w_out; pos += WG) {
        sum += weight_tap(index, pos);
    }
    let total = workgroup_sum(lid.x, sum);
    if lid.x == 0u {
        store_weight_gradient(index, total);
    }
}

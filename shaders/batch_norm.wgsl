// Batch normalisation over [n, c, h, w] per channel (PyTorch's BatchNorm2d).
//
// Layouts: x, y, dy, dx [n, c, hw] with hw = h * w; gamma, beta, running
// statistics, saved mean and invstd, dgamma, dbeta [c]; sums [2, c].
// Element (b, ch, s) sits at (b * c + ch) * hw + s.
//
// Training normalises with the batch mean and the biased variance
// (divide by m = n * hw) and moves the running variance toward the unbiased
// one (divide by m - 1), with momentum:
//     running = (1 - momentum) * running + momentum * batch_statistic.
// Eval normalises with the running statistics. A third mode normalises
// with the batch statistics and leaves the running ones alone, so a sample
// drawn as in training changes no state.
//
// Numerics: the mean is accumulated around a shift (the channel's first
// value) and the variance in a second pass over (x - mean)^2, so channels
// with a large mean and a small spread (10000, 10001, ...) keep their
// precision; a single-pass E[x^2] - E[x]^2 would cancel to noise.
//
// Backward, with xhat = (x - mean) * invstd, m values per channel:
//     dbeta = sum dy,  dgamma = sum dy * xhat,
//     dx = gamma * invstd * (dy - dbeta / m - xhat * dgamma / m)   (training)
//     dx = gamma * invstd * dy                                     (eval)
// where dbeta and dgamma are this pass's sums (kept in `sums`), even when
// the parameter gradients accumulate over several passes.
//
// Grids: the per-channel kernels (stats, backward_reduce) give each channel
// `lanes` lanes (a power of two the host picks so that each lane sums a few
// dozen values or more) and each workgroup WG / lanes channels, workgroup w
// holding channels w * WG / lanes ..; normalize and backward_input run one
// invocation per element. Few lanes per channel matter on software
// adapters, where every workgroup barrier costs about as much as summing
// hundreds of values: a workgroup per channel, as first written, spent
// there most of the batch norm's time.

struct BatchNormParams {
    n: u32,
    c: u32,
    hw: u32,
    // 0: running statistics (eval); 1: batch statistics, running ones
    // updated (training); 2: batch statistics, running ones untouched.
    training: u32,
    eps: f32,
    momentum: f32,
    // 1: add into dgamma and dbeta; 0: overwrite them.
    accumulate: u32,
    // Per-channel kernels: lanes that share a channel's sums.
    lanes: u32,
    // batch_norm_normalize_act: 1 relu, 2 leaky relu with `slope`.
    act: u32,
    slope: f32,
    _pad0: u32,
    _pad1: u32,
}

// Sizes and hyper-parameters.
@group(0) @binding(0) var<uniform> p: BatchNormParams;
// Input x [n, c, hw].
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Scale gamma [c].
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
// Shift beta [c].
@group(0) @binding(3) var<storage, read> beta: array<f32>;
// Gradient of the output dy [n, c, hw].
@group(0) @binding(4) var<storage, read> dy: array<f32>;
// Running mean [c], updated in training.
@group(0) @binding(5) var<storage, read_write> running_mean: array<f32>;
// Running (unbiased) variance [c], updated in training.
@group(0) @binding(6) var<storage, read_write> running_var: array<f32>;
// Mean used to normalise [c], saved for backward.
@group(0) @binding(7) var<storage, read_write> mean: array<f32>;
// 1 / sqrt(variance + eps) used to normalise [c], saved for backward.
@group(0) @binding(8) var<storage, read_write> invstd: array<f32>;
// Output y [n, c, hw].
@group(0) @binding(9) var<storage, read_write> y: array<f32>;
// This pass's sums [2, c]: sum dy, then sum dy * xhat.
@group(0) @binding(10) var<storage, read_write> sums: array<f32>;
// Input gradient dx [n, c, hw].
@group(0) @binding(11) var<storage, read_write> dx: array<f32>;
// Gradient of gamma [c].
@group(0) @binding(12) var<storage, read_write> dgamma: array<f32>;
// Gradient of beta [c].
@group(0) @binding(13) var<storage, read_write> dbeta: array<f32>;
// Halt flag [1] (see guard.wgsl): non-zero freezes the running statistics.
@group(0) @binding(14) var<storage, read> halt: array<f32>;
// The activation of y, batch_norm_normalize_act's second output [n, c, hw].
@group(0) @binding(15) var<storage, read_write> act_out: array<f32>;

/// Flat offset of the `pos`-th value (b * hw + s) of channel `ch`.
fn channel_at(ch: u32, pos: u32) -> u32 {
    return ((pos / p.hw) * p.c + ch) * p.hw + pos % p.hw;
}

// Per channel: the statistics to normalise with, and (training) the update
// of the running statistics.
@compute @workgroup_size(WG)
fn batch_norm_stats(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    // Workgroup-uniform, so the early return keeps the barriers uniform.
    let first = group_index(wid, nwg) * (WG / p.lanes);
    if first >= p.c {
        return;
    }
    // Lanes of a channel past the last compute the last one's sums again
    // and store nothing.
    let ch = min(first + lid.x / p.lanes, p.c - 1u);
    let lane = lid.x % p.lanes;
    let stores = lane == 0u && first + lid.x / p.lanes < p.c;
    let m = p.n * p.hw;
    if p.training == 0u {
        if stores {
            mean[ch] = running_mean[ch];
            invstd[ch] = 1.0 / sqrt(running_var[ch] + p.eps);
        }
        return;
    }

    let shift = x[channel_at(ch, 0u)];
    var shifted = 0.0;
    for (var pos = lane; pos < m; pos += p.lanes) {
        shifted += x[channel_at(ch, pos)] - shift;
    }
    let batch_mean = shift + group_sum(lid.x, shifted, p.lanes) / f32(m);

    var squares = 0.0;
    for (var pos = lane; pos < m; pos += p.lanes) {
        let centred = x[channel_at(ch, pos)] - batch_mean;
        squares += centred * centred;
    }
    let sum_squares = group_sum(lid.x, squares, p.lanes);

    if stores {
        // Biased variance normalises; the unbiased one feeds the running
        // statistic (PyTorch's convention). The host refuses m < 2.
        let biased = sum_squares / f32(m);
        let unbiased = sum_squares / f32(m - 1u);
        mean[ch] = batch_mean;
        invstd[ch] = 1.0 / sqrt(biased + p.eps);
        // Running statistics move only in training, only while the run is
        // not halted, and never toward a non-finite batch statistic.
        let finite = is_finite(batch_mean) && is_finite(unbiased);
        if p.training != 1u || halt[0] != 0.0 || !finite {
            return;
        }
        running_mean[ch] = (1.0 - p.momentum) * running_mean[ch] + p.momentum * batch_mean;
        running_var[ch] = (1.0 - p.momentum) * running_var[ch] + p.momentum * unbiased;
    }
}

// y = (x - mean) * invstd * gamma + beta, one invocation per element.
@compute @workgroup_size(WG)
fn batch_norm_normalize(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    if index < p.n * p.c * p.hw {
        y[index] = normalized(index);
    }
}

/// Element `index` of x normalised, scaled and shifted.
fn normalized(index: u32) -> f32 {
    let ch = (index / p.hw) % p.c;
    return (x[index] - mean[ch]) * invstd[ch] * gamma[ch] + beta[ch];
}

// y as batch_norm_normalize writes it, and also the activation that follows
// the batch norm in the model: act_out = relu(y) or leaky_relu(y), with the
// same expressions as activation.wgsl (so the values are the same bits),
// in one pass instead of two. y is still stored: the activation's backward
// pass reads it.
@compute @workgroup_size(WG)
fn batch_norm_normalize_act(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    if index >= p.n * p.c * p.hw {
        return;
    }
    let v = normalized(index);
    y[index] = v;
    if p.act == 1u {
        act_out[index] = max(v, 0.0);
    } else {
        act_out[index] = select(v * p.slope, v, v > 0.0);
    }
}

// Per channel: sum dy and sum dy * xhat into `sums`, and into dbeta, dgamma.
@compute @workgroup_size(WG)
fn batch_norm_backward_reduce(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    // Workgroup-uniform, so the early return keeps the barriers uniform.
    let first = group_index(wid, nwg) * (WG / p.lanes);
    if first >= p.c {
        return;
    }
    let ch = min(first + lid.x / p.lanes, p.c - 1u);
    let lane = lid.x % p.lanes;
    let m = p.n * p.hw;
    let channel_mean = mean[ch];
    let channel_invstd = invstd[ch];

    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    for (var pos = lane; pos < m; pos += p.lanes) {
        let at = channel_at(ch, pos);
        sum_dy += dy[at];
        sum_dy_xhat += dy[at] * (x[at] - channel_mean) * channel_invstd;
    }
    let total_dy = group_sum(lid.x, sum_dy, p.lanes);
    let total_dy_xhat = group_sum(lid.x, sum_dy_xhat, p.lanes);

    if lane == 0u && first + lid.x / p.lanes < p.c {
        let keep = p.accumulate != 0u;
        sums[ch] = total_dy;
        sums[p.c + ch] = total_dy_xhat;
        dbeta[ch] = select(0.0, dbeta[ch], keep) + total_dy;
        dgamma[ch] = select(0.0, dgamma[ch], keep) + total_dy_xhat;
    }
}

// dx from dy and this pass's sums, one invocation per element.
@compute @workgroup_size(WG)
fn batch_norm_backward_input(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    if index >= p.n * p.c * p.hw {
        return;
    }
    let ch = (index / p.hw) % p.c;
    let scale = gamma[ch] * invstd[ch];
    if p.training == 0u {
        dx[index] = scale * dy[index];
        return;
    }
    let m = f32(p.n * p.hw);
    let xhat = (x[index] - mean[ch]) * invstd[ch];
    dx[index] = scale * (dy[index] - sums[ch] / m - xhat * sums[p.c + ch] / m);
}

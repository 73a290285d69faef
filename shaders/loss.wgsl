// Losses over a batch of `count` predictions, averaged, and their gradients.
//
// Layouts: logits (or predictions) and targets [count]; out is any tensor
// whose element out_index receives the loss; grad [count].
//
// bce_with_logits works from logits, never from probabilities:
//     bce(l, t) = max(l, 0) - l * t + log(1 + exp(-|l|))
// which is finite for every finite l (exp is only taken of -|l|), and its
// gradient is sigmoid(l) - t. mse is (l - t)^2 with gradient 2 (l - t).
// Both are averaged over count and multiplied by `scale` (the trainer uses
// scale = -1 for the minimax generator loss, and for gradients of a loss
// that is part of a sum).
//
// Grids: the forward runs one workgroup (lanes stride over the batch, then
// sum); the backward one invocation per element (flat index).

struct LossParams {
    count: u32,
    out_index: u32,
    scale: f32,
    _pad: u32,
}

// Batch size, where to write, scale.
@group(0) @binding(0) var<uniform> p: LossParams;
// Logits or predictions [count].
@group(0) @binding(1) var<storage, read> logits: array<f32>;
// Targets [count].
@group(0) @binding(2) var<storage, read> targets: array<f32>;
// The loss goes to out[out_index].
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// Gradient of the loss with respect to the logits [count].
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

fn bce_term(l: f32, t: f32) -> f32 {
    return max(l, 0.0) - l * t + log1p_small(exp(-abs(l)));
}

@compute @workgroup_size(WG)
fn bce_with_logits_forward(@builtin(local_invocation_id) lid: vec3<u32>) {
    var sum = 0.0;
    for (var i = lid.x; i < p.count; i += WG) {
        sum += bce_term(logits[i], targets[i]);
    }
    let total = workgroup_sum(lid.x, sum);
    if lid.x == 0u {
        out[p.out_index] = p.scale * total / f32(p.count);
    }
}

@compute @workgroup_size(WG)
fn bce_with_logits_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        grad[i] = p.scale * (sigmoid(logits[i]) - targets[i]) / f32(p.count);
    }
}

@compute @workgroup_size(WG)
fn mse_forward(@builtin(local_invocation_id) lid: vec3<u32>) {
    var sum = 0.0;
    for (var i = lid.x; i < p.count; i += WG) {
        let diff = logits[i] - targets[i];
        sum += diff * diff;
    }
    let total = workgroup_sum(lid.x, sum);
    if lid.x == 0u {
        out[p.out_index] = p.scale * total / f32(p.count);
    }
}

@compute @workgroup_size(WG)
fn mse_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        grad[i] = p.scale * 2.0 * (logits[i] - targets[i]) / f32(p.count);
    }
}

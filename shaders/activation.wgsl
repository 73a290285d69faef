// Activations and their gradients, one invocation per element (flat index,
// see common.wgsl). Any shape: the kernels see `count` contiguous values.
//
// Forward: out = f(x). Backward: out = dy * f'(.), where f' is taken from the
// forward input x for relu and leaky_relu, and from the forward output y for
// tanh (1 - y^2) and sigmoid (y (1 - y)), which is cheaper and exact.
// At x = 0 (and -0) relu's gradient is 0 and leaky_relu's is the negative
// slope, as in PyTorch.

struct ActivationParams {
    count: u32,
    // Negative slope of leaky_relu.
    slope: f32,
    _pad0: u32,
    _pad1: u32,
}

// Element count and slope.
@group(0) @binding(0) var<uniform> p: ActivationParams;
// Forward input x, or for tanh and sigmoid backward the forward output y.
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Gradient of the output dy (backward only).
@group(0) @binding(2) var<storage, read> dy: array<f32>;
// Forward output y, or backward input gradient dx.
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn relu_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        out[i] = max(x[i], 0.0);
    }
}

@compute @workgroup_size(WG)
fn relu_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        out[i] = select(0.0, dy[i], x[i] > 0.0);
    }
}

@compute @workgroup_size(WG)
fn leaky_relu_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        out[i] = select(x[i] * p.slope, x[i], x[i] > 0.0);
    }
}

@compute @workgroup_size(WG)
fn leaky_relu_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        // x > 0 is false for 0 and -0, which take the slope.
        out[i] = select(dy[i] * p.slope, dy[i], x[i] > 0.0);
    }
}

@compute @workgroup_size(WG)
fn tanh_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        // Clamped: some implementations of tanh return NaN past |x| ~ 90.
        out[i] = tanh(clamp(x[i], -20.0, 20.0));
    }
}

@compute @workgroup_size(WG)
fn tanh_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        let y = x[i];
        out[i] = dy[i] * (1.0 - y * y);
    }
}

@compute @workgroup_size(WG)
fn sigmoid_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        out[i] = sigmoid(x[i]);
    }
}

@compute @workgroup_size(WG)
fn sigmoid_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        let y = x[i];
        out[i] = dy[i] * y * (1.0 - y);
    }
}

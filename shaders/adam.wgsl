// Adam, in place, with bias correction (PyTorch's torch.optim.Adam, no
// weight decay, no amsgrad). One invocation per parameter (flat index).
//
// Layouts: grad, param, m, v [count], any shape.
//
// Step t (from 1), computed per element:
//     m = m + (1 - beta1) (g - m)                (PyTorch's lerp)
//     v = beta2 v + (1 - beta2) g^2
//     param -= step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with step_size = lr / (1 - beta1^t). The host computes the two bias
// corrections in f64 each step, so lr and the betas may change between
// steps while m and v carry on. eps is added after dividing by the bias
// correction, as PyTorch does. Once the halt flag is set (a loss was not
// finite) the step does nothing, so the parameters stay the last good ones.

struct AdamParams {
    count: u32,
    // lr / (1 - beta1^t).
    step_size: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    // sqrt(1 - beta2^t).
    bias2_sqrt: f32,
    _pad0: u32,
    _pad1: u32,
}

// Count, step size and hyper-parameters of this step.
@group(0) @binding(0) var<uniform> p: AdamParams;
// Gradient [count].
@group(0) @binding(1) var<storage, read> grad: array<f32>;
// Parameter [count], updated in place.
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
// First moment m [count].
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
// Second moment v [count].
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
// Halt flag [1] (see guard.wgsl): non-zero leaves everything untouched.
@group(0) @binding(5) var<storage, read> halt: array<f32>;

@compute @workgroup_size(WG)
fn adam_step(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i >= p.count || halt[0] != 0.0 {
        return;
    }
    let g = grad[i];

    // PyTorch's lerp(m, g, w) rounds as m + w (g - m) for w < 0.5 and as
    // g - (1 - w) (g - m) otherwise; following it keeps parity bit-close.
    let w = 1.0 - p.beta1;
    var m_new = g - p.beta1 * (g - m[i]);
    if w < 0.5 {
        m_new = m[i] + w * (g - m[i]);
    }
    let v_new = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = m_new;
    v[i] = v_new;

    let denom = sqrt(v_new) / p.bias2_sqrt + p.eps;
    param[i] = param[i] - p.step_size * m_new / denom;
}

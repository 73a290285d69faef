// The halt flag: how a training run stops at the first non-finite loss
// without the host waiting for the GPU.
//
// Layouts: values [any], of which `count` values from `offset` are checked;
// halt [1]. guard_finite sets halt[0] = step + 1 when one of the checked
// values is NaN or infinite and the flag is still 0, so the flag names the
// first bad step. Adam and the running statistics of batch norm read the
// flag and do nothing once it is set: the state on the GPU stays the last
// good one while the host learns of the failure through its (asynchronous)
// metrics readback.
//
// Grid: one workgroup of one invocation (a handful of values).

struct GuardParams {
    count: u32,
    offset: u32,
    // The step being checked, as f32 (exact below 2^24 steps).
    step: f32,
    _pad: u32,
}

// What to check and which step it is.
@group(0) @binding(0) var<uniform> p: GuardParams;
// The values to check.
@group(0) @binding(1) var<storage, read> values: array<f32>;
// Halt flag [1].
@group(0) @binding(2) var<storage, read_write> halt: array<f32>;

@compute @workgroup_size(1)
fn guard_finite() {
    if halt[0] != 0.0 {
        return;
    }
    for (var i = 0u; i < p.count; i++) {
        if !is_finite(values[p.offset + i]) {
            halt[0] = p.step + 1.0;
            return;
        }
    }
}

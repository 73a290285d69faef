// Element-wise helpers, one invocation per element (flat index, see
// common.wgsl); any shape, `count` contiguous values.
//
//   fill:  out = value
//   scale: out = alpha * out            (in place)
//   add:   out = a + alpha * b
//   axpy:  out = out + alpha * a        (in place)

struct ElementwiseParams {
    count: u32,
    alpha: f32,
    value: f32,
    _pad: u32,
}

// Count and scalars.
@group(0) @binding(0) var<uniform> p: ElementwiseParams;
// First operand a [count].
@group(0) @binding(1) var<storage, read> a: array<f32>;
// Second operand b [count].
@group(0) @binding(2) var<storage, read> b: array<f32>;
// Result out [count].
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn fill(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        out[i] = p.value;
    }
}

@compute @workgroup_size(WG)
fn scale(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        out[i] = p.alpha * out[i];
    }
}

@compute @workgroup_size(WG)
fn add(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        out[i] = a[i] + p.alpha * b[i];
    }
}

@compute @workgroup_size(WG)
fn axpy(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_index(wid, nwg, lid);
    if i < p.count {
        out[i] = out[i] + p.alpha * a[i];
    }
}

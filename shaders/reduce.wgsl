// Sums for metrics: out[out_index] = scale * sum over i of map(x[i]).
//
// Layouts: x [count]; out any tensor, one element written. map 0 is the
// identity, map 1 the logistic sigmoid (so scale = 1 / count over logits
// gives D's mean probability, d_x in MODEL.md).
//
// Grid: one workgroup; lanes stride over x, then the workgroup sums. Meant
// for the small tensors of per-step metrics, not for whole activations.

struct ReduceParams {
    count: u32,
    out_index: u32,
    scale: f32,
    map: u32,
}

// Count, destination, scale and map.
@group(0) @binding(0) var<uniform> p: ReduceParams;
// Values to sum [count].
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The sum goes to out[out_index].
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn reduce_sum(@builtin(local_invocation_id) lid: vec3<u32>) {
    var sum = 0.0;
    for (var i = lid.x; i < p.count; i += WG) {
        sum += select(x[i], sigmoid(x[i]), p.map == 1u);
    }
    let total = workgroup_sum(lid.x, sum);
    if lid.x == 0u {
        out[p.out_index] = p.scale * total;
    }
}

// Gaussian kernel values between two sets of vectors, for the maximum mean
// discrepancy (MMD) the trainer reports as its sample-quality figure.
//
// Layouts: a [n, d], b [m, d] (images flattened to d pixels), out [n, m]:
//     out[i, j] = (1 / count) sum over the bandwidths s of
//                 exp(-|a_i - b_j|^2 * inv_two_sigma_sq[s])
// A mixture of bandwidths keeps the figure informative both when the two
// sets are far apart (wide kernels) and when they are close (narrow ones).
// MMD^2 = mean k(a, a') + mean k(b, b') - 2 mean k(a, b), each mean a
// reduce_sum over one of these matrices.
//
// Grid: one invocation per (i, j) (flat index i * m + j, see common.wgsl).

struct RbfParams {
    n: u32,
    m: u32,
    d: u32,
    // How many of the four bandwidths are used.
    count: u32,
    // 1 / (2 sigma^2) for each bandwidth.
    inv_two_sigma_sq: vec4<f32>,
}

// Sizes and bandwidths.
@group(0) @binding(0) var<uniform> p: RbfParams;
// First set a [n, d].
@group(0) @binding(1) var<storage, read> a: array<f32>;
// Second set b [m, d].
@group(0) @binding(2) var<storage, read> b: array<f32>;
// Kernel values out [n, m].
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn rbf_kernel(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let index = flat_index(wid, nwg, lid);
    if index >= p.n * p.m {
        return;
    }
    let a_row = (index / p.m) * p.d;
    let b_row = (index % p.m) * p.d;
    var dist = 0.0;
    for (var k = 0u; k < p.d; k++) {
        let diff = a[a_row + k] - b[b_row + k];
        dist += diff * diff;
    }
    var sum = 0.0;
    for (var s = 0u; s < p.count; s++) {
        sum += exp(-dist * p.inv_two_sigma_sq[s]);
    }
    out[index] = sum / f32(p.count);
}

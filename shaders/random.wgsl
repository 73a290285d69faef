// Uniform and normal noise from a seed, counter-based: Philox4x32-10
// (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
//
// Layout: out [count], any shape. Invocation j fills out[4j .. 4j + 3] from
// one Philox block with
//     key     = (seed low 32 bits, seed high 32 bits)
//     counter = (j, offset low, offset high, stream)
// so a value depends only on (seed, stream, offset, its index): the same
// call reproduces the same tensor on every adapter, and a trainer that
// bumps `offset` each step gets fresh noise without any state on the GPU.
//
// Bits to floats use the top 24 bits, exactly representable in f32:
//     uniform in [0, 1):  (bits >> 8) * 2^-24
//     uniform in (0, 1]:  ((bits >> 8) + 1) * 2^-24   (safe for log)
// random_uniform writes low + (high - low) * u. random_normal writes
// mean + std * z with Box-Muller: z = sqrt(-2 ln u1) (cos, sin)(2 pi u2),
// one pair of normals from each pair of words.
//
// Grid: one invocation per four elements (flat index, see common.wgsl).

struct RandomParams {
    count: u32,
    key_lo: u32,
    key_hi: u32,
    stream: u32,
    offset_lo: u32,
    offset_hi: u32,
    // Uniform: low; normal: mean.
    a: f32,
    // Uniform: high; normal: standard deviation.
    b: f32,
}

// Count, key, counter and distribution.
@group(0) @binding(0) var<uniform> p: RandomParams;
// Output [count].
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;
const TWO_PI: f32 = 6.283185307179586;

/// High 32 bits of the 64-bit product a * b, from 16-bit halves (WGSL has
/// no 64-bit integers).
fn mul_hi(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xFFFFu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xFFFFu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_lo = a_hi * b_lo;
    let mid = (lo_lo >> 16u) + (lo_hi & 0xFFFFu) + (hi_lo & 0xFFFFu);
    return a_hi * b_hi + (lo_hi >> 16u) + (hi_lo >> 16u) + (mid >> 16u);
}

/// Ten Philox rounds of `counter` under `key`.
fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        let hi0 = mul_hi(PHILOX_M0, c.x);
        let lo0 = PHILOX_M0 * c.x;
        let hi1 = mul_hi(PHILOX_M1, c.z);
        let lo1 = PHILOX_M1 * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
    }
    return c;
}

fn block(j: u32) -> vec4<u32> {
    let counter = vec4<u32>(j, p.offset_lo, p.offset_hi, p.stream);
    return philox4x32_10(counter, vec2<u32>(p.key_lo, p.key_hi));
}

fn unit_closed_open(bits: u32) -> f32 {
    return f32(bits >> 8u) * (1.0 / 16777216.0);
}

fn unit_open_closed(bits: u32) -> f32 {
    return f32((bits >> 8u) + 1u) * (1.0 / 16777216.0);
}

fn write4(j: u32, values: vec4<f32>) {
    let first = 4u * j;
    for (var lane = 0u; lane < 4u; lane++) {
        if first + lane < p.count {
            out[first + lane] = values[lane];
        }
    }
}

@compute @workgroup_size(WG)
fn random_uniform(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let j = flat_index(wid, nwg, lid);
    if 4u * j >= p.count {
        return;
    }
    let bits = block(j);
    let u = vec4<f32>(
        unit_closed_open(bits.x),
        unit_closed_open(bits.y),
        unit_closed_open(bits.z),
        unit_closed_open(bits.w),
    );
    write4(j, p.a + (p.b - p.a) * u);
}

@compute @workgroup_size(WG)
fn random_normal(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let j = flat_index(wid, nwg, lid);
    if 4u * j >= p.count {
        return;
    }
    let bits = block(j);
    let r0 = sqrt(-2.0 * log(unit_open_closed(bits.x)));
    let t0 = TWO_PI * unit_closed_open(bits.y);
    let r1 = sqrt(-2.0 * log(unit_open_closed(bits.z)));
    let t1 = TWO_PI * unit_closed_open(bits.w);
    let z = vec4<f32>(r0 * cos(t0), r0 * sin(t0), r1 * cos(t1), r1 * sin(t1));
    write4(j, p.a + p.b * z);
}

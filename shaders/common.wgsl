// Helpers shared by every kernel file.
//
// Composition order (see `crates/tensor/src/shaders.rs`): first the generated
// line `const WG: u32 = <WORKGROUP_SIZE>u;`, then this file, then the kernel
// file. Kernel files may use `WG` and the helpers below.
//
// Grids: element-wise kernels run one invocation per element. Past 65,535
// workgroups the host folds the grid into two dimensions, and
//     index = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * WG
//             + local_invocation_id.x
// recovers the flat element index. Reduction kernels run one workgroup per
// output element (batch norm's, several channels per workgroup: see
// batch_norm.wgsl) and use `group_index` (the same fold without the lane).

/// Flat invocation index of a (possibly folded) 1-D grid.
fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return group_index(wid, nwg) * WG + lid.x;
}

/// As `flat_index` for a grid that gives each workgroup only its first
/// `lanes` invocations (spreading few invocations over more workgroups, so
/// over more of a software adapter's threads); the other lanes get an
/// index past any grid's end.
fn spread_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>, lanes: u32) -> u32 {
    if lid.x >= lanes {
        return 0xffffffffu;
    }
    return group_index(wid, nwg) * lanes + lid.x;
}

/// Flat workgroup index of a (possibly folded) 1-D grid of workgroups.
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

/// False for NaN and infinities, without relying on NaN comparisons (which
/// some compilers fold away under fast-math assumptions): all-ones exponent.
fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7F800000u) != 0x7F800000u;
}

/// The logistic function without overflow: exp is only taken of -|x|.
///
/// For x >= 0 it is 1 - e / (1 + e) rather than 1 / (1 + e): the small
/// term is computed to full relative precision and the subtraction rounds
/// once, so sigmoid(17) is 0.99999994, the f32 nearest the true value,
/// where 1 / (1 + e) rounds 1 + e to 1 first and gives 1.
fn sigmoid(x: f32) -> f32 {
    let e = exp(-abs(x));
    let small = e / (1.0 + e);
    if x >= 0.0 {
        return 1.0 - small;
    }
    return small;
}

/// log(1 + e) for e in [0, 1], accurate for tiny e where 1 + e rounds.
///
/// WGSL has no log1p. With u = 1 + e rounded, log(u) * e / (u - 1) corrects
/// the rounding of u (Goldberg, "What every computer scientist should know
/// about floating-point arithmetic", theorem 4).
fn log1p_small(e: f32) -> f32 {
    let u = 1.0 + e;
    if u == 1.0 {
        return e;
    }
    return log(u) * e / (u - 1.0);
}

/// Workgroup scratch for tree reductions, one slot per lane.
var<workgroup> partial: array<f32, WG>;

/// Sums `value` over the workgroup; every lane gets the total.
///
/// Must be called from uniform control flow by all lanes of the workgroup.
fn workgroup_sum(lane: u32, value: f32) -> f32 {
    return group_sum(lane, value, WG);
}

/// Sums `value` over each group of `lanes` consecutive lanes (a power of
/// two dividing WG; a tree in workgroup memory, log2(lanes) barriers);
/// every lane gets its group's total.
///
/// Must be called from uniform control flow by all lanes of the workgroup,
/// with the same `lanes`.
fn group_sum(lane: u32, value: f32, lanes: u32) -> f32 {
    partial[lane] = value;
    workgroupBarrier();
    let sub = lane % lanes;
    for (var width = lanes / 2u; width > 0u; width = width / 2u) {
        if sub < width {
            partial[lane] = partial[lane] + partial[lane + width];
        }
        workgroupBarrier();
    }
    let total = partial[lane - sub];
    workgroupBarrier();
    return total;
}

/// ceil(a / b).
fn ceil_div(a: u32, b: u32) -> u32 {
    return (a + b - 1u) / b;
}

// Eight indices: rows or columns 0-3 (lo) and 4-7 (hi) of an 8 x 8 block.
struct Index8 {
    lo: vec4<u32>,
    hi: vec4<u32>,
}

/// `min(first + i, count - 1) * step` for i = 0..7: the offsets of eight
/// consecutive rows or columns, the ones past the end clamped to the last.
fn offsets8(first: u32, count: u32, step: u32) -> Index8 {
    let last = vec4(count - 1u);
    let lo = min(vec4(first) + vec4(0u, 1u, 2u, 3u), last) * step;
    let hi = min(vec4(first) + vec4(4u, 5u, 6u, 7u), last) * step;
    return Index8(lo, hi);
}

// An 8 x 8 block of sums as four 4 x 4 tiles, m_rc holding rows 4r..4r+3
// and columns 4c..4c+3 (each kernel file says which way a tile's own
// matrix columns run).
struct Block {
    m00: mat4x4<f32>,
    m01: mat4x4<f32>,
    m10: mat4x4<f32>,
    m11: mat4x4<f32>,
}

/// Tile `i` of a block: m00, m01, m10, m11 for i = 0..3.
fn block_tile(block: Block, i: u32) -> mat4x4<f32> {
    switch i {
        case 0u: { return block.m00; }
        case 1u: { return block.m01; }
        case 2u: { return block.m10; }
        default: { return block.m11; }
    }
}

// Where lanes that share a sum put their partial 4 x 4 tiles, one per lane
// (16 KiB at 256 lanes), for `lane_tiles_sum`.
var<workgroup> lane_tiles: array<mat4x4<f32>, WG>;

/// Element `e` (matrix column e / 4, component e % 4) of the tiles of lanes
/// first.. first + lanes - 1, added up. Call between the barrier after the
/// tiles are written and the one before they are written again.
fn lane_tiles_sum(first: u32, lanes: u32, e: u32) -> f32 {
    var total = 0.0;
    for (var s = 0u; s < lanes; s++) {
        total += lane_tiles[first + s][e / 4u][e % 4u];
    }
    return total;
}

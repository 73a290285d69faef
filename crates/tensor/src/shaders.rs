//! The WGSL sources, how a module is composed, and every kernel entry point.
//!
//! A shader module is `const WG: u32 = <WORKGROUP_SIZE>u;`, then
//! `shaders/common.wgsl`, then one kernel file. The workgroup size is a
//! generated constant rather than a pipeline-overridable one because the
//! reduction kernels size workgroup arrays with it, which WGSL only allows
//! for constants fixed at module creation on every implementation we target.
//!
//! Each [`KernelId`] lists the binding numbers of the tensors its launcher
//! passes, in order; binding 0 is always the parameter uniform. A test
//! checks with naga that these are exactly the bindings each entry point
//! uses, so Rust and WGSL cannot drift apart.

use crate::WORKGROUP_SIZE;

/// One compute entry point: its file, source and the bindings it uses.
#[derive(Clone, Copy, Debug)]
pub struct KernelId {
    /// File name under `shaders/`.
    pub file: &'static str,
    /// The file's WGSL, without the common prelude.
    pub source: &'static str,
    /// Entry point name, `<op>_<pass>`.
    pub entry: &'static str,
    /// Binding numbers of the tensors the launcher passes, in order.
    pub bindings: &'static [u32],
}

/// Helpers prepended to every kernel file.
pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");

macro_rules! shader_files {
    ($($name:ident = $file:literal;)*) => {
        $(
            #[doc = concat!("Source of `shaders/", $file, "`.")]
            pub const $name: &str = include_str!(concat!("../../../shaders/", $file));
        )*
        /// Every kernel file as (name, source), for validation.
        pub const FILES: &[(&str, &str)] = &[$(($file, $name)),*];
    };
}

shader_files! {
    ACTIVATION = "activation.wgsl";
    ADAM = "adam.wgsl";
    BATCH_NORM = "batch_norm.wgsl";
    CONV2D = "conv2d.wgsl";
    CONV2D_K4S2 = "conv2d_k4s2.wgsl";
    DENSE = "dense.wgsl";
    ELEMENTWISE = "elementwise.wgsl";
    GUARD = "guard.wgsl";
    LOSS = "loss.wgsl";
    MATMUL = "matmul.wgsl";
    MMD = "mmd.wgsl";
    RANDOM = "random.wgsl";
    REDUCE = "reduce.wgsl";
}

macro_rules! kernels {
    ($($name:ident = $source:ident, $file:literal, $entry:literal, [$($b:literal),*];)*) => {
        $(
            #[doc = concat!("`", $entry, "` in `shaders/", $file, "`.")]
            pub const $name: KernelId = KernelId {
                file: $file,
                source: $source,
                entry: $entry,
                bindings: &[$($b),*],
            };
        )*
        /// Every entry point, for validation.
        pub const KERNELS: &[KernelId] = &[$($name),*];
    };
}

kernels! {
    CONV2D_FORWARD = CONV2D, "conv2d.wgsl", "conv2d_forward", [1, 2, 4];
    CONV2D_FORWARD_FLAT = CONV2D, "conv2d.wgsl", "conv2d_forward_flat", [1, 2, 4];
    CONV2D_FORWARD_16 = CONV2D, "conv2d.wgsl", "conv2d_forward_16", [1, 2, 4];
    CONV2D_FORWARD_ROWS = CONV2D_K4S2, "conv2d_k4s2.wgsl", "conv2d_forward_rows", [1, 2, 8];
    CONV2D_BACKWARD_INPUT = CONV2D, "conv2d.wgsl", "conv2d_backward_input", [3, 2, 5];
    CONV2D_BACKWARD_INPUT_16 = CONV2D, "conv2d.wgsl", "conv2d_backward_input_16", [3, 2, 5];
    CONV2D_BACKWARD_INPUT_NARROW =
        CONV2D, "conv2d.wgsl", "conv2d_backward_input_narrow", [3, 2, 5];
    CONV2D_BACKWARD_INPUT_TILE =
        CONV2D_K4S2, "conv2d_k4s2.wgsl", "conv2d_backward_input_tile", [7, 2, 5];
    CONV2D_BACKWARD_WEIGHT = CONV2D, "conv2d.wgsl", "conv2d_backward_weight", [1, 3, 6];
    CONV2D_BACKWARD_WEIGHT_ROWS =
        CONV2D_K4S2, "conv2d_k4s2.wgsl", "conv2d_backward_weight_rows", [1, 7, 6];
    CONV2D_BACKWARD_WEIGHT_LANE =
        CONV2D, "conv2d.wgsl", "conv2d_backward_weight_lane", [1, 3, 6];
    CONV2D_BACKWARD_WEIGHT_LANE_16 =
        CONV2D, "conv2d.wgsl", "conv2d_backward_weight_lane_16", [1, 3, 6];
    DENSE_NN = DENSE, "dense.wgsl", "dense_nn", [1, 2, 3];
    DENSE_TN = DENSE, "dense.wgsl", "dense_tn", [1, 2, 3];
    DENSE_NT = DENSE, "dense.wgsl", "dense_nt", [1, 2, 4];
    DENSE_NN_16 = DENSE, "dense.wgsl", "dense_nn_16", [1, 2, 3];
    DENSE_TN_16 = DENSE, "dense.wgsl", "dense_tn_16", [1, 2, 3];
    BATCH_NORM_STATS = BATCH_NORM, "batch_norm.wgsl", "batch_norm_stats", [1, 5, 6, 7, 8, 14];
    BATCH_NORM_NORMALIZE =
        BATCH_NORM, "batch_norm.wgsl", "batch_norm_normalize", [1, 7, 8, 2, 3, 9];
    BATCH_NORM_NORMALIZE_ACT =
        BATCH_NORM, "batch_norm.wgsl", "batch_norm_normalize_act", [1, 7, 8, 2, 3, 9, 15];
    BATCH_NORM_BACKWARD_REDUCE =
        BATCH_NORM, "batch_norm.wgsl", "batch_norm_backward_reduce", [1, 4, 7, 8, 10, 12, 13];
    BATCH_NORM_BACKWARD_INPUT =
        BATCH_NORM, "batch_norm.wgsl", "batch_norm_backward_input", [1, 4, 7, 8, 2, 10, 11];
    RELU_FORWARD = ACTIVATION, "activation.wgsl", "relu_forward", [1, 3];
    RELU_BACKWARD = ACTIVATION, "activation.wgsl", "relu_backward", [1, 2, 3];
    LEAKY_RELU_FORWARD = ACTIVATION, "activation.wgsl", "leaky_relu_forward", [1, 3];
    LEAKY_RELU_BACKWARD = ACTIVATION, "activation.wgsl", "leaky_relu_backward", [1, 2, 3];
    TANH_FORWARD = ACTIVATION, "activation.wgsl", "tanh_forward", [1, 3];
    TANH_BACKWARD = ACTIVATION, "activation.wgsl", "tanh_backward", [1, 2, 3];
    SIGMOID_FORWARD = ACTIVATION, "activation.wgsl", "sigmoid_forward", [1, 3];
    SIGMOID_BACKWARD = ACTIVATION, "activation.wgsl", "sigmoid_backward", [1, 2, 3];
    BCE_WITH_LOGITS_FORWARD = LOSS, "loss.wgsl", "bce_with_logits_forward", [1, 2, 3];
    BCE_WITH_LOGITS_BACKWARD = LOSS, "loss.wgsl", "bce_with_logits_backward", [1, 2, 4];
    MSE_FORWARD = LOSS, "loss.wgsl", "mse_forward", [1, 2, 3];
    MSE_BACKWARD = LOSS, "loss.wgsl", "mse_backward", [1, 2, 4];
    MATMUL_FORWARD = MATMUL, "matmul.wgsl", "matmul_forward", [1, 2, 3];
    MATMUL_FORWARD_16 = MATMUL, "matmul.wgsl", "matmul_forward_16", [1, 2, 3];
    RBF_KERNEL = MMD, "mmd.wgsl", "rbf_kernel", [1, 2, 3];
    REDUCE_SUM = REDUCE, "reduce.wgsl", "reduce_sum", [1, 2];
    FILL = ELEMENTWISE, "elementwise.wgsl", "fill", [3];
    SCALE = ELEMENTWISE, "elementwise.wgsl", "scale", [3];
    ADD = ELEMENTWISE, "elementwise.wgsl", "add", [1, 2, 3];
    AXPY = ELEMENTWISE, "elementwise.wgsl", "axpy", [1, 3];
    ADAM_STEP = ADAM, "adam.wgsl", "adam_step", [1, 2, 3, 4, 5];
    GUARD_FINITE = GUARD, "guard.wgsl", "guard_finite", [1, 2];
    RANDOM_UNIFORM = RANDOM, "random.wgsl", "random_uniform", [1];
    RANDOM_NORMAL = RANDOM, "random.wgsl", "random_normal", [1];
}

const _: () = assert!(WORKGROUP_SIZE.is_power_of_two() && WORKGROUP_SIZE <= 256);

/// The full module source for one kernel file.
pub fn compose(source: &str) -> String {
    format!("const WG: u32 = {WORKGROUP_SIZE}u;\n{COMMON}\n{source}")
}

#[cfg(test)]
mod tests {
    //! What needs no GPU: naga parses and validates every module, each
    //! entry point uses exactly the bindings its launcher binds, and every
    //! uniform struct has the size of its Rust mirror.

    use std::collections::BTreeSet;

    use super::*;
    use crate::ops::params;

    fn validated(file: &str, source: &str) -> (naga::Module, naga::valid::ModuleInfo) {
        let module = naga::front::wgsl::parse_str(&compose(source))
            .unwrap_or_else(|e| panic!("{file} does not parse:\n{}", e.emit_to_string(source)));
        let flags = naga::valid::ValidationFlags::all();
        let info = naga::valid::Validator::new(flags, naga::valid::Capabilities::default())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{file} does not validate: {e:?}"));
        (module, info)
    }

    #[test]
    fn every_shader_file_parses_and_validates() {
        for (file, source) in FILES {
            validated(file, source);
        }
        // The prelude alone too, so its errors are reported against it.
        validated("common.wgsl", "");
    }

    #[test]
    fn every_kernel_uses_exactly_the_bindings_its_launcher_binds() {
        for kernel in KERNELS {
            let (module, info) = validated(kernel.file, kernel.source);
            let index = module
                .entry_points
                .iter()
                .position(|e| e.name == kernel.entry)
                .unwrap_or_else(|| panic!("{} has no entry point {}", kernel.file, kernel.entry));
            let usage = info.get_entry_point(index);
            let used: BTreeSet<u32> = module
                .global_variables
                .iter()
                .filter(|(handle, _)| !usage[*handle].is_empty())
                .filter_map(|(_, var)| var.binding.as_ref().map(|b| b.binding))
                .collect();
            let expected: BTreeSet<u32> = std::iter::once(0)
                .chain(kernel.bindings.iter().copied())
                .collect();
            assert_eq!(used, expected, "{}: bindings used vs bound", kernel.entry);
            assert_eq!(
                expected.len(),
                kernel.bindings.len() + 1,
                "{}: repeats",
                kernel.entry
            );
        }
    }

    #[test]
    fn every_uniform_struct_matches_its_rust_mirror() {
        use std::mem::size_of;
        let structs = [
            (
                "activation.wgsl",
                "ActivationParams",
                size_of::<params::ActivationParams>(),
            ),
            ("adam.wgsl", "AdamParams", size_of::<params::AdamParams>()),
            (
                "batch_norm.wgsl",
                "BatchNormParams",
                size_of::<params::BatchNormParams>(),
            ),
            ("conv2d.wgsl", "ConvParams", size_of::<params::ConvParams>()),
            (
                "dense.wgsl",
                "DenseParams",
                size_of::<params::DenseParams>(),
            ),
            (
                "elementwise.wgsl",
                "ElementwiseParams",
                size_of::<params::ElementwiseParams>(),
            ),
            (
                "reduce.wgsl",
                "ReduceParams",
                size_of::<params::ReduceParams>(),
            ),
            ("loss.wgsl", "LossParams", size_of::<params::LossParams>()),
            (
                "matmul.wgsl",
                "MatmulParams",
                size_of::<params::MatmulParams>(),
            ),
            ("mmd.wgsl", "RbfParams", size_of::<params::RbfParams>()),
            (
                "random.wgsl",
                "RandomParams",
                size_of::<params::RandomParams>(),
            ),
        ];
        for (file, name, rust_size) in structs {
            let source = FILES
                .iter()
                .find(|(f, _)| *f == file)
                .expect("listed file")
                .1;
            let (module, _) = validated(file, source);
            let span = module
                .types
                .iter()
                .find(|(_, ty)| ty.name.as_deref() == Some(name))
                .map(|(_, ty)| match ty.inner {
                    naga::TypeInner::Struct { span, .. } => span as usize,
                    _ => panic!("{name} is not a struct"),
                })
                .unwrap_or_else(|| panic!("{file} has no struct {name}"));
            assert_eq!(span, rust_size, "{name}: WGSL size vs Rust size");
            assert_eq!(
                rust_size % 16,
                0,
                "{name}: uniform structs are 16-byte multiples"
            );
        }
    }
}

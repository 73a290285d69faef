//! Times every convolution and transposed-convolution pass of the DCGAN at
//! one preset's shapes (`MODEL.md`; `standard` by default: nz 64, ngf = ndf
//! = 32, batch 64) on the adapter present, and prints the median
//! milliseconds and GFLOP/s of each.
//!
//! Run: `cargo bench -p webgan-tensor --bench kernels [-- --samples N
//! --preset tiny|standard|large --batch N --only TEXT --matmuls MxNxK,..]`;
//! `--only` keeps the convolution rows whose "layer pass" contains TEXT
//! (e.g. `--only D.2`, `--only weight`); the matmul rows always run, and
//! `--matmuls` adds sizes of your own (M and N multiples of 8), timed and
//! shown but not counted in the best: for instance a pass's own GEMM shape,
//! to see what the adapter gives a product that shape.
//!
//! Each sample is one submission holding one dispatch, timed on the host
//! from submit until the device is idle (the `ms` column, which includes
//! the submission overhead) and, where the adapter has timestamp queries,
//! on the GPU from the dispatch's start to its end (`gpu ms`: the kernel
//! alone). GFLOP/s and the matmul ratio come from the GPU time where there
//! is one, else from the wall time. FLOPs count
//! two per multiply-add of the forward pass, padding taps included; each
//! backward pass does the same amount of work.
//!
//! The last lines give the dispatch floor: the GPU time of a dispatch of
//! one invocation (a single 8 x 8 block with k = 1), which no pass can
//! beat, and the passes too small to reach half the best matmul even at
//! that time.
//!
//! The yardstick is a matrix product (`ops::matmul`, each invocation a
//! 16 x 16 block fed by contiguous vec4 loads where the sizes allow, else
//! 8 x 8; see `shaders/matmul.wgsl`), timed first at a few sizes
//! (the matmul rows). The size that ran fastest is then run again right
//! after every sample of every convolution pass, and the last column is the
//! median over the samples of the pass's GFLOP/s divided by that matmul's
//! in the same sample: the convolutions against the best plain matmul we
//! have for the same adapter, each measured within milliseconds of the
//! other. (This machine's speed drifts by half within minutes; ratios of
//! medians taken a minute apart moved with it.)
//!
//! On Linux a second column gives the CPU time all the process's threads
//! spent per sample (from `/proc/self/task/*/schedstat`). A software adapter
//! runs the kernels on those threads, and on a machine shared with other
//! jobs that figure moves far less than the wall time.

use std::time::Instant;

use webgan_tensor::ops::{self, Conv2d, ConvGeometry, ConvTranspose2d};
use webgan_tensor::{Encoder, GpuContext, Result, Tensor};

/// A layer of the model: name, input shape, weight shape, stride, padding.
struct Layer {
    name: &'static str,
    transposed: bool,
    input: [usize; 4],
    weight: [usize; 4],
    stride: usize,
    pad: usize,
}

fn layers(batch: usize, nz: usize, ngf: usize, ndf: usize) -> Vec<Layer> {
    let g = |name, input, weight, stride, pad| Layer {
        name,
        transposed: true,
        input,
        weight,
        stride,
        pad,
    };
    let d = |name, input, weight, stride, pad| Layer {
        name,
        transposed: false,
        input,
        weight,
        stride,
        pad,
    };
    vec![
        g("G.0 convT", [batch, nz, 1, 1], [nz, 4 * ngf, 4, 4], 1, 0),
        g(
            "G.3 convT",
            [batch, 4 * ngf, 4, 4],
            [4 * ngf, 2 * ngf, 3, 3],
            2,
            1,
        ),
        g(
            "G.6 convT",
            [batch, 2 * ngf, 7, 7],
            [2 * ngf, ngf, 4, 4],
            2,
            1,
        ),
        g("G.9 convT", [batch, ngf, 14, 14], [ngf, 1, 4, 4], 2, 1),
        d("D.0 conv", [batch, 1, 28, 28], [ndf, 1, 4, 4], 2, 1),
        d("D.2 conv", [batch, ndf, 14, 14], [2 * ndf, ndf, 4, 4], 2, 1),
        d(
            "D.5 conv",
            [batch, 2 * ndf, 7, 7],
            [4 * ndf, 2 * ndf, 3, 3],
            2,
            1,
        ),
        d("D.8 conv", [batch, 4 * ndf, 4, 4], [1, 4 * ndf, 4, 4], 1, 0),
    ]
}

fn geometry(layer: &Layer) -> Result<ConvGeometry> {
    if layer.transposed {
        ConvTranspose2d {
            stride: layer.stride,
            pad: layer.pad,
            out_pad: 0,
        }
        .geometry(&layer.input, &layer.weight)
    } else {
        Conv2d {
            stride: layer.stride,
            pad: layer.pad,
        }
        .geometry(&layer.input, &layer.weight)
    }
}

/// One measured row of the table.
struct Row {
    layer: String,
    pass: String,
    flops: f64,
    ms: f64,
    cpu_ms: Option<f64>,
    /// From timestamps, where the adapter has them.
    gpu_ms: Option<f64>,
}

/// Records one pass (0 forward, 1 input gradient, 2 weight gradient).
fn record(enc: &mut Encoder, layer: &Layer, pass: usize, t: &[Tensor; 4]) -> Result<()> {
    let [x, w, y, dx] = t;
    let (conv, convt) = (
        Conv2d {
            stride: layer.stride,
            pad: layer.pad,
        },
        ConvTranspose2d {
            stride: layer.stride,
            pad: layer.pad,
            out_pad: 0,
        },
    );
    match (layer.transposed, pass) {
        (false, 0) => ops::conv2d_forward(enc, conv, x, w, y),
        (false, 1) => ops::conv2d_backward_input(enc, conv, y, w, dx),
        (false, _) => ops::conv2d_backward_weight(enc, conv, x, y, w, false),
        (true, 0) => ops::conv_transpose2d_forward(enc, convt, x, w, y),
        (true, 1) => ops::conv_transpose2d_backward_input(enc, convt, y, w, dx),
        (true, _) => ops::conv_transpose2d_backward_weight(enc, convt, x, y, w, false),
    }
}

/// Nanoseconds the process's threads have run, where Linux says.
fn cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Wall, CPU and GPU milliseconds of one run of `run` (CPU `None` where
/// unknown, GPU `None` without timestamp queries).
fn sample_ms(
    ctx: &GpuContext,
    run: &mut impl FnMut() -> Result<()>,
) -> Result<(f64, Option<f64>, Option<f64>)> {
    // Timing on (it clears the totals) for this sample's dispatch only.
    let timed = ctx.time_kernels(true);
    let (start, cpu_start) = (Instant::now(), cpu_ns());
    run()?;
    wait(ctx);
    let wall = start.elapsed().as_secs_f64() * 1e3;
    let cpu = cpu_start
        .zip(cpu_ns())
        .map(|(begin, end)| end.saturating_sub(begin) as f64 / 1e6);
    ctx.time_kernels(false);
    let gpu = if timed {
        let kernels = ctx.wait_kernel_times()?;
        Some(kernels.iter().map(|k| k.total_ms).sum())
    } else {
        None
    };
    Ok((wall, cpu, gpu))
}

fn wait(ctx: &GpuContext) {
    ctx.device()
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("device poll");
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Median milliseconds of `samples` runs of a pass after two warm-up runs
/// and, with a `yardstick` (the matmul and its FLOPs), the median over the
/// samples of the pass's GFLOP/s divided by the matmul's, each sample's
/// matmul run right after the pass: this machine's speed drifts within
/// seconds, and a ratio of neighbours drifts far less than a ratio of
/// medians taken apart.
fn measure(
    ctx: &GpuContext,
    samples: usize,
    flops: f64,
    mut run: impl FnMut() -> Result<()>,
    mut yardstick: Option<(f64, &mut dyn FnMut() -> Result<()>)>,
) -> Result<(Row, Option<f64>)> {
    for _ in 0..2 {
        run()?;
        wait(ctx);
    }
    let (mut walls, mut cpus, mut gpus, mut ratios) = (vec![], vec![], vec![], vec![]);
    for _ in 0..samples {
        let (wall, cpu, gpu) = sample_ms(ctx, &mut run)?;
        walls.push(wall);
        cpus.extend(cpu);
        gpus.extend(gpu);
        if let Some((mm_flops, mm)) = yardstick.as_mut() {
            let (mm_wall, _, mm_gpu) = sample_ms(ctx, mm)?;
            ratios.push((flops / gpu.unwrap_or(wall)) / (*mm_flops / mm_gpu.unwrap_or(mm_wall)));
        }
    }
    let all = |v: Vec<f64>| (v.len() == samples).then(|| median(v)).flatten();
    let row = Row {
        layer: String::new(),
        pass: String::new(),
        flops,
        ms: median(walls).expect("at least one sample"),
        cpu_ms: all(cpus),
        gpu_ms: all(gpus),
    };
    Ok((row, median(ratios)))
}

/// The value after `--name` on the command line.
fn arg_text(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

fn arg(name: &str, default: usize) -> usize {
    arg_text(name)
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v}"))
        })
        .unwrap_or(default)
}

/// `MxNxK` as (M, N, K), M and N multiples of 8 (what `ops::matmul` takes).
fn matmul_size(text: &str) -> (usize, usize, usize) {
    let parts: Vec<usize> = text
        .split('x')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    match parts[..] {
        [m, n, k] if m % 8 == 0 && n % 8 == 0 && k > 0 => (m, n, k),
        _ => panic!("--matmuls takes sizes MxNxK with M and N multiples of 8, got {text}"),
    }
}

/// (nz, ngf = ndf, batch) of a preset in MODEL.md.
fn preset(name: &str) -> (usize, usize, usize) {
    match name {
        "tiny" => (32, 16, 32),
        "standard" => (64, 32, 64),
        "large" => (100, 64, 128),
        _ => panic!("--preset takes tiny, standard or large, got {name}"),
    }
}

fn main() -> Result<()> {
    let preset_name = arg_text("--preset").unwrap_or_else(|| "standard".into());
    let (nz, nf, preset_batch) = preset(&preset_name);
    let (samples, batch) = (arg("--samples", 9), arg("--batch", preset_batch));
    let only = arg_text("--only").unwrap_or_default();
    let ctx = pollster::block_on(GpuContext::new())?;
    println!(
        "webgan-tensor kernels, {preset_name} preset (nz {nz}, ngf = ndf = {nf}), batch {batch}"
    );
    println!("adapter: {}", ctx.adapter());
    println!("median of {samples} samples after 2 warm-up runs; one dispatch per submission");
    println!(
        "{}\n",
        if ctx.timestamps_supported() {
            "GFLOP/s from the GPU time (timestamps at the dispatch's ends)"
        } else {
            "GFLOP/s from the wall time (no timestamp queries here)"
        }
    );
    println!(
        "{:<11} {:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "layer", "pass", "MFLOP", "ms", "cpu ms", "gpu ms", "GFLOP/s", "/ matmul"
    );

    // The yardstick first: the same adapter's plain matrix product at a few
    // sizes; the best of them is run again beside every convolution sample.
    // The last size is not counted in the best: D.8's shape (64 images, one
    // output padded to 8, 2,048 taps), to show what a kernel this small
    // gets out of the adapter at all.
    // And one 8 x 8 block with k = 1, a single invocation's worth of work:
    // the least any dispatch costs here, which bounds what small passes
    // can reach.
    let d8 = (64, 8, 2048);
    let floor = (8, 8, 1);
    let mut sizes = vec![
        (256, 256, 256),
        (512, 512, 512),
        (1024, 128, 512),
        d8,
        floor,
    ];
    let counted = sizes.len() - 2;
    sizes.extend(
        arg_text("--matmuls")
            .iter()
            .flat_map(|list| list.split(',').map(matmul_size)),
    );
    let mut matmuls = Vec::new();
    for (i, (m, n, k)) in sizes.into_iter().enumerate() {
        let a = Tensor::from_slice(&ctx, &[k, m], &vec![0.5; k * m], "a")?;
        let b = Tensor::from_slice(&ctx, &[k, n], &vec![0.25; k * n], "b")?;
        let c = Tensor::zeros(&ctx, &[m, n], "c")?;
        let flops = 2.0 * (m * n * k) as f64;
        let owned = ctx.clone();
        let mut run = move || {
            let mut enc = Encoder::new(&owned);
            ops::matmul(&mut enc, &a, &b, &c)?;
            enc.submit();
            Ok(())
        };
        let (mut row, _) = measure(&ctx, samples, flops, &mut run, None)?;
        (row.layer, row.pass) = ("matmul".into(), format!("{m}x{n}x{k}"));
        matmuls.push((i < counted, row, run));
    }
    let gflops = |row: &Row| row.flops / row.gpu_ms.unwrap_or(row.ms) / 1e6;
    let (best_matmul, best_flops, best_run) = matmuls
        .iter_mut()
        .filter(|(counted, ..)| *counted)
        .map(|(_, row, run)| (gflops(row), row.flops, run))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("three matmul sizes");

    let (mut total_ms, mut total_cpu_ms, mut total_gpu_ms) = (0.0, Some(0.0), Some(0.0));
    let mut rows = Vec::new();
    for layer in layers(batch, nz, nf, nf) {
        let g = geometry(&layer)?;
        let x = Tensor::from_slice(
            &ctx,
            &g.input_shape(),
            &vec![0.5; g.input_shape().iter().product()],
            "x",
        )?;
        let w = Tensor::from_slice(
            &ctx,
            &g.weight_shape(),
            &vec![0.1; g.weight_shape().iter().product()],
            "w",
        )?;
        let y = Tensor::zeros(&ctx, &g.output_shape(), "y")?;
        let dx = Tensor::zeros(&ctx, &g.input_shape(), "dx")?;
        let tensors = [x, w, y, dx];
        for (pass, pass_name) in ["forward", "backward_input", "backward_weight"]
            .iter()
            .enumerate()
        {
            if !format!("{} {pass_name}", layer.name).contains(&only) {
                continue;
            }
            let run = || {
                let mut enc = Encoder::new(&ctx);
                record(&mut enc, &layer, pass, &tensors)?;
                enc.submit();
                Ok(())
            };
            let yardstick: (f64, &mut dyn FnMut() -> Result<()>) = (best_flops, &mut *best_run);
            let (mut row, ratio) = measure(&ctx, samples, g.flops(), run, Some(yardstick))?;
            total_ms += row.ms;
            total_gpu_ms = total_gpu_ms.zip(row.gpu_ms).map(|(a, b)| a + b);
            total_cpu_ms = total_cpu_ms.zip(row.cpu_ms).map(|(a, b)| a + b);
            (row.layer, row.pass) = (layer.name.to_string(), pass_name.to_string());
            rows.push((row, ratio.expect("a ratio per sample")));
        }
    }
    let floor_row = &matmuls[counted + 1].1;
    let floor_ms = floor_row.gpu_ms.unwrap_or(floor_row.ms);
    for (_, row, _) in matmuls {
        let ratio = gflops(&row) / best_matmul;
        rows.push((row, ratio));
    }
    let or_dash = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
    for (row, ratio) in &rows {
        println!(
            "{:<11} {:<16} {:>10.1} {:>10.2} {:>10} {:>10} {:>10.2} {:>10.2}",
            row.layer,
            row.pass,
            row.flops / 1e6,
            row.ms,
            or_dash(row.cpu_ms),
            or_dash(row.gpu_ms),
            gflops(row),
            ratio
        );
    }
    let cpu = total_cpu_ms.map_or(String::new(), |c| format!(", {c:.1} ms of CPU"));
    let gpu = total_gpu_ms.map_or(String::new(), |g| format!(", {g:.1} ms of GPU"));
    println!("\nsum of convolution medians: {total_ms:.1} ms{cpu}{gpu}");
    println!("best matmul: {best_matmul:.2} GFLOP/s (median of its own samples)");
    let slowest = rows
        .iter()
        .filter(|(row, _)| row.layer != "matmul")
        .map(|(_, ratio)| *ratio)
        .min_by(f64::total_cmp);
    if let Some(slowest) = slowest {
        println!("slowest convolution pass: {slowest:.2} of the matmul run beside it");
    }
    // A pass can take no less than a dispatch of one invocation, so one of
    // F FLOP reaches at most F / floor: below half the best matmul when F
    // is under half the best matmul's FLOP per floor.
    let reach = |flops: f64| flops / floor_ms / 1e6 / best_matmul;
    println!(
        "dispatch floor: one invocation (matmul {}x{}x{}) takes {floor_ms:.3} ms here, so a \
         pass under {:.2} MFLOP cannot reach half the best matmul",
        floor.0,
        floor.1,
        floor.2,
        best_matmul * floor_ms / 2.0,
    );
    for (row, _) in rows.iter().filter(|(row, _)| row.layer != "matmul") {
        if reach(row.flops) < 0.5 {
            println!(
                "  {} {}: {:.2} MFLOP, at most {:.2} of the best matmul",
                row.layer,
                row.pass,
                row.flops / 1e6,
                reach(row.flops)
            );
        }
    }
    if let Some(error) = ctx.take_gpu_error() {
        eprintln!("GPU error during the benchmark: {error}");
        std::process::exit(1);
    }
    Ok(())
}

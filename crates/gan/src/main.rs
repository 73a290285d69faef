//! `webgan`: train the DCGAN of `MODEL.md` natively on the machine's GPU,
//! draw samples from a checkpoint, check one iteration against PyTorch,
//! and time the model.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::time::Instant;

    use anyhow::{bail, Context, Result};
    use clap::{Args, Parser, Subcommand};
    use indicatif::{ProgressBar, ProgressStyle};
    use webgan::data::{bundled_mnist, Dataset};
    use webgan::{picture, GanError, GanLoss, Hyper, ModelConfig, Preset, StepMetrics, Trainer};
    use webgan_tensor::{kernel_shares, Encoder, GpuContext};

    #[derive(Parser)]
    #[command(
        name = "webgan",
        version,
        about = "Train a DCGAN on the GPU (WebGPU kernels, natively)"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Train on MNIST (bundled) or your own images.
        Train(TrainArgs),
        /// Write an 8x8 PNG grid of samples from a checkpoint.
        Sample {
            /// A checkpoint written by `webgan train` or the web page.
            checkpoint: PathBuf,
            /// Output PNG.
            #[arg(long, default_value = "samples.png")]
            out: PathBuf,
            /// Seed of the noise (default: the run's seed).
            #[arg(long)]
            seed: Option<u64>,
        },
        /// Run one iteration from a PyTorch parity fixture and compare.
        Parity {
            /// Fixtures written by tools/pytorch/parity.py.
            #[arg(required = true)]
            fixtures: Vec<PathBuf>,
        },
        /// Time one training iteration per preset on this GPU.
        Bench {
            /// Timed iterations per preset (after warm-up).
            #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
            iterations: u32,
            /// Presets to time (default: all, unless --config is given).
            #[arg(long, value_parser = parse_preset)]
            preset: Vec<Preset>,
            /// Sizes to time as WIDTH:BATCH, the TensorFlow.js peer's way
            /// (nz 64, ngf = ndf = WIDTH); repeat or separate with commas.
            #[arg(long, value_delimiter = ',', value_parser = parse_bench_config)]
            config: Vec<ModelConfig>,
            /// Also print the GPU buffers alive and the process's resident
            /// memory after warm-up and after the last iteration.
            #[arg(long)]
            memory: bool,
            /// Then run as many iterations again with a GPU timestamp around
            /// every kernel and print where the GPU time goes (adapters with
            /// timestamp queries only).
            #[arg(long)]
            kernels: bool,
        },
    }

    fn parse_preset(s: &str) -> std::result::Result<Preset, String> {
        s.parse().map_err(|e: GanError| e.to_string())
    }

    /// `WIDTH:BATCH` as nz 64, ngf = ndf = WIDTH, batch BATCH.
    fn parse_bench_config(s: &str) -> std::result::Result<ModelConfig, String> {
        let bad = || format!("'{s}' is not WIDTH:BATCH (e.g. 16:32)");
        let (width, batch) = s.split_once(':').ok_or_else(bad)?;
        let width = width.trim().parse().map_err(|_| bad())?;
        let config = ModelConfig {
            nz: 64,
            ngf: width,
            ndf: width,
            batch: batch.trim().parse().map_err(|_| bad())?,
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    fn parse_loss(s: &str) -> std::result::Result<GanLoss, String> {
        s.parse().map_err(|e: GanError| e.to_string())
    }

    #[derive(Args)]
    struct TrainArgs {
        /// Model sizes: tiny, standard or large (MODEL.md).
        #[arg(long, default_value = "standard", value_parser = parse_preset)]
        preset: Preset,
        /// Noise length (overrides the preset).
        #[arg(long)]
        nz: Option<usize>,
        /// Generator width (overrides the preset).
        #[arg(long)]
        ngf: Option<usize>,
        /// Discriminator width (overrides the preset).
        #[arg(long)]
        ndf: Option<usize>,
        /// Images per batch (overrides the preset).
        #[arg(long)]
        batch: Option<usize>,
        /// Training iterations to run (with --resume: more after the
        /// checkpoint's).
        #[arg(long, default_value_t = 1000)]
        steps: u64,
        /// Generator learning rate.
        #[arg(long, default_value_t = 2e-4, allow_negative_numbers = true)]
        lr_g: f32,
        /// Discriminator learning rate.
        #[arg(long, default_value_t = 2e-4, allow_negative_numbers = true)]
        lr_d: f32,
        /// Adam's beta1 for both networks.
        #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
        beta1: f32,
        /// non-saturating, minimax or least-squares.
        #[arg(long, default_value = "non-saturating", value_parser = parse_loss)]
        loss: GanLoss,
        /// Discriminator steps per generator step.
        #[arg(long, default_value_t = 1)]
        d_steps: u32,
        /// Seed of the weights, the noise and the data order.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// An MNIST-format IDX image file (.gz or not) or a folder of PNG/JPEG
        /// images; default: the 10,000 bundled MNIST digits.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Folder for samples, metrics.csv, checkpoints and losses.png.
        #[arg(long, default_value = "run")]
        out: PathBuf,
        /// Save a checkpoint every this many steps (0: only at the end).
        #[arg(long, default_value_t = 500)]
        checkpoint_every: u64,
        /// Write a sample grid every this many steps (0: only at the end).
        #[arg(long, default_value_t = 100)]
        sample_every: u64,
        /// Compute the sample-quality figure (MMD) every this many steps.
        #[arg(long, default_value_t = 50)]
        quality_every: u64,
        /// Continue the run saved in this checkpoint (its sizes and settings
        /// win over the options above, except --steps, --data and --out).
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Replace a run already in --out instead of refusing.
        #[arg(long)]
        overwrite: bool,
    }

    pub fn main() -> ExitCode {
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
        let cli = Cli::parse();
        let result = match cli.command {
            Command::Train(args) => train(args),
            Command::Sample {
                checkpoint,
                out,
                seed,
            } => sample(&checkpoint, &out, seed),
            Command::Parity { fixtures } => parity(&fixtures),
            Command::Bench {
                iterations,
                preset,
                config,
                memory,
                kernels,
            } => bench(iterations, &preset, &config, (memory, kernels)),
        };
        match result {
            Ok(code) => code,
            Err(error) => {
                eprintln!("webgan: {}", describe(&error));
                ExitCode::FAILURE
            }
        }
    }

    /// The error and its causes, leaving out a cause whose text the message
    /// before it already contains (our error messages quote their sources).
    fn describe(error: &anyhow::Error) -> String {
        let mut text = String::new();
        for cause in error.chain() {
            let cause = cause.to_string();
            if !text.contains(&cause) {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&cause);
            }
        }
        text
    }

    fn context() -> Result<GpuContext> {
        let ctx = pollster::block_on(GpuContext::new())?;
        eprintln!("GPU: {}", ctx.adapter());
        Ok(ctx)
    }

    fn load_data(path: Option<&Path>) -> Result<Dataset> {
        Ok(match path {
            Some(path) => Dataset::from_path(path)?,
            None => bundled_mnist()?,
        })
    }

    fn write(path: &Path, bytes: &[u8]) -> Result<()> {
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
    }

    fn train(args: TrainArgs) -> Result<ExitCode> {
        let mut config = args.preset.config();
        config.nz = args.nz.unwrap_or(config.nz);
        config.ngf = args.ngf.unwrap_or(config.ngf);
        config.ndf = args.ndf.unwrap_or(config.ndf);
        config.batch = args.batch.unwrap_or(config.batch);
        let hyper = Hyper {
            lr_g: args.lr_g,
            lr_d: args.lr_d,
            beta1: args.beta1,
            d_steps: args.d_steps,
            loss: args.loss,
            ..Hyper::default()
        };
        let data = load_data(args.data.as_deref())?;
        let earlier = ["metrics.csv", "checkpoint.safetensors"].map(|f| args.out.join(f));
        if args.resume.is_none() && !args.overwrite && earlier.iter().any(|p| p.exists()) {
            bail!(
                "{} already holds a run; continue it with --resume {}, write elsewhere with \
                 --out, or replace it with --overwrite",
                args.out.display(),
                earlier[1].display()
            );
        }
        let ctx = context()?;

        let resume = args
            .resume
            .as_ref()
            .map(|p| std::fs::read(p).map(|b| (p, b)));
        let resume = resume
            .transpose()
            .context("cannot read the checkpoint to resume")?;
        let mut trainer = match &resume {
            Some((path, bytes)) => {
                let name = path.display().to_string();
                let info = webgan::checkpoint::Checkpoint::parse(&name, bytes)?.info;
                let mut trainer = Trainer::new(&ctx, info.config, info.hyper, info.seed, data)?;
                trainer.load_checkpoint(&name, bytes)?;
                eprintln!(
                    "resumed {name} at step {}; its sizes, settings and seed are used (the \
                     options for them are ignored)",
                    trainer.step()
                );
                trainer
            }
            None => Trainer::new(&ctx, config, hyper, args.seed, data)?,
        };
        trainer.quality_every = args.quality_every;
        std::fs::create_dir_all(args.out.join("samples"))
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        let config = trainer.config();
        eprintln!(
            "training nz {} ngf {} ndf {} batch {} on {} ({} images), {} steps, loss {}",
            config.nz,
            config.ngf,
            config.ndf,
            config.batch,
            trainer.data().source(),
            trainer.data().len(),
            args.steps,
            trainer.hyper.loss
        );
        let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = interrupted.clone();
        ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
            .context("cannot install the Ctrl-C handler")?;
        let run = TrainRun::new(&args, &trainer, interrupted)?;
        run.go(&mut trainer, &args)
    }

    const CSV_HEADER: &str = "step,loss_d,loss_d_real,loss_d_fake,loss_g,d_x,d_g_z1,d_g_z2,quality";

    fn write_row(csv: &mut impl Write, m: &StepMetrics) -> std::io::Result<()> {
        let quality = m.quality.map(|q| q.to_string()).unwrap_or_default();
        let (step, d, dr, df, g) = (m.step, m.loss_d(), m.loss_d_real, m.loss_d_fake, m.loss_g);
        writeln!(
            csv,
            "{step},{d},{dr},{df},{g},{},{},{},{quality}",
            m.d_x, m.d_g_z1, m.d_g_z2
        )
    }

    /// The rows of an earlier metrics.csv up to `last_step`.
    fn read_history(path: &Path, last_step: u64) -> Result<Vec<StepMetrics>> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut history = Vec::new();
        for (line_number, line) in text.lines().enumerate().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f32>().ok());
            let parsed = (|| {
                Some(StepMetrics {
                    step: fields.first()?.parse().ok()?,
                    loss_d_real: number(2)?,
                    loss_d_fake: number(3)?,
                    loss_g: number(4)?,
                    d_x: number(5)?,
                    d_g_z1: number(6)?,
                    d_g_z2: number(7)?,
                    quality: number(8),
                })
            })();
            let Some(m) = parsed else {
                bail!(
                    "{} line {}: not a webgan metrics row: {line}",
                    path.display(),
                    line_number + 1
                );
            };
            if m.step <= last_step {
                history.push(m);
            }
        }
        Ok(history)
    }

    /// The files of a training run.
    struct TrainRun {
        csv: std::io::BufWriter<std::fs::File>,
        fixed_noise: webgan_tensor::Tensor,
        history: Vec<StepMetrics>,
        /// Set by Ctrl-C: stop after the current step and save.
        interrupted: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl TrainRun {
        fn new(
            args: &TrainArgs,
            trainer: &Trainer,
            interrupted: std::sync::Arc<std::sync::atomic::AtomicBool>,
        ) -> Result<Self> {
            let path = args.out.join("metrics.csv");
            // On resume, the rows up to the checkpoint's step are kept (for
            // the chart too); rows after it belong to steps being redone.
            let history = match args.resume {
                Some(_) if path.exists() => read_history(&path, trainer.step())?,
                _ => Vec::new(),
            };
            let file = std::fs::File::create(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let mut csv = std::io::BufWriter::new(file);
            writeln!(csv, "{CSV_HEADER}")?;
            for m in &history {
                write_row(&mut csv, m)?;
            }
            Ok(Self {
                csv,
                fixed_noise: trainer.fixed_noise(64)?,
                history,
                interrupted,
            })
        }

        fn record(&mut self, metrics: Vec<StepMetrics>) -> Result<()> {
            for m in metrics {
                write_row(&mut self.csv, &m)?;
                self.history.push(m);
            }
            Ok(())
        }

        fn samples(&self, trainer: &mut Trainer, path: &Path) -> Result<()> {
            let ctx = trainer.context().clone();
            let mut enc = Encoder::new(&ctx);
            let images = trainer.record_samples(&mut enc, &self.fixed_noise)?.clone();
            enc.submit();
            let values = pollster::block_on(images.read(&ctx))?;
            write(path, &picture::grid_png(&values, 8)?)
        }

        fn checkpoint(&self, trainer: &Trainer, path: &Path) -> Result<()> {
            let bytes = pollster::block_on(trainer.save_checkpoint())?;
            write(path, &bytes)
        }

        fn go(mut self, trainer: &mut Trainer, args: &TrainArgs) -> Result<ExitCode> {
            let first = trainer.step();
            let last = first + args.steps;
            let bar = ProgressBar::new(args.steps);
            let style = "{bar:30} {pos}/{len} steps  {per_sec}  eta {eta}  {msg}";
            bar.set_style(ProgressStyle::with_template(style).expect("valid template"));
            let start = Instant::now();
            let mut outcome = Ok(());
            while trainer.step() < last {
                if self.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
                    bar.abandon_with_message("interrupted: saving the run");
                    break;
                }
                if let Err(error) = trainer.train_step().and_then(|()| trainer.throttle(4)) {
                    outcome = Err(error);
                    break;
                }
                let step = trainer.step();
                trainer.poll()?;
                let metrics = trainer.take_metrics();
                if let Some(m) = metrics.last() {
                    bar.set_message(format!(
                        "loss_d {:.3} loss_g {:.3} D(x) {:.2} D(G(z)) {:.2}",
                        m.loss_d(),
                        m.loss_g,
                        m.d_x,
                        m.d_g_z2
                    ));
                }
                self.record(metrics)?;
                bar.inc(1);
                if step.is_multiple_of(50) {
                    self.csv.flush()?;
                }
                if bar.is_hidden() && step.is_multiple_of(100) {
                    if let Some(m) = self.history.last() {
                        eprintln!(
                            "step {step}: loss_d {:.3} loss_g {:.3}",
                            m.loss_d(),
                            m.loss_g
                        );
                    }
                }
                if args.sample_every > 0 && step.is_multiple_of(args.sample_every) {
                    self.samples(
                        trainer,
                        &args.out.join(format!("samples/step_{step:06}.png")),
                    )?;
                }
                if args.checkpoint_every > 0 && step.is_multiple_of(args.checkpoint_every) {
                    self.csv.flush()?;
                    self.checkpoint(trainer, &args.out.join("checkpoint.safetensors"))?;
                }
            }
            bar.finish();
            if outcome.is_ok() {
                outcome = pollster::block_on(trainer.flush());
            }
            self.record(trainer.take_metrics())?;
            self.csv.flush()?;
            self.finish(trainer, args, (start, first), outcome)
        }

        fn finish(
            &self,
            trainer: &mut Trainer,
            args: &TrainArgs,
            (start, first): (Instant, u64),
            outcome: webgan::Result<()>,
        ) -> Result<ExitCode> {
            write(
                &args.out.join("losses.png"),
                &picture::loss_chart_png(&self.history)?,
            )?;
            let qualities: Vec<_> = self
                .history
                .iter()
                .filter_map(|m| m.quality.map(|q| (m.step, q)))
                .collect();
            if let (Some(first), Some(last)) = (qualities.first(), qualities.last()) {
                eprintln!(
                    "quality (MMD^2, lower is better): {:.4} at step {} -> {:.4} at step {}",
                    first.1, first.0, last.1, last.0
                );
            }
            match outcome {
                Ok(()) => {
                    let checkpoint = args.out.join("checkpoint.safetensors");
                    self.checkpoint(trainer, &checkpoint)?;
                    self.samples(trainer, &args.out.join("samples/final.png"))?;
                    let (seconds, steps) = (start.elapsed().as_secs_f64(), trainer.step() - first);
                    if self.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
                        eprintln!(
                            "interrupted after step {}; the run is saved in {} (continue it with \
                             --resume {})",
                            trainer.step(),
                            checkpoint.display(),
                            checkpoint.display()
                        );
                        return Ok(ExitCode::from(130));
                    }
                    eprintln!(
                        "done: {steps} steps in {seconds:.1} s ({:.2} steps/s); wrote {}",
                        steps as f64 / seconds,
                        args.out.display()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(GanError::Diverged { step }) => {
                    let path = args.out.join("last_good.safetensors");
                    self.checkpoint(trainer, &path)?;
                    eprintln!(
                        "webgan: a loss became NaN or infinite at step {step}; the state before it is \
                         saved in {} (resume it with a lower learning rate)",
                        path.display()
                    );
                    Ok(ExitCode::from(2))
                }
                Err(error) => {
                    let path = args.out.join("last.safetensors");
                    if self.checkpoint(trainer, &path).is_ok() {
                        eprintln!("saved the run so far in {}", path.display());
                    }
                    bail!(error)
                }
            }
        }
    }

    fn sample(checkpoint: &Path, out: &Path, seed: Option<u64>) -> Result<ExitCode> {
        let bytes = std::fs::read(checkpoint)
            .with_context(|| format!("cannot read {}", checkpoint.display()))?;
        let name = checkpoint.display().to_string();
        let info = webgan::checkpoint::Checkpoint::parse(&name, &bytes)?.info;
        let ctx = context()?;
        let mut trainer = Trainer::new(
            &ctx,
            info.config,
            info.hyper,
            seed.unwrap_or(info.seed),
            bundled_mnist()?,
        )?;
        trainer.load_checkpoint(&name, &bytes)?;
        if let Some(seed) = seed {
            trainer.reseed(seed);
        }
        let noise = trainer.fixed_noise(64)?;
        let mut enc = Encoder::new(&ctx);
        let images = trainer.record_samples(&mut enc, &noise)?.clone();
        enc.submit();
        let values = pollster::block_on(images.read(&ctx))?;
        write(out, &picture::grid_png(&values, 8)?)?;
        eprintln!(
            "wrote {} (step {} of the run)",
            out.display(),
            info.counters.step
        );
        Ok(ExitCode::SUCCESS)
    }

    fn parity(fixtures: &[PathBuf]) -> Result<ExitCode> {
        let ctx = context()?;
        let mut all_ok = true;
        for path in fixtures {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let report = pollster::block_on(webgan::parity::run(
                &ctx,
                &path.display().to_string(),
                &bytes,
            ))?;
            println!("{}", path.display());
            println!(
                "  {:<52} {:>10} {:>10}  limit",
                "tensor or scalar", "max abs", "max rel"
            );
            for c in &report.comparisons {
                let mark = if c.ok { " " } else { "!" };
                println!(
                    "{mark} {:<52} {:>10.2e} {:>10.2e}  {}",
                    c.name, c.max_abs, c.max_rel, c.limit
                );
            }
            let failed = report.comparisons.iter().filter(|c| !c.ok).count();
            println!(
                "  {}: {} compared, {failed} outside their limits\n",
                if failed == 0 { "PASS" } else { "FAIL" },
                report.comparisons.len()
            );
            all_ok &= failed == 0;
        }
        Ok(if all_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    fn bench(
        iterations: u32,
        presets: &[Preset],
        configs: &[ModelConfig],
        (memory, kernels): (bool, bool),
    ) -> Result<ExitCode> {
        let mut models: Vec<(String, ModelConfig)> = presets
            .iter()
            .map(|p| (p.name().to_string(), p.config()))
            .collect();
        models.extend(
            configs
                .iter()
                .map(|c| (format!("ngf=ndf={},batch={}", c.ngf, c.batch), *c)),
        );
        if models.is_empty() {
            models = Preset::ALL
                .iter()
                .map(|p| (p.name().to_string(), p.config()))
                .collect();
        }
        let ctx = context()?;
        println!("median ms per training iteration (MODEL.md), {iterations} timed after 3 warm-up");
        println!(
            "{:<22} {:>6} {:>12} {:>10} {:>10}",
            "model", "batch", "GFLOP/iter", "ms", "GFLOP/s"
        );
        for (name, config) in models {
            let mut trainer = Trainer::new(&ctx, config, Hyper::default(), 1, bundled_mnist()?)?;
            trainer.quality_every = 0;
            let mut times = Vec::new();
            let mut warm = None;
            for i in 0..iterations as usize + 3 {
                if i == 3 && memory {
                    warm = Some((ctx.buffer_stats(), resident_mib()));
                }
                let start = Instant::now();
                trainer.train_step()?;
                trainer.throttle(0)?;
                if i >= 3 {
                    times.push(start.elapsed().as_secs_f64() * 1e3);
                }
            }
            times.sort_by(f64::total_cmp);
            let ms = times[times.len() / 2];
            let gflop = trainer.iteration_flops() / 1e9;
            println!(
                "{:<22} {:>6} {:>12.3} {:>10.1} {:>10.2}",
                name,
                config.batch,
                gflop,
                ms,
                gflop / ms * 1e3
            );
            if let Some((buffers, rss)) = warm {
                pollster::block_on(trainer.flush())?;
                let now = (ctx.buffer_stats(), resident_mib());
                println!("    after warm-up:        {buffers}; {}", rss_text(rss));
                println!(
                    "    after {iterations} more: {}; {}",
                    now.0,
                    rss_text(now.1)
                );
            }
            if kernels {
                kernel_table(&ctx, &mut trainer, iterations as usize, ms)?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Times `iterations` more iterations with a timestamp around every
    /// kernel and prints the slowest (scope, kernel) pairs per iteration.
    fn kernel_table(
        ctx: &GpuContext,
        trainer: &mut Trainer,
        iterations: usize,
        wall_ms: f64,
    ) -> Result<()> {
        const ROWS: usize = 30;
        if !ctx.time_kernels(true) {
            println!("    no per-kernel times: this adapter has no timestamp queries");
            return Ok(());
        }
        for _ in 0..iterations {
            trainer.train_step()?;
            trainer.throttle(0)?;
        }
        pollster::block_on(trainer.flush())?;
        ctx.time_kernels(false);
        let shares = kernel_shares(ctx.wait_kernel_times()?, iterations);
        let gpu_ms: f64 = shares.iter().map(|k| k.ms).sum();
        let dispatches: f64 = shares.iter().map(|k| k.per_iteration).sum();
        println!(
            "    GPU time per iteration, from timestamps around each of its {dispatches:.0} \
             kernels ({iterations} iterations, each kernel in a pass of its own): {gpu_ms:.1} \
             ms of the {wall_ms:.1} ms wall median"
        );
        println!(
            "    {:<16} {:<34} {:>9} {:>9} {:>7}",
            "scope", "kernel", "per iter", "ms", "share"
        );
        for k in shares.iter().take(ROWS) {
            println!(
                "    {:<16} {:<34} {:>9.1} {:>9.2} {:>6.1}%",
                k.scope, k.kernel, k.per_iteration, k.ms, k.share
            );
        }
        if shares.len() > ROWS {
            let rest = &shares[ROWS..];
            println!(
                "    {:<51} {:>9} {:>9.2} {:>6.1}%",
                format!("{} more (scope, kernel) pairs", rest.len()),
                "",
                rest.iter().map(|k| k.ms).sum::<f64>(),
                rest.iter().map(|k| k.share).sum::<f64>()
            );
        }
        Ok(())
    }

    /// The process's resident memory in MiB (Linux only).
    fn resident_mib() -> Option<f64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096.0 / (1 << 20) as f64)
    }

    fn rss_text(rss: Option<f64>) -> String {
        rss.map_or("resident memory unknown".into(), |m| {
            format!("process resident {m:.1} MiB")
        })
    }
}

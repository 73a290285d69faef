//! The `webgan` binary end to end: train, resume, sample, parity, and the
//! errors a user sees for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn webgan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webgan"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the webgan binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// GPU tests skip outside CI when no adapter is found, as the library's do.
fn no_gpu(output: &Output) -> bool {
    let skip =
        text(output).contains("no GPU adapter") && std::env::var("CI").as_deref() != Ok("true");
    if skip {
        eprintln!("skipping: no GPU adapter");
    }
    skip
}

#[test]
fn help_documents_every_train_option() {
    let output = webgan(&["train", "--help"]);
    assert!(output.status.success());
    let help = text(&output);
    for option in [
        "--preset",
        "--nz",
        "--ngf",
        "--ndf",
        "--batch",
        "--steps",
        "--lr-g",
        "--lr-d",
        "--beta1",
        "--loss",
        "--d-steps",
        "--seed",
        "--data",
        "--out",
        "--checkpoint-every",
        "--resume",
    ] {
        assert!(help.contains(option), "train --help lacks {option}");
    }
    for command in ["train", "sample", "parity", "bench"] {
        assert!(
            text(&webgan(&["--help"])).contains(command),
            "--help lacks {command}"
        );
    }
}

#[test]
fn train_resume_and_sample_write_their_files() {
    let out = scratch("cli_run");
    let dir = out.to_str().unwrap();
    let small = [
        "--preset", "tiny", "--batch", "4", "--ngf", "4", "--ndf", "4", "--nz", "8",
    ];
    let mut args = vec![
        "train",
        "--steps",
        "3",
        "--out",
        dir,
        "--sample-every",
        "2",
        "--quality-every",
        "2",
    ];
    args.extend(small);
    let output = webgan(&args);
    if no_gpu(&output) {
        return;
    }
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("GPU: "),
        "names the adapter: {}",
        text(&output)
    );
    for file in [
        "metrics.csv",
        "checkpoint.safetensors",
        "losses.png",
        "samples/step_000002.png",
        "samples/final.png",
    ] {
        assert!(out.join(file).exists(), "train wrote no {file}");
    }
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "a header and 3 steps:\n{csv}");

    let checkpoint = out.join("checkpoint.safetensors");
    let resume = [
        "train",
        "--steps",
        "2",
        "--out",
        dir,
        "--resume",
        checkpoint.to_str().unwrap(),
    ];
    let output = webgan(&resume);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("at step 3"), "{}", text(&output));
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(
        csv.lines().last().unwrap().split(',').next(),
        Some("5"),
        "appended steps 4 and 5"
    );

    let grid = out.join("grid.png");
    let output = webgan(&[
        "sample",
        checkpoint.to_str().unwrap(),
        "--out",
        grid.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(std::fs::read(&grid).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn parity_passes_on_a_committed_fixture() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/parity_small.safetensors"
    );
    let output = webgan(&["parity", fixture]);
    if no_gpu(&output) {
        return;
    }
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("PASS: 57 compared, 0 outside their limits"),
        "{}",
        text(&output)
    );
}

#[test]
fn bad_input_is_named_with_what_to_do() {
    let output = webgan(&["train", "--preset", "huge"]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("tiny, standard or large"),
        "{}",
        text(&output)
    );

    let missing = webgan(&["train", "--data", "/nonexistent/digits.idx", "--steps", "1"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("/nonexistent/digits.idx"),
        "{}",
        text(&missing)
    );

    let garbage = scratch("cli_garbage");
    std::fs::create_dir_all(&garbage).unwrap();
    let file = garbage.join("not_a_checkpoint.safetensors");
    std::fs::write(&file, b"garbage").unwrap();
    let output = webgan(&["sample", file.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("not_a_checkpoint.safetensors"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_run_is_never_overwritten_silently_and_ctrl_c_saves_it() {
    let out = scratch("cli_guard");
    let dir = out.to_str().unwrap();
    let small = [
        "--preset", "tiny", "--batch", "4", "--ngf", "4", "--ndf", "4", "--nz", "8",
    ];
    let mut first = vec!["train", "--steps", "2", "--out", dir, "--sample-every", "0"];
    first.extend(small);
    let output = webgan(&first);
    if no_gpu(&output) {
        return;
    }
    assert!(output.status.success(), "{}", text(&output));
    let again = webgan(&first);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("already holds a run") && text(&again).contains("--resume"),
        "{}",
        text(&again)
    );

    // Ctrl-C in the middle of a long run: the metrics so far and a
    // checkpoint are saved, and the exit code says it was interrupted.
    let mut long = vec![
        "train",
        "--steps",
        "100000",
        "--out",
        dir,
        "--overwrite",
        "--sample-every",
        "0",
    ];
    long.extend(small);
    // The first run left 3 lines in metrics.csv: without removing them the
    // wait below ended at once and the signal arrived before the handler.
    std::fs::remove_file(out.join("metrics.csv")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_webgan"))
        .args(&long)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once a few steps are on disk: a fixed sleep raced the
    // adapter and pipeline start-up on a busy machine.
    let started = std::time::Instant::now();
    while std::fs::read_to_string(out.join("metrics.csv")).map_or(0, |csv| csv.lines().count()) < 3
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "no steps written in 300 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", text(&output));
    assert!(
        text(&output).contains("interrupted after step"),
        "{}",
        text(&output)
    );
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(csv.lines().count() > 2, "metrics kept:\n{csv}");
    assert!(out.join("checkpoint.safetensors").exists());
}

#[test]
fn bench_prints_its_row_and_the_per_kernel_table() {
    let output = webgan(&["bench", "--config", "4:4", "--iterations", "2", "--kernels"]);
    if no_gpu(&output) {
        return;
    }
    assert!(output.status.success(), "{}", text(&output));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("ngf=ndf=4,batch=4"), "the model's row:\n{out}");
    if out.contains("no per-kernel times") {
        return;
    }
    // Every layer of both networks has its scope; the convolutions'
    // weight gradients and the Adam steps appear among the rows.
    assert!(out.contains("GPU time per iteration"), "{out}");
    for row in ["conv2d_backward_weight", "adam"] {
        assert!(out.contains(row), "no {row} row:\n{out}");
    }
    let shares: f64 = out
        .lines()
        .filter_map(|l| l.trim_end().strip_suffix('%'))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum();
    assert!(
        (shares - 100.0).abs() < 1.0,
        "shares add up to {shares}%:\n{out}"
    );
}

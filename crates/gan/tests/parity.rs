//! One training iteration against PyTorch on every committed fixture
//! (`tools/pytorch/parity.py` wrote them).

mod common;

use webgan::parity;

fn check(name: &str, bytes: &[u8]) {
    let Some(ctx) = common::gpu() else { return };
    let report = pollster::block_on(parity::run(ctx, name, bytes)).expect("parity run");
    let failures: Vec<String> = report
        .comparisons
        .iter()
        .filter(|c| !c.ok)
        .map(|c| {
            format!(
                "{}: max abs {:.3e}, max rel {:.3e}, limit {}",
                c.name, c.max_abs, c.max_rel, c.limit
            )
        })
        .collect();
    assert!(
        report.comparisons.len() > 50,
        "{name}: only {} comparisons",
        report.comparisons.len()
    );
    assert!(
        failures.is_empty(),
        "{name}: {} outside their limits:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn parity_small() {
    check(
        "parity_small",
        include_bytes!("fixtures/parity_small.safetensors"),
    );
}

#[test]
fn parity_medium() {
    check(
        "parity_medium",
        include_bytes!("fixtures/parity_medium.safetensors"),
    );
}

#[test]
fn parity_wide() {
    check(
        "parity_wide",
        include_bytes!("fixtures/parity_wide.safetensors"),
    );
}

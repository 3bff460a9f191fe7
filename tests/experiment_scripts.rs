//! The `--quick` forms of the experiment scripts (scripts/*.sh) run end to end against the
//! built binary, and their headline numbers hold: these are the figures docs/results.md
//! reports at full size.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{json, manifest_dir};

/// Runs `scripts/NAME.sh --quick` with its outputs in a fresh temporary folder.
fn run_quick(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(name);
    let script = manifest_dir().join("scripts").join(format!("{name}.sh"));
    let output = Command::new("bash")
        .arg(&script)
        .arg("--quick")
        .env("SCORELAB_BIN", env!("CARGO_BIN_EXE_scorelab"))
        .env("OUT", &out)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{name}.sh --quick failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (dir, out)
}

/// Rows of a CSV table as maps from column name to cell.
fn table(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.split(',').map(String::from))
                .collect()
        })
        .collect()
}

fn number(row: &std::collections::HashMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap()
}

/// Experiment 3: the dense ("true") score's samples approach the curve as t_min falls, and
/// near the limit the empirical score of 40 points copies them far more often.
#[test]
fn lemniscate_quick() {
    let (_dir, out) = run_quick("lemniscate");
    let rows = table(&out.join("table.csv"));
    assert_eq!(rows.len(), 8);
    let row = |label: &str| {
        rows.iter()
            .find(|r| r["label"] == label)
            .unwrap_or_else(|| panic!("no row {label}"))
    };
    let true_far = number(
        row("true score (n = 50000) t_min 0.1"),
        "mean_distance_to_curve",
    );
    let true_near = number(
        row("true score (n = 50000) t_min 0.001"),
        "mean_distance_to_curve",
    );
    assert!(true_near < 0.5 * true_far, "{true_near} vs {true_far}");
    let copied = number(
        row("empirical score (n = 40) t_min 0.00001"),
        "memorised_fraction",
    );
    let dense = number(
        row("true score (n = 50000) t_min 0.00001"),
        "memorised_fraction",
    );
    assert!(copied > 0.5 && copied > dense + 0.3, "{copied} vs {dense}");
    assert!(out.join("empirical-tmin0.00001/paths.png").exists());
}

/// Experiment 4: the two-Dirac flow ends on the Diracs and imitates at rate ½.
#[test]
fn two_diracs_quick() {
    let (_dir, out) = run_quick("two-diracs");
    let memorised = json(&out.join("flow-memorization/memorization.json"))["memorization"]
        ["samples"]["memorised_fraction"]
        .as_f64()
        .unwrap();
    assert_eq!(memorised, 1.0);
    let slope = json(&out.join("rate/rate.json"))["report"]["slope"]
        .as_f64()
        .unwrap();
    assert!((slope - 0.5).abs() < 0.05, "{slope}");
    assert!(out.join("flow/paths.png").exists());
}

/// Experiment 5: with or without the perturbation, samples of the 9-point empirical score land
/// on training points.
#[test]
fn perturbed_circle_quick() {
    let (_dir, out) = run_quick("perturbed-circle");
    for run in ["k9-e0_0", "k9-e0.3_0"] {
        let report = json(&out.join(format!("{run}-memorization/memorization.json")));
        let memorised = report["memorization"]["samples"]["memorised_fraction"]
            .as_f64()
            .unwrap();
        assert!(memorised > 0.95, "{run}: {memorised}");
    }
    assert!(out.join("k256-e0.3_0.png").exists());
}

/// Experiment 9: every path ends in a cell, and the deterministic flow keeps more paths in
/// their starting cell than the stochastic run does.
#[test]
fn voronoi_quick() {
    let (_dir, out) = run_quick("voronoi");
    let report = |name: &str| json(&out.join(name).join("cells.json"))["report"].clone();
    let (sde, ode) = (report("sde"), report("ode"));
    for r in [&sde, &ode] {
        let shares = r["in_final_cell"].as_array().unwrap();
        assert_eq!(shares.last().unwrap().as_f64(), Some(1.0));
    }
    let kept = |r: &serde_json::Value| r["start_cell_is_final"].as_f64().unwrap();
    assert!(kept(&ode) > kept(&sde), "{} vs {}", kept(&ode), kept(&sde));
}

/// Equal-NFE sampling on the Swiss roll: every sampler spends exactly its budget (the summary's
/// evaluation count) and lands on the spiral's scale (sliced W2 to fresh data below 1, the
/// data's own radius being about 1.4).
#[test]
fn nfe_swissroll_quick() {
    let (_dir, out) = run_quick("nfe-swissroll");
    let rows = table(&out.join("nfe.csv"));
    // seven samplers at two budgets
    assert_eq!(rows.len(), 14);
    for row in &rows {
        let run = out.join(format!("{}-{}", row["sampler"], row["nfe"]));
        let summary = json(&run.join("summary.json"));
        let spent = summary["results"]["score_evaluations_per_sample"]
            .as_u64()
            .unwrap();
        let budget: u64 = row["nfe"].parse().unwrap();
        assert!(spent <= budget && spent + 2 >= budget, "{row:?}: {spent}");
        assert!(number(row, "sliced_w2_to_fresh") < 1.0, "{row:?}");
    }
}

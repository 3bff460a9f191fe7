//! End-to-end tests of `scorelab train` and of sampling from its checkpoints.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{flip_last_bit, json, scorelab, stderr};

/// A small, fast training configuration.
const SMALL: &str =
    "train --dataset swissroll --n-train 200 --width 32 --depth 2 --embedding 8 --batch-size 64 --seed 3";

fn train(extra: &str, out: &Path) -> Output {
    let mut args: Vec<&str> = SMALL.split_whitespace().collect();
    args.extend(extra.split_whitespace());
    args.extend(["--out", out.to_str().unwrap()]);
    scorelab(&args)
}

fn sample_from(checkpoint: &Path, sampler: &str, out: &Path) -> Output {
    scorelab(&[
        "sample",
        "--score",
        "checkpoint",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--sampler",
        sampler,
        "--n",
        "50",
        "--steps",
        "40",
        "--seed",
        "5",
        "--out",
        out.to_str().unwrap(),
        "--force",
    ])
}

fn meta(ckpt: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(ckpt.join("meta.json")).unwrap()).unwrap()
}

#[test]
fn train_then_sample_with_every_sampler() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let output = train(
        "--steps 60 --checkpoint-every 20 --keep 2 --log-every 5",
        &run,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(run.join("ckpt-00000060").join("model.bpk").exists());
    assert!(run.join("ckpt-00000040").exists() && !run.join("ckpt-00000020").exists());
    let log = fs::read_to_string(run.join("log.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 12);
    assert!(log.starts_with("step,loss,"));
    // the loss curve beside the log: a 900-pixel-wide plot with its legend below
    let loss = image::open(run.join("loss.png")).unwrap();
    assert_eq!(loss.width(), 900);
    let m = meta(&run.join("ckpt-00000060"));
    assert_eq!(m["format"], "scorelab-checkpoint");
    assert_eq!(m["step"], 60);
    assert_eq!(m["train"]["model"]["kind"], "mlp");
    assert_eq!(m["train"]["parameterisation"], "eps");
    assert_eq!(m["sde"]["name"], "vp");
    assert_eq!(m["data"]["n"], 200);
    assert_eq!(m["data"]["sha256"].as_str().unwrap().len(), 64);

    for sampler in ["em", "pc", "ode-euler", "ode-heun", "ode-rk4", "exp"] {
        let out = dir.path().join(sampler);
        let output = sample_from(&run, sampler, &out);
        assert!(output.status.success(), "{sampler}: {}", stderr(&output));
        let summary: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["results"]["samples_kept"], 50, "{sampler}");
    }
}

/// EDM's recipe end to end: the checkpoint stores σ_data (the root mean square of the training
/// coordinates: Swiss-roll points have radius t/7 ∈ [0.67, 2.02], so it lies in
/// [0.67, 2.02]/√2 = [0.47, 1.43]), the weighting and the log-normal times, and its score
/// samples with edm at a budget of 21 evaluations (10 Heun steps and the Tweedie step).
#[test]
fn edm_recipe_trains_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let output = train(
        "--steps 20 --param edm --weighting edm --t-sampling log-normal --p-mean -1 --p-std 1.5",
        &run,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let m = meta(&run.join("ckpt-00000020"));
    let sigma_data = m["train"]["parameterisation"]["edm"]["sigma_data"]
        .as_f64()
        .unwrap();
    assert_eq!(
        m["train"]["loss"]["weighting"]["edm"]["sigma_data"].as_f64(),
        Some(sigma_data)
    );
    assert_eq!(m["train"]["loss"]["time_sampling"]["kind"], "log-normal");
    assert_eq!(m["train"]["loss"]["time_sampling"]["mean"], -1.0);
    assert_eq!(m["train"]["loss"]["time_sampling"]["std"], 1.5);
    assert!(
        sigma_data > 0.47 && sigma_data < 1.43,
        "σ_data {sigma_data}"
    );
    let dump = dir.path().join("points");
    let output = scorelab(&[
        "sample",
        "--checkpoint",
        run.to_str().unwrap(),
        "--sampler",
        "edm",
        "--nfe",
        "21",
        "--denoise",
        "--n",
        "20",
        "--out",
        dump.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = json(&dump.join("summary.json"));
    assert_eq!(summary["results"]["score_evaluations_per_sample"], 21);
    assert_eq!(summary["sampler"]["steps"], 10);
}

#[test]
fn config_file_values_apply_and_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("run.toml");
    fs::write(
        &toml,
        "steps = 30\nloss = \"ssm\"\nprojections = 2\nbatch_size = 32\nresidual = true\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    let output = train(&format!("--config {} --steps 12", toml.display()), &run);
    assert!(output.status.success(), "{}", stderr(&output));
    let m = meta(&run.join("ckpt-00000012"));
    assert_eq!(m["train"]["loss"]["kind"], "ssm");
    assert_eq!(m["train"]["loss"]["projections"], 2);
    assert_eq!(m["train"]["model"]["residual"], true);
    // --batch-size 64 on the command line wins over the file's 32
    assert_eq!(m["train"]["batch_size"], 64);

    let json = dir.path().join("run.json");
    fs::write(&json, r#"{"steps": 7, "penalty": "li-yau", "gamma": 0.5}"#).unwrap();
    let run = dir.path().join("run-json");
    let output = train(&format!("--config {}", json.display()), &run);
    assert!(output.status.success(), "{}", stderr(&output));
    let m = meta(&run.join("ckpt-00000007"));
    assert_eq!(m["train"]["loss"]["penalty"], "li-yau");

    fs::write(&json, r#"{"stepz": 7}"#).unwrap();
    let output = train(
        &format!("--config {}", json.display()),
        &dir.path().join("bad"),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("'stepz' is not an option"),
        "{}",
        stderr(&output)
    );
}

/// Samples of a run folder's newest checkpoint (fixed seed), as raw .npy bytes.
fn samples_of(run: &Path, scratch: &Path) -> Vec<u8> {
    let output = sample_from(run, "em", scratch);
    assert!(output.status.success(), "{}", stderr(&output));
    fs::read(scratch.join("samples.npy")).unwrap()
}

#[test]
fn resume_continues_exactly_and_checks_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let straight = dir.path().join("straight");
    assert!(train("--steps 30", &straight).status.success());

    let split = dir.path().join("split");
    assert!(train("--steps 12", &split).status.success());
    let output = scorelab(&[
        "train",
        "--resume",
        "--steps",
        "30",
        "--out",
        split.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        samples_of(&straight, &dir.path().join("a")),
        samples_of(&split, &dir.path().join("b"))
    );
    // the same log, plus the line the first part wrote at its last step (12)
    let split_log: Vec<String> = fs::read_to_string(split.join("log.csv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("12,"))
        .map(String::from)
        .collect();
    let straight_log: Vec<String> = fs::read_to_string(straight.join("log.csv"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(straight_log, split_log);

    let output = scorelab(&[
        "train",
        "--resume",
        "--lr",
        "0.1",
        "--out",
        split.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--lr cannot be given with --resume"),
        "{}",
        stderr(&output)
    );
    // a fresh run refuses the occupied folder
    let output = train("--steps 5", &split);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--resume"), "{}", stderr(&output));
}

#[test]
fn bad_training_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    for (extra, code, needle) in [
        ("--loss foo", 2, "unknown loss 'foo'"),
        ("--penalty full", 2, "gamma"),
        ("--gamma 0.5", 2, "--penalty"),
        ("--parameterisation noise", 2, "unknown parameterisation"),
        ("--model resnet", 2, "unknown model"),
        ("--batch-size 0", 2, "batch-size"),
        ("--embedding 7", 2, "embedding"),
        ("--t-eps 2", 2, "t-eps"),
        ("--ema-decay 1", 2, "ema-decay"),
        ("--device tpu", 2, "device"),
    ] {
        let output = train(&format!("--steps 3 {extra}"), &out);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{extra}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(needle),
            "{extra}: {}",
            stderr(&output)
        );
        assert!(
            !out.exists(),
            "{extra}: nothing is written for a bad command"
        );
    }
    let output = scorelab(&[
        "sample",
        "--score",
        "checkpoint",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--checkpoint"));
    let missing = dir.path().join("nowhere");
    let output = sample_from(&missing, "em", &out);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("nowhere"), "{}", stderr(&output));
}

/// SIGINT (Ctrl-C) or SIGTERM during training writes a checkpoint and exits with 130; resuming
/// to the same total gives exactly the samples of an uninterrupted run.
#[cfg(unix)]
#[test]
fn interrupted_training_checkpoints_and_resumes_exactly() {
    interrupt_and_resume(libc::SIGINT);
    interrupt_and_resume(libc::SIGTERM);
}

#[cfg(unix)]
fn interrupt_and_resume(signal: libc::c_int) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut args: Vec<String> = SMALL.split_whitespace().map(String::from).collect();
    args.extend(
        [
            "--steps",
            "1000000",
            "--checkpoint-every",
            "0",
            "--log-every",
            "1",
            "--out",
        ]
        .map(String::from),
    );
    args.push(run.to_str().unwrap().to_string());
    let child = Command::new(env!("CARGO_BIN_EXE_scorelab"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // wait until training has taken a few steps
    let started = Instant::now();
    loop {
        let lines = fs::read_to_string(run.join("log.csv"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines > 1 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signals our own child process, which is still running.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("interrupted at step"),
        "{}",
        stderr(&output)
    );
    let ckpt = fs::read_dir(&run)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("ckpt-"))
        .expect("a checkpoint was written")
        .path();
    let step = meta(&ckpt)["step"].as_u64().unwrap();
    assert!(step >= 1);
    assert!(
        run.join("loss.png").exists(),
        "an interrupted run draws its loss too"
    );

    let total = (step + 5).to_string();
    let output = scorelab(&[
        "train",
        "--resume",
        "--steps",
        &total,
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let straight = dir.path().join("straight");
    assert!(train(&format!("--steps {total}"), &straight)
        .status
        .success());
    assert_eq!(
        samples_of(&straight, &dir.path().join("a")),
        samples_of(&run, &dir.path().join("b"))
    );
}

#[test]
fn unet_trains_on_mnist_and_samples_an_image_grid() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("unet");
    let output = scorelab(&[
        "train",
        "--dataset",
        "mnist",
        "--n-train",
        "64",
        "--model",
        "unet",
        "--preset",
        "tiny",
        "--channels",
        "8",
        "--loss",
        "ssm",
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let m = meta(&run.join("ckpt-00000003"));
    assert_eq!(m["train"]["model"]["kind"], "unet");
    assert_eq!(m["train"]["model"]["channels"], 8);
    assert_eq!(m["data"]["normalisation"]["scale"], 0.5);
    let out = dir.path().join("samples");
    let output = scorelab(&[
        "sample",
        "--score",
        "checkpoint",
        "--checkpoint",
        run.to_str().unwrap(),
        "--n",
        "4",
        "--steps",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out.join("samples.png").exists());
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["dataset"]["dim"], 784);

    for (args, needle) in [
        ("--dataset swissroll --model unet", "needs image data"),
        (
            "--dataset mnist --n-train 64 --model unet --loss hyvarinen",
            "use --loss ssm",
        ),
        (
            "--dataset mnist --n-train 64 --model unet --preset huge",
            "unknown U-Net preset",
        ),
    ] {
        let mut full: Vec<&str> = vec!["train", "--steps", "2"];
        full.extend(args.split_whitespace());
        let bad = dir.path().join("bad");
        full.extend(["--out", bad.to_str().unwrap()]);
        let output = scorelab(&full);
        assert_eq!(output.status.code(), Some(2), "{args}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(needle),
            "{args}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn training_benchmarks_print_one_json_line_each() {
    for (args, workload) in [
        (
            vec!["bench", "w1", "--reps", "1", "--train-steps", "2"],
            "W1",
        ),
        (
            vec!["bench", "w2", "--samples", "10", "--sample-steps", "3"],
            "W2",
        ),
        (
            vec!["bench", "w5", "--reps", "1", "--unet-steps", "1"],
            "W5",
        ),
    ] {
        let output = scorelab(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let line: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
        assert_eq!(line["workload"], workload);
        if workload == "W5" {
            // the tiny U-Net that the PyTorch twin (scripts/peer/unet_train.py) matches
            assert_eq!(line["params"], 196_465);
            assert_eq!(line["batch"], 64);
            assert_eq!(line["loss_finite"], true);
        }
    }
}

/// `sample --step` picks a checkpoint of a run folder and the summary records which one, with
/// the weights and the command line; `train --resume-from` continues from a chosen step; a
/// damaged newest checkpoint is passed over with a warning.
#[test]
fn checkpoints_are_chosen_by_step_and_damaged_ones_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let flags = "train --n-train 100 --width 16 --depth 1 --embedding 4 --batch-size 8 --steps 6 --checkpoint-every 2 --keep 3";
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.extend(["--out", run_dir.to_str().unwrap()]);
    let output = scorelab(&args);
    assert!(output.status.success(), "{}", stderr(&output));

    let out = dir.path().join("s");
    let output = scorelab(&[
        "sample",
        "--score",
        "checkpoint",
        "--checkpoint",
        run_dir.to_str().unwrap(),
        "--step",
        "4",
        "--weights",
        "raw",
        "--n",
        "10",
        "--steps",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = json(&out.join("summary.json"));
    assert!(summary["checkpoint_resolved"]
        .as_str()
        .unwrap()
        .ends_with("ckpt-00000004"));
    assert_eq!(summary["weights"], "raw");
    assert!(summary["command_line"]
        .as_str()
        .unwrap()
        .contains("--step 4"));

    // damage the newest checkpoint's EMA weights: sampling uses step 4 and says so
    flip_last_bit(&run_dir.join("ckpt-00000006/model.bpk"));
    let out = dir.path().join("s2");
    let output = scorelab(&[
        "sample",
        "--score",
        "checkpoint",
        "--checkpoint",
        run_dir.to_str().unwrap(),
        "--n",
        "10",
        "--steps",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let warning = stderr(&output);
    assert!(
        warning.contains("passing over") && warning.contains("ckpt-00000006"),
        "{warning}"
    );
    let summary = json(&out.join("summary.json"));
    assert!(summary["checkpoint_resolved"]
        .as_str()
        .unwrap()
        .ends_with("ckpt-00000004"));

    // resume from step 2 up to step 8
    let output = scorelab(&[
        "train",
        "--resume",
        "--resume-from",
        "2",
        "--steps",
        "8",
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let newest = json(&run_dir.join("ckpt-00000008/meta.json"));
    assert_eq!(newest["step"], 8);
}

/// `scorelab inspect` shows a run folder on one screen: the newest checkpoint and the others,
/// the last logged loss, the EMA's age (young here, with the hint), the digests and commands.
#[test]
fn inspect_shows_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let flags = "train --n-train 100 --width 16 --depth 1 --embedding 4 --batch-size 8 --steps 4 --checkpoint-every 2 --log-every 1";
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.extend(["--out", run_dir.to_str().unwrap()]);
    assert!(scorelab(&args).status.success());
    let output = scorelab(&["inspect", run_dir.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    for expected in [
        "ckpt-00000004",
        "steps 2, 4",
        "last log",
        "kind mlp",
        "name vp",
        "4 of 4",
        "try --weights raw",
        "model.bpk ok",
        "weights.bpk ok",
        "scorelab train --n-train 100",
    ] {
        assert!(text.contains(expected), "missing '{expected}' in:\n{text}");
    }
}

/// `--checkpoint` alone means `--score checkpoint`; data and SDE flags it overrides are named in
/// a warning, and so is an EMA younger than 3/(1 − decay) steps, with the hint --weights raw.
#[test]
fn checkpoint_flag_implies_the_score_and_warns_about_what_it_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let flags = "train --n-train 100 --width 16 --depth 1 --embedding 4 --batch-size 8 --steps 2";
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.extend(["--out", run_dir.to_str().unwrap()]);
    assert!(scorelab(&args).status.success());
    let out = dir.path().join("s");
    let output = scorelab(&[
        "sample",
        "--checkpoint",
        run_dir.to_str().unwrap(),
        "--sde",
        "ve",
        "--n",
        "5",
        "--steps",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let warnings = stderr(&output);
    assert!(warnings.contains("--sde ignored"), "{warnings}");
    assert!(warnings.contains("--weights raw"), "{warnings}");
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["score"], "checkpoint");
    assert_eq!(summary["sde"]["name"], "vp");
}

/// The log of a run folder as (step, loss, grad_norm) rows.
fn log_rows(run: &Path) -> Vec<(u64, f64, f64)> {
    fs::read_to_string(run.join("log.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (
                cells[0].parse().unwrap(),
                cells[1].parse().unwrap(),
                cells[4].parse().unwrap(),
            )
        })
        .collect()
}

/// `train --devices` splits each batch over replicas: the log matches one device within
/// float32 rounding (relative 1e-5, see crates/train/tests/multi_device.rs), the run resumes
/// on another number of devices, and bad lists are usage errors that name the entry.
#[test]
fn training_on_a_device_list_matches_one_device_and_resumes_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    assert!(train("--steps 12 --log-every 1", &one).status.success());
    let two = dir.path().join("two");
    let output = train("--steps 6 --log-every 1 --devices cpu:0,cpu:1", &two);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("on cpu:0,cpu:1"),
        "{}",
        stderr(&output)
    );
    let output = scorelab(&[
        "train",
        "--resume",
        "--steps",
        "12",
        "--devices",
        "cpu:0,cpu:1,cpu:2",
        "--out",
        two.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (a, b) = (log_rows(&one), log_rows(&two));
    assert_eq!(a.len(), 12);
    let steps: Vec<u64> = b.iter().map(|r| r.0).collect();
    assert_eq!(steps, (1..=12).collect::<Vec<_>>(), "one line per step");
    for (x, y) in a.iter().zip(&b) {
        for (p, q) in [(x.1, y.1), (x.2, y.2)] {
            assert!(
                (p - q).abs() <= 1e-5 * p.abs().max(q.abs()),
                "{x:?} vs {y:?}"
            );
        }
    }
    for (list, expected) in [
        ("tpu:0", "tpu"),
        ("cpu:0,wgpu:0", "mixes backends"),
        ("node1/cpu:0", "docs/scale.md"),
    ] {
        let output = train(&format!("--steps 2 --devices {list} --force"), &one);
        assert_eq!(output.status.code(), Some(2), "{list}");
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
    }
    let output = train("--steps 2 --devices cpu:0 --device cpu --force", &one);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--device"), "{}", stderr(&output));
}

/// A float32 .npy file as training data trains like the same points from a CSV file.
#[test]
fn a_npy_training_set_trains_like_the_same_csv() {
    let dir = tempfile::tempdir().unwrap();
    let points: Vec<f32> = (0..400)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let npy = dir.path().join("train.npy");
    fs::write(
        &npy,
        scorelab_core::datasets::encode_npy(&[200, 2], &points).unwrap(),
    )
    .unwrap();
    let csv = dir.path().join("train.csv");
    let mut text = String::from("x0,x1\n");
    for row in points.chunks(2) {
        text.push_str(&format!("{},{}\n", row[0], row[1]));
    }
    fs::write(&csv, text).unwrap();
    let mut logs = Vec::new();
    for (name, file) in [("npy", &npy), ("csv", &csv)] {
        let out = dir.path().join(name);
        let output = scorelab(&[
            "train",
            "--dataset",
            "csv",
            "--data-file",
            file.to_str().unwrap(),
            "--width",
            "16",
            "--depth",
            "2",
            "--embedding",
            "8",
            "--batch-size",
            "32",
            "--steps",
            "5",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        logs.push(fs::read_to_string(out.join("log.csv")).unwrap());
    }
    assert_eq!(logs[0], logs[1]);
}

//! End-to-end tests of `scorelab sample`.

use std::path::Path;

mod common;

use common::{scorelab, stderr};

/// The shape stored in a .npy header.
fn npy_shape(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    npy.shape().to_vec()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn swissroll_sampling_writes_samples_summary_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = |out: &Path| {
        let flags = "sample --dataset swissroll --n-train 50 --n 300 --steps 300 --sde ve --t-min 1e-4 --seed 1";
        let mut args: Vec<&str> = flags.split_whitespace().collect();
        args.extend(["--out", out.to_str().unwrap()]);
        scorelab(&args)
    };
    let output = run(&out);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(npy_shape(&out.join("samples.npy")), vec![300, 2]);
    let csv = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    assert_eq!(csv.lines().count(), 301);
    let png = image::open(out.join("samples.png")).unwrap();
    // an 800×800 plot area with the legend strip below it
    assert_eq!(png.width(), 800);
    assert!((820..900).contains(&png.height()), "{}", png.height());
    let s = summary(&out);
    assert_eq!(s["sampler"]["steps"], 300);
    assert_eq!(s["sde"]["name"], "ve");
    assert_eq!(s["dataset"]["n_train"], 50);
    let on_point = s["results"]["fraction_within_1e-2_of_a_training_point"]
        .as_f64()
        .unwrap();
    assert!(on_point > 0.95, "{on_point}");

    // Same seed, same samples.
    let again = dir.path().join("again");
    assert!(run(&again).status.success());
    assert_eq!(
        std::fs::read(out.join("samples.npy")).unwrap(),
        std::fs::read(again.join("samples.npy")).unwrap()
    );

    // The folder now exists: refused without --force, accepted with it.
    let args = [
        "sample",
        "--n",
        "10",
        "--steps",
        "10",
        "--out",
        out.to_str().unwrap(),
    ];
    let refused = scorelab(&args);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    let mut forced = args.to_vec();
    forced.push("--force");
    assert!(scorelab(&forced).status.success());
}

#[test]
fn mnist_subset_sampling_writes_an_image_grid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mnist");
    let output = scorelab(&[
        "sample",
        "--dataset",
        "mnist",
        "--n-train",
        "100",
        "--n",
        "16",
        "--steps",
        "30",
        "--sampler",
        "exp",
        "--t-min",
        "1e-3",
        "--record",
        "0.5,0.01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(npy_shape(&out.join("samples.npy")), vec![16, 1, 28, 28]);
    assert_eq!(npy_shape(&out.join("path.npy")), vec![2, 16, 784]);
    let png = image::open(out.join("samples.png")).unwrap();
    // a caption line over two rows of eight 56-pixel images, 2 pixels apart
    assert!(png.width() >= 8 * 58, "{}", png.width());
    assert_eq!(png.height(), 30 + 2 * 58 + 2);
    let s = summary(&out);
    assert_eq!(s["dataset"]["n_train"], 100);
    assert!(
        s["results"]["mean_distance_to_nearest_training_point"]
            .as_f64()
            .unwrap()
            < 1.0
    );
}

#[test]
fn bad_flag_values_fail_with_a_message_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 11] = [
        (
            &["sample", "--sampler", "leapfrog", "--out", out],
            "unknown sampler 'leapfrog'",
        ),
        (
            &["sample", "--dataset", "cifar", "--out", out],
            "unknown dataset 'cifar'",
        ),
        (&["sample", "--sde", "vq", "--out", out], "unknown SDE 'vq'"),
        (&["sample", "--steps", "0", "--out", out], "steps"),
        (&["sample", "--t-min", "0", "--out", out], "t-min"),
        (&["sample", "--t-min", "2", "--out", out], "t-min"),
        (
            &["sample", "--steps", "ten", "--out", out],
            "invalid value 'ten'",
        ),
        (
            &[
                "sample",
                "--sde",
                "ve",
                "--sigma-min",
                "5",
                "--sigma-max",
                "1",
                "--out",
                out,
            ],
            "sigma-min",
        ),
        (
            &["sample", "--device", "tpu", "--out", out],
            "unknown device 'tpu'",
        ),
        (
            &["sample", "--score", "learned", "--out", out],
            "unknown score 'learned'",
        ),
        (
            &["sample", "--perturb", "0.3,x", "--out", out],
            "--perturb: 'x' is not a number",
        ),
    ];
    for (args, expected) in cases {
        let output = scorelab(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{message}");
    }
    // A perturbation of the wrong length is caught before anything is written too.
    let output = scorelab(&["sample", "--perturb", "0.3", "--out", out]);
    assert!(
        stderr(&output).contains("--perturb has 1 entries"),
        "{}",
        stderr(&output)
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        !Path::new(out).exists(),
        "nothing is written when the arguments are wrong"
    );
}

#[test]
fn missing_data_file_is_a_runtime_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = scorelab(&[
        "sample",
        "--dataset",
        "csv",
        "--data-file",
        "/nonexistent/points.csv",
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("/nonexistent/points.csv"),
        "{}",
        stderr(&output)
    );
}

fn npy_values(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap()
}

/// MNIST samples of the empirical score stopped at t_min without denoising carry the noise
/// σ(t_min) around pixel values 0 and 1, so many pixels leave [0, 1]: the summary reports that
/// fraction; samples.npy is clipped to [0, 1] by default and raw with --no-clip, whose values
/// show the same fraction outside.
#[test]
fn image_samples_are_clipped_to_the_pixel_range_unless_asked_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let flags = "sample --dataset mnist --n-train 100 --n 8 --sampler exp --steps 20 --t-min 1e-3";
    let run = |out: &Path, extra: &[&str]| {
        let mut args: Vec<&str> = flags.split_whitespace().collect();
        args.extend(extra);
        args.extend(["--out", out.to_str().unwrap()]);
        let output = scorelab(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        summary(out)
    };
    let (clipped, raw) = (dir.path().join("clipped"), dir.path().join("raw"));
    let s = run(&clipped, &[]);
    let fraction = s["results"]["out_of_range_fraction"].as_f64().unwrap();
    assert!(fraction > 0.05, "out-of-range fraction {fraction}");
    assert_eq!(s["results"]["clipped_to_range"], true);
    let values = npy_values(&clipped.join("samples.npy"));
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));

    let s = run(&raw, &["--no-clip"]);
    assert_eq!(s["results"]["clipped_to_range"], false);
    assert_eq!(
        s["results"]["out_of_range_fraction"].as_f64().unwrap(),
        fraction
    );
    let values = npy_values(&raw.join("samples.npy"));
    let outside = values.iter().filter(|v| !(0.0..=1.0).contains(*v)).count();
    assert!((outside as f64 / values.len() as f64 - fraction).abs() < 1e-12);
}

/// `--prior` is recorded in the summary; point data has no value range to report.
#[test]
fn the_prior_is_recorded_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    for prior in ["nominal", "moment", "exact"] {
        let out = dir.path().join(prior);
        let output = scorelab(&[
            "sample",
            "--dataset",
            "diracs",
            "--points=-1,0;1,0;0,1.5",
            "--sde",
            "heat",
            "--n",
            "50",
            "--steps",
            "50",
            "--prior",
            prior,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let s = summary(&out);
        assert_eq!(s["prior"], prior);
        assert!(s["results"]["out_of_range_fraction"].is_null());
    }
}

/// Exact copies of MNIST images (empirical score, t_min 1e-5, Tweedie step) are reported as
/// memorised by the scale-free d1/d2 criterion, and lie within 1e-2 of a training image.
#[test]
fn mnist_copies_are_memorised_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("copies");
    let output = scorelab(&[
        "sample",
        "--dataset",
        "mnist",
        "--n-train",
        "200",
        "--n",
        "16",
        "--sampler",
        "exp",
        "--steps",
        "50",
        "--t-min",
        "1e-5",
        "--denoise",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        stdout.contains("memorised fraction 1.000 (d1/d2 < 1/3)"),
        "{stdout}"
    );
    let s = summary(&out);
    assert_eq!(s["results"]["memorised_fraction"], 1.0);
    assert_eq!(s["results"]["memorisation_criterion"], "d1/d2 < 1/3");
    assert_eq!(
        s["results"]["fraction_within_1e-2_of_a_training_point"],
        1.0
    );
}

/// `--force` removes what the earlier run of the command wrote (its manifest lists it), so no
/// stale path.npy stays beside new samples; files the user put there are left alone. (That a
/// failed run leaves no folder is checked by the error catalogue.)
#[test]
fn force_removes_the_files_of_the_earlier_run_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = |extra: &[&str]| {
        let mut args = vec!["sample", "--n", "20", "--steps", "20", "--force", "--out"];
        args.push(out.to_str().unwrap());
        args.extend(extra);
        let output = scorelab(&args);
        assert!(output.status.success(), "{}", stderr(&output));
    };
    run(&["--record", "0.5"]);
    assert!(out.join("path.npy").exists());
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    run(&[]);
    assert!(!out.join("path.npy").exists(), "stale path.npy left behind");
    assert!(!out.join("paths.png").exists());
    assert!(out.join("samples.npy").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

/// Without a terminal (stderr is a pipe here) the progress bar is printed as plain lines,
/// at most one per SCORELAB_PROGRESS_SECONDS (0 here: every draw).
#[test]
fn progress_is_printed_as_plain_lines_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scorelab"))
        .args(["sample", "--n", "200", "--steps", "400", "--out"])
        .arg(&out)
        .env("SCORELAB_PROGRESS_SECONDS", "0")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.lines()
            .any(|l| l.starts_with("sampling [") && l.contains("/400 steps")),
        "{text}"
    );
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text:?}");
}

/// `--device wgpu` names the adapter it runs on and flags a software one; where no adapter
/// exists it fails with an error suggesting `--device cpu` (unless `SCORELAB_REQUIRE_WGPU` is
/// set, as in CI, where the adapter must be found).
#[test]
fn wgpu_sampling_names_its_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("wgpu");
    let output = scorelab(&[
        "sample",
        "--device",
        "wgpu",
        "--n",
        "20",
        "--steps",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&output);
    if !output.status.success() && std::env::var_os("SCORELAB_REQUIRE_WGPU").is_none() {
        assert!(err.contains("--device cpu"), "{err}");
        eprintln!("skipped: no wgpu adapter");
        return;
    }
    assert!(output.status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("wgpu adapter: "))
        .unwrap_or_else(|| panic!("no adapter line in {err}"));
    if line.contains("software renderer") {
        assert!(err.contains("warning: "), "{err}");
    }
}

/// `sample --config FILE` applies the file's entries; command-line flags win; an analysis
/// command takes one too.
#[test]
fn sample_and_analyze_take_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sample.toml");
    std::fs::write(
        &file,
        "n-train = 30\nn = 40\nsteps = 20\nsampler = \"ode-heun\"\n",
    )
    .unwrap();
    let out = dir.path().join("s");
    let output = scorelab(&[
        "sample",
        "--config",
        file.to_str().unwrap(),
        "--n",
        "25",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let s = summary(&out);
    assert_eq!(s["dataset"]["n_train"], 30);
    assert_eq!(s["sampler"]["steps"], 20);
    assert_eq!(npy_shape(&out.join("samples.npy")), vec![25, 2]);

    let file = dir.path().join("mem.json");
    let samples = out.join("samples.npy");
    std::fs::write(
        &file,
        format!(
            r#"{{"samples": "{}", "threshold": 0.25}}"#,
            samples.display()
        ),
    )
    .unwrap();
    let mem = dir.path().join("mem");
    let output = scorelab(&[
        "analyze",
        "memorization",
        "--config",
        file.to_str().unwrap(),
        "--out",
        mem.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(mem.join("memorization.json")).unwrap())
            .unwrap();
    assert_eq!(report["memorization"]["samples"]["threshold"], 0.25);
}

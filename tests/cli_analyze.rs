//! End-to-end tests of `scorelab analyze` and `scorelab demo`.

mod common;

use std::fs;
use std::path::Path;

use common::{json, scorelab, stderr};

fn run(args: &[&str]) -> String {
    let output = scorelab(args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The nine circle points given back as samples are all memorised, at distance 0.
#[test]
fn training_points_as_samples_are_memorised() {
    let dir = tempfile::tempdir().unwrap();
    let csv: String = std::iter::once("x0,x1".to_string())
        .chain((0..9).map(|k| {
            let a = 2.0 * std::f64::consts::PI * k as f64 / 9.0;
            format!("{},{}", a.cos() as f32, a.sin() as f32)
        }))
        .collect::<Vec<_>>()
        .join("\n");
    let samples = dir.path().join("points.csv");
    fs::write(&samples, csv).unwrap();
    let out = dir.path().join("m");
    run(&[
        "analyze",
        "memorization",
        "--samples",
        samples.to_str().unwrap(),
        "--dataset",
        "circle",
        "--out",
        out.to_str().unwrap(),
    ]);
    let report = json(&out.join("memorization.json"));
    let stats = &report["memorization"]["samples"];
    assert_eq!(stats["memorised_fraction"], 1.0);
    assert!(stats["d1"]["max"].as_f64().unwrap() < 1e-6);
    // the circle is a fixed point set: no fresh baseline
    assert!(report["memorization"].get("fresh").is_none());
    // every training point is copied exactly once
    let copies = &report["memorization"]["copies"];
    assert_eq!(copies["distinct_copied"], 9);
    assert_eq!(copies["max_copies"], 1);
    assert!(copies["counts"].as_array().unwrap().iter().all(|c| c == 1));
    assert!(out.join("d1_histogram.png").exists());
    assert!(out.join("neighbours.csv").exists());
}

/// Samples from `scorelab sample` are matched with their training set through summary.json;
/// the empirical score stopped at a small t_min with a Tweedie step copies its training points,
/// while a fresh Swiss-roll draw sits on the spiral away from them.
#[test]
fn memorization_reads_the_training_set_from_the_sample_summary() {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("s");
    run(&[
        "sample",
        "--n-train",
        "50",
        "--n",
        "200",
        "--steps",
        "200",
        "--t-min",
        "1e-5",
        "--denoise",
        "--out",
        samples.to_str().unwrap(),
    ]);
    let out = dir.path().join("m");
    let stdout = run(&[
        "analyze",
        "memorization",
        "--samples",
        samples.join("samples.npy").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(stdout.contains("memorised fraction"), "{stdout}");
    let report = json(&out.join("memorization.json"));
    assert_eq!(report["training_set"]["n"], 50);
    let m = &report["memorization"];
    assert!(m["samples"]["memorised_fraction"].as_f64().unwrap() > 0.9);
    assert!(m["fresh"]["memorised_fraction"].as_f64().unwrap() < 0.6);
    assert!(m["on_manifold"]["fresh"]["max"].as_f64().unwrap() < 1e-5);
    for key in ["samples_vs_fresh", "noise_floor_fresh_vs_fresh"] {
        assert!(m["quality"][key]["sliced_w2"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn paths_rate_and_tmin_write_their_reports() {
    let dir = tempfile::tempdir().unwrap();
    let paths = dir.path().join("p");
    run(&[
        "analyze",
        "paths",
        "--perturb",
        "0.3,0",
        "--compare-perturb",
        "0,0.3",
        "--n",
        "50",
        "--steps",
        "50",
        "--evaluations",
        "11",
        "--out",
        paths.to_str().unwrap(),
    ]);
    let report = json(&paths.join("paths.json"));
    let gap = report["report"]["score_gap"].as_array().unwrap();
    assert_eq!(gap.len(), 11);
    assert!(gap.iter().all(|g| (g.as_f64().unwrap() - 0.3).abs() < 1e-4));
    assert_eq!(report["report"]["series"].as_array().unwrap().len(), 3);
    for file in [
        "paths.csv",
        "paths_d1.png",
        "paths_score_gap.png",
        "paths_novikov.png",
        "paths_li_yau.png",
    ] {
        assert!(paths.join(file).exists(), "{file}");
    }

    let rate = dir.path().join("r");
    let stdout = run(&[
        "analyze",
        "rate",
        "--dataset",
        "circle",
        "--n",
        "40",
        "--steps",
        "100",
        "--out",
        rate.to_str().unwrap(),
    ]);
    assert!(stdout.contains("slope"), "{stdout}");
    let slope = json(&rate.join("rate.json"))["report"]["slope"]
        .as_f64()
        .unwrap();
    assert!((slope - 0.5).abs() < 0.1, "slope {slope}");
    assert!(rate.join("rate.png").exists());

    let tmin = dir.path().join("t");
    run(&[
        "analyze",
        "tmin",
        "--t-mins",
        "0.1,0.001",
        "--n",
        "100",
        "--steps",
        "100",
        "--out",
        tmin.to_str().unwrap(),
    ]);
    let rows = json(&tmin.join("tmin.json"))["report"]["rows"].clone();
    let d1 = |k: usize| rows[k]["memorisation"]["d1"]["mean"].as_f64().unwrap();
    assert!(
        d1(0) > d1(1),
        "stopping earlier leaves samples further away"
    );
    assert!(rows[0]["quality"].as_f64().is_some());
    assert!(tmin.join("tmin.png").exists());
}

/// The README's main command at its reduced size: the report is written and its numbers show
/// the empirical score copying more than the model.
#[test]
fn demo_runs_end_to_end_at_the_quick_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let stdout = run(&["demo", "--size", "quick", "--out", out.to_str().unwrap()]);
    assert!(stdout.contains("report:"), "{stdout}");
    let report = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| model samples |"));
    assert!(report.contains("**In short.**") && report.contains("## Terms"));
    for file in [
        "summary.json",
        "d1_histogram.png",
        "train/loss.png",
        "samples_model/samples.png",
        "samples_empirical/samples.png",
        "paths/paths_d1.png",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    let summary = json(&out.join("summary.json"));
    let fraction = |who: &str| {
        summary["memorization"][who]["samples"]["memorised_fraction"]
            .as_f64()
            .unwrap()
    };
    assert!(fraction("empirical") > 0.9, "{}", fraction("empirical"));
    assert!(fraction("model") < fraction("empirical"));
}

/// MNIST samples get a grid beside their nearest training images and the shipped classifier's
/// Fréchet distance to the test split with its same-size noise floor.
#[test]
fn mnist_memorization_measures_quality_with_the_shipped_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("s");
    run(&[
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
        "20",
        "--t-min",
        "1e-3",
        "--out",
        samples.to_str().unwrap(),
    ]);
    let out = dir.path().join("m");
    run(&[
        "analyze",
        "memorization",
        "--samples",
        samples.join("samples.npy").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(out.join("nearest_pairs.png").exists());
    let report = json(&out.join("memorization.json"));
    let m = &report["memorization"];
    // the empirical score of 200 images returns (noisy) copies of them
    assert!(m["samples"]["memorised_fraction"].as_f64().unwrap() > 0.9);
    assert!(m["fresh"]["memorised_fraction"].as_f64().unwrap() < 0.1);
    let q = &m["quality"];
    assert!(q["frechet_distance_to_test_split"].as_f64().unwrap() > 0.0);
    assert!(
        q["noise_floor_test_subset_of_the_same_size"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let total: f64 = q["predicted_class_frequencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9);
}

/// The empirical score's likelihood strongly prefers its own training points (the train–test
/// gap of a memorising score), and a constant shift of the exact mixture score has Fisher
/// divergence ‖e‖² at every time.
#[test]
fn likelihood_gap_and_fisher_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ll");
    let stdout = run(&[
        "analyze",
        "likelihood",
        "--n-train",
        "50",
        "--steps",
        "50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(stdout.contains("NLL gap"), "{stdout}");
    let gap = json(&out.join("likelihood.json"))["gap_fresh_minus_training_nats_per_dim"]
        .as_f64()
        .unwrap();
    assert!(gap > 1.0, "gap {gap}");

    let out = dir.path().join("f");
    run(&[
        "analyze",
        "fisher",
        "--dataset",
        "gmm",
        "--score",
        "exact",
        "--perturb",
        "0.3,-0.4",
        "--n",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = json(&out.join("fisher.json"))["rows"].clone();
    for row in rows.as_array().unwrap() {
        assert!(
            (row["divergence"].as_f64().unwrap() - 0.25).abs() < 1e-4,
            "{row}"
        );
    }
    assert!(out.join("fisher.png").exists());
}

#[test]
fn agreement_of_two_empirical_scores_and_its_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a");
    let stdout = run(&[
        "analyze",
        "agreement",
        "--empirical",
        "--n-train",
        "50",
        "--t-min",
        "1e-5",
        "--denoise",
        "--steps",
        "100",
        "--n",
        "100",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(stdout.contains("agreement"), "{stdout}");
    let report = json(&out.join("agreement.json"))["report"].clone();
    assert!(report["agreement"].as_f64().unwrap() < 0.2);
    let output = scorelab(&[
        "analyze",
        "agreement",
        "--a",
        "x",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

/// `train --eval-every` appends one row per evaluation to eval.csv, and a resumed run
/// continues the file.
#[test]
fn training_records_memorisation_every_k_steps() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let base = [
        "train",
        "--n-train",
        "50",
        "--width",
        "16",
        "--depth",
        "1",
        "--embedding",
        "4",
        "--batch-size",
        "16",
        "--eval-every",
        "10",
        "--eval-samples",
        "20",
    ];
    let mut first: Vec<&str> = base.to_vec();
    first.extend(["--steps", "20", "--out", run_dir.to_str().unwrap()]);
    run(&first);
    let rows = |path: &Path| -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(rows(&run_dir.join("eval.csv")), ["10", "20"]);
    run(&[
        "train",
        "--resume",
        "--steps",
        "30",
        "--eval-every",
        "10",
        "--eval-samples",
        "20",
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    assert_eq!(rows(&run_dir.join("eval.csv")), ["10", "20", "30"]);
    let header = fs::read_to_string(run_dir.join("eval.csv")).unwrap();
    assert!(header.starts_with("step,memorised_fraction,mean_d1"));
}

/// MNIST likelihood with the empirical score: pixels are dequantised and the NLL is also given in
/// bits per dimension; the memorising score gives its training images far higher likelihood.
#[test]
fn mnist_likelihood_reports_bits_per_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ll");
    let stdout = run(&[
        "analyze",
        "likelihood",
        "--dataset",
        "mnist",
        "--n-train",
        "100",
        "--max-points",
        "8",
        "--steps",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(stdout.contains("bits/dim"), "{stdout}");
    let report = json(&out.join("likelihood.json"));
    let bits = |k: usize| report["sets"][k]["bits_per_dim"].as_f64().unwrap();
    assert!(
        bits(0).is_finite() && bits(1) > bits(0) + 10.0,
        "{} {}",
        bits(0),
        bits(1)
    );
}

#[test]
fn plot_draws_csv_columns() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("table.csv");
    fs::write(&csv, "n,a,b\n1,0.5,0.1\n10,0.3,0.2\n100,0.1,0.4\n").unwrap();
    let png = dir.path().join("plot.png");
    run(&[
        "plot",
        "--csv",
        csv.to_str().unwrap(),
        "--x",
        "n",
        "--y",
        "a,b",
        "--log-x",
        "--out",
        png.to_str().unwrap(),
    ]);
    let bytes = fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
}

/// The forward process: ou (T = 5) forgets the Swiss roll, so X_T sits at the prior's noise
/// floor; cou (T = 1) keeps a biased final state far from its prior (Claustre, Fig. 1).
#[test]
fn forward_process_of_ou_forgets_and_of_cou_remembers() {
    let dir = tempfile::tempdir().unwrap();
    let gap = |sde: &str, t_end: &str| {
        let out = dir.path().join(sde);
        run(&[
            "forward",
            "--sde",
            sde,
            "--t-end",
            t_end,
            "--times",
            &format!("0,{t_end}"),
            "--n",
            "1000",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(out.join("forward.png").exists());
        let npy = fs::read(out.join("forward.npy")).unwrap();
        // two times × 1000 points × 2 coordinates of f32 after the header
        assert!(npy.len() > 2 * 1000 * 2 * 4);
        let report = json(&out.join("forward.json"));
        (
            report["final_state_vs_prior_sliced_w2"].as_f64().unwrap(),
            report["prior_vs_prior_sliced_w2"].as_f64().unwrap(),
        )
    };
    let (ou, ou_floor) = gap("ou", "5");
    assert!(ou < 3.0 * ou_floor, "ou: {ou} against floor {ou_floor}");
    let (cou, cou_floor) = gap("cou", "1");
    assert!(
        cou > 5.0 * cou_floor,
        "cou: {cou} against floor {cou_floor}"
    );
}

/// `analyze likelihood --eval-file` evaluates the points of that file (and only those); a
/// missing file is an error that names it, not a silent fall-back to the training set.
#[test]
fn likelihood_evaluates_the_points_of_eval_file() {
    let dir = tempfile::tempdir().unwrap();
    let points = dir.path().join("points.csv");
    fs::write(&points, "x0,x1\n0.1,0.2\n-0.3,0.4\n0.5,-0.6\n").unwrap();
    let out = dir.path().join("ll");
    run(&[
        "analyze",
        "likelihood",
        "--n-train",
        "20",
        "--steps",
        "20",
        "--eval-file",
        points.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let report = json(&out.join("likelihood.json"));
    let sets = report["sets"].as_array().unwrap();
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert_eq!(sets[0]["n"], 3);
    assert_eq!(sets[0]["set"], points.to_str().unwrap());

    let missing = dir.path().join("nonexistent.npy");
    let output = scorelab(&[
        "analyze",
        "likelihood",
        "--n-train",
        "20",
        "--eval-file",
        missing.to_str().unwrap(),
        "--out",
        dir.path().join("ll2").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("nonexistent.npy"),
        "{}",
        stderr(&output)
    );
}

/// Runs `analyze compare --a a --b b --out out` and returns its stdout.
fn compare(a: &Path, b: &Path, out: &Path) -> String {
    run(&[
        "analyze",
        "compare",
        "--a",
        a.to_str().unwrap(),
        "--b",
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

/// `analyze compare` on N(0, 1) against N(1, 1) (3,000 draws each, 1-D): W2 = 1 (the sliced
/// distance in one dimension is W2 itself) and energy distance 2E|N(1, 2)| − 2E|N(0, 2)| =
/// 0.5418; the noise floor of two halves of B is near zero. Tolerances 0.06 and 0.04 are
/// about four times the spread of the estimates at this size (seeded draws).
#[test]
fn compare_matches_gaussian_closed_forms() {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let dir = tempfile::tempdir().unwrap();
    let draw = |shift: f64, seed: u64| -> String {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let rows: Vec<String> = (0..3000)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                format!("{}", z + shift)
            })
            .collect();
        format!("x0\n{}\n", rows.join("\n"))
    };
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    fs::write(&a, draw(1.0, 1)).unwrap();
    fs::write(&b, draw(0.0, 2)).unwrap();
    let out = dir.path().join("cmp");
    let stdout = compare(&a, &b, &out);
    assert!(stdout.contains("noise floor"), "{stdout}");
    let report = json(&out.join("compare.json"));
    let q = &report["quality"];
    let value = |path: &[&str]| {
        let mut v = q;
        for key in path {
            v = &v[*key];
        }
        v.as_f64().unwrap()
    };
    let w2 = value(&["a_vs_b", "sliced_w2"]);
    assert!((w2 - 1.0).abs() < 0.06, "W2 {w2}");
    let energy = value(&["a_vs_b", "energy_distance"]);
    assert!((energy - 0.5418).abs() < 0.04, "energy {energy}");
    let half = value(&["a_half_vs_b_half", "sliced_w2"]);
    assert!((half - 1.0).abs() < 0.08, "half-size W2 {half}");
    assert!(value(&["noise_floor_b_half_vs_b_half", "sliced_w2"]) < 0.15);
    assert!(value(&["noise_floor_b_half_vs_b_half", "energy_distance"]).abs() < 0.02);
    assert_eq!(report["a"]["n"], 3000);
    assert!(report["classifier_frechet"].is_null());
}

/// MNIST-shaped sample files also get the classifier Fréchet distance, with the same
/// split-half noise floor; two runs of the empirical score of one training set are compared.
#[test]
fn compare_reports_the_classifier_frechet_distance_for_images() {
    let dir = tempfile::tempdir().unwrap();
    let draw = |seed: &str| {
        let out = dir.path().join(format!("s{seed}"));
        run(&[
            "sample",
            "--dataset",
            "mnist",
            "--n-train",
            "100",
            "--n",
            "16",
            "--sampler",
            "exp",
            "--steps",
            "20",
            "--t-min",
            "1e-3",
            "--seed",
            seed,
            "--data-seed",
            "0",
            "--out",
            out.to_str().unwrap(),
        ]);
        out.join("samples.npy")
    };
    let (a, b) = (draw("1"), draw("2"));
    let out = dir.path().join("cmp");
    let stdout = compare(&a, &b, &out);
    assert!(stdout.contains("classifier Fréchet distance"), "{stdout}");
    let report = json(&out.join("compare.json"));
    assert_eq!(report["dim"], 784);
    let frechet = &report["classifier_frechet"];
    for key in ["a_vs_b", "a_half_vs_b_half", "noise_floor_b_half_vs_b_half"] {
        let v = frechet[key].as_f64().unwrap();
        assert!(v.is_finite() && v >= 0.0, "{key}: {v}");
    }
}

/// A float32 .npy of `rows` (row-major values) with the given storage order, header by hand.
fn write_npy(path: &Path, values: &[f32], rows: usize, cols: usize, fortran: bool) {
    let dict = format!(
        "{{'descr': '<f4', 'fortran_order': {}, 'shape': ({rows}, {cols}), }}",
        if fortran { "True" } else { "False" }
    );
    let mut header = dict.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header);
    let stored: Vec<f32> = if fortran {
        (0..cols)
            .flat_map(|j| (0..rows).map(move |i| values[i * cols + j]))
            .collect()
    } else {
        values.to_vec()
    };
    for v in stored {
        bytes.extend(v.to_le_bytes());
    }
    fs::write(path, bytes).unwrap();
}

/// The nine circle points as a C-order and as a Fortran-order .npy give the same report (all
/// memorised, at distance 0): the Fortran file is not read as if it were row-major. The same
/// file serves as a training set through --data-file.
#[test]
fn fortran_and_c_order_npy_files_hold_the_same_points() {
    let dir = tempfile::tempdir().unwrap();
    let points: Vec<f32> = (0..9)
        .flat_map(|k| {
            let a = 2.0 * std::f64::consts::PI * k as f64 / 9.0;
            [a.cos() as f32, a.sin() as f32]
        })
        .collect();
    let mut reports = Vec::new();
    for fortran in [false, true] {
        let file = dir.path().join(format!("points-{fortran}.npy"));
        write_npy(&file, &points, 9, 2, fortran);
        let out = dir.path().join(format!("m-{fortran}"));
        run(&[
            "analyze",
            "memorization",
            "--samples",
            file.to_str().unwrap(),
            "--dataset",
            "circle",
            "--out",
            out.to_str().unwrap(),
        ]);
        let report = json(&out.join("memorization.json"));
        let stats = report["memorization"]["samples"].clone();
        assert_eq!(stats["memorised_fraction"], 1.0, "fortran {fortran}");
        assert!(
            stats["d1"]["max"].as_f64().unwrap() < 1e-6,
            "fortran {fortran}"
        );
        reports.push(stats);

        let sampled = dir.path().join(format!("s-{fortran}"));
        run(&[
            "sample",
            "--dataset",
            "csv",
            "--data-file",
            file.to_str().unwrap(),
            "--n",
            "20",
            "--steps",
            "50",
            "--out",
            sampled.to_str().unwrap(),
        ]);
        let summary = json(&sampled.join("summary.json"));
        assert_eq!(summary["dataset"]["n_train"], 9);
    }
    assert_eq!(reports[0], reports[1]);
}

//! The analysis jobs as a library user calls them: the training set a samples file belongs
//! to, the checks that refuse bad input before any output exists, and reports that agree with
//! closed forms.

use burn::tensor::Device;
use scorelab_core::output::OutputDir;
use scorelab_jobs::bench::Workload;
use scorelab_jobs::forward_job::ForwardJob;
use scorelab_jobs::likelihood_job::{LikelihoodJob, LikelihoodObserver};
use scorelab_jobs::memorization_job::{MemorizationJob, TABLE_COLUMNS};
use scorelab_jobs::{DataOptions, JobError, SampleJob, ScoreOptions, ScoreSource, SdeOptions};
use scorelab_sample::SamplerOptions;

fn diracs(points: &str) -> DataOptions {
    DataOptions {
        dataset: "diracs".into(),
        points: points.into(),
        ..DataOptions::default()
    }
}

fn options_error<T>(result: scorelab_jobs::Result<T>) -> String {
    match result {
        Err(JobError::Options(message)) => message,
        Err(other) => panic!("not an options error: {other}"),
        Ok(_) => panic!("accepted"),
    }
}

/// Samples of the empirical score of three Diracs, written by the sampling job, are found to
/// be copies by the memorisation job, which finds their training set through the summary
/// beside them (no data options given), and the table row carries the same numbers.
#[test]
fn the_memorisation_job_finds_the_training_set_of_a_samples_file() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let job = SampleJob {
        score: ScoreOptions {
            data: diracs("-1,0;1,0;0,2"),
            ..ScoreOptions::default()
        },
        sampler: SamplerOptions {
            steps: 200,
            t_min: 1e-4,
            denoise: true,
            seed: 2,
            ..SamplerOptions::default()
        },
        record: None,
        n: 30,
        keep_finite: false,
        no_clip: false,
        device_name: "flex".into(),
        command_line: String::new(),
    };
    let prepared = job
        .prepare(job.resolve().unwrap(), &device, &mut |_| {})
        .unwrap();
    let run = prepared.run(&mut |_| {}, &mut |_| {}).unwrap();
    let samples_dir = OutputDir::create(&dir.path().join("samples"), false).unwrap();
    run.write(&samples_dir).unwrap();

    let memorization = MemorizationJob {
        samples: samples_dir.file("samples.npy"),
        checkpoint: None,
        ignore_summary: false,
        data: DataOptions::default(),
        seed: 0,
        threshold: 1.0 / 3.0,
        fresh: None,
        classifier: None,
    };
    let measured = memorization
        .load()
        .unwrap()
        .measure(&device, &mut |w| panic!("{w}"))
        .unwrap();
    assert_eq!(measured.section["samples"]["memorised_fraction"], 1.0);
    let row = measured.table_row("diracs");
    assert_eq!(row.len(), TABLE_COLUMNS.len());
    assert_eq!(row[..3], ["diracs".to_string(), "30".into(), "1".into()]);
    let out = OutputDir::create(&dir.path().join("memorization"), false).unwrap();
    measured.write(&out).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.file("memorization.json")).unwrap())
            .unwrap();
    assert_eq!(report["training_set"]["n"], 3);
    assert!(report["training_set"]["from"]
        .as_str()
        .unwrap()
        .ends_with("summary.json"));
    assert!(measured.headline().starts_with("memorised fraction 1.000"));

    // with the summary ignored the data options count: one Dirac cannot give d1/d2
    let one_point = MemorizationJob {
        ignore_summary: true,
        data: diracs("0,0"),
        ..memorization
    };
    let message = options_error(one_point.load().map(|_| ()));
    assert!(message.contains("at least two points"), "{message}");
}

/// The likelihood of the empirical score of one Dirac at t0: x_t0 ~ N(α y, σ² I) and the ODE
/// carries it to the prior, so the NLL per dimension of points drawn at the Dirac itself is
/// the Gaussian's ½ ln(2π σ²(t0)) (+ ‖x − αy‖²/(2σ²d) = 0 at y = 0); checked within 1e-3
/// nats/dim with 40 RK4 steps (the error seen: 2e-6, from the prior's σ_max² against
/// σ²(T) = σ_max² − σ_min² and the integrator).
#[test]
fn the_likelihood_job_matches_the_gaussian_of_a_single_dirac() {
    let device = Device::flex();
    let source = ScoreSource::open(
        &ScoreOptions {
            data: diracs("0,0;0,0"),
            sde: SdeOptions {
                sde: "ve".into(),
                params: scorelab_core::SdeParams {
                    sigma_max: Some(5.0),
                    ..Default::default()
                },
            },
            ..ScoreOptions::default()
        },
        0,
        &device,
        &mut |_| {},
    )
    .unwrap();
    let job = LikelihoodJob {
        eval_file: None,
        max_points: 2,
        solver: "rk4".into(),
        rtol: None,
        atol: None,
        steps: 40,
        t0: 0.5,
        divergence: "exact".into(),
        probe: "rademacher".into(),
        probes: 1,
        prior: "nominal".into(),
        seed: 0,
    };
    struct Lines(Vec<String>);
    impl LikelihoodObserver for Lines {
        fn set_started(&mut self, _: &str) {}
        fn progress(&mut self, _: usize) {}
        fn set_done(&mut self, line: &str) {
            self.0.push(line.to_string());
        }
    }
    let mut lines = Lines(Vec::new());
    let prepared = job.prepare(&source, &device).unwrap();
    assert_eq!(prepared.sets.len(), 1, "diracs have no fresh draw");
    let likelihoods = prepared.run(&device, &mut lines).unwrap();
    assert_eq!(lines.0.len(), 1);
    let dir = tempfile::tempdir().unwrap();
    let out = OutputDir::create(&dir.path().join("l"), false).unwrap();
    likelihoods.write(&out, &source).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.file("likelihood.json")).unwrap())
            .unwrap();
    let nll = report["sets"][0]["nll_nats_per_dim"]["mean"]
        .as_f64()
        .unwrap();
    let sigma2 = source.sde.sigma2(0.5);
    let expected = 0.5 * (2.0 * std::f64::consts::PI * sigma2).ln();
    assert!((nll - expected).abs() < 1e-3, "{nll} against {expected}");

    let conflicting = LikelihoodJob {
        rtol: Some(1e-3),
        ..job.clone()
    };
    let message = options_error(conflicting.prepare(&source, &device).map(|_| ()));
    assert!(message.contains("⟨solver⟩ rk45"), "{message}");
}

#[test]
fn forward_and_bench_options_are_checked_before_any_work() {
    let job = ForwardJob {
        data: DataOptions::default(),
        sde: SdeOptions::default(),
        times: "0,2".into(),
        n: 10,
        seed: 0,
    };
    assert!(options_error(job.prepare().map(|_| ())).contains("outside [0, T = 1]"));
    let images = ForwardJob {
        data: diracs("0,0,0;1,1,1"),
        times: "0.5".into(),
        ..job.clone()
    };
    assert!(options_error(images.prepare().map(|_| ())).contains("2-D data"));
    let good = ForwardJob {
        times: "0,1".into(),
        ..job
    };
    let dir = tempfile::tempdir().unwrap();
    let out = OutputDir::create(&dir.path().join("f"), false).unwrap();
    let line = good.prepare().unwrap().run(&out).unwrap();
    assert!(
        line.starts_with("vp: sliced W2 of X_T to the prior"),
        "{line}"
    );
    assert!(out.file("forward.npy").exists() && out.file("forward.png").exists());

    assert_eq!(Workload::parse_list("ALL").unwrap().len(), 5);
    assert!(Workload::parse_list("w4").unwrap()[0].trains());
    assert!(!Workload::parse_list("matmul").unwrap()[0].trains());
    assert!(!Workload::parse_list("conv").unwrap()[0].trains());
    assert!(options_error(Workload::parse_list("w6")).contains("unknown workload"));
}

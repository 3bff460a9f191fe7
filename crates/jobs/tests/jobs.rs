//! The jobs as a library user calls them: options in, reports and files out, without the
//! command line.

use std::cell::Cell;
use std::path::Path;

use burn::tensor::Device;
use scorelab_core::output::OutputDir;
use scorelab_jobs::train_job::{prepare_run_folder, resume_training, start_training, Resumed};
use scorelab_jobs::{
    DataOptions, EvaluationOptions, JobError, ResumeOptions, SampleJob, ScoreOptions, TrainOptions,
};
use scorelab_sample::SamplerOptions;
use scorelab_train::{Observer, RunOutcome, StepReport};

fn device() -> Device {
    Device::flex()
}

fn two_diracs() -> ScoreOptions {
    ScoreOptions {
        data: DataOptions {
            dataset: "diracs".into(),
            points: "-1,0;1,0".into(),
            ..DataOptions::default()
        },
        ..ScoreOptions::default()
    }
}

fn job(score: ScoreOptions, n: usize) -> SampleJob {
    SampleJob {
        score,
        sampler: SamplerOptions {
            steps: 200,
            t_min: 1e-4,
            seed: 5,
            denoise: true,
            ..SamplerOptions::default()
        },
        record: Some("0.5,0.1".into()),
        n,
        keep_finite: false,
        no_clip: false,
        device_name: "flex".into(),
        command_line: "test".into(),
    }
}

/// The empirical score's reverse dynamics return training points (every sample ends on one
/// of the two Diracs after the Tweedie step; a sample ending elsewhere would need the
/// path to stay on the ridge x₁ = 0 between them, an event of probability zero), and the
/// files and summary of the job say so.
#[test]
fn the_empirical_score_of_two_diracs_samples_the_diracs_and_writes_its_report() {
    let device = device();
    let job = job(two_diracs(), 64);
    let config = job.resolve().unwrap();
    assert_eq!(config.record_at, [0.5, 0.1]);
    let mut warnings = Vec::new();
    let prepared = job
        .prepare(config, &device, &mut |w| warnings.push(w.to_string()))
        .unwrap();
    let mut last_step = 0;
    let run = prepared
        .run(&mut |k| last_step = k, &mut |w| panic!("{w}"))
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(last_step, 200);
    assert_eq!(run.kept, 64);
    assert_eq!(run.on_point, 1.0);
    assert_eq!(run.memorised, Some(1.0));
    for point in run.samples.chunks(2) {
        assert!(
            (point[0].abs() - 1.0).abs() < 1e-3 && point[1].abs() < 1e-3,
            "{point:?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let out = OutputDir::create(&dir.path().join("s"), false).unwrap();
    run.write(&out).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.file("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["score"], "empirical");
    assert_eq!(summary["dataset"]["n_train"], 2);
    assert_eq!(summary["results"]["memorised_fraction"], 1.0);
    assert_eq!(summary["results"]["score_evaluations_per_sample"], 201);
    assert_eq!(summary["command_line"], "test");
    for file in [
        "samples.npy",
        "samples.csv",
        "samples.png",
        "path.npy",
        "path_times.json",
    ] {
        assert!(out.file(file).exists(), "{file}");
    }
}

#[test]
fn options_that_do_not_go_together_are_option_errors_naming_them() {
    let device = device();
    let refused = |score: ScoreOptions, n: usize| {
        let job = job(score, n);
        let result = job
            .resolve()
            .and_then(|config| job.prepare(config, &device, &mut |_| {}).map(|_| ()));
        match result {
            Err(JobError::Options(message)) => message,
            Err(other) => panic!("not an options error: {other}"),
            Ok(()) => panic!("accepted"),
        }
    };
    assert!(refused(two_diracs(), 0).contains("n: must be >= 1"));
    let exact = ScoreOptions {
        score: Some("exact".into()),
        ..two_diracs()
    };
    assert!(refused(exact, 4).contains("⟨score⟩ exact needs ⟨dataset⟩ gmm"));
    let stray_checkpoint = ScoreOptions {
        score: Some("empirical".into()),
        checkpoint: Some("nowhere".into()),
        ..two_diracs()
    };
    assert!(refused(stray_checkpoint, 4).contains("⟨checkpoint⟩ needs ⟨score⟩ checkpoint"));
    let mut bad_record = job(two_diracs(), 4);
    bad_record.record = Some("0.5,soon".into());
    assert!(matches!(bad_record.resolve(), Err(JobError::Options(_))));
}

fn tiny_run() -> TrainOptions {
    TrainOptions {
        data: DataOptions {
            n_train: Some(200),
            ..DataOptions::default()
        },
        width: 16,
        depth: 2,
        embedding: 8,
        batch_size: 32,
        steps: 20,
        checkpoint_every: 10,
        log_every: 1,
        seed: 3,
        evaluation: EvaluationOptions {
            every: 0,
            samples: 10,
        },
        ..TrainOptions::default()
    }
}

/// Asks to stop once `at` steps are done.
struct StopAt {
    at: u64,
    seen: Cell<u64>,
}

impl Observer for StopAt {
    fn on_step(&mut self, report: &StepReport) {
        self.seen.set(report.step);
    }
    fn interrupted(&self) -> bool {
        self.seen.get() >= self.at
    }
}

fn log(run: &Path) -> String {
    std::fs::read_to_string(run.join("log.csv")).unwrap()
}

/// A run stopped at step 10 and resumed to 20 logs exactly what an uninterrupted run logs.
#[test]
fn a_stopped_run_resumes_exactly() {
    let device = device();
    let dir = tempfile::tempdir().unwrap();
    let (whole, split) = (dir.path().join("whole"), dir.path().join("split"));
    let devices = [device.clone()];
    let run = start_training(&tiny_run(), &whole, false, &devices, "cpu").unwrap();
    assert!(run
        .announcement
        .starts_with("training mlp (eps) on swissroll"));
    let done = run
        .run(&mut StopAt {
            at: u64::MAX,
            seen: Cell::new(0),
        })
        .unwrap();
    assert!(matches!(done.outcome, RunOutcome::Finished(_)));
    assert_eq!((done.step, done.steps_done), (20, 20));
    assert!(whole.join("loss.png").exists());

    let run = start_training(&tiny_run(), &split, false, &devices, "cpu").unwrap();
    let stop = &mut StopAt {
        at: 10,
        seen: Cell::new(0),
    };
    let done = run.run(stop).unwrap();
    assert!(matches!(done.outcome, RunOutcome::Interrupted(_)));
    assert_eq!(done.step, 10);
    let resume = ResumeOptions {
        resume_from: None,
        steps: None,
        checkpoint_every: None,
        keep: None,
        log_every: None,
        evaluation: tiny_run().evaluation,
    };
    let Resumed::Run(run) =
        resume_training(&split, &resume, &devices, &mut |w| panic!("{w}")).unwrap()
    else {
        panic!("nothing left to do at step 10 of 20")
    };
    assert_eq!(run.steps(), (10, 20));
    let done = run
        .run(&mut StopAt {
            at: u64::MAX,
            seen: Cell::new(0),
        })
        .unwrap();
    assert_eq!((done.step, done.steps_done), (20, 10));
    assert_eq!(log(&split), log(&whole));
    match resume_training(&split, &resume, &devices, &mut |_| {}).unwrap() {
        Resumed::AlreadyDone(line) => assert!(line.contains("nothing to do"), "{line}"),
        Resumed::Run(_) => panic!("a finished run resumed"),
    }
}

#[test]
fn training_options_the_data_cannot_take_are_refused_before_any_work() {
    let device = device();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let refused = |options: TrainOptions| match start_training(
        &options,
        &out,
        false,
        std::slice::from_ref(&device),
        "cpu",
    ) {
        Err(JobError::Options(message)) => message,
        Err(other) => panic!("not an options error: {other}"),
        Ok(_) => panic!("accepted"),
    };
    let unet = TrainOptions {
        model: "unet".into(),
        ..tiny_run()
    };
    assert!(refused(unet).contains("⟨model⟩ unet needs image data"));
    let sigma_data = TrainOptions {
        sigma_data: Some(0.5),
        ..tiny_run()
    };
    assert!(refused(sigma_data).contains("⟨sigma-data⟩ belongs to ⟨param⟩ edm"));
    let no_eval_samples = TrainOptions {
        evaluation: EvaluationOptions {
            every: 5,
            samples: 0,
        },
        ..tiny_run()
    };
    assert!(refused(no_eval_samples).contains("eval-samples"));
    assert!(!out.exists(), "no folder is made for a refused run");

    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let occupied = prepare_run_folder(&out, false).unwrap_err().to_string();
    assert!(occupied.contains("⟨resume⟩"), "{occupied}");
    prepare_run_folder(&out, true).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

//! The demo: the whole story on the Swiss roll in a few minutes on a CPU. Train an MLP score on
//! a small training set, sample from it and from the empirical score of the same training set
//! with the same sampler and noise, measure memorisation of both next to fresh data, follow
//! both along their reverse paths, and write a Markdown report with the figures.

use std::fmt::Write as _;
use std::path::Path;

use burn::tensor::Device;
use serde_json::{json, Value};

use scorelab_analysis::memorization::{memorisation_report, Baselines, Neighbours};
use scorelab_analysis::paths::{path_diagnostics, PathConfig, PathReport};
use scorelab_analysis::plot::{histograms_png, Series};
use scorelab_core::device::tensor_from_rows;
use scorelab_core::output::OutputDir;
use scorelab_core::{DatasetSpec, EmpiricalScore};
use scorelab_sample::{Prior, SamplerConfig, SamplerKind, SamplerOptions, TauGrid};
use scorelab_train::training_set::checkpoint_training_set;
use scorelab_train::{load_score, Observer, RunOutcome, StepReport};

use crate::error::{JobError, Result};
use crate::options::DataOptions;
use crate::sample_job::SampleJob;
use crate::score_source::ScoreOptions;
use crate::train_job::{start_training, TrainOptions};

mod report;

use report::{headline, path_summary, report_markdown};

/// What the user chooses of a demo (with the `clap` feature: the flags of `demo`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct DemoOptions {
    /// full (500 training points, 16,000 steps; a minute or two on a CPU) or quick (a small
    /// run that checks the whole pipeline in seconds).
    #[cfg_attr(feature = "clap", arg(long, default_value = "full"))]
    pub size: String,
    /// Seed of the training set, the network and the sampler noise.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// A sample is memorised when d1/d2 is below this.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1.0 / 3.0))]
    pub threshold: f64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            size: "full".into(),
            seed: 0,
            threshold: 1.0 / 3.0,
        }
    }
}

/// The sizes of one demo run.
pub struct Plan {
    pub n_train: usize,
    pub train_steps: usize,
    /// Short runs need a short EMA: 0.999^k still weighs the random start after k steps.
    pub ema_decay: f64,
    pub width: usize,
    pub batch: usize,
    pub samples: usize,
    pub sampler_steps: usize,
    pub t_min: f64,
    pub paths: usize,
    pub evaluations: usize,
}

impl Plan {
    /// The plan of a size: full (a minute or two) or quick (seconds).
    pub fn for_size(size: &str) -> Result<Self> {
        match size {
            "full" => Ok(Plan {
                n_train: 500,
                train_steps: 16_000,
                ema_decay: 0.999,
                width: 128,
                batch: 256,
                samples: 2000,
                sampler_steps: 500,
                t_min: 1e-5,
                paths: 500,
                evaluations: 60,
            }),
            "quick" => Ok(Plan {
                n_train: 200,
                train_steps: 2000,
                ema_decay: 0.99,
                width: 64,
                batch: 128,
                samples: 300,
                sampler_steps: 100,
                t_min: 1e-5,
                paths: 100,
                evaluations: 30,
            }),
            other => Err(JobError::options(format!(
                "unknown size '{other}' (expected one of: full, quick)"
            ))),
        }
    }
}

/// Where a demo reports how it goes.
pub trait DemoObserver {
    /// A stage begins ("[1/5] training ...").
    fn stage(&mut self, line: &str);
    /// A result worth a line of its own (a stage's outcome, the headline).
    fn result(&mut self, line: &str);
    /// Something the user should know.
    fn warn(&mut self, line: &str);
    /// `done` of `total` steps of the current stage.
    fn progress(&mut self, done: u64, total: u64);
    /// True when the user asked to stop (checked at every training step).
    fn interrupted(&self) -> bool {
        false
    }
}

/// The training stage's observer: steps as progress.
struct TrainingProgress<'a> {
    demo: &'a mut dyn DemoObserver,
    total: u64,
}

impl Observer for TrainingProgress<'_> {
    fn on_step(&mut self, report: &StepReport) {
        self.demo.progress(report.step, self.total);
    }

    fn interrupted(&self) -> bool {
        self.demo.interrupted()
    }
}

/// The common part of the options of the demo's two sampling runs.
fn sample_job(plan: &Plan, seed: u64, score: ScoreOptions, device_name: &str) -> SampleJob {
    SampleJob {
        score,
        sampler: SamplerOptions {
            sampler: "em".into(),
            steps: plan.sampler_steps,
            t_min: plan.t_min,
            grid: "quadratic".into(),
            seed,
            denoise: true,
            ..SamplerOptions::default()
        },
        record: None,
        n: plan.samples,
        keep_finite: false,
        no_clip: false,
        device_name: device_name.into(),
        command_line: String::new(),
    }
}

/// The devices and names a demo runs with.
pub struct DemoDevice<'a> {
    pub device: &'a Device,
    /// The backend's name, for sampling summaries.
    pub name: &'a str,
    /// The device as a training device list writes it.
    pub list: &'a str,
    /// The command that asked for the demo, recorded in its checkpoints and summaries.
    pub command_line: &'a str,
}

/// Runs the demo into `out` (created, or reused when `force`).
pub fn run_demo(
    options: &DemoOptions,
    out_path: &Path,
    force: bool,
    on: DemoDevice,
    observer: &mut dyn DemoObserver,
) -> Result<()> {
    let plan = Plan::for_size(&options.size)?;
    let out = OutputDir::create(out_path, force)?;
    train_stage(options, &plan, &out, &on, observer)?;

    let samples = sample_stage(options, &plan, &out, &on, observer)?;

    observer.stage("[3/5] memorisation: nearest training points, fresh data, quality");
    let (score, meta) = load_score(&out.file("train"), on.device)?;
    let (spec, data) = checkpoint_training_set(&meta)?;
    let training = data.to_tensor(on.device);
    let baselines = Baselines::draw(&spec, meta.data.seed, plan.samples, on.device)?;
    let mut sections = Vec::new();
    let mut nearest: Vec<Neighbours> = Vec::new();
    let mut fresh_neighbours = None;
    for (values, kept) in &samples {
        let tensor = tensor_from_rows(values, *kept, data.dim, on.device);
        let report = memorisation_report(&tensor, &data, &spec, &baselines, options.threshold)?;
        sections.push(json!(report));
        nearest.push(report.neighbours);
        fresh_neighbours = report.fresh_neighbours;
    }
    write_d1_histogram(&out, &nearest, fresh_neighbours.as_ref())?;

    observer.stage("[4/5] reverse paths: model against empirical score from the same noise");
    let empirical_score = EmpiricalScore::new(training.clone(), meta.sde.clone())?;
    let mut sampler =
        SamplerConfig::new(SamplerKind::EulerMaruyama, plan.sampler_steps, plan.t_min);
    sampler.grid = TauGrid::Quadratic;
    sampler.seed = options.seed;
    let path_config = PathConfig {
        sampler,
        n: plan.paths,
        evaluations: plan.evaluations,
        divergence: true,
        distance_scale: 1.0,
    };
    let paths_out = OutputDir::create(&out.file("paths"), true)?;
    let total = 2 * plan.sampler_steps as u64;
    let report = path_diagnostics(
        score.as_ref(),
        &empirical_score,
        None,
        &training,
        &path_config,
        &Prior::Nominal,
        on.device,
        &mut |k| observer.progress(k as u64, total),
    )?;
    report.write(&paths_out)?;
    paths_out.write_json(
        "paths.json",
        &json!({ "config": path_config, "report": report }),
    )?;

    observer.stage("[5/5] writing the report");
    let summary = json!({
        "command": "demo",
        "size": options.size,
        "seed": options.seed,
        "training_set": { "spec": spec, "seed": meta.data.seed, "n": data.n },
        "sde": meta.sde,
        "training_steps": plan.train_steps,
        "sampler": path_config.sampler,
        "score_evaluations_per_sample": path_config.sampler.evaluations(),
        "samples": plan.samples,
        "memorization": { "model": sections[0], "empirical": sections[1] },
        "paths_at_t_min": path_summary(&report),
    });
    out.write_json("summary.json", &summary)?;
    let markdown = report_markdown(options, &plan, &spec, &summary, &report);
    out.write("report.md", markdown.as_bytes())?;
    observer.result(&headline(&summary));
    observer.result(&format!("report: {}", out.file("report.md").display()));
    Ok(())
}

/// Stage 2: samples the model and the empirical score of the same training set from the same
/// noise into `out/samples_model` and `out/samples_empirical`; returns both sample sets (rows,
/// count).
fn sample_stage(
    options: &DemoOptions,
    plan: &Plan,
    out: &OutputDir,
    on: &DemoDevice,
    observer: &mut dyn DemoObserver,
) -> Result<Vec<(Vec<f32>, usize)>> {
    observer.stage("[2/5] sampling from the model and from the empirical score (same noise)");
    let mut samples = Vec::new();
    let swissroll = DataOptions {
        n_train: Some(plan.n_train),
        data_seed: Some(options.seed),
        ..DataOptions::default()
    };
    for (folder, score) in [
        (
            "samples_model",
            ScoreOptions {
                score: Some("checkpoint".into()),
                checkpoint: Some(out.file("train")),
                ..ScoreOptions::default()
            },
        ),
        (
            "samples_empirical",
            ScoreOptions {
                score: Some("empirical".into()),
                data: swissroll.clone(),
                ..ScoreOptions::default()
            },
        ),
    ] {
        let mut job = sample_job(plan, options.seed, score, on.name);
        job.command_line = on.command_line.into();
        let config = job.resolve()?;
        let prepared = job.prepare(config, on.device, &mut |w| observer.warn(w))?;
        let steps = prepared.config.steps as u64;
        let mut warnings = Vec::new();
        let run = prepared.run(&mut |k| observer.progress(k as u64, steps), &mut |w| {
            warnings.push(w.to_string())
        });
        warnings.iter().for_each(|w| observer.warn(w));
        let run = run?;
        let folder_out = OutputDir::create(&out.file(folder), true)?;
        run.write(&folder_out)?;
        observer.result(&format!(
            "{}; wrote {}",
            run.headline(),
            out.file(folder).display()
        ));
        samples.push((run.samples.clone(), run.kept));
    }
    Ok(samples)
}

/// Stage 1: trains the MLP into `out/train`.
fn train_stage(
    options: &DemoOptions,
    plan: &Plan,
    out: &OutputDir,
    on: &DemoDevice,
    observer: &mut dyn DemoObserver,
) -> Result<()> {
    observer.stage(&format!(
        "[1/5] training an MLP score on {} Swiss-roll points",
        plan.n_train
    ));
    let train = TrainOptions {
        data: DataOptions {
            n_train: Some(plan.n_train),
            ..DataOptions::default()
        },
        width: plan.width,
        depth: 3,
        steps: plan.train_steps as u64,
        batch_size: plan.batch,
        lr: 2e-3,
        ema_decay: plan.ema_decay,
        seed: options.seed,
        ..TrainOptions::default()
    };
    let folder = out.file("train");
    let mut run = start_training(
        &train,
        &folder,
        true,
        std::slice::from_ref(on.device),
        on.list,
    )?;
    observer.stage(&run.announcement);
    run.record_command(on.command_line);
    let total = run.steps().1;
    let done = run.run(&mut TrainingProgress {
        demo: observer,
        total,
    })?;
    if let RunOutcome::Interrupted(path) = &done.outcome {
        return Err(JobError::Interrupted(format!(
            "demo interrupted while training at step {} of {total}; checkpoint {} written",
            done.step,
            path.display()
        )));
    }
    observer.result(&done.summary_line());
    Ok(())
}

/// d1_histogram.png: the distances to the nearest training point of the model's samples, the
/// empirical score's and fresh data.
fn write_d1_histogram(
    out: &OutputDir,
    nearest: &[Neighbours],
    fresh: Option<&Neighbours>,
) -> Result<()> {
    let d1 = |n: &Neighbours| n.nearest.d1.iter().map(|&v| v as f64).collect::<Vec<_>>();
    let (d1_model, d1_empirical) = (d1(&nearest[0]), d1(&nearest[1]));
    let d1_fresh = fresh.map(d1).unwrap_or_default();
    let series = [
        Series {
            label: "model samples",
            values: &d1_model,
        },
        Series {
            label: "empirical-score samples",
            values: &d1_empirical,
        },
        Series {
            label: "fresh data",
            values: &d1_fresh,
        },
    ];
    let title = "distance to the nearest training point";
    out.write(
        "d1_histogram.png",
        &histograms_png(title, "d1", &series, 40, true)?,
    )?;
    Ok(())
}

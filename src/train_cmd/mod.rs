//! `scorelab train`: builds the run configuration from flags (and an optional config file),
//! trains with a progress bar, and handles Ctrl-C / SIGTERM by checkpointing and stopping.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::parser::ValueSource;
use clap::ArgMatches;
use indicatif::{ProgressBar, ProgressStyle};

use burn::tensor::Device;
use scorelab_core::datasets::points::STREAM_CHUNK_ROWS;
use scorelab_core::datasets::MAX_DISTANCE_SEED;
use scorelab_core::{Dataset, DatasetSpec, ScoreFn};
use scorelab_train::adam::AdamConfig;
use scorelab_train::checkpoint::{list_checkpoints, read_meta};
use scorelab_train::loss::{
    LossConfig, LossKind, Penalty, Projection, TimeSampling, Weighting, EDM_LOG_SIGMA,
};
use scorelab_train::trainer::{init_seed, LOG_FILE};
use scorelab_train::{
    run, DataInfo, MlpConfig, ModelConfig, Normalisation, Observer, Parameterisation, RunOutcome,
    ScoreNetwork, StepReport, TrainConfig, TrainError, Trainer, UNetConfig,
};

use crate::backend::{open_training_devices, replica_devices};
use crate::cli::TrainArgs;
use crate::failure::{CliResult, Failure};
use crate::score_source::{build_sde, checkpoint_training_set, dataset_spec, SIGMA_MAX_POINTS};
use scorelab_analysis::training_eval::{TrainingEvaluation, EVAL_FILE};
use scorelab_analysis::AnalysisError;

/// Model names accepted by --model.
/// The loss curve a run folder gets beside its log.
pub const LOSS_PICTURE: &str = "loss.png";

pub use scorelab_core::score::EXACT_DIVERGENCE_MAX_DIM;

/// Flags that may accompany --resume (everything else is fixed by the checkpoint).
mod config;
mod run_folder;

use config::train_config;
use run_folder::{prepare_run_folder, write_loss_picture};

const RESUMABLE: [&str; 12] = [
    "steps",
    "resume_from",
    "checkpoint_every",
    "keep",
    "log_every",
    "eval_every",
    "eval_samples",
    "device",
    "devices",
    "resume",
    "out",
    "config",
];

/// A progress bar, and the stop flag set by Ctrl-C / SIGTERM.
struct Progress {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    last: Option<StepReport>,
    evaluation: Option<TrainingEvaluation>,
}

impl Observer for Progress {
    fn on_step(&mut self, report: &StepReport) {
        self.bar.set_position(report.step);
        if report.step.is_multiple_of(10) || self.last.is_none() {
            self.bar.set_message(format!("loss {:.4}", report.loss));
        }
        self.last = Some(report.clone());
    }

    fn on_checkpoint(&mut self, path: &Path) {
        self.bar.println(format!("checkpoint {}", path.display()));
    }

    fn interrupted(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn evaluate_at(&self, step: u64) -> bool {
        self.evaluation.as_ref().is_some_and(|e| e.due(step))
    }

    fn on_evaluation(&mut self, step: u64, score: &dyn ScoreFn) -> scorelab_train::Result<()> {
        if let Some(evaluation) = &self.evaluation {
            let line = evaluation.run(step, score).map_err(|e| match e {
                AnalysisError::Evaluation { step, reason } => {
                    TrainError::Evaluation { step, reason }
                }
                other => TrainError::Evaluation {
                    step,
                    reason: other.to_string(),
                },
            })?;
            self.bar.suspend(|| eprintln!("{line}"));
        }
        Ok(())
    }
}

fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Only one handler per process; if one exists already, interruption falls back to the default.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    stop
}

/// The measurements asked for by --eval-every, if any.
fn evaluation(
    args: &TrainArgs,
    data: &Dataset,
    spec: &DatasetSpec,
    data_seed: u64,
    normalisation: Normalisation,
    start_step: u64,
    device: &Device,
) -> CliResult<Option<TrainingEvaluation>> {
    if args.eval_every == 0 {
        return Ok(None);
    }
    Ok(Some(TrainingEvaluation::new(
        args.eval_every,
        args.eval_samples,
        data,
        spec,
        data_seed,
        (normalisation.shift as f32, normalisation.scale as f32),
        &args.out,
        start_step,
        device,
    )?))
}

/// Runs a trainer to its configured number of steps and reports the outcome.
fn drive<N: ScoreNetwork>(
    mut trainer: Trainer<N>,
    out: &Path,
    evaluation: Option<TrainingEvaluation>,
) -> CliResult<()> {
    trainer.record_command(crate::cli::command_line());
    let start = trainer.step_count();
    let total = trainer.config.steps;
    let bar = crate::progress::plain_when_not_a_terminal(ProgressBar::new(total));
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} steps, {per_sec}, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_position(start);
    bar.set_message("training");
    let mut progress = Progress {
        bar,
        stop: stop_flag(),
        last: None,
        evaluation,
    };
    let started = Instant::now();
    let outcome = run(&mut trainer, out, &mut progress);
    progress.bar.finish_and_clear();
    let outcome = outcome?;
    write_loss_picture(out, trainer.config.loss.kind.name())?;
    let seconds = started.elapsed().as_secs_f64();
    let done = trainer.step_count() - start;
    let rate = done as f64 / seconds.max(1e-9);
    match outcome {
        RunOutcome::Finished(path) => {
            let loss = progress
                .last
                .map(|r| format!("; last loss {:.5}", r.loss))
                .unwrap_or_default();
            println!(
                "trained {done} steps in {seconds:.1} s ({rate:.1} steps/s){loss}; checkpoint {}",
                path.display()
            );
            Ok(())
        }
        RunOutcome::Interrupted(path) => Err(Failure::interrupted(format!(
            "interrupted at step {} of {total}; checkpoint {} written; continue with: scorelab train --resume --out {}",
            trainer.step_count(),
            path.display(),
            out.display()
        ))),
    }
}

pub fn run_command(args: &TrainArgs, matches: &ArgMatches) -> CliResult<()> {
    let explicit = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    if args.resume {
        if let Some(id) = matches
            .ids()
            .map(|id| id.as_str())
            .find(|id| explicit(id) && !RESUMABLE.contains(id))
        {
            return Err(Failure::usage(format!(
                "--{} cannot be given with --resume: the run continues with the configuration saved in its checkpoint (only --steps, --checkpoint-every, --keep, --log-every, --device and --devices may change)",
                id.replace('_', "-")
            )));
        }
        return resume(args, &explicit);
    }
    let spec = dataset_spec(&args.data, 10_000)?;
    let data_seed = args.data.data_seed.unwrap_or(args.seed);
    let data = spec.load(data_seed)?;
    let info = DataInfo::describe(spec, data_seed, &data);
    // The SDE lives in model space (ve's default σ_max is measured there, on the points that
    // `max_pairwise_distance` picks, so only those are mapped).
    let sigma_points = data.subset(SIGMA_MAX_POINTS, MAX_DISTANCE_SEED);
    let model_space = Dataset::from_points(
        data.name.clone(),
        info.normalisation.to_model(&sigma_points.points),
        data.dim,
    );
    let sde = build_sde(&args.sde, &model_space)?;
    let config = train_config(args, &sde, &data, info.normalisation)?;
    config.validate(&sde)?;
    if args.eval_every > 0 && args.eval_samples == 0 {
        return Err(Failure::usage(
            "invalid parameter eval-samples: must be >= 1",
        ));
    }
    let (devices, list) = open_training_devices(&args.device, args.devices.as_deref())?;
    let device = devices[0].clone();
    prepare_run_folder(&args.out, args.force)?;
    let autodiff = device.clone().autodiff();
    eprintln!(
        "training {} ({}) on {} (n = {}, d = {}, sha256 {}…) with {} under {} on {}; run folder {}",
        config.model.name(),
        config.parameterisation.name(),
        data.name,
        data.n,
        data.dim,
        &info.sha256[..12],
        config.loss.kind.name(),
        sde.name(),
        list,
        args.out.display()
    );
    let evaluation = evaluation(
        args,
        &data,
        &info.spec,
        data_seed,
        info.normalisation,
        0,
        &device,
    )?;
    let seed = init_seed(config.seed);
    match config.model.clone() {
        ModelConfig::Mlp(model) => {
            let net = model.init(seed, &autodiff)?;
            drive(
                Trainer::new(config, sde, &data, info, net, &autodiff)?
                    .with_replicas(replica_devices(&devices))?,
                &args.out,
                evaluation,
            )
        }
        ModelConfig::Unet(model) => {
            let net = model.init(seed, &autodiff)?;
            drive(
                Trainer::new(config, sde, &data, info, net, &autodiff)?
                    .with_replicas(replica_devices(&devices))?,
                &args.out,
                evaluation,
            )
        }
    }
}

fn resume(args: &TrainArgs, explicit: &dyn Fn(&str) -> bool) -> CliResult<()> {
    let ckpt = crate::score_source::resolve_reporting(&args.out, args.resume_from)?;
    let meta = read_meta(&ckpt)?;
    let mut config = meta.train.clone();
    if explicit("steps") {
        config.steps = args.steps;
    }
    if explicit("checkpoint_every") {
        config.checkpoint_every = args.checkpoint_every;
    }
    if explicit("keep") {
        config.keep = args.keep;
    }
    if explicit("log_every") {
        config.log_every = args.log_every;
    }
    let (_, data) = checkpoint_training_set(&meta)?;
    let (devices, _) = open_training_devices(&args.device, args.devices.as_deref())?;
    let device = devices[0].clone();
    let autodiff = device.clone().autodiff();
    if meta.step >= config.steps {
        println!(
            "{} is already at step {} of {}; nothing to do (raise --steps to train further)",
            ckpt.display(),
            meta.step,
            config.steps
        );
        return Ok(());
    }
    let evaluation = evaluation(
        args,
        &data,
        &meta.data.spec,
        meta.data.seed,
        meta.data.normalisation,
        meta.step,
        &device,
    )?;
    eprintln!("resuming {} at step {}", ckpt.display(), meta.step);
    match meta.model().clone() {
        ModelConfig::Mlp(model) => {
            let template = model.init(0, &autodiff)?;
            let trainer = Trainer::resume(&ckpt, &meta, config, &data, template, &autodiff)?
                .with_replicas(replica_devices(&devices))?;
            drive(trainer, &args.out, evaluation)
        }
        ModelConfig::Unet(model) => {
            let template = model.init(0, &autodiff)?;
            let trainer = Trainer::resume(&ckpt, &meta, config, &data, template, &autodiff)?
                .with_replicas(replica_devices(&devices))?;
            drive(trainer, &args.out, evaluation)
        }
    }
}

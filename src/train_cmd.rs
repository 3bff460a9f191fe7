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

use crate::backend::open_training_devices;
use crate::cli::TrainArgs;
use crate::failure::{CliResult, Failure};
use crate::score_source::{build_sde, checkpoint_training_set, dataset_spec, SIGMA_MAX_POINTS};
use scorelab_analysis::training_eval::{TrainingEvaluation, EVAL_FILE};
use scorelab_analysis::AnalysisError;

/// Model names accepted by --model.
/// The loss curve a run folder gets beside its log.
pub const LOSS_PICTURE: &str = "loss.png";

/// The loss curve of a run's log.csv (`step,loss,...`): the logged values and their moving
/// average over about a fiftieth of the run, on a log axis when every loss is positive.
pub fn loss_png(log: &Path, title: &str) -> CliResult<Vec<u8>> {
    let text =
        fs::read_to_string(log).map_err(|e| Failure::runtime(format!("{}: {e}", log.display())))?;
    let (mut steps, mut losses) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let mut fields = line.split(',');
        if let (Some(step), Some(loss)) = (fields.next(), fields.next()) {
            if let (Ok(step), Ok(loss)) = (step.parse::<f64>(), loss.parse::<f64>()) {
                steps.push(step);
                losses.push(loss);
            }
        }
    }
    let log_y = losses.iter().all(|l| *l > 0.0);
    // 2h + 1 values: about a fiftieth of the log
    let half_window = losses.len() / 100;
    Ok(scorelab_analysis::plot::loss_curve_png(
        title,
        &steps,
        &losses,
        half_window,
        log_y,
    )?)
}

/// Writes loss.png beside the run's log (a run without a log yet gets none).
fn write_loss_picture(out: &Path, loss: &str) -> CliResult<()> {
    let log = out.join(LOG_FILE);
    if !log.exists() {
        return Ok(());
    }
    let png = loss_png(&log, &format!("training loss ({loss})"))?;
    fs::write(out.join(LOSS_PICTURE), png)
        .map_err(|e| Failure::runtime(format!("{}: {e}", out.join(LOSS_PICTURE).display())))
}

const MODEL_NAMES: [&str; 2] = ["mlp", "unet"];

pub use scorelab_core::score::EXACT_DIVERGENCE_MAX_DIM;

/// Flags that may accompany --resume (everything else is fixed by the checkpoint).
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

/// σ_d = √E[x²] over the coordinates of the normalised training points: the second moment
/// for which EDM's preconditioned training target has unit variance (read chunk by chunk).
fn root_mean_square(data: &Dataset, normalisation: Normalisation) -> f64 {
    let mut sum = 0.0f64;
    let Ok(()) = data
        .points
        .for_each_chunk(data.dim, STREAM_CHUNK_ROWS, |_, rows| {
            sum += normalisation
                .to_model(rows)
                .iter()
                .map(|&v| (v as f64).powi(2))
                .sum::<f64>();
            Ok::<(), std::convert::Infallible>(())
        });
    (sum / data.points.len().max(1) as f64).sqrt()
}

/// The run configuration described by the flags; `normalisation` maps the training points to
/// model space (for σ_data).
fn train_config(
    args: &TrainArgs,
    sde: &scorelab_core::Sde,
    data: &Dataset,
    normalisation: Normalisation,
) -> CliResult<TrainConfig> {
    let dim = data.dim;
    let model = match args.model.as_str() {
        "unet" => {
            let image = data.image_shape.ok_or_else(|| {
                Failure::usage(format!(
                    "--model unet needs image data (e.g. --dataset mnist); {} is {}-dimensional point data",
                    data.name, dim
                ))
            })?;
            let mut config = UNetConfig::preset(&args.preset, image)?;
            if let Some(channels) = args.channels {
                config.channels = channels;
            }
            ModelConfig::Unet(config)
        }
        "mlp" => ModelConfig::Mlp(MlpConfig {
            dim,
            width: args.width,
            depth: args.depth,
            embedding: args.embedding,
            residual: args.residual,
        }),
        other => {
            return Err(Failure::usage(format!(
                "unknown model '{other}' (expected one of: {})",
                MODEL_NAMES.join(", ")
            )))
        }
    };
    let sigma_data = || {
        args.sigma_data
            .unwrap_or_else(|| root_mean_square(data, normalisation))
    };
    let parameterisation = Parameterisation::parse(&args.parameterisation, sigma_data)?;
    let mut loss = LossConfig::new(LossKind::parse(&args.loss)?, sde);
    loss.weighting = Weighting::parse(&args.weighting, sigma_data)?;
    if args.sigma_data.is_some()
        && parameterisation.name() != "edm"
        && loss.weighting.name() != "edm"
    {
        return Err(Failure::usage(
            "--sigma-data belongs to --param edm and --weighting edm",
        ));
    }
    loss.time_sampling = TimeSampling::parse(
        &args.t_sampling,
        (
            args.p_mean.unwrap_or(EDM_LOG_SIGMA.0),
            args.p_std.unwrap_or(EDM_LOG_SIGMA.1),
        ),
    )?;
    if loss.time_sampling == TimeSampling::Uniform
        && (args.p_mean.is_some() || args.p_std.is_some())
    {
        return Err(Failure::usage(
            "--p-mean and --p-std set the log-normal training times of --t-sampling log-normal",
        ));
    }
    if let Some(t_eps) = args.t_eps {
        loss.t_eps = t_eps;
    }
    loss.projections = args.projections;
    loss.projection = Projection::parse(&args.projection)?;
    loss.penalty = Penalty::parse(&args.penalty)?;
    loss.gamma = args.gamma;
    loss.divergence_probes = args
        .div_probes
        .unwrap_or(if dim <= EXACT_DIVERGENCE_MAX_DIM {
            0
        } else {
            1
        });
    if loss.kind == LossKind::Hyvarinen && dim > EXACT_DIVERGENCE_MAX_DIM {
        return Err(Failure::usage(format!(
            "--loss hyvarinen needs the exact divergence, {dim} JVPs per point for this data; use --loss ssm (sliced score matching estimates the same objective)"
        )));
    }
    Ok(TrainConfig {
        model,
        parameterisation,
        loss,
        adam: AdamConfig {
            lr: args.lr,
            warmup: args.warmup,
            grad_clip: args.grad_clip,
            ..AdamConfig::default()
        },
        ema_decay: args.ema_decay,
        batch_size: args.batch_size,
        steps: args.steps,
        seed: args.seed,
        checkpoint_every: args.checkpoint_every,
        keep: args.keep,
        log_every: args.log_every,
    })
}

/// Makes `out` ready for a new run: refuses a folder holding files unless --force, which
/// deletes the previous run's checkpoints and log.
fn prepare_run_folder(out: &Path, force: bool) -> CliResult<()> {
    let io = |e: std::io::Error| Failure::runtime(format!("{}: {e}", out.display()));
    if out.exists() {
        if !out.is_dir() {
            return Err(Failure::usage(format!(
                "{} exists and is not a folder",
                out.display()
            )));
        }
        let occupied = fs::read_dir(out).map_err(io)?.next().is_some();
        if occupied && !force {
            return Err(Failure::usage(format!(
                "{} already exists and is not empty; continue it with --resume, or pass --force to start afresh there",
                out.display()
            )));
        }
        for (_, path) in list_checkpoints(out)? {
            fs::remove_dir_all(&path).map_err(io)?;
        }
        for name in [LOG_FILE, LOSS_PICTURE, EVAL_FILE] {
            let file = out.join(name);
            if file.exists() {
                fs::remove_file(file).map_err(io)?;
            }
        }
    }
    fs::create_dir_all(out).map_err(io)?;
    // a run folder must be writable before any work is done
    let probe = out.join(".write-test");
    fs::write(&probe, b"").map_err(io)?;
    fs::remove_file(&probe).map_err(io)?;
    Ok(())
}

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
                    .with_replicas(replicas(&devices))?,
                &args.out,
                evaluation,
            )
        }
        ModelConfig::Unet(model) => {
            let net = model.init(seed, &autodiff)?;
            drive(
                Trainer::new(config, sde, &data, info, net, &autodiff)?
                    .with_replicas(replicas(&devices))?,
                &args.out,
                evaluation,
            )
        }
    }
}

/// The autodiff devices of the replicas beyond the main device.
fn replicas(devices: &[Device]) -> Vec<Device> {
    devices[1..].iter().map(|d| d.clone().autodiff()).collect()
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
                .with_replicas(replicas(&devices))?;
            drive(trainer, &args.out, evaluation)
        }
        ModelConfig::Unet(model) => {
            let template = model.init(0, &autodiff)?;
            let trainer = Trainer::resume(&ckpt, &meta, config, &data, template, &autodiff)?
                .with_replicas(replicas(&devices))?;
            drive(trainer, &args.out, evaluation)
        }
    }
}

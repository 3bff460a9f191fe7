//! The training job: a run configuration from named options, a run folder made ready (or a
//! run resumed from its checkpoint), training on one device or several with the optional
//! during-training evaluation, and the loss picture beside the log.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;

use scorelab_analysis::training_eval::{TrainingEvaluation, EVAL_FILE};
use scorelab_analysis::AnalysisError;
use scorelab_core::datasets::points::STREAM_CHUNK_ROWS;
use scorelab_core::datasets::MAX_DISTANCE_SEED;
use scorelab_core::score::EXACT_DIVERGENCE_MAX_DIM;
use scorelab_core::{CoreError, Dataset, DatasetSpec, ScoreFn, Sde};
use scorelab_train::adam::{AdamConfig, LrDecay};
use scorelab_train::checkpoint::{list_checkpoints, read_meta};
use scorelab_train::loss::{
    LossConfig, LossKind, Penalty, Projection, TimeSampling, Weighting, EDM_LOG_SIGMA,
};
use scorelab_train::trainer::{init_seed, LOG_FILE};
use scorelab_train::training_set::checkpoint_training_set;
use scorelab_train::{
    run, DataInfo, Mlp, MlpConfig, ModelConfig, Normalisation, Observer, Parameterisation,
    RunOutcome, StepReport, TrainConfig, TrainError, Trainer, UNet, UNetConfig,
};

use crate::error::{JobError, Result};
use crate::options::{DataOptions, SdeOptions, SIGMA_MAX_POINTS};
use crate::score_source::{resolve_warning, Warn};

/// The loss curve a run folder gets beside its log.
pub const LOSS_PICTURE: &str = "loss.png";

/// Size of a drawn 2-D training set for training (and the forward draws) when `n_train` is
/// not given.
pub const POINTS_FOR_TRAINING: usize = 10_000;

const MODEL_NAMES: [&str; 2] = ["mlp", "unet"];

/// Everything a new run is made of, by name where the user names it (with the `clap`
/// feature: the flags of `train`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct TrainOptions {
    #[cfg_attr(feature = "clap", command(flatten))]
    pub data: DataOptions,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub sde: SdeOptions,
    /// Network: mlp (point data) or unet (images).
    #[cfg_attr(feature = "clap", arg(long, default_value = "mlp"))]
    pub model: String,
    /// U-Net size: tiny (CPU, minutes), small or base (GPU).
    #[cfg_attr(feature = "clap", arg(long, default_value = "tiny"))]
    pub preset: String,
    /// U-Net: channels of the first level [default: the preset's, 16 / 32 / 64].
    #[cfg_attr(feature = "clap", arg(long))]
    pub channels: Option<usize>,
    /// MLP: width of the hidden layers.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 256))]
    pub width: usize,
    /// MLP: number of hidden layers.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3))]
    pub depth: usize,
    /// Size of the sinusoidal time embedding (even).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 32))]
    pub embedding: usize,
    /// MLP: residual connections between hidden layers.
    #[cfg_attr(feature = "clap", arg(long))]
    pub residual: bool,
    /// What the network outputs: eps (the noise, s = −net/σ), score (s = net), x0 (the clean
    /// point) or edm (Karras et al.'s preconditioned denoiser, σ_data from --sigma-data). eps
    /// copes with the 1/σ growth of the score near t = 0 far better than score.
    #[cfg_attr(
        feature = "clap",
        arg(long, visible_alias = "param", default_value = "eps")
    )]
    pub parameterisation: String,
    /// σ_data of --param edm and --weighting edm [default: the root mean square of the
    /// normalised training coordinates].
    #[cfg_attr(feature = "clap", arg(long))]
    pub sigma_data: Option<f64>,
    /// Objective: dsm, ssm (sliced) or hyvarinen (exact divergence).
    #[cfg_attr(feature = "clap", arg(long, default_value = "dsm"))]
    pub loss: String,
    /// Time weighting λ(t): sigma2, likelihood (g²), none, or edm (Karras et al.'s
    /// (σ̃² + σ_data²)/(σ̃ σ_data)² on the denoiser error).
    #[cfg_attr(feature = "clap", arg(long, default_value = "sigma2"))]
    pub weighting: String,
    /// Training times: uniform in [t-eps, T], or log-normal (ln σ̃ ~ N(--p-mean, --p-std²) as in
    /// EDM, mapped to t and clamped to [t-eps, T]).
    #[cfg_attr(feature = "clap", arg(long, default_value = "uniform"))]
    pub t_sampling: String,
    /// log-normal: mean of ln σ̃ [default: −1.2].
    #[cfg_attr(feature = "clap", arg(long))]
    pub p_mean: Option<f64>,
    /// log-normal: standard deviation of ln σ̃ [default: 1.2].
    #[cfg_attr(feature = "clap", arg(long))]
    pub p_std: Option<f64>,
    /// Lower end of the training times [default: 1e-5 for vp, subvp, cvp; 1e-3 otherwise].
    #[cfg_attr(feature = "clap", arg(long))]
    pub t_eps: Option<f64>,
    /// ssm: projections per point.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1))]
    pub projections: usize,
    /// ssm: projection distribution, gaussian or rademacher.
    #[cfg_attr(feature = "clap", arg(long, default_value = "gaussian"))]
    pub projection: String,
    /// Divergence penalty added to the loss: none, full, negative or li-yau.
    #[cfg_attr(feature = "clap", arg(long, default_value = "none"))]
    pub penalty: String,
    /// Weight γ of the divergence penalty.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.0))]
    pub gamma: f64,
    /// Divergence for the penalty: 0 = exact trace (d JVPs per point), m = Hutchinson estimate
    /// with m Rademacher probes [default: 0 for d ≤ 64, 1 above].
    #[cfg_attr(feature = "clap", arg(long))]
    pub div_probes: Option<usize>,
    /// Optimisation steps (with --resume: the new total).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10_000))]
    pub steps: u64,
    /// Points per batch.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1024))]
    pub batch_size: usize,
    /// Adam learning rate.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1e-3))]
    pub lr: f64,
    /// Steps of linear learning-rate warm-up.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub warmup: u64,
    /// Learning-rate decay from the end of the warm-up to the last of --steps: none, cosine
    /// (lr·½(1 + cos πf)) or linear (lr·(1 − f)), f the fraction of those steps taken. A run
    /// resumed with a new --steps continues the decay stretched to the new total.
    #[cfg_attr(feature = "clap", arg(long, default_value = "none"))]
    pub lr_decay: String,
    /// Clip the gradient to this global L2 norm [default: no clipping].
    #[cfg_attr(feature = "clap", arg(long))]
    pub grad_clip: Option<f64>,
    /// Decay of the exponential moving average of the weights (sampling uses the average).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.999))]
    pub ema_decay: f64,
    /// Start the moving average at the first step's weights, not the initialisation: each
    /// update decays by β(1 − β^(k−1))/(1 − β^k), so the average is the normalised exponential
    /// average of the weights of the steps taken (no memory of the random start, which
    /// otherwise keeps the weight β^k after k steps).
    #[cfg_attr(feature = "clap", arg(long))]
    pub ema_bias_correction: bool,
    /// Seed of the initialisation and every batch (and of the data, unless --data-seed).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Write a checkpoint every this many steps (0: only at the end).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1000))]
    pub checkpoint_every: u64,
    /// Keep this many most recent checkpoints.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3))]
    pub keep: usize,
    /// Append to log.csv every this many steps.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10))]
    pub log_every: u64,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub evaluation: EvaluationOptions,
}

/// The during-training evaluation: every `every` steps (0: never), `samples` samples.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct EvaluationOptions {
    /// Every this many steps, sample --eval-samples points with the EMA weights and append the
    /// memorised fraction, d1 and (2-D) sliced W2 to fresh data to eval.csv (0: never).
    #[cfg_attr(
        feature = "clap",
        arg(
            id = "eval_every",
            long = "eval-every",
            value_name = "EVAL_EVERY",
            default_value_t = 0
        )
    )]
    pub every: u64,
    /// Samples per evaluation (see --eval-every).
    #[cfg_attr(
        feature = "clap",
        arg(
            id = "eval_samples",
            long = "eval-samples",
            value_name = "EVAL_SAMPLES",
            default_value_t = 500
        )
    )]
    pub samples: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            data: DataOptions::default(),
            sde: SdeOptions::default(),
            model: "mlp".into(),
            preset: "tiny".into(),
            channels: None,
            width: 256,
            depth: 3,
            embedding: 32,
            residual: false,
            parameterisation: "eps".into(),
            sigma_data: None,
            loss: "dsm".into(),
            weighting: "sigma2".into(),
            t_sampling: "uniform".into(),
            p_mean: None,
            p_std: None,
            t_eps: None,
            projections: 1,
            projection: "gaussian".into(),
            penalty: "none".into(),
            gamma: 0.0,
            div_probes: None,
            steps: 10_000,
            batch_size: 1024,
            lr: 1e-3,
            warmup: 0,
            lr_decay: "none".into(),
            grad_clip: None,
            ema_decay: 0.999,
            ema_bias_correction: false,
            seed: 0,
            checkpoint_every: 1000,
            keep: 3,
            log_every: 10,
            evaluation: EvaluationOptions {
                every: 0,
                samples: 500,
            },
        }
    }
}

/// What a resumed run may change: the schedule (None: as saved) and the evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResumeOptions {
    pub resume_from: Option<u64>,
    pub steps: Option<u64>,
    pub checkpoint_every: Option<u64>,
    pub keep: Option<usize>,
    pub log_every: Option<u64>,
    pub evaluation: EvaluationOptions,
}

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

/// The network the options describe for `data`.
fn model_config(options: &TrainOptions, data: &Dataset) -> Result<ModelConfig> {
    Ok(match options.model.as_str() {
        "unet" => {
            let image = data.image_shape.ok_or_else(|| {
                JobError::options(format!(
                    "⟨model⟩ unet needs image data (e.g. ⟨dataset⟩ mnist); {} is {}-dimensional point data",
                    data.name, data.dim
                ))
            })?;
            let mut config = UNetConfig::preset(&options.preset, image)?;
            if let Some(channels) = options.channels {
                config.channels = channels;
            }
            ModelConfig::Unet(config)
        }
        "mlp" => ModelConfig::Mlp(MlpConfig {
            dim: data.dim,
            width: options.width,
            depth: options.depth,
            embedding: options.embedding,
            residual: options.residual,
        }),
        other => {
            return Err(JobError::options(format!(
                "unknown model '{other}' (expected one of: {})",
                MODEL_NAMES.join(", ")
            )))
        }
    })
}

/// The objective the options describe; σ_data is measured only when EDM asks for it.
fn loss_config(
    options: &TrainOptions,
    sde: &Sde,
    dim: usize,
    sigma_data: &dyn Fn() -> f64,
) -> Result<LossConfig> {
    let mut loss = LossConfig::new(LossKind::parse(&options.loss)?, sde);
    loss.weighting = Weighting::parse(&options.weighting, sigma_data)?;
    let log_sigma = (
        options.p_mean.unwrap_or(EDM_LOG_SIGMA.0),
        options.p_std.unwrap_or(EDM_LOG_SIGMA.1),
    );
    loss.time_sampling = TimeSampling::parse(&options.t_sampling, log_sigma)?;
    if loss.time_sampling == TimeSampling::Uniform
        && (options.p_mean.is_some() || options.p_std.is_some())
    {
        return Err(JobError::options(
            "⟨p-mean⟩ and ⟨p-std⟩ set the log-normal training times of ⟨t-sampling⟩ log-normal",
        ));
    }
    if let Some(t_eps) = options.t_eps {
        loss.t_eps = t_eps;
    }
    loss.projections = options.projections;
    loss.projection = Projection::parse(&options.projection)?;
    loss.penalty = Penalty::parse(&options.penalty)?;
    loss.gamma = options.gamma;
    let exact = dim <= EXACT_DIVERGENCE_MAX_DIM;
    loss.divergence_probes = options.div_probes.unwrap_or(if exact { 0 } else { 1 });
    if loss.kind == LossKind::Hyvarinen && !exact {
        return Err(JobError::options(format!(
            "⟨loss⟩ hyvarinen needs the exact divergence, {dim} JVPs per point for this data; use ⟨loss⟩ ssm (sliced score matching estimates the same objective)"
        )));
    }
    Ok(loss)
}

/// The run configuration the options describe; `normalisation` maps the training points to
/// model space (for σ_data).
pub fn train_config(
    options: &TrainOptions,
    sde: &Sde,
    data: &Dataset,
    normalisation: Normalisation,
) -> Result<TrainConfig> {
    let model = model_config(options, data)?;
    let sigma_data = || {
        options
            .sigma_data
            .unwrap_or_else(|| root_mean_square(data, normalisation))
    };
    let parameterisation = Parameterisation::parse(&options.parameterisation, sigma_data)?;
    let loss = loss_config(options, sde, data.dim, &sigma_data)?;
    if options.sigma_data.is_some()
        && parameterisation.name() != "edm"
        && loss.weighting.name() != "edm"
    {
        return Err(JobError::options(
            "⟨sigma-data⟩ belongs to ⟨param⟩ edm and ⟨weighting⟩ edm",
        ));
    }
    Ok(TrainConfig {
        model,
        parameterisation,
        loss,
        adam: AdamConfig {
            lr: options.lr,
            warmup: options.warmup,
            grad_clip: options.grad_clip,
            decay: LrDecay::parse(&options.lr_decay)?,
            ..AdamConfig::default()
        },
        ema_decay: options.ema_decay,
        ema_bias_correction: options.ema_bias_correction,
        batch_size: options.batch_size,
        steps: options.steps,
        seed: options.seed,
        checkpoint_every: options.checkpoint_every,
        keep: options.keep,
        log_every: options.log_every,
    })
}

/// A trainer of either network.
enum AnyTrainer {
    Mlp(Box<Trainer<Mlp>>),
    Unet(Box<Trainer<UNet>>),
}

/// A run ready to train: its trainer, folder and evaluation.
pub struct TrainingRun {
    trainer: AnyTrainer,
    out: PathBuf,
    evaluation: Option<TrainingEvaluation>,
    /// What is about to happen, in one line ("training ... on ..." or "resuming ...").
    pub announcement: String,
}

/// How a run ended.
pub struct TrainingDone {
    pub outcome: RunOutcome,
    /// The step reached and the run's configured total.
    pub step: u64,
    pub total: u64,
    /// Steps done by this call, and how long they took.
    pub steps_done: u64,
    pub seconds: f64,
    /// The last step's report.
    pub last: Option<StepReport>,
}

impl TrainingDone {
    /// One line of what was done: steps, time, rate, last loss and checkpoint.
    pub fn summary_line(&self) -> String {
        let rate = self.steps_done as f64 / self.seconds.max(1e-9);
        let loss = self
            .last
            .as_ref()
            .map(|r| format!("; last loss {:.5}", r.loss))
            .unwrap_or_default();
        let checkpoint = match &self.outcome {
            RunOutcome::Finished(path) | RunOutcome::Interrupted(path) => path,
        };
        format!(
            "trained {} steps in {:.1} s ({rate:.1} steps/s){loss}; checkpoint {}",
            self.steps_done,
            self.seconds,
            checkpoint.display()
        )
    }
}

/// The evaluation the options ask for, if any.
fn evaluation(
    options: EvaluationOptions,
    data: &Dataset,
    info: (&DatasetSpec, u64, Normalisation),
    out: &Path,
    start_step: u64,
    device: &Device,
) -> Result<Option<TrainingEvaluation>> {
    if options.every == 0 {
        return Ok(None);
    }
    let (spec, data_seed, normalisation) = info;
    Ok(Some(TrainingEvaluation::new(
        options.every,
        options.samples,
        data,
        spec,
        data_seed,
        (normalisation.shift as f32, normalisation.scale as f32),
        out,
        start_step,
        device,
    )?))
}

/// The autodiff devices of the replicas beyond the main (first) device of an opened list.
pub fn replica_devices(devices: &[Device]) -> Vec<Device> {
    devices[1..].iter().map(|d| d.clone().autodiff()).collect()
}

/// A new run of `options` in `out` on `devices` (main device first; `devices_name` is how the
/// list is written). An occupied folder is refused unless `force`, which clears it.
pub fn start_training(
    options: &TrainOptions,
    out: &Path,
    force: bool,
    devices: &[Device],
    devices_name: &str,
) -> Result<TrainingRun> {
    let spec = options.data.spec(POINTS_FOR_TRAINING)?;
    let data_seed = options.data.data_seed.unwrap_or(options.seed);
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
    let sde = options.sde.build(&model_space)?;
    let config = train_config(options, &sde, &data, info.normalisation)?;
    config.validate(&sde)?;
    if options.evaluation.every > 0 && options.evaluation.samples == 0 {
        return Err(JobError::options(
            "invalid parameter eval-samples: must be >= 1",
        ));
    }
    let device = devices[0].clone();
    prepare_run_folder(out, force)?;
    let autodiff = device.clone().autodiff();
    let announcement = format!(
        "training {} ({}) on {} (n = {}, d = {}, sha256 {}…) with {} under {} on {devices_name}; run folder {}",
        config.model.name(),
        config.parameterisation.name(),
        data.name,
        data.n,
        data.dim,
        &info.sha256[..12],
        config.loss.kind.name(),
        sde.name(),
        out.display()
    );
    let described = (&info.spec, data_seed, info.normalisation);
    let evaluation = evaluation(options.evaluation, &data, described, out, 0, &device)?;
    let seed = init_seed(config.seed);
    let replicas = replica_devices(devices);
    let trainer = match config.model.clone() {
        ModelConfig::Mlp(model) => {
            let net = model.init(seed, &autodiff)?;
            AnyTrainer::Mlp(Box::new(
                Trainer::new(config, sde, &data, info, net, &autodiff)?.with_replicas(replicas)?,
            ))
        }
        ModelConfig::Unet(model) => {
            let net = model.init(seed, &autodiff)?;
            AnyTrainer::Unet(Box::new(
                Trainer::new(config, sde, &data, info, net, &autodiff)?.with_replicas(replicas)?,
            ))
        }
    };
    Ok(TrainingRun {
        trainer,
        out: out.to_path_buf(),
        evaluation,
        announcement,
    })
}

/// What resuming a run found to do.
pub enum Resumed {
    /// Steps are left: the run, ready to continue.
    Run(Box<TrainingRun>),
    /// The checkpoint is already at the run's total: a line saying so.
    AlreadyDone(String),
}

/// Continues the run in `out` from its newest valid checkpoint (or the one at
/// `resume_from`).
pub fn resume_training(
    out: &Path,
    options: &ResumeOptions,
    devices: &[Device],
    warn: Warn,
) -> Result<Resumed> {
    let ckpt = resolve_warning(out, options.resume_from, warn)?;
    let meta = read_meta(&ckpt)?;
    let mut config = meta.train.clone();
    config.steps = options.steps.unwrap_or(config.steps);
    config.checkpoint_every = options.checkpoint_every.unwrap_or(config.checkpoint_every);
    config.keep = options.keep.unwrap_or(config.keep);
    config.log_every = options.log_every.unwrap_or(config.log_every);
    let (_, data) = checkpoint_training_set(&meta)?;
    let device = devices[0].clone();
    let autodiff = device.clone().autodiff();
    if meta.step >= config.steps {
        return Ok(Resumed::AlreadyDone(format!(
            "{} is already at step {} of {}; nothing to do (raise ⟨steps⟩ to train further)",
            ckpt.display(),
            meta.step,
            config.steps
        )));
    }
    let d = &meta.data;
    let described = (&d.spec, d.seed, d.normalisation);
    let evaluation = evaluation(
        options.evaluation,
        &data,
        described,
        out,
        meta.step,
        &device,
    )?;
    let replicas = replica_devices(devices);
    let trainer = match meta.model().clone() {
        ModelConfig::Mlp(model) => {
            let template = model.init(0, &autodiff)?;
            AnyTrainer::Mlp(Box::new(
                Trainer::resume(&ckpt, &meta, config, &data, template, &autodiff)?
                    .with_replicas(replicas)?,
            ))
        }
        ModelConfig::Unet(model) => {
            let template = model.init(0, &autodiff)?;
            AnyTrainer::Unet(Box::new(
                Trainer::resume(&ckpt, &meta, config, &data, template, &autodiff)?
                    .with_replicas(replicas)?,
            ))
        }
    };
    Ok(Resumed::Run(Box::new(TrainingRun {
        trainer,
        out: out.to_path_buf(),
        evaluation,
        announcement: format!("resuming {} at step {}", ckpt.display(), meta.step),
    })))
}

/// The front end's observer with the run's evaluation in front of it.
struct Evaluating<'a> {
    inner: &'a mut dyn Observer,
    evaluation: Option<&'a TrainingEvaluation>,
    last: Option<StepReport>,
}

impl Observer for Evaluating<'_> {
    fn on_step(&mut self, report: &StepReport) {
        self.last = Some(report.clone());
        self.inner.on_step(report);
    }

    fn on_checkpoint(&mut self, path: &Path) {
        self.inner.on_checkpoint(path);
    }

    fn interrupted(&self) -> bool {
        self.inner.interrupted()
    }

    fn evaluate_at(&self, step: u64) -> bool {
        self.evaluation.is_some_and(|e| e.due(step))
    }

    fn on_evaluation(&mut self, step: u64, score: &dyn ScoreFn) -> scorelab_train::Result<()> {
        if let Some(evaluation) = self.evaluation {
            let line = evaluation.run(step, score).map_err(|e| match e {
                AnalysisError::Evaluation { step, reason } => {
                    TrainError::Evaluation { step, reason }
                }
                other => TrainError::Evaluation {
                    step,
                    reason: other.to_string(),
                },
            })?;
            self.inner.on_message(&line);
        }
        Ok(())
    }
}

impl TrainingRun {
    /// The step the run starts from and its configured total.
    pub fn steps(&self) -> (u64, u64) {
        match &self.trainer {
            AnyTrainer::Mlp(t) => (t.step_count(), t.config.steps),
            AnyTrainer::Unet(t) => (t.step_count(), t.config.steps),
        }
    }

    /// Records the command that asked for this run in its checkpoints' metadata.
    pub fn record_command(&mut self, command: &str) {
        match &mut self.trainer {
            AnyTrainer::Mlp(t) => t.record_command(command),
            AnyTrainer::Unet(t) => t.record_command(command),
        }
    }

    /// Trains to the configured number of steps (or until `observer` asks to stop, after a
    /// final checkpoint), then draws loss.png beside the log.
    pub fn run(mut self, observer: &mut dyn Observer) -> Result<TrainingDone> {
        let (start, total) = self.steps();
        let mut observer = Evaluating {
            inner: observer,
            evaluation: self.evaluation.as_ref(),
            last: None,
        };
        let started = Instant::now();
        let (outcome, loss) = match &mut self.trainer {
            AnyTrainer::Mlp(t) => (
                run(t.as_mut(), &self.out, &mut observer),
                t.config.loss.kind,
            ),
            AnyTrainer::Unet(t) => (
                run(t.as_mut(), &self.out, &mut observer),
                t.config.loss.kind,
            ),
        };
        let last = observer.last.take();
        let outcome = outcome?;
        write_loss_picture(&self.out, loss.name())?;
        let step = self.steps().0;
        Ok(TrainingDone {
            outcome,
            step,
            total,
            steps_done: step - start,
            seconds: started.elapsed().as_secs_f64(),
            last,
        })
    }
}

/// The loss curve of a run's log.csv (`step,loss,...`): the logged values and their moving
/// average over about a fiftieth of the run, on a log axis when every loss is positive.
fn loss_png(log: &Path, title: &str) -> Result<Vec<u8>> {
    let text = fs::read_to_string(log).map_err(|e| CoreError::io(log, e))?;
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
pub fn write_loss_picture(out: &Path, loss: &str) -> Result<()> {
    let log = out.join(LOG_FILE);
    if !log.exists() {
        return Ok(());
    }
    let png = loss_png(&log, &format!("training loss ({loss})"))?;
    let picture = out.join(LOSS_PICTURE);
    fs::write(&picture, png).map_err(|e| CoreError::io(&picture, e).into())
}

/// Makes `out` ready for a new run: refuses a folder holding files unless `force`, which
/// deletes the previous run's checkpoints and log.
pub fn prepare_run_folder(out: &Path, force: bool) -> Result<()> {
    let io = |e: std::io::Error| JobError::from(CoreError::io(out, e));
    if out.exists() {
        if !out.is_dir() {
            return Err(JobError::options(format!(
                "{} exists and is not a folder",
                out.display()
            )));
        }
        let occupied = fs::read_dir(out).map_err(io)?.next().is_some();
        if occupied && !force {
            return Err(JobError::options(format!(
                "{} already exists and is not empty; continue it with ⟨resume⟩, or pass ⟨force⟩ to start afresh there",
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

//! The training loop: one optimisation step at a time ([`Trainer`]) and a whole run with loss
//! log, periodic checkpoints, interruption and resumption ([`run`]).
//!
//! Every random draw of step k comes from ChaCha8 seeded with the run's seed on stream k, so a
//! run resumed from a checkpoint takes exactly the steps it would have taken uninterrupted.

use rayon::prelude::*;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use scorelab_core::datasets::Points;
use scorelab_core::device::to_vec;
use scorelab_core::{CoreError, Dataset, ScoreFn, Sde};

use crate::adam::{ema_update, AdamState};
use scorelab_core::output::keep_rows_up_to;

use crate::checkpoint::{
    load_state, write_checkpoint, CheckpointState, Meta, NetworkScore, FORMAT, VERSION,
};
use crate::config::{dataset_hash, DataInfo, Normalisation, TrainConfig};
use crate::error::{Result, TrainError};
use crate::loss::{evaluate, Batch};
use crate::multi_device::{combine_on_main_device, shards, Combine};
use crate::network::ScoreNetwork;
use crate::params::{all_require_grad, flatten, flatten_gradients_params, flatten_grads, replace};

/// The RNG of optimisation step `k` (1-based) of a run seeded with `seed`.
pub fn step_rng(seed: u64, k: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(k);
    rng
}

/// The seed of the weight initialisation of a run seeded with `seed` (a stream no step uses).
pub fn init_seed(seed: u64) -> u64 {
    seed ^ 0x9e37_79b9_7f4a_7c15
}

/// What one step measured.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    pub step: u64,
    pub loss: f64,
    /// The score-matching part of the loss.
    pub matching: f64,
    /// The divergence penalty γ·P, when there is one.
    pub penalty: Option<f64>,
    /// Global L2 norm of the gradient before clipping.
    pub grad_norm: f64,
    pub lr: f64,
}

/// A network being trained, with its optimiser state and the EMA of its weights.
pub struct Trainer<N: ScoreNetwork> {
    pub config: TrainConfig,
    pub sde: Sde,
    pub data: DataInfo,
    /// The training points: in model space, or (a mapped file) in data space with the
    /// normalisation applied to each batch.
    points: Points,
    batch_normalisation: Option<Normalisation>,
    net: N,
    adam: AdamState,
    ema: Vec<Tensor<1>>,
    step: u64,
    device: Device,
    /// The devices of the other replicas of a data-parallel run (empty on one device).
    replicas: Vec<Device>,
    combine: Combine<N>,
    commands: Vec<String>,
}

/// The loss terms (on the main device, without autodiff) and the flattened gradient of a step.
struct StepGradient {
    total: Tensor<1>,
    matching: Tensor<1>,
    penalty: Option<Tensor<1>>,
    gradient: Vec<Tensor<1>>,
}

fn check_network<N: ScoreNetwork>(net: &N) -> Result<()> {
    if all_require_grad(net) {
        Ok(())
    } else {
        Err(TrainError::invalid(
            "device",
            "the network to train must be created on an autodiff device (device.autodiff())",
        ))
    }
}

fn check_data(net_dim: usize, data: &Dataset, info: &DataInfo) -> Result<()> {
    if data.dim != net_dim {
        return Err(CoreError::Shape(format!(
            "the data has dimension {} but the network expects {net_dim}",
            data.dim
        ))
        .into());
    }
    if data.n == 0 {
        return Err(TrainError::invalid("n-train", "the training set is empty"));
    }
    if dataset_hash(data) != info.sha256 {
        return Err(TrainError::invalid(
            "dataset",
            "the training data differs from the data the run was started with (SHA-256 mismatch)",
        ));
    }
    Ok(())
}

/// The points a trainer draws batches from: a model-space copy of data in memory, or a mapped
/// file as it is, normalised batch by batch (the same values: the map is elementwise).
fn model_points(data: &Dataset, normalisation: Normalisation) -> (Points, Option<Normalisation>) {
    if data.points.is_mapped() {
        (data.points.clone(), Some(normalisation))
    } else {
        (normalisation.to_model(&data.points).into(), None)
    }
}

impl<N: ScoreNetwork> Trainer<N> {
    /// Starts a run. `net` must live on `device` with autodiff enabled (`device.autodiff()`).
    pub fn new(
        config: TrainConfig,
        sde: Sde,
        data: &Dataset,
        info: DataInfo,
        net: N,
        device: &Device,
    ) -> Result<Self> {
        config.validate(&sde)?;
        check_network(&net)?;
        check_data(net.dim(), data, &info)?;
        let params = flatten(&net);
        let (points, batch_normalisation) = model_points(data, info.normalisation);
        Ok(Self {
            points,
            batch_normalisation,
            adam: AdamState::zeros(&params),
            ema: params,
            config,
            sde,
            data: info,
            net,
            step: 0,
            device: device.clone(),
            replicas: Vec::new(),
            combine: combine_on_main_device::<N>,
            commands: Vec::new(),
        })
    }

    /// Continues the run saved in checkpoint folder `dir` described by `meta`. `template` is a
    /// network of the checkpoint's architecture on the autodiff `device`; `config` may differ
    /// from `meta.train` only in the number of steps and the checkpoint/log cadence.
    pub fn resume(
        dir: &Path,
        meta: &Meta,
        config: TrainConfig,
        data: &Dataset,
        template: N,
        device: &Device,
    ) -> Result<Self> {
        config.validate(&meta.sde)?;
        check_network(&template)?;
        check_data(template.dim(), data, &meta.data)?;
        if config.steps < meta.step {
            return Err(TrainError::invalid(
                "steps",
                format!(
                    "the checkpoint is already at step {}, beyond ⟨steps⟩ {}",
                    meta.step, config.steps
                ),
            ));
        }
        let state = load_state(dir, &template, meta)?;
        let net = replace(template, state.weights);
        let (points, batch_normalisation) = model_points(data, meta.data.normalisation);
        Ok(Self {
            points,
            batch_normalisation,
            adam: AdamState {
                step: meta.step,
                m: state.adam_m,
                v: state.adam_v,
            },
            ema: state.ema,
            config,
            sde: meta.sde.clone(),
            data: meta.data.clone(),
            net,
            step: meta.step,
            device: device.clone(),
            replicas: Vec::new(),
            combine: combine_on_main_device::<N>,
            commands: meta.commands.clone(),
        })
    }

    /// Trains data-parallel over the trainer's device (the main one) and `others` (autodiff
    /// devices of the same backend): each step's batch is split across them and their
    /// gradients combined on the main device (see [`crate::multi_device`]). The run's data,
    /// noise and results do not depend on the number of devices beyond float32 rounding, and
    /// its checkpoints are those of a one-device run.
    pub fn with_replicas(mut self, others: Vec<Device>) -> Result<Self> {
        let count = others.len() + 1;
        if self.config.batch_size < count {
            return Err(TrainError::invalid(
                "devices",
                format!(
                    "{count} devices need a batch of at least {count} rows, got {}",
                    self.config.batch_size
                ),
            ));
        }
        self.replicas = others;
        Ok(self)
    }

    /// Replaces the rule that merges the replicas' gradients (by default burn-train's
    /// MultiDevice rule, [`combine_on_main_device`]); tests use it to check that a wrong rule
    /// is caught.
    pub fn with_gradient_combination(mut self, combine: Combine<N>) -> Self {
        self.combine = combine;
        self
    }

    /// The number of devices a step runs on.
    pub fn device_count(&self) -> usize {
        self.replicas.len() + 1
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The current (raw) network, without autodiff.
    pub fn network(&self) -> N {
        self.net.valid()
    }

    /// The network with the EMA weights, without autodiff (what sampling uses).
    pub fn ema_network(&self) -> N {
        replace(self.net.valid(), self.ema.clone())
    }

    /// The score of the EMA network under the run's SDE and parameterisation.
    pub fn ema_score(&self) -> NetworkScore<N> {
        NetworkScore::new(
            self.ema_network(),
            self.sde.clone(),
            self.config.parameterisation,
        )
    }

    /// The metadata of a checkpoint of the current state.
    pub fn meta(&self) -> Meta {
        Meta {
            format: FORMAT.to_string(),
            version: VERSION,
            step: self.step,
            sde: self.sde.clone(),
            data: self.data.clone(),
            train: self.config.clone(),
            commands: self.commands.clone(),
            sha256: Default::default(),
        }
    }

    /// Records the command line that runs this training in every checkpoint's `meta.json`
    /// (after those of the run it resumes).
    pub fn record_command(&mut self, command: impl Into<String>) {
        self.commands.push(command.into());
    }

    /// Writes a checkpoint of the current state into `run_dir`.
    pub fn save(&self, run_dir: &Path) -> Result<PathBuf> {
        let state = CheckpointState {
            ema: self.ema.clone(),
            weights: flatten(&self.net),
            adam_m: self.adam.m.clone(),
            adam_v: self.adam.v.clone(),
        };
        write_checkpoint(run_dir, &self.meta(), &self.net, state)
    }

    /// One optimisation step. A non-finite loss or gradient leaves the state untouched and
    /// returns [`TrainError::NonFinite`].
    pub fn step(&mut self) -> Result<StepReport> {
        let k = self.step + 1;
        let config = &self.config;
        let dim = self.net.dim();
        let mut rng = step_rng(config.seed, k);
        let mut batch = Batch::draw(
            &self.points,
            dim,
            config.batch_size,
            &config.loss,
            &self.sde,
            &mut rng,
        );
        if let Some(normalisation) = self.batch_normalisation {
            batch.x0 = normalisation.to_model(&batch.x0);
        }
        let StepGradient {
            total,
            matching,
            penalty,
            gradient: g,
        } = if self.replicas.is_empty() {
            self.gradient_one_device(&batch)
        } else {
            self.gradient_replicas(&batch)
        };
        let sq_norm = g
            .iter()
            .map(|g| g.clone().square().sum())
            .reduce(|a, b| a + b)
            .expect("the network has parameters");
        let mut stats = vec![total, matching, sq_norm];
        stats.extend(penalty);
        let values = to_vec(Tensor::cat(stats, 0));
        let (loss, matching, grad_norm) = (
            values[0] as f64,
            values[1] as f64,
            (values[2] as f64).sqrt(),
        );
        let penalty = values.get(3).map(|&p| p as f64);
        let fault = |what: &str, value: f64| TrainError::NonFinite {
            step: k,
            what: what.to_string(),
            value,
        };
        if !matching.is_finite() {
            return Err(fault(
                &format!("the {} loss term", config.loss.kind.name()),
                matching,
            ));
        }
        if let Some(p) = penalty.filter(|p| !p.is_finite()) {
            return Err(fault("the divergence penalty", p));
        }
        if !grad_norm.is_finite() {
            return Err(fault("the gradient norm", grad_norm));
        }
        let scale = config.adam.clip_factor(grad_norm);
        let lr = config.adam.lr_at(k, config.steps);
        let new = self
            .adam
            .update(&config.adam, lr, flatten(&self.net), g, scale);
        ema_update(&mut self.ema, &new, config.ema_decay_at(k));
        self.net = replace(self.net.clone(), new);
        self.step = k;
        Ok(StepReport {
            step: k,
            loss,
            matching,
            penalty,
            grad_norm,
            lr,
        })
    }

    /// The loss and gradient of `batch` on the trainer's one device.
    fn gradient_one_device(&self, batch: &Batch) -> StepGradient {
        let config = &self.config;
        let parts = evaluate(
            &self.net,
            config.parameterisation,
            &self.sde,
            &config.loss,
            batch,
            &self.device,
        );
        let mut grads = parts.total.backward();
        StepGradient {
            gradient: flatten_grads(&self.net, &mut grads),
            total: parts.total.inner(),
            matching: parts.matching.inner(),
            penalty: parts.penalty.map(|p| p.inner()),
        }
    }

    /// The loss and gradient of `batch` split over the replicas, which run concurrently (one
    /// task of the thread pool each, so that a step started on a worker never waits on threads
    /// outside the pool); their gradients are merged by the combination rule on the main device.
    fn gradient_replicas(&self, batch: &Batch) -> StepGradient {
        let devices: Vec<&Device> = std::iter::once(&self.device)
            .chain(&self.replicas)
            .collect();
        let config = &self.config;
        let sde = &self.sde;
        let main = &self.device;
        let work: Vec<_> = shards(batch.rows, devices.len())
            .into_iter()
            .zip(devices)
            .map(|((start, len), device)| {
                let replica = self.net.clone().fork(device);
                let weight = len as f64 / batch.rows as f64;
                (replica, batch.shard(start, len), weight, device)
            })
            .collect();
        let results: Vec<(GradientsParams, [Tensor<1>; 2], Option<Tensor<1>>)> = work
            .into_par_iter()
            .map(|(replica, shard, weight, device)| {
                let parts = evaluate(
                    &replica,
                    config.parameterisation,
                    sde,
                    &config.loss,
                    &shard,
                    device,
                );
                let total = parts.total * weight;
                let grads = GradientsParams::from_grads(total.backward(), &replica);
                let on_main = |t: Tensor<1>| (t.inner() * weight).to_device(main);
                (
                    grads,
                    [total.inner().to_device(main), on_main(parts.matching)],
                    parts.penalty.map(on_main),
                )
            })
            .collect();
        let sum = |terms: Vec<Tensor<1>>| terms.into_iter().reduce(|a, b| a + b);
        let mut totals = Vec::new();
        let mut matchings = Vec::new();
        let mut penalties = Vec::new();
        let mut grads = Vec::new();
        for (g, [total, matching], penalty) in results {
            grads.push(g);
            totals.push(total);
            matchings.push(matching);
            penalties.extend(penalty);
        }
        let combined = (self.combine)(&self.net, main, grads);
        StepGradient {
            gradient: flatten_gradients_params(&self.net, &combined),
            total: sum(totals).expect("at least one replica"),
            matching: sum(matchings).expect("at least one replica"),
            penalty: sum(penalties),
        }
    }
}

/// Receives progress from [`run`] and may ask it to stop.
pub trait Observer {
    fn on_step(&mut self, _report: &StepReport) {}
    fn on_checkpoint(&mut self, _path: &Path) {}
    /// Whether to hand the EMA score to [`Observer::on_evaluation`] after `step`.
    fn evaluate_at(&self, _step: u64) -> bool {
        false
    }
    /// Receives the score with the EMA weights after a step chosen by `evaluate_at`; an error
    /// stops the run (earlier checkpoints stay).
    fn on_evaluation(&mut self, _step: u64, _score: &dyn ScoreFn) -> Result<()> {
        Ok(())
    }
    /// Checked before every step: true stops the run after a final checkpoint.
    fn interrupted(&self) -> bool {
        false
    }
    /// A line for the user while the run goes on (an evaluation's result, say).
    fn on_message(&mut self, _line: &str) {}
}

/// How a run ended, with its last checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    Finished(PathBuf),
    Interrupted(PathBuf),
}

/// The loss log `log.csv` of a run folder.
pub const LOG_FILE: &str = "log.csv";
const LOG_HEADER: &str = "step,loss,matching,penalty,grad_norm,lr";

/// Appends to `run_dir/log.csv`, first dropping lines beyond `step` (left by a run that went
/// further than its last checkpoint).
struct LossLog {
    out: BufWriter<fs::File>,
    path: PathBuf,
}

impl LossLog {
    fn open(run_dir: &Path, step: u64) -> Result<Self> {
        let path = run_dir.join(LOG_FILE);
        let io = |e| TrainError::Core(CoreError::io(&path, e));
        fs::create_dir_all(run_dir).map_err(|e| TrainError::Core(CoreError::io(run_dir, e)))?;
        keep_rows_up_to(&path, LOG_HEADER, step)?;
        let file = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io)?;
        Ok(Self {
            out: BufWriter::new(file),
            path,
        })
    }

    fn write(&mut self, r: &StepReport) -> Result<()> {
        let penalty = r.penalty.map(|p| p.to_string()).unwrap_or_default();
        writeln!(
            self.out,
            "{},{},{},{},{},{}",
            r.step, r.loss, r.matching, penalty, r.grad_norm, r.lr
        )
        .map_err(|e| TrainError::Core(CoreError::io(&self.path, e)))?;
        // one line every few steps: flushing keeps the log current for anyone watching it
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| TrainError::Core(CoreError::io(&self.path, e)))
    }
}

/// Trains until `trainer.config.steps`, logging to `run_dir/log.csv` and checkpointing into
/// `run_dir` every `checkpoint_every` steps, at the end, and when the observer interrupts.
/// On a non-finite loss the error is returned and the previous checkpoints are left as they are.
pub fn run<N: ScoreNetwork>(
    trainer: &mut Trainer<N>,
    run_dir: &Path,
    observer: &mut dyn Observer,
) -> Result<RunOutcome> {
    let mut log = LossLog::open(run_dir, trainer.step_count())?;
    let mut saved: Option<(u64, PathBuf)> = None;
    let save = |trainer: &Trainer<N>, log: &mut LossLog, observer: &mut dyn Observer| {
        log.flush()?;
        let path = trainer.save(run_dir)?;
        observer.on_checkpoint(&path);
        Ok::<_, TrainError>((trainer.step_count(), path))
    };
    while trainer.step_count() < trainer.config.steps {
        if observer.interrupted() {
            let (_, path) = save(trainer, &mut log, observer)?;
            return Ok(RunOutcome::Interrupted(path));
        }
        let report = match trainer.step() {
            Ok(report) => report,
            Err(e) => {
                log.flush()?;
                return Err(e);
            }
        };
        let config = &trainer.config;
        if report.step % config.log_every == 0 || report.step == config.steps {
            log.write(&report)?;
        }
        observer.on_step(&report);
        if observer.evaluate_at(report.step) {
            log.flush()?;
            observer.on_evaluation(report.step, &trainer.ema_score())?;
        }
        if config.checkpoint_every > 0 && report.step % config.checkpoint_every == 0 {
            saved = Some(save(trainer, &mut log, observer)?);
        }
    }
    let path = match saved {
        Some((step, path)) if step == trainer.step_count() => path,
        _ => save(trainer, &mut log, observer)?.1,
    };
    Ok(RunOutcome::Finished(path))
}

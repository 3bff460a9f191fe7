//! The timed workloads of DESIGN §8 (`scorelab bench`), each measured as its PyTorch twin in
//! `scripts/peer/` measures it and reported as one JSON record.

use std::time::Instant;

use burn::module::Module;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

use serde_json::{json, Value};

use scorelab_core::datasets::{load_mnist, MnistSplit};
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::empirical::{empirical_score_f64, DEFAULT_DATA_CHUNK, DEFAULT_QUERY_CHUNK};
use scorelab_core::{DatasetSpec, EmpiricalScore, ScoreFn, Sde, Times};
use scorelab_sample::{sample, SamplerConfig, SamplerKind, TauGrid};
use scorelab_train::adam::AdamConfig;
use scorelab_train::{
    DataInfo, LossConfig, LossKind, Mlp, MlpConfig, ModelConfig, NetworkScore, Parameterisation,
    ScoreNetwork, TrainConfig, Trainer, UNet, UNetConfig,
};

use burn::tensor::Device;
use scorelab_train::training_set::shipped_path;

use crate::error::{JobError, Result};
use crate::train_job::replica_devices;

mod kernels;
mod trainers;

use kernels::{conv_throughput, matmul_peak};

use trainers::{w1_trainer, w5_trainer, W1_BATCH, W5_BATCH, W5_WARMUP_STEPS};

/// W3 as the peer's `empirical_score.py`: the empirical score of the N = 60,000 MNIST training
/// images (pixels in [0, 1], d = 784) under vp at t = 0.5, at M = 1,000 test images pushed
/// through the forward marginal. Reports the median and minimum wall time of `reps`
/// evaluations after one warm-up, GFLOP/s counted as 4·M·N·d (the two matrix products), and the
/// largest error of the first 4 scores against a direct f64 evaluation, relative to their
/// largest entry.
fn w3(args: &BenchOptions, on: &BenchDevices) -> Result<Value> {
    let device = on.device;
    let dir = shipped_path(&args.mnist_dir);
    let data = load_mnist(&dir, MnistSplit::Train)?;
    let test = load_mnist(&dir, MnistSplit::Test)?.subset(1000, 0);
    let (m, n, d) = (test.n, data.n, data.dim);
    let t = 0.5;
    let sde = Sde::vp(0.1, 20.0, 1.0)?;
    let (a, s2) = (sde.alpha(t), sde.sigma2(t));
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let queries = sde.perturb(&test.points, t, &mut rng);
    let score = EmpiricalScore::with_chunks(
        data.to_tensor(device),
        sde.clone(),
        args.query_chunk,
        args.data_chunk,
    )?;
    let x = tensor_from_rows(&queries, m, d, device);
    let mut times = Vec::new();
    let mut values = Vec::new();
    for rep in 0..=args.reps {
        let started = Instant::now();
        values = to_vec(score.score(x.clone(), &Times::Same(t)));
        if rep > 0 {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(JobError::failed("W3 produced non-finite scores"));
    }
    let reference = empirical_score_f64(&queries[..4 * d], &data.points, d, &sde, t);
    let scale = reference.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
    let error = reference
        .iter()
        .zip(&values)
        .fold(0.0f64, |acc, (r, v)| acc.max((r - *v as f64).abs()));
    let (median, min) = median_and_min(&mut times);
    let flops = 4.0 * m as f64 * n as f64 * d as f64;
    Ok(record(
        "W3",
        json!({
            "bench": "empirical_score", "data": "mnist",
            "N": n, "d": d, "M": m, "t": t, "a_t": a, "s2_t": s2,
            "gflop_per_eval": flops / 1e9, "reps": args.reps,
            "median_s": median, "min_s": min, "gflops": flops / median / 1e9,
            "rel_err_vs_f64": error / scale,
            "query_chunk": args.query_chunk, "data_chunk": args.data_chunk,
        }),
        on.backend,
    ))
}

/// Sorts `times` and returns their median and minimum.
fn median_and_min(times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}

/// A workload's record with the fields every workload shares (workload, framework, device,
/// threads).
fn record(workload: &str, mut record: Value, backend: &str) -> Value {
    record["workload"] = json!(workload);
    record["framework"] = json!(format!("scorelab-{backend}"));
    record["device"] = json!(backend);
    record["threads"] = json!(rayon::current_num_threads());
    record
}

/// Warm-up steps before the timed ones, as in the peer's training loop.
const WARMUP_STEPS: u64 = 50;
/// Losses averaged for `mean_loss_last_100`, as in the peer.
const LAST_LOSSES: usize = 100;

/// The peer's name of a training workload.
fn training_bench_name(loss: LossKind) -> &'static str {
    match loss {
        LossKind::Dsm => "swissroll_train_dsm",
        LossKind::Ssm => "swissroll_train_sliced",
        _ => "swissroll_train_hyvarinen",
    }
}

/// Training steps per second of the W1 network with `loss`, as the peer's `train_loop`:
/// `reps` timed runs of `train_steps` steps each after 50 warm-up steps; the median run is
/// reported (with every run's rate) and the losses of the last 100 steps.
fn training_rate(args: &BenchOptions, on: &TrainingDevices, loss: LossKind) -> Result<Value> {
    let devices = on.devices;
    let mut trainer = w1_trainer(&devices[0], loss)?.with_replicas(replica_devices(devices))?;
    let (mut walls, losses) =
        time_training(&mut trainer, WARMUP_STEPS, args.train_steps, args.reps)?;
    let rates: Vec<f64> = walls.iter().map(|w| args.train_steps as f64 / w).collect();
    let (wall, _) = median_and_min(&mut walls);
    let last = &losses[losses.len().saturating_sub(LAST_LOSSES)..];
    let steps_per_s = args.train_steps as f64 / wall;
    Ok(record(
        if loss == LossKind::Dsm { "W1" } else { "W4" },
        json!({
            "bench": training_bench_name(loss),
            "loss": loss.name(),
            "steps": args.train_steps,
            "warmup_steps": WARMUP_STEPS,
            "batch": W1_BATCH,
            "reps": args.reps,
            "wall_s": wall,
            "steps_per_s": steps_per_s,
            "steps_per_s_all": rates,
            "samples_per_s": steps_per_s * W1_BATCH as f64,
            "final_loss": last.last().copied().unwrap_or(f64::NAN),
            "mean_loss_last_100": last.iter().sum::<f64>() / last.len().max(1) as f64,
            "loss_finite": last.iter().all(|l| l.is_finite()),
            "devices": on.list,
        }),
        on.backend,
    ))
}

/// `reps` timed runs of `steps` training steps after `warmup` untimed ones: the wall time of
/// each run and every timed step's loss.
fn time_training<N: ScoreNetwork>(
    trainer: &mut Trainer<N>,
    warmup: u64,
    steps: u64,
    reps: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    for _ in 0..warmup {
        trainer.step()?;
    }
    let mut walls = Vec::new();
    let mut losses = Vec::new();
    for _ in 0..reps {
        let started = Instant::now();
        for _ in 0..steps {
            losses.push(trainer.step()?.loss);
        }
        walls.push(started.elapsed().as_secs_f64());
    }
    Ok((walls, losses))
}

/// W5: training steps per second of the tiny MNIST U-Net (the peer's
/// `scripts/peer/unet_train.py` twin): `reps` timed runs of `--unet-steps` steps after 5
/// warm-up steps, the median run reported with every run's rate.
fn w5(args: &BenchOptions, on: &TrainingDevices) -> Result<Value> {
    let devices = on.devices;
    let mut trainer = w5_trainer(args, &devices[0])?.with_replicas(replica_devices(devices))?;
    let params = trainer.network().num_params();
    let (mut walls, losses) =
        time_training(&mut trainer, W5_WARMUP_STEPS, args.unet_steps, args.reps)?;
    let rates: Vec<f64> = walls.iter().map(|w| args.unet_steps as f64 / w).collect();
    let (wall, _) = median_and_min(&mut walls);
    let steps_per_s = args.unet_steps as f64 / wall;
    let last = &losses[losses.len().saturating_sub(args.unet_steps as usize)..];
    Ok(record(
        "W5",
        json!({
            "bench": "mnist_unet_dsm",
            "preset": "tiny",
            "params": params,
            "steps": args.unet_steps,
            "warmup_steps": W5_WARMUP_STEPS,
            "batch": W5_BATCH,
            "reps": args.reps,
            "wall_s": wall,
            "steps_per_s": steps_per_s,
            "steps_per_s_all": rates,
            "images_per_s": steps_per_s * W5_BATCH as f64,
            "mean_loss_last": last.iter().sum::<f64>() / last.len().max(1) as f64,
            "loss_finite": last.iter().all(|l| l.is_finite()),
            "devices": on.list,
        }),
        on.backend,
    ))
}

/// Untimed dsm steps before W2 samples, as in the peer.
const W2_TRAIN_STEPS: usize = 300;
/// Multiply-adds ×2 of one forward pass of the W1 network:
/// 2·(34·256 + 2·256·256 + 256·2) flop per sample.
const W1_FORWARD_FLOPS: f64 = 280_576.0;

/// W2 as the peer's `swissroll_sample.py`: the W1 network after 300 untimed dsm steps, 10,000
/// samples, 1,000 Euler–Maruyama steps on a uniform grid from T to t_min = 1e-3; the median
/// wall time of `reps` runs after a short warm-up.
fn w2(args: &BenchOptions, on: &BenchDevices) -> Result<Value> {
    let device = on.device;
    let mut trainer = w1_trainer(device, LossKind::Dsm)?;
    for _ in 0..W2_TRAIN_STEPS {
        trainer.step()?;
    }
    let score = NetworkScore::new(
        trainer.network(),
        trainer.sde.clone(),
        Parameterisation::Score,
    );
    let mut config = SamplerConfig::new(SamplerKind::EulerMaruyama, args.sample_steps, 1e-3);
    config.grid = TauGrid::Uniform;
    let mut warm = config.clone();
    warm.steps = 5;
    sample(&score, &warm, args.samples, device, &mut |_| {})?;
    let mut walls = Vec::new();
    let mut nonfinite = 0;
    for _ in 0..args.reps {
        let started = Instant::now();
        let out = sample(&score, &config, args.samples, device, &mut |_| {})?;
        walls.push(started.elapsed().as_secs_f64());
        nonfinite = out.nonfinite_rows.len();
    }
    let all = walls.clone();
    let (wall, _) = median_and_min(&mut walls);
    let sample_steps = (args.samples * args.sample_steps) as f64;
    Ok(record(
        "W2",
        json!({
            "bench": "swissroll_sample_em",
            "samples": args.samples,
            "steps": args.sample_steps,
            "train_steps": W2_TRAIN_STEPS,
            "reps": args.reps,
            "wall_s": wall,
            "wall_s_all": all,
            "sample_steps_per_s": sample_steps / wall,
            "est_gflops": W1_FORWARD_FLOPS * sample_steps / wall / 1e9,
            "finite": nonfinite == 0,
        }),
        on.backend,
    ))
}

/// The sizes of the workloads (with the `clap` feature: the flags of `bench`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct BenchOptions {
    /// W2: number of samples.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10_000))]
    pub samples: usize,
    /// W2: Euler–Maruyama steps.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1000))]
    pub sample_steps: usize,
    /// W1/W4: timed training steps per repetition (the peer times 2,000 for W1, 500 for W4).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 500))]
    pub train_steps: u64,
    /// W5: timed U-Net training steps per repetition.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 50))]
    pub unet_steps: u64,
    /// Timed repetitions (after a warm-up); the median is reported.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3))]
    pub reps: usize,
    /// Folder with the four MNIST .gz files.
    #[cfg_attr(feature = "clap", arg(long, default_value = "datasets/mnist"))]
    pub mnist_dir: PathBuf,
    /// Training points per chunk of the streaming softmax.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_DATA_CHUNK))]
    pub data_chunk: usize,
    /// Query rows per block.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_QUERY_CHUNK))]
    pub query_chunk: usize,
}

impl Default for BenchOptions {
    /// The sizes of DESIGN §8 (W1/W4 time 500 steps, W5 50).
    fn default() -> Self {
        BenchOptions {
            samples: 10_000,
            sample_steps: 1000,
            train_steps: 500,
            unet_steps: 50,
            reps: 3,
            mnist_dir: PathBuf::from("datasets/mnist"),
            data_chunk: DEFAULT_DATA_CHUNK,
            query_chunk: DEFAULT_QUERY_CHUNK,
        }
    }
}

/// The device of the sampling and matrix workloads, with the backend's name.
pub struct BenchDevices<'a> {
    pub device: &'a Device,
    pub backend: &'a str,
}

/// The devices of a training workload (main device first), the list as written and the
/// backend's name.
pub struct TrainingDevices<'a> {
    pub devices: &'a [Device],
    pub list: &'a str,
    pub backend: &'a str,
}

/// A workload of DESIGN §8, or the matrix-product peak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    W1,
    W2,
    W3,
    W4,
    W5,
    Matmul,
    Conv,
}

impl Workload {
    /// The workloads a name stands for (`all`: W1 to W5), any case.
    pub fn parse_list(name: &str) -> Result<Vec<Workload>> {
        use Workload::*;
        Ok(match name.to_lowercase().as_str() {
            "w1" => vec![W1],
            "w2" => vec![W2],
            "w3" => vec![W3],
            "w4" => vec![W4],
            "w5" => vec![W5],
            "all" => vec![W1, W2, W3, W4, W5],
            "matmul" => vec![Matmul],
            "conv" => vec![Conv],
            other => {
                return Err(JobError::options(format!(
                    "unknown workload '{other}' (available: w1, w2, w3, w4, w5, all, matmul, conv)"
                )))
            }
        })
    }

    /// Whether it trains (and so runs on a device list).
    pub fn trains(self) -> bool {
        matches!(self, Workload::W1 | Workload::W4 | Workload::W5)
    }
}

impl BenchOptions {
    /// Refuses zero repetitions or steps.
    pub fn check(&self) -> Result<()> {
        if self.reps == 0 || self.train_steps == 0 {
            return Err(JobError::options("⟨reps⟩ and ⟨train-steps⟩ must be >= 1"));
        }
        Ok(())
    }

    /// Runs a workload that does not train and returns its record.
    pub fn run(&self, workload: Workload, on: &BenchDevices) -> Result<Value> {
        match workload {
            Workload::W2 => w2(self, on),
            Workload::W3 => w3(self, on),
            Workload::Matmul => matmul_peak(self, on),
            Workload::Conv => conv_throughput(self, on),
            training => Err(JobError::options(format!(
                "{training:?} trains: run it on training devices"
            ))),
        }
    }

    /// Runs a training workload and returns its records (W4: ssm, then hyvarinen).
    pub fn run_training(&self, workload: Workload, on: &TrainingDevices) -> Result<Vec<Value>> {
        match workload {
            Workload::W1 => Ok(vec![training_rate(self, on, LossKind::Dsm)?]),
            Workload::W4 => Ok(vec![
                training_rate(self, on, LossKind::Ssm)?,
                training_rate(self, on, LossKind::Hyvarinen)?,
            ]),
            Workload::W5 => Ok(vec![w5(self, on)?]),
            other => Err(JobError::options(format!(
                "{other:?} does not train: run it on one device"
            ))),
        }
    }
}

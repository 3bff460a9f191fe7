//! The flags of `train` and `bench`.

use std::path::PathBuf;

use clap::Args;
use scorelab_train::classifier::ClassifierConfig;

use super::*;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Workload: w1, w2, w3, w4, w5 (the tiny MNIST U-Net's training), all, or matmul (the
    /// backend's matrix-product throughput at the peer's shapes).
    pub workload: String,
    /// W2: number of samples.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    /// W2: Euler–Maruyama steps.
    #[arg(long, default_value_t = 1000)]
    pub sample_steps: usize,
    /// W1/W4: timed training steps per repetition (the peer times 2,000 for W1, 500 for W4).
    #[arg(long, default_value_t = 500)]
    pub train_steps: u64,
    /// W5: timed U-Net training steps per repetition.
    #[arg(long, default_value_t = 50)]
    pub unet_steps: u64,
    /// Threads of the CPU backend [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Backend: cpu (flex), ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The training workloads (W1, W4, W5) data-parallel on these devices, as `train --devices`.
    #[arg(long, conflicts_with = "device")]
    pub devices: Option<String>,
    /// Timed repetitions (after a warm-up); the median is reported.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Folder with the four MNIST .gz files.
    #[arg(long, default_value = "datasets/mnist")]
    pub mnist_dir: PathBuf,
    /// Training points per chunk of the streaming softmax.
    #[arg(long, default_value_t = scorelab_core::empirical::DEFAULT_DATA_CHUNK)]
    pub data_chunk: usize,
    /// Query rows per block.
    #[arg(long, default_value_t = scorelab_core::empirical::DEFAULT_QUERY_CHUNK)]
    pub query_chunk: usize,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// TOML or JSON file of options, keyed by long flag names (e.g. `batch-size = 512`);
    /// flags given on the command line override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub sde: SdeArgs,
    /// Network: mlp (point data) or unet (images).
    #[arg(long, default_value = "mlp")]
    pub model: String,
    /// U-Net size: tiny (CPU, minutes), small or base (GPU).
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// U-Net: channels of the first level [default: the preset's, 16 / 32 / 64].
    #[arg(long)]
    pub channels: Option<usize>,
    /// MLP: width of the hidden layers.
    #[arg(long, default_value_t = 256)]
    pub width: usize,
    /// MLP: number of hidden layers.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Size of the sinusoidal time embedding (even).
    #[arg(long, default_value_t = 32)]
    pub embedding: usize,
    /// MLP: residual connections between hidden layers.
    #[arg(long)]
    pub residual: bool,
    /// What the network outputs: eps (the noise, s = −net/σ), score (s = net), x0 (the clean
    /// point) or edm (Karras et al.'s preconditioned denoiser, σ_data from --sigma-data). eps
    /// copes with the 1/σ growth of the score near t = 0 far better than score.
    #[arg(long, visible_alias = "param", default_value = "eps")]
    pub parameterisation: String,
    /// σ_data of --param edm and --weighting edm [default: the root mean square of the
    /// normalised training coordinates].
    #[arg(long)]
    pub sigma_data: Option<f64>,
    /// Objective: dsm, ssm (sliced) or hyvarinen (exact divergence).
    #[arg(long, default_value = "dsm")]
    pub loss: String,
    /// Time weighting λ(t): sigma2, likelihood (g²), none, or edm (Karras et al.'s
    /// (σ̃² + σ_data²)/(σ̃ σ_data)² on the denoiser error).
    #[arg(long, default_value = "sigma2")]
    pub weighting: String,
    /// Training times: uniform in [t-eps, T], or log-normal (ln σ̃ ~ N(--p-mean, --p-std²) as in
    /// EDM, mapped to t and clamped to [t-eps, T]).
    #[arg(long, default_value = "uniform")]
    pub t_sampling: String,
    /// log-normal: mean of ln σ̃ [default: −1.2].
    #[arg(long)]
    pub p_mean: Option<f64>,
    /// log-normal: standard deviation of ln σ̃ [default: 1.2].
    #[arg(long)]
    pub p_std: Option<f64>,
    /// Lower end of the training times [default: 1e-5 for vp, subvp, cvp; 1e-3 otherwise].
    #[arg(long)]
    pub t_eps: Option<f64>,
    /// ssm: projections per point.
    #[arg(long, default_value_t = 1)]
    pub projections: usize,
    /// ssm: projection distribution, gaussian or rademacher.
    #[arg(long, default_value = "gaussian")]
    pub projection: String,
    /// Divergence penalty added to the loss: none, full, negative or li-yau.
    #[arg(long, default_value = "none")]
    pub penalty: String,
    /// Weight γ of the divergence penalty.
    #[arg(long, default_value_t = 0.0)]
    pub gamma: f64,
    /// Divergence for the penalty: 0 = exact trace (d JVPs per point), m = Hutchinson estimate
    /// with m Rademacher probes [default: 0 for d ≤ 64, 1 above].
    #[arg(long)]
    pub div_probes: Option<usize>,
    /// Optimisation steps (with --resume: the new total).
    #[arg(long, default_value_t = 10_000)]
    pub steps: u64,
    /// Points per batch.
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Steps of linear learning-rate warm-up.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Clip the gradient to this global L2 norm [default: no clipping].
    #[arg(long)]
    pub grad_clip: Option<f64>,
    /// Decay of the exponential moving average of the weights (sampling uses the average).
    #[arg(long, default_value_t = 0.999)]
    pub ema_decay: f64,
    /// Seed of the initialisation and every batch (and of the data, unless --data-seed).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write a checkpoint every this many steps (0: only at the end).
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: u64,
    /// Keep this many most recent checkpoints.
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    /// Append to log.csv every this many steps.
    #[arg(long, default_value_t = 10)]
    pub log_every: u64,
    /// Every this many steps, sample --eval-samples points with the EMA weights and append the
    /// memorised fraction, d1 and (2-D) sliced W2 to fresh data to eval.csv (0: never).
    #[arg(long, default_value_t = 0)]
    pub eval_every: u64,
    /// Samples per evaluation (see --eval-every).
    #[arg(long, default_value_t = 500)]
    pub eval_samples: usize,
    /// Backend: cpu (flex), ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Train data-parallel on these devices: cpu:0,cpu:1 (replicas sharing the CPU), wgpu:0,wgpu:1,
    /// wgpu:all, cuda:all (builds with the cuda feature). Each step's batch is split across
    /// them and their gradients are combined on the first; results match one device.
    #[arg(long, conflicts_with = "device")]
    pub devices: Option<String>,
    /// Run folder: checkpoints ckpt-STEP/ and log.csv.
    #[arg(long, default_value = "out/train")]
    pub out: PathBuf,
    /// Start afresh in a run folder that already holds a run (its checkpoints and log are deleted).
    #[arg(long)]
    pub force: bool,
    /// Continue the run in --out from its newest checkpoint (only --steps, --checkpoint-every,
    /// --keep, --log-every, --device and --devices may be given).
    #[arg(long)]
    pub resume: bool,
    /// With --resume: continue from the checkpoint at this step instead of the newest valid one
    /// (later checkpoints are replaced as the run passes their steps).
    #[arg(long, requires = "resume")]
    pub resume_from: Option<u64>,
}

/// `scorelab train-classifier` arguments.
#[derive(Debug, Clone, Args)]
pub struct TrainClassifierArgs {
    /// Folder with the four MNIST .gz files.
    #[arg(long, default_value = "datasets/mnist")]
    pub mnist_dir: PathBuf,
    /// Passes over the training set.
    #[arg(long, default_value_t = ClassifierConfig::default().epochs)]
    pub epochs: usize,
    /// Images per step.
    #[arg(long, default_value_t = ClassifierConfig::default().batch_size)]
    pub batch_size: usize,
    /// Peak Adam learning rate (cosine decay to zero over the run).
    #[arg(long, default_value_t = ClassifierConfig::default().lr)]
    pub lr: f64,
    /// Seed of the weights, the batch order and the --n-train subset.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train on a seeded subset of this many training images [default: all 60,000].
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Backend: cpu (flex), ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output folder (model.bpk + meta.json).
    #[arg(long, default_value = "out/mnist-classifier")]
    pub out: PathBuf,
    /// Replace an existing classifier folder.
    #[arg(long)]
    pub force: bool,
}

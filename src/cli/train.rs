//! The flags of `train` and `bench`.

use std::path::PathBuf;

use clap::Args;
use scorelab_jobs::bench::BenchOptions;
use scorelab_jobs::TrainOptions;
use scorelab_train::classifier::ClassifierConfig;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Workload: w1, w2, w3, w4, w5 (the tiny MNIST U-Net's training), all, matmul (the
    /// backend's matrix-product throughput at the peer's shapes) or conv (its 3×3 convolution
    /// throughput, forward and input gradient, at the U-Net's shapes).
    pub workload: String,
    #[command(flatten)]
    pub options: BenchOptions,
    /// Threads of the CPU backend [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Backend: cpu (flex), ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The training workloads (W1, W4, W5) data-parallel on these devices, as `train --devices`.
    #[arg(long, conflicts_with = "device")]
    pub devices: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// TOML or JSON file of options, keyed by long flag names (e.g. `batch-size = 512`);
    /// flags given on the command line override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub options: TrainOptions,
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

//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Score-based generative models: train, sample, and measure memorisation against the
/// empirical score.
#[derive(Debug, Parser)]
#[command(name = "scorelab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a score network and write checkpoints and a loss log into a run folder.
    Train(Box<TrainArgs>),
    /// Run reverse-time dynamics with a score and write samples, a summary and a picture.
    Sample(Box<SampleArgs>),
    /// Time performance workloads of the design (W1: dsm training, W2: sampling with the W1
    /// network, W3: empirical score on MNIST, W4: ssm and hyvarinen training) and print one
    /// JSON line per workload.
    Bench(BenchArgs),
    /// Train the MNIST classifier used to measure sample quality (features and class
    /// frequencies) and write it as model.bpk + meta.json.
    TrainClassifier(crate::classifier_cmd::TrainClassifierArgs),
    /// Train a Swiss-roll score, sample it and the empirical score of its training set, and
    /// write a report comparing their memorisation, quality and reverse paths.
    Demo(DemoArgs),
    /// Draw columns of a CSV file against another as curves (PNG), e.g. an experiment's table.
    Plot(PlotArgs),
    /// Push a 2-D dataset through an SDE's forward marginals at chosen times and draw them
    /// side by side, with how far the state at T still is from the prior (sliced W2).
    Forward(Box<ForwardArgs>),
    /// Show what a checkpoint, a training run folder or a classifier folder holds: model, SDE,
    /// data, steps, last logged loss, EMA age, weights digests and the commands that made it.
    Inspect(crate::inspect_cmd::InspectArgs),
    /// Measure memorisation and quality: of samples, along reverse paths, the imitation rate
    /// and early stopping.
    Analyze {
        #[command(subcommand)]
        what: AnalyzeCommand,
    },
}

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

/// Which data, as shared by every command that needs a training set.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Dataset: swissroll, lemniscate, circle, diracs, gmm, mnist or csv.
    #[arg(long, default_value = "swissroll")]
    pub dataset: String,
    /// Number of training points (circle: number of points K; mnist: a seeded subset;
    /// default for drawn 2-D data: 100 for sample, 10,000 for train; 9 for circle; all of MNIST).
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Standard deviation of Gaussian noise added to swissroll (before the /7 scaling) or lemniscate points.
    #[arg(long, default_value_t = 0.0)]
    pub noise: f64,
    /// Points of the diracs dataset: coordinates separated by ',' and points by ';'.
    #[arg(long, default_value = "-1,0;1,0", allow_hyphen_values = true)]
    pub points: String,
    /// File of points for --dataset csv: CSV (one point per line) or .npy (float32 or float64,
    /// [N, d] or [N, C, H, W], C or Fortran order).
    #[arg(long)]
    pub data_file: Option<PathBuf>,
    /// Folder with the four MNIST .gz files.
    #[arg(long, default_value = "datasets/mnist")]
    pub mnist_dir: PathBuf,
    /// MNIST split: train or test.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// MNIST: only part i of k disjoint parts of the split, "i/k" (e.g. 1/2 and 2/2 with the
    /// same --data-seed are disjoint halves); --n-train then takes the first n of the part.
    #[arg(long)]
    pub part: Option<String>,
    /// Seed of the training-set draw or subset (default: --seed).
    #[arg(long)]
    pub data_seed: Option<u64>,
}

/// The forward SDE and its parameters (unset ones take the documented defaults).
#[derive(Debug, Clone, Args)]
pub struct SdeArgs {
    /// Forward SDE: ve, vp, subvp, ou, cou, cvp or heat.
    #[arg(long, default_value = "vp")]
    pub sde: String,
    /// ve: smallest noise level [default: 0.01].
    #[arg(long)]
    pub sigma_min: Option<f64>,
    /// ve: largest noise level [default: largest pairwise distance of the training data, over
    /// a seeded 2,000-point subset when there are more points].
    #[arg(long)]
    pub sigma_max: Option<f64>,
    /// vp, subvp, cvp: β at t = 0 [default: 0.1].
    #[arg(long)]
    pub beta_min: Option<f64>,
    /// vp, subvp: β at t = T [default: 20]; cvp [default: 2].
    #[arg(long)]
    pub beta_max: Option<f64>,
    /// ou, cou: rate θ [default: 1].
    #[arg(long)]
    pub theta: Option<f64>,
    /// ou, cou: diffusion σ [default: √2 for ou, 1 for cou].
    #[arg(long)]
    pub sigma: Option<f64>,
    /// ou, cou: centre μ [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    pub mu: Option<f64>,
    /// heat: diffusion c [default: √2, the heat equation ∂u/∂t = Δu].
    #[arg(long)]
    pub c: Option<f64>,
    /// Final time T [default: 5 for ou, 1 otherwise].
    #[arg(long)]
    pub t_end: Option<f64>,
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

/// Which score, and the training set it is compared against.
#[derive(Debug, Clone, Args)]
pub struct ScoreArgs {
    /// Score: empirical (exact score of the smoothed training set), exact (analytic; gmm only)
    /// or checkpoint (a trained network; see --checkpoint) [default: checkpoint when
    /// --checkpoint is given, else empirical].
    #[arg(long)]
    pub score: Option<String>,
    /// Checkpoint folder, or a run folder (its newest valid checkpoint); implies --score
    /// checkpoint. The SDE and the training set come from the checkpoint; data and SDE flags
    /// given with it are ignored, with a warning.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Which weights of the checkpoint: ema (the moving average) or raw (the last step's).
    #[arg(long, default_value = "ema")]
    pub weights: String,
    /// With a run folder as --checkpoint: its checkpoint at this step [default: the newest one
    /// that is complete and undamaged, saying which newer ones were passed over].
    #[arg(long)]
    pub step: Option<u64>,
    /// Add a constant vector e to the score (comma-separated, length d): a perturbed score.
    #[arg(long, allow_hyphen_values = true)]
    pub perturb: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub sde: SdeArgs,
    /// Empirical score: training points per chunk of the streaming softmax.
    #[arg(long, default_value_t = scorelab_core::empirical::DEFAULT_DATA_CHUNK)]
    pub data_chunk: usize,
    /// Empirical score: query rows per block.
    #[arg(long, default_value_t = scorelab_core::empirical::DEFAULT_QUERY_CHUNK)]
    pub query_chunk: usize,
}

impl ScoreArgs {
    /// The score named by --score, or implied by --checkpoint.
    pub fn score_name(&self) -> &str {
        match (&self.score, &self.checkpoint) {
            (Some(name), _) => name,
            (None, Some(_)) => "checkpoint",
            (None, None) => "empirical",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// TOML or JSON file of options, keyed by long flag names (e.g. `t-min = 1e-4`); flags
    /// given on the command line override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub source: ScoreArgs,
    #[command(flatten)]
    pub integrator: SamplerArgs,
    /// Finish with one Tweedie denoising step at t-min.
    #[arg(long)]
    pub denoise: bool,
    /// Record the whole batch at these times τ (comma-separated) into path.npy.
    #[arg(long)]
    pub record: Option<String>,
    /// Number of samples.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Backend: cpu (flex), ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output folder.
    #[arg(long, default_value = "out/sample")]
    pub out: PathBuf,
    /// Write into the output folder even if it exists (overwriting files of the same name).
    #[arg(long)]
    pub force: bool,
    /// Keep only the finite samples if some diverge (otherwise that is an error).
    #[arg(long)]
    pub keep_finite: bool,
    /// Images: keep the raw values in samples.npy instead of clipping them to the pixel range
    /// [0, 1] (the fraction outside is reported either way; PNGs always clip).
    #[arg(long)]
    pub no_clip: bool,
}

/// The reverse-time integrator and its grid.
#[derive(Debug, Clone, Args)]
pub struct SamplerArgs {
    /// Integrator: em, pc, ode-euler, ode-heun, ode-rk4, ode-rk45 (adaptive), exp or ddim (DDIM
    /// family, --eta), edm (Karras et al.'s Heun sampler on the ρ-schedule) or dpm2m
    /// (DPM-Solver++(2M)).
    #[arg(long, default_value = "em")]
    pub sampler: String,
    /// Number of integration steps.
    #[arg(long, default_value_t = scorelab_sample::options::DEFAULT_STEPS)]
    pub steps: usize,
    /// Instead of --steps: spend at most this many score (network) evaluations per sample,
    /// with as many steps as fit (not for ode-rk45).
    #[arg(long, conflicts_with = "steps")]
    pub nfe: Option<usize>,
    /// Early-stopping time: integrate from T down to t-min > 0.
    #[arg(long, default_value_t = scorelab_sample::options::DEFAULT_T_MIN)]
    pub t_min: f64,
    /// τ grid: uniform, quadratic (finer near t-min) or log.
    #[arg(long, default_value = scorelab_sample::options::DEFAULT_GRID)]
    pub grid: String,
    /// Viscosity ε of em, pc and ode-* (0: probability-flow ODE, 1: reverse SDE) [default: 0
    /// for ode-*, 1 otherwise]. Not for exp, which takes --eta.
    #[arg(long, allow_hyphen_values = true)]
    pub eps: Option<f64>,
    /// exp only: DDIM's η in [0, 1]; each step adds the fraction η² of the Gaussian posterior's
    /// variance (1: the posterior, 0: deterministic DDIM), which approximates viscosity η²
    /// [default: 1].
    #[arg(long, allow_hyphen_values = true)]
    pub eta: Option<f64>,
    /// ode-rk45: relative tolerance of the local error [default: 1e-5]; --steps sets the
    /// first step, (T − t-min)/steps.
    #[arg(long)]
    pub rtol: Option<f64>,
    /// ode-rk45: absolute tolerance of the local error [default: 1e-5].
    #[arg(long)]
    pub atol: Option<f64>,
    /// edm: exponent ρ of the σ-schedule σ_i = (σ_max^{1/ρ} + i/N (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ
    /// [default: 7].
    #[arg(long)]
    pub rho: Option<f64>,
    /// edm: S_churn, the total stochastic churn (0: deterministic) [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    pub churn: Option<f64>,
    /// edm: churn only where σ̃ = σ/α ≥ this (S_tmin) [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    pub churn_sigma_min: Option<f64>,
    /// edm: churn only where σ̃ ≤ this (S_tmax) [default: no limit].
    #[arg(long, allow_hyphen_values = true)]
    pub churn_sigma_max: Option<f64>,
    /// edm: scale of the churn noise (S_noise) [default: 1].
    #[arg(long, allow_hyphen_values = true)]
    pub churn_noise: Option<f64>,
    /// Predictor–corrector: target signal-to-noise ratio of the Langevin steps.
    #[arg(long, default_value_t = scorelab_sample::options::DEFAULT_SNR)]
    pub snr: f64,
    /// Predictor–corrector: Langevin steps per predictor step.
    #[arg(long, default_value_t = 1)]
    pub corrector_steps: usize,
    /// Law of the starting points X_T: nominal (the SDE's prior), moment (the Gaussian with
    /// p_T's mean and covariance, from the training set) or exact (p_T itself, x_T = α y_i + c
    /// + σ z; empirical score only). nominal is far from p_T for heat, ve, cou and cvp.
    #[arg(long, default_value = "nominal")]
    pub prior: String,
    /// Seed of the prior draw and the sampler noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// What `scorelab analyze` measures.
#[derive(Debug, Subcommand)]
pub enum AnalyzeCommand {
    /// Nearest-neighbour distances d1, d2 of samples to their training set: memorised fraction
    /// (d1/d2 below a threshold), the d1 distribution next to fresh data, on-manifold distance
    /// (Swiss roll) and sample quality.
    Memorization(Box<MemorizationArgs>),
    /// Reverse paths of a score and of the empirical score of its training set from the same
    /// noise: distance to the training set, score gap, Novikov exponent, Li–Yau bound.
    Paths(Box<PathsArgs>),
    /// Imitation rate of the empirical-score ODE of the heat SDE: the log-log slope of the
    /// distance to the nearest training point against τ (theory: 1/2).
    Rate(Box<RateArgs>),
    /// Memorisation and quality of samples stopped at several t_min.
    Tmin(Box<TminArgs>),
    /// Negative log-likelihood of points under a score through the probability-flow ODE with
    /// the exact divergence: the training set against fresh data (a memorisation signal).
    Likelihood(Box<LikelihoodArgs>),
    /// Fisher divergence E‖s − ∇log p_t‖² of a score against the exact score of a Gaussian
    /// mixture (--dataset gmm), against t.
    Fisher(Box<FisherArgs>),
    /// Two scores trained on disjoint training sets, sampled from the same noise: distance
    /// between paired samples against each sample's distance to its own training set.
    Agreement(Box<AgreementArgs>),
    /// Curves of the memorised fraction, d1 and quality against training steps from the
    /// eval.csv files of several runs (see train --eval-every).
    Training(Box<TrainingCurvesArgs>),
    /// Voronoi cells along reverse paths: when each path is trapped in the cell of the
    /// training point it converges to, and whether that is the cell it started in.
    Cells(Box<CellsArgs>),
    /// Two sample files compared directly: sliced W2 and energy distance (and the classifier
    /// Fréchet distance for MNIST-shaped arrays), each beside the same metric between two
    /// halves of the second file, the noise floor.
    Compare(Box<CompareArgs>),
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Samples to judge (.npy of any shape [n, ...], or CSV).
    #[arg(long)]
    pub a: PathBuf,
    /// Reference samples (.npy or CSV); two halves of it give the noise floor.
    #[arg(long)]
    pub b: PathBuf,
    /// Seed of the split into halves and of the sliced-W2 directions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub classifier: ClassifierArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CellsArgs {
    #[command(flatten)]
    pub source: ScoreArgs,
    #[command(flatten)]
    pub integrator: SamplerArgs,
    /// Number of paths.
    #[arg(long, default_value_t = 500)]
    pub n: usize,
    /// Recorded states along the run, evenly spaced in step index (first and last included).
    #[arg(long, default_value_t = 100)]
    pub records: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Output folder and backend, shared by the analysis commands.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// TOML or JSON file of options, keyed by long flag names (e.g. `t-min = 1e-4`); flags
    /// given on the command line override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write into the output folder even if it exists (overwriting files of the same name).
    #[arg(long)]
    pub force: bool,
    /// Backend: cpu (flex), ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

#[derive(Debug, Clone, Args)]
pub struct MemorizationArgs {
    /// Samples as .npy (rows of length d, or images [n, 1, 28, 28]) or CSV (x0,x1,... header).
    #[arg(long)]
    pub samples: PathBuf,
    /// Take the training set from this checkpoint (or run folder) instead of the data flags.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Use the data flags even when a summary.json from `scorelab sample` sits beside the
    /// samples (by default its training set is used).
    #[arg(long)]
    pub ignore_summary: bool,
    #[command(flatten)]
    pub data: DataArgs,
    /// Default seed of the training-set draw (as in `sample --seed`).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A sample is memorised when d1/d2 is below this.
    #[arg(long, default_value_t = 1.0 / 3.0)]
    pub threshold: f64,
    /// Size of the fresh reference draw [default: as many as samples].
    #[arg(long)]
    pub fresh: Option<usize>,
    #[command(flatten)]
    pub classifier: ClassifierArgs,
    #[command(flatten)]
    pub table: TableArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A shared CSV table that a run appends one row of its key numbers to (how the experiment
/// scripts build their tables).
#[derive(Debug, Clone, Args)]
pub struct TableArgs {
    /// Also append this run's key numbers as one row (named by --label) to this CSV table,
    /// which several runs share (created with its header when absent).
    #[arg(long, requires = "label")]
    pub table: Option<PathBuf>,
    /// Name of this run's row in --table.
    #[arg(long, requires = "table")]
    pub label: Option<String>,
}

/// The MNIST classifier whose features give the Fréchet distance of image samples.
#[derive(Debug, Clone, Args)]
pub struct ClassifierArgs {
    /// Classifier checkpoint (from `scorelab train-classifier`) for the quality of MNIST
    /// samples [default: the reference classifier shipped in checkpoints/mnist-classifier].
    #[arg(long)]
    pub classifier: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PathsArgs {
    #[command(flatten)]
    pub source: ScoreArgs,
    #[command(flatten)]
    pub integrator: SamplerArgs,
    /// Also run a perturbed empirical score s_emp + e (comma-separated e, length d).
    #[arg(long, allow_hyphen_values = true)]
    pub compare_perturb: Option<String>,
    /// Number of paths.
    #[arg(long, default_value_t = 500)]
    pub n: usize,
    /// Grid times at which the paths are measured.
    #[arg(long, default_value_t = 60)]
    pub evaluations: usize,
    /// Divergence against the Li–Yau bound: on, off or auto (on for d <= 64).
    #[arg(long, default_value = "auto")]
    pub divergence: String,
    #[command(flatten)]
    pub table: TableArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Heat SDE diffusion c (σ² = c²τ).
    #[arg(long, default_value_t = std::f64::consts::SQRT_2)]
    pub c: f64,
    /// Final time T.
    #[arg(long, default_value_t = 1.0)]
    pub t_end: f64,
    /// Number of paths.
    #[arg(long, default_value_t = 200)]
    pub n: usize,
    /// RK4 steps on a log τ grid.
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Smallest τ.
    #[arg(long, default_value_t = 1e-6)]
    pub t_min: f64,
    /// Recorded times (log-spaced).
    #[arg(long, default_value_t = 61)]
    pub records: usize,
    /// τ window of the fit, "lo,hi" [default: from t-min up to σ(τ) = a tenth of the median
    /// training-point spacing].
    #[arg(long)]
    pub fit_window: Option<String>,
    /// Seed of the starting points (and default seed of the training set).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TminArgs {
    #[command(flatten)]
    pub source: ScoreArgs,
    #[command(flatten)]
    pub integrator: SamplerArgs,
    /// Early-stopping times (comma-separated).
    #[arg(long, default_value = "0.1,0.03,0.01,0.003,0.001")]
    pub t_mins: String,
    /// Compare these samplers side by side (comma-separated, e.g. em,edm,dpm2m) instead of
    /// --sampler alone; with --nfe each spends the same score evaluations per sample.
    #[arg(long)]
    pub samplers: Option<String>,
    /// Samples per t_min.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// A sample is memorised when d1/d2 is below this.
    #[arg(long, default_value_t = 1.0 / 3.0)]
    pub threshold: f64,
    #[command(flatten)]
    pub classifier: ClassifierArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// full (500 training points, 16,000 steps; a minute or two on a CPU) or quick (a small
    /// run that checks the whole pipeline in seconds).
    #[arg(long, default_value = "full")]
    pub size: String,
    /// Seed of the training set, the network and the sampler noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A sample is memorised when d1/d2 is below this.
    #[arg(long, default_value_t = 1.0 / 3.0)]
    pub threshold: f64,
    /// Backend: cpu (flex), ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output folder.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Write into the output folder even if it exists (overwriting files of the same name).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LikelihoodArgs {
    #[command(flatten)]
    pub source: ScoreArgs,
    /// Points to evaluate (.npy or CSV) [default: the training set and a fresh draw of the same
    /// size, whose difference is the train–test gap].
    #[arg(long)]
    pub eval_file: Option<PathBuf>,
    /// At most this many points of each set.
    #[arg(long, default_value_t = 1000)]
    pub max_points: usize,
    /// ODE solver: rk4 (fixed geometric grid of --steps) or rk45 (adaptive Dormand–Prince with
    /// --rtol/--atol, score_sde's choice).
    #[arg(long, default_value = "rk4")]
    pub solver: String,
    /// RK4 steps on a geometric time grid (rk45: its first trial step is (T − t0)/steps).
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// rk45: relative tolerance of the local error estimate.
    #[arg(long)]
    pub rtol: Option<f64>,
    /// rk45: absolute tolerance of the local error estimate.
    #[arg(long)]
    pub atol: Option<f64>,
    /// The time whose density is evaluated (p_{t0}).
    #[arg(long, default_value_t = 1e-3)]
    pub t0: f64,
    /// ∇·s along the flow: exact, hutchinson, or auto (exact up to 64 dimensions).
    #[arg(long, default_value = "auto")]
    pub divergence: String,
    /// Hutchinson: probe vectors per point (fixed for the whole integration).
    #[arg(long, default_value_t = 1)]
    pub probes: usize,
    /// Hutchinson: gaussian or rademacher probes.
    #[arg(long, default_value = "rademacher")]
    pub probe: String,
    /// Law at T whose log density ends the integral: nominal (the SDE's prior), moment (the
    /// Gaussian with p_T's mean and covariance) or exact (p_T itself; empirical score only).
    #[arg(long, default_value = "nominal")]
    pub prior: String,
    /// Seed of the training-set draw and the fresh draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct FisherArgs {
    #[command(flatten)]
    pub source: ScoreArgs,
    /// Times t (comma-separated).
    #[arg(long, default_value = "0.001,0.003,0.01,0.03,0.1,0.3,1")]
    pub times: String,
    /// Monte Carlo points per time (fresh draws of the mixture).
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct AgreementArgs {
    /// First checkpoint (or run folder).
    #[arg(long)]
    pub a: Option<PathBuf>,
    /// Second checkpoint (or run folder), trained on a training set disjoint from the first's.
    #[arg(long)]
    pub b: Option<PathBuf>,
    /// Instead of checkpoints, compare the empirical scores of two independent draws of the
    /// dataset given by the data flags (data seeds --seed and --seed + 1).
    #[arg(long)]
    pub empirical: bool,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub sde: SdeArgs,
    #[command(flatten)]
    pub integrator: SamplerArgs,
    /// Finish with one Tweedie denoising step at t-min.
    #[arg(long)]
    pub denoise: bool,
    /// Number of sample pairs.
    #[arg(long, default_value_t = 500)]
    pub n: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TrainingCurvesArgs {
    /// Run folders trained with --eval-every (comma-separated).
    #[arg(long)]
    pub runs: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// CSV file with a header line.
    #[arg(long)]
    pub csv: PathBuf,
    /// Column of the abscissa.
    #[arg(long)]
    pub x: String,
    /// Columns to draw (comma-separated).
    #[arg(long)]
    pub y: String,
    /// Logarithmic abscissa.
    #[arg(long)]
    pub log_x: bool,
    /// Logarithmic ordinate.
    #[arg(long)]
    pub log_y: bool,
    /// Title of the plot.
    #[arg(long, default_value = "")]
    pub title: String,
    /// Output PNG file.
    #[arg(long)]
    pub out: PathBuf,
}

/// The command line as typed, program name shortened to `scorelab` (recorded in metadata).
pub fn command_line() -> String {
    let mut words = vec!["scorelab".to_string()];
    words.extend(std::env::args().skip(1));
    words.join(" ")
}

#[derive(Debug, Clone, Args)]
pub struct ForwardArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub sde: SdeArgs,
    /// Times t at which the marginal X_t is drawn (comma-separated, 0 <= t <= T).
    #[arg(long, default_value = "0,0.25,0.5,1")]
    pub times: String,
    /// Points drawn at each time (each from a uniformly chosen training point).
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// Seed of the training-set draw (unless --data-seed) and of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder.
    #[arg(long, default_value = "out/forward")]
    pub out: PathBuf,
    /// Write into the output folder even if it exists.
    #[arg(long)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's consistency checks (no two arguments of a command share an id or a long flag)
    /// run only in debug builds; this runs them in every build, so a flag that collides with a
    /// flattened one (as `analyze likelihood --points` once did with the diracs `--points`) is a
    /// test failure rather than a flag that silently feeds the other.
    #[test]
    fn no_command_has_two_arguments_with_one_name() {
        crate::command_settings(super::Cli::command()).debug_assert();
    }

    /// Every command that writes files shows where when --out is not given.
    #[test]
    fn every_output_folder_default_is_in_the_help() {
        let command = crate::command_settings(super::Cli::command());
        let mut checked = 0;
        let mut check = |sub: &clap::Command, path: &str| {
            // a required --out (plot's file) has no default to show
            if let Some(out) = sub
                .get_arguments()
                .find(|a| a.get_id() == "out" && !a.is_required_set())
            {
                let help = out.get_help().map(|h| h.to_string()).unwrap_or_default();
                let default = out.get_default_values();
                assert!(
                    help.contains("[default: out/")
                        || default
                            .iter()
                            .any(|d| d.to_string_lossy().starts_with("out/")),
                    "{path}: --out help {help:?}, default {default:?}"
                );
                checked += 1;
            }
        };
        for sub in command.get_subcommands() {
            check(sub, sub.get_name());
            for leaf in sub.get_subcommands() {
                check(leaf, &format!("{} {}", sub.get_name(), leaf.get_name()));
            }
        }
        assert!(checked >= 14, "{checked}");
    }
}

//! The flags of `scorelab analyze` and its subcommands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::*;

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

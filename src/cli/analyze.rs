//! The flags of `scorelab analyze` and its subcommands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use scorelab_jobs::cells_job::CellsJob;
use scorelab_jobs::compare_job::CompareJob;
use scorelab_jobs::likelihood_job::LikelihoodJob;
use scorelab_jobs::memorization_job::MemorizationJob;
use scorelab_jobs::path_jobs::{PathsJob, RateJob, TminJob};
use scorelab_jobs::score_jobs::FisherJob;
use scorelab_jobs::{DataOptions, ScoreOptions, SdeOptions};
use scorelab_sample::SamplerOptions;

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
    #[command(flatten)]
    pub job: CompareJob,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CellsArgs {
    #[command(flatten)]
    pub job: CellsJob,
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
    #[command(flatten)]
    pub job: MemorizationJob,
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

#[derive(Debug, Clone, Args)]
pub struct PathsArgs {
    #[command(flatten)]
    pub job: PathsJob,
    #[command(flatten)]
    pub table: TableArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RateArgs {
    #[command(flatten)]
    pub job: RateJob,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TminArgs {
    #[command(flatten)]
    pub job: TminJob,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct LikelihoodArgs {
    #[command(flatten)]
    pub source: ScoreOptions,
    #[command(flatten)]
    pub job: LikelihoodJob,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct FisherArgs {
    #[command(flatten)]
    pub job: FisherJob,
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
    pub data: DataOptions,
    #[command(flatten)]
    pub sde: SdeOptions,
    #[command(flatten)]
    pub integrator: SamplerOptions,
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

//! Which data, SDE and score a command works with.

use std::path::PathBuf;

use clap::Args;

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

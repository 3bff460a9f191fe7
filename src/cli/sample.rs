//! The flags of `sample`, `forward`, `demo` and `plot`.

use std::path::PathBuf;

use clap::Args;

use super::*;

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

//! Reverse-time integrators (DESIGN §3) over any [`ScoreFn`].
//!
//! With τ the remaining forward time and viscosity ε ≥ 0 the reverse dynamics are
//!   dY = [−f(τ, Y) + ((1 + ε)/2) g(τ)² s(Y, τ)] ds + √ε g(τ) dW̄,
//! run from τ = T down to τ = t_min; ε = 1 is the reverse SDE and ε = 0 the probability-flow ODE.

use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::{CoreError, ScoreFn, Sde, Times};

use crate::em_step::EmStep;
use crate::error::{Result, SampleError};
use crate::grid::TauGrid;
use crate::prior::Prior;

/// The integrators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SamplerKind {
    /// Euler–Maruyama on the reverse SDE with viscosity ε.
    #[serde(rename = "em")]
    EulerMaruyama,
    /// Euler–Maruyama predictor followed by Langevin corrector steps at a target SNR.
    #[serde(rename = "pc")]
    PredictorCorrector,
    /// Probability-flow ODE, explicit Euler.
    #[serde(rename = "ode-euler")]
    OdeEuler,
    /// Probability-flow ODE, Heun (2nd order).
    #[serde(rename = "ode-heun")]
    OdeHeun,
    /// Probability-flow ODE, classical Runge–Kutta (4th order).
    #[serde(rename = "ode-rk4")]
    OdeRk4,
    /// Exponential integrator: x̂0 from the score, then the Gaussian posterior step.
    #[serde(rename = "exp")]
    Exponential,
    /// Probability-flow ODE, adaptive Dormand–Prince 5(4) with error tolerances.
    #[serde(rename = "ode-rk45")]
    OdeRk45,
    /// Karras et al. (2022) Algorithm 2: Heun on the σ-schedule with ρ = 7 and optional churn.
    #[serde(rename = "edm")]
    Edm,
    /// DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): second-order multistep in log-SNR.
    #[serde(rename = "dpm2m")]
    DpmSolver2M,
    /// SDE-DPM-Solver++(2M): the same multistep in log-SNR on the reverse dynamics with
    /// viscosity η ≥ 0 (η = 1: the reverse SDE, DDPM's noise).
    #[serde(rename = "dpm2m-sde")]
    DpmSolver2MSde,
}

/// The names accepted on the command line.
pub const SAMPLER_NAMES: [&str; 10] = [
    "em",
    "pc",
    "ode-euler",
    "ode-heun",
    "ode-rk4",
    "ode-rk45",
    "exp",
    "edm",
    "dpm2m",
    "dpm2m-sde",
];

impl std::str::FromStr for SamplerKind {
    type Err = CoreError;

    /// Parses a sampler name (`ddim` is another name for `exp`).
    fn from_str(name: &str) -> std::result::Result<Self, CoreError> {
        Ok(match name {
            "em" => SamplerKind::EulerMaruyama,
            "pc" => SamplerKind::PredictorCorrector,
            "ode-euler" => SamplerKind::OdeEuler,
            "ode-heun" => SamplerKind::OdeHeun,
            "ode-rk4" => SamplerKind::OdeRk4,
            "exp" => SamplerKind::Exponential,
            "ode-rk45" => SamplerKind::OdeRk45,
            "edm" => SamplerKind::Edm,
            "dpm2m" => SamplerKind::DpmSolver2M,
            "dpm2m-sde" => SamplerKind::DpmSolver2MSde,
            // DDIM is the exponential integrator (η = 0 deterministic, η > 0 stochastic)
            "ddim" => SamplerKind::Exponential,
            _ => {
                return Err(CoreError::UnknownName {
                    kind: "sampler",
                    name: name.to_string(),
                    expected: SAMPLER_NAMES.join(", "),
                })
            }
        })
    }
}

impl SamplerKind {
    /// The name accepted on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SamplerKind::EulerMaruyama => "em",
            SamplerKind::PredictorCorrector => "pc",
            SamplerKind::OdeEuler => "ode-euler",
            SamplerKind::OdeHeun => "ode-heun",
            SamplerKind::OdeRk4 => "ode-rk4",
            SamplerKind::OdeRk45 => "ode-rk45",
            SamplerKind::Exponential => "exp",
            SamplerKind::Edm => "edm",
            SamplerKind::DpmSolver2M => "dpm2m",
            SamplerKind::DpmSolver2MSde => "dpm2m-sde",
        }
    }

    /// Whether this integrates the deterministic probability-flow ODE (with viscosity 0).
    pub fn is_ode(self) -> bool {
        matches!(
            self,
            SamplerKind::OdeEuler
                | SamplerKind::OdeHeun
                | SamplerKind::OdeRk4
                | SamplerKind::OdeRk45
                | SamplerKind::DpmSolver2M
        )
    }

    /// Whether the sampler takes η (`--eta`) instead of the viscosity ε: exp (DDIM's η) and
    /// dpm2m-sde.
    pub fn takes_eta(self) -> bool {
        matches!(self, SamplerKind::Exponential | SamplerKind::DpmSolver2MSde)
    }

    /// The viscosity ε that a run with η approximates as its steps shrink: η² for exp (each
    /// step adds η² of the posterior variance), η for dpm2m-sde (its noise σ̃'√(1 − e^{−2ηh})
    /// and drift factor e^{−(1+η)h} are those of the reverse dynamics with ε = η); ε itself
    /// for the other samplers.
    pub fn viscosity_of_eta(self, eta: f64) -> f64 {
        match self {
            SamplerKind::Exponential => eta * eta,
            _ => eta,
        }
    }

    /// The default viscosity: 0 for ODE integrators, 1 otherwise.
    pub fn default_eps(self) -> f64 {
        if self.is_ode() || self == SamplerKind::Edm {
            0.0
        } else {
            1.0
        }
    }

    /// Score evaluations per step (without correctors; the adaptive ode-rk45 takes 6 per
    /// accepted or rejected step, and reports its count).
    pub fn evaluations_per_step(self) -> usize {
        match self {
            SamplerKind::OdeHeun | SamplerKind::Edm => 2,
            SamplerKind::OdeRk4 => 4,
            SamplerKind::OdeRk45 => 6,
            _ => 1,
        }
    }
}

/// Everything a sampler run needs besides the score and the starting points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplerConfig {
    pub kind: SamplerKind,
    pub steps: usize,
    pub t_min: f64,
    pub grid: TauGrid,
    /// Viscosity ε (0: ODE, 1: reverse SDE) of em, pc and ode-*. For exp (η²) and dpm2m-sde
    /// (η) it is the viscosity their steps approximate, and must be set with
    /// [`SamplerConfig::set_eta`].
    pub eps: f64,
    /// exp: DDIM's η ∈ [0, 1]; each step adds the fraction η² of the posterior variance
    /// (η = 1: the posterior itself, η = 0: deterministic). Its continuous-time limit is the
    /// reverse dynamics with viscosity ε = η². dpm2m-sde: the η of SDE-DPM-Solver++(2M)
    /// (ε = η; η = 0 is dpm2m). Unused (1) by the other samplers.
    #[serde(default = "default_eta")]
    pub eta: f64,
    /// Target signal-to-noise ratio of the Langevin corrector.
    pub snr: f64,
    pub corrector_steps: usize,
    /// Apply one Tweedie denoising step x̂0 = (Y − c + σ² s)/α at t_min.
    pub denoise: bool,
    /// Times τ at which to record the whole batch (each snapped to the nearest grid time;
    /// ode-rk45 steps onto them exactly).
    pub record_at: Vec<f64>,
    pub seed: u64,
    /// ode-rk45: relative and absolute tolerances of the local error estimate.
    #[serde(default = "default_tolerance")]
    pub rtol: f64,
    #[serde(default = "default_tolerance")]
    pub atol: f64,
    /// edm: the σ-schedule exponent ρ and the churn of Karras et al. Algorithm 2.
    #[serde(default)]
    pub edm: EdmConfig,
}

/// The σ-schedule and stochastic churn of Karras et al. (2022), Algorithm 2, in the
/// variance-exploding coordinates σ̃ = σ/α of any SDE.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdmConfig {
    /// σ_i = (σ_max^{1/ρ} + i/N (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ.
    pub rho: f64,
    /// S_churn: total churn; each step in [S_tmin, S_tmax] raises σ by γ = min(S_churn/N, √2 − 1).
    pub churn: f64,
    pub churn_sigma_min: f64,
    /// S_tmax (None: no upper limit).
    pub churn_sigma_max: Option<f64>,
    /// S_noise: the scale of the noise added by churn.
    pub churn_noise: f64,
}

impl Default for EdmConfig {
    fn default() -> Self {
        EdmConfig {
            rho: 7.0,
            churn: 0.0,
            churn_sigma_min: 0.0,
            churn_sigma_max: None,
            churn_noise: 1.0,
        }
    }
}

fn default_eta() -> f64 {
    1.0
}

fn default_tolerance() -> f64 {
    1e-5
}

impl SamplerConfig {
    /// Sets η of exp or dpm2m-sde, and with it the viscosity it approximates (η² or η).
    pub fn set_eta(&mut self, eta: f64) {
        self.eta = eta;
        self.eps = self.kind.viscosity_of_eta(eta);
    }

    /// A configuration with the usual defaults for `kind`.
    pub fn new(kind: SamplerKind, steps: usize, t_min: f64) -> Self {
        SamplerConfig {
            kind,
            steps,
            t_min,
            grid: TauGrid::Uniform,
            eps: kind.default_eps(),
            eta: default_eta(),
            snr: 0.16,
            corrector_steps: 1,
            denoise: false,
            record_at: Vec::new(),
            seed: 0,
            rtol: default_tolerance(),
            atol: default_tolerance(),
            edm: EdmConfig::default(),
        }
    }

    /// Checks every parameter against the SDE it will run on.
    pub fn validate(&self, sde: &Sde) -> Result<()> {
        let t_end = sde.t_end();
        if self.steps == 0 {
            return Err(SampleError::invalid("steps", "must be >= 1"));
        }
        if !(self.t_min.is_finite() && self.t_min > 0.0 && self.t_min < t_end) {
            return Err(SampleError::invalid(
                "t-min",
                format!("must satisfy 0 < t-min < T = {t_end}, got {}", self.t_min),
            ));
        }
        // η first: for exp and dpm2m-sde the viscosity is derived from it
        if self.kind.takes_eta() {
            let sampler = self.kind.name();
            // DDIM's η is a fraction of the posterior variance; dpm2m-sde's is a viscosity,
            // and any ε ≥ 0 is a reverse dynamics with the law of the forward process
            let (in_range, range) = match self.kind {
                SamplerKind::Exponential => ((0.0..=1.0).contains(&self.eta), "0 <= eta <= 1"),
                _ => (self.eta >= 0.0, "eta >= 0"),
            };
            if !(self.eta.is_finite() && in_range) {
                return Err(SampleError::invalid(
                    "eta",
                    format!("η of {sampler} takes {range}, got {}", self.eta),
                ));
            }
            if (self.eps - self.kind.viscosity_of_eta(self.eta)).abs() > 1e-12 {
                return Err(SampleError::invalid(
                    "eps",
                    format!(
                        "{sampler} takes ⟨eta⟩, not ⟨eps⟩ (the viscosity of em, pc and ode-*); \
                         the viscosity it approximates is set from η"
                    ),
                ));
            }
        } else if self.eta != default_eta() {
            return Err(SampleError::invalid(
                "eta",
                "⟨eta⟩ is the η of ⟨sampler⟩ exp (DDIM) and dpm2m-sde; em and pc take ⟨eps⟩, the \
                 viscosity of the reverse dynamics",
            ));
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(SampleError::invalid(
                "eps",
                format!(
                    "the viscosity must be a finite number >= 0, got {}",
                    self.eps
                ),
            ));
        }
        if self.kind.is_ode() && self.eps != 0.0 {
            return Err(SampleError::invalid(
                "eps",
                "ODE samplers integrate the probability-flow ODE (eps = 0); use ⟨sampler⟩ em for eps > 0",
            ));
        }
        if self.kind == SamplerKind::PredictorCorrector && !(self.snr.is_finite() && self.snr > 0.0)
        {
            return Err(SampleError::invalid(
                "snr",
                format!("must be a finite number > 0, got {}", self.snr),
            ));
        }
        if self.kind == SamplerKind::OdeRk45 {
            for (name, v) in [("rtol", self.rtol), ("atol", self.atol)] {
                if !(v.is_finite() && v > 0.0) {
                    return Err(SampleError::invalid(
                        name,
                        format!("the tolerance must be a finite number > 0, got {v}"),
                    ));
                }
            }
        }
        if self.kind == SamplerKind::Edm {
            crate::denoiser::validate_edm(&self.edm, self.eps)?;
        } else if self.edm != EdmConfig::default() {
            return Err(SampleError::invalid(
                "churn",
                "⟨rho⟩ and the churn options belong to ⟨sampler⟩ edm",
            ));
        }
        if let Some(t) = self.record_at.iter().find(|t| !t.is_finite()) {
            return Err(SampleError::invalid(
                "record",
                format!("times must be finite, got {t}"),
            ));
        }
        Ok(())
    }

    /// Score evaluations per sample of this configuration: steps × (evaluations per step +
    /// pc's corrector steps) + 1 for the Tweedie step; None for the adaptive ode-rk45.
    pub fn evaluations(&self) -> Option<usize> {
        let per_step = self.evaluations_per_step_with_correctors()?;
        Some(self.steps * per_step + usize::from(self.denoise))
    }

    /// Sets `steps` to spend at most `budget` score evaluations per sample (the most steps
    /// whose [`SamplerConfig::evaluations`] fit); refused for ode-rk45 and for a budget below
    /// one step.
    pub fn set_evaluation_budget(&mut self, budget: usize) -> Result<()> {
        let Some(per_step) = self.evaluations_per_step_with_correctors() else {
            return Err(SampleError::invalid(
                "nfe",
                "ode-rk45 chooses its own steps; its cost follows ⟨rtol⟩/⟨atol⟩",
            ));
        };
        let steps = budget.saturating_sub(usize::from(self.denoise)) / per_step;
        if steps == 0 {
            return Err(SampleError::invalid(
                "nfe",
                format!(
                    "{budget} evaluations do not pay for one step of {} ({per_step} per step{})",
                    self.kind.name(),
                    if self.denoise {
                        " and 1 for ⟨denoise⟩"
                    } else {
                        ""
                    }
                ),
            ));
        }
        self.steps = steps;
        Ok(())
    }

    fn evaluations_per_step_with_correctors(&self) -> Option<usize> {
        match self.kind {
            SamplerKind::OdeRk45 => None,
            SamplerKind::PredictorCorrector => Some(1 + self.corrector_steps),
            kind => Some(kind.evaluations_per_step()),
        }
    }

    /// The τ grid of this run for `sde`: EDM's σ-schedule mapped to τ for edm, the chosen
    /// grid otherwise (for ode-rk45 only its end points and the recorded times are visited).
    pub fn times(&self, sde: &Sde) -> Vec<f64> {
        match self.kind {
            SamplerKind::Edm => {
                crate::denoiser::edm_times(sde, self.t_min, self.steps, self.edm.rho)
            }
            _ => self.grid.times(sde.t_end(), self.t_min, self.steps),
        }
    }
}

/// A snapshot of the batch at one grid time.
pub struct PathSnapshot {
    pub tau: f64,
    pub points: Tensor<2>,
}

/// The result of a run.
pub struct SampleOutput {
    /// The final states (denoised when asked), one row per sample.
    pub samples: Tensor<2>,
    /// Snapshots at the recorded times, in the order of the run (decreasing τ).
    pub path: Vec<PathSnapshot>,
    /// Rows of `samples` with a NaN or infinite coordinate.
    pub nonfinite_rows: Vec<usize>,
    /// For each of `nonfinite_rows`, the τ at which that sample was first seen non-finite (the
    /// end of the step that produced it).
    pub nonfinite_since: Vec<f64>,
    /// Score (network) evaluations per sample, denoising and correctors included.
    pub evaluations: usize,
}

impl SampleOutput {
    /// The τ at which the first sample turned non-finite (the largest: τ decreases during
    /// sampling), or None when every sample is finite.
    pub fn first_nonfinite_tau(&self) -> Option<f64> {
        self.nonfinite_since.iter().copied().reduce(f64::max)
    }

    /// "k of n samples became non-finite, the first at τ = …, the last at τ = …", or None when
    /// every sample is finite.
    pub fn nonfinite_report(&self) -> Option<String> {
        let first = self.first_nonfinite_tau()?;
        let last = self.nonfinite_since.iter().copied().fold(first, f64::min);
        let [n, _] = self.samples.dims();
        Some(format!(
            "{} of {n} samples became non-finite, the first at τ = {first:.4e}, the last at τ = {last:.4e}",
            self.nonfinite_rows.len(),
        ))
    }
}

/// The rows of row-major `values` (`dim` values per row) whose index is not in `dropped`.
pub fn without_rows(values: &[f32], dim: usize, dropped: &[usize]) -> Vec<f32> {
    values
        .chunks(dim)
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .flat_map(|(_, row)| row.iter().copied())
        .collect()
}

/// A score that counts its evaluations (one per batch call: per sample, the NFE).
pub(crate) struct CountedScore<'a> {
    inner: &'a dyn ScoreFn,
    calls: std::cell::Cell<usize>,
}

impl<'a> CountedScore<'a> {
    pub(crate) fn new(inner: &'a dyn ScoreFn) -> Self {
        CountedScore {
            inner,
            calls: std::cell::Cell::new(0),
        }
    }

    /// s(y, τ).
    pub(crate) fn at(&self, y: Tensor<2>, tau: f64) -> Tensor<2> {
        self.calls.set(self.calls.get() + 1);
        self.inner.score(y, &Times::Same(tau))
    }

    pub(crate) fn sde(&self) -> &Sde {
        self.inner.sde()
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.get()
    }
}

/// Watches the batch for samples that turn NaN or infinite, step by step.
pub(crate) struct DivergenceWatch {
    since: Vec<Option<f64>>,
}

impl DivergenceWatch {
    fn new(n: usize) -> Self {
        Self {
            since: vec![None; n],
        }
    }

    /// Records the rows of `y` that are non-finite at τ = `tau` (one scalar read when all are finite).
    pub(crate) fn check(&mut self, y: &Tensor<2>, tau: f64) {
        let total = to_vec(y.clone().sum())[0];
        if total.is_finite() {
            return;
        }
        for row in nonfinite_rows(y) {
            self.since[row].get_or_insert(tau);
        }
    }

    fn into_rows(self) -> (Vec<usize>, Vec<f64>) {
        self.since
            .into_iter()
            .enumerate()
            .filter_map(|(row, tau)| tau.map(|tau| (row, tau)))
            .unzip()
    }
}

/// Seeded standard normal noise, drawn on the host so that runs agree across backends.
pub(crate) struct NoiseSource {
    rng: ChaCha8Rng,
    device: Device,
}

impl NoiseSource {
    pub(crate) fn normal(&mut self, rows: usize, cols: usize) -> Tensor<2> {
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| StandardNormal.sample(&mut self.rng))
            .collect();
        tensor_from_rows(&values, rows, cols, &self.device)
    }
}

/// Draws `n` starting points from the SDE's prior N(mean·1, var·I).
pub fn prior_sample(sde: &Sde, n: usize, dim: usize, seed: u64, device: &Device) -> Tensor<2> {
    Prior::Nominal
        .sample(sde, n, dim, seed, device)
        .expect("the nominal prior takes any dimension")
}

/// The reverse drift F(y, τ) = −f(τ, y) + ((1 + ε)/2) g(τ)² s(y, τ).
pub(crate) fn reverse_drift(score: &CountedScore, y: &Tensor<2>, tau: f64, eps: f64) -> Tensor<2> {
    let s = score.at(y.clone(), tau);
    em_step(score.sde(), tau, 0.0, eps).drift(y.clone(), s)
}

/// The coefficients of one Euler–Maruyama step of size h from τ with viscosity ε: f(τ, y) =
/// a y + b, the score's factor c = ((1 + ε)/2) g(τ)² and the noise scale √(εh) g(τ).
fn em_step(sde: &Sde, tau: f64, h: f64, eps: f64) -> EmStep {
    let (a, b) = sde.drift(tau);
    let g = sde.diffusion(tau);
    EmStep {
        a,
        b,
        c: 0.5 * (1.0 + eps) * g.powi(2),
        h,
        sigma: (eps * h).sqrt() * g,
    }
}

/// Row sums of squares as a column [B, 1].
fn row_sq_norms(x: Tensor<2>) -> Tensor<2> {
    x.powi_scalar(2).sum_dim(1)
}

/// Runs `n` samples from the SDE's prior (seeded by `config.seed`).
pub fn sample(
    score: &dyn ScoreFn,
    config: &SamplerConfig,
    n: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<SampleOutput> {
    sample_with_prior(score, config, &Prior::Nominal, n, device, progress)
}

/// Runs `n` samples started from `prior` (seeded by `config.seed`).
pub fn sample_with_prior(
    score: &dyn ScoreFn,
    config: &SamplerConfig,
    prior: &Prior,
    n: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<SampleOutput> {
    if n == 0 {
        return Err(SampleError::invalid("n", "must be >= 1"));
    }
    config.validate(score.sde())?;
    let start = prior.sample(score.sde(), n, score.dim(), config.seed, device)?;
    // The step noise uses a stream independent of the prior draw.
    run_from(
        score,
        config,
        start,
        config.seed.wrapping_add(0x9e37_79b9_7f4a_7c15),
        progress,
    )
}

/// Runs the reverse dynamics from given starting points at τ = T.
pub fn sample_from(
    score: &dyn ScoreFn,
    config: &SamplerConfig,
    start: Tensor<2>,
    progress: &mut dyn FnMut(usize),
) -> Result<SampleOutput> {
    config.validate(score.sde())?;
    score.check_input(&start)?;
    run_from(score, config, start, config.seed, progress)
}

fn run_from(
    score: &dyn ScoreFn,
    config: &SamplerConfig,
    start: Tensor<2>,
    noise_seed: u64,
    progress: &mut dyn FnMut(usize),
) -> Result<SampleOutput> {
    let score = &CountedScore::new(score);
    let sde = score.sde().clone();
    let [n, d] = start.dims();
    let device = start.device();
    let mut noise = NoiseSource {
        rng: ChaCha8Rng::seed_from_u64(noise_seed),
        device: device.clone(),
    };
    let times = config.times(&sde);
    let record_indices: Vec<usize> = config
        .record_at
        .iter()
        .map(|&r| {
            (0..times.len())
                .min_by(|&i, &j| (times[i] - r).abs().total_cmp(&(times[j] - r).abs()))
                .expect("non-empty grid")
        })
        .collect();
    let mut path = Vec::new();
    let mut y = start;
    let record = |index: usize, y: &Tensor<2>, path: &mut Vec<PathSnapshot>| {
        if record_indices.contains(&index) {
            path.push(PathSnapshot {
                tau: times[index],
                points: y.clone(),
            });
        }
    };
    let mut watch = DivergenceWatch::new(n);
    if config.kind == SamplerKind::OdeRk45 {
        y = crate::adaptive::integrate(score, y, config, &mut path, &mut watch, progress)?;
        return Ok(finish(score, config, y, path, watch));
    }
    record(0, &y, &mut path);
    let eps = config.eps;
    let mut dpm = crate::denoiser::DpmState::default();
    for i in 0..config.steps {
        let (tau, next) = (times[i], times[i + 1]);
        let h = tau - next;
        y = match config.kind {
            SamplerKind::EulerMaruyama | SamplerKind::PredictorCorrector => {
                let s = score.at(y.clone(), tau);
                let z = (eps > 0.0).then(|| noise.normal(n, d));
                let mut y_next = em_step(&sde, tau, h, eps).apply(y, s, z);
                if config.kind == SamplerKind::PredictorCorrector {
                    y_next = langevin_correct(score, y_next, tau, next, config, &mut noise);
                }
                y_next
            }
            SamplerKind::OdeEuler => {
                let s = score.at(y.clone(), tau);
                em_step(&sde, tau, h, 0.0).apply(y, s, None)
            }
            SamplerKind::OdeHeun => {
                let k1 = reverse_drift(score, &y, tau, 0.0);
                let predicted = y.clone() + k1.clone().mul_scalar(h);
                let k2 = reverse_drift(score, &predicted, next, 0.0);
                y + (k1 + k2).mul_scalar(0.5 * h)
            }
            SamplerKind::OdeRk4 => {
                let mid = tau - 0.5 * h;
                let k1 = reverse_drift(score, &y, tau, 0.0);
                let k2 = reverse_drift(
                    score,
                    &(y.clone() + k1.clone().mul_scalar(0.5 * h)),
                    mid,
                    0.0,
                );
                let k3 = reverse_drift(
                    score,
                    &(y.clone() + k2.clone().mul_scalar(0.5 * h)),
                    mid,
                    0.0,
                );
                let k4 = reverse_drift(score, &(y.clone() + k3.clone().mul_scalar(h)), next, 0.0);
                y + (k1 + k2.mul_scalar(2.0) + k3.mul_scalar(2.0) + k4).mul_scalar(h / 6.0)
            }
            SamplerKind::Exponential => {
                exponential_step(score, y, tau, next, config.eta, &mut noise)
            }
            SamplerKind::Edm => crate::denoiser::edm_step(
                score,
                &config.edm,
                config.steps,
                y,
                (tau, next),
                &mut noise,
            ),
            SamplerKind::DpmSolver2M => dpm.step(score, y, (tau, next), 0.0, &mut noise),
            SamplerKind::DpmSolver2MSde => dpm.step(score, y, (tau, next), config.eta, &mut noise),
            SamplerKind::OdeRk45 => unreachable!("integrated adaptively above"),
        };
        watch.check(&y, next);
        record(i + 1, &y, &mut path);
        progress(i + 1);
    }
    Ok(finish(score, config, y, path, watch))
}

/// The optional Tweedie step at t_min, and the output.
fn finish(
    score: &CountedScore,
    config: &SamplerConfig,
    mut y: Tensor<2>,
    path: Vec<PathSnapshot>,
    mut watch: DivergenceWatch,
) -> SampleOutput {
    if config.denoise {
        y = denoise(score, y, config.t_min);
        watch.check(&y, config.t_min);
    }
    let (nonfinite_rows, nonfinite_since) = watch.into_rows();
    SampleOutput {
        samples: y,
        path,
        nonfinite_rows,
        nonfinite_since,
        evaluations: score.calls(),
    }
}

/// M Langevin steps Y ← Y + η s + √(2η) z at τ = `next`, with η = 2 α_i (r ‖z‖/‖s‖)², where
/// ‖z‖ and ‖s‖ are the batch means of the per-sample norms, as in score_sde's implementation
/// (α_i = α(τ)²/α(τ')² for VP-type SDEs, 1 otherwise). A per-sample ratio is unstable: near a
/// mode ‖s‖ → 0 and η grows without bound.
fn langevin_correct(
    score: &CountedScore,
    mut y: Tensor<2>,
    tau: f64,
    next: f64,
    config: &SamplerConfig,
    noise: &mut NoiseSource,
) -> Tensor<2> {
    let sde = score.sde();
    let alpha_i = if sde.is_vp_type() {
        (sde.alpha(tau) / sde.alpha(next)).powi(2)
    } else {
        1.0
    };
    let [n, d] = y.dims();
    for _ in 0..config.corrector_steps {
        let s = score.at(y.clone(), next);
        let z = noise.normal(n, d);
        let noise_norm = row_sq_norms(z.clone()).sqrt().mean();
        let score_norm = finite_mean(row_sq_norms(s.clone()).sqrt()).clamp_min(1e-30);
        let eta = (noise_norm / score_norm)
            .powi_scalar(2)
            .mul_scalar(2.0 * alpha_i * config.snr * config.snr)
            .unsqueeze::<2>();
        y = y + s * eta.clone() + z * eta.mul_scalar(2.0).sqrt();
    }
    y
}

/// The mean of the finite entries (0 if there are none), so that one diverging sample does
/// not spoil a batch-wide statistic.
pub(crate) fn finite_mean(values: Tensor<2>) -> Tensor<1> {
    let finite = values.clone().is_finite();
    let count = finite.clone().float().sum().clamp_min(1.0);
    values.mask_fill(finite.bool_not(), 0.0).sum() / count
}

/// One exponential-integrator step τ → τ' (Cao et al. (4.21)–(4.24), DDIM family):
/// x̂0 = (y − c + σ² s)/α, ê = −σ s, and
/// y' = α' x̂0 + c' + √(σ'² − η² v) ê + √(η² v) z with v = σ'²(σ² − r²σ'²)/σ², r = α/α',
/// the variance of the Gaussian posterior q(x_τ' | x_τ, x̂0); η = 1 draws from that posterior
/// exactly, η = 0 is deterministic (DDIM). As the steps shrink this tends to the reverse
/// dynamics with viscosity ε = η².
fn exponential_step(
    score: &CountedScore,
    y: Tensor<2>,
    tau: f64,
    next: f64,
    eta: f64,
    noise: &mut NoiseSource,
) -> Tensor<2> {
    let fraction = eta * eta;
    let sde = score.sde();
    let (alpha, shift, sigma2) = (sde.alpha(tau), sde.shift(tau), sde.sigma2(tau));
    let (alpha_n, shift_n, sigma2_n) = (sde.alpha(next), sde.shift(next), sde.sigma2(next));
    let kernel = sde.kernel(next, tau);
    let posterior_var = sigma2_n * kernel.var / sigma2;
    let s = score.at(y.clone(), tau);
    let x0 = (y.sub_scalar(shift) + s.clone().mul_scalar(sigma2)).div_scalar(alpha);
    let eps_hat = s.mul_scalar(-sigma2.sqrt());
    let keep = (sigma2_n - fraction * posterior_var).max(0.0).sqrt();
    let mut out = x0.mul_scalar(alpha_n).add_scalar(shift_n) + eps_hat.mul_scalar(keep);
    if fraction > 0.0 && posterior_var > 0.0 {
        let [n, d] = out.dims();
        out = out
            + noise
                .normal(n, d)
                .mul_scalar((fraction * posterior_var).sqrt());
    }
    out
}

/// Tweedie's denoiser x̂0 = (Y − c + σ² s(Y, τ)) / α.
pub fn tweedie(score: &dyn ScoreFn, y: Tensor<2>, tau: f64) -> Tensor<2> {
    denoise(&CountedScore::new(score), y, tau)
}

/// [`tweedie`] with the evaluation counted.
pub(crate) fn denoise(score: &CountedScore, y: Tensor<2>, tau: f64) -> Tensor<2> {
    let sde = score.sde();
    let s = score.at(y.clone(), tau);
    (y.sub_scalar(sde.shift(tau)) + s.mul_scalar(sde.sigma2(tau))).div_scalar(sde.alpha(tau))
}

/// Indices of rows that contain a NaN or an infinity.
pub fn nonfinite_rows(x: &Tensor<2>) -> Vec<usize> {
    to_vec(x.clone().sum_dim(1))
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_finite())
        .map(|(i, _)| i)
        .collect()
}

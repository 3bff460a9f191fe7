//! Log-likelihood through the probability-flow ODE (Song et al. 2021, instantaneous change of
//! variables). With F(x, t) = f(t, x) − ½ g(t)² s(x, t) the flow dx/dt = F carries p_t to p_T,
//! and d/dt log p_t(x_t) = −∇·F, so
//!   log p_{t0}(x) = log p_T(x_T) + ∫_{t0}^T ∇·F(x_t, t) dt,  ∇·F = d·a(t) − ½ g(t)² ∇·s,
//! for the linear drift f = a(t) x + b(t). The integral is taken jointly for x and the
//! log-density increment, with classical RK4 on a geometric time grid or with the adaptive
//! Dormand–Prince RK45 (score_sde's choice, error control over both), with the exact divergence
//! of the score or Hutchinson's estimate; log p_T is the log density of the chosen prior ([`Prior`]: the SDE's nominal
//! Gaussian, p_T's moment-matched Gaussian, or p_T itself for the empirical score). A prior
//! that is not p_T biases the result by E[log p_T − log prior] at the flow's end.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::output::OutputDir;
use scorelab_core::score::EXACT_DIVERGENCE_MAX_DIM;
use scorelab_core::{CoreError, Dataset, ScoreFn, Times};
use scorelab_sample::{dormand_prince, AdaptiveRun, Prior};

use crate::error::{AnalysisError, Result};
use crate::plot::{histograms_png, Series};

/// How ∇·s is obtained along the flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DivergenceMethod {
    /// The exact trace (d derivative evaluations per point).
    Exact,
    /// Hutchinson's estimator with `probes` fixed probe vectors per point, drawn once for the
    /// whole integration (so log p is estimated without bias): Gaussian or Rademacher entries.
    Hutchinson {
        probes: usize,
        rademacher: bool,
        seed: u64,
    },
}

/// The integrator of the probability-flow ODE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OdeSolver {
    /// Classical RK4 with `steps` steps on a geometric grid from t0 to T.
    #[default]
    Rk4,
    /// Adaptive Dormand–Prince 5(4) with these tolerances (first trial step (T − t0)/steps).
    Rk45 { rtol: f64, atol: f64 },
}

/// The integration of the probability-flow ODE.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LikelihoodConfig {
    /// RK4 steps on a geometric grid from `t0` to T (rk45: sets its first trial step).
    pub steps: usize,
    /// The time whose density is evaluated (p_{t0}; t0 > 0 keeps the score finite).
    pub t0: f64,
    pub divergence: DivergenceMethod,
    #[serde(default)]
    pub solver: OdeSolver,
}

/// Log-likelihoods and what they cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Likelihood {
    /// log p_{t0}(x) in nats, one per point.
    pub log_p: Vec<f64>,
    /// Evaluations of the score with its divergence (each one batch call).
    pub evaluations: usize,
}

impl LikelihoodConfig {
    /// Checks the steps and t0 against the SDE's final time.
    pub fn validate(&self, t_end: f64) -> Result<()> {
        if self.steps == 0 {
            return Err(AnalysisError::invalid("steps", "must be >= 1"));
        }
        if let DivergenceMethod::Hutchinson { probes: 0, .. } = self.divergence {
            return Err(AnalysisError::invalid("probes", "must be >= 1"));
        }
        if let OdeSolver::Rk45 { rtol, atol } = self.solver {
            for (name, v) in [("rtol", rtol), ("atol", atol)] {
                if !(v.is_finite() && v > 0.0) {
                    return Err(AnalysisError::invalid(
                        name,
                        format!("the tolerance must be a finite number > 0, got {v}"),
                    ));
                }
            }
        }
        if !(self.t0 > 0.0 && self.t0 < t_end) {
            return Err(AnalysisError::invalid(
                "t0",
                format!("must satisfy 0 < t0 < T = {t_end}, got {}", self.t0),
            ));
        }
        Ok(())
    }
}

/// K probe blocks for n points: [K·n, d] with N(0, 1) or ±1 entries.
pub fn draw_probes(
    k: usize,
    n: usize,
    d: usize,
    rademacher: bool,
    seed: u64,
    device: &Device,
) -> Tensor<2> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f32> = (0..k * n * d)
        .map(|_| {
            if rademacher {
                if rng.random::<bool>() {
                    1.0
                } else {
                    -1.0
                }
            } else {
                StandardNormal.sample(&mut rng)
            }
        })
        .collect();
    tensor_from_rows(&values, k * n, d, device)
}

/// F(x, t) and ∇·F for a batch (∇·s exact, or estimated with `probes`).
fn flow(
    score: &dyn ScoreFn,
    x: &Tensor<2>,
    t: f64,
    probes: Option<&Tensor<2>>,
) -> (Tensor<2>, Tensor<1>) {
    let sde = score.sde();
    let [_, d] = x.dims();
    let (a, b) = sde.drift(t);
    let half_g2 = 0.5 * sde.diffusion(t).powi(2);
    let times = Times::Same(t);
    let (s, div) = match probes {
        Some(v) => score.score_and_divergence_estimate(x.clone(), &times, v),
        None => score.score_and_divergence(x.clone(), &times),
    };
    let velocity = x.clone().mul_scalar(a).add_scalar(b) - s.mul_scalar(half_g2);
    let divergence = div.mul_scalar(-half_g2).add_scalar(a * d as f64);
    (velocity, divergence)
}

/// log p_{t0}(x) in nats for every row of `x`, under the marginals `score` describes, with
/// `prior` as the law at T. `progress` receives the number of steps done (rk45: the covered
/// fraction of [ln t0, ln T] in units of `config.steps`).
pub fn log_likelihood(
    score: &dyn ScoreFn,
    x: &Tensor<2>,
    config: &LikelihoodConfig,
    prior: &Prior,
    progress: &mut dyn FnMut(usize),
) -> Result<Likelihood> {
    let sde = score.sde();
    let t_end = sde.t_end();
    config.validate(t_end)?;
    score.check_input(x)?;
    let [n, d] = x.dims();
    let probes = match config.divergence {
        DivergenceMethod::Exact => None,
        DivergenceMethod::Hutchinson {
            probes,
            rademacher,
            seed,
        } => Some(draw_probes(probes, n, d, rademacher, seed, &x.device())),
    };
    let probes = probes.as_ref();
    let (y, integral, evaluations) = match config.solver {
        OdeSolver::Rk4 => rk4(score, x, config, probes, progress),
        OdeSolver::Rk45 { rtol, atol } => {
            // the state [x | ∫∇·F], integrated with error control over both
            let mut calls = 0;
            let (t0, steps) = (config.t0, config.steps);
            let run = AdaptiveRun {
                from: t0,
                to: t_end,
                first_step: (t_end - t0) / steps as f64,
                rtol,
                atol,
                stops: Vec::new(),
            };
            let start = Tensor::cat(vec![x.clone(), x.clone().narrow(1, 0, 1).zeros_like()], 1);
            let (state, _) = dormand_prince(
                &mut |z, t| {
                    calls += 1;
                    let (velocity, divergence) = flow(score, &z.clone().narrow(1, 0, d), t, probes);
                    Tensor::cat(vec![velocity, divergence.unsqueeze_dim(1)], 1)
                },
                start,
                &run,
                &mut |t, _| {
                    let covered = (t / t0).ln() / (t_end / t0).ln() * steps as f64;
                    progress((covered.round() as usize).min(steps));
                },
            )?;
            let integral = to_vec(state.clone().narrow(1, d, 1))
                .into_iter()
                .map(f64::from)
                .collect();
            (state.narrow(1, 0, d), integral, calls)
        }
    };
    let log_p: Vec<f64> = prior
        .log_density(sde, &y)?
        .into_iter()
        .zip(&integral)
        .map(|(log_prior, inc)| log_prior + inc)
        .collect();
    if let Some(i) = log_p.iter().position(|v| !v.is_finite()) {
        return Err(AnalysisError::invalid(
            "steps",
            format!("the log-likelihood of point {i} is not finite; use more steps or a larger t0"),
        ));
    }
    Ok(Likelihood { log_p, evaluations })
}

/// Classical RK4 on the geometric grid t0 (T/t0)^{k/steps}: the state at T, the integral of
/// ∇·F per point, and the number of flow evaluations.
fn rk4(
    score: &dyn ScoreFn,
    x: &Tensor<2>,
    config: &LikelihoodConfig,
    probes: Option<&Tensor<2>>,
    progress: &mut dyn FnMut(usize),
) -> (Tensor<2>, Vec<f64>, usize) {
    let t_end = score.sde().t_end();
    let [n, _] = x.dims();
    let grid: Vec<f64> = (0..=config.steps)
        .map(|k| config.t0 * (t_end / config.t0).powf(k as f64 / config.steps as f64))
        .collect();
    let mut y = x.clone();
    let mut integral = vec![0.0f64; n];
    for k in 0..config.steps {
        let (t, h) = (grid[k], grid[k + 1] - grid[k]);
        let mid = t + 0.5 * h;
        let (k1, j1) = flow(score, &y, t, probes);
        let (k2, j2) = flow(
            score,
            &(y.clone() + k1.clone().mul_scalar(0.5 * h)),
            mid,
            probes,
        );
        let (k3, j3) = flow(
            score,
            &(y.clone() + k2.clone().mul_scalar(0.5 * h)),
            mid,
            probes,
        );
        let (k4, j4) = flow(
            score,
            &(y.clone() + k3.clone().mul_scalar(h)),
            t + h,
            probes,
        );
        let increment =
            to_vec((j1 + j2.mul_scalar(2.0) + j3.mul_scalar(2.0) + j4).mul_scalar(h / 6.0));
        for (total, inc) in integral.iter_mut().zip(increment) {
            *total += inc as f64;
        }
        y = y + (k1 + k2.mul_scalar(2.0) + k3.mul_scalar(2.0) + k4).mul_scalar(h / 6.0);
        progress(k + 1);
    }
    (y, integral, 4 * config.steps)
}

/// The default rtol and atol of the rk45 solver (score_sde's likelihood uses 1e-5 for both).
pub const DEFAULT_TOLERANCE: f64 = 1e-5;

/// Likelihood options by name, as a front end receives them (`resolve` checks the names).
#[derive(Clone, Debug)]
pub struct LikelihoodOptions<'a> {
    /// `rk4` or `rk45`.
    pub solver: &'a str,
    /// Tolerances of rk45 (default [`DEFAULT_TOLERANCE`]).
    pub rtol: Option<f64>,
    pub atol: Option<f64>,
    /// `exact`, `hutchinson` or `auto` (exact up to `EXACT_DIVERGENCE_MAX_DIM` dimensions).
    pub divergence: &'a str,
    /// `rademacher` or `gaussian` probes of Hutchinson's estimate.
    pub probe: &'a str,
    pub probes: usize,
    pub steps: usize,
    pub t0: f64,
    pub seed: u64,
}

fn unknown(kind: &'static str, name: &str, expected: &str) -> AnalysisError {
    CoreError::UnknownName {
        kind,
        name: name.to_string(),
        expected: expected.to_string(),
    }
    .into()
}

impl LikelihoodOptions<'_> {
    /// The configuration for points of dimension `dim`.
    pub fn resolve(&self, dim: usize) -> Result<LikelihoodConfig> {
        let rademacher = match self.probe {
            "rademacher" => true,
            "gaussian" => false,
            other => return Err(unknown("probe", other, "gaussian, rademacher")),
        };
        let hutchinson = match self.divergence {
            "exact" => false,
            "hutchinson" => true,
            "auto" => dim > EXACT_DIVERGENCE_MAX_DIM,
            other => return Err(unknown("divergence", other, "auto, exact, hutchinson")),
        };
        let solver = match self.solver {
            "rk4" => OdeSolver::Rk4,
            "rk45" => OdeSolver::Rk45 {
                rtol: self.rtol.unwrap_or(DEFAULT_TOLERANCE),
                atol: self.atol.unwrap_or(DEFAULT_TOLERANCE),
            },
            other => return Err(unknown("solver", other, "rk4, rk45")),
        };
        Ok(LikelihoodConfig {
            solver,
            steps: self.steps,
            t0: self.t0,
            divergence: if hutchinson {
                DivergenceMethod::Hutchinson {
                    probes: self.probes,
                    rademacher,
                    seed: self.seed,
                }
            } else {
                DivergenceMethod::Exact
            },
        })
    }
}

/// Negative log-likelihood in nats per dimension of data-space points for a score that sees
/// them as (x − shift)/scale: the model-space density changes by the Jacobian of that map,
/// d·ln(scale), so −(log p_model − d ln scale)/d. Returns the values and the score evaluations
/// per point; `progress` receives the integration steps taken.
pub fn nll_per_dim(
    score: &dyn ScoreFn,
    points: &Dataset,
    (shift, scale): (f64, f64),
    config: &LikelihoodConfig,
    prior: &Prior,
    progress: &mut dyn FnMut(usize),
    device: &Device,
) -> Result<(Vec<f64>, usize)> {
    let values: Vec<f32> = points
        .points
        .iter()
        .map(|v| (v - shift as f32) / scale as f32)
        .collect();
    let x = tensor_from_rows(&values, points.n, points.dim, device);
    let ll = log_likelihood(score, &x, config, prior, progress)?;
    let d = points.dim as f64;
    let nll = ll.log_p.iter().map(|l| -(l - d * scale.ln()) / d).collect();
    Ok((nll, ll.evaluations))
}

/// Uniform dequantisation of 8-bit images with values k/255: u = (k + U)/256, U ~ U[0, 1),
/// one draw per value, so that −log P(k) ≤ −log p(u) + d·ln 256 for the discrete levels.
pub fn dequantise(data: &Dataset, rng: &mut impl Rng) -> Dataset {
    let points = data
        .points
        .iter()
        .map(|&x| ((x * 255.0).round() + rng.random::<f32>()) / 256.0)
        .collect();
    let mut copy = Dataset::from_points(data.name.clone(), points, data.dim);
    copy.image_shape = data.image_shape;
    copy
}

/// Bits per dimension of the discrete levels from the NLL of their dequantised values (nats
/// per dimension): (nll + ln 256)/ln 2.
pub fn bits_per_dim(nats_per_dim: f64) -> f64 {
    (nats_per_dim + 256f64.ln()) / std::f64::consts::LN_2
}

/// The per-point NLL of several point sets.
pub struct SetLikelihoods {
    /// (set name, NLL of each point in nats per dimension).
    pub sets: Vec<(String, Vec<f64>)>,
}

impl SetLikelihoods {
    /// Writes every point's NLL (`likelihood.csv`: set, point, value) and their histograms
    /// (`likelihood.png`) into `out`; returns the paths written.
    pub fn write(&self, out: &OutputDir) -> Result<Vec<PathBuf>> {
        let mut csv = String::from("set,point,nll_nats_per_dim\n");
        for (name, nll) in &self.sets {
            for (i, v) in nll.iter().enumerate() {
                csv.push_str(&format!("{name},{i},{v}\n"));
            }
        }
        let series: Vec<Series> = self
            .sets
            .iter()
            .map(|(name, values)| Series {
                label: name,
                values,
            })
            .collect();
        let png = histograms_png(
            "negative log-likelihood per point",
            "NLL (nats per dimension)",
            &series,
            40,
            false,
        )?;
        Ok(vec![
            out.write("likelihood.csv", csv.as_bytes())?,
            out.write("likelihood.png", &png)?,
        ])
    }
}

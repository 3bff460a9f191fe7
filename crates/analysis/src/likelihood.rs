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

use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::{ScoreFn, Times};
use scorelab_sample::{dormand_prince, AdaptiveRun, Prior};

use crate::error::{AnalysisError, Result};

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

//! Imitation rate (Liu–Zuazua Thm 3.11): along the probability-flow ODE of the empirical score
//! of the heat SDE, the distance from Y_τ to its nearest training point y shrinks like √τ. Near
//! y the score is −(x − y)/σ²(τ) with σ² ∝ τ, so dY/dτ = (Y − y)/(2τ) and ‖Y_τ − y‖ ∝ τ^{1/2}.
//! The slope of log d1 against log τ is fitted per path over a window of small τ, where the
//! other training points no longer pull; the report gives the mean slope with a 95% interval.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use scorelab_core::nearest::two_nearest_neighbours;
use scorelab_core::output::OutputDir;
use scorelab_core::{ScoreFn, Sde};
use scorelab_sample::{sample, SamplerConfig, SamplerKind, TauGrid};

use crate::error::{AnalysisError, Result};
use crate::plot::{curves_png, Axes, Series};
use crate::stats::{fit_line, mean, summarise, LineFit, Summary};

/// The window upper end puts σ(τ) at this fraction of the median training-point spacing.
const WINDOW_SPACING_FRACTION: f64 = 0.1;

/// What to integrate and where to fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateConfig {
    /// Number of paths (starts drawn from the prior).
    pub n: usize,
    /// RK4 steps on a log τ grid from T down to t_min.
    pub steps: usize,
    pub t_min: f64,
    /// Times at which d1 is recorded (log-spaced over the whole run).
    pub records: usize,
    /// The τ window of the fit; None picks [t_min, τ*] with σ(τ*) a tenth of the median
    /// distance between neighbouring training points.
    pub fit_window: Option<(f64, f64)>,
    pub seed: u64,
}

/// The fitted rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateReport {
    /// Recorded times, decreasing.
    pub tau: Vec<f64>,
    /// Geometric mean of d1 over the paths at each recorded time.
    pub d1_geometric_mean: Vec<f64>,
    pub fit_window: (f64, f64),
    /// Per-path slopes of log d1 on log τ over the window.
    pub slopes: Summary,
    /// Mean of the per-path slopes and its 95% confidence interval (normal approximation,
    /// mean ± 1.96 standard errors).
    pub slope: f64,
    pub slope_ci95: (f64, f64),
    /// One line through the geometric means (for the plot).
    pub pooled: LineFit,
    /// The theoretical slope.
    pub theory: f64,
}

/// The median distance between a training point and its nearest other training point.
fn median_spacing(training: &Tensor<2>) -> f64 {
    let nearest = two_nearest_neighbours(training, training);
    // each point is its own first neighbour; the second is the nearest other one
    summarise(nearest.d2.iter().map(|&v| v as f64)).median
}

impl RateConfig {
    /// Checks the configuration against the score's SDE and training set and returns the
    /// sampler run and the fit window.
    pub fn plan(&self, sde: &Sde, training: &Tensor<2>) -> Result<(SamplerConfig, (f64, f64))> {
        if sde.name() != "heat" {
            return Err(AnalysisError::invalid(
                "sde",
                format!(
                    "the imitation rate is stated for the heat SDE, got {}",
                    sde.name()
                ),
            ));
        }
        if self.n < 2 || self.records < 3 {
            return Err(AnalysisError::invalid(
                "n",
                "needs at least 2 paths and 3 recorded times",
            ));
        }
        if training.dims()[0] < 2 {
            return Err(AnalysisError::invalid(
                "training",
                "needs at least two training points",
            ));
        }
        let mut sampler = SamplerConfig::new(SamplerKind::OdeRk4, self.steps, self.t_min);
        sampler.grid = TauGrid::Log;
        sampler.seed = self.seed;
        sampler.validate(sde)?;
        let t_end = sde.t_end();
        sampler.record_at = (0..self.records)
            .map(|k| t_end * (self.t_min / t_end).powf(k as f64 / (self.records - 1) as f64))
            .collect();
        let window = match self.fit_window {
            Some(window) => window,
            None => {
                let sigma_star = WINDOW_SPACING_FRACTION * median_spacing(training);
                // σ²(τ) is increasing: bisect on log τ for σ(τ) = σ*
                let (mut lo, mut hi) = (self.t_min.ln(), t_end.ln());
                for _ in 0..100 {
                    let mid = 0.5 * (lo + hi);
                    if sde.sigma2(mid.exp()).sqrt() < sigma_star {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                (self.t_min, lo.exp())
            }
        };
        if !(window.0 > 0.0 && window.0 < window.1) {
            return Err(AnalysisError::invalid(
                "fit-window",
                format!("needs 0 < lo < hi, got [{}, {}]", window.0, window.1),
            ));
        }
        let inside = sampler
            .record_at
            .iter()
            .filter(|&&t| in_window(t, window))
            .count();
        if inside < 3 {
            return Err(AnalysisError::invalid(
                "fit-window",
                format!(
                    "[{:.3e}, {:.3e}] holds {inside} recorded times; the fit needs 3 (lower t-min, record more times or widen the window)",
                    window.0, window.1
                ),
            ));
        }
        Ok((sampler, window))
    }
}

fn in_window(t: f64, window: (f64, f64)) -> bool {
    t >= window.0 * (1.0 - 1e-9) && t <= window.1 * (1.0 + 1e-9)
}

/// Measures the imitation rate of `empirical` (the empirical score of `training` under the
/// heat SDE). `progress` receives integration steps.
pub fn imitation_rate(
    empirical: &dyn ScoreFn,
    training: &Tensor<2>,
    config: &RateConfig,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<RateReport> {
    let (sampler, window) = config.plan(empirical.sde(), training)?;
    let out = sample(empirical, &sampler, config.n, device, progress)?;
    if !out.nonfinite_rows.is_empty() {
        return Err(AnalysisError::invalid(
            "steps",
            format!(
                "{} paths became non-finite; use more steps",
                out.nonfinite_rows.len()
            ),
        ));
    }
    let tau: Vec<f64> = out.path.iter().map(|p| p.tau).collect();
    // log d1 per recorded time and path
    let log_d1: Vec<Vec<f64>> = out
        .path
        .iter()
        .map(|p| {
            two_nearest_neighbours(&p.points, training)
                .d1
                .iter()
                .map(|&d| (d as f64).max(f64::MIN_POSITIVE).ln())
                .collect()
        })
        .collect();
    let in_window: Vec<usize> = (0..tau.len())
        .filter(|&k| in_window(tau[k], window))
        .collect();
    if in_window.len() < 3 {
        return Err(AnalysisError::invalid(
            "fit-window",
            format!(
                "[{:.3e}, {:.3e}] holds {} recorded times; the fit needs 3 (lower t-min or widen the window)",
                window.0,
                window.1,
                in_window.len()
            ),
        ));
    }
    let x: Vec<f64> = in_window.iter().map(|&k| tau[k].ln()).collect();
    let slopes: Vec<f64> = (0..config.n)
        .filter_map(|i| {
            let y: Vec<f64> = in_window.iter().map(|&k| log_d1[k][i]).collect();
            fit_line(&x, &y).map(|fit| fit.slope)
        })
        .collect();
    let summary = summarise(slopes.iter().copied());
    let half_width = 1.96 * summary.std / (summary.count as f64).sqrt();
    let geometric: Vec<f64> = log_d1.iter().map(|row| mean(row)).collect();
    let pooled_y: Vec<f64> = in_window.iter().map(|&k| geometric[k]).collect();
    let pooled = fit_line(&x, &pooled_y)
        .ok_or_else(|| AnalysisError::invalid("fit-window", "the window has no spread in τ"))?;
    Ok(RateReport {
        d1_geometric_mean: geometric.iter().map(|v| v.exp()).collect(),
        tau,
        fit_window: window,
        slope: summary.mean,
        slope_ci95: (summary.mean - half_width, summary.mean + half_width),
        slopes: summary,
        pooled,
        theory: 0.5,
    })
}

impl RateReport {
    /// One line: the fitted slope with its interval against the theory's ½, and the window.
    pub fn headline(&self) -> String {
        format!(
            "slope {:.3} (95% CI {:.3} to {:.3}; theory 0.5) over τ in [{:.2e}, {:.2e}]",
            self.slope, self.slope_ci95.0, self.slope_ci95.1, self.fit_window.0, self.fit_window.1,
        )
    }

    /// Writes the measured decay of d1 with its fitted line (`rate.png`) and the table
    /// (`rate.csv`) into `out`; returns the paths written.
    pub fn write(&self, out: &OutputDir) -> Result<Vec<PathBuf>> {
        let fit: Vec<f64> = self
            .tau
            .iter()
            .map(|t| (self.pooled.intercept + self.pooled.slope * t.ln()).exp())
            .collect();
        let fit_label = format!("fit: slope {:.3} (theory 1/2)", self.pooled.slope);
        let png = curves_png(
            "imitation rate of the empirical-score ODE (heat SDE)",
            "τ",
            "geometric mean of d1",
            &self.tau,
            &[
                Series {
                    label: "measured",
                    values: &self.d1_geometric_mean,
                },
                Series {
                    label: &fit_label,
                    values: &fit,
                },
            ],
            Axes {
                log_x: true,
                log_y: true,
            },
        )?;
        let mut csv = String::from("tau,d1_geometric_mean\n");
        for (t, d) in self.tau.iter().zip(&self.d1_geometric_mean) {
            csv.push_str(&format!("{t},{d}\n"));
        }
        Ok(vec![
            out.write("rate.png", &png)?,
            out.write("rate.csv", csv.as_bytes())?,
        ])
    }
}

//! Path diagnostics (DESIGN §6, Pidstrigach Figs. 3a and 4): the reverse dynamics run with a
//! model score, with the empirical score of its training set and optionally with a perturbed
//! empirical score, all from the same starting noise and the same Brownian increments. At the
//! recorded times τ each path reports its mean distance d1 to the training set and its
//! memorised fraction; along the model's path the score gap ‖s_θ − s_emp‖, the cumulative
//! score-gap integral I(τ) = ∫_τ^T ½ g(u)² E‖s_θ − s_emp‖²(Y_u) du and, for a stochastic run
//! with viscosity ε > 0, the Novikov (Girsanov) exponent KL(P_θ ‖ P_emp) = ((1 + ε)²/(4ε)) I(τ):
//! the two reverse SDEs dY = [−f + ((1+ε)/2) g² s] dτ + √ε g dW̄ differ in drift by
//! ((1+ε)/2) g² (s_θ − s_emp) and share the diffusion √ε g, so ½ ∫ E‖Δb‖²/(ε g²) is that
//! multiple of I (ε = 1: I itself). The probability-flow ODE (ε = 0) has no KL: only I is
//! reported. When asked, ∇·s is compared with the Li–Yau bound −d/σ²(τ), which the Hessian of
//! the log of any Gaussian-smoothed density obeys.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use scorelab_core::device::to_vec;
use scorelab_core::output::OutputDir;
use scorelab_core::{ScoreFn, Times};
use scorelab_sample::{sample_with_prior, PathSnapshot, Prior, SamplerConfig};

use crate::error::{AnalysisError, Result};
use crate::memorization::{memorisation_stats, neighbours, DEFAULT_THRESHOLD};
use crate::plot::{curves_png, Axes, Series};

/// A divergence below the bound by more than this fraction of |bound| counts as a violation;
/// the slack absorbs float32 rounding of the empirical score's exact divergence.
pub const LI_YAU_SLACK: f64 = 1e-3;

/// What to run and where to look.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathConfig {
    /// The integrator and its τ grid; `record_at` is replaced by the evaluation times.
    pub sampler: SamplerConfig,
    /// Number of paths.
    pub n: usize,
    /// How many grid times (evenly spaced in step index, first and last included) are
    /// evaluated; the Novikov integral uses the trapezoid rule over them.
    pub evaluations: usize,
    /// Also evaluate ∇·s and the Li–Yau bound (exact divergence: d derivative evaluations).
    pub divergence: bool,
    /// Distances are multiplied by this before they are reported (to undo a normalisation).
    pub distance_scale: f64,
}

impl PathConfig {
    /// Checks the run against the SDE it will use.
    pub fn validate(&self, sde: &scorelab_core::Sde) -> Result<()> {
        if self.n == 0 {
            return Err(AnalysisError::invalid("n", "must be >= 1"));
        }
        if self.evaluations < 2 {
            return Err(AnalysisError::invalid("evaluations", "must be >= 2"));
        }
        if !(self.distance_scale.is_finite() && self.distance_scale > 0.0) {
            return Err(AnalysisError::invalid("distance-scale", "must be > 0"));
        }
        Ok(self.sampler.validate(sde)?)
    }
}

/// The divergence of one path's score against the Li–Yau bound, per recorded time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DivergenceSeries {
    pub mean: Vec<f64>,
    /// −d/σ²(τ).
    pub bound: Vec<f64>,
    /// Fraction of points with ∇·s < bound·(1 + slack).
    pub violation_fraction: Vec<f64>,
}

/// One path family (model, empirical or perturbed) at the recorded times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathSeries {
    pub label: String,
    pub mean_d1: Vec<f64>,
    pub memorised_fraction: Vec<f64>,
    pub divergence: Option<DivergenceSeries>,
}

/// Everything [`path_diagnostics`] measures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathReport {
    /// The recorded times, decreasing from T to t_min.
    pub tau: Vec<f64>,
    pub sigma: Vec<f64>,
    pub series: Vec<PathSeries>,
    /// Mean ‖s_θ − s_emp‖ along the model's paths.
    pub score_gap: Vec<f64>,
    /// Mean σ(τ)·‖s_θ − s_emp‖: the gap on the scale of the noise, comparable across τ.
    pub scaled_score_gap: Vec<f64>,
    /// Viscosity ε of the run (for exp: η², the viscosity its steps approximate).
    pub viscosity: f64,
    /// I(τ) = ∫_τ^T ½ g² E‖s_θ − s_emp‖² du, cumulative from T (0 at the first time).
    pub gap_integral: Vec<f64>,
    /// The Girsanov KL ((1 + ε)²/(4ε))·I(τ) of the reverse SDE with viscosity ε; None for
    /// ε = 0 (the ODE), where it is not defined.
    pub novikov: Option<Vec<f64>>,
}

/// The factor (1 + ε)²/(4ε) that turns the score-gap integral into the KL of two reverse SDEs
/// with viscosity ε (None for ε = 0).
pub fn girsanov_factor(eps: f64) -> Option<f64> {
    (eps > 0.0).then(|| (1.0 + eps).powi(2) / (4.0 * eps))
}

/// `count` indices spread evenly over 0..=last, both ends included, without repeats.
pub fn evaluation_indices(last: usize, count: usize) -> Vec<usize> {
    let count = count.clamp(2, last + 1);
    let mut indices: Vec<usize> = (0..count)
        .map(|k| ((k * last) as f64 / (count - 1) as f64).round() as usize)
        .collect();
    indices.dedup();
    indices
}

/// Mean over rows of ‖a_i − b_i‖ and of ‖a_i − b_i‖².
fn mean_gap(a: Tensor<2>, b: Tensor<2>) -> (f64, f64) {
    let squared = to_vec((a - b).powi_scalar(2).sum_dim(1));
    let n = squared.len() as f64;
    let norm = squared.iter().map(|&v| (v as f64).sqrt()).sum::<f64>() / n;
    let square = squared.iter().map(|&v| v as f64).sum::<f64>() / n;
    (norm, square)
}

fn divergence_at(score: &dyn ScoreFn, points: &Tensor<2>, tau: f64) -> (f64, f64, f64) {
    let [n, d] = points.dims();
    let (_, div) = score.score_and_divergence(points.clone(), &Times::Same(tau));
    let div = to_vec(div);
    let bound = -(d as f64) / score.sde().sigma2(tau);
    let limit = bound * (1.0 + LI_YAU_SLACK);
    let violations = div.iter().filter(|&&v| (v as f64) < limit).count();
    let mean = div.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    (mean, bound, violations as f64 / n as f64)
}

/// Runs `score` from the shared starting noise and measures its path at the recorded times.
fn series(
    label: &str,
    score: &dyn ScoreFn,
    path: &[PathSnapshot],
    training: &Tensor<2>,
    config: &PathConfig,
) -> Result<PathSeries> {
    let mut out = PathSeries {
        label: label.to_string(),
        mean_d1: Vec::new(),
        memorised_fraction: Vec::new(),
        divergence: config.divergence.then(|| DivergenceSeries {
            mean: Vec::new(),
            bound: Vec::new(),
            violation_fraction: Vec::new(),
        }),
    };
    for snapshot in path {
        let stats =
            memorisation_stats(&neighbours(&snapshot.points, training)?, DEFAULT_THRESHOLD)?;
        out.mean_d1.push(stats.d1.mean * config.distance_scale);
        out.memorised_fraction.push(stats.memorised_fraction);
        if let Some(div) = out.divergence.as_mut() {
            let (mean, bound, violated) = divergence_at(score, &snapshot.points, snapshot.tau);
            div.mean.push(mean);
            div.bound.push(bound);
            div.violation_fraction.push(violated);
        }
    }
    Ok(out)
}

/// Path diagnostics of `model` against `empirical` (and `perturbed`, when given) on the
/// training set `training`, every run started from the same draw of `prior`. All scores must
/// belong to the same SDE. `progress` receives the number of integration steps done over all
/// runs.
#[allow(clippy::too_many_arguments)]
pub fn path_diagnostics(
    model: &dyn ScoreFn,
    empirical: &dyn ScoreFn,
    perturbed: Option<&dyn ScoreFn>,
    training: &Tensor<2>,
    config: &PathConfig,
    prior: &Prior,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<PathReport> {
    let sde = model.sde().clone();
    let others = std::iter::once(empirical).chain(perturbed);
    for other in others {
        if other.sde() != &sde {
            return Err(AnalysisError::invalid(
                "sde",
                format!(
                    "the model runs on the {} SDE but a comparison score on the {} SDE",
                    sde.name(),
                    other.sde().name()
                ),
            ));
        }
        if other.dim() != model.dim() {
            return Err(AnalysisError::Shape(format!(
                "the model has dimension {} but a comparison score has dimension {}",
                model.dim(),
                other.dim()
            )));
        }
    }
    config.validate(&sde)?;
    let times = config.sampler.times(&sde);
    let indices = evaluation_indices(config.sampler.steps, config.evaluations);
    let mut sampler = config.sampler.clone();
    sampler.record_at = indices.iter().map(|&i| times[i]).collect();
    sampler.denoise = false;

    let steps = config.sampler.steps;
    let mut done = 0usize;
    let mut run = |score: &dyn ScoreFn| -> Result<Vec<PathSnapshot>> {
        let base = done;
        let out = sample_with_prior(score, &sampler, prior, config.n, device, &mut |k| {
            progress(base + k)
        })?;
        done += steps;
        if let Some(row) = out.nonfinite_rows.first() {
            return Err(AnalysisError::invalid(
                "sampler",
                format!(
                    "path {row} became non-finite at τ = {:.4e}; use more steps or a larger t-min",
                    out.nonfinite_since[0]
                ),
            ));
        }
        Ok(out.path)
    };
    let model_path = run(model)?;
    let empirical_path = run(empirical)?;
    let perturbed_path = perturbed.map(&mut run).transpose()?;

    let mut report = PathReport {
        tau: model_path.iter().map(|p| p.tau).collect(),
        sigma: model_path
            .iter()
            .map(|p| sde.sigma2(p.tau).sqrt())
            .collect(),
        series: vec![
            series("model", model, &model_path, training, config)?,
            series("empirical", empirical, &empirical_path, training, config)?,
        ],
        score_gap: Vec::new(),
        scaled_score_gap: Vec::new(),
        viscosity: config.sampler.eps,
        gap_integral: Vec::new(),
        novikov: None,
    };
    if let (Some(score), Some(path)) = (perturbed, &perturbed_path) {
        report.series.push(series(
            "perturbed empirical",
            score,
            path,
            training,
            config,
        )?);
    }

    let mut integrand = Vec::with_capacity(model_path.len());
    for (snapshot, sigma) in model_path.iter().zip(&report.sigma) {
        let t = Times::Same(snapshot.tau);
        let (norm, square) = mean_gap(
            model.score(snapshot.points.clone(), &t),
            empirical.score(snapshot.points.clone(), &t),
        );
        report.score_gap.push(norm);
        report.scaled_score_gap.push(norm * sigma);
        integrand.push(0.5 * sde.diffusion(snapshot.tau).powi(2) * square);
    }
    let mut cumulative = 0.0;
    report.gap_integral.push(0.0);
    for k in 1..integrand.len() {
        let h = report.tau[k - 1] - report.tau[k];
        cumulative += 0.5 * h * (integrand[k - 1] + integrand[k]);
        report.gap_integral.push(cumulative);
    }
    report.novikov = girsanov_factor(report.viscosity)
        .map(|factor| report.gap_integral.iter().map(|v| factor * v).collect());
    Ok(report)
}

/// Columns of [`PathReport::table_row`]: the model's and the empirical score's paths at the
/// last recorded time, and the worst Li–Yau violation along the model's paths.
pub const PATH_TABLE_COLUMNS: [&str; 11] = [
    "label",
    "tau",
    "model_mean_d1",
    "empirical_mean_d1",
    "model_memorised_fraction",
    "empirical_memorised_fraction",
    "score_gap",
    "scaled_score_gap",
    "gap_integral",
    "novikov_exponent",
    "model_max_li_yau_violation",
];

impl PathReport {
    /// One summary-table row ([`PATH_TABLE_COLUMNS`]) at the last recorded time.
    pub fn table_row(&self, label: &str) -> Vec<String> {
        let last = self.tau.len() - 1;
        let (model, empirical) = (&self.series[0], &self.series[1]);
        let violation = model.divergence.as_ref().map(|d| {
            d.violation_fraction
                .iter()
                .copied()
                .fold(0.0f64, f64::max)
                .to_string()
        });
        vec![
            label.to_string(),
            self.tau[last].to_string(),
            model.mean_d1[last].to_string(),
            empirical.mean_d1[last].to_string(),
            model.memorised_fraction[last].to_string(),
            empirical.memorised_fraction[last].to_string(),
            self.score_gap[last].to_string(),
            self.scaled_score_gap[last].to_string(),
            self.gap_integral[last].to_string(),
            self.novikov
                .as_ref()
                .map(|v| v[last].to_string())
                .unwrap_or_default(),
            violation.unwrap_or_default(),
        ]
    }

    /// One line at the last recorded time: mean d1 of each series, the score gap and the
    /// Novikov exponent (or, for the ODE, the gap integral).
    pub fn headline(&self) -> String {
        let last = self.tau.len() - 1;
        let d1: Vec<String> = self
            .series
            .iter()
            .map(|s| format!("{} {:.4}", s.label, s.mean_d1[last]))
            .collect();
        let exponent = match &self.novikov {
            Some(novikov) => format!(
                "Novikov exponent (ε = {}) {:.3e}",
                self.viscosity, novikov[last]
            ),
            None => format!(
                "score-gap integral {:.3e} (ODE: no Novikov exponent)",
                self.gap_integral[last]
            ),
        };
        format!(
            "at τ = {:.3e}: mean d1 {}; score gap {:.3e}; {exponent}",
            self.tau[last],
            d1.join(", "),
            self.score_gap[last],
        )
    }

    /// Writes the report's curves (PNG: mean d1, score gap, the gap integral or Novikov exponent,
    /// Li–Yau violations) and its table (`paths.csv`) into `out`; returns the paths written.
    pub fn write(&self, out: &OutputDir) -> Result<Vec<PathBuf>> {
        let log_x = Axes {
            log_x: true,
            log_y: false,
        };
        let log_xy = Axes {
            log_x: true,
            log_y: true,
        };
        let d1: Vec<Series> = self
            .series
            .iter()
            .map(|s| Series {
                label: &s.label,
                values: &s.mean_d1,
            })
            .collect();
        let mut written = vec![out.write(
            "paths_d1.png",
            &curves_png(
                "mean distance to the nearest training point",
                "τ",
                "mean d1",
                &self.tau,
                &d1,
                log_xy,
            )?,
        )?];
        written.push(out.write(
            "paths_score_gap.png",
            &curves_png(
                "score gap along the model's paths",
                "τ",
                "mean ‖s_θ − s_emp‖",
                &self.tau,
                &[
                    Series {
                        label: "‖s_θ − s_emp‖",
                        values: &self.score_gap,
                    },
                    Series {
                        label: "σ·‖s_θ − s_emp‖",
                        values: &self.scaled_score_gap,
                    },
                ],
                log_xy,
            )?,
        )?);
        let (file, title, values) = match &self.novikov {
            Some(novikov) => (
                "paths_novikov.png",
                format!(
                    "Novikov exponent ((1+ε)²/4ε) ∫ ½ g² ‖s_θ − s_emp‖² dτ from T, ε = {}",
                    self.viscosity
                ),
                novikov,
            ),
            None => (
                "paths_gap_integral.png",
                "score-gap integral ∫ ½ g² ‖s_θ − s_emp‖² dτ from T (ODE: not a KL)".to_string(),
                &self.gap_integral,
            ),
        };
        written.push(out.write(
            file,
            &curves_png(
                &title,
                "τ",
                "cumulative from T",
                &self.tau,
                &[Series {
                    label: "model vs empirical",
                    values,
                }],
                log_xy,
            )?,
        )?);
        let violations: Vec<Series> = self
            .series
            .iter()
            .filter_map(|s| {
                s.divergence.as_ref().map(|d| Series {
                    label: &s.label,
                    values: &d.violation_fraction,
                })
            })
            .collect();
        if !violations.is_empty() {
            written.push(out.write(
                "paths_li_yau.png",
                &curves_png(
                    "fraction of points with ∇·s below −d/σ²",
                    "τ",
                    "violating fraction",
                    &self.tau,
                    &violations,
                    log_x,
                )?,
            )?);
        }
        let mut header = vec!["tau".to_string(), "sigma".into()];
        for s in &self.series {
            let name = s.label.replace(' ', "_");
            header.push(format!("{name}_mean_d1"));
            header.push(format!("{name}_memorised_fraction"));
            if s.divergence.is_some() {
                header.push(format!("{name}_mean_divergence"));
                header.push(format!("{name}_li_yau_violations"));
            }
        }
        header.extend([
            "score_gap".into(),
            "scaled_score_gap".into(),
            "gap_integral".into(),
            "novikov".into(),
        ]);
        let mut csv = header.join(",") + "\n";
        for k in 0..self.tau.len() {
            let mut row = vec![self.tau[k], self.sigma[k]];
            for s in &self.series {
                row.push(s.mean_d1[k]);
                row.push(s.memorised_fraction[k]);
                if let Some(d) = &s.divergence {
                    row.push(d.mean[k]);
                    row.push(d.violation_fraction[k]);
                }
            }
            row.extend([
                self.score_gap[k],
                self.scaled_score_gap[k],
                self.gap_integral[k],
                self.novikov.as_ref().map_or(f64::NAN, |v| v[k]),
            ]);
            csv.push_str(
                &row.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            csv.push('\n');
        }
        written.push(out.write("paths.csv", csv.as_bytes())?);
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::evaluation_indices;

    #[test]
    fn evaluation_indices_cover_both_ends_without_repeats() {
        assert_eq!(evaluation_indices(10, 3), vec![0, 5, 10]);
        assert_eq!(evaluation_indices(3, 50), vec![0, 1, 2, 3]);
        assert_eq!(evaluation_indices(4, 1), vec![0, 4]);
    }
}

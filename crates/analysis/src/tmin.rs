//! Early stopping (DESIGN §6, Liu–Zuazua §3): memorisation and quality of samples stopped at
//! each t_min, from the same starting noise, so the curves differ only by where the dynamics end;
//! for several samplers side by side (at equal score evaluations when their steps are set so).

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use scorelab_core::output::OutputDir;
use scorelab_core::ScoreFn;
use scorelab_sample::{sample_with_prior, Prior, SamplerConfig};

use crate::error::{AnalysisError, Result};
use crate::memorization::{memorisation_stats, neighbours, MemorisationStats};
use crate::plot::{curves_png, Axes, Series};
use crate::quality::QualityMetric;

/// One early-stopping time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TminRow {
    /// The sampler's name.
    pub sampler: String,
    /// Score evaluations per sample.
    pub evaluations: usize,
    pub t_min: f64,
    pub sigma: f64,
    /// Distances in this row are multiplied by the report's distance scale.
    pub memorisation: MemorisationStats,
    pub quality: Option<f64>,
    /// Samples that became non-finite (left out of the statistics).
    pub nonfinite: usize,
}

/// The sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TminReport {
    pub quality_metric: Option<String>,
    pub rows: Vec<TminRow>,
}

/// Samples `n` points with `score` from `prior` with each of `samplers` for each of `t_mins`
/// (same seed, same grid kind and step count) and measures them against `training` with
/// `threshold` on d1/d2. `progress` counts steps over all runs.
#[allow(clippy::too_many_arguments)]
pub fn tmin_sweep(
    score: &dyn ScoreFn,
    training: &Tensor<2>,
    samplers: &[SamplerConfig],
    prior: &Prior,
    t_mins: &[f64],
    n: usize,
    threshold: f64,
    distance_scale: f64,
    quality: Option<&dyn QualityMetric>,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<TminReport> {
    if t_mins.is_empty() {
        return Err(AnalysisError::invalid("t-mins", "give at least one time"));
    }
    let mut rows = Vec::with_capacity(samplers.len() * t_mins.len());
    let mut base = 0;
    for sampler in samplers {
        for &t_min in t_mins {
            let mut config = sampler.clone();
            config.t_min = t_min;
            config.record_at.clear();
            let out = sample_with_prior(score, &config, prior, n, device, &mut |s| {
                progress(base + s)
            })?;
            base += sampler.steps;
            let kept = finite_rows(out.samples, &out.nonfinite_rows);
            let Some(kept) = kept else {
                return Err(AnalysisError::invalid(
                    "t-min",
                    format!(
                        "every sample of {} became non-finite at t-min = {t_min}",
                        sampler.kind.name()
                    ),
                ));
            };
            let mut memorisation = memorisation_stats(&neighbours(&kept, training)?, threshold)?;
            scale_distances(&mut memorisation, distance_scale);
            let quality = quality.map(|metric| metric.evaluate(&kept)).transpose()?;
            rows.push(TminRow {
                sampler: sampler.kind.name().to_string(),
                evaluations: out.evaluations,
                t_min,
                sigma: score.sde().sigma2(t_min).sqrt(),
                memorisation,
                quality,
                nonfinite: out.nonfinite_rows.len(),
            });
        }
    }
    Ok(TminReport {
        quality_metric: quality.map(|m| m.name().to_string()),
        rows,
    })
}

/// Multiplies every distance of `stats` by `scale` (ratios are unchanged).
pub fn scale_distances(stats: &mut MemorisationStats, scale: f64) {
    stats.d1.scale(scale);
}

/// The rows of `x` not listed in `drop`; None when none is left.
pub fn finite_rows(x: Tensor<2>, drop: &[usize]) -> Option<Tensor<2>> {
    if drop.is_empty() {
        return Some(x);
    }
    let [n, _] = x.dims();
    let keep: Vec<i64> = (0..n as i64)
        .filter(|i| !drop.contains(&(*i as usize)))
        .collect();
    if keep.is_empty() {
        return None;
    }
    let device = x.device();
    let index = Tensor::<1, burn::tensor::Int>::from_data(
        burn::tensor::TensorData::new(keep.clone(), [keep.len()]),
        &device,
    );
    Some(x.select(0, index))
}

impl TminReport {
    /// One line per row: sampler, evaluations, t_min, σ, memorised fraction, mean d1 and the
    /// quality when measured.
    pub fn lines(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|row| {
                format!(
                    "{} ({} evaluations), t_min {:.1e} (σ {:.3e}): memorised {:.3}, mean d1 {:.4}{}",
                    row.sampler,
                    row.evaluations,
                    row.t_min,
                    row.sigma,
                    row.memorisation.memorised_fraction,
                    row.memorisation.d1.mean,
                    row.quality
                        .map(|q| format!(
                            ", {} {q:.4}",
                            self.quality_metric.as_deref().unwrap_or("quality")
                        ))
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    /// Writes the curves against t_min (`tmin.png`) and one row per sampler and t_min
    /// (`tmin.csv`) into `out`; returns the paths written.
    pub fn write(&self, out: &OutputDir) -> Result<Vec<PathBuf>> {
        let mut samplers: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !samplers.contains(&row.sampler.as_str()) {
                samplers.push(&row.sampler);
            }
        }
        let t: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| r.sampler == samplers[0])
            .map(|r| r.t_min)
            .collect();
        let mut curves: Vec<(String, Vec<f64>)> = Vec::new();
        for &sampler in &samplers {
            let rows: Vec<&TminRow> = self.rows.iter().filter(|r| r.sampler == sampler).collect();
            let suffix = if samplers.len() > 1 {
                format!(" ({sampler}, {} evaluations)", rows[0].evaluations)
            } else {
                String::new()
            };
            curves.push((
                format!("memorised fraction{suffix}"),
                rows.iter()
                    .map(|r| r.memorisation.memorised_fraction)
                    .collect(),
            ));
            curves.push((
                format!("mean d1{suffix}"),
                rows.iter().map(|r| r.memorisation.d1.mean).collect(),
            ));
            if let Some(name) = &self.quality_metric {
                curves.push((
                    format!("{name}{suffix}"),
                    rows.iter().map(|r| r.quality.unwrap_or(f64::NAN)).collect(),
                ));
            }
        }
        let series: Vec<Series> = curves
            .iter()
            .map(|(label, values)| Series { label, values })
            .collect();
        let png = curves_png(
            "early stopping",
            "t_min",
            "value",
            &t,
            &series,
            Axes {
                log_x: true,
                log_y: false,
            },
        )?;
        let mut csv = String::from(
            "sampler,evaluations,t_min,sigma,memorised_fraction,mean_d1,median_d1,quality,nonfinite\n",
        );
        for r in &self.rows {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                r.sampler,
                r.evaluations,
                r.t_min,
                r.sigma,
                r.memorisation.memorised_fraction,
                r.memorisation.d1.mean,
                r.memorisation.d1.median,
                r.quality.map(|q| q.to_string()).unwrap_or_default(),
                r.nonfinite
            ));
        }
        Ok(vec![
            out.write("tmin.png", &png)?,
            out.write("tmin.csv", csv.as_bytes())?,
        ])
    }
}

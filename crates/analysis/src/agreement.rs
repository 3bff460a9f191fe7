//! Disjoint-subset agreement (Kadkhodaie et al. 2024): two scores trained on disjoint training
//! sets are run from the same noise. Scores that generalise produce nearly the same sample from
//! the same noise; scores that memorise produce points of their own training sets, far apart.
//! The report puts the distance between paired samples next to each sample's distance to its
//! own training set.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use scorelab_core::device::to_vec;
use scorelab_core::output::OutputDir;
use scorelab_core::ScoreFn;
use scorelab_sample::{sample, SamplerConfig};

use crate::error::{AnalysisError, Result};
use crate::memorization::neighbours;
use crate::plot::{histograms_png, Series};
use crate::stats::{summarise, Summary};

/// The comparison of two scores' samples from shared noise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgreementReport {
    pub n: usize,
    /// Score evaluations per sample (the same for both scores).
    pub evaluations: usize,
    /// ‖x_a − x_b‖ for each pair.
    pub pair_distance: Summary,
    /// d1 of each A sample to A's training set, and of each B sample to B's.
    pub own_d1_a: Summary,
    pub own_d1_b: Summary,
    /// Fraction of pairs at most as far from each other as either is from its own training set.
    pub agreement: f64,
    /// Mean cosine similarity of the paired samples after removing each set's mean (images).
    pub centred_cosine: f64,
    /// Training points of A that also occur (exactly) in B: 0 for disjoint sets.
    pub shared_training_points: usize,
    /// The per-pair values behind the summaries: ‖x_a − x_b‖, and each sample's d1.
    #[serde(skip)]
    pub per_pair: [Vec<f64>; 3],
}

fn row_norms(x: Tensor<2>) -> Vec<f64> {
    to_vec(x.powi_scalar(2).sum_dim(1))
        .iter()
        .map(|&v| (v as f64).sqrt())
        .collect()
}

/// Samples `n` points from `a` and from `b` with the same sampler configuration (hence the
/// same prior draw and Brownian increments) and compares them.
#[allow(clippy::too_many_arguments)]
pub fn agreement(
    a: &dyn ScoreFn,
    b: &dyn ScoreFn,
    train_a: &Tensor<2>,
    train_b: &Tensor<2>,
    sampler: &SamplerConfig,
    n: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<AgreementReport> {
    if a.sde() != b.sde() || a.dim() != b.dim() {
        return Err(AnalysisError::invalid(
            "scores",
            "the two scores must share their SDE and dimension",
        ));
    }
    let steps = sampler.steps;
    let xa = sample(a, sampler, n, device, progress)?;
    let xb = sample(b, sampler, n, device, &mut |k| progress(steps + k))?;
    if !(xa.nonfinite_rows.is_empty() && xb.nonfinite_rows.is_empty()) {
        return Err(AnalysisError::invalid(
            "sampler",
            "some samples became non-finite; use more steps or a larger t-min",
        ));
    }
    let evaluations = xa.evaluations;
    let (xa, xb) = (xa.samples, xb.samples);
    let pair = row_norms(xa.clone() - xb.clone());
    let own_a = neighbours(&xa, train_a)?.nearest.d1;
    let own_b = neighbours(&xb, train_b)?.nearest.d1;
    let agree = pair
        .iter()
        .zip(own_a.iter().zip(&own_b))
        .filter(|(p, (da, db))| **p <= (**da as f64).min(**db as f64))
        .count();
    let centre = |x: Tensor<2>| x.clone() - x.mean_dim(0);
    let (ca, cb) = (centre(xa), centre(xb));
    let dots = to_vec((ca.clone() * cb.clone()).sum_dim(1));
    let (na, nb) = (row_norms(ca), row_norms(cb));
    let cosine = dots
        .iter()
        .zip(na.iter().zip(&nb))
        .map(|(&dot, (x, y))| dot as f64 / (x * y).max(f64::MIN_POSITIVE))
        .sum::<f64>()
        / n as f64;
    let shared = neighbours(train_a, train_b)?
        .nearest
        .d1
        .iter()
        .filter(|&&d| d == 0.0)
        .count();
    Ok(AgreementReport {
        n,
        evaluations,
        pair_distance: summarise(pair.iter().copied()),
        own_d1_a: summarise(own_a.iter().map(|&v| v as f64)),
        own_d1_b: summarise(own_b.iter().map(|&v| v as f64)),
        agreement: agree as f64 / n as f64,
        centred_cosine: cosine,
        shared_training_points: shared,
        per_pair: [
            pair,
            own_a.iter().map(|&v| v as f64).collect(),
            own_b.iter().map(|&v| v as f64).collect(),
        ],
    })
}

impl AgreementReport {
    /// One line: the distance between the paired samples against each side's distance to its
    /// own training set, the agreement, the centred cosine and the shared training points.
    pub fn headline(&self) -> String {
        format!(
            "pair distance {:.4} (median {:.4}) against own-training-set d1 {:.4} (A) and {:.4} (B); agreement {:.3}; centred cosine {:.3}; {} shared training points",
            self.pair_distance.mean,
            self.pair_distance.median,
            self.own_d1_a.mean,
            self.own_d1_b.mean,
            self.agreement,
            self.centred_cosine,
            self.shared_training_points,
        )
    }

    /// The distance summaries (pair distance, each side's d1) multiplied by `scale`: model
    /// space to data space for a normalisation x ↦ (x − shift)/scale.
    pub fn scale_summaries(&mut self, scale: f64) {
        for summary in [
            &mut self.pair_distance,
            &mut self.own_d1_a,
            &mut self.own_d1_b,
        ] {
            summary.scale(scale);
        }
    }

    /// Writes `agreement.png` into `out`: histograms of the paired samples' distance and of
    /// each side's d1 to its own training set, in data space (`scale`); returns its path.
    pub fn write_histograms(&self, out: &OutputDir, scale: f64) -> Result<PathBuf> {
        let scaled: Vec<Vec<f64>> = self
            .per_pair
            .iter()
            .map(|v| v.iter().map(|x| x * scale).collect())
            .collect();
        let png = histograms_png(
            "paired samples from the same noise",
            "distance",
            &[
                Series {
                    label: "between the paired samples",
                    values: &scaled[0],
                },
                Series {
                    label: "A sample to A's training set",
                    values: &scaled[1],
                },
                Series {
                    label: "B sample to B's training set",
                    values: &scaled[2],
                },
            ],
            40,
            true,
        )?;
        Ok(out.write("agreement.png", &png)?)
    }
}

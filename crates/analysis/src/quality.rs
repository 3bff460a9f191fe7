//! Sample quality against fresh reference samples (DESIGN §6): the sliced Wasserstein-2
//! distance and the energy distance. Both are printed next to the same metric between two
//! independent reference draws, the noise floor of a perfect generator.

use burn::tensor::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::nearest::squared_distances;

use crate::error::{AnalysisError, Result};

/// Point data up to this dimension is compared with fresh data by sliced W2 and energy
/// distance; above it (images) the commands use a classifier's features instead.
pub const SLICED_W2_MAX_DIM: usize = 64;

/// Default number of random directions of the sliced Wasserstein distance.
pub const DEFAULT_PROJECTIONS: usize = 256;

fn check_pair(a: &Tensor<2>, b: &Tensor<2>, min_rows: usize) -> Result<(usize, usize, usize)> {
    let [na, d] = a.dims();
    let [nb, db] = b.dims();
    if d != db {
        return Err(AnalysisError::Shape(format!(
            "the two point sets have dimensions {d} and {db}"
        )));
    }
    if na < min_rows || nb < min_rows {
        return Err(AnalysisError::invalid(
            "points",
            format!("need at least {min_rows} points in each set, got {na} and {nb}"),
        ));
    }
    Ok((na, nb, d))
}

/// W2² between the empirical measures of two sorted samples on the line, exactly: the
/// integral over u ∈ [0, 1] of (F_a⁻¹(u) − F_b⁻¹(u))², with both quantile functions steps.
pub fn wasserstein2_squared_1d(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut u, mut total) = (0.0f64, 0.0f64);
    while i < a.len() && j < b.len() {
        let next_a = (i + 1) as f64 / na;
        let next_b = (j + 1) as f64 / nb;
        let next = next_a.min(next_b);
        total += (next - u) * (a[i] - b[j]).powi(2);
        u = next;
        if next_a <= next {
            i += 1;
        }
        if next_b <= next {
            j += 1;
        }
    }
    total
}

/// Sliced Wasserstein-2: SW2(μ, ν)² = E_θ W2²(θ·μ, θ·ν) over directions θ uniform on the
/// sphere, estimated with `projections` seeded directions. For a shifted copy ν = μ + s,
/// SW2 = ‖s‖/√d.
pub fn sliced_wasserstein2(
    a: &Tensor<2>,
    b: &Tensor<2>,
    projections: usize,
    seed: u64,
) -> Result<f64> {
    let (na, nb, d) = check_pair(a, b, 1)?;
    if projections == 0 {
        return Err(AnalysisError::invalid("projections", "must be >= 1"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut theta = Vec::with_capacity(d * projections);
    for _ in 0..projections {
        let v: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        let norm = v
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        theta.extend(v.iter().map(|x| (x / norm) as f32));
    }
    // theta is K × d; projections are n × K, sorted down each column
    let theta = tensor_from_rows(&theta, projections, d, &a.device()).transpose();
    let project = |x: &Tensor<2>| to_vec(x.clone().matmul(theta.clone()).sort(0));
    let (pa, pb) = (project(a), project(b));
    let column = |values: &[f32], rows: usize, k: usize| -> Vec<f64> {
        (0..rows)
            .map(|r| values[r * projections + k] as f64)
            .collect()
    };
    let total: f64 = (0..projections)
        .map(|k| wasserstein2_squared_1d(&column(&pa, na, k), &column(&pb, nb, k)))
        .sum();
    Ok((total / projections as f64).sqrt())
}

/// Σ_{i,j} ‖a_i − b_j‖ over all pairs, in blocks.
fn distance_sum(a: &Tensor<2>, b: &Tensor<2>, d: usize) -> f64 {
    const BLOCK: usize = 1024;
    let ([na, _], [nb, _]) = (a.dims(), b.dims());
    let mut total = 0.0f64;
    for i in (0..na).step_by(BLOCK) {
        let qa = a.clone().narrow(0, i, BLOCK.min(na - i));
        for j in (0..nb).step_by(BLOCK) {
            let rb = b.clone().narrow(0, j, BLOCK.min(nb - j));
            total += to_vec(squared_distances(&qa, rb, d).sqrt().sum())[0] as f64;
        }
    }
    total
}

/// The energy distance E(μ, ν) = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ (≥ 0, zero iff μ = ν),
/// with unbiased within-set means (pairs i ≠ j).
pub fn energy_distance(a: &Tensor<2>, b: &Tensor<2>) -> Result<f64> {
    let (na, nb, d) = check_pair(a, b, 2)?;
    let (na_f, nb_f) = (na as f64, nb as f64);
    let cross = distance_sum(a, b, d) / (na_f * nb_f);
    let within_a = distance_sum(a, a, d) / (na_f * (na_f - 1.0));
    let within_b = distance_sum(b, b, d) / (nb_f * (nb_f - 1.0));
    Ok(2.0 * cross - within_a - within_b)
}

/// Both quality metrics of a sample against a reference set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub sliced_w2: f64,
    pub energy_distance: f64,
}

/// Sliced W2 (with [`DEFAULT_PROJECTIONS`] directions) and energy distance of `a` against `b`.
pub fn quality(a: &Tensor<2>, b: &Tensor<2>, seed: u64) -> Result<Quality> {
    Ok(Quality {
        sliced_w2: sliced_wasserstein2(a, b, DEFAULT_PROJECTIONS, seed)?,
        energy_distance: energy_distance(a, b)?,
    })
}

/// A one-number sample-quality metric against a fixed reference (lower is better).
pub trait QualityMetric {
    /// A short name for tables ("sliced W2", "Fréchet distance").
    fn name(&self) -> &str;
    /// The metric of `samples`.
    fn evaluate(&self, samples: &Tensor<2>) -> Result<f64>;
}

/// Sliced W2 to a fixed reference sample.
pub struct SlicedW2To {
    pub reference: Tensor<2>,
    pub seed: u64,
}

impl QualityMetric for SlicedW2To {
    fn name(&self) -> &str {
        "sliced W2"
    }

    fn evaluate(&self, samples: &Tensor<2>) -> Result<f64> {
        sliced_wasserstein2(samples, &self.reference, DEFAULT_PROJECTIONS, self.seed)
    }
}

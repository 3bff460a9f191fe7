//! Two sample sets compared directly (`analyze compare`): any quality metric between A and B,
//! with a noise floor like the memorisation report's — the metric between two independent
//! draws of one law at the same size. Without a data set to draw from, the two draws are the
//! two halves of a seeded split of B, and A is compared at that size too (half of A against
//! the other half of B), so that "A vs B" and the floor are estimates at equal sample sizes
//! (both metrics are biased upwards at small n).

use burn::tensor::{Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{AnalysisError, Result};
use crate::quality::{quality, Quality};

/// The rows of `x` split into two disjoint halves by a seeded permutation.
pub fn split_halves(x: &Tensor<2>, seed: u64) -> Result<(Tensor<2>, Tensor<2>)> {
    let [n, _] = x.dims();
    if n < 4 {
        return Err(AnalysisError::invalid(
            "points",
            format!("a noise floor from two halves needs at least 4 points, got {n}"),
        ));
    }
    let mut order: Vec<i64> = (0..n as i64).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let half = n / 2;
    let rows = |indices: &[i64]| {
        let index = Tensor::<1, Int>::from_data(
            TensorData::new(indices.to_vec(), [indices.len()]),
            &x.device(),
        );
        x.clone().select(0, index)
    };
    Ok((rows(&order[..half]), rows(&order[half..2 * half])))
}

/// The three comparisons of one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison<T> {
    /// All of A against all of B.
    pub a_vs_b: T,
    /// The first half of A against the second half of B (the size of the floor).
    pub a_half_vs_b_half: T,
    /// The first half of B against its second half: the noise floor.
    pub noise_floor_b_half_vs_b_half: T,
}

/// Evaluates `metric` on (A, B), (A₁, B₂) and (B₁, B₂), with the halves of [`split_halves`].
pub fn compare_with<T>(
    a: &Tensor<2>,
    b: &Tensor<2>,
    seed: u64,
    metric: impl Fn(&Tensor<2>, &Tensor<2>) -> Result<T>,
) -> Result<Comparison<T>> {
    let (a1, _) = split_halves(a, seed)?;
    let (b1, b2) = split_halves(b, seed.wrapping_add(1))?;
    Ok(Comparison {
        a_vs_b: metric(a, b)?,
        a_half_vs_b_half: metric(&a1, &b2)?,
        noise_floor_b_half_vs_b_half: metric(&b1, &b2)?,
    })
}

/// Sliced W2 and energy distance of A against B with the split-half noise floor.
pub fn compare_samples(a: &Tensor<2>, b: &Tensor<2>, seed: u64) -> Result<Comparison<Quality>> {
    compare_with(a, b, seed, |x, y| quality(x, y, seed))
}

//! The `ScoreFn` abstraction (DESIGN §4): anything that maps (x, τ) to ∇ log p_τ(x).

use burn::tensor::{Device, Tensor};

use crate::device::{column, tensor_from_rows};
use crate::error::{CoreError, Result};
use crate::sde::Sde;

/// Above this dimension the exact divergence (d JVPs per point) is not the default: the
/// training penalty and the likelihood use Hutchinson's estimate, path diagnostics leave it out.
pub const EXACT_DIVERGENCE_MAX_DIM: usize = 64;

/// The times of a batch: one shared time (what samplers use) or one per row (training).
#[derive(Clone, Debug, PartialEq)]
pub enum Times {
    Same(f64),
    Each(Vec<f64>),
}

impl Times {
    /// The time of every row of a batch of `rows`.
    pub fn per_row(&self, rows: usize) -> Vec<f64> {
        match self {
            Times::Same(t) => vec![*t; rows],
            Times::Each(ts) => {
                assert_eq!(ts.len(), rows, "one time per row");
                ts.clone()
            }
        }
    }

    /// The rows `start..start + len` of these times.
    pub fn slice(&self, start: usize, len: usize) -> Times {
        match self {
            Times::Same(t) => Times::Same(*t),
            Times::Each(ts) => Times::Each(ts[start..start + len].to_vec()),
        }
    }
}

/// The marginal coefficients (α, c, σ²) of `sde` at each row's time, as [rows, 1] columns.
pub fn marginal_columns(
    sde: &Sde,
    t: &Times,
    rows: usize,
    device: &Device,
) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let times = t.per_row(rows);
    let map =
        |f: &dyn Fn(f64) -> f64| column(&times.iter().map(|&s| f(s)).collect::<Vec<_>>(), device);
    (
        map(&|s| sde.alpha(s)),
        map(&|s| sde.shift(s)),
        map(&|s| sde.sigma2(s)),
    )
}

/// A score function s(x, τ) ≈ ∇ log p_τ(x) for the marginals of a forward SDE.
///
/// Implementations: the empirical score, the exact score of a Gaussian mixture, a perturbed
/// score, and (from the training crate) a network loaded from a checkpoint. They are
/// interchangeable wherever a score is consumed.
pub trait ScoreFn {
    /// The data dimension d.
    fn dim(&self) -> usize;

    /// The forward SDE whose marginals this score belongs to.
    fn sde(&self) -> &Sde;

    /// The score of a batch x ∈ R^{B×d}.
    fn score(&self, x: Tensor<2>, t: &Times) -> Tensor<2>;

    /// The score and its divergence ∇·s ∈ R^B.
    fn score_and_divergence(&self, x: Tensor<2>, t: &Times) -> (Tensor<2>, Tensor<1>);

    /// The score and Hutchinson's estimate of its divergence, (1/K) Σ_k v_kᵀ (∂s/∂x) v_k, for
    /// probes ∈ R^{K·B×d} (block k holds v_k for every row), unbiased when E v vᵀ = I. Scores
    /// whose exact divergence is cheap return it (an estimate without variance).
    fn score_and_divergence_estimate(
        &self,
        x: Tensor<2>,
        t: &Times,
        probes: &Tensor<2>,
    ) -> (Tensor<2>, Tensor<1>) {
        let _ = probes;
        self.score_and_divergence(x, t)
    }

    /// Checks that a batch has this score's dimension.
    fn check_input(&self, x: &Tensor<2>) -> Result<()> {
        let [_, d] = x.dims();
        if d == self.dim() {
            Ok(())
        } else {
            Err(CoreError::Shape(format!(
                "points have dimension {d} but the score expects {}",
                self.dim()
            )))
        }
    }
}

/// s + e for a constant vector e (Pidstrigach Fig. 2b / 3b); the divergence is unchanged.
pub struct PerturbedScore<S> {
    inner: S,
    offset: Tensor<2>,
}

impl<S: ScoreFn> PerturbedScore<S> {
    /// Wraps `inner` with the constant offset `e` (length d).
    pub fn new(inner: S, e: &[f64], device: &Device) -> Result<Self> {
        if e.len() != inner.dim() {
            return Err(CoreError::Shape(format!(
                "perturbation has {} entries but the data dimension is {}",
                e.len(),
                inner.dim()
            )));
        }
        let e: Vec<f32> = e.iter().map(|&v| v as f32).collect();
        let offset = tensor_from_rows(&e, 1, e.len(), device);
        Ok(PerturbedScore { inner, offset })
    }
}

impl<S: ScoreFn> ScoreFn for PerturbedScore<S> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn sde(&self) -> &Sde {
        self.inner.sde()
    }

    fn score(&self, x: Tensor<2>, t: &Times) -> Tensor<2> {
        self.inner.score(x, t) + self.offset.clone()
    }

    fn score_and_divergence(&self, x: Tensor<2>, t: &Times) -> (Tensor<2>, Tensor<1>) {
        let (s, div) = self.inner.score_and_divergence(x, t);
        (s + self.offset.clone(), div)
    }

    fn score_and_divergence_estimate(
        &self,
        x: Tensor<2>,
        t: &Times,
        probes: &Tensor<2>,
    ) -> (Tensor<2>, Tensor<1>) {
        let (s, div) = self.inner.score_and_divergence_estimate(x, t, probes);
        (s + self.offset.clone(), div)
    }
}

impl<S: ScoreFn + ?Sized> ScoreFn for Box<S> {
    fn dim(&self) -> usize {
        (**self).dim()
    }

    fn sde(&self) -> &Sde {
        (**self).sde()
    }

    fn score(&self, x: Tensor<2>, t: &Times) -> Tensor<2> {
        (**self).score(x, t)
    }

    fn score_and_divergence(&self, x: Tensor<2>, t: &Times) -> (Tensor<2>, Tensor<1>) {
        (**self).score_and_divergence(x, t)
    }

    fn score_and_divergence_estimate(
        &self,
        x: Tensor<2>,
        t: &Times,
        probes: &Tensor<2>,
    ) -> (Tensor<2>, Tensor<1>) {
        (**self).score_and_divergence_estimate(x, t, probes)
    }
}

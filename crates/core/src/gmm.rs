//! Gaussian mixtures with diagonal covariances: data distribution and exact score under any SDE.
//!
//! If X_0 ~ Σ_k π_k N(m_k, diag(v_k)), then under a linear SDE
//! X_t ~ Σ_k π_k N(α m_k + c, diag(α² v_k + σ²)), whose score is available in closed form.

use burn::tensor::{Device, Tensor};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::device::tensor_from_rows;
use crate::error::{CoreError, Result};
use crate::score::{marginal_columns, ScoreFn, Times};
use crate::sde::Sde;

/// A Gaussian mixture Σ_k π_k N(m_k, diag(v_k)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gmm {
    pub weights: Vec<f64>,
    pub means: Vec<Vec<f64>>,
    pub variances: Vec<Vec<f64>>,
}

impl Gmm {
    /// Validates and builds a mixture; weights are normalised to sum to one.
    pub fn new(weights: Vec<f64>, means: Vec<Vec<f64>>, variances: Vec<Vec<f64>>) -> Result<Self> {
        let k = weights.len();
        if k == 0 || means.len() != k || variances.len() != k {
            return Err(CoreError::invalid(
                "gmm",
                "weights, means and variances need the same, non-zero number of components",
            ));
        }
        let d = means[0].len();
        if d == 0 || means.iter().chain(&variances).any(|row| row.len() != d) {
            return Err(CoreError::invalid(
                "gmm",
                "every mean and variance needs the same, non-zero dimension",
            ));
        }
        if weights.iter().any(|w| !(w.is_finite() && *w > 0.0))
            || variances
                .iter()
                .flatten()
                .any(|v| !(v.is_finite() && *v > 0.0))
            || means.iter().flatten().any(|m| !m.is_finite())
        {
            return Err(CoreError::invalid(
                "gmm",
                "weights and variances must be finite and > 0, means finite",
            ));
        }
        let total: f64 = weights.iter().sum();
        Ok(Gmm {
            weights: weights.iter().map(|w| w / total).collect(),
            means,
            variances,
        })
    }

    /// A single Gaussian N(mean, diag(variance)).
    pub fn gaussian(mean: Vec<f64>, variance: Vec<f64>) -> Result<Self> {
        Gmm::new(vec![1.0], vec![mean], vec![variance])
    }

    /// The default 2-D mixture: 8 equal components on the unit circle, standard deviation 0.1.
    pub fn default_ring() -> Self {
        let k = 8;
        let means = (0..k)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI * i as f64 / k as f64;
                vec![a.cos(), a.sin()]
            })
            .collect();
        Gmm::new(vec![1.0; k], means, vec![vec![0.01, 0.01]; k]).expect("valid default mixture")
    }

    /// Number of components.
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    /// Dimension of the data.
    pub fn dim(&self) -> usize {
        self.means[0].len()
    }

    /// Draws `n` points (row-major) and the component each came from.
    pub fn sample(&self, n: usize, rng: &mut impl Rng) -> (Vec<f32>, Vec<usize>) {
        let d = self.dim();
        let mut points = Vec::with_capacity(n * d);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut k = self.components() - 1;
            for (i, w) in self.weights.iter().enumerate() {
                acc += w;
                if u < acc {
                    k = i;
                    break;
                }
            }
            for j in 0..d {
                let z: f64 = rng.sample(StandardNormal);
                points.push((self.means[k][j] + self.variances[k][j].sqrt() * z) as f32);
            }
            labels.push(k);
        }
        (points, labels)
    }

    /// The mixture of p_t under `sde`: component means α m_k + c and variances α² v_k + σ².
    pub fn at_time(&self, sde: &Sde, t: f64) -> Gmm {
        let (a, c, s2) = (sde.alpha(t), sde.shift(t), sde.sigma2(t));
        Gmm {
            weights: self.weights.clone(),
            means: self
                .means
                .iter()
                .map(|m| m.iter().map(|x| a * x + c).collect())
                .collect(),
            variances: self
                .variances
                .iter()
                .map(|v| v.iter().map(|x| a * a * x + s2).collect())
                .collect(),
        }
    }

    /// log p(x) = log Σ_k π_k N(x; m_k, diag(v_k)), by log-sum-exp.
    pub fn log_density(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = (0..self.components())
            .map(|k| {
                let quadratic_and_log_det: f64 = x
                    .iter()
                    .zip(&self.means[k])
                    .zip(&self.variances[k])
                    .map(|((xi, m), v)| {
                        (xi - m).powi(2) / v + (2.0 * std::f64::consts::PI * v).ln()
                    })
                    .sum();
                self.weights[k].ln() - 0.5 * quadratic_and_log_det
            })
            .collect();
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    }

    /// Overall mean Σ π_k m_k.
    pub fn mean(&self) -> Vec<f64> {
        (0..self.dim())
            .map(|j| {
                self.weights
                    .iter()
                    .zip(&self.means)
                    .map(|(w, m)| w * m[j])
                    .sum()
            })
            .collect()
    }

    /// Overall covariance Σ π_k (diag(v_k) + m_k m_kᵀ) − μ μᵀ, row-major d × d.
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim();
        let mu = self.mean();
        let mut cov = vec![0.0; d * d];
        for ((w, m), v) in self.weights.iter().zip(&self.means).zip(&self.variances) {
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += w * (m[i] * m[j] + if i == j { v[i] } else { 0.0 });
                }
            }
        }
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] -= mu[i] * mu[j];
            }
        }
        cov
    }
}

/// The exact score ∇ log p_t of a Gaussian mixture data distribution under an SDE.
pub struct GmmScore {
    gmm: Gmm,
    sde: Sde,
    device: Device,
}

impl GmmScore {
    /// The exact score of `gmm` pushed through `sde`.
    pub fn new(gmm: Gmm, sde: Sde, device: &Device) -> Self {
        GmmScore {
            gmm,
            sde,
            device: device.clone(),
        }
    }

    /// Per component: (variance [B,d], log π_k + log N(x; μ_k, var_k) [B,1], score s_k [B,d]).
    fn components(&self, x: &Tensor<2>, t: &Times) -> Vec<(Tensor<2>, Tensor<2>, Tensor<2>)> {
        let [b, d] = x.dims();
        let (alpha, shift, sigma2) = marginal_columns(&self.sde, t, b, &self.device);
        let ln_2pi = (2.0 * std::f64::consts::PI).ln();
        (0..self.gmm.components())
            .map(|k| {
                let m: Vec<f32> = self.gmm.means[k].iter().map(|&v| v as f32).collect();
                let v: Vec<f32> = self.gmm.variances[k].iter().map(|&v| v as f32).collect();
                let m = tensor_from_rows(&m, 1, d, &self.device);
                let v = tensor_from_rows(&v, 1, d, &self.device);
                let mean = alpha.clone() * m + shift.clone();
                let var = alpha.clone().powi_scalar(2) * v + sigma2.clone();
                let diff = x.clone() - mean;
                let log_density = (diff.clone().powi_scalar(2) / var.clone() + var.clone().log())
                    .sum_dim(1)
                    .add_scalar(d as f64 * ln_2pi)
                    .mul_scalar(-0.5)
                    .add_scalar(self.gmm.weights[k].ln());
                let score = diff.neg() / var.clone();
                (var, log_density, score)
            })
            .collect()
    }
}

impl ScoreFn for GmmScore {
    fn dim(&self) -> usize {
        self.gmm.dim()
    }

    fn sde(&self) -> &Sde {
        &self.sde
    }

    fn score(&self, x: Tensor<2>, t: &Times) -> Tensor<2> {
        self.score_and_divergence(x, t).0
    }

    /// s = Σ r_k s_k and ∇·s = Σ r_k(−Σ_j 1/var_kj + ‖s_k‖²) − ‖s‖², r the responsibilities.
    fn score_and_divergence(&self, x: Tensor<2>, t: &Times) -> (Tensor<2>, Tensor<1>) {
        let parts = self.components(&x, t);
        let logits = Tensor::cat(parts.iter().map(|p| p.1.clone()).collect(), 1);
        let resp = burn::tensor::activation::softmax(logits, 1);
        let [b, _] = x.dims();
        let mut score = x.zeros_like();
        let mut second = Tensor::<2>::zeros([b, 1], &self.device);
        for (k, (var, _, s_k)) in parts.into_iter().enumerate() {
            let r = resp.clone().narrow(1, k, 1);
            let trace = var.recip().sum_dim(1).neg();
            second = second + r.clone() * (trace + s_k.clone().powi_scalar(2).sum_dim(1));
            score = score + r * s_k;
        }
        let div = second - score.clone().powi_scalar(2).sum_dim(1);
        (score, div.squeeze_dim(1))
    }
}

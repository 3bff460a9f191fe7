//! Where the reverse dynamics start: a law for X_T.
//!
//! The forward marginal at T of a data set y_1..y_N is the mixture
//!   p_T = (1/N) Σ_i N(α(T) y_i + c(T), σ²(T) I).
//! The SDE's nominal prior N(m·1, v·I) (DESIGN §2) is close to it only where the SDE forgets its
//! start (vp, subvp, ou at large T). For heat with T = 1, ve, cou and cvp it is not, and every
//! sampler and the likelihood's prior term inherit the difference. Two better choices:
//! - moment: the Gaussian with p_T's mean and covariance, α·ȳ + c and α² Cov(y) + σ² I (Cov with
//!   divisor N, the covariance of the empirical measure);
//! - exact: p_T itself, x_T = α y_i + c + σ z with i uniform; only meaningful for the empirical
//!   score of those y_i (a model would be started next to its training points).

use burn::tensor::{Device, Tensor};
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::nearest::squared_distances;
use scorelab_core::{CoreError, Sde};

use crate::error::{Result, SampleError};

/// The names accepted on the command line.
pub const PRIOR_NAMES: [&str; 3] = ["nominal", "moment", "exact"];

/// Which law X_T is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriorKind {
    Nominal,
    Moment,
    Exact,
}

impl std::str::FromStr for PriorKind {
    type Err = CoreError;

    /// Parses a prior name.
    fn from_str(name: &str) -> std::result::Result<Self, CoreError> {
        Ok(match name {
            "nominal" => PriorKind::Nominal,
            "moment" => PriorKind::Moment,
            "exact" => PriorKind::Exact,
            _ => {
                return Err(CoreError::UnknownName {
                    kind: "prior",
                    name: name.to_string(),
                    expected: PRIOR_NAMES.join(", "),
                })
            }
        })
    }
}

/// A law of X_T with what it needs to be drawn from and evaluated.
#[derive(Clone, Debug)]
pub enum Prior {
    /// The SDE's own prior N(m·1, v·I).
    Nominal,
    /// N(mean, Σ) with Σ = L Lᵀ: p_T's first two moments.
    Moment {
        mean: DVector<f64>,
        cholesky: Cholesky<f64, Dyn>,
    },
    /// p_T of the data set `data` (model space, N × d).
    Exact { data: Box<Tensor<2>> },
}

/// Mean and covariance (divisor N) of the rows of `data`, in f64; the product is taken on
/// the backend after centring.
fn data_moments(data: &Tensor<2>) -> (DVector<f64>, DMatrix<f64>) {
    let [n, d] = data.dims();
    let mean = data.clone().mean_dim(0);
    let centred = data.clone() - mean.clone();
    let cov = to_vec(centred.clone().transpose().matmul(centred)).into_iter();
    let mean = DVector::from_iterator(d, to_vec(mean).into_iter().map(f64::from));
    let mut cov = DMatrix::from_row_iterator(d, d, cov.map(|v| v as f64 / n as f64));
    // symmetric up to rounding; make it exactly so for the factorisation
    cov = (&cov + cov.transpose()) * 0.5;
    (mean, cov)
}

impl Prior {
    /// The moment-matched Gaussian of p_T for the data set `data` (model space).
    pub fn moment(sde: &Sde, data: &Tensor<2>) -> Result<Self> {
        let [n, d] = data.dims();
        if n == 0 {
            return Err(SampleError::invalid("prior", "the data set is empty"));
        }
        let t = sde.t_end();
        let (alpha, shift, sigma2) = (sde.alpha(t), sde.shift(t), sde.sigma2(t));
        let (mean, cov) = data_moments(data);
        let mean = mean * alpha + DVector::from_element(d, shift);
        let cov = cov * (alpha * alpha) + DMatrix::identity(d, d) * sigma2;
        let cholesky = Cholesky::new(cov).ok_or_else(|| {
            SampleError::invalid(
                "prior",
                "the covariance of p_T is not positive definite (σ²(T) too small for the data)",
            )
        })?;
        Ok(Prior::Moment { mean, cholesky })
    }

    /// p_T of the data set `data` (model space) itself.
    pub fn exact(data: Tensor<2>) -> Result<Self> {
        if data.dims()[0] == 0 {
            return Err(SampleError::invalid("prior", "the data set is empty"));
        }
        Ok(Prior::Exact {
            data: Box::new(data),
        })
    }

    /// Which of the three laws this is.
    pub fn kind(&self) -> PriorKind {
        match self {
            Prior::Nominal => PriorKind::Nominal,
            Prior::Moment { .. } => PriorKind::Moment,
            Prior::Exact { .. } => PriorKind::Exact,
        }
    }

    fn check_dim(&self, dim: usize) -> Result<()> {
        let own = match self {
            Prior::Nominal => return Ok(()),
            Prior::Moment { mean, .. } => mean.len(),
            Prior::Exact { data } => data.dims()[1],
        };
        if own != dim {
            return Err(SampleError::invalid(
                "prior",
                format!("the prior has dimension {own} but the score has dimension {dim}"),
            ));
        }
        Ok(())
    }

    /// `n` draws of X_T in `dim` dimensions under `sde`, seeded by `seed` (standard normals
    /// from ChaCha8, so that the nominal prior gives the same points as before for a seed).
    pub fn sample(
        &self,
        sde: &Sde,
        n: usize,
        dim: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Tensor<2>> {
        self.check_dim(dim)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let z: Vec<f32> = (0..n * dim)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let z = tensor_from_rows(&z, n, dim, device);
        let t = sde.t_end();
        Ok(match self {
            Prior::Nominal => {
                let (mean, var) = sde.prior();
                z.mul_scalar(var.sqrt()).add_scalar(mean)
            }
            Prior::Moment { mean, cholesky } => {
                let l = cholesky.l();
                // rows z Lᵀ + mean
                let lt = tensor_from_rows(&row_major_f32(&l.transpose()), dim, dim, device);
                let mean: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
                z.matmul(lt) + tensor_from_rows(&mean, 1, dim, device)
            }
            Prior::Exact { data } => {
                let count = data.dims()[0];
                let indices: Vec<i64> = (0..n).map(|_| rng.random_range(0..count) as i64).collect();
                let indices = Tensor::<1, burn::tensor::Int>::from_data(
                    burn::tensor::TensorData::new(indices, [n]),
                    device,
                );
                let centres = (**data).clone().select(0, indices);
                centres.mul_scalar(sde.alpha(t)).add_scalar(sde.shift(t))
                    + z.mul_scalar(sde.sigma2(t).sqrt())
            }
        })
    }

    /// log density of X_T at every row of `x` (nats) under `sde`.
    pub fn log_density(&self, sde: &Sde, x: &Tensor<2>) -> Result<Vec<f64>> {
        let [n, d] = x.dims();
        self.check_dim(d)?;
        let log_2pi = (2.0 * std::f64::consts::PI).ln();
        let rows = to_vec(x.clone());
        Ok(match self {
            Prior::Nominal => {
                let (mean, var) = sde.prior();
                rows.chunks(d)
                    .map(|row| {
                        let q: f64 = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum();
                        -0.5 * (q / var + d as f64 * (log_2pi + var.ln()))
                    })
                    .collect()
            }
            Prior::Moment { mean, cholesky } => {
                // log N(x; m, L Lᵀ) = −½ (‖L⁻¹(x − m)‖² + log det Σ + d log 2π)
                let l = cholesky.l();
                let log_det: f64 = 2.0 * l.diagonal().iter().map(|v| v.ln()).sum::<f64>();
                rows.chunks(d)
                    .map(|row| {
                        let mut centred =
                            DVector::from_iterator(d, row.iter().map(|&v| v as f64)) - mean;
                        // L has a positive diagonal, so the triangular solve succeeds
                        l.solve_lower_triangular_mut(&mut centred);
                        -0.5 * (centred.norm_squared() + log_det + d as f64 * log_2pi)
                    })
                    .collect()
            }
            Prior::Exact { data } => {
                let t = sde.t_end();
                let (alpha, shift, sigma2) = (sde.alpha(t), sde.shift(t), sde.sigma2(t));
                let centres = (**data).clone().mul_scalar(alpha).add_scalar(shift);
                let count = data.dims()[0];
                // log (1/N) Σ_i exp(−‖x − centre_i‖²/2σ²), a streaming log-sum-exp over chunks
                let mut max = vec![f64::NEG_INFINITY; n];
                let mut total = vec![0.0f64; n];
                const CHUNK: usize = 4096;
                for start in (0..count).step_by(CHUNK) {
                    let len = CHUNK.min(count - start);
                    let d2 = to_vec(squared_distances(
                        x,
                        centres.clone().narrow(0, start, len),
                        d,
                    ));
                    for (row, values) in d2.chunks(len).enumerate() {
                        for &v in values {
                            let e = -(v as f64) / (2.0 * sigma2);
                            if e > max[row] {
                                total[row] = total[row] * (max[row] - e).exp() + 1.0;
                                max[row] = e;
                            } else {
                                total[row] += (e - max[row]).exp();
                            }
                        }
                    }
                }
                (0..n)
                    .map(|row| {
                        max[row] + total[row].ln()
                            - (count as f64).ln()
                            - 0.5 * d as f64 * (log_2pi + sigma2.ln())
                    })
                    .collect()
            }
        })
    }
}

/// Row-major f32 values of a matrix.
fn row_major_f32(m: &DMatrix<f64>) -> Vec<f32> {
    let (rows, cols) = m.shape();
    (0..rows)
        .flat_map(|i| (0..cols).map(move |j| m[(i, j)] as f32))
        .collect()
}

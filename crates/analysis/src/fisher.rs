//! Fisher divergence to a known score: F(t) = E_{x∼p_t} ‖s_θ(x, t) − ∇log p_t(x)‖², the
//! quantity every score-matching loss approximates, for data whose p_t is known in closed form
//! (a Gaussian or a Gaussian mixture). Points x_t = α(t) x0 + c(t) + σ(t) z are drawn from data
//! points x0 with seeded noise z.

use std::path::PathBuf;

use burn::tensor::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::output::OutputDir;
use scorelab_core::{ScoreFn, Times};

use crate::error::{AnalysisError, Result};
use crate::plot::{curves_png, Axes, Series};

/// The divergence at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FisherRow {
    pub t: f64,
    pub sigma: f64,
    /// Monte Carlo mean of ‖s_θ − ∇log p_t‖².
    pub divergence: f64,
    /// Its standard error.
    pub std_error: f64,
    /// divergence / E‖∇log p_t‖²: the error relative to the size of the score.
    pub relative: f64,
}

/// F(t) for each of `times`, with `x0` (n × d) data points and noise from `seed`.
pub fn fisher_divergence(
    model: &dyn ScoreFn,
    exact: &dyn ScoreFn,
    x0: &Tensor<2>,
    times: &[f64],
    seed: u64,
) -> Result<Vec<FisherRow>> {
    if model.sde() != exact.sde() {
        return Err(AnalysisError::invalid(
            "sde",
            "the model and the exact score belong to different SDEs",
        ));
    }
    model.check_input(x0)?;
    exact.check_input(x0)?;
    let [n, d] = x0.dims();
    if n < 2 {
        return Err(AnalysisError::invalid("n", "needs at least 2 points"));
    }
    let sde = model.sde();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::with_capacity(times.len());
    for &t in times {
        if !(t > 0.0 && t <= sde.t_end()) {
            return Err(AnalysisError::invalid(
                "times",
                format!("must lie in (0, T = {}], got {t}", sde.t_end()),
            ));
        }
        let (alpha, shift, sigma) = (sde.alpha(t), sde.shift(t), sde.sigma2(t).sqrt());
        let noise: Vec<f32> = (0..n * d)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let z = tensor_from_rows(&noise, n, d, &x0.device());
        let x = x0.clone().mul_scalar(alpha).add_scalar(shift) + z.mul_scalar(sigma);
        let times = Times::Same(t);
        let truth = exact.score(x.clone(), &times);
        let gap = to_vec(
            (model.score(x, &times) - truth.clone())
                .powi_scalar(2)
                .sum_dim(1),
        );
        let size = to_vec(truth.powi_scalar(2).sum_dim(1));
        let values: Vec<f64> = gap.iter().map(|&v| v as f64).collect();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let scale = size.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        rows.push(FisherRow {
            t,
            sigma,
            divergence: mean,
            std_error: (var / n as f64).sqrt(),
            relative: mean / scale.max(f64::MIN_POSITIVE),
        });
    }
    Ok(rows)
}

/// Writes the Fisher divergence and its relative value against t (`fisher.png`, log–log) and
/// the rows (`fisher.csv`: t, σ, divergence, standard error, relative) into `out`.
pub fn write_fisher_files(rows: &[FisherRow], out: &OutputDir) -> Result<Vec<PathBuf>> {
    let t: Vec<f64> = rows.iter().map(|r| r.t).collect();
    let divergence: Vec<f64> = rows.iter().map(|r| r.divergence).collect();
    let relative: Vec<f64> = rows.iter().map(|r| r.relative).collect();
    let png = curves_png(
        "Fisher divergence to the exact score",
        "t",
        "E‖s − ∇log p_t‖²",
        &t,
        &[
            Series {
                label: "Fisher divergence",
                values: &divergence,
            },
            Series {
                label: "relative to E‖∇log p_t‖²",
                values: &relative,
            },
        ],
        Axes {
            log_x: true,
            log_y: true,
        },
    )?;
    let mut csv = String::from("t,sigma,divergence,std_error,relative\n");
    for r in rows {
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            r.t, r.sigma, r.divergence, r.std_error, r.relative
        ));
    }
    Ok(vec![
        out.write("fisher.png", &png)?,
        out.write("fisher.csv", csv.as_bytes())?,
    ])
}

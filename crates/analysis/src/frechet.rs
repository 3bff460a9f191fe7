//! Sample quality in a feature space (DESIGN §6): the Fréchet distance between Gaussians fitted
//! to two sets of feature vectors (FID when the features come from a classifier) and the
//! frequencies of predicted classes.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::error::{AnalysisError, Result};

/// Mean and unbiased covariance (divisor n − 1) of the rows of a row-major `n × dim` matrix,
/// in f64.
fn moments(rows: &[f32], dim: usize, name: &str) -> Result<(DVector<f64>, DMatrix<f64>)> {
    if dim == 0 {
        return Err(AnalysisError::invalid("dim", "must be >= 1"));
    }
    if !rows.len().is_multiple_of(dim) {
        return Err(AnalysisError::Shape(format!(
            "{name} has {} values, not a whole number of rows of length {dim}",
            rows.len()
        )));
    }
    let n = rows.len() / dim;
    if n < 2 {
        return Err(AnalysisError::invalid(
            name,
            format!("needs at least 2 rows to estimate a covariance, got {n}"),
        ));
    }
    if let Some(i) = rows.iter().position(|v| !v.is_finite()) {
        return Err(AnalysisError::invalid(
            name,
            format!("row {} holds a non-finite value ({})", i / dim, rows[i]),
        ));
    }
    let x = DMatrix::from_row_iterator(n, dim, rows.iter().map(|&v| v as f64));
    let mean = x.row_mean().transpose();
    let centred = DMatrix::from_fn(n, dim, |i, j| x[(i, j)] - mean[j]);
    let cov = (centred.transpose() * &centred) / (n - 1) as f64;
    Ok((mean, cov))
}

/// Eigenvalues of the symmetric part of `m`, negative ones (rounding) clamped to 0.
fn clamped_eigen(m: DMatrix<f64>) -> SymmetricEigen<f64, nalgebra::Dyn> {
    let sym = (&m + m.transpose()) * 0.5;
    let mut eig = SymmetricEigen::new(sym);
    eig.eigenvalues.iter_mut().for_each(|l| *l = l.max(0.0));
    eig
}

/// The symmetric square root V diag(√λ) Vᵀ of a covariance matrix.
fn sqrt_psd(m: DMatrix<f64>) -> DMatrix<f64> {
    let eig = clamped_eigen(m);
    let root = DMatrix::from_diagonal(&eig.eigenvalues.map(f64::sqrt));
    &eig.eigenvectors * root * eig.eigenvectors.transpose()
}

/// The Fréchet (2-Wasserstein) distance squared between N(μa, Σa) and N(μb, Σb) fitted to the
/// rows of `a` and `b` (row-major, rows of length `dim`):
///
/// ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^{1/2} Σb Σa^{1/2})^{1/2}),
///
/// computed in f64 with symmetric eigendecompositions (tiny negative eigenvalues clamped to 0).
/// Both sets need at least 2 rows and finite values.
pub fn frechet_distance(a: &[f32], b: &[f32], dim: usize) -> Result<f64> {
    let (mu_a, cov_a) = moments(a, dim, "first feature set")?;
    let (mu_b, cov_b) = moments(b, dim, "second feature set")?;
    let mean_term = (&mu_a - &mu_b).norm_squared();
    let root_a = sqrt_psd(cov_a.clone());
    let cross = clamped_eigen(&root_a * &cov_b * &root_a)
        .eigenvalues
        .iter()
        .map(|l| l.sqrt())
        .sum::<f64>();
    let distance = mean_term + cov_a.trace() + cov_b.trace() - 2.0 * cross;
    Ok(distance.max(0.0))
}

/// The frequency of each class 0..classes among `predictions` (each entry count / total);
/// predictions outside 0..classes count in the total but in no class. All zeros when empty.
pub fn class_histogram(predictions: &[usize], classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; classes];
    for &p in predictions {
        if let Some(c) = counts.get_mut(p) {
            *c += 1;
        }
    }
    let total = predictions.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / total).collect()
}

//! Small point sets of the papers: lemniscate (Liu–Zuazua Fig. 2), circle (Pidstrigach Fig. 2)
//! and Diracs (Liu–Zuazua Fig. 3).

use rand::Rng;
use rand_distr::StandardNormal;

use super::{require_count, Dataset};
use crate::error::{require_non_negative, CoreError, Result};

/// `n` points of Bernoulli's lemniscate (x² + y²)² = x² − y², parametrised by
/// θ ~ U(0, 2π): (cos θ, sin θ cos θ)/(1 + sin² θ), plus Gaussian `noise`.
pub fn lemniscate(n: usize, noise: f64, rng: &mut impl Rng) -> Result<Dataset> {
    require_count("n-train", n)?;
    require_non_negative("noise", noise)?;
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let theta = 2.0 * std::f64::consts::PI * rng.random::<f64>();
        let denom = 1.0 + theta.sin().powi(2);
        let mut x = theta.cos() / denom;
        let mut y = theta.sin() * theta.cos() / denom;
        if noise > 0.0 {
            x += noise * rng.sample::<f64, _>(StandardNormal);
            y += noise * rng.sample::<f64, _>(StandardNormal);
        }
        points.push(x as f32);
        points.push(y as f32);
    }
    Ok(Dataset::from_points("lemniscate", points, 2))
}

/// `k` evenly spaced points (cos 2πi/k, sin 2πi/k) on the unit circle.
pub fn circle(k: usize) -> Result<Dataset> {
    require_count("n-train", k)?;
    let points = (0..k)
        .flat_map(|i| {
            let a = 2.0 * std::f64::consts::PI * i as f64 / k as f64;
            [a.cos() as f32, a.sin() as f32]
        })
        .collect();
    Ok(Dataset::from_points("circle", points, 2))
}

/// The given points, all of the same dimension.
pub fn diracs(points: &[Vec<f64>]) -> Result<Dataset> {
    let dim = points.first().map(Vec::len).unwrap_or(0);
    if dim == 0 || points.iter().any(|p| p.len() != dim) {
        return Err(CoreError::invalid(
            "points",
            "need at least one point, all of the same non-zero dimension",
        ));
    }
    if points.iter().flatten().any(|v| !v.is_finite()) {
        return Err(CoreError::invalid("points", "coordinates must be finite"));
    }
    let flat = points.iter().flatten().map(|&v| v as f32).collect();
    Ok(Dataset::from_points("diracs", flat, dim))
}

//! Small point sets of the papers: lemniscate (Liu–Zuazua Fig. 2), circle (Pidstrigach Fig. 2)
//! and Diracs (Liu–Zuazua Fig. 3).

use rand::Rng;
use rand_distr::StandardNormal;

use super::curve::distance_to_curve;
use super::{require_count, Dataset};
use crate::error::{require_non_negative, CoreError, Result};

/// Bernoulli's lemniscate (x² + y²)² = x² − y² at parameter θ: (cos θ, sin θ cos θ)/(1 + sin² θ).
fn lemniscate_point(theta: f64) -> (f64, f64) {
    let denom = 1.0 + theta.sin().powi(2);
    (theta.cos() / denom, theta.sin() * theta.cos() / denom)
}

/// `n` points of Bernoulli's lemniscate at θ ~ U(0, 2π), plus Gaussian `noise`.
pub fn lemniscate(n: usize, noise: f64, rng: &mut impl Rng) -> Result<Dataset> {
    require_count("n-train", n)?;
    require_non_negative("noise", noise)?;
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let theta = 2.0 * std::f64::consts::PI * rng.random::<f64>();
        let (mut x, mut y) = lemniscate_point(theta);
        if noise > 0.0 {
            x += noise * rng.sample::<f64, _>(StandardNormal);
            y += noise * rng.sample::<f64, _>(StandardNormal);
        }
        points.push(x as f32);
        points.push(y as f32);
    }
    Ok(Dataset::from_points("lemniscate", points, 2))
}

/// Euclidean distance from (x, y) to the noiseless lemniscate (x² + y²)² = x² − y².
pub fn lemniscate_curve_distance(x: f64, y: f64) -> f64 {
    distance_to_curve(lemniscate_point, 0.0, 2.0 * std::f64::consts::PI, x, y)
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn noiseless_lemniscate_points_lie_on_the_curve() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let data = lemniscate(300, 0.0, &mut rng).unwrap();
        for i in 0..data.n {
            let p = data.row(i);
            let d = lemniscate_curve_distance(p[0] as f64, p[1] as f64);
            assert!(d < 1e-6, "{p:?}: {d}");
        }
    }

    #[test]
    fn lemniscate_distance_matches_closed_forms() {
        // The crossing point is on the curve; beyond a tip (±1, 0) the normal is the x axis.
        assert!(lemniscate_curve_distance(0.0, 0.0) < 1e-9);
        for delta in [0.01, 0.3, 1.0] {
            let d = lemniscate_curve_distance(1.0 + delta, 0.0);
            assert!((d - delta).abs() < 1e-9, "{delta}: {d}");
            let d = lemniscate_curve_distance(-1.0 - delta, 0.0);
            assert!((d - delta).abs() < 1e-9, "{delta}: {d}");
        }
        // Far away the curve (inside the unit disc) is at least ‖p‖ − 1 away.
        assert!(lemniscate_curve_distance(0.0, 5.0) >= 4.0);
    }
}

//! The Swiss roll: t = 1.5π(1 + 2u), u ~ U(0,1), point (t cos t, t sin t)/7.

use rand::Rng;
use rand_distr::StandardNormal;

use super::curve::distance_to_curve;
use super::{require_count, Dataset};
use crate::error::{require_non_negative, Result};

/// The divisor that brings the roll to roughly [−1.4, 1.4]².
pub const SWISSROLL_SCALE: f64 = 7.0;
const T_MIN: f64 = 1.5 * std::f64::consts::PI;
const T_MAX: f64 = 4.5 * std::f64::consts::PI;

fn curve(t: f64) -> (f64, f64) {
    (t * t.cos() / SWISSROLL_SCALE, t * t.sin() / SWISSROLL_SCALE)
}

/// `n` Swiss-roll points; `noise` is the standard deviation of Gaussian noise added before scaling.
pub fn swissroll(n: usize, noise: f64, rng: &mut impl Rng) -> Result<Dataset> {
    require_count("n-train", n)?;
    require_non_negative("noise", noise)?;
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let u: f64 = rng.random();
        let t = T_MIN * (1.0 + 2.0 * u);
        let (mut x, mut y) = (t * t.cos(), t * t.sin());
        if noise > 0.0 {
            x += noise * rng.sample::<f64, _>(StandardNormal);
            y += noise * rng.sample::<f64, _>(StandardNormal);
        }
        points.push((x / SWISSROLL_SCALE) as f32);
        points.push((y / SWISSROLL_SCALE) as f32);
    }
    Ok(Dataset::from_points("swissroll", points, 2))
}

/// Euclidean distance from (x, y) to the noiseless spiral {(t cos t, t sin t)/7 : t ∈ [1.5π, 4.5π]}.
pub fn swissroll_curve_distance(x: f64, y: f64) -> f64 {
    distance_to_curve(curve, T_MIN, T_MAX, x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn noiseless_points_lie_on_the_curve() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let data = swissroll(200, 0.0, &mut rng).unwrap();
        for i in 0..data.n {
            let p = data.row(i);
            assert!(swissroll_curve_distance(p[0] as f64, p[1] as f64) < 1e-6);
        }
    }

    #[test]
    fn curve_distance_of_a_point_offset_along_the_normal_is_the_offset() {
        for &t in &[2.0 * std::f64::consts::PI, 3.0 * std::f64::consts::PI, 12.0] {
            let (cx, cy) = curve(t);
            let (tx, ty) = (t.cos() - t * t.sin(), t.sin() + t * t.cos());
            let len = (tx * tx + ty * ty).sqrt();
            let delta = 0.05;
            let d = swissroll_curve_distance(cx - delta * ty / len, cy + delta * tx / len);
            assert!((d - delta).abs() < 1e-6, "t = {t}: {d}");
        }
        // Every curve point has radius t/7 >= 1.5π/7, attained at the start of the roll.
        let d0 = swissroll_curve_distance(0.0, 0.0);
        assert!((d0 - T_MIN / SWISSROLL_SCALE).abs() < 1e-6, "{d0}");
    }
}

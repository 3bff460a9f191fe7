//! The Fréchet distance against closed forms, its invariances and its errors; class histograms.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use scorelab_analysis::{class_histogram, frechet_distance, AnalysisError};

fn normals(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// A rotation of R^4: two plane rotations by different angles, then a swap of the planes.
fn rotation() -> [[f64; 4]; 4] {
    let (c1, s1) = (0.6f64.cos(), 0.6f64.sin());
    let (c2, s2) = (1.1f64.cos(), 1.1f64.sin());
    let block = [
        [c1, -s1, 0.0, 0.0],
        [s1, c1, 0.0, 0.0],
        [0.0, 0.0, c2, -s2],
        [0.0, 0.0, s2, c2],
    ];
    // mix the two planes with a Hadamard-like orthogonal matrix
    let h = 0.5f64.sqrt();
    let mix = [
        [h, 0.0, h, 0.0],
        [0.0, h, 0.0, h],
        [h, 0.0, -h, 0.0],
        [0.0, h, 0.0, -h],
    ];
    mix.map(|row| std::array::from_fn(|j| (0..4).map(|k| row[k] * block[k][j]).sum()))
}

/// n draws of N(mean, R diag(var) Rᵀ), row-major f32.
fn gaussian(
    n: usize,
    mean: &[f64; 4],
    var: &[f64; 4],
    r: &[[f64; 4]; 4],
    rng: &mut ChaCha8Rng,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(4 * n);
    for _ in 0..n {
        let z = normals(4, rng);
        for (row, m) in r.iter().zip(mean) {
            let v: f64 = (0..4).map(|k| row[k] * var[k].sqrt() * z[k]).sum();
            out.push((m + v) as f32);
        }
    }
    out
}

#[test]
fn identical_sets_are_at_distance_zero() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let dim = 16;
    let a: Vec<f32> = normals(500 * dim, &mut rng)
        .iter()
        .enumerate()
        .map(|(i, v)| (v * (1.0 + (i % dim) as f64) + 0.3) as f32)
        .collect();
    let d = frechet_distance(&a, &a, dim).unwrap();
    // relative to the scale of the covariance trace (Σ (1 + j)² ≈ 1500)
    assert!(d.abs() <= 1e-9 * 1500.0, "d = {d}");
}

#[test]
fn commuting_covariances_match_the_closed_form() {
    // Σa = R diag(λa) Rᵀ and Σb = R diag(λb) Rᵀ commute, so
    // d = ‖μa − μb‖² + Σ_k (√λa_k − √λb_k)².
    let r = rotation();
    let (mu_a, var_a) = ([0.0, 1.0, -0.5, 2.0], [4.0, 1.0, 0.25, 2.0]);
    let (mu_b, var_b) = ([0.5, 0.0, -0.5, 1.5], [1.0, 1.0, 1.0, 0.5]);
    let n = 100_000;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let a = gaussian(n, &mu_a, &var_a, &r, &mut rng);
    let b = gaussian(n, &mu_b, &var_b, &r, &mut rng);
    let delta: Vec<f64> = mu_a.iter().zip(&mu_b).map(|(x, y)| x - y).collect();
    let exact: f64 = delta.iter().map(|d| d * d).sum::<f64>()
        + var_a
            .iter()
            .zip(&var_b)
            .map(|(x, y)| (x.sqrt() - y.sqrt()).powi(2))
            .sum::<f64>();
    let d = frechet_distance(&a, &b, 4).unwrap();
    // Tolerance from the sample size. The mean term's error is dominated by 2 Δμ·e with
    // e ~ N(0, (Σa + Σb)/n): standard deviation 2 √(Δμᵀ(Σa + Σb)Δμ / n) ≤ 2 ‖Δμ‖ √(λmax / n)
    // with λmax ≤ max(λa) + max(λb) = 6. Each √λ̂ has standard deviation ≈ √(λ / 2n), so the
    // trace term's error is about Σ_k 2 |√λa_k − √λb_k| √((λa_k + λb_k) / 2n). Bias terms are
    // O(tr(Σa + Σb) / n). Five standard errors plus twice the bias bound:
    let se_mean = 2.0 * delta.iter().map(|d| d * d).sum::<f64>().sqrt() * (6.0 / n as f64).sqrt();
    let se_cov: f64 = var_a
        .iter()
        .zip(&var_b)
        .map(|(x, y)| 2.0 * (x.sqrt() - y.sqrt()).abs() * ((x + y) / (2.0 * n as f64)).sqrt())
        .sum();
    let bias = (var_a.iter().sum::<f64>() + var_b.iter().sum::<f64>()) / n as f64;
    let tol = 5.0 * (se_mean + se_cov) + 2.0 * bias;
    assert!(
        (d - exact).abs() <= tol,
        "d = {d}, closed form {exact}, tolerance {tol}"
    );
    // the tolerance is a small fraction of the distance itself
    assert!(tol < 0.1 * exact, "tolerance {tol} vs {exact}");
}

#[test]
fn one_dimensional_gaussians_match_the_closed_form() {
    // d = (μa − μb)² + (σa − σb)²
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 50_000;
    let a: Vec<f32> = normals(n, &mut rng)
        .iter()
        .map(|z| (2.0 * z + 1.0) as f32)
        .collect();
    let b: Vec<f32> = normals(n, &mut rng).iter().map(|z| *z as f32).collect();
    let d = frechet_distance(&a, &b, 1).unwrap();
    // standard errors: 2·|Δμ|·√(5/n) ≈ 0.02 and 2·|Δσ|·√(5/2n) ≈ 0.014
    assert!((d - 2.0).abs() < 0.1, "d = {d}");
}

#[test]
fn shifting_both_sets_by_the_same_vector_changes_nothing() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let dim = 8;
    let a: Vec<f32> = normals(300 * dim, &mut rng)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let b: Vec<f32> = normals(400 * dim, &mut rng)
        .iter()
        .enumerate()
        .map(|(i, v)| (v * 1.5 + (i % dim) as f64 * 0.1) as f32)
        .collect();
    let shift: Vec<f32> = (0..dim).map(|j| j as f32 * 0.75 - 2.0).collect();
    let shifted = |x: &[f32]| -> Vec<f32> {
        x.iter()
            .enumerate()
            .map(|(i, v)| v + shift[i % dim])
            .collect()
    };
    let d = frechet_distance(&a, &b, dim).unwrap();
    let ds = frechet_distance(&shifted(&a), &shifted(&b), dim).unwrap();
    assert!(d > 1.0);
    // only the f32 rounding of the shifted inputs differs
    assert!((d - ds).abs() <= 1e-5 * d, "{d} vs {ds}");
    // and the distance is symmetric
    let back = frechet_distance(&b, &a, dim).unwrap();
    assert!((d - back).abs() <= 1e-9 * d, "{d} vs {back}");
}

#[test]
fn bad_inputs_are_errors() {
    let two_rows = [0.0f32, 1.0, 2.0, 3.0];
    let one_row = [0.0f32, 1.0];
    assert!(matches!(
        frechet_distance(&one_row, &two_rows, 2),
        Err(AnalysisError::InvalidParameter { .. })
    ));
    assert!(matches!(
        frechet_distance(&two_rows, &[], 2),
        Err(AnalysisError::InvalidParameter { .. })
    ));
    assert!(matches!(
        frechet_distance(&two_rows, &[0.0, 1.0, 2.0], 2),
        Err(AnalysisError::Shape(_))
    ));
    assert!(matches!(
        frechet_distance(&two_rows, &two_rows, 0),
        Err(AnalysisError::InvalidParameter { .. })
    ));
    for bad in [f32::NAN, f32::INFINITY] {
        let with_bad = [0.0f32, 1.0, bad, 3.0];
        let err = frechet_distance(&two_rows, &with_bad, 2).unwrap_err();
        assert!(matches!(err, AnalysisError::InvalidParameter { .. }));
        assert!(err.to_string().contains("non-finite"), "{err}");
    }
}

#[test]
fn class_histograms_are_frequencies() {
    let h = class_histogram(&[0, 1, 1, 3, 3, 3, 9, 9], 10);
    assert_eq!(h.len(), 10);
    assert_eq!(h[0], 0.125);
    assert_eq!(h[1], 0.25);
    assert_eq!(h[3], 0.375);
    assert_eq!(h[9], 0.25);
    assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert_eq!(class_histogram(&[], 3), vec![0.0; 3]);
    // out-of-range predictions count in the total only
    assert_eq!(class_histogram(&[0, 5], 2), vec![0.5, 0.0]);
}

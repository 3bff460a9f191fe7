//! Memorisation and quality metrics on constructed cases with known answers.

use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use scorelab_analysis::memorization::{memorisation_stats, neighbours, DEFAULT_THRESHOLD};
use scorelab_analysis::quality::{energy_distance, sliced_wasserstein2, wasserstein2_squared_1d};
use scorelab_core::datasets::{swissroll, swissroll_curve_distance};
use scorelab_core::device::tensor_from_rows;
use scorelab_core::Dataset;

fn roll(n: usize, seed: u64) -> Dataset {
    swissroll(n, 0.0, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap()
}

fn tensor(data: &Dataset, device: &Device) -> Tensor<2> {
    data.to_tensor(device)
}

fn gaussian(n: usize, d: usize, shift: &[f32], seed: u64, device: &Device) -> Tensor<2> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f32> = (0..n * d)
        .map(|k| {
            let z: f32 = StandardNormal.sample(&mut rng);
            z + shift[k % d]
        })
        .collect();
    tensor_from_rows(&values, n, d, device)
}

#[test]
fn training_points_as_samples_are_all_memorised() {
    let device = Device::flex();
    let train = tensor(&roll(500, 1), &device);
    let stats =
        memorisation_stats(&neighbours(&train, &train).unwrap(), DEFAULT_THRESHOLD).unwrap();
    assert_eq!(stats.memorised_fraction, 1.0);
    assert_eq!(stats.d1.max, 0.0);
}

/// A fresh draw from the same spiral lies on the manifold (curve distance below 1e-5, float32
/// rounding) and, with 500 training points, almost never within a third of the second-nearest
/// distance of a training point: along a curve the ratio d1/d2 of a uniform point between
/// neighbours is below 1/3 only when it falls in the first quarter of a gap (P ≈ 1/4 in 1-D
/// with half the gaps on each side), so the fraction is far from 1 but not 0; the bound 0.5
/// has a false-failure rate below 1e-6 at n = 2000 (binomial, p ≈ 0.25).
#[test]
fn fresh_draws_sit_on_the_manifold_but_are_not_copies() {
    let device = Device::flex();
    let train = roll(500, 1);
    let fresh = roll(2000, 2);
    let stats = memorisation_stats(
        &neighbours(&tensor(&fresh, &device), &tensor(&train, &device)).unwrap(),
        DEFAULT_THRESHOLD,
    )
    .unwrap();
    assert!(
        stats.memorised_fraction < 0.5,
        "memorised fraction {}",
        stats.memorised_fraction
    );
    let worst = fresh
        .points
        .chunks(2)
        .map(|p| swissroll_curve_distance(p[0] as f64, p[1] as f64))
        .fold(0.0f64, f64::max);
    assert!(worst < 1e-5, "curve distance {worst}");
    assert!(stats.d1.mean > 1e-3, "fresh points are not training points");
}

/// In 2-D, points spread over an area are memorised only by chance: a Gaussian cloud against
/// 200 training points from another Gaussian has memorised fraction near (1/3)² ≈ 0.11 for
/// a Poisson process; we check < 0.3 (false-failure rate < 1e-9 at n = 2000).
#[test]
fn an_independent_cloud_is_rarely_memorised() {
    let device = Device::flex();
    let train = gaussian(200, 2, &[0.0, 0.0], 3, &device);
    let fresh = gaussian(2000, 2, &[0.0, 0.0], 4, &device);
    let stats =
        memorisation_stats(&neighbours(&fresh, &train).unwrap(), DEFAULT_THRESHOLD).unwrap();
    assert!(
        stats.memorised_fraction < 0.3,
        "{}",
        stats.memorised_fraction
    );
}

#[test]
fn one_dimensional_wasserstein_matches_closed_forms() {
    // equal sizes: mean squared difference of order statistics
    let a = [0.0, 1.0, 2.0];
    let b = [1.0, 2.0, 3.0];
    assert!((wasserstein2_squared_1d(&a, &b) - 1.0).abs() < 1e-12);
    // unequal sizes: {0, 1} against {0, 0.5, 1}: quantile functions differ by 0.5 on [1/3, 1/2)
    // and by 0.5 on [1/2, 2/3): W2² = 2 · (1/6) · 0.25
    let w = wasserstein2_squared_1d(&[0.0, 1.0], &[0.0, 0.5, 1.0]);
    assert!((w - 2.0 / 6.0 * 0.25).abs() < 1e-12, "{w}");
}

/// Two draws of N(0, I) in 4-D: their sliced W2 is sampling noise, of order d^{-1/2}·√(1/n)-ish;
/// a copy shifted by s has SW2 = ‖s‖/√d exactly (every projection moves by θ·s and E(θ·s)² =
/// ‖s‖²/d); with 256 directions the estimate of E(θ·s)² has relative standard deviation
/// √(2/(d+2))/√256 ≈ 3.6%, and the noise floor adds in quadrature, so 10% is > 2.5 sd.
#[test]
fn sliced_w2_sees_a_shift_and_not_a_redraw() {
    let device = Device::flex();
    let d = 4;
    let zero = vec![0.0f32; d];
    let shift = [1.0f32, -1.0, 0.5, 2.0];
    let norm = shift.iter().map(|v| v * v).sum::<f32>().sqrt() as f64;
    let a = gaussian(4000, d, &zero, 5, &device);
    let b = gaussian(4000, d, &zero, 6, &device);
    let shifted = gaussian(4000, d, &shift, 6, &device);
    let floor = sliced_wasserstein2(&a, &b, 256, 0).unwrap();
    let moved = sliced_wasserstein2(&a, &shifted, 256, 0).unwrap();
    let expected = norm / (d as f64).sqrt();
    assert!(floor < 0.06, "noise floor {floor}");
    assert!(
        (moved - expected).abs() < 0.1 * expected,
        "shifted SW2 {moved}, expected {expected}"
    );
    // the exact shift of the very same sample: every sorted projection moves by θ·s
    let same_shifted = a.clone() + tensor_from_rows(&shift, 1, d, &device);
    let exact = sliced_wasserstein2(&a, &same_shifted, 256, 0).unwrap();
    assert!((exact - expected).abs() < 0.1 * expected, "{exact}");
}

/// Energy distance: ≈ 0 between two draws (unbiased within-set terms: mean 0, sd ~ 1/n), and
/// for N(0, 1) against N(μ, 1) in 1-D equal to 2E|X−Y| − 2E|X−X'| with
/// E|N(m, 2)| = 2φ(m/√2)√2 + m(2Φ(m/√2) − 1).
#[test]
fn energy_distance_matches_gaussian_closed_form() {
    let device = Device::flex();
    let n = 3000;
    let a = gaussian(n, 1, &[0.0], 7, &device);
    let b = gaussian(n, 1, &[0.0], 8, &device);
    let c = gaussian(n, 1, &[1.0], 8, &device);
    let floor = energy_distance(&a, &b).unwrap();
    assert!(floor.abs() < 0.01, "floor {floor}");
    let abs_normal = |m: f64| {
        let s = 2f64.sqrt();
        let z = m / s;
        let phi = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let cdf = 0.5 * (1.0 + erf(z / 2f64.sqrt()));
        2.0 * s * phi + m * (2.0 * cdf - 1.0)
    };
    let expected = 2.0 * abs_normal(1.0) - 2.0 * abs_normal(0.0);
    let got = energy_distance(&a, &c).unwrap();
    assert!((got - expected).abs() < 0.04, "{got} vs {expected}");
}

/// Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 {
        y
    } else {
        -y
    }
}

#[test]
fn mismatched_dimensions_are_errors() {
    let device = Device::flex();
    let a = gaussian(10, 2, &[0.0, 0.0], 1, &device);
    let b = gaussian(10, 3, &[0.0, 0.0, 0.0], 1, &device);
    assert!(neighbours(&a, &b).is_err());
    assert!(sliced_wasserstein2(&a, &b, 8, 0).is_err());
    assert!(energy_distance(&a, &b).is_err());
    assert!(memorisation_stats(&neighbours(&a, &a).unwrap(), 0.0).is_err());
}

#[test]
fn copy_counts_follow_the_nearest_training_point() {
    use scorelab_analysis::memorization::copy_stats;
    let device = Device::flex();
    let train = tensor(&roll(50, 1), &device);
    // every training point given back once, and point 0 three more times
    let copies = Tensor::cat(
        vec![
            train.clone(),
            train.clone().narrow(0, 0, 1).repeat_dim(0, 3),
        ],
        0,
    );
    let stats = copy_stats(&neighbours(&copies, &train).unwrap(), DEFAULT_THRESHOLD, 50);
    assert_eq!(stats.distinct_copied, 50);
    assert_eq!(stats.max_copies, 4);
    let counts = stats.counts.unwrap();
    assert_eq!(counts[0], 4);
    assert!(counts[1..].iter().all(|&c| c == 1));
}

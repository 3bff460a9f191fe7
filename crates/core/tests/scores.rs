//! The empirical score, its divergence and the exact mixture score against finite differences
//! of log-densities computed directly in f64.

use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::{EmpiricalScore, Gmm, GmmScore, PerturbedScore, ScoreFn, Sde, Times};

fn device() -> Device {
    Device::flex()
}

fn random_points(n: usize, d: usize, scale: f64, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d)
        .map(|_| scale * (2.0 * rng.random::<f64>() - 1.0))
        .collect()
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// log p̂_t(x) = log (1/N) Σ_k N(x; α y_k + c, σ² I), by log-sum-exp in f64.
fn empirical_log_density(x: &[f64], data: &[f64], sde: &Sde, t: f64) -> f64 {
    let d = x.len();
    let (a, c, s2) = (sde.alpha(t), sde.shift(t), sde.sigma2(t));
    let logs: Vec<f64> = data
        .chunks(d)
        .map(|y| {
            let dist2: f64 = x
                .iter()
                .zip(y)
                .map(|(xi, yi)| (xi - a * yi - c).powi(2))
                .sum();
            -dist2 / (2.0 * s2) - 0.5 * d as f64 * (2.0 * std::f64::consts::PI * s2).ln()
        })
        .collect();
    let m = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + (logs.iter().map(|l| (l - m).exp()).sum::<f64>() / logs.len() as f64).ln()
}

/// Central-difference gradient and Laplacian of a function of x.
fn fd_gradient_and_laplacian(f: &dyn Fn(&[f64]) -> f64, x: &[f64], h: f64) -> (Vec<f64>, f64) {
    let f0 = f(x);
    let mut grad = Vec::new();
    let mut lap = 0.0;
    for i in 0..x.len() {
        let mut xp = x.to_vec();
        let mut xm = x.to_vec();
        xp[i] += h;
        xm[i] -= h;
        let (fp, fm) = (f(&xp), f(&xm));
        grad.push((fp - fm) / (2.0 * h));
        lap += (fp - 2.0 * f0 + fm) / (h * h);
    }
    (grad, lap)
}

fn check_against_log_density(
    score: &dyn ScoreFn,
    queries: &[f64],
    times: &[f64],
    log_density: &dyn Fn(&[f64], f64) -> f64,
    label: &str,
) {
    let d = score.dim();
    let n = queries.len() / d;
    let x = tensor_from_rows(&to_f32(queries), n, d, &device());
    let (s, div) = score.score_and_divergence(x, &Times::Each(times.to_vec()));
    let (s, div) = (to_vec(s), to_vec(div));
    for i in 0..n {
        let q = &queries[i * d..(i + 1) * d];
        let t = times[i];
        let (grad, lap) = fd_gradient_and_laplacian(&|p| log_density(p, t), q, 1e-4);
        let scale = 1.0 + grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        for j in 0..d {
            let got = s[i * d + j] as f64;
            assert!(
                (got - grad[j]).abs() < 2e-4 * scale,
                "{label} point {i} coord {j} t={t}: score {got} vs finite difference {}",
                grad[j]
            );
        }
        let got = div[i] as f64;
        assert!(
            (got - lap).abs() < 2e-3 * (1.0 + lap.abs()),
            "{label} point {i} t={t}: divergence {got} vs finite difference {lap}"
        );
    }
}

/// Tolerances: the score is computed in f32 (relative error ~1e-6 after the softmax) and the
/// reference by f64 central differences with h = 1e-4 (truncation ~1e-8), so 2e-4 relative for
/// the score and 2e-3 for the divergence (a difference of two f32 terms) are ample yet tight.
#[test]
fn empirical_score_and_divergence_match_finite_differences_of_the_log_density() {
    let sdes = [
        Sde::vp(0.1, 20.0, 1.0).unwrap(),
        Sde::ou(1.0, 2f64.sqrt(), 0.4, 5.0).unwrap(),
        Sde::heat(2f64.sqrt(), 1.0).unwrap(),
        Sde::cou(1.0, 1.0, -0.2, 1.0).unwrap(),
    ];
    for (k, sde) in sdes.iter().enumerate() {
        for d in [2usize, 5] {
            let n = 23;
            let data = random_points(n, d, 1.0, 10 + k as u64);
            let score = EmpiricalScore::new(
                tensor_from_rows(&to_f32(&data), n, d, &device()),
                sde.clone(),
            )
            .unwrap();
            let queries = random_points(6, d, 1.2, 20 + k as u64);
            let t_end = sde.t_end();
            let times: Vec<f64> = [0.02, 0.05, 0.1, 0.3, 0.6, 0.9]
                .iter()
                .map(|f| f * t_end)
                .collect();
            check_against_log_density(
                &score,
                &queries,
                &times,
                &|x, t| empirical_log_density(x, &data, sde, t),
                &format!("{} d={d}", sde.name()),
            );
        }
    }
}

#[test]
fn chunked_equals_unchunked() {
    let (n, d) = (53, 3);
    let data = tensor_from_rows(&to_f32(&random_points(n, d, 1.0, 3)), n, d, &device());
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let whole = EmpiricalScore::with_chunks(data.clone(), sde.clone(), 1000, 1000).unwrap();
    let chunked = EmpiricalScore::with_chunks(data, sde, 7, 5).unwrap();
    let m = 40;
    let x = tensor_from_rows(&to_f32(&random_points(m, d, 1.5, 4)), m, d, &device());
    for t in [1e-3, 0.05, 0.7] {
        let (s1, d1) = whole.score_and_divergence(x.clone(), &Times::Same(t));
        let (s2, d2) = chunked.score_and_divergence(x.clone(), &Times::Same(t));
        for (a, b) in to_vec(s1).iter().zip(to_vec(s2)) {
            // f32 sums in a different order; s = (αm − x)/σ² amplifies their rounding by ~1/σ².
            assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "t={t}: {a} vs {b}");
        }
        for (a, b) in to_vec(d1).iter().zip(to_vec(d2)) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "t={t}: {a} vs {b}");
        }
    }
}

#[test]
fn same_time_equals_per_row_times() {
    let (n, d) = (30, 2);
    let data = tensor_from_rows(&to_f32(&random_points(n, d, 1.0, 5)), n, d, &device());
    let score = EmpiricalScore::new(data, Sde::heat(2f64.sqrt(), 1.0).unwrap()).unwrap();
    let x = tensor_from_rows(&to_f32(&random_points(8, d, 1.0, 6)), 8, d, &device());
    let a = to_vec(score.score(x.clone(), &Times::Same(0.2)));
    let b = to_vec(score.score(x, &Times::Each(vec![0.2; 8])));
    assert_eq!(a, b);
}

/// ∇·s ≥ −d/σ² for a Gaussian mixture with covariance σ²I (Li–Yau, generalised). Allowed slack:
/// 1e-4·d/σ² for f32 rounding.
#[test]
fn li_yau_bound_holds_at_random_points() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for sde in [
        Sde::vp(0.1, 20.0, 1.0).unwrap(),
        Sde::heat(2f64.sqrt(), 1.0).unwrap(),
        Sde::cvp(0.1, 2.0, 1.0).unwrap(),
    ] {
        for d in [2usize, 10] {
            let n = 40;
            let data = tensor_from_rows(
                &to_f32(&random_points(n, d, 1.0, rng.random())),
                n,
                d,
                &device(),
            );
            let score = EmpiricalScore::new(data, sde.clone()).unwrap();
            let m = 200;
            let x = tensor_from_rows(
                &to_f32(&random_points(m, d, 2.0, rng.random())),
                m,
                d,
                &device(),
            );
            for t in [1e-3, 1e-2, 0.1, 0.5, 1.0] {
                let (_, div) = score.score_and_divergence(x.clone(), &Times::Same(t));
                let bound = -(d as f64) / sde.sigma2(t);
                for v in to_vec(div) {
                    assert!(
                        v as f64 >= bound - 1e-4 * bound.abs(),
                        "{} d={d} t={t}: {v} < {bound}",
                        sde.name()
                    );
                }
            }
        }
    }
}

#[test]
fn gmm_exact_score_matches_finite_differences() {
    let gmm = Gmm::new(
        vec![0.3, 0.7],
        vec![vec![-1.0, 0.5], vec![1.0, -0.2]],
        vec![vec![0.04, 0.09], vec![0.25, 0.01]],
    )
    .unwrap();
    for sde in [
        Sde::vp(0.1, 20.0, 1.0).unwrap(),
        Sde::ve(0.01, 3.0, 1.0).unwrap(),
        Sde::ou(1.0, 1.0, 0.3, 2.0).unwrap(),
    ] {
        let score = GmmScore::new(gmm.clone(), sde.clone(), &device());
        let queries = random_points(5, 2, 1.5, 8);
        let times: Vec<f64> = [0.0, 0.01, 0.1, 0.5, 1.0]
            .iter()
            .map(|f| f * sde.t_end())
            .collect();
        let log_density = |x: &[f64], t: f64| {
            let pt = gmm.at_time(&sde, t);
            let logs: Vec<f64> = (0..2)
                .map(|k| {
                    pt.weights[k].ln()
                        + (0..2)
                            .map(|j| {
                                let v = pt.variances[k][j];
                                -0.5 * ((x[j] - pt.means[k][j]).powi(2) / v
                                    + (2.0 * std::f64::consts::PI * v).ln())
                            })
                            .sum::<f64>()
                })
                .collect();
            let m = logs[0].max(logs[1]);
            m + logs.iter().map(|l| (l - m).exp()).sum::<f64>().ln()
        };
        check_against_log_density(&score, &queries, &times, &log_density, sde.name());
    }
}

#[test]
fn perturbed_score_adds_the_offset_and_keeps_the_divergence() {
    let (n, d) = (9, 2);
    let data = tensor_from_rows(&to_f32(&random_points(n, d, 1.0, 9)), n, d, &device());
    let sde = Sde::heat(2f64.sqrt(), 1.0).unwrap();
    let base = EmpiricalScore::new(data.clone(), sde.clone()).unwrap();
    let perturbed = PerturbedScore::new(
        EmpiricalScore::new(data, sde).unwrap(),
        &[0.5, -1.0],
        &device(),
    )
    .unwrap();
    let x: Tensor<2> = tensor_from_rows(&to_f32(&random_points(4, d, 1.0, 10)), 4, d, &device());
    let (s0, d0) = base.score_and_divergence(x.clone(), &Times::Same(0.1));
    let (s1, d1) = perturbed.score_and_divergence(x, &Times::Same(0.1));
    for (i, (a, b)) in to_vec(s0).iter().zip(to_vec(s1)).enumerate() {
        let e = if i % 2 == 0 { 0.5 } else { -1.0 };
        assert!((a + e - b).abs() < 1e-5);
    }
    assert_eq!(to_vec(d0), to_vec(d1));
    assert!(PerturbedScore::new(base, &[1.0], &device()).is_err());
}

/// The f64 reference of the empirical score (used by `bench w3`) agrees with the chunked
/// float32 score, also under an SDE with a shift c(t) ≠ 0 (OU towards μ = 0.7); tolerance 1e-4
/// relative to the largest entry, well above float32 rounding over 300 points in 5-D.
#[test]
fn the_f64_reference_matches_the_chunked_empirical_score() {
    let (n, d) = (300, 5);
    let data = to_f32(&random_points(n, d, 1.0, 21));
    let queries = to_f32(&random_points(6, d, 1.2, 22));
    for sde in [
        Sde::vp(0.1, 20.0, 1.0).unwrap(),
        Sde::ou(1.0, 1.0, 0.7, 1.0).unwrap(),
    ] {
        let t = 0.3;
        let reference = scorelab_core::empirical::empirical_score_f64(&queries, &data, d, &sde, t);
        let score = EmpiricalScore::with_chunks(
            tensor_from_rows(&data, n, d, &device()),
            sde.clone(),
            4,
            64,
        )
        .unwrap();
        let chunked =
            to_vec(score.score(tensor_from_rows(&queries, 6, d, &device()), &Times::Same(t)));
        let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let error = reference
            .iter()
            .zip(&chunked)
            .fold(0.0f64, |m, (r, c)| m.max((r - *c as f64).abs()));
        assert!(
            error <= 1e-4 * scale,
            "{}: error {error} (scale {scale})",
            sde.name()
        );
    }
}

/// `Sde::perturb` draws X_t | x0 ~ N(α x0 + c, σ² I): with 40,000 draws the sample mean and
/// variance lie within 5 standard errors of α x0 + c and σ² (a false failure below 1e-6 per
/// check), under OU, whose shift c(t) is not zero.
#[test]
fn perturb_draws_the_forward_marginal() {
    let sde = Sde::ou(1.0, 1.0, 0.7, 1.0).unwrap();
    let t = 0.4;
    let x0 = vec![1.5f32; 40_000];
    let draws = sde.perturb(&x0, t, &mut ChaCha8Rng::seed_from_u64(5));
    let n = draws.len() as f64;
    let mean = draws.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = draws
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    let (expected_mean, expected_var) = (sde.alpha(t) * 1.5 + sde.shift(t), sde.sigma2(t));
    assert!(
        (mean - expected_mean).abs() < 5.0 * (expected_var / n).sqrt(),
        "{mean} vs {expected_mean}"
    );
    // the variance of the sample variance of a Gaussian is 2σ⁴/(n − 1)
    assert!(
        (var - expected_var).abs() < 5.0 * expected_var * (2.0 / (n - 1.0)).sqrt(),
        "{var} vs {expected_var}"
    );
    let prior = sde.draw_prior(10_000, 2, &mut ChaCha8Rng::seed_from_u64(6));
    let (m, v) = sde.prior();
    let mean = prior.iter().map(|&x| x as f64).sum::<f64>() / prior.len() as f64;
    assert!((mean - m).abs() < 5.0 * (v / prior.len() as f64).sqrt());
}

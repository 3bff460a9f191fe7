//! Hutchinson's divergence estimate of a network score, and the likelihood computed with it,
//! against the exact trace.

mod common;

use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use scorelab_analysis::likelihood::{
    draw_probes, log_likelihood, DivergenceMethod, LikelihoodConfig,
};
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::{ScoreFn, Sde, Times};
use scorelab_sample::Prior;
use scorelab_train::{NetworkScore, Parameterisation};

use common::small_mlp;

fn network(d: usize) -> NetworkScore<scorelab_train::Mlp> {
    let device = Device::flex();
    let net = small_mlp(d, false).init(3, &device).unwrap();
    NetworkScore::new(net, Sde::vp(0.1, 20.0, 1.0).unwrap(), Parameterisation::Eps)
}

/// 4,000 single-probe estimates at one point: their mean is within 4 standard errors of the
/// exact divergence (false-failure rate about 6e-5), for Gaussian and Rademacher probes.
#[test]
fn single_probe_estimates_average_to_the_exact_divergence() {
    let device = Device::flex();
    let d = 5;
    let score = network(d);
    let point: Vec<f32> = vec![0.3, -0.2, 0.5, 0.1, -0.4];
    let x1 = tensor_from_rows(&point, 1, d, &device);
    let t = Times::Same(0.2);
    let exact = to_vec(score.score_and_divergence(x1, &t).1)[0] as f64;
    let m = 4000;
    let x = tensor_from_rows(&point.repeat(m), m, d, &device);
    for rademacher in [false, true] {
        let v = draw_probes(1, m, d, rademacher, 11, &device);
        let estimates: Vec<f64> = to_vec(score.score_and_divergence_estimate(x.clone(), &t, &v).1)
            .iter()
            .map(|&e| e as f64)
            .collect();
        let mean = estimates.iter().sum::<f64>() / m as f64;
        let var = estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (m - 1) as f64;
        let se = (var / m as f64).sqrt();
        assert!(
            (mean - exact).abs() < 4.0 * se + 1e-4 * exact.abs(),
            "rademacher {rademacher}: mean {mean} ± {se}, exact {exact}"
        );
    }
}

/// The log-likelihood with fixed Rademacher probes is an unbiased estimate of the exact one:
/// over 64 points the mean difference lies within 4 standard errors.
#[test]
fn hutchinson_likelihood_is_unbiased() {
    let device = Device::flex();
    let d = 4;
    let score = network(d);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 64;
    let points: Vec<f32> = (0..n * d)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let x = tensor_from_rows(&points, n, d, &device);
    let config = |divergence| LikelihoodConfig {
        steps: 50,
        t0: 1e-2,
        divergence,
        solver: Default::default(),
    };
    let exact = log_likelihood(
        &score,
        &x,
        &config(DivergenceMethod::Exact),
        &Prior::Nominal,
        &mut |_| {},
    )
    .unwrap()
    .log_p;
    let estimated = log_likelihood(
        &score,
        &x,
        &config(DivergenceMethod::Hutchinson {
            probes: 1,
            rademacher: true,
            seed: 2,
        }),
        &Prior::Nominal,
        &mut |_| {},
    )
    .unwrap()
    .log_p;
    let diff: Vec<f64> = exact.iter().zip(&estimated).map(|(a, b)| b - a).collect();
    let mean = diff.iter().sum::<f64>() / n as f64;
    let var = diff.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    assert!(var > 0.0, "the estimate must actually be stochastic");
    assert!(
        mean.abs() < 4.0 * se + 1e-3,
        "mean difference {mean} ± {se}"
    );
}

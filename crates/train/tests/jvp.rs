//! Forward-mode JVPs, exact divergences and parameter gradients of the derivative losses
//! against central finite differences.
//!
//! Everything runs in f32. A central difference with step h has truncation error O(h²) and
//! rounding error O(1e-7/h); with h = 1e-2 both are ≲ 1e-4 relative, so the tolerances below
//! (≤ 2e-3 for JVPs, 2e-2 for loss gradients) leave a wide margin and are still far below the
//! size of a wrong derivative.

mod common;

use rand::Rng;
use rand_distr::StandardNormal;

use common::*;
use scorelab_core::Sde;
use scorelab_train::loss::{evaluate, Batch, LossConfig, LossKind, Penalty};
use scorelab_train::network::{
    host_tensor, network_score, network_score_and_divergence, network_score_jvp, Marginals,
};
use scorelab_train::{Mlp, Parameterisation, ScoreNetwork};

const H: f32 = 1e-2;

fn random_rows(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut r = rng(seed);
    (0..rows * cols).map(|_| r.sample(StandardNormal)).collect()
}

fn times(rows: usize, seed: u64) -> Vec<f64> {
    let mut r = rng(seed);
    (0..rows).map(|_| r.random_range(0.1..1.0)).collect()
}

#[test]
fn jvp_matches_central_difference() {
    let device = cpu();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let (b, d) = (5, 3);
    for residual in [false, true] {
        let net: Mlp = small_mlp(d, residual).init(1, &device).unwrap();
        for param in [
            Parameterisation::Score,
            Parameterisation::Eps,
            Parameterisation::X0,
            Parameterisation::Edm { sigma_data: 0.7 },
        ] {
            let x = random_rows(b, d, 2);
            let v = random_rows(2 * b, d, 3); // two tangent blocks
            let m = Marginals::new(&sde, &times(b, 4), &device);
            let xt = host_tensor(x.clone(), b, d, &device);
            let (s, jv) = network_score_jvp(
                &net,
                param,
                xt.clone(),
                &m,
                host_tensor(v.clone(), 2 * b, d, &device),
            );
            let plain = network_score(&net, param, xt, &m);
            assert!(rel_max_diff(&values(plain), &values(s)) < 1e-6);
            let jv = values(jv);
            for k in 0..2 {
                let shifted = |sign: f32| {
                    let moved: Vec<f32> = x
                        .iter()
                        .zip(&v[k * b * d..(k + 1) * b * d])
                        .map(|(x, v)| x + sign * H * v)
                        .collect();
                    values(network_score(
                        &net,
                        param,
                        host_tensor(moved, b, d, &device),
                        &m,
                    ))
                };
                let (plus, minus) = (shifted(1.0), shifted(-1.0));
                let fd: Vec<f32> = plus
                    .iter()
                    .zip(&minus)
                    .map(|(p, q)| (p - q) / (2.0 * H))
                    .collect();
                let err = rel_max_diff(&fd, &jv[k * b * d..(k + 1) * b * d]);
                assert!(
                    err < 2e-3,
                    "residual {residual}, {param:?}, block {k}: error {err}"
                );
            }
        }
    }
}

#[test]
fn exact_divergence_matches_finite_difference_trace() {
    let device = cpu();
    let sde = Sde::ou(1.0, 2f64.sqrt(), 0.3, 5.0).unwrap();
    let (b, d) = (4, 3);
    let net: Mlp = small_mlp(d, true).init(5, &device).unwrap();
    let x = random_rows(b, d, 6);
    let m = Marginals::new(&sde, &times(b, 7), &device);
    for param in [
        Parameterisation::Score,
        Parameterisation::X0,
        Parameterisation::Edm { sigma_data: 0.7 },
    ] {
        let (_, div) =
            network_score_and_divergence(&net, param, host_tensor(x.clone(), b, d, &device), &m);
        let div = values(div);
        let mut trace = vec![0f32; b];
        for i in 0..d {
            let shifted = |sign: f32| {
                let mut moved = x.clone();
                for r in 0..b {
                    moved[r * d + i] += sign * H;
                }
                values(network_score(
                    &net,
                    param,
                    host_tensor(moved, b, d, &device),
                    &m,
                ))
            };
            let (plus, minus) = (shifted(1.0), shifted(-1.0));
            for r in 0..b {
                trace[r] += (plus[r * d + i] - minus[r * d + i]) / (2.0 * H);
            }
        }
        let err = rel_max_diff(&trace, &div);
        assert!(
            err < 2e-3,
            "{param:?}: divergence error {err}: {div:?} vs {trace:?}"
        );
    }
}

/// ∂loss/∂θ_j by backpropagation through the JVPs against a central difference in θ_j, for a
/// few weights of every layer.
#[test]
fn derivative_loss_gradients_match_finite_differences() {
    let device = cpu();
    let autodiff = device.clone().autodiff();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let d = 2;
    let (_, data, _) = gaussian_data(64, 1);
    let cases: Vec<(&str, LossConfig)> = {
        let mut ssm = LossConfig::new(LossKind::Ssm, &sde);
        ssm.projections = 2;
        let hyv = LossConfig::new(LossKind::Hyvarinen, &sde);
        let mut penalised = LossConfig::new(LossKind::Dsm, &sde);
        penalised.penalty = Penalty::Full;
        penalised.gamma = 0.05;
        let mut li_yau = LossConfig::new(LossKind::Ssm, &sde);
        li_yau.penalty = Penalty::Negative;
        li_yau.gamma = 0.1;
        vec![
            ("ssm", ssm),
            ("hyvarinen", hyv),
            ("dsm+full", penalised),
            ("ssm+negative", li_yau),
        ]
    };
    for (name, mut config) in cases {
        config.t_eps = 0.2;
        let batch = Batch::draw(&data.points, d, 16, &config, &sde, &mut rng(11));
        let net: Mlp = small_mlp(d, false).init(3, &autodiff).unwrap();
        let loss = |net: &Mlp| {
            let device = net.input.weight.val().device();
            evaluate(net, Parameterisation::Score, &sde, &config, &batch, &device).total
        };
        let check = GradientCheck::new(&net, &loss);
        for (p, grad) in check.grads.iter().enumerate() {
            // the largest gradient entry and one further away
            let j_max = check.largest_entry(p);
            for j in [j_max, grad.len() / 2] {
                let fd = check.central_difference(p, j, H, &loss, &device);
                let tol = 2e-2 * grad[j_max].abs().max(1e-3);
                assert!(
                    (fd - grad[j]).abs() < tol,
                    "{name}: parameter {p}[{j}]: backprop {} vs finite difference {fd}",
                    grad[j]
                );
            }
        }
    }
}

/// The network's divergence through `ScoreFn` (chunked) equals the direct one.
#[test]
fn network_score_fn_divergence_is_chunk_independent() {
    use scorelab_core::{ScoreFn, Times};
    use scorelab_train::NetworkScore;
    let device = cpu();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let net: Mlp = small_mlp(2, false).init(9, &device).unwrap();
    let x = host_tensor(random_rows(40_000, 2, 3), 40_000, 2, &device);
    let score = NetworkScore::new(net.clone(), sde.clone(), Parameterisation::Eps);
    let (s, div) = score.score_and_divergence(x.clone(), &Times::Same(0.3));
    let m = Marginals::new(&sde, &vec![0.3; 40_000], &device);
    let (s2, div2) = network_score_and_divergence(&net, Parameterisation::Eps, x, &m);
    assert!(rel_max_diff(&values(s2), &values(s)) < 1e-6);
    assert!(rel_max_diff(&values(div2), &values(div)) < 1e-6);
    assert_eq!(score.dim(), net.dim());
}

//! SDE coefficients against Monte Carlo, finite differences and the Markov property.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use scorelab_core::{Sde, SdeParams};

fn all_sdes() -> Vec<Sde> {
    vec![
        Sde::ve(0.01, 5.0, 1.0).unwrap(),
        Sde::vp(0.1, 20.0, 1.0).unwrap(),
        Sde::subvp(0.1, 20.0, 1.0).unwrap(),
        Sde::ou(1.0, 2f64.sqrt(), 0.5, 5.0).unwrap(),
        Sde::cou(1.0, 1.0, -0.3, 1.0).unwrap(),
        Sde::cvp(0.1, 2.0, 1.0).unwrap(),
        Sde::heat(2f64.sqrt(), 1.0).unwrap(),
    ]
}

/// Forward Euler–Maruyama from X_0 = x0 on a fine grid: the empirical mean and variance at
/// t = T/4, T/2, T agree with α x0 + c and σ².
///
/// Tolerance per check: 4.5 standard errors (two-sided false-failure probability 7e-6, under
/// 1e-3 for the 42 checks together) plus 0.5% of the scale for the Euler bias (its relative
/// size, (h/2)∫a(t)² dt, is below 2e-3 for these SDEs with h = T/10,000).
#[test]
fn alpha_shift_and_variance_match_a_monte_carlo_simulation() {
    let paths = 10_000;
    let steps = 10_000;
    let x0 = 1.0;
    for (index, sde) in all_sdes().into_iter().enumerate() {
        let t_end = sde.t_end();
        let h = t_end / steps as f64;
        let mut rng = ChaCha8Rng::seed_from_u64(100 + index as u64);
        let mut x = vec![x0; paths];
        let checkpoints = [steps / 4, steps / 2, steps];
        for step in 0..steps {
            let t = step as f64 * h;
            let (a, b) = sde.drift(t);
            let g = sde.diffusion(t);
            let noise_scale = g * h.sqrt();
            for xi in x.iter_mut() {
                let z: f64 = StandardNormal.sample(&mut rng);
                *xi += (a * *xi + b) * h + noise_scale * z;
            }
            if checkpoints.contains(&(step + 1)) {
                let t_now = (step + 1) as f64 * h;
                let mean = x.iter().sum::<f64>() / paths as f64;
                let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (paths - 1) as f64;
                let exp_mean = sde.alpha(t_now) * x0 + sde.shift(t_now);
                let exp_var = sde.sigma2(t_now);
                let mean_tol = 4.5 * (exp_var / paths as f64).sqrt()
                    + 5e-3 * (exp_mean.abs() + exp_var.sqrt());
                let var_tol = 4.5 * exp_var * (2.0 / paths as f64).sqrt() + 5e-3 * exp_var;
                assert!(
                    (mean - exp_mean).abs() < mean_tol,
                    "{} t={t_now}: mean {mean} vs {exp_mean} (tol {mean_tol})",
                    sde.name()
                );
                assert!(
                    (var - exp_var).abs() < var_tol,
                    "{} t={t_now}: var {var} vs {exp_var} (tol {var_tol})",
                    sde.name()
                );
            }
        }
    }
}

/// dσ²/dt = 2(α'/α)σ² + g², α'/α = a(t) and dc/dt = a c + b, by central differences.
#[test]
fn variance_ode_holds_by_finite_differences() {
    for sde in all_sdes() {
        let t_end = sde.t_end();
        let h = 1e-6 * t_end;
        for frac in [0.05, 0.3, 0.6, 0.95] {
            let t = frac * t_end;
            let d = |f: &dyn Fn(f64) -> f64| (f(t + h) - f(t - h)) / (2.0 * h);
            let dsigma2 = d(&|s| sde.sigma2(s));
            let dalpha = d(&|s| sde.alpha(s));
            let dshift = d(&|s| sde.shift(s));
            let (a, b) = sde.drift(t);
            let g2 = sde.diffusion(t).powi(2);
            let rhs = 2.0 * dalpha / sde.alpha(t) * sde.sigma2(t) + g2;
            let rel = |x: f64, y: f64| (x - y).abs() / (1.0 + y.abs());
            assert!(
                rel(dsigma2, rhs) < 1e-6,
                "{} t={t}: {dsigma2} vs {rhs}",
                sde.name()
            );
            assert!(
                rel(dalpha / sde.alpha(t), a) < 1e-6,
                "{} t={t}: α'/α",
                sde.name()
            );
            assert!(
                rel(dshift, a * sde.shift(t) + b) < 1e-6,
                "{} t={t}: c'",
                sde.name()
            );
        }
        assert_eq!(sde.alpha(0.0), 1.0, "{}", sde.name());
        assert!(sde.sigma2(0.0).abs() < 1e-15, "{}", sde.name());
        assert!(sde.shift(0.0).abs() < 1e-15, "{}", sde.name());
    }
}

/// The kernel from s to t equals the composition of the kernels s → u → t, and the kernel from 0
/// is the marginal (α, c, σ²).
#[test]
fn markov_kernel_composes() {
    for sde in all_sdes() {
        let t_end = sde.t_end();
        let (s, u, t) = (0.1 * t_end, 0.45 * t_end, 0.8 * t_end);
        let k1 = sde.kernel(s, u);
        let k2 = sde.kernel(u, t);
        let direct = sde.kernel(s, t);
        for x in [-1.3, 0.0, 2.2] {
            let composed_mean = k2.mean(k1.mean(x));
            assert!(
                (composed_mean - direct.mean(x)).abs() < 1e-9 * (1.0 + direct.mean(x).abs()),
                "{}",
                sde.name()
            );
        }
        let composed_var = k2.ratio * k2.ratio * k1.var + k2.var;
        assert!(
            (composed_var - direct.var).abs() < 1e-9 * (1.0 + direct.var),
            "{}",
            sde.name()
        );
        let from_zero = sde.kernel(0.0, t);
        assert!((from_zero.ratio - sde.alpha(t)).abs() < 1e-12);
        assert!((from_zero.mean(0.0) - sde.shift(t)).abs() < 1e-12);
        assert!((from_zero.var - sde.sigma2(t)).abs() < 1e-12 * (1.0 + sde.sigma2(t)));
    }
}

#[test]
fn priors_match_the_marginal_at_t_end_for_forgetting_sdes() {
    let vp = Sde::vp(0.1, 20.0, 1.0).unwrap();
    assert!((vp.sigma2(1.0) - vp.prior().1).abs() < 1e-4);
    let ou = Sde::ou(1.0, 2f64.sqrt(), 0.0, 5.0).unwrap();
    assert!((ou.sigma2(5.0) - ou.prior().1).abs() < 1e-4);
    let heat = Sde::heat(2f64.sqrt(), 1.0).unwrap();
    assert!((heat.prior().1 - 2.0).abs() < 1e-12 && heat.prior().0 == 0.0);
    let ve = Sde::ve(0.01, 3.0, 1.0).unwrap();
    assert_eq!(ve.prior(), (0.0, 9.0));
}

#[test]
fn defaults_follow_the_design() {
    let p = SdeParams::default();
    assert_eq!(
        p.build("vp", None).unwrap(),
        Sde::vp(0.1, 20.0, 1.0).unwrap()
    );
    assert_eq!(
        p.build("ou", None).unwrap(),
        Sde::ou(1.0, 2f64.sqrt(), 0.0, 5.0).unwrap()
    );
    assert_eq!(
        p.build("heat", None).unwrap(),
        Sde::heat(2f64.sqrt(), 1.0).unwrap()
    );
    assert_eq!(
        p.build("ve", Some(4.0)).unwrap(),
        Sde::ve(0.01, 4.0, 1.0).unwrap()
    );
}

#[test]
fn invalid_parameters_are_rejected_with_a_message() {
    let cases: Vec<(Result<Sde, scorelab_core::CoreError>, &str)> = vec![
        (Sde::ve(1.0, 0.5, 1.0), "sigma-min"),
        (Sde::ve(0.5, 0.5, 1.0), "sigma-min"),
        (Sde::vp(-0.1, 20.0, 1.0), "beta-min"),
        (Sde::vp(5.0, 1.0, 1.0), "beta-max"),
        (Sde::subvp(0.1, 20.0, 0.0), "t-end"),
        (Sde::ou(0.0, 1.0, 0.0, 1.0), "theta"),
        (Sde::cou(-1.0, 1.0, 0.0, 1.0), "theta"),
        (Sde::ou(1.0, f64::NAN, 0.0, 1.0), "sigma"),
        (Sde::heat(1.0, -1.0), "t-end"),
        (Sde::cvp(0.1, 2.0, f64::INFINITY), "t-end"),
    ];
    for (result, name) in cases {
        let message = result.unwrap_err().to_string();
        assert!(message.contains(name), "{message}");
    }
    let unknown = SdeParams::default()
        .build("vq", None)
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("unknown SDE 'vq'") && unknown.contains("heat"),
        "{unknown}"
    );
    let ve = SdeParams::default()
        .build("ve", None)
        .unwrap_err()
        .to_string();
    assert!(ve.contains("sigma-max"), "{ve}");
}

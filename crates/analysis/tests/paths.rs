//! Path diagnostics against closed forms: a constant perturbation e of the empirical score has
//! score gap ‖e‖ everywhere, score-gap integral ½‖e‖² ∫_τ^T g(u)² du and Novikov exponent
//! ((1 + ε)²/(4ε)) times that for viscosity ε.

use burn::tensor::Device;

use scorelab_analysis::paths::{path_diagnostics, PathConfig, PathReport};
use scorelab_analysis::tmin::tmin_sweep;
use scorelab_core::datasets::circle;
use scorelab_core::{EmpiricalScore, PerturbedScore, Sde};
use scorelab_sample::{Prior, SamplerConfig, SamplerKind, TauGrid};

/// vp with β(t) = 0.1 + 19.9 t: ∫_τ^1 β = (0.1 + 9.95 (1 + τ)) (1 − τ). The trapezoid rule
/// on 41 of 201 grid times is exact for the linear β, so the tolerance (1e-4 relative) covers
/// float32 rounding of the scores only.
fn constant_perturbation_report(kind: SamplerKind, eps: f64) -> PathReport {
    let device = Device::flex();
    let data = circle(9).unwrap().to_tensor(&device);
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let empirical = EmpiricalScore::new(data.clone(), sde.clone()).unwrap();
    let e = [0.3, -0.4];
    let model =
        PerturbedScore::new(EmpiricalScore::new(data.clone(), sde).unwrap(), &e, &device).unwrap();
    let mut sampler = SamplerConfig::new(kind, 200, 1e-3);
    sampler.seed = 4;
    sampler.eps = eps;
    sampler.grid = TauGrid::Quadratic;
    let config = PathConfig {
        sampler,
        n: 64,
        evaluations: 41,
        divergence: true,
        distance_scale: 1.0,
    };
    path_diagnostics(
        &model,
        &empirical,
        None,
        &data,
        &config,
        &Prior::Nominal,
        &device,
        &mut |_| {},
    )
    .unwrap()
}

/// ½‖e‖² ∫_τ^1 β(u) du with ‖e‖² = 0.25.
fn closed_form_gap_integral(tau: f64) -> f64 {
    0.5 * 0.25 * (0.1 + 9.95 * (1.0 + tau)) * (1.0 - tau)
}

fn assert_close(got: &[f64], tau: &[f64], factor: f64) {
    for (tau, got) in tau.iter().zip(got) {
        let expected = factor * closed_form_gap_integral(*tau);
        assert!(
            (got - expected).abs() <= 1e-4 * expected.max(1e-3),
            "τ = {tau}: {got} vs {expected}"
        );
    }
}

/// The Novikov exponent depends on the viscosity: at ε = 1 it is the score-gap integral, at
/// ε = 0.25 it is (1.25)²/1 = 1.5625 times it, and the ODE reports the integral only.
#[test]
fn novikov_exponent_carries_the_viscosity_factor() {
    for (eps, factor) in [(1.0, 1.0), (0.25, 1.5625)] {
        let report = constant_perturbation_report(SamplerKind::EulerMaruyama, eps);
        assert_eq!(report.viscosity, eps);
        assert_close(&report.gap_integral, &report.tau, 1.0);
        assert_close(report.novikov.as_ref().unwrap(), &report.tau, factor);
    }
    let ode = constant_perturbation_report(SamplerKind::OdeHeun, 0.0);
    assert!(ode.novikov.is_none());
    assert_close(&ode.gap_integral, &ode.tau, 1.0);
}

#[test]
fn constant_perturbation_has_the_closed_form_gap_and_novikov_exponent() {
    let report = constant_perturbation_report(SamplerKind::EulerMaruyama, 1.0);
    assert_eq!(report.tau.len(), 41);
    for gap in &report.score_gap {
        assert!((gap - 0.5).abs() < 1e-4, "gap {gap}");
    }
    assert_close(report.novikov.as_ref().unwrap(), &report.tau, 1.0);
    // the empirical score's divergence never falls below the Li–Yau bound −d/σ²
    for series in &report.series {
        let div = series.divergence.as_ref().unwrap();
        assert!(
            div.violation_fraction.iter().all(|&v| v == 0.0),
            "{}",
            series.label
        );
    }
    // the empirical paths end on the 9 points: mean d1 at t_min is of the order σ(t_min) ≈ 0.01
    let empirical_series = &report.series[1];
    let last = *empirical_series.mean_d1.last().unwrap();
    assert!(last < 0.03, "mean d1 {last}");
    assert!(*empirical_series.memorised_fraction.last().unwrap() > 0.95);
}

/// Stopping the empirical score earlier leaves samples further from the training points.
#[test]
fn earlier_stopping_moves_samples_away_from_training_points() {
    let device = Device::flex();
    let data = circle(9).unwrap().to_tensor(&device);
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let score = EmpiricalScore::new(data.clone(), sde).unwrap();
    let sampler = SamplerConfig::new(SamplerKind::EulerMaruyama, 100, 1e-3);
    let report = tmin_sweep(
        &score,
        &data,
        std::slice::from_ref(&sampler),
        &Prior::Nominal,
        &[0.3, 0.01, 1e-4],
        200,
        1.0 / 3.0,
        1.0,
        None,
        &device,
        &mut |_| {},
    )
    .unwrap();
    let d1: Vec<f64> = report.rows.iter().map(|r| r.memorisation.d1.mean).collect();
    assert!(d1[0] > d1[1] && d1[1] > d1[2], "{d1:?}");
    assert!(report.rows[2].memorisation.memorised_fraction > 0.95);
    assert!(report.rows.iter().all(|r| r.evaluations == 100));
}

/// Several samplers at one evaluation budget: one row per sampler and t_min, in that order,
/// each having spent the budget (edm: 2 per step, so 20 steps for 40 evaluations).
#[test]
fn samplers_are_swept_side_by_side_at_equal_evaluations() {
    let device = Device::flex();
    let data = circle(9).unwrap().to_tensor(&device);
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let score = EmpiricalScore::new(data.clone(), sde).unwrap();
    let samplers: Vec<SamplerConfig> = [SamplerKind::EulerMaruyama, SamplerKind::Edm]
        .into_iter()
        .map(|kind| {
            let mut config = SamplerConfig::new(kind, 1, 1e-3);
            config.set_evaluation_budget(40).unwrap();
            config
        })
        .collect();
    let report = tmin_sweep(
        &score,
        &data,
        &samplers,
        &Prior::Nominal,
        &[0.1, 1e-3],
        50,
        1.0 / 3.0,
        1.0,
        None,
        &device,
        &mut |_| {},
    )
    .unwrap();
    let rows: Vec<(&str, usize, f64)> = report
        .rows
        .iter()
        .map(|r| (r.sampler.as_str(), r.evaluations, r.t_min))
        .collect();
    assert_eq!(
        rows,
        [
            ("em", 40, 0.1),
            ("em", 40, 1e-3),
            ("edm", 40, 0.1),
            ("edm", 40, 1e-3)
        ]
    );
}

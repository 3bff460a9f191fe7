//! The imitation rate of the empirical-score ODE (Liu–Zuazua Thm 3.11): slope ½.

use burn::tensor::Device;

use scorelab_analysis::rate::{imitation_rate, RateConfig};
use scorelab_core::datasets::circle;
use scorelab_core::{EmpiricalScore, Sde};

/// Nine points on the unit circle, heat SDE, 200 RK4 steps on a log grid down to τ = 1e-6.
/// Deterministic (fixed seed); the fitted slope must lie in 0.5 ± 0.1 and its 95% interval must
/// be narrower than ±0.05.
#[test]
fn empirical_ode_imitates_at_rate_one_half() {
    let device = Device::flex();
    let data = circle(9).unwrap().to_tensor(&device);
    let sde = Sde::heat(1.0, 1.0).unwrap();
    let score = EmpiricalScore::new(data.clone(), sde).unwrap();
    let config = RateConfig {
        n: 200,
        steps: 200,
        t_min: 1e-6,
        records: 61,
        fit_window: None,
        seed: 3,
    };
    let report = imitation_rate(&score, &data, &config, &device, &mut |_| {}).unwrap();
    assert!(
        (report.slope - 0.5).abs() < 0.1,
        "slope {} (window {:?})",
        report.slope,
        report.fit_window
    );
    assert!(report.slope_ci95.1 - report.slope_ci95.0 < 0.1);
    assert!((report.pooled.slope - 0.5).abs() < 0.1);
}

#[test]
fn the_rate_needs_the_heat_sde() {
    let device = Device::flex();
    let data = circle(9).unwrap().to_tensor(&device);
    let score = EmpiricalScore::new(data.clone(), Sde::vp(0.1, 20.0, 1.0).unwrap()).unwrap();
    let config = RateConfig {
        n: 10,
        steps: 10,
        t_min: 1e-3,
        records: 5,
        fit_window: None,
        seed: 0,
    };
    assert!(imitation_rate(&score, &data, &config, &device, &mut |_| {}).is_err());
}

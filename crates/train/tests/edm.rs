//! EDM's preconditioning, loss weighting and log-normal training times (Karras et al. 2022)
//! against closed forms.

mod common;

use burn::tensor::Device;
use rand::Rng;
use rand_distr::StandardNormal;

use common::*;
use scorelab_core::Sde;
use scorelab_train::loss::{evaluate, Batch, LossConfig, LossKind, TimeSampling, Weighting};
use scorelab_train::network::{host_tensor, network_score, Marginals};
use scorelab_train::params::{flatten, replace};
use scorelab_train::{Mlp, Parameterisation};

/// An MLP whose every weight and bias is zero: its output f is 0 everywhere.
fn zero_network(d: usize, device: &Device) -> Mlp {
    let net: Mlp = small_mlp(d, false).init(1, device).unwrap();
    let zeros = flatten(&net).into_iter().map(|p| p.zeros_like()).collect();
    replace(net, zeros)
}

/// With f = 0 the edm denoiser is c_skip x̃ = σ_d²/(σ̃² + σ_d²) x̃, the exact posterior mean for
/// data N(0, σ_d² I); the score must be the exact −(x − c)/(α²σ_d² + σ²), for a shift c ≠ 0
/// (ou with μ = 0.3) as well as for vp.
#[test]
fn zero_output_is_the_exact_score_of_gaussian_data_with_variance_sigma_data_squared() {
    let device = cpu();
    let sigma_data = 0.6;
    let (b, d) = (6, 3);
    let net = zero_network(d, &device);
    let mut r = rng(1);
    let x: Vec<f32> = (0..b * d).map(|_| r.sample(StandardNormal)).collect();
    for sde in [
        Sde::vp(0.1, 20.0, 1.0).unwrap(),
        Sde::ou(1.0, 2f64.sqrt(), 0.3, 5.0).unwrap(),
    ] {
        let times: Vec<f64> = (0..b).map(|i| 0.02 + 0.15 * i as f64).collect();
        let m = Marginals::new(&sde, &times, &device);
        let s = values(network_score(
            &net,
            Parameterisation::Edm { sigma_data },
            host_tensor(x.clone(), b, d, &device),
            &m,
        ));
        let exact: Vec<f32> = (0..b * d)
            .map(|k| {
                let t = times[k / d];
                let variance = sde.alpha(t).powi(2) * sigma_data * sigma_data + sde.sigma2(t);
                (-(x[k] as f64 - sde.shift(t)) / variance) as f32
            })
            .collect();
        let err = rel_max_diff(&exact, &s);
        assert!(err < 1e-5, "{}: relative error {err}", sde.name());
    }
}

/// With the edm weighting, the edm parameterisation's loss is ‖f − f*‖², whose target f* has
/// unit variance per coordinate when σ_d² is the mean squared coordinate of the data, whatever
/// the data's law and the noise level: at f = 0, E[loss] = d exactly. The data here are two
/// unequal atoms per coordinate (far from Gaussian). 20,000 draws; the per-point loss has
/// standard deviation below 3, so the standard error is below 0.022 and the tolerance 0.15 is
/// more than 6.8 of them (false failure < 1e-11), for uniform and log-normal times alike.
#[test]
fn edm_training_target_has_unit_variance_at_every_noise_level() {
    let device = cpu();
    let d = 2;
    let points: Vec<f32> = vec![1.5, -0.2, -0.5, 0.8, -0.5, 0.3, 0.9, -1.1];
    let sigma_data =
        (points.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / points.len() as f64).sqrt();
    let net = zero_network(d, &device);
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    for sampling in [
        TimeSampling::Uniform,
        TimeSampling::LogNormal {
            mean: -1.2,
            std: 1.2,
        },
    ] {
        let mut config = LossConfig::new(LossKind::Dsm, &sde);
        config.weighting = Weighting::Edm { sigma_data };
        config.time_sampling = sampling;
        let batch = Batch::draw(&points, d, 20_000, &config, &sde, &mut rng(2));
        let loss = values(
            evaluate(
                &net,
                Parameterisation::Edm { sigma_data },
                &sde,
                &config,
                &batch,
                &device,
            )
            .total,
        )[0] as f64;
        assert!((loss - d as f64).abs() < 0.15, "{sampling:?}: loss {loss}");
    }
}

/// Log-normal times: ln σ̃(t) of the drawn times has EDM's mean −1.2 and standard deviation
/// 1.2 (ve with σ from 0.002 to 80, so clamping touches < 1e-4 of the draws). 20,000 draws:
/// standard errors 0.0085 (mean) and 0.006 (std); tolerances 0.05 and 0.04 are > 5.8 of them
/// (false failure < 1e-8).
#[test]
fn log_normal_times_have_edm_noise_levels() {
    let sde = Sde::ve(0.002, 80.0, 1.0).unwrap();
    let sampling = TimeSampling::LogNormal {
        mean: -1.2,
        std: 1.2,
    };
    let mut r = rng(3);
    let logs: Vec<f64> = (0..20_000)
        .map(|_| sde.sigma_tilde(sampling.draw(&sde, 1e-5, &mut r)).ln())
        .collect();
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    let std = (logs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
    assert!((mean + 1.2).abs() < 0.05, "mean {mean}");
    assert!((std - 1.2).abs() < 0.04, "std {std}");
}

/// σ_d must be positive and finite; the log-normal spread positive.
#[test]
fn edm_options_are_checked() {
    assert!(Parameterisation::parse("edm", || 0.0).is_err());
    assert!(Weighting::parse("edm", || f64::NAN).is_err());
    assert_eq!(
        Parameterisation::parse("edm", || 0.5).unwrap(),
        Parameterisation::Edm { sigma_data: 0.5 }
    );
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let mut config = LossConfig::new(LossKind::Dsm, &sde);
    config.time_sampling = TimeSampling::LogNormal {
        mean: -1.2,
        std: 0.0,
    };
    assert!(config.validate(&sde).is_err());
}

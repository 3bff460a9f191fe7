//! The losses against the theory: the θ-independent constants of Claustre's Theorems 4.1,
//! 4.3 and 4.6, and recovery of the exact score of Gaussian data by training with each loss.

mod common;

use burn::module::Module;
use burn::tensor::Device;
use rand::Rng;
use rand_distr::StandardNormal;

use common::*;
use scorelab_core::{GmmScore, ScoreFn, Sde, Times};
use scorelab_train::loss::{evaluate, Batch, LossConfig, LossKind, Penalty};
use scorelab_train::network::host_tensor;
use scorelab_train::{Mlp, MlpConfig, NetworkScore, Parameterisation, Trainer};

fn loss_value(net: &Mlp, sde: &Sde, config: &LossConfig, batch: &Batch, device: &Device) -> f64 {
    values(evaluate(net, Parameterisation::Score, sde, config, batch, device).total)[0] as f64
}

/// With DESIGN's normalisation, dsm − 2·hyvarinen and dsm − 2·ssm have the same expectation for
/// any network. Over 40 batches of 2,000 draws shared by both networks we compare the mean
/// of [dsm − 2·L](A) − [dsm − 2·L](B) with its standard error: |mean| < 4.5 SE fails by chance
/// with probability < 1e-5 (t with 39 degrees of freedom). The same draws show the losses
/// themselves differ between the networks by many standard errors, so the test has power.
#[test]
fn dsm_minus_implicit_losses_is_independent_of_the_network() {
    let device = cpu();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let (_, data, _) = gaussian_data(4096, 3);
    let a: Mlp = small_mlp(2, false).init(1, &device).unwrap();
    let b: Mlp = MlpConfig {
        width: 32,
        ..small_mlp(2, true)
    }
    .init(2, &device)
    .unwrap();
    let mut ssm = LossConfig::new(LossKind::Ssm, &sde);
    ssm.projections = 1;
    ssm.t_eps = 0.05;
    let dsm = LossConfig {
        kind: LossKind::Dsm,
        ..ssm.clone()
    };
    let hyv = LossConfig {
        kind: LossKind::Hyvarinen,
        ..ssm.clone()
    };
    let mut gaps = vec![Vec::new(); 3];
    for k in 0..40 {
        let batch = Batch::draw(&data.points, 2, 2000, &ssm, &sde, &mut rng(100 + k));
        let l = |net: &Mlp, c: &LossConfig| loss_value(net, &sde, c, &batch, &device);
        let (da, db) = (l(&a, &dsm), l(&b, &dsm));
        gaps[0].push((da - 2.0 * l(&a, &hyv)) - (db - 2.0 * l(&b, &hyv)));
        gaps[1].push((da - 2.0 * l(&a, &ssm)) - (db - 2.0 * l(&b, &ssm)));
        gaps[2].push(da - db);
    }
    let stats = |xs: &[f64]| {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, (var / n).sqrt())
    };
    for (name, gap) in [("hyvarinen", &gaps[0]), ("ssm", &gaps[1])] {
        let (mean, se) = stats(gap);
        assert!(
            mean.abs() < 4.5 * se,
            "{name}: constant differs by {mean} ± {se}"
        );
    }
    let (mean, se) = stats(&gaps[2]);
    assert!(
        mean.abs() > 10.0 * se,
        "the two networks should have clearly different dsm losses ({mean} ± {se})"
    );
}

/// Trains on N(m, S) and compares the learned score with −Σ_t⁻¹(x − α m) on fresh points of p_t.
/// Error measure: E‖σ(s_θ − s)‖² / E‖σ s‖² over t ~ U(0.05, 1), x ~ p_t (2,000 points, fixed seed).
/// A network that ignored x would score ≈ 1; after 1,500 steps the four runs reach 0.3–1.3%,
/// so the threshold 0.05 separates learning from failure with a wide margin.
#[test]
fn every_loss_recovers_the_score_of_gaussian_data() {
    let device = cpu();
    let autodiff = device.clone().autodiff();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let (gmm, data, spec) = gaussian_data(2000, 4);
    let exact = GmmScore::new(gmm.clone(), sde.clone(), &device);

    // held-out points x_t and their times
    let mut r = rng(99);
    let n = 2000;
    let ts: Vec<f64> = (0..n).map(|_| r.random_range(0.05..1.0)).collect();
    let (x0, _) = gmm.sample(n, &mut r);
    let xt: Vec<f32> = (0..n * 2)
        .map(|i| {
            let t = ts[i / 2];
            let z: f64 = r.sample(StandardNormal);
            (sde.alpha(t) * x0[i] as f64 + sde.sigma2(t).sqrt() * z) as f32
        })
        .collect();
    let x = host_tensor(xt, n, 2, &device);
    let times = Times::Each(ts.clone());
    let truth = values(exact.score(x.clone(), &times));

    let model = MlpConfig {
        dim: 2,
        width: 64,
        depth: 2,
        embedding: 16,
        residual: false,
    };
    for (name, kind, penalty) in [
        ("dsm", LossKind::Dsm, Penalty::None),
        ("ssm", LossKind::Ssm, Penalty::None),
        ("hyvarinen", LossKind::Hyvarinen, Penalty::None),
        ("dsm+li-yau", LossKind::Dsm, Penalty::LiYau),
    ] {
        let mut config = train_config(model.clone(), kind, &sde, 1500);
        config.batch_size = 256;
        config.adam.lr = 3e-3;
        config.loss.t_eps = 0.02;
        config.loss.penalty = penalty;
        if penalty != Penalty::None {
            config.loss.gamma = 0.01;
        }
        let net: Mlp = model.init(5, &autodiff).unwrap();
        let info = data_info(spec.clone(), 4, &data);
        let mut trainer = Trainer::new(config, sde.clone(), &data, info, net, &autodiff).unwrap();
        for _ in 0..1500 {
            trainer.step().unwrap();
        }
        let learned = NetworkScore::new(trainer.network(), sde.clone(), Parameterisation::Score);
        let got = values(learned.score(x.clone(), &times));
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..n * 2 {
            let s2 = sde.sigma2(ts[i / 2]);
            num += s2 * (got[i] as f64 - truth[i] as f64).powi(2);
            den += s2 * (truth[i] as f64).powi(2);
        }
        let err = num / den;
        eprintln!("{name}: relative weighted error {err:.4}");
        assert!(err < 0.05, "{name}: learned score is off by {err}");
        let _ = trainer.ema_network().valid();
    }
}

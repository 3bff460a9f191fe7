//! Disjoint-subset agreement on constructed cases.

use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use scorelab_analysis::agreement::agreement;
use scorelab_core::datasets::swissroll;
use scorelab_core::{EmpiricalScore, Sde};
use scorelab_sample::{SamplerConfig, SamplerKind, TauGrid};

fn sampler() -> SamplerConfig {
    let mut config = SamplerConfig::new(SamplerKind::EulerMaruyama, 200, 1e-5);
    config.grid = TauGrid::Quadratic;
    config.denoise = true;
    config.seed = 9;
    config
}

/// A score compared with itself agrees on every pair (same noise, same dynamics).
#[test]
fn identical_scores_agree_everywhere() {
    let device = Device::flex();
    let data = swissroll(100, 0.0, &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap()
        .to_tensor(&device);
    let score = EmpiricalScore::new(data.clone(), Sde::vp(0.1, 20.0, 1.0).unwrap()).unwrap();
    let report = agreement(
        &score,
        &score,
        &data,
        &data,
        &sampler(),
        100,
        &device,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.pair_distance.max, 0.0);
    assert_eq!(report.agreement, 1.0);
    assert!((report.centred_cosine - 1.0).abs() < 1e-5);
    assert_eq!(report.shared_training_points, 100);
}

/// Two empirical scores of independent draws each return their own training points: every
/// sample sits on its own training set (d1 < 1e-3) while the pairs are far apart.
#[test]
fn two_empirical_scores_return_their_own_points() {
    let device = Device::flex();
    let draw = |seed| {
        swissroll(100, 0.0, &mut ChaCha8Rng::seed_from_u64(seed))
            .unwrap()
            .to_tensor(&device)
    };
    let (da, db) = (draw(1), draw(2));
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let a = EmpiricalScore::new(da.clone(), sde.clone()).unwrap();
    let b = EmpiricalScore::new(db.clone(), sde).unwrap();
    let report = agreement(&a, &b, &da, &db, &sampler(), 200, &device, &mut |_| {}).unwrap();
    assert!(
        report.own_d1_a.q90 < 1e-3 && report.own_d1_b.q90 < 1e-3,
        "{report:?}"
    );
    assert!(report.pair_distance.median > 10.0 * report.own_d1_a.median.max(1e-4));
    assert!(report.agreement < 0.1, "{}", report.agreement);
    assert_eq!(report.shared_training_points, 0);
}

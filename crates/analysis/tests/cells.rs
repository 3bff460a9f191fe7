//! Voronoi-cell trapping (Cao et al., Prop. 4.4): bookkeeping on constructed paths, and the
//! exponential integrator with the empirical score converging into the cells of its end points.

use burn::tensor::{Device, Tensor};

use scorelab_analysis::cells::cell_trapping;
use scorelab_core::datasets::swissroll;
use scorelab_core::device::tensor_from_rows;
use scorelab_core::{EmpiricalScore, Sde};
use scorelab_sample::{sample, PathSnapshot, SamplerConfig, SamplerKind, TauGrid};

fn rows(values: &[f32], d: usize, device: &Device) -> Tensor<2> {
    tensor_from_rows(values, values.len() / d, d, device)
}

fn snapshot(tau: f64, values: &[f32], device: &Device) -> PathSnapshot {
    PathSnapshot {
        tau,
        points: rows(values, 2, device),
    }
}

/// Training points (0, 0) and (10, 0) under the heat SDE (α = 1). Path 0 stays in cell 0;
/// path 1 sits in cell 1 until τ = 0.5 and in cell 0 from τ = 0.1 on; path 2 starts in
/// cell 0 and ends in cell 1 from τ = 0.5 on.
#[test]
fn constructed_paths_give_their_trapping_times_and_shares() {
    let device = Device::flex();
    let training = rows(&[0.0, 0.0, 10.0, 0.0], 2, &device);
    let sde = Sde::heat(1.0, 1.0).unwrap();
    let path = vec![
        snapshot(1.0, &[1.0, 0.0, 9.0, 0.0, 2.0, 0.0], &device),
        snapshot(0.5, &[0.5, 0.0, 8.0, 0.0, 7.0, 0.0], &device),
        snapshot(0.1, &[0.2, 0.0, 3.0, 0.0, 9.0, 0.0], &device),
        snapshot(0.01, &[0.1, 0.0, 0.3, 0.0, 9.5, 0.0], &device),
    ];
    let report = cell_trapping(&path, &training, &sde, 2.0).unwrap();
    assert_eq!(report.tau, vec![1.0, 0.5, 0.1, 0.01]);
    let third = 1.0 / 3.0;
    let expected = [third, 2.0 * third, 1.0, 1.0];
    for (got, want) in report.in_final_cell.iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{:?}", report.in_final_cell);
    }
    assert_eq!(report.in_final_cell, report.in_final_cell_unscaled);
    // trapping times 1, 0.1 and 0.5: median 0.5
    assert_eq!(report.trapping_tau.median, 0.5);
    assert_eq!(report.trapping_tau.min, 0.1);
    assert_eq!(report.trapping_tau.max, 1.0);
    assert_eq!(report.start_cells, vec![0, 1, 0]);
    assert_eq!(report.end_cells, vec![0, 0, 1]);
    assert!((report.start_cell_is_final - third).abs() < 1e-12);
    // start frequencies (2/3, 1/3), end frequencies (2/3, 1/3): chance 4/9 + 1/9
    assert!((report.start_cell_is_final_by_chance - 5.0 / 9.0).abs() < 1e-12);
    assert_eq!(report.cells_reached, 2);
    // end distances 0.1, 0.3, 0.5, times the scale 2
    assert!((report.end_distance.median - 0.6).abs() < 1e-6);
}

/// Under vp the posterior-mode cell is the cell of x/α(τ), not of x: at α = 1/2 the point
/// 1.2 is nearest to the training point 1 but 2.4 is nearest to 3.
#[test]
fn scaled_cells_follow_the_largest_posterior_weight() {
    let device = Device::flex();
    let training = rows(&[1.0, 3.0], 1, &device);
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    // find τ with α(τ) = 1/2 by bisection
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if sde.alpha(mid) > 0.5 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let path = vec![
        PathSnapshot {
            tau: lo,
            points: rows(&[1.2], 1, &device),
        },
        PathSnapshot {
            tau: 1e-5,
            points: rows(&[3.0], 1, &device),
        },
    ];
    let report = cell_trapping(&path, &training, &sde, 1.0).unwrap();
    assert_eq!(report.in_final_cell[0], 1.0);
    assert_eq!(report.in_final_cell_unscaled[0], 0.0);
}

#[test]
fn malformed_paths_are_refused() {
    let device = Device::flex();
    let training = rows(&[0.0, 0.0, 1.0, 0.0], 2, &device);
    let sde = Sde::heat(1.0, 1.0).unwrap();
    let one = vec![snapshot(1.0, &[0.0, 0.0], &device)];
    assert!(cell_trapping(&one, &training, &sde, 1.0).is_err());
    let rising = vec![
        snapshot(0.1, &[0.0, 0.0], &device),
        snapshot(0.5, &[0.0, 0.0], &device),
    ];
    assert!(cell_trapping(&rising, &training, &sde, 1.0).is_err());
    let wrong_dim = vec![
        PathSnapshot {
            tau: 1.0,
            points: rows(&[0.0, 0.0, 0.0], 3, &device),
        },
        PathSnapshot {
            tau: 0.1,
            points: rows(&[0.0, 0.0, 0.0], 3, &device),
        },
    ];
    assert!(cell_trapping(&wrong_dim, &training, &sde, 1.0).is_err());
}

/// The exponential integrator with the empirical score of 6 Swiss-roll points (OU, 200 steps
/// on the quadratic grid,
/// t_min 1e-4, 400 paths, fixed seeds): every path ends within 5σ(t_min) of a training point,
/// by τ = 1e-3 at least 95% are already in their final cell, while at τ = T = 5 the share is
/// near the chance level (at most 0.5, against 1/6 for independent cells).
#[test]
fn exponential_integrator_paths_are_trapped_in_their_cells() {
    let device = Device::flex();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(4);
    let data = swissroll(6, 0.0, &mut rng).unwrap().to_tensor(&device);
    let sde = Sde::ou(1.0, 2f64.sqrt(), 0.0, 5.0).unwrap();
    let score = EmpiricalScore::new(data.clone(), sde.clone()).unwrap();
    let mut config = SamplerConfig::new(SamplerKind::Exponential, 200, 1e-4);
    config.seed = 5;
    config.grid = TauGrid::Quadratic;
    config.record_at = config.times(&sde);
    let run = sample(&score, &config, 400, &device, &mut |_| {}).unwrap();
    let path = run.path;
    let report = cell_trapping(&path, &data, &sde, 1.0).unwrap();
    let sigma = sde.sigma2(1e-4).sqrt();
    assert!(
        report.end_distance.max < 5.0 * sigma,
        "{:?}",
        report.end_distance
    );
    let k = report.tau.iter().position(|&t| t <= 1e-3).unwrap();
    assert!(
        report.in_final_cell[k] >= 0.95,
        "{}",
        report.in_final_cell[k]
    );
    assert!(
        report.in_final_cell[0] <= 0.5,
        "{}",
        report.in_final_cell[0]
    );
    assert_eq!(*report.in_final_cell.last().unwrap(), 1.0);
}

/// With a shifted SDE (ou, μ = 0.7) the cell at τ is the training point of largest empirical
/// weight λ_i ∝ exp(−‖x − α(τ) y_i − c(τ)‖² / 2σ²(τ)), i.e. the cell of (x − c)/α; ignoring
/// the shift c(τ) gives another share at intermediate τ. The shares are checked against the
/// argmax of the weights computed here on the host.
#[test]
fn shifted_sde_cells_follow_the_largest_empirical_weight() {
    let device = Device::flex();
    let points = [-1.0f32, 0.0, 1.0, 0.0, 0.0, 1.5];
    let data = rows(&points, 2, &device);
    let sde = Sde::ou(1.0, 2f64.sqrt(), 0.7, 5.0).unwrap();
    let score = EmpiricalScore::new(data.clone(), sde.clone()).unwrap();
    let mut config = SamplerConfig::new(SamplerKind::EulerMaruyama, 200, 1e-3);
    config.seed = 3;
    config.grid = TauGrid::Quadratic;
    config.record_at = config.times(&sde);
    let run = sample(&score, &config, 400, &device, &mut |_| {}).unwrap();
    let report = cell_trapping(&run.path, &data, &sde, 1.0).unwrap();
    let argmax_weight = |x: &[f32], tau: f64| -> usize {
        let (alpha, shift) = (sde.alpha(tau), sde.shift(tau));
        let distance = |i: usize| -> f64 {
            (0..2)
                .map(|j| (x[j] as f64 - alpha * points[2 * i + j] as f64 - shift).powi(2))
                .sum()
        };
        (0..3)
            .min_by(|&a, &b| distance(a).total_cmp(&distance(b)))
            .unwrap()
    };
    let host: Vec<Vec<f32>> = run
        .path
        .iter()
        .map(|s| scorelab_core::device::to_vec(s.points.clone()))
        .collect();
    let last = run.path.len() - 1;
    let end: Vec<usize> = (0..400)
        .map(|i| argmax_weight(&host[last][2 * i..2 * i + 2], run.path[last].tau))
        .collect();
    assert_eq!(end, report.end_cells);
    let mut differs_from_unshifted = false;
    for (k, snapshot) in run.path.iter().enumerate() {
        let cells: Vec<usize> = (0..400)
            .map(|i| argmax_weight(&host[k][2 * i..2 * i + 2], snapshot.tau))
            .collect();
        let share = cells.iter().zip(&end).filter(|(a, b)| a == b).count() as f64 / 400.0;
        assert!(
            (report.in_final_cell[k] - share).abs() < 1e-12,
            "τ = {}: reported {} against {share}",
            snapshot.tau,
            report.in_final_cell[k]
        );
        let unshifted: Vec<usize> = (0..400)
            .map(|i| {
                let x = &host[k][2 * i..2 * i + 2];
                let scaled = [
                    x[0] / sde.alpha(snapshot.tau) as f32,
                    x[1] / sde.alpha(snapshot.tau) as f32,
                ];
                argmax_weight(&scaled, 0.0)
            })
            .collect();
        differs_from_unshifted |= unshifted != cells;
    }
    assert!(differs_from_unshifted, "the shift never changed a cell");
}

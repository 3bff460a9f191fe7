//! Samplers against exact scores of known distributions, convergence orders, and the
//! empirical-score behaviour of the papers (memorisation, two Diracs).

use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::nearest::nearest_neighbours;
use scorelab_core::{DatasetSpec, EmpiricalScore, Gmm, GmmScore, Sde};
use scorelab_sample::{
    sample, sample_from, sample_with_prior, Prior, SamplerConfig, SamplerKind, TauGrid,
};

fn device() -> Device {
    Device::flex()
}

fn mean_and_covariance(x: &[f32], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len() / d;
    let mut mean = vec![0.0; d];
    for row in x.chunks(d) {
        for j in 0..d {
            mean[j] += row[j] as f64 / n as f64;
        }
    }
    let mut cov = vec![0.0; d * d];
    for row in x.chunks(d) {
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] +=
                    (row[i] as f64 - mean[i]) * (row[j] as f64 - mean[j]) / (n - 1) as f64;
            }
        }
    }
    (mean, cov)
}

const ALL_SAMPLERS: [SamplerKind; 10] = [
    SamplerKind::EulerMaruyama,
    SamplerKind::PredictorCorrector,
    SamplerKind::OdeEuler,
    SamplerKind::OdeHeun,
    SamplerKind::OdeRk4,
    SamplerKind::OdeRk45,
    SamplerKind::Exponential,
    SamplerKind::Edm,
    SamplerKind::DpmSolver2M,
    SamplerKind::DpmSolver2MSde,
];

/// With the exact score of a Gaussian N(m, diag(v)), every sampler started from the exact p_T
/// reproduces the mean and the covariance of p_{t_min}. (Starting from the SDE's prior instead
/// would add the prior's own bias, e.g. VE's N(0, σ_max²) against p_T = N(m, v + σ_max²).)
/// n = 4000 samples; tolerance 5 standard errors (false-failure rate below 1e-6 per check)
/// plus a discretisation allowance of 0.02 for means and 4% for variances (500 steps).
/// dpm2m-sde runs at its default η = 1 and at η = 4, a viscosity above the reverse SDE's.
#[test]
fn every_sampler_reproduces_a_gaussian() {
    let gmm = Gmm::gaussian(vec![0.5, -1.0], vec![0.3, 0.05]).unwrap();
    let n = 4000;
    for sde in [
        Sde::vp(0.1, 20.0, 1.0).unwrap(),
        Sde::ve(0.01, 5.0, 1.0).unwrap(),
        Sde::cou(1.0, 1.0, 0.0, 1.0).unwrap(),
    ] {
        let score = GmmScore::new(gmm.clone(), sde.clone(), &device());
        let t_min = 1e-3;
        let target = gmm.at_time(&sde, t_min);
        let runs = ALL_SAMPLERS
            .map(|kind| (kind, None))
            .into_iter()
            .chain([(SamplerKind::DpmSolver2MSde, Some(4.0))]);
        for (kind, eta) in runs {
            let mut config = SamplerConfig::new(kind, 500, t_min);
            if let Some(eta) = eta {
                config.set_eta(eta);
            }
            config.grid = TauGrid::Quadratic;
            config.seed = 11;
            let (start, _) = gmm
                .at_time(&sde, sde.t_end())
                .sample(n, &mut ChaCha8Rng::seed_from_u64(12));
            let start = tensor_from_rows(&start, n, 2, &device());
            let out = sample_from(&score, &config, start, &mut |_| {}).unwrap();
            assert!(out.nonfinite_rows.is_empty());
            let (mean, cov) = mean_and_covariance(&to_vec(out.samples), 2);
            for j in 0..2 {
                let v = target.variances[0][j];
                let mean_tol = 5.0 * (v / n as f64).sqrt() + 0.02;
                let var_tol = 5.0 * v * (2.0 / n as f64).sqrt() + 0.04 * v;
                let label = format!("{} {kind:?} η {eta:?} coord {j}", sde.name());
                assert!(
                    (mean[j] - target.means[0][j]).abs() < mean_tol,
                    "{label}: mean {} vs {}",
                    mean[j],
                    target.means[0][j]
                );
                assert!(
                    (cov[j * 3] - v).abs() < var_tol,
                    "{label}: var {} vs {v}",
                    cov[j * 3]
                );
            }
            let off = cov[1] / (cov[0] * cov[3]).sqrt();
            assert!(
                off.abs() < 5.0 / (n as f64).sqrt(),
                "{} {kind:?}: correlation {off}",
                sde.name()
            );
        }
    }
}

/// A two-component mixture with weights 0.3 / 0.7: the fraction of samples nearer each mean
/// matches the weight within 5 standard errors (sqrt(0.21/n) = 0.0072 for n = 4000).
#[test]
fn samplers_reproduce_mixture_weights() {
    let gmm = Gmm::new(
        vec![0.3, 0.7],
        vec![vec![-1.5, 0.0], vec![1.5, 0.5]],
        vec![vec![0.05, 0.05]; 2],
    )
    .unwrap();
    let n = 4000;
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let score = GmmScore::new(gmm, sde, &device());
    for (kind, churn) in [
        (SamplerKind::EulerMaruyama, 0.0),
        (SamplerKind::PredictorCorrector, 0.0),
        (SamplerKind::OdeHeun, 0.0),
        (SamplerKind::Exponential, 0.0),
        (SamplerKind::Edm, 0.0),
        (SamplerKind::Edm, 40.0),
        (SamplerKind::DpmSolver2M, 0.0),
        (SamplerKind::DpmSolver2MSde, 0.0),
    ] {
        let mut config = SamplerConfig::new(kind, 400, 1e-3);
        config.seed = 5;
        config.edm.churn = churn;
        let out = sample(&score, &config, n, &device(), &mut |_| {}).unwrap();
        let samples = to_vec(out.samples);
        let left = samples.chunks(2).filter(|p| p[0] < 0.0).count() as f64 / n as f64;
        assert!(
            (left - 0.3).abs() < 5.0 * (0.21f64 / n as f64).sqrt(),
            "{kind:?}: {left}"
        );
    }
}

/// Heat SDE, data N(0, v0) in 1-D: the probability-flow ODE is dy/dτ = y/(v0 + 2τ) forward in τ,
/// so Y(t_min) = Y(T) √((v0 + 2 t_min)/(v0 + 2T)). Halving the step divides the error by 2^p.
#[test]
fn ode_integrators_converge_at_their_order() {
    let v0 = 0.5;
    let sde = Sde::heat(2f64.sqrt(), 1.0).unwrap();
    let score = GmmScore::new(Gmm::gaussian(vec![0.0], vec![v0]).unwrap(), sde, &device());
    let (t_end, t_min) = (1.0, 0.05);
    let exact = ((v0 + 2.0 * t_min) / (v0 + 2.0 * t_end)).sqrt();
    let error = |kind: SamplerKind, steps: usize| {
        let config = SamplerConfig::new(kind, steps, t_min);
        let start = tensor_from_rows(&[1.0], 1, 1, &device());
        let out = sample_from(&score, &config, start, &mut |_| {}).unwrap();
        (to_vec(out.samples)[0] as f64 - exact).abs()
    };
    for (kind, order, steps) in [
        (SamplerKind::OdeEuler, 1.0, [16, 32, 64]),
        (SamplerKind::OdeHeun, 2.0, [8, 16, 32]),
        (SamplerKind::OdeRk4, 4.0, [4, 8, 16]),
        (SamplerKind::Edm, 2.0, [8, 16, 32]),
        (SamplerKind::DpmSolver2M, 2.0, [64, 128, 256]),
    ] {
        let errors: Vec<f64> = steps.iter().map(|&s| error(kind, s)).collect();
        for pair in errors.windows(2) {
            let observed = (pair[0] / pair[1]).log2();
            // In f64 these step counts give observed orders within 0.2 of the nominal ones.
            assert!(
                (observed - order).abs() < 0.3,
                "{kind:?}: errors {errors:?}, observed order {observed}"
            );
        }
    }
}

/// dpm2m-sde at η = 0 is dpm2m, and its first step at η = 1 is DDIM's η = 1 step (the
/// Gaussian posterior q(x_τ' | x_τ, x̂0)): both hold exactly, so they agree to f32 rounding.
#[test]
fn dpm2m_sde_reduces_to_dpm2m_and_to_ddim() {
    let gmm = Gmm::gaussian(vec![0.5, -1.0], vec![0.3, 0.05]).unwrap();
    for sde in [
        Sde::vp(0.1, 20.0, 1.0).unwrap(),
        Sde::ve(0.01, 5.0, 1.0).unwrap(),
    ] {
        let score = GmmScore::new(gmm.clone(), sde.clone(), &device());
        let run = |kind: SamplerKind, steps: usize, eta: Option<f64>| {
            let mut config = SamplerConfig::new(kind, steps, 0.2);
            if let Some(eta) = eta {
                config.set_eta(eta);
            }
            config.seed = 3;
            to_vec(
                sample(&score, &config, 64, &device(), &mut |_| {})
                    .unwrap()
                    .samples,
            )
        };
        let close = |a: &[f32], b: &[f32], what: &str| {
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
                .fold(0f32, f32::max);
            assert!(
                worst < 1e-5,
                "{} {what}: worst difference {worst}",
                sde.name()
            );
        };
        close(
            &run(SamplerKind::DpmSolver2MSde, 12, Some(0.0)),
            &run(SamplerKind::DpmSolver2M, 12, None),
            "η = 0 against dpm2m",
        );
        close(
            &run(SamplerKind::DpmSolver2MSde, 1, Some(1.0)),
            &run(SamplerKind::Exponential, 1, Some(1.0)),
            "one step at η = 1 against ddim η = 1",
        );
        // the second-order correction makes later steps differ from DDIM
        let two_step = run(SamplerKind::DpmSolver2MSde, 2, Some(1.0));
        let ddim = run(SamplerKind::Exponential, 2, Some(1.0));
        assert!(two_step
            .iter()
            .zip(&ddim)
            .any(|(a, b)| (a - b).abs() > 1e-3));
    }
}

/// Empirical score of 50 Swiss-roll points, ε = 1, t_min = 1e-4: at least 99% of the samples end
/// within 1e-2 of a training point; with t_min = 0.1 the fraction is much lower.
///
/// The final spread is σ(t_min) around a training point, so the threshold is reachable only
/// where σ(t_min) ≪ 1e-2: VE (σ_min = 0.01) has σ(1e-4) ≈ 3e-4. For VP, σ(1e-4) ≈ 3.2e-3 and
/// even exact samples of p_{t_min} lie within 1e-2 with probability 1 − e^{−5} ≈ 99.3% only, so
/// the VP run ends with Tweedie's denoiser, which maps onto the training point itself.
#[test]
fn empirical_score_reverse_sde_returns_training_points() {
    let data = DatasetSpec::Swissroll { n: 50, noise: 0.0 }
        .load(1)
        .unwrap();
    let train = data.to_tensor(&device());
    let ve = Sde::ve(0.01, data.max_pairwise_distance(100), 1.0).unwrap();
    let vp = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let fraction = |sde: &Sde, t_min: f64, denoise: bool| {
        let score = EmpiricalScore::new(train.clone(), sde.clone()).unwrap();
        let mut config = SamplerConfig::new(SamplerKind::EulerMaruyama, 1000, t_min);
        config.seed = 3;
        config.denoise = denoise;
        let out = sample(&score, &config, 1000, &device(), &mut |_| {}).unwrap();
        let (d1, _) = nearest_neighbours(&out.samples, &train);
        d1.iter().filter(|&&d| d <= 1e-2).count() as f64 / d1.len() as f64
    };
    for (sde, denoise) in [(&ve, false), (&vp, true)] {
        let early = fraction(sde, 1e-4, denoise);
        assert!(early >= 0.99, "{} t_min = 1e-4: {early}", sde.name());
        let late = fraction(sde, 0.1, denoise);
        assert!(
            late < 0.5 * early,
            "{} t_min = 0.1: {late} vs {early}",
            sde.name()
        );
    }
}

/// Liu–Zuazua Fig. 3: two Diracs at (±1, 0), heat SDE, probability-flow ODE. Starts with x < 0
/// end at (−1, 0), x > 0 at (1, 0), and x = 0 on the axis of symmetry at (0, 0). Stopped at
/// t_min = 1e-5 (σ(t_min) ≈ 0.0045), every end point lies within 0.02 of its target.
#[test]
fn two_diracs_ode_flow_splits_by_the_sign_of_x() {
    let data = DatasetSpec::Diracs {
        points: vec![vec![-1.0, 0.0], vec![1.0, 0.0]],
    }
    .load(0)
    .unwrap();
    let sde = Sde::heat(2f64.sqrt(), 1.0).unwrap();
    let score = EmpiricalScore::new(data.to_tensor(&device()), sde).unwrap();
    let starts = [
        -0.8f32, 0.4, -0.05, -1.3, 0.3, 2.0, 0.02, 0.7, 0.0, 0.9, 0.0, -1.1,
    ];
    let start = tensor_from_rows(&starts, 6, 2, &device());
    let mut config = SamplerConfig::new(SamplerKind::OdeRk4, 400, 1e-5);
    config.grid = TauGrid::Log;
    let out = sample_from(&score, &config, start, &mut |_| {}).unwrap();
    let end = to_vec(out.samples);
    for (s, e) in starts.chunks(2).zip(end.chunks(2)) {
        let target = if s[0] < 0.0 {
            -1.0
        } else if s[0] > 0.0 {
            1.0
        } else {
            0.0
        };
        let distance = ((e[0] - target).powi(2) + e[1].powi(2)).sqrt();
        assert!(distance <= 0.02, "start {s:?} ended at {e:?}");
    }
}

/// The adaptive Dormand–Prince solver on the same closed form: the error falls with the
/// tolerance, stays within a small multiple of it, and the evaluations (6 per step, one more at
/// the start) grow as the tolerance tightens; recorded times are hit exactly.
#[test]
fn the_adaptive_solver_meets_its_tolerance() {
    let v0 = 0.5;
    let sde = Sde::heat(2f64.sqrt(), 1.0).unwrap();
    let score = GmmScore::new(Gmm::gaussian(vec![0.0], vec![v0]).unwrap(), sde, &device());
    let (t_end, t_min) = (1.0, 0.05);
    let exact = ((v0 + 2.0 * t_min) / (v0 + 2.0 * t_end)).sqrt();
    let run = |tol: f64| {
        let mut config = SamplerConfig::new(SamplerKind::OdeRk45, 4, t_min);
        (config.rtol, config.atol) = (tol, tol);
        config.record_at = vec![0.5, 0.25];
        let start = tensor_from_rows(&[1.0], 1, 1, &device());
        let out = sample_from(&score, &config, start, &mut |_| {}).unwrap();
        let error = (to_vec(out.samples)[0] as f64 - exact).abs();
        let taus: Vec<f64> = out.path.iter().map(|p| p.tau).collect();
        assert_eq!(taus, vec![0.5, 0.25]);
        // the state at τ = 0.5 is the closed form there
        let at_half = to_vec(out.path[0].points.clone())[0] as f64;
        let exact_half = ((v0 + 1.0) / (v0 + 2.0 * t_end)).sqrt();
        assert!(
            (at_half - exact_half).abs() < 20.0 * tol + 1e-6,
            "{at_half} vs {exact_half}"
        );
        (error, out.evaluations)
    };
    let (loose, loose_evaluations) = run(1e-3);
    let (tight, tight_evaluations) = run(1e-6);
    assert!(loose < 2e-2, "{loose}");
    // f32 arithmetic limits the tight run to about 1e-6
    assert!(tight < 2e-5, "{tight}");
    assert!(tight_evaluations > loose_evaluations);
    assert_eq!((loose_evaluations - 1) % 6, 0, "{loose_evaluations}");
}

/// Score evaluations per sample: one per step for em, dpm2m and exp, two for Heun and EDM,
/// plus one per corrector step and one for the Tweedie step.
#[test]
fn evaluations_are_counted() {
    let gmm = Gmm::gaussian(vec![0.0, 0.0], vec![0.1, 0.1]).unwrap();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let score = GmmScore::new(gmm, sde, &device());
    for (kind, denoise, expected) in [
        (SamplerKind::EulerMaruyama, false, 20),
        (SamplerKind::EulerMaruyama, true, 21),
        (SamplerKind::PredictorCorrector, false, 40),
        (SamplerKind::OdeHeun, false, 40),
        (SamplerKind::OdeRk4, false, 80),
        (SamplerKind::Edm, false, 40),
        (SamplerKind::DpmSolver2M, true, 21),
        (SamplerKind::DpmSolver2MSde, false, 20),
        (SamplerKind::Exponential, false, 20),
    ] {
        let mut config = SamplerConfig::new(kind, 20, 1e-3);
        config.denoise = denoise;
        let out = sample(&score, &config, 5, &device(), &mut |_| {}).unwrap();
        assert_eq!(out.evaluations, expected, "{kind:?}");
        assert_eq!(config.evaluations(), Some(expected), "{kind:?}");
    }
}

/// A budget of evaluations buys the most steps that fit, and never fewer than one.
#[test]
fn an_evaluation_budget_sets_the_steps() {
    for (kind, denoise, budget, steps) in [
        (SamplerKind::EulerMaruyama, false, 35, 35),
        (SamplerKind::EulerMaruyama, true, 35, 34),
        (SamplerKind::Edm, false, 35, 17),
        (SamplerKind::PredictorCorrector, true, 35, 17),
        (SamplerKind::OdeRk4, false, 10, 2),
    ] {
        let mut config = SamplerConfig::new(kind, 500, 1e-3);
        config.denoise = denoise;
        config.set_evaluation_budget(budget).unwrap();
        assert_eq!(config.steps, steps, "{kind:?}");
        assert!(config.evaluations().unwrap() <= budget);
    }
    let mut rk4 = SamplerConfig::new(SamplerKind::OdeRk4, 500, 1e-3);
    assert!(rk4.set_evaluation_budget(3).is_err());
    let mut rk45 = SamplerConfig::new(SamplerKind::OdeRk45, 500, 1e-3);
    assert!(rk45.set_evaluation_budget(100).is_err());
    assert_eq!(
        "ddim".parse::<SamplerKind>().unwrap(),
        SamplerKind::Exponential
    );
    let unknown = "rk45".parse::<SamplerKind>().unwrap_err().to_string();
    assert!(
        unknown.starts_with("unknown sampler 'rk45' (expected one of: em, pc"),
        "{unknown}"
    );
}

#[test]
fn recording_and_denoising() {
    let gmm = Gmm::gaussian(vec![0.0, 0.0], vec![0.1, 0.1]).unwrap();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let score = GmmScore::new(gmm, sde, &device());
    let mut config = SamplerConfig::new(SamplerKind::EulerMaruyama, 100, 1e-2);
    config.record_at = vec![1.0, 0.5, 0.01];
    config.denoise = true;
    let out = sample(&score, &config, 10, &device(), &mut |_| {}).unwrap();
    let taus: Vec<f64> = out.path.iter().map(|p| p.tau).collect();
    assert_eq!(taus.len(), 3);
    assert_eq!(taus[0], 1.0);
    assert!((taus[1] - 0.5).abs() < 0.01);
    assert_eq!(taus[2], 0.01);
    assert_eq!(out.path[2].points.dims(), [10, 2]);
}

#[test]
fn invalid_configurations_are_rejected() {
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let check = |config: SamplerConfig, name: &str| {
        let message = config.validate(&sde).unwrap_err().to_string();
        assert!(message.contains(name), "{message}");
    };
    check(
        SamplerConfig::new(SamplerKind::EulerMaruyama, 0, 1e-3),
        "steps",
    );
    check(
        SamplerConfig::new(SamplerKind::EulerMaruyama, 10, 0.0),
        "t-min",
    );
    check(
        SamplerConfig::new(SamplerKind::EulerMaruyama, 10, 1.0),
        "t-min",
    );
    check(
        SamplerConfig::new(SamplerKind::EulerMaruyama, 10, f64::NAN),
        "t-min",
    );
    let mut ode = SamplerConfig::new(SamplerKind::OdeHeun, 10, 1e-3);
    ode.eps = 1.0;
    check(ode, "eps");
    let mut pc = SamplerConfig::new(SamplerKind::PredictorCorrector, 10, 1e-3);
    pc.snr = 0.0;
    check(pc, "snr");
    let mut em = SamplerConfig::new(SamplerKind::EulerMaruyama, 10, 1e-3);
    em.eps = -1.0;
    check(em, "eps");
    // exp takes DDIM's η (its viscosity is η²), the other samplers take ε only
    let mut exp = SamplerConfig::new(SamplerKind::Exponential, 10, 1e-3);
    exp.eps = 0.5;
    check(exp, "⟨eta⟩");
    let mut exp = SamplerConfig::new(SamplerKind::Exponential, 10, 1e-3);
    exp.set_eta(1.5);
    check(exp, "eta");
    let mut exp = SamplerConfig::new(SamplerKind::Exponential, 10, 1e-3);
    exp.set_eta(0.5);
    assert_eq!(exp.eps, 0.25);
    exp.validate(&sde).unwrap();
    let mut em = SamplerConfig::new(SamplerKind::EulerMaruyama, 10, 1e-3);
    em.eta = 0.5;
    check(em, "⟨eta⟩");
    // dpm2m-sde's η is its viscosity: any η ≥ 0, set through η only
    let mut sde_dpm = SamplerConfig::new(SamplerKind::DpmSolver2MSde, 10, 1e-3);
    sde_dpm.eps = 0.5;
    check(sde_dpm, "⟨eta⟩");
    let mut sde_dpm = SamplerConfig::new(SamplerKind::DpmSolver2MSde, 10, 1e-3);
    sde_dpm.set_eta(-1.0);
    check(sde_dpm, "eta >= 0");
    let mut sde_dpm = SamplerConfig::new(SamplerKind::DpmSolver2MSde, 10, 1e-3);
    sde_dpm.set_eta(4.0);
    assert_eq!(sde_dpm.eps, 4.0);
    sde_dpm.validate(&sde).unwrap();
    let mut rk45 = SamplerConfig::new(SamplerKind::OdeRk45, 10, 1e-3);
    rk45.rtol = 0.0;
    check(rk45, "rtol");
    let mut edm = SamplerConfig::new(SamplerKind::Edm, 10, 1e-3);
    edm.edm.rho = -1.0;
    check(edm, "rho");
    let mut edm = SamplerConfig::new(SamplerKind::Edm, 10, 1e-3);
    edm.edm.churn_sigma_max = Some(0.0);
    edm.edm.churn_sigma_min = 1.0;
    check(edm, "churn-sigma-max");
    let mut edm = SamplerConfig::new(SamplerKind::Edm, 10, 1e-3);
    edm.eps = 1.0;
    check(edm, "churn");
    let mut em = SamplerConfig::new(SamplerKind::EulerMaruyama, 10, 1e-3);
    em.edm.churn = 1.0;
    check(em, "edm");
}

/// Fractions of samples nearest to each of three equal-weight Diracs (-1, 0), (1, 0), (0, 1.5).
fn dirac_fractions(sde: &Sde, prior: &Prior, n: usize) -> [f64; 3] {
    let points = [-1.0f32, 0.0, 1.0, 0.0, 0.0, 1.5];
    let train = tensor_from_rows(&points, 3, 2, &device());
    let score = EmpiricalScore::new(train.clone(), sde.clone()).unwrap();
    let mut config = SamplerConfig::new(SamplerKind::EulerMaruyama, 400, 1e-3);
    config.grid = TauGrid::Quadratic;
    config.seed = 11;
    let out = sample_with_prior(&score, &config, prior, n, &device(), &mut |_| {}).unwrap();
    let (_, nearest) = nearest_neighbours(&out.samples, &train);
    let mut fractions = [0.0; 3];
    for i in nearest {
        fractions[i] += 1.0 / n as f64;
    }
    fractions
}

/// Heat (T = 1) and cou keep much of the data in X_T, so the nominal prior sends the reverse
/// dynamics of three equal-weight Diracs to them in unequal shares; started from p_T itself
/// (the exact prior) every share is 1/3 within 4 standard errors (√(2/9/n) = 0.0075 for
/// n = 4000; false-failure rate about 6e-5 per share, 4e-4 for the six). The nominal prior
/// misses by more than 4 standard errors on at least one share, which is what the exact prior
/// fixes.
#[test]
fn the_exact_prior_gives_each_dirac_its_weight() {
    let n = 4000;
    let se = (2.0f64 / 9.0 / n as f64).sqrt();
    let points = tensor_from_rows(&[-1.0, 0.0, 1.0, 0.0, 0.0, 1.5], 3, 2, &device());
    for sde in [
        Sde::heat(2f64.sqrt(), 1.0).unwrap(),
        Sde::cou(1.0, 1.0, 0.0, 1.0).unwrap(),
    ] {
        let exact = dirac_fractions(&sde, &Prior::exact(points.clone()).unwrap(), n);
        for share in exact {
            assert!(
                (share - 1.0 / 3.0).abs() < 4.0 * se,
                "{} exact prior: {exact:?}",
                sde.name()
            );
        }
        let nominal = dirac_fractions(&sde, &Prior::Nominal, n);
        assert!(
            nominal.iter().any(|s| (s - 1.0 / 3.0).abs() > 4.0 * se),
            "{} nominal prior: {nominal:?}",
            sde.name()
        );
    }
}

/// The moment-matched prior has p_T's mean and covariance: α ȳ + c and α² Cov(y) + σ² I.
#[test]
fn the_moment_prior_has_the_mean_and_covariance_of_p_t() {
    let sde = Sde::cou(1.0, 1.0, 0.5, 1.0).unwrap();
    let data = [-1.0f32, 0.0, 1.0, 0.0, 0.0, 1.5];
    let train = tensor_from_rows(&data, 3, 2, &device());
    let prior = Prior::moment(&sde, &train).unwrap();
    let n = 20_000;
    let x = to_vec(prior.sample(&sde, n, 2, 3, &device()).unwrap());
    let (mean, cov) = mean_and_covariance(&x, 2);
    let t = sde.t_end();
    let (alpha, shift, sigma2) = (sde.alpha(t), sde.shift(t), sde.sigma2(t));
    let ybar = [0.0, 0.5];
    // Cov(y) with divisor 3: x: 2/3, y: 0.5, xy: 0
    let cov_y = [2.0 / 3.0, 0.0, 0.0, 0.5];
    for j in 0..2 {
        let expected = alpha * ybar[j] + shift;
        let var = alpha * alpha * cov_y[3 * j] + sigma2;
        // 5 standard errors of a mean of n draws
        assert!(
            (mean[j] - expected).abs() < 5.0 * (var / n as f64).sqrt(),
            "{mean:?}"
        );
    }
    for k in 0..4 {
        let expected = alpha * alpha * cov_y[k] + if k % 3 == 0 { sigma2 } else { 0.0 };
        assert!(
            (cov[k] - expected).abs() < 0.05 * (alpha * alpha + sigma2),
            "{cov:?}"
        );
    }
}

/// A score that is exact for N(0, I) under vp but turns row 0 into NaN once τ < 0.5.
struct FaultyScore {
    sde: Sde,
}

impl scorelab_core::ScoreFn for FaultyScore {
    fn dim(&self) -> usize {
        2
    }

    fn sde(&self) -> &Sde {
        &self.sde
    }

    fn score(
        &self,
        x: burn::tensor::Tensor<2>,
        t: &scorelab_core::Times,
    ) -> burn::tensor::Tensor<2> {
        let [n, _] = x.dims();
        let tau = t.per_row(n)[0];
        let values: Vec<f32> = (0..n * 2)
            .map(|i| if i < 2 && tau < 0.5 { f32::NAN } else { 0.0 })
            .collect();
        -x.clone() + tensor_from_rows(&values, n, 2, &x.device())
    }

    fn score_and_divergence(
        &self,
        x: burn::tensor::Tensor<2>,
        t: &scorelab_core::Times,
    ) -> (burn::tensor::Tensor<2>, burn::tensor::Tensor<1>) {
        let [n, _] = x.dims();
        (
            self.score(x, t),
            burn::tensor::Tensor::zeros([n], &device()),
        )
    }
}

#[test]
fn diverging_samples_are_reported_with_the_time_they_diverged() {
    let score = FaultyScore {
        sde: Sde::vp(0.1, 20.0, 1.0).unwrap(),
    };
    for kind in ALL_SAMPLERS {
        let mut config = SamplerConfig::new(kind, 40, 1e-3);
        config.grid = TauGrid::Uniform;
        let out = sample(&score, &config, 10, &device(), &mut |_| {}).unwrap();
        assert_eq!(out.nonfinite_rows, vec![0], "{kind:?}");
        let since = out.nonfinite_since[0];
        // the first step evaluated below τ = 0.5 ends one grid step (≈ 0.025) later; the
        // adaptive solver's steps are its own
        let earliest = if kind == SamplerKind::OdeRk45 {
            0.0
        } else {
            0.44
        };
        assert!(
            since < 0.5 && since > earliest,
            "{kind:?}: diverged at τ = {since}"
        );
        let rest = to_vec(out.samples.clone());
        assert!(rest[2..].iter().all(|v| v.is_finite()), "{kind:?}");
    }
}

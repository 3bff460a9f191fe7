//! An adaptive Dormand–Prince 5(4) pair (Dormand & Prince 1980; scipy's RK45, the solver
//! score_sde's likelihood uses), for the probability-flow ODE and any other batch ODE. The
//! step is accepted when the RMS over the batch of err/(atol + rtol·max(|y|, |y'|)) is at
//! most 1 and then rescaled by 0.9·err^{−1/5} (between 0.2 and 5); the 5th-order solution is
//! kept and its last stage reused as the next step's first (6 evaluations per step).

use burn::tensor::Tensor;

use scorelab_core::device::to_vec;

use crate::error::{Result, SampleError};
use crate::sampler::{
    finite_mean, reverse_drift, CountedScore, DivergenceWatch, PathSnapshot, SamplerConfig,
};

/// The Dormand–Prince nodes c_i and the Runge–Kutta matrix rows a_ij.
const C: [f64; 6] = [1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A: [&[f64]; 6] = [
    &[1.0 / 5.0],
    &[3.0 / 40.0, 9.0 / 40.0],
    &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
    &[
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
    ],
    &[
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
    ],
    // the 5th-order weights (FSAL: the 7th stage is f at the new point)
    &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// The differences b_i − b*_i of the 5th- and 4th-order weights: the error estimate.
const E: [f64; 7] = [
    71.0 / 57600.0,
    0.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
];

/// At most this many steps (accepted or rejected) per run.
const MAX_STEPS: usize = 1_000_000;

/// Σ_j w_j k_j.
fn combine(weights: &[f64], stages: &[Tensor<2>]) -> Option<Tensor<2>> {
    weights
        .iter()
        .zip(stages)
        .filter(|(w, _)| **w != 0.0)
        .map(|(w, k)| k.clone().mul_scalar(*w))
        .reduce(|a, b| a + b)
}

/// One adaptive integration in time from `from` to `to` (either direction).
#[derive(Clone, Debug)]
pub struct AdaptiveRun {
    pub from: f64,
    pub to: f64,
    /// The first trial step (its size; the direction is that of `to − from`).
    pub first_step: f64,
    pub rtol: f64,
    pub atol: f64,
    /// Times between `from` and `to` that the solver steps onto exactly.
    pub stops: Vec<f64>,
}

/// Integrates dy/du = `rhs`(y, t) with Dormand–Prince 5(4), where u = |t − from| grows along
/// the run (so `rhs` is the derivative in the direction of travel). `on_accept` receives every
/// accepted (t, y); the function returns the state at `to` and the number of `rhs` calls.
pub fn dormand_prince(
    rhs: &mut dyn FnMut(&Tensor<2>, f64) -> Tensor<2>,
    mut y: Tensor<2>,
    run: &AdaptiveRun,
    on_accept: &mut dyn FnMut(f64, &Tensor<2>),
) -> Result<(Tensor<2>, usize)> {
    let direction = if run.to >= run.from { 1.0 } else { -1.0 };
    let length = (run.to - run.from).abs();
    // (distance from the start, time) of every stop in travel order, ending at the end
    let mut stops: Vec<(f64, f64)> = run
        .stops
        .iter()
        .map(|&t| (((t - run.from) * direction).clamp(0.0, length), t))
        .filter(|&(u, _)| u > 0.0 && u < length)
        .chain([(length, run.to)])
        .collect();
    stops.sort_by(|a, b| a.0.total_cmp(&b.0));
    stops.dedup_by(|a, b| a.0 == b.0);
    let time = |u: f64| run.from + direction * u;
    let mut calls = 1;
    let mut u = 0.0;
    let mut h = run.first_step.abs();
    let mut k1 = rhs(&y, run.from);
    let mut taken = 0;
    while u < length {
        taken += 1;
        if taken > MAX_STEPS {
            return Err(SampleError::Stalled {
                tau: time(u),
                reason: format!("more than {MAX_STEPS} steps; raise ⟨rtol⟩/⟨atol⟩"),
            });
        }
        let (target, target_time) = stops
            .iter()
            .copied()
            .find(|&(s, _)| s > u)
            .unwrap_or((length, run.to));
        let lands = h >= target - u;
        let step = if lands { target - u } else { h };
        let mut stages = vec![k1.clone()];
        for (c, row) in C.iter().zip(A) {
            let increment = combine(row, &stages).expect("non-empty row");
            let point = y.clone() + increment.mul_scalar(step);
            stages.push(rhs(&point, time(u + c * step)));
            calls += 1;
        }
        // stages[6] is the derivative at the 5th-order solution
        let y5 = y.clone() + combine(A[5], &stages).expect("weights").mul_scalar(step);
        let error = combine(&E, &stages).expect("weights").mul_scalar(step);
        let scale = y
            .clone()
            .abs()
            .max_pair(y5.clone().abs())
            .mul_scalar(run.rtol)
            .add_scalar(run.atol);
        let norm = (to_vec(finite_mean((error / scale).powi_scalar(2)))[0] as f64).sqrt();
        if norm <= 1.0 {
            u = if lands { target } else { u + step };
            y = y5;
            k1 = stages.pop().expect("seven stages");
            // a stop is reported at its own time, not one recomputed from u
            on_accept(if lands { target_time } else { time(u) }, &y);
        }
        let factor = if norm == 0.0 {
            5.0
        } else {
            (0.9 * norm.powf(-0.2)).clamp(0.2, 5.0)
        };
        h = step * factor;
        if h.is_nan() || h <= 1e-14 * length.max(run.from.abs()) {
            return Err(SampleError::Stalled {
                tau: time(u),
                reason: format!("the step size fell to {h:.1e}"),
            });
        }
    }
    Ok((y, calls))
}

/// The probability-flow ODE from τ = T (`y`) to t_min, recording the batch at
/// `config.record_at` (each clamped to [t_min, T] and stepped onto exactly). `progress` gets
/// the covered fraction of [t_min, T] in units of `config.steps`.
pub(crate) fn integrate(
    score: &CountedScore,
    y: Tensor<2>,
    config: &SamplerConfig,
    path: &mut Vec<PathSnapshot>,
    watch: &mut DivergenceWatch,
    progress: &mut dyn FnMut(usize),
) -> Result<Tensor<2>> {
    let (t_end, t_min) = (score.sde().t_end(), config.t_min);
    let stops: Vec<f64> = config
        .record_at
        .iter()
        .map(|r| r.clamp(t_min, t_end))
        .collect();
    let record = |tau: f64, y: &Tensor<2>, path: &mut Vec<PathSnapshot>| {
        if stops.contains(&tau) && !path.iter().any(|p| p.tau == tau) {
            path.push(PathSnapshot {
                tau,
                points: y.clone(),
            });
        }
    };
    record(t_end, &y, path);
    let run = AdaptiveRun {
        from: t_end,
        to: t_min,
        first_step: (t_end - t_min) / config.steps as f64,
        rtol: config.rtol,
        atol: config.atol,
        stops: stops.clone(),
    };
    // dY/ds along s = T − τ is the reverse drift
    let (y, _) = dormand_prince(
        &mut |y, tau| reverse_drift(score, y, tau, 0.0),
        y,
        &run,
        &mut |tau, y| {
            watch.check(y, tau);
            record(tau, y, path);
            let covered = (t_end - tau) / (t_end - t_min) * config.steps as f64;
            progress((covered.round() as usize).min(config.steps));
        },
    )?;
    Ok(y)
}

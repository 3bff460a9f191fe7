//! The probability-flow ODE with an adaptive Dormand–Prince 5(4) pair (Dormand & Prince
//! 1980; scipy's RK45, the solver score_sde's likelihood uses). The step is accepted when the
//! RMS over the batch of err/(atol + rtol·max(|y|, |y'|)) is at most 1 and then rescaled by
//! 0.9·err^{−1/5} (between 0.2 and 5); the 5th-order solution is kept and its last stage
//! reused as the next step's first (6 evaluations per step).

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

/// Integrates from τ = T (`y`) to t_min, recording the batch at `config.record_at` (each
/// clamped to [t_min, T] and stepped onto exactly). `progress` gets the covered fraction of
/// [t_min, T] in units of `config.steps`.
pub(crate) fn integrate(
    score: &CountedScore,
    mut y: Tensor<2>,
    config: &SamplerConfig,
    path: &mut Vec<PathSnapshot>,
    watch: &mut DivergenceWatch,
    progress: &mut dyn FnMut(usize),
) -> Result<Tensor<2>> {
    let (t_end, t_min) = (score.sde().t_end(), config.t_min);
    let mut stops: Vec<f64> = config
        .record_at
        .iter()
        .map(|r| r.clamp(t_min, t_end))
        .collect();
    stops.sort_by(|a, b| b.total_cmp(a));
    stops.dedup();
    let record = |tau: f64, y: &Tensor<2>, path: &mut Vec<PathSnapshot>| {
        if stops.contains(&tau) {
            path.push(PathSnapshot {
                tau,
                points: y.clone(),
            });
        }
    };
    record(t_end, &y, path);
    let mut tau = t_end;
    let mut h = (t_end - t_min) / config.steps as f64;
    let mut k1 = reverse_drift(score, &y, tau, 0.0);
    let mut taken = 0;
    while tau > t_min {
        taken += 1;
        if taken > MAX_STEPS {
            return Err(SampleError::Stalled {
                tau,
                reason: format!("more than {MAX_STEPS} steps; raise --rtol/--atol"),
            });
        }
        let target = stops
            .iter()
            .copied()
            .find(|&s| s < tau)
            .unwrap_or(t_min)
            .max(t_min);
        let lands = h >= tau - target;
        let step = if lands { tau - target } else { h };
        let mut stages = vec![k1.clone()];
        for (c, row) in C.iter().zip(A) {
            let increment = combine(row, &stages).expect("non-empty row");
            let point = y.clone() + increment.mul_scalar(step);
            stages.push(reverse_drift(score, &point, tau - c * step, 0.0));
        }
        // stages[6] is f at the 5th-order solution
        let y5 = y.clone() + combine(A[5], &stages).expect("weights").mul_scalar(step);
        let error = combine(&E, &stages).expect("weights").mul_scalar(step);
        let scale = y
            .clone()
            .abs()
            .max_pair(y5.clone().abs())
            .mul_scalar(config.rtol)
            .add_scalar(config.atol);
        let norm = (to_vec(finite_mean((error / scale).powi_scalar(2)))[0] as f64).sqrt();
        if norm <= 1.0 {
            tau = if lands { target } else { tau - step };
            y = y5;
            k1 = stages.pop().expect("seven stages");
            watch.check(&y, tau);
            record(tau, &y, path);
            let covered = (t_end - tau) / (t_end - t_min) * config.steps as f64;
            progress((covered.round() as usize).min(config.steps));
        }
        let factor = if norm == 0.0 {
            5.0
        } else {
            (0.9 * norm.powf(-0.2)).clamp(0.2, 5.0)
        };
        h = step * factor;
        if h.is_nan() || h <= 1e-14 * t_end {
            return Err(SampleError::Stalled {
                tau,
                reason: format!("the step size fell to {h:.1e}"),
            });
        }
    }
    Ok(y)
}

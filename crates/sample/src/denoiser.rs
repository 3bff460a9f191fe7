//! Samplers in the variance-exploding coordinates of any SDE. With x = α(τ) x̃ + c(τ) and
//! σ̃(τ) = σ(τ)/α(τ), the probability-flow ODE reads dx̃/dσ̃ = (x̃ − D(x̃; σ̃))/σ̃, where the
//! denoiser D is Tweedie's x̂0 = (x − c + σ² s)/α (Karras et al. 2022, eq. 3 with scale α and
//! noise level σ̃). EDM's Heun sampler and DPM-Solver++(2M) step in these coordinates.

use burn::tensor::Tensor;

use scorelab_core::Sde;

use crate::error::{Result, SampleError};
use crate::sampler::{denoise, CountedScore, EdmConfig, NoiseSource};

/// EDM's schedule σ_i = (σ_max^{1/ρ} + i/N (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, i = 0..N, from
/// σ̃(T) to σ̃(t_min), as times τ_i (the ends exactly T and t_min).
pub fn edm_times(sde: &Sde, t_min: f64, steps: usize, rho: f64) -> Vec<f64> {
    let (hi, lo) = (
        sde.sigma_tilde(sde.t_end()).powf(1.0 / rho),
        sde.sigma_tilde(t_min).powf(1.0 / rho),
    );
    let mut times: Vec<f64> = (0..=steps)
        .map(|i| {
            let sigma = (hi + i as f64 / steps as f64 * (lo - hi)).powf(rho);
            sde.time_of_sigma_tilde(sigma)
        })
        .collect();
    times[0] = sde.t_end();
    times[steps] = t_min;
    times
}

/// Checks EDM's options (the viscosity must stay 0: EDM's noise comes from churn).
pub(crate) fn validate_edm(edm: &EdmConfig, eps: f64) -> Result<()> {
    if eps != 0.0 {
        return Err(SampleError::invalid(
            "eps",
            "edm integrates the probability-flow ODE and adds noise through churn (⟨churn⟩), \
             not through a viscosity",
        ));
    }
    if !(edm.rho.is_finite() && edm.rho > 0.0) {
        return Err(SampleError::invalid(
            "rho",
            format!("must be a finite number > 0, got {}", edm.rho),
        ));
    }
    for (name, v) in [
        ("churn", edm.churn),
        ("churn-sigma-min", edm.churn_sigma_min),
        ("churn-noise", edm.churn_noise),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(SampleError::invalid(
                name,
                format!("must be a finite number >= 0, got {v}"),
            ));
        }
    }
    if let Some(max) = edm.churn_sigma_max {
        if !(max.is_finite() && max > edm.churn_sigma_min) {
            return Err(SampleError::invalid(
                "churn-sigma-max",
                format!(
                    "must be a finite number above churn-sigma-min = {}, got {max}",
                    edm.churn_sigma_min
                ),
            ));
        }
    }
    Ok(())
}

/// x̃ = (x − c(τ))/α(τ).
fn to_tilde(sde: &Sde, x: Tensor<2>, tau: f64) -> Tensor<2> {
    x.sub_scalar(sde.shift(tau)).div_scalar(sde.alpha(tau))
}

/// x = α(τ) x̃ + c(τ).
fn from_tilde(sde: &Sde, x: Tensor<2>, tau: f64) -> Tensor<2> {
    x.mul_scalar(sde.alpha(tau)).add_scalar(sde.shift(tau))
}

/// D(x̃; σ̃(τ)) = Tweedie's x̂0 at x = α x̃ + c.
fn denoised(score: &CountedScore, x: Tensor<2>, tau: f64) -> Tensor<2> {
    let sde = score.sde();
    denoise(score, from_tilde(sde, x, tau), tau)
}

/// One step τ → τ' of Karras et al. (2022) Algorithm 2 on a run of `steps` steps: raise σ̃
/// by the churn γ, then one Heun step of dx̃/dσ̃ = (x̃ − D)/σ̃ to σ̃(τ').
pub(crate) fn edm_step(
    score: &CountedScore,
    edm: &EdmConfig,
    steps: usize,
    y: Tensor<2>,
    (tau, next): (f64, f64),
    noise: &mut NoiseSource,
) -> Tensor<2> {
    let sde = score.sde();
    let (sigma, sigma_next) = (sde.sigma_tilde(tau), sde.sigma_tilde(next));
    let mut x = to_tilde(sde, y, tau);
    let in_window =
        sigma >= edm.churn_sigma_min && edm.churn_sigma_max.is_none_or(|max| sigma <= max);
    let gamma = if edm.churn > 0.0 && in_window {
        (edm.churn / steps as f64).min(2f64.sqrt() - 1.0)
    } else {
        0.0
    };
    // σ̂ may not pass σ̃(T): no score exists beyond T
    let sigma_hat = (sigma * (1.0 + gamma)).min(sde.sigma_tilde(sde.t_end()));
    let tau_hat = if sigma_hat > sigma {
        let [n, d] = x.dims();
        let scale = (sigma_hat * sigma_hat - sigma * sigma).sqrt() * edm.churn_noise;
        x = x + noise.normal(n, d).mul_scalar(scale);
        sde.time_of_sigma_tilde(sigma_hat)
    } else {
        tau
    };
    let d1 = (x.clone() - denoised(score, x.clone(), tau_hat)).div_scalar(sigma_hat);
    let euler = x.clone() + d1.clone().mul_scalar(sigma_next - sigma_hat);
    let d2 = (euler.clone() - denoised(score, euler, next)).div_scalar(sigma_next);
    let heun = x + (d1 + d2).mul_scalar(0.5 * (sigma_next - sigma_hat));
    from_tilde(sde, heun, next)
}

/// The previous denoised estimate of a DPM-Solver++(2M) run and its log-SNR step.
#[derive(Default)]
pub(crate) struct DpmState {
    previous: Option<(Tensor<2>, f64)>,
}

impl DpmState {
    /// One step τ → τ' of DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2, with α = 1, σ = σ̃)
    /// or, for η > 0, of its SDE form (SDE-DPM-Solver++(2M), midpoint correction):
    /// h = ln(σ̃/σ̃'), k = e^{−(1+η)h},
    ///   x̃' = (σ̃'/σ̃) e^{−ηh} x̃ + (1 − k) D + σ̃' √(1 − e^{−2ηh}) z,
    /// where D = x̂0 on the first step and (1 + 1/2r) x̂0 − (1/2r) x̂0_prev after it,
    /// r = h_prev/h. η = 0 is the ODE solver; at η = 1 the first-order part is DDPM's
    /// posterior step.
    pub(crate) fn step(
        &mut self,
        score: &CountedScore,
        y: Tensor<2>,
        (tau, next): (f64, f64),
        eta: f64,
        noise: &mut NoiseSource,
    ) -> Tensor<2> {
        let sde = score.sde();
        let (sigma, sigma_next) = (sde.sigma_tilde(tau), sde.sigma_tilde(next));
        let h = (sigma / sigma_next).ln();
        let x0 = denoise(score, y.clone(), tau);
        let combined = match &self.previous {
            None => x0.clone(),
            Some((previous, h_previous)) => {
                let r = h_previous / h;
                x0.clone().mul_scalar(1.0 + 0.5 / r) - previous.clone().mul_scalar(0.5 / r)
            }
        };
        let keep = (-(1.0 + eta) * h).exp();
        let mut x = to_tilde(sde, y, tau).mul_scalar(keep) + combined.mul_scalar(1.0 - keep);
        if eta > 0.0 {
            let [n, d] = x.dims();
            let scale = sigma_next * (-(-2.0 * eta * h).exp_m1()).sqrt();
            x = x + noise.normal(n, d).mul_scalar(scale);
        }
        self.previous = Some((x0, h));
        from_tilde(sde, x, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tau_of_sigma_inverts_sigma_tilde_for_every_sde() {
        for sde in [
            Sde::vp(0.1, 20.0, 1.0).unwrap(),
            Sde::ve(0.01, 5.0, 1.0).unwrap(),
            Sde::heat(2f64.sqrt(), 1.0).unwrap(),
            Sde::cou(1.0, 1.0, 0.0, 1.0).unwrap(),
        ] {
            for tau in [1e-3, 0.1, 0.5, 0.9] {
                let back = sde.time_of_sigma_tilde(sde.sigma_tilde(tau));
                assert!((back - tau).abs() < 1e-9, "{}: {tau} -> {back}", sde.name());
            }
        }
    }

    #[test]
    fn the_edm_schedule_runs_from_t_to_t_min_with_rho_spacing() {
        let sde = Sde::ve(0.01, 5.0, 1.0).unwrap();
        let times = edm_times(&sde, 1e-3, 10, 7.0);
        assert_eq!(times.len(), 11);
        assert_eq!((times[0], times[10]), (1.0, 1e-3));
        assert!(times.windows(2).all(|w| w[0] > w[1]));
        // in σ̃^{1/ρ} the schedule is uniform
        let u: Vec<f64> = times
            .iter()
            .map(|&t| sde.sigma_tilde(t).powf(1.0 / 7.0))
            .collect();
        let step = u[1] - u[0];
        assert!(u.windows(2).all(|w| ((w[1] - w[0]) - step).abs() < 1e-9));
    }
}

//! Linear forward SDEs dX = f(t, X) dt + g(t) dW on [0, T] (DESIGN §2).
//!
//! Every SDE here is linear, so X_t | X_0 = x0 ~ N(α(t) x0 + c(t), σ(t)² I) and the drift is
//! affine: f(t, x) = a(t) x + b(t). All coefficients are scalars evaluated in f64 on the host.

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::error::{require_finite, require_non_negative, require_positive, CoreError, Result};

/// The names accepted by [`SdeParams::build`].
pub const SDE_NAMES: [&str; 7] = ["ve", "vp", "subvp", "ou", "cou", "cvp", "heat"];

/// A forward SDE with its parameters. Construct through the validating constructors or
/// [`SdeParams::build`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum Sde {
    /// Variance exploding: g = σ_min r^{t/T} √(2 ln r / T), r = σ_max/σ_min.
    Ve {
        sigma_min: f64,
        sigma_max: f64,
        t_end: f64,
    },
    /// Variance preserving: f = −½β(t)x, g = √β(t).
    Vp {
        beta_min: f64,
        beta_max: f64,
        t_end: f64,
    },
    /// Sub-VP: f = −½β(t)x, g = √(β(t)(1 − e^{−2B(t)})).
    Subvp {
        beta_min: f64,
        beta_max: f64,
        t_end: f64,
    },
    /// Ornstein–Uhlenbeck: f = θ(μ − x), g = σ.
    Ou {
        theta: f64,
        sigma: f64,
        mu: f64,
        t_end: f64,
    },
    /// Contractive OU: f = θ(x − μ), g = σ.
    Cou {
        theta: f64,
        sigma: f64,
        mu: f64,
        t_end: f64,
    },
    /// Contractive VP: f = ½β(t)x, g = √β(t).
    Cvp {
        beta_min: f64,
        beta_max: f64,
        t_end: f64,
    },
    /// Brownian motion (heat equation when c = √2): f = 0, g = c.
    Heat { c: f64, t_end: f64 },
}

/// The Gaussian transition X_t | X_s ~ N(ratio·(X_s − c_s) + c_t, var·I) for s < t.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MarkovKernel {
    /// α_t / α_s.
    pub ratio: f64,
    /// c_s, subtracted before scaling.
    pub shift_from: f64,
    /// c_t, added after scaling.
    pub shift_to: f64,
    /// σ_t² − ratio² σ_s².
    pub var: f64,
}

impl MarkovKernel {
    /// Mean of X_t given X_s = x (per coordinate).
    pub fn mean(&self, x: f64) -> f64 {
        self.ratio * (x - self.shift_from) + self.shift_to
    }
}

/// Optional parameters from the command line or a file; missing ones take the defaults of
/// DESIGN §2. With the `clap` feature they are the SDE flags of the command line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct SdeParams {
    /// ve: smallest noise level [default: 0.01].
    #[cfg_attr(feature = "clap", arg(long))]
    pub sigma_min: Option<f64>,
    /// ve: largest noise level [default: largest pairwise distance of the training data, over
    /// a seeded 2,000-point subset when there are more points].
    #[cfg_attr(feature = "clap", arg(long))]
    pub sigma_max: Option<f64>,
    /// vp, subvp, cvp: β at t = 0 [default: 0.1].
    #[cfg_attr(feature = "clap", arg(long))]
    pub beta_min: Option<f64>,
    /// vp, subvp: β at t = T [default: 20]; cvp [default: 2].
    #[cfg_attr(feature = "clap", arg(long))]
    pub beta_max: Option<f64>,
    /// ou, cou: rate θ [default: 1].
    #[cfg_attr(feature = "clap", arg(long))]
    pub theta: Option<f64>,
    /// ou, cou: diffusion σ [default: √2 for ou, 1 for cou].
    #[cfg_attr(feature = "clap", arg(long))]
    pub sigma: Option<f64>,
    /// ou, cou: centre μ [default: 0].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub mu: Option<f64>,
    /// heat: diffusion c [default: √2, the heat equation ∂u/∂t = Δu].
    #[cfg_attr(feature = "clap", arg(long))]
    pub c: Option<f64>,
    /// Final time T [default: 5 for ou, 1 otherwise].
    #[cfg_attr(feature = "clap", arg(long))]
    pub t_end: Option<f64>,
}

impl SdeParams {
    /// Builds the SDE called `name`. `data_sigma_max` is Song & Ermon's default σ_max for `ve`
    /// (the largest pairwise distance of the training data), used when `sigma_max` is unset.
    pub fn build(&self, name: &str, data_sigma_max: Option<f64>) -> Result<Sde> {
        let t = |default: f64| self.t_end.unwrap_or(default);
        match name {
            "ve" => {
                let sigma_max = match (self.sigma_max, data_sigma_max) {
                    (Some(s), _) | (None, Some(s)) => s,
                    (None, None) => {
                        return Err(CoreError::invalid(
                            "sigma-max",
                            "ve needs ⟨sigma-max⟩ or training data to derive it from",
                        ))
                    }
                };
                Sde::ve(self.sigma_min.unwrap_or(0.01), sigma_max, t(1.0))
            }
            "vp" => Sde::vp(
                self.beta_min.unwrap_or(0.1),
                self.beta_max.unwrap_or(20.0),
                t(1.0),
            ),
            "subvp" => Sde::subvp(
                self.beta_min.unwrap_or(0.1),
                self.beta_max.unwrap_or(20.0),
                t(1.0),
            ),
            "ou" => Sde::ou(
                self.theta.unwrap_or(1.0),
                self.sigma.unwrap_or(std::f64::consts::SQRT_2),
                self.mu.unwrap_or(0.0),
                t(5.0),
            ),
            "cou" => Sde::cou(
                self.theta.unwrap_or(1.0),
                self.sigma.unwrap_or(1.0),
                self.mu.unwrap_or(0.0),
                t(1.0),
            ),
            "cvp" => Sde::cvp(
                self.beta_min.unwrap_or(0.1),
                self.beta_max.unwrap_or(2.0),
                t(1.0),
            ),
            "heat" => Sde::heat(self.c.unwrap_or(std::f64::consts::SQRT_2), t(1.0)),
            other => Err(CoreError::UnknownName {
                kind: "SDE",
                name: other.to_string(),
                expected: SDE_NAMES.join(", "),
            }),
        }
    }
}

/// Constraints of the β-schedule SDEs: 0 ≤ β_min ≤ β_max, β_max > 0, T > 0.
fn check_beta(beta_min: f64, beta_max: f64, t_end: f64) -> Result<()> {
    require_positive("t-end", t_end)?;
    require_non_negative("beta-min", beta_min)?;
    require_positive("beta-max", beta_max)?;
    if beta_max < beta_min {
        return Err(CoreError::invalid(
            "beta-max",
            format!("must be >= beta-min ({beta_min}), got {beta_max}"),
        ));
    }
    Ok(())
}

/// Constraints of the OU-type SDEs: θ > 0, σ > 0, finite μ, T > 0.
fn check_ou(theta: f64, sigma: f64, mu: f64, t_end: f64) -> Result<()> {
    require_positive("theta", theta)?;
    require_positive("sigma", sigma)?;
    require_finite("mu", mu)?;
    require_positive("t-end", t_end)
}

impl Sde {
    /// VE SDE; requires 0 < σ_min < σ_max and T > 0.
    pub fn ve(sigma_min: f64, sigma_max: f64, t_end: f64) -> Result<Self> {
        require_positive("sigma-min", sigma_min)?;
        require_positive("sigma-max", sigma_max)?;
        require_positive("t-end", t_end)?;
        if sigma_min >= sigma_max {
            return Err(CoreError::invalid(
                "sigma-min",
                format!("must be < sigma-max ({sigma_max}), got {sigma_min}"),
            ));
        }
        Ok(Sde::Ve {
            sigma_min,
            sigma_max,
            t_end,
        })
    }

    /// VP SDE; requires 0 ≤ β_min ≤ β_max, β_max > 0, T > 0.
    pub fn vp(beta_min: f64, beta_max: f64, t_end: f64) -> Result<Self> {
        check_beta(beta_min, beta_max, t_end)?;
        Ok(Sde::Vp {
            beta_min,
            beta_max,
            t_end,
        })
    }

    /// Sub-VP SDE; same constraints as [`Sde::vp`].
    pub fn subvp(beta_min: f64, beta_max: f64, t_end: f64) -> Result<Self> {
        check_beta(beta_min, beta_max, t_end)?;
        Ok(Sde::Subvp {
            beta_min,
            beta_max,
            t_end,
        })
    }

    /// Contractive VP SDE; same constraints as [`Sde::vp`].
    pub fn cvp(beta_min: f64, beta_max: f64, t_end: f64) -> Result<Self> {
        check_beta(beta_min, beta_max, t_end)?;
        Ok(Sde::Cvp {
            beta_min,
            beta_max,
            t_end,
        })
    }

    /// OU SDE; requires θ > 0, σ > 0, finite μ, T > 0.
    pub fn ou(theta: f64, sigma: f64, mu: f64, t_end: f64) -> Result<Self> {
        check_ou(theta, sigma, mu, t_end)?;
        Ok(Sde::Ou {
            theta,
            sigma,
            mu,
            t_end,
        })
    }

    /// Contractive OU SDE; same constraints as [`Sde::ou`].
    pub fn cou(theta: f64, sigma: f64, mu: f64, t_end: f64) -> Result<Self> {
        check_ou(theta, sigma, mu, t_end)?;
        Ok(Sde::Cou {
            theta,
            sigma,
            mu,
            t_end,
        })
    }

    /// Brownian motion with diffusion c (c = √2 is the heat equation ∂u/∂t = Δu).
    pub fn heat(c: f64, t_end: f64) -> Result<Self> {
        require_positive("c", c)?;
        require_positive("t-end", t_end)?;
        Ok(Sde::Heat { c, t_end })
    }

    /// The short name (`vp`, `ve`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Sde::Ve { .. } => "ve",
            Sde::Vp { .. } => "vp",
            Sde::Subvp { .. } => "subvp",
            Sde::Ou { .. } => "ou",
            Sde::Cou { .. } => "cou",
            Sde::Cvp { .. } => "cvp",
            Sde::Heat { .. } => "heat",
        }
    }

    /// The final time T.
    pub fn t_end(&self) -> f64 {
        match *self {
            Sde::Ve { t_end, .. }
            | Sde::Vp { t_end, .. }
            | Sde::Subvp { t_end, .. }
            | Sde::Ou { t_end, .. }
            | Sde::Cou { t_end, .. }
            | Sde::Cvp { t_end, .. }
            | Sde::Heat { t_end, .. } => t_end,
        }
    }

    /// Whether the SDE is of VP type (its discrete Langevin α_i differs from 1).
    pub fn is_vp_type(&self) -> bool {
        matches!(self, Sde::Vp { .. } | Sde::Subvp { .. })
    }

    /// β(t) = β_min + (β_max − β_min) t / T and B(t) = ∫₀ᵗ β for the β-schedule SDEs.
    fn beta_and_integral(beta_min: f64, beta_max: f64, t_end: f64, t: f64) -> (f64, f64) {
        let slope = (beta_max - beta_min) / t_end;
        (beta_min + slope * t, beta_min * t + 0.5 * slope * t * t)
    }

    /// The drift f(t, x) = a(t)·x + b(t), returned as (a, b).
    pub fn drift(&self, t: f64) -> (f64, f64) {
        match *self {
            Sde::Ve { .. } | Sde::Heat { .. } => (0.0, 0.0),
            Sde::Vp {
                beta_min,
                beta_max,
                t_end,
            }
            | Sde::Subvp {
                beta_min,
                beta_max,
                t_end,
            } => {
                let (beta, _) = Self::beta_and_integral(beta_min, beta_max, t_end, t);
                (-0.5 * beta, 0.0)
            }
            Sde::Cvp {
                beta_min,
                beta_max,
                t_end,
            } => {
                let (beta, _) = Self::beta_and_integral(beta_min, beta_max, t_end, t);
                (0.5 * beta, 0.0)
            }
            Sde::Ou { theta, mu, .. } => (-theta, theta * mu),
            Sde::Cou { theta, mu, .. } => (theta, -theta * mu),
        }
    }

    /// The diffusion coefficient g(t).
    pub fn diffusion(&self, t: f64) -> f64 {
        match *self {
            Sde::Ve {
                sigma_min,
                sigma_max,
                t_end,
            } => {
                let log_r = (sigma_max / sigma_min).ln();
                sigma_min * (log_r * t / t_end).exp() * (2.0 * log_r / t_end).sqrt()
            }
            Sde::Vp {
                beta_min,
                beta_max,
                t_end,
            }
            | Sde::Cvp {
                beta_min,
                beta_max,
                t_end,
            } => Self::beta_and_integral(beta_min, beta_max, t_end, t)
                .0
                .sqrt(),
            Sde::Subvp {
                beta_min,
                beta_max,
                t_end,
            } => {
                let (beta, b) = Self::beta_and_integral(beta_min, beta_max, t_end, t);
                (beta * -(-2.0 * b).exp_m1()).sqrt()
            }
            Sde::Ou { sigma, .. } | Sde::Cou { sigma, .. } => sigma,
            Sde::Heat { c, .. } => c,
        }
    }

    /// The signal scale α(t) of X_t | X_0.
    pub fn alpha(&self, t: f64) -> f64 {
        match *self {
            Sde::Ve { .. } | Sde::Heat { .. } => 1.0,
            Sde::Vp {
                beta_min,
                beta_max,
                t_end,
            }
            | Sde::Subvp {
                beta_min,
                beta_max,
                t_end,
            } => (-0.5 * Self::beta_and_integral(beta_min, beta_max, t_end, t).1).exp(),
            Sde::Cvp {
                beta_min,
                beta_max,
                t_end,
            } => (0.5 * Self::beta_and_integral(beta_min, beta_max, t_end, t).1).exp(),
            Sde::Ou { theta, .. } => (-theta * t).exp(),
            Sde::Cou { theta, .. } => (theta * t).exp(),
        }
    }

    /// The mean shift c(t) of X_t | X_0 (per coordinate).
    pub fn shift(&self, t: f64) -> f64 {
        match *self {
            Sde::Ou { theta, mu, .. } => -mu * (-theta * t).exp_m1(),
            Sde::Cou { theta, mu, .. } => -mu * (theta * t).exp_m1(),
            _ => 0.0,
        }
    }

    /// The variance σ(t)² of X_t | X_0 (per coordinate).
    pub fn sigma2(&self, t: f64) -> f64 {
        match *self {
            Sde::Ve {
                sigma_min,
                sigma_max,
                t_end,
            } => sigma_min * sigma_min * (2.0 * (sigma_max / sigma_min).ln() * t / t_end).exp_m1(),
            Sde::Vp {
                beta_min,
                beta_max,
                t_end,
            } => -(-Self::beta_and_integral(beta_min, beta_max, t_end, t).1).exp_m1(),
            Sde::Subvp {
                beta_min,
                beta_max,
                t_end,
            } => {
                let v = -(-Self::beta_and_integral(beta_min, beta_max, t_end, t).1).exp_m1();
                v * v
            }
            Sde::Cvp {
                beta_min,
                beta_max,
                t_end,
            } => Self::beta_and_integral(beta_min, beta_max, t_end, t)
                .1
                .exp_m1(),
            Sde::Ou { theta, sigma, .. } => {
                sigma * sigma * -(-2.0 * theta * t).exp_m1() / (2.0 * theta)
            }
            Sde::Cou { theta, sigma, .. } => {
                sigma * sigma * (2.0 * theta * t).exp_m1() / (2.0 * theta)
            }
            Sde::Heat { c, .. } => c * c * t,
        }
    }

    /// σ̃(t) = σ(t)/α(t), the noise level in variance-exploding coordinates x̃ = (x − c)/α,
    /// where X_t | X_0 reads x̃ = x₀ + σ̃ ε (Karras et al. 2022, §2).
    pub fn sigma_tilde(&self, t: f64) -> f64 {
        self.sigma2(t).max(0.0).sqrt() / self.alpha(t)
    }

    /// The t ∈ [0, T] with σ̃(t) = `target` (bisection; σ̃ increases with t), clamped to the ends.
    pub fn time_of_sigma_tilde(&self, target: f64) -> f64 {
        let (mut lo, mut hi) = (0.0, self.t_end());
        if target >= self.sigma_tilde(hi) {
            return hi;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.sigma_tilde(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi - lo <= 1e-15 * self.t_end() {
                break;
            }
        }
        0.5 * (lo + hi)
    }

    /// The prior p_T used to start sampling: N(mean·1, var·I), returned as (mean, var).
    pub fn prior(&self) -> (f64, f64) {
        match *self {
            Sde::Ve { sigma_max, .. } => (0.0, sigma_max * sigma_max),
            Sde::Vp { .. } | Sde::Subvp { .. } => (0.0, 1.0),
            Sde::Ou {
                theta, sigma, mu, ..
            } => (mu, sigma * sigma / (2.0 * theta)),
            Sde::Cou { mu, .. } => (mu, self.sigma2(self.t_end())),
            Sde::Cvp { .. } | Sde::Heat { .. } => (0.0, self.sigma2(self.t_end())),
        }
    }

    /// A draw of X_t given X_0 = x0 (row-major values): α(t) x0 + c(t) + σ(t) z, with one
    /// z ~ N(0, 1) drawn from `rng` per value, in order (DESIGN §2).
    pub fn perturb(&self, x0: &[f32], t: f64, rng: &mut impl Rng) -> Vec<f32> {
        let (alpha, shift, sigma) = (self.alpha(t), self.shift(t), self.sigma2(t).sqrt());
        x0.iter()
            .map(|&x| {
                let z: f64 = rng.sample(StandardNormal);
                (alpha * x as f64 + shift + sigma * z) as f32
            })
            .collect()
    }

    /// `n` points of dimension `dim` drawn from the prior N(mean, var I) of [`Sde::prior`],
    /// one standard normal per value.
    pub fn draw_prior(&self, n: usize, dim: usize, rng: &mut impl Rng) -> Vec<f32> {
        let (mean, var) = self.prior();
        (0..n * dim)
            .map(|_| (mean + var.sqrt() * rng.sample::<f64, _>(StandardNormal)) as f32)
            .collect()
    }

    /// The Markov kernel X_t | X_s for 0 ≤ s < t ≤ T (DESIGN §2).
    pub fn kernel(&self, s: f64, t: f64) -> MarkovKernel {
        let ratio = self.alpha(t) / self.alpha(s);
        MarkovKernel {
            ratio,
            shift_from: self.shift(s),
            shift_to: self.shift(t),
            var: (self.sigma2(t) - ratio * ratio * self.sigma2(s)).max(0.0),
        }
    }

    /// The default lower end of the training time range (DESIGN §5): 1e-5 for VP, else 1e-3.
    pub fn default_t_eps(&self) -> f64 {
        if matches!(self, Sde::Vp { .. }) {
            1e-5
        } else {
            1e-3
        }
    }
}

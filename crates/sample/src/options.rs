//! Sampler options as a user names them (a sampler and a grid by name, the options that
//! belong to one sampler only), resolved into a checked [`SamplerConfig`]. The command line and
//! the Python bindings both build their configurations here, so they accept and refuse the
//! same things with the same messages.

use crate::error::{Result, SampleError};
use crate::grid::TauGrid;
use crate::sampler::{SamplerConfig, SamplerKind};

/// Default number of integration steps.
pub const DEFAULT_STEPS: usize = 500;
/// Default early-stopping time t_min.
pub const DEFAULT_T_MIN: f64 = 1e-3;
/// Default τ grid.
pub const DEFAULT_GRID: &str = "quadratic";
/// Default target signal-to-noise ratio of the Langevin corrector.
pub const DEFAULT_SNR: f64 = 0.16;

/// Every sampler option; `None` means "not given" (the sampler's default applies, and an
/// option of another sampler is refused). With the `clap` feature they are the integrator
/// flags of the command line.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct SamplerOptions {
    /// Integrator: em, pc, ode-euler, ode-heun, ode-rk4, ode-rk45 (adaptive), exp or ddim (DDIM
    /// family, --eta), edm (Karras et al.'s Heun sampler on the ρ-schedule), dpm2m
    /// (DPM-Solver++(2M)) or dpm2m-sde (its stochastic form, --eta).
    #[cfg_attr(feature = "clap", arg(long, default_value = "em"))]
    pub sampler: String,
    /// Number of integration steps.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_STEPS))]
    pub steps: usize,
    /// Instead of --steps: spend at most this many score (network) evaluations per sample,
    /// with as many steps as fit (not for ode-rk45).
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "steps"))]
    pub nfe: Option<usize>,
    /// Early-stopping time: integrate from T down to t-min > 0.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_T_MIN))]
    pub t_min: f64,
    /// τ grid: uniform, quadratic (finer near t-min) or log.
    #[cfg_attr(feature = "clap", arg(long, default_value = DEFAULT_GRID))]
    pub grid: String,
    /// Viscosity ε of em, pc and ode-* (0: probability-flow ODE, 1: reverse SDE) [default: 0
    /// for ode-*, 1 otherwise]. Not for exp and dpm2m-sde, which take --eta.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub eps: Option<f64>,
    /// exp: DDIM's η in [0, 1]; each step adds the fraction η² of the Gaussian posterior's
    /// variance (1: the posterior, 0: deterministic DDIM), which approximates viscosity η².
    /// dpm2m-sde: η ≥ 0, the viscosity it approximates (1: the reverse SDE, 0: dpm2m, above 1:
    /// more noise than the reverse SDE) [default: 1].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub eta: Option<f64>,
    /// ode-rk45: relative tolerance of the local error [default: 1e-5]; --steps sets the
    /// first step, (T − t-min)/steps.
    #[cfg_attr(feature = "clap", arg(long))]
    pub rtol: Option<f64>,
    /// ode-rk45: absolute tolerance of the local error [default: 1e-5].
    #[cfg_attr(feature = "clap", arg(long))]
    pub atol: Option<f64>,
    /// edm: exponent ρ of the σ-schedule σ_i = (σ_max^{1/ρ} + i/N (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ
    /// [default: 7].
    #[cfg_attr(feature = "clap", arg(long))]
    pub rho: Option<f64>,
    /// edm: S_churn, the total stochastic churn (0: deterministic) [default: 0].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub churn: Option<f64>,
    /// edm: churn only where σ̃ = σ/α ≥ this (S_tmin) [default: 0].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub churn_sigma_min: Option<f64>,
    /// edm: churn only where σ̃ ≤ this (S_tmax) [default: no limit].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub churn_sigma_max: Option<f64>,
    /// edm: scale of the churn noise (S_noise) [default: 1].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub churn_noise: Option<f64>,
    /// Predictor–corrector: target signal-to-noise ratio of the Langevin steps.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_SNR))]
    pub snr: f64,
    /// Predictor–corrector: Langevin steps per predictor step.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1))]
    pub corrector_steps: usize,
    /// Law of the starting points X_T: nominal (the SDE's prior), moment (the Gaussian with
    /// p_T's mean and covariance, from the training set) or exact (p_T itself, x_T = α y_i + c
    /// + σ z; empirical score only). nominal is far from p_T for heat, ve, cou and cvp.
    #[cfg_attr(feature = "clap", arg(long, default_value = "nominal"))]
    pub prior: String,
    /// Seed of the prior draw and the sampler noise.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// One Tweedie denoising step at t_min (it counts towards `nfe`); a flag of its own where
    /// a command offers it.
    #[cfg_attr(feature = "clap", arg(skip))]
    pub denoise: bool,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        SamplerOptions {
            sampler: "em".into(),
            steps: DEFAULT_STEPS,
            nfe: None,
            t_min: DEFAULT_T_MIN,
            grid: DEFAULT_GRID.into(),
            eps: None,
            eta: None,
            rtol: None,
            atol: None,
            rho: None,
            churn: None,
            churn_sigma_min: None,
            churn_sigma_max: None,
            churn_noise: None,
            snr: DEFAULT_SNR,
            corrector_steps: 1,
            prior: "nominal".into(),
            seed: 0,
            denoise: false,
        }
    }
}

impl SamplerOptions {
    /// The configuration these options describe. Names are checked, options of another
    /// sampler refused, and an evaluation budget turned into steps; the values themselves are
    /// checked against the SDE by [`SamplerConfig::validate`].
    pub fn resolve(&self) -> Result<SamplerConfig> {
        let kind: SamplerKind = self.sampler.parse()?;
        let grid: TauGrid = self.grid.parse()?;
        let mut config = SamplerConfig::new(kind, self.steps, self.t_min);
        config.grid = grid;
        self.set_viscosity(kind, &mut config)?;
        if kind == SamplerKind::OdeRk45 {
            config.rtol = self.rtol.unwrap_or(config.rtol);
            config.atol = self.atol.unwrap_or(config.atol);
        } else if self.rtol.is_some() || self.atol.is_some() {
            return Err(SampleError::Conflict(format!(
                "⟨rtol⟩ and ⟨atol⟩ are the tolerances of the adaptive ⟨sampler⟩ ode-rk45, not of ⟨sampler⟩ {}",
                self.sampler
            )));
        }
        self.set_edm(kind, &mut config)?;
        config.snr = self.snr;
        config.corrector_steps = self.corrector_steps;
        config.seed = self.seed;
        config.denoise = self.denoise;
        if let Some(budget) = self.nfe {
            config.set_evaluation_budget(budget)?;
        }
        Ok(config)
    }

    /// ε for em, pc and ode-*; η (and with it the viscosity η² or η) for exp and dpm2m-sde.
    fn set_viscosity(&self, kind: SamplerKind, config: &mut SamplerConfig) -> Result<()> {
        if kind.takes_eta() {
            if self.eps.is_some() {
                return Err(SampleError::Conflict(format!(
                    "⟨sampler⟩ {} takes ⟨eta⟩ (exp: DDIM's η, each step adds η² of the posterior \
                     variance; dpm2m-sde: the viscosity η), not ⟨eps⟩ (the viscosity of em, pc and \
                     ode-*, which scales the score drift and the noise)",
                    kind.name()
                )));
            }
            config.set_eta(self.eta.unwrap_or(1.0));
        } else if self.eta.is_some() {
            return Err(SampleError::Conflict(format!(
                "⟨eta⟩ is the η of ⟨sampler⟩ exp (DDIM) and dpm2m-sde; ⟨sampler⟩ {} takes ⟨eps⟩ \
                 (the viscosity ε of the reverse dynamics: 0 for the probability-flow ODE, 1 for \
                 the reverse SDE)",
                self.sampler
            )));
        } else {
            config.eps = self.eps.unwrap_or(kind.default_eps());
        }
        Ok(())
    }

    /// The ρ-schedule and churn of edm.
    fn set_edm(&self, kind: SamplerKind, config: &mut SamplerConfig) -> Result<()> {
        let given = [
            self.rho,
            self.churn,
            self.churn_sigma_min,
            self.churn_sigma_max,
            self.churn_noise,
        ];
        if kind == SamplerKind::Edm {
            let edm = &mut config.edm;
            edm.rho = self.rho.unwrap_or(edm.rho);
            edm.churn = self.churn.unwrap_or(edm.churn);
            edm.churn_sigma_min = self.churn_sigma_min.unwrap_or(edm.churn_sigma_min);
            edm.churn_sigma_max = self.churn_sigma_max.or(edm.churn_sigma_max);
            edm.churn_noise = self.churn_noise.unwrap_or(edm.churn_noise);
        } else if given.iter().any(Option::is_some) {
            return Err(SampleError::Conflict(format!(
                "⟨rho⟩ and the ⟨churn⟩ options belong to ⟨sampler⟩ edm, not ⟨sampler⟩ {}",
                self.sampler
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_to_euler_maruyama_on_the_quadratic_grid() {
        let config = SamplerOptions::default().resolve().unwrap();
        assert_eq!(config.kind, SamplerKind::EulerMaruyama);
        assert_eq!(config.grid, TauGrid::Quadratic);
        assert_eq!((config.steps, config.t_min, config.eps), (500, 1e-3, 1.0));
    }

    #[test]
    fn options_of_another_sampler_are_refused() {
        let with = |f: &dyn Fn(&mut SamplerOptions)| {
            let mut options = SamplerOptions::default();
            f(&mut options);
            options.resolve()
        };
        assert!(matches!(
            with(&|o| o.eta = Some(0.5)),
            Err(SampleError::Conflict(_))
        ));
        assert!(matches!(
            with(&|o| o.rho = Some(5.0)),
            Err(SampleError::Conflict(_))
        ));
        assert!(matches!(
            with(&|o| o.rtol = Some(1e-3)),
            Err(SampleError::Conflict(_))
        ));
        let exp = with(&|o| {
            o.sampler = "ddim".into();
            o.eps = Some(0.5);
        });
        assert!(matches!(exp, Err(SampleError::Conflict(_))));
        let unknown = with(&|o| o.sampler = "heun2".into())
            .unwrap_err()
            .to_string();
        assert!(unknown.starts_with("unknown sampler 'heun2' (expected one of: em, pc"));
        let ddim = with(&|o| {
            o.sampler = "ddim".into();
            o.eta = Some(0.0);
            o.nfe = Some(20);
        })
        .unwrap();
        assert_eq!((ddim.eps, ddim.evaluations()), (0.0, Some(20)));
        // dpm2m-sde's η is the viscosity itself, and it too refuses ⟨eps⟩
        let sde_dpm = with(&|o| {
            o.sampler = "dpm2m-sde".into();
            o.eta = Some(4.0);
        })
        .unwrap();
        assert_eq!(
            (sde_dpm.kind, sde_dpm.eps),
            (SamplerKind::DpmSolver2MSde, 4.0)
        );
        let refused = with(&|o| {
            o.sampler = "dpm2m-sde".into();
            o.eps = Some(4.0);
        })
        .unwrap_err()
        .to_string();
        assert!(refused.contains("dpm2m-sde takes ⟨eta⟩"), "{refused}");
    }
}

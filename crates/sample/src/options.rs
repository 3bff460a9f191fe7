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
/// option of another sampler is refused).
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerOptions {
    pub sampler: String,
    pub steps: usize,
    /// Instead of `steps`: the number of score evaluations per sample to spend.
    pub nfe: Option<usize>,
    pub t_min: f64,
    pub grid: String,
    pub eps: Option<f64>,
    pub eta: Option<f64>,
    pub rtol: Option<f64>,
    pub atol: Option<f64>,
    pub rho: Option<f64>,
    pub churn: Option<f64>,
    pub churn_sigma_min: Option<f64>,
    pub churn_sigma_max: Option<f64>,
    pub churn_noise: Option<f64>,
    pub snr: f64,
    pub corrector_steps: usize,
    pub seed: u64,
    /// One Tweedie denoising step at t_min (it counts towards `nfe`).
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

    /// ε for em, pc and ode-*; η (and with it ε = η²) for exp.
    fn set_viscosity(&self, kind: SamplerKind, config: &mut SamplerConfig) -> Result<()> {
        if kind == SamplerKind::Exponential {
            if self.eps.is_some() {
                return Err(SampleError::Conflict(
                    "⟨sampler⟩ exp takes ⟨eta⟩ (DDIM's η: each step adds η² of the posterior variance), \
                     not ⟨eps⟩ (the viscosity of em, pc and ode-*, which scales the score drift and the noise)"
                        .into(),
                ));
            }
            config.set_eta(self.eta.unwrap_or(1.0));
        } else if self.eta.is_some() {
            return Err(SampleError::Conflict(format!(
                "⟨eta⟩ is DDIM's η of ⟨sampler⟩ exp; ⟨sampler⟩ {} takes ⟨eps⟩ (the viscosity ε of the \
                 reverse dynamics: 0 for the probability-flow ODE, 1 for the reverse SDE)",
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
    }
}

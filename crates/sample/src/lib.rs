//! scorelab-sample: reverse-time SDE and ODE integrators over any `ScoreFn`.
//!
//! Map of the modules (DESIGN §3):
//! - [`sampler`]: the reverse dynamics dY = [−f + ((1 + ε)/2) g² s] ds + √ε g dW̄ with
//!   Euler–Maruyama, predictor–corrector with Langevin steps at a target SNR (Song et al.
//!   2021), ODE Euler/Heun/RK4, the exponential integrator (Cao et al. (4.21)–(4.24), the DDIM
//!   family with η) and Tweedie's denoising step; `SamplerConfig`, evaluation counts and
//!   budgets, the divergence watch;
//! - [`denoiser`]: samplers in the variance-exploding coordinates x̃ = (x − c)/α, σ̃ = σ/α:
//!   EDM's Heun sampler on the ρ-schedule with churn (Karras et al. 2022, Alg. 2) and
//!   DPM-Solver++(2M) (Lu et al. 2022, Alg. 2);
//! - `em_step`: one Euler–Maruyama step as one host pass on the CPU;
//! - [`adaptive`]: the Dormand–Prince 5(4) pair with error control (ode-rk45, and the
//!   likelihood's ODE in scorelab-analysis);
//! - [`grid`]: τ grids (uniform, quadratic, log); [`prior`]: the law of X_T (nominal,
//!   moment-matched, exact p_T of the empirical score);
//! - [`options`]: sampler options by name, resolved into a checked `SamplerConfig` (the CLI
//!   and the Python module share it);
//! - [`error`]: the typed errors, `SampleError`.

pub mod adaptive;
pub mod denoiser;
mod em_step;
pub mod error;
pub mod grid;
pub mod options;
pub mod prior;
pub mod sampler;

pub use adaptive::{dormand_prince, AdaptiveRun};
pub use error::{Result, SampleError};
pub use grid::{TauGrid, GRID_NAMES};
pub use options::SamplerOptions;
pub use prior::{Prior, PriorKind, PRIOR_NAMES};
pub use sampler::{
    nonfinite_rows, prior_sample, sample, sample_from, sample_with_prior, tweedie, without_rows,
    EdmConfig, PathSnapshot, SampleOutput, SamplerConfig, SamplerKind, SAMPLER_NAMES,
};

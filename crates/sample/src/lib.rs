//! scorelab-sample: reverse-time SDE and ODE integrators over any `ScoreFn`.

pub mod adaptive;
pub mod denoiser;
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
    nonfinite_rows, prior_sample, sample, sample_from, sample_with_prior, tweedie, EdmConfig,
    PathSnapshot, SampleOutput, SamplerConfig, SamplerKind, SAMPLER_NAMES,
};

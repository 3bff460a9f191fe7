//! scorelab-sample: reverse-time SDE and ODE integrators over any `ScoreFn`.

pub mod error;
pub mod grid;
pub mod sampler;

pub use error::{Result, SampleError};
pub use grid::{TauGrid, GRID_NAMES};
pub use sampler::{
    nonfinite_rows, prior_sample, sample, sample_from, tweedie, PathSnapshot, SampleOutput,
    SamplerConfig, SamplerKind, SAMPLER_NAMES,
};

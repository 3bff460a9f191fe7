//! Typed errors of the analysis library.

use scorelab_core::CoreError;
use scorelab_sample::SampleError;

/// Why an analysis could not run.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter { name: String, reason: String },
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A picture could not be drawn or encoded.
    #[error("cannot draw {what}: {reason}")]
    Plot { what: String, reason: String },
    /// Measuring a model during its training failed.
    #[error("evaluation at step {step} failed: {reason}")]
    Evaluation { step: u64, reason: String },
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Sample(#[from] SampleError),
}

impl AnalysisError {
    /// Shorthand for [`AnalysisError::InvalidParameter`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        AnalysisError::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// Result type of the analysis crate.
pub type Result<T> = std::result::Result<T, AnalysisError>;

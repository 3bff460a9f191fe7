//! Typed errors of the samplers.

use scorelab_core::CoreError;

/// Why a sampler run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter { name: String, reason: String },
    /// `tau`: the time reached (τ for samplers, t for the likelihood's forward flow).
    #[error("the adaptive solver stalled at time {tau:.3e}: {reason}")]
    Stalled { tau: f64, reason: String },
    /// Options that do not go together (an option of another sampler, say).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl SampleError {
    /// Shorthand for [`SampleError::InvalidParameter`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        SampleError::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// Result type of the sampling crate.
pub type Result<T> = std::result::Result<T, SampleError>;

//! Typed errors of the training library.

use std::path::PathBuf;

use scorelab_core::CoreError;

/// Every way training, loading or saving a score network can fail.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Bad parameters, names, shapes or data files (see [`CoreError`]).
    #[error(transparent)]
    Core(#[from] CoreError),

    /// A checkpoint file is missing, unreadable, truncated or does not match the model.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint { path: PathBuf, reason: String },

    /// Measuring the model during training failed.
    #[error("evaluation at step {step} failed: {reason}")]
    Evaluation { step: u64, reason: String },

    /// The loss or the gradient became NaN or infinite.
    #[error("training stopped at step {step}: {what} is not finite ({value}); the last good checkpoint is kept")]
    NonFinite { step: u64, what: String, value: f64 },
}

impl TrainError {
    /// Shorthand for [`TrainError::Checkpoint`].
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        TrainError::Checkpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for an invalid parameter.
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        TrainError::Core(CoreError::invalid(name, reason))
    }
}

pub type Result<T> = std::result::Result<T, TrainError>;

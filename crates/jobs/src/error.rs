//! Typed errors of the jobs: the libraries' own, and options that do not go together.

use scorelab_analysis::AnalysisError;
use scorelab_core::CoreError;
use scorelab_sample::SampleError;
use scorelab_train::TrainError;

/// Why a job could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Options that are missing, malformed or do not go together (the front end's usage
    /// error); the text names the option as the command line spells it.
    #[error("{0}")]
    Options(String),
    /// The job ran and failed for a reason of its own (no finite sample left, say).
    #[error("{0}")]
    Failed(String),
    /// The job stopped on request after saving its work.
    #[error("{0}")]
    Interrupted(String),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
}

impl JobError {
    /// Shorthand for [`JobError::Options`].
    pub fn options(message: impl Into<String>) -> Self {
        JobError::Options(message.into())
    }

    /// Shorthand for [`JobError::Failed`].
    pub fn failed(message: impl Into<String>) -> Self {
        JobError::Failed(message.into())
    }
}

/// Result type of the jobs crate.
pub type Result<T> = std::result::Result<T, JobError>;

//! Turning library errors into one-line messages and exit codes (2: usage, 1: runtime).

use std::fmt;

use scorelab_analysis::AnalysisError;
use scorelab_core::CoreError;
use scorelab_jobs::JobError;
use scorelab_sample::SampleError;
use scorelab_train::TrainError;

/// An error as the user sees it.
#[derive(Debug)]
pub enum Failure {
    /// A wrong flag value or name: exit code 2.
    Usage(String),
    /// Anything that went wrong while running: exit code 1.
    Runtime(String),
    /// Stopped by Ctrl-C or SIGTERM after saving its work: exit code 130.
    Interrupted(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runtime(_) => 1,
            Failure::Interrupted(_) => 130,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Failure::Runtime(message.into())
    }

    pub fn interrupted(message: impl Into<String>) -> Self {
        Failure::Interrupted(message.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) | Failure::Interrupted(m) => f.write_str(m),
        }
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidParameter { .. }
            | CoreError::UnknownName { .. }
            | CoreError::OutputRefused(_) => Failure::Usage(e.to_string()),
            CoreError::OutputOccupied(_) => {
                Failure::Usage(format!("{e}; pass --force to overwrite its files"))
            }
            _ => Failure::Runtime(e.to_string()),
        }
    }
}

impl From<SampleError> for Failure {
    fn from(e: SampleError) -> Self {
        match e {
            SampleError::InvalidParameter { .. } | SampleError::Conflict(_) => {
                Failure::Usage(e.to_string())
            }
            SampleError::Stalled { .. } => Failure::Runtime(e.to_string()),
            SampleError::Core(core) => core.into(),
        }
    }
}

impl From<TrainError> for Failure {
    fn from(e: TrainError) -> Self {
        match e {
            TrainError::Core(core) => core.into(),
            other => Failure::Runtime(other.to_string()),
        }
    }
}

impl From<AnalysisError> for Failure {
    fn from(e: AnalysisError) -> Self {
        match e {
            AnalysisError::InvalidParameter { .. } => Failure::Usage(e.to_string()),
            AnalysisError::Core(core) => core.into(),
            AnalysisError::Sample(sample) => sample.into(),
            other => Failure::Runtime(other.to_string()),
        }
    }
}

impl From<JobError> for Failure {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Options(m) => Failure::Usage(m),
            JobError::Failed(m) => Failure::Runtime(m),
            JobError::Interrupted(m) => Failure::Interrupted(m),
            JobError::Core(core) => core.into(),
            JobError::Sample(sample) => sample.into(),
            JobError::Train(train) => train.into(),
            JobError::Analysis(analysis) => analysis.into(),
        }
    }
}

/// Result type of the CLI.
pub type CliResult<T> = Result<T, Failure>;

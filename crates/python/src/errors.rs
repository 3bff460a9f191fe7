//! Library errors as Python exceptions, with the CLI's messages and options spelled as this
//! module's keyword arguments (`rtol`, not `--rtol`): a bad argument is a `ValueError`, a
//! missing or corrupt file an `OSError`, anything that fails while running a `RuntimeError`.

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

use scorelab_analysis::AnalysisError;
use scorelab_core::options::{as_keyword, spell_options};
use scorelab_core::CoreError;
use scorelab_sample::SampleError;
use scorelab_train::TrainError;

/// Converts a library result into a Python one.
pub trait IntoPy<T> {
    fn py(self) -> Result<T, PyErr>;
}

impl<T, E: Into<Exception>> IntoPy<T> for Result<T, E> {
    fn py(self) -> Result<T, PyErr> {
        self.map_err(|e| e.into().0)
    }
}

/// A Python exception made from a library error.
pub struct Exception(pub PyErr);

/// A library message with its options (`⟨name⟩`) spelled as this module's keywords.
fn message(e: &impl std::fmt::Display) -> String {
    spell_options(&e.to_string(), as_keyword)
}

impl From<CoreError> for Exception {
    fn from(e: CoreError) -> Self {
        let message = message(&e);
        Exception(match e {
            CoreError::Io { .. } | CoreError::BadFile { .. } => PyOSError::new_err(message),
            CoreError::Device(_) => PyRuntimeError::new_err(message),
            _ => PyValueError::new_err(message),
        })
    }
}

impl From<SampleError> for Exception {
    fn from(e: SampleError) -> Self {
        match e {
            SampleError::Core(core) => core.into(),
            SampleError::Stalled { .. } => Exception(PyRuntimeError::new_err(message(&e))),
            _ => Exception(PyValueError::new_err(message(&e))),
        }
    }
}

impl From<AnalysisError> for Exception {
    fn from(e: AnalysisError) -> Self {
        match e {
            AnalysisError::Core(core) => core.into(),
            AnalysisError::Sample(sample) => sample.into(),
            AnalysisError::Plot { .. } => Exception(PyRuntimeError::new_err(message(&e))),
            _ => Exception(PyValueError::new_err(message(&e))),
        }
    }
}

impl From<TrainError> for Exception {
    fn from(e: TrainError) -> Self {
        match e {
            TrainError::Core(core) => core.into(),
            TrainError::Checkpoint { .. } => Exception(PyOSError::new_err(message(&e))),
            _ => Exception(PyRuntimeError::new_err(message(&e))),
        }
    }
}

/// A `ValueError` with `message`.
pub fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

//! Typed errors of the core library.

use std::path::PathBuf;

/// Every way a core operation can fail; the CLI turns these into one-line messages.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A parameter has a value outside its domain (e.g. `sigma_min >= sigma_max`).
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter { name: String, reason: String },

    /// A name (dataset, SDE, device ...) that is not known.
    #[error("unknown {kind} '{name}' (expected one of: {expected})")]
    UnknownName {
        kind: &'static str,
        name: String,
        expected: String,
    },

    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A data file exists but its content is wrong (bad magic, checksum, size, row ...).
    #[error("{}: {reason}", path.display())]
    BadFile { path: PathBuf, reason: String },

    /// Two tensors or a tensor and a model disagree in shape.
    #[error("shape mismatch: {0}")]
    Shape(String),

    /// A backend could not be created or used.
    #[error("device error: {0}")]
    Device(String),

    /// An output folder that exists and is not empty, which only a forced write may reuse.
    #[error("output folder {} exists", .0.display())]
    OutputOccupied(PathBuf),

    /// An output path that cannot receive outputs (a file where a folder should be, a table
    /// with other columns).
    #[error("{0}")]
    OutputRefused(String),

    /// Writing (or reading back) an output failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Write {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CoreError {
    /// Shorthand for [`CoreError::InvalidParameter`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        CoreError::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`CoreError::BadFile`].
    pub fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        CoreError::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`CoreError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result type of the core library.
pub type Result<T> = std::result::Result<T, CoreError>;

/// Rejects a non-finite or non-positive value.
pub fn require_positive(name: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(CoreError::invalid(
            name,
            format!("must be a finite number > 0, got {value}"),
        ))
    }
}

/// Rejects a non-finite or negative value.
pub fn require_non_negative(name: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(CoreError::invalid(
            name,
            format!("must be a finite number >= 0, got {value}"),
        ))
    }
}

/// Rejects a non-finite value.
pub fn require_finite(name: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(CoreError::invalid(
            name,
            format!("must be finite, got {value}"),
        ))
    }
}

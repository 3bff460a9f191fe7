//! scorelab-analysis: how close generated samples sit to the training set (DESIGN §6), along
//! reverse paths and at their ends, sample quality against fresh data, and the pictures.

pub mod agreement;
pub mod cells;
pub mod compare;
pub mod error;
pub mod fisher;
pub mod frechet;
pub mod likelihood;
pub mod memorization;
pub mod paths;
pub mod plot;
pub mod quality;
pub mod rate;
pub mod stats;
pub mod tmin;

pub use error::{AnalysisError, Result};
pub use frechet::{class_histogram, frechet_distance};

/// The chunked nearest-neighbour engine (d1, d2 and their indices) lives in the core crate,
/// where the samplers' summaries use it too.
pub use scorelab_core::nearest;

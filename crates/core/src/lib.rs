//! scorelab-core: forward SDEs, datasets, the `ScoreFn` abstraction, the empirical score and
//! the exact scores of analytic distributions.

pub mod datasets;
pub mod device;
pub mod empirical;
pub mod error;
pub mod gmm;
pub mod nearest;
pub mod score;
pub mod sde;

pub use datasets::{Dataset, DatasetSpec};
pub use device::{open_device, wgpu_adapter, AdapterDescription, BackendKind};
pub use empirical::EmpiricalScore;
pub use error::{CoreError, Result};
pub use gmm::{Gmm, GmmScore};
pub use score::{PerturbedScore, ScoreFn, Times};
pub use sde::{MarkovKernel, Sde, SdeParams};

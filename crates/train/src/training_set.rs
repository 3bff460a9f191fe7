//! Which training set a checkpoint belongs to: the dataset spec in its `meta.json`, with a
//! relative path resolved against the working folder first and the source tree second, so a
//! checkpoint shipped with the sources finds its data wherever it is used from.

use std::path::{Path, PathBuf};

use scorelab_core::{Dataset, DatasetSpec};

use crate::checkpoint::Meta;
use crate::error::Result;

/// The root of the source tree (where `datasets/` and `checkpoints/` are shipped).
fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A relative path as given when it exists here, else the copy shipped with the sources (the
/// MNIST files, the reference classifier).
pub fn shipped_path(dir: &Path) -> PathBuf {
    if dir.exists() || dir.is_absolute() {
        dir.to_path_buf()
    } else {
        let shipped = source_root().join(dir);
        if shipped.exists() {
            shipped
        } else {
            dir.to_path_buf()
        }
    }
}

/// A dataset spec read from a checkpoint, with a relative MNIST folder resolved by
/// [`shipped_path`] (so that a run started in the repository can be sampled from elsewhere).
pub fn locate(spec: &DatasetSpec) -> DatasetSpec {
    match spec {
        DatasetSpec::Mnist {
            dir,
            split,
            n,
            part,
        } => DatasetSpec::Mnist {
            dir: shipped_path(dir),
            split: *split,
            n: *n,
            part: *part,
        },
        other => other.clone(),
    }
}

/// The training set a checkpoint was trained on (in data space), with its located spec.
pub fn checkpoint_training_set(meta: &Meta) -> Result<(DatasetSpec, Dataset)> {
    let spec = locate(&meta.data.spec);
    let data = spec.load(meta.data.seed)?;
    Ok((spec, data))
}

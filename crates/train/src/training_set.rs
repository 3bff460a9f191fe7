//! Which training set a checkpoint belongs to: the dataset spec in its `meta.json`, with a
//! relative path resolved against the working folder first and the source tree second, so a
//! checkpoint shipped with the sources finds its data wherever it is used from.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use scorelab_core::{CoreError, Dataset, DatasetSpec};

use crate::checkpoint::{read_meta, resolve, Meta};
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

/// A training set found for a samples file, with where it was found.
pub struct FoundTrainingSet {
    pub data: Dataset,
    pub spec: DatasetSpec,
    pub seed: u64,
    /// "checkpoint DIR", "checkpoint DIR (from SUMMARY)" or the summary's path.
    pub origin: String,
}

/// The part of `scorelab sample`'s summary.json that names the training set.
#[derive(Deserialize)]
struct SampleSummary {
    checkpoint: Option<PathBuf>,
    dataset: SummaryDataset,
}

#[derive(Deserialize)]
struct SummaryDataset {
    spec: DatasetSpec,
    seed: u64,
}

/// The training set of a checkpoint folder (a run folder means its newest checkpoint).
pub fn training_set_of_checkpoint(dir: &Path) -> Result<FoundTrainingSet> {
    let meta = read_meta(&resolve(dir)?)?;
    let (spec, data) = checkpoint_training_set(&meta)?;
    Ok(FoundTrainingSet {
        data,
        spec,
        seed: meta.data.seed,
        origin: format!("checkpoint {}", dir.display()),
    })
}

/// The training set that `scorelab sample` recorded in the `summary.json` beside a samples
/// file: its checkpoint's, or the dataset spec and seed it names. None where the samples have
/// no summary beside them.
pub fn training_set_of_samples(samples: &Path) -> Result<Option<FoundTrainingSet>> {
    let Some(path) = samples
        .parent()
        .map(|p| p.join("summary.json"))
        .filter(|p| p.exists())
    else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| CoreError::io(&path, e))?;
    let parsed: SampleSummary = serde_json::from_str(&text).map_err(|e| {
        CoreError::bad_file(
            &path,
            format!("not a summary of `scorelab sample` ({e}); pass ⟨ignore-summary⟩ to use the data flags"),
        )
    })?;
    if let Some(dir) = parsed.checkpoint {
        let mut found = training_set_of_checkpoint(&dir)?;
        found.origin = format!("{} (from {})", found.origin, path.display());
        return Ok(Some(found));
    }
    let spec = locate(&parsed.dataset.spec);
    let data = spec.load(parsed.dataset.seed)?;
    Ok(Some(FoundTrainingSet {
        data,
        spec,
        seed: parsed.dataset.seed,
        origin: path.display().to_string(),
    }))
}

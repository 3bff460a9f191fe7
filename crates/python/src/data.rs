//! `scorelab.dataset`: the CLI's datasets, drawn from the same seeds.

use std::path::PathBuf;

use numpy::PyArrayDyn;
use pyo3::prelude::*;

use scorelab_core::datasets::{MnistSplit, DATASET_NAMES};
use scorelab_core::{DatasetSpec, Gmm};
use scorelab_train::training_set::shipped_path;

use crate::arrays::batch;
use crate::errors::{value_error, IntoPy};

/// A training set as `scorelab --dataset NAME` builds it from `seed`: swissroll, lemniscate
/// and gmm draw `n` points (default 100) with `noise`; circle has `n` points (default 9); mnist
/// reads `split` from `mnist_dir` (the shipped copy by default), all of it or a seeded subset
/// of `n`; csv reads `path` (.csv or .npy). Float32 (n, d), or (n, 1, 28, 28) for MNIST.
#[pyfunction]
#[pyo3(signature = (name, *, n = None, noise = 0.0, seed = 0, split = "train",
    mnist_dir = None, path = None))]
#[allow(clippy::too_many_arguments)]
pub fn dataset<'py>(
    py: Python<'py>,
    name: &str,
    n: Option<usize>,
    noise: f64,
    seed: u64,
    split: &str,
    mnist_dir: Option<PathBuf>,
    path: Option<PathBuf>,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let drawn = n.unwrap_or(100);
    let spec = match name {
        "swissroll" => DatasetSpec::Swissroll { n: drawn, noise },
        "lemniscate" => DatasetSpec::Lemniscate { n: drawn, noise },
        "gmm" => DatasetSpec::Gmm {
            n: drawn,
            gmm: Gmm::default_ring(),
        },
        "circle" => DatasetSpec::Circle { k: n.unwrap_or(9) },
        "mnist" => DatasetSpec::Mnist {
            dir: shipped_path(&mnist_dir.unwrap_or_else(|| PathBuf::from("datasets/mnist"))),
            split: MnistSplit::parse(split).py()?,
            n,
            part: None,
        },
        "csv" => DatasetSpec::Csv {
            path: path
                .ok_or_else(|| value_error("dataset \"csv\" needs path=, a .csv or .npy file"))?,
        },
        other => {
            return Err(value_error(format!(
                "unknown dataset '{other}' (expected one of: {})",
                DATASET_NAMES.join(", ")
            )))
        }
    };
    let data = spec.load(seed).py()?;
    let row_shape = data
        .image_shape
        .map(|s| s.to_vec())
        .unwrap_or(vec![data.dim]);
    Ok(batch(py, data.points.into_vec(), data.n, &row_shape))
}

//! `scorelab.Checkpoint`: a network trained by `scorelab train`, loaded from its folder.

use std::cell::OnceCell;
use std::path::PathBuf;

use numpy::PyArray2;
use pyo3::prelude::*;

use scorelab_core::{open_device, BackendKind, Dataset, ScoreFn};
use scorelab_train::checkpoint::{resolve_checkpoint, EMA_FILE, WEIGHTS_FILE};
use scorelab_train::training_set::checkpoint_training_set;
use scorelab_train::{load_score_weights, Meta, Normalisation};

use crate::arrays::{matrix, rows, tensor_matrix, times};
use crate::errors::{value_error, IntoPy};
use crate::sde::PySde;

/// A trained score network. `path` is a checkpoint folder or a run folder (its newest valid
/// checkpoint, or the one at `step`); `weights` is "ema" (the moving average) or "raw".
/// The network works in model coordinates: images are mapped from [0, 1] to [−1, 1]
/// (`to_model`, `to_data`); `sample` returns data coordinates.
#[pyclass(name = "Checkpoint", module = "scorelab", unsendable)]
pub struct PyCheckpoint {
    dir: PathBuf,
    meta: Meta,
    score: Box<dyn ScoreFn>,
    training: OnceCell<Dataset>,
}

impl PyCheckpoint {
    pub fn score_fn(&self) -> &dyn ScoreFn {
        self.score.as_ref()
    }

    pub fn normalisation(&self) -> Normalisation {
        self.meta.data.normalisation
    }

    /// The training set in data space, rebuilt from the spec in meta.json on first use.
    pub fn dataset(&self) -> PyResult<&Dataset> {
        if self.training.get().is_none() {
            let (_, data) = checkpoint_training_set(&self.meta).py()?;
            let _ = self.training.set(data);
        }
        Ok(self.training.get().expect("set above"))
    }
}

#[pymethods]
impl PyCheckpoint {
    #[new]
    #[pyo3(signature = (path, *, weights = "ema", step = None))]
    fn new(path: PathBuf, weights: &str, step: Option<u64>) -> PyResult<Self> {
        let file = match weights {
            "ema" => EMA_FILE,
            "raw" => WEIGHTS_FILE,
            other => {
                return Err(value_error(format!(
                    "unknown weights '{other}' (expected one of: ema, raw)"
                )))
            }
        };
        let dir = resolve_checkpoint(&path, step).py()?.dir;
        let device = open_device(BackendKind::Flex).py()?;
        let (score, meta) = load_score_weights(&dir, file, &device).py()?;
        Ok(PyCheckpoint {
            dir,
            meta,
            score,
            training: OnceCell::new(),
        })
    }

    /// The score s(x, t) of a batch x (n, d) in model coordinates; `t` a number or one time
    /// per row.
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        t: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let x = rows(x, "x")?;
        let t = times(t, x.rows)?;
        let device = open_device(BackendKind::Flex).py()?;
        let tensor = x.tensor(&device);
        self.score.check_input(&tensor).py()?;
        Ok(tensor_matrix(py, self.score.score(tensor, &t)))
    }

    /// Data coordinates → model coordinates, (x − shift)/scale.
    fn to_model<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let x = rows(x, "x")?;
        Ok(matrix(
            py,
            self.normalisation().to_model(&x.values),
            x.rows,
            x.cols,
        ))
    }

    /// Model coordinates → data coordinates, y·scale + shift.
    fn to_data<'py>(
        &self,
        py: Python<'py>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let y = rows(y, "y")?;
        Ok(matrix(
            py,
            self.normalisation().to_data(&y.values),
            y.rows,
            y.cols,
        ))
    }

    /// The training set the checkpoint was trained on, in data coordinates, (n, d).
    fn training_set<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let data = self.dataset()?;
        Ok(matrix(py, data.points.to_vec(), data.n, data.dim))
    }

    /// The SDE the network was trained for.
    #[getter]
    fn sde(&self) -> PySde {
        PySde {
            sde: self.meta.sde.clone(),
        }
    }

    /// The data dimension d.
    #[getter]
    fn dim(&self) -> usize {
        self.score.dim()
    }

    /// Training steps taken.
    #[getter]
    fn step(&self) -> u64 {
        self.meta.step
    }

    /// The checkpoint folder that was loaded.
    #[getter]
    fn path(&self) -> PathBuf {
        self.dir.clone()
    }

    /// (shift, scale) of the data → model map.
    #[getter]
    fn normalisation_parameters(&self) -> (f64, f64) {
        let n = self.normalisation();
        (n.shift, n.scale)
    }

    /// (C, H, W) for image data, None for points.
    #[getter]
    fn image_shape(&self) -> Option<(usize, usize, usize)> {
        self.meta.data.image_shape.map(|[c, h, w]| (c, h, w))
    }

    /// meta.json as a dict.
    #[getter]
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize::pythonize(py, &self.meta)?)
    }

    fn __repr__(&self) -> String {
        format!(
            "Checkpoint('{}', {} SDE, dimension {}, step {})",
            self.dir.display(),
            self.meta.sde.name(),
            self.score.dim(),
            self.meta.step
        )
    }
}

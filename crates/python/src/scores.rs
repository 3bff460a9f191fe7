//! The scores a Python caller can pass, resolved to a [`ScoreFn`] with its SDE, training set
//! and coordinates: `"empirical"` (with `train=`), a [`PyGaussianMixture`] (its exact score), a
//! [`PyCheckpoint`], or any callable `f(x, t) -> array` (a wrapped PyTorch model, say), called
//! once per sampler step on the whole batch.

use burn::tensor::{Device, Tensor};
use numpy::PyArray2;
use pyo3::prelude::*;

use scorelab_core::device::to_vec;
use scorelab_core::{DatasetSpec, EmpiricalScore, Gmm, GmmScore, ScoreFn, Sde, Times};
use scorelab_train::Normalisation;

use crate::arrays::{matrix, rows, shape_text, vector, Rows};
use crate::checkpoint::PyCheckpoint;
use crate::errors::{value_error, IntoPy};
use crate::interrupt::{stop, FailureSlot};
use crate::sde::PySde;

/// A Gaussian mixture Σ_k w_k N(μ_k, diag v_k): its exact score under any SDE, and draws.
#[pyclass(name = "GaussianMixture", module = "scorelab", frozen)]
pub struct PyGaussianMixture {
    pub gmm: Gmm,
}

#[pymethods]
impl PyGaussianMixture {
    /// `weights` (K, summing to 1), `means` (K × d) and diagonal `variances` (K × d).
    #[new]
    fn new(weights: Vec<f64>, means: Vec<Vec<f64>>, variances: Vec<Vec<f64>>) -> PyResult<Self> {
        Ok(PyGaussianMixture {
            gmm: Gmm::new(weights, means, variances).py()?,
        })
    }

    /// The data dimension d.
    #[getter]
    fn dim(&self) -> usize {
        self.gmm.dim()
    }

    /// `n` draws (float32, shape (n, d)), seeded as the CLI's `--dataset gmm` draws.
    #[pyo3(signature = (n, *, seed = 0))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let spec = DatasetSpec::Gmm {
            n,
            gmm: self.gmm.clone(),
        };
        let data = spec.load(seed).py()?;
        Ok(matrix(py, data.points.into_vec(), data.n, data.dim))
    }

    /// The exact score ∇ log p_t(x) of the mixture pushed through `sde` (default vp).
    #[pyo3(signature = (x, t, sde = None))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        t: &Bound<'py, PyAny>,
        sde: Option<PyRef<'py, PySde>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let device = Device::flex();
        let sde = sde_or_default(sde.as_deref())?;
        let score = GmmScore::new(self.gmm.clone(), sde, &device);
        let x = rows(x, "x")?;
        let t = crate::arrays::times(t, x.rows)?;
        let tensor = x.tensor(&device);
        score.check_input(&tensor).py()?;
        Ok(crate::arrays::tensor_matrix(py, score.score(tensor, &t)))
    }

    fn __repr__(&self) -> String {
        format!(
            "GaussianMixture({} components in dimension {})",
            self.gmm.components(),
            self.gmm.dim()
        )
    }
}

/// The given SDE, or vp with its defaults (the CLI's default).
pub fn sde_or_default(sde: Option<&PySde>) -> PyResult<Sde> {
    match sde {
        Some(s) => Ok(s.sde.clone()),
        None => Sde::vp(0.1, 20.0, 1.0).py(),
    }
}

/// A Python callable f(x, t) -> array as a score; x is float32 (B, d), t float64 (B,).
pub struct CallableScore {
    function: Py<PyAny>,
    dim: usize,
    sde: Sde,
    failure: FailureSlot,
}

impl CallableScore {
    fn call(&self, py: Python<'_>, x: Tensor<2>, t: &Times) -> PyResult<Tensor<2>> {
        let [batch, d] = x.dims();
        let device = x.device();
        let points = matrix(py, to_vec(x), batch, d);
        let times = vector(py, t.per_row(batch));
        let out = self.function.bind(py).call1((points, times))?;
        let result = rows(&out, "the score callable's result")?;
        if result.rows != batch || result.cols != d {
            let mut shape = vec![result.rows];
            shape.extend(&result.row_shape);
            return Err(value_error(format!(
                "the score callable returned shape {} for x of shape ({batch}, {d})",
                shape_text(&shape)
            )));
        }
        Ok(result.tensor(&device))
    }
}

impl ScoreFn for CallableScore {
    fn dim(&self) -> usize {
        self.dim
    }

    fn sde(&self) -> &Sde {
        &self.sde
    }

    fn score(&self, x: Tensor<2>, t: &Times) -> Tensor<2> {
        match Python::attach(|py| self.call(py, x, t)) {
            Ok(s) => s,
            Err(error) => {
                self.failure.set(error);
                stop()
            }
        }
    }

    fn score_and_divergence(&self, _: Tensor<2>, _: &Times) -> (Tensor<2>, Tensor<1>) {
        self.failure.set(value_error(
            "a callable score has no divergence: pass divergence=False",
        ));
        stop()
    }
}

/// The score an argument names, where it lives and what it was trained on.
pub struct ResolvedScore<'py> {
    held: Held<'py>,
    /// Model space → data space (identity except for checkpoints of images).
    pub normalisation: Normalisation,
    /// The data's value range (images: [0, 1]) when it has one.
    pub value_range: Option<(f32, f32)>,
    /// The shape of one sample in data space.
    pub row_shape: Vec<usize>,
    /// The training set in model space, when the caller gave one (a checkpoint's is built on
    /// demand by [`ResolvedScore::training`]).
    training: Option<Tensor<2>>,
    /// Whether the score is the empirical score of `training`.
    pub is_empirical: bool,
    /// Whether the score has a divergence (a callable has none).
    pub has_divergence: bool,
    device: Device,
}

enum Held<'py> {
    Checkpoint(PyRef<'py, PyCheckpoint>),
    Owned(Box<dyn ScoreFn>),
}

impl ResolvedScore<'_> {
    pub fn score(&self) -> &dyn ScoreFn {
        match &self.held {
            Held::Checkpoint(c) => c.score_fn(),
            Held::Owned(s) => s.as_ref(),
        }
    }

    pub fn sde(&self) -> &Sde {
        self.score().sde()
    }

    /// The training set in model space, or an error naming `purpose`.
    pub fn training(&self, purpose: &str) -> PyResult<Tensor<2>> {
        match (&self.training, &self.held) {
            (Some(training), _) => Ok(training.clone()),
            (None, Held::Checkpoint(checkpoint)) => {
                let data = checkpoint.dataset()?;
                Ok(self.normalisation.to_model_tensor(data, &self.device))
            }
            (None, Held::Owned(_)) => Err(value_error(format!(
                "{purpose} needs the training set: pass train="
            ))),
        }
    }
}

/// What the caller gave beside the score itself.
pub struct ScoreContext<'a> {
    pub sde: Option<&'a PySde>,
    pub train: Option<&'a Rows>,
    pub dim: Option<usize>,
    pub chunks: (usize, usize),
    pub device: &'a Device,
    pub failure: &'a FailureSlot,
}

/// Resolves the `score` argument (see the module documentation).
pub fn resolve<'py>(
    score: &Bound<'py, PyAny>,
    context: &ScoreContext<'_>,
) -> PyResult<ResolvedScore<'py>> {
    let training = context.train.map(|t| t.tensor(context.device));
    let row_shape = |d: usize| {
        context
            .train
            .map(|t| t.row_shape.clone())
            .unwrap_or(vec![d])
    };
    let owned = |held: Box<dyn ScoreFn>, is_empirical| {
        let d = held.dim();
        if let Some(train) = context.train {
            if train.cols != d {
                return Err(value_error(format!(
                    "the score has dimension {d} but the training set has dimension {}",
                    train.cols
                )));
            }
        }
        Ok(ResolvedScore {
            held: Held::Owned(held),
            normalisation: Normalisation::IDENTITY,
            value_range: None,
            row_shape: row_shape(d),
            training: training.clone(),
            is_empirical,
            has_divergence: true,
            device: context.device.clone(),
        })
    };
    if let Ok(checkpoint) = score.extract::<PyRef<'py, PyCheckpoint>>() {
        if let Some(sde) = context.sde {
            if &sde.sde != checkpoint.score_fn().sde() {
                return Err(value_error(
                    "the checkpoint fixes its SDE: leave out sde= (or pass checkpoint.sde)",
                ));
            }
        }
        if context.train.is_some() {
            return Err(value_error(
                "the checkpoint fixes its training set: leave out train=",
            ));
        }
        let data = checkpoint.dataset()?;
        let (value_range, image_shape, dim) = (data.value_range(), data.image_shape, data.dim);
        return Ok(ResolvedScore {
            normalisation: checkpoint.normalisation(),
            value_range,
            row_shape: image_shape.map(|s| s.to_vec()).unwrap_or(vec![dim]),
            training: None,
            is_empirical: false,
            has_divergence: true,
            device: context.device.clone(),
            held: Held::Checkpoint(checkpoint),
        });
    }
    let sde = sde_or_default(context.sde)?;
    if let Ok(mixture) = score.cast::<PyGaussianMixture>() {
        let gmm = mixture.get().gmm.clone();
        return owned(Box::new(GmmScore::new(gmm, sde, context.device)), false);
    }
    if let Ok(name) = score.extract::<String>() {
        if name != "empirical" {
            return Err(value_error(format!(
                "unknown score '{name}' (expected \"empirical\", a Checkpoint, a GaussianMixture or a callable f(x, t))"
            )));
        }
        let data = training.clone().ok_or_else(|| {
            value_error("score=\"empirical\" needs train=, the training set (n, d)")
        })?;
        let (query, data_chunk) = context.chunks;
        let empirical = EmpiricalScore::with_chunks(data, sde, query, data_chunk).py()?;
        return owned(Box::new(empirical), true);
    }
    if score.is_callable() {
        let dim = context
            .dim
            .or(context.train.map(|t| t.cols))
            .ok_or_else(|| {
                value_error("a callable score needs dim= (or train=) for the data dimension")
            })?;
        if dim == 0 {
            return Err(value_error("dim must be >= 1"));
        }
        let callable = CallableScore {
            function: score.clone().unbind(),
            dim,
            sde,
            failure: context.failure.clone(),
        };
        let mut resolved = owned(Box::new(callable), false)?;
        resolved.has_divergence = false;
        return Ok(resolved);
    }
    Err(value_error(format!(
        "score must be \"empirical\", a Checkpoint, a GaussianMixture or a callable f(x, t), got {}",
        score.get_type().name()?
    )))
}

//! `scorelab.sample`: the reverse-time samplers of `scorelab sample`, from the same options
//! and seeds, with the same samples.

use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use scorelab_core::datasets::clip_to_range;
use scorelab_core::device::to_vec;
use scorelab_core::empirical::{DEFAULT_DATA_CHUNK, DEFAULT_QUERY_CHUNK};
use scorelab_core::{open_device, BackendKind};
use scorelab_sample::options::{DEFAULT_GRID, DEFAULT_SNR, DEFAULT_STEPS, DEFAULT_T_MIN};
use scorelab_sample::{sample_with_prior, without_rows, Prior, PriorKind, SamplerOptions};

use crate::arrays::{batch, optional_rows};
use crate::errors::{value_error, IntoPy};
use crate::interrupt::{run_stoppable, FailureSlot, Guarded};
use crate::scores::{resolve, ResolvedScore, ScoreContext};
use crate::sde::PySde;

/// What a sampler run produced.
#[pyclass(module = "scorelab", frozen, get_all)]
pub struct SampleResult {
    /// The samples in data coordinates, float32 (n, d) or (n, C, H, W) for images; rows that turned non-finite are left
    /// out when `keep_finite=True`.
    pub samples: Py<PyArrayDyn<f32>>,
    /// The batch at each recorded time: a list of (τ, array shaped like `samples`), decreasing τ.
    pub path: Py<PyList>,
    /// Score (network) evaluations per sample, the denoising step included.
    pub evaluations: usize,
    /// Rows that became NaN or infinite (dropped from `samples`).
    pub nonfinite_rows: Vec<usize>,
    /// Fraction of coordinates outside the data's range (images: [0, 1]) before clipping;
    /// None for data without a range.
    pub out_of_range: Option<f64>,
    /// The sampler configuration that ran, as a dict.
    pub config: Py<PyAny>,
}

#[pymethods]
impl SampleResult {
    fn __repr__(&self, py: Python<'_>) -> String {
        let shape = self.samples.bind(py).shape().to_vec();
        format!(
            "SampleResult(samples of shape {:?}, {} evaluations per sample)",
            shape, self.evaluations
        )
    }
}

/// The law of X_T named by `prior`.
fn prior(name: &str, resolved: &ResolvedScore<'_>) -> PyResult<Prior> {
    let kind: PriorKind = name.parse().py()?;
    Ok(match kind {
        PriorKind::Nominal => Prior::Nominal,
        PriorKind::Moment => {
            Prior::moment(resolved.sde(), &resolved.training("prior=\"moment\"")?).py()?
        }
        PriorKind::Exact if !resolved.is_empirical => {
            return Err(value_error(
                "prior=\"exact\" starts from the training points (x_T = α y_i + c + σ z), the law \
                 p_T of the empirical score only: use prior=\"moment\"",
            ))
        }
        PriorKind::Exact => Prior::exact(resolved.training("prior=\"exact\"")?).py()?,
    })
}

/// Runs a reverse-time sampler; `score` is "empirical" (with `train`), a GaussianMixture, a
/// Checkpoint or a callable f(x, t) -> (n, d) array. Options and defaults are those of
/// `scorelab sample` (`--steps` is `steps`, `--churn-sigma-min` is `churn_sigma_min`, ...), and
/// the same options and seed give the same samples.
#[pyfunction]
#[pyo3(signature = (score, *, sde = None, train = None, dim = None, n = 100, sampler = "em",
    steps = DEFAULT_STEPS, nfe = None, t_min = DEFAULT_T_MIN, grid = DEFAULT_GRID, eps = None,
    eta = None, rtol = None, atol = None, rho = None, churn = None, churn_sigma_min = None,
    churn_sigma_max = None, churn_noise = None, snr = DEFAULT_SNR, corrector_steps = 1,
    denoise = false, seed = 0, record = None, prior = "nominal", clip = true,
    keep_finite = false, device = "cpu", query_chunk = DEFAULT_QUERY_CHUNK,
    data_chunk = DEFAULT_DATA_CHUNK))]
#[allow(clippy::too_many_arguments)]
pub fn sample<'py>(
    py: Python<'py>,
    score: &Bound<'py, PyAny>,
    sde: Option<PyRef<'py, PySde>>,
    train: Option<&Bound<'py, PyAny>>,
    dim: Option<usize>,
    n: usize,
    sampler: &str,
    steps: usize,
    nfe: Option<usize>,
    t_min: f64,
    grid: &str,
    eps: Option<f64>,
    eta: Option<f64>,
    rtol: Option<f64>,
    atol: Option<f64>,
    rho: Option<f64>,
    churn: Option<f64>,
    churn_sigma_min: Option<f64>,
    churn_sigma_max: Option<f64>,
    churn_noise: Option<f64>,
    snr: f64,
    corrector_steps: usize,
    denoise: bool,
    seed: u64,
    record: Option<Vec<f64>>,
    prior: &str,
    clip: bool,
    keep_finite: bool,
    device: &str,
    query_chunk: usize,
    data_chunk: usize,
) -> PyResult<SampleResult> {
    let options = SamplerOptions {
        sampler: sampler.into(),
        steps,
        nfe,
        t_min,
        grid: grid.into(),
        eps,
        eta,
        rtol,
        atol,
        rho,
        churn,
        churn_sigma_min,
        churn_sigma_max,
        churn_noise,
        snr,
        corrector_steps,
        prior: prior.into(),
        seed,
        denoise,
    };
    let mut config = options.resolve().py()?;
    config.record_at = record.unwrap_or_default();
    if n == 0 {
        return Err(value_error("invalid parameter n: must be >= 1"));
    }
    let device = open_device(BackendKind::parse(device).py()?).py()?;
    let train = optional_rows(train, "train")?;
    let failure = FailureSlot::default();
    let context = ScoreContext {
        sde: sde.as_deref(),
        train: train.as_ref(),
        dim,
        chunks: (query_chunk, data_chunk),
        device: &device,
        failure: &failure,
    };
    let resolved = resolve(score, &context)?;
    config.validate(resolved.sde()).py()?;
    let start = self::prior(&options.prior, &resolved)?;
    let guarded = Guarded::new(resolved.score(), failure.clone());
    // SAFETY: the run touches Python only through `Python::attach` (Guarded, CallableScore).
    let run = unsafe {
        run_stoppable(py, &failure, || {
            sample_with_prior(&guarded, &config, &start, n, &device, &mut |_| {})
        })
    }?
    .py()?;

    let dim = resolved.score().dim();
    let to_data = |tensor| resolved.normalisation.to_data(&to_vec(tensor));
    let mut samples = to_data(run.samples.clone());
    let mut kept = n;
    if let Some(report) = run.nonfinite_report() {
        if !keep_finite {
            return Err(PyRuntimeError::new_err(format!(
                "{report}; try more steps or a larger t_min, or pass keep_finite=True to keep the finite ones"
            )));
        }
        samples = without_rows(&samples, dim, &run.nonfinite_rows);
        kept = samples.len() / dim;
    }
    let out_of_range = resolved
        .value_range
        .map(|range| clip_to_range(&mut samples, range, clip));
    let path = PyList::empty(py);
    for snapshot in run.path {
        let points = to_data(snapshot.points);
        path.append((snapshot.tau, batch(py, points, n, &resolved.row_shape)))?;
    }
    Ok(SampleResult {
        samples: batch(py, samples, kept, &resolved.row_shape).unbind(),
        path: path.unbind(),
        evaluations: run.evaluations,
        nonfinite_rows: run.nonfinite_rows,
        out_of_range,
        config: pythonize::pythonize(py, &config)?.unbind(),
    })
}

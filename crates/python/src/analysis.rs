//! The empirical score, the memorisation report and the path diagnostics of `scorelab
//! analyze`, on numpy arrays.

use burn::tensor::Tensor;
use numpy::PyArray2;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use scorelab_analysis::memorization::{
    copy_stats, memorisation_stats, neighbours, validate_threshold, DEFAULT_THRESHOLD,
};
use scorelab_analysis::paths::{path_diagnostics, PathConfig};
use scorelab_analysis::stats::histogram;
use scorelab_core::empirical::{DEFAULT_DATA_CHUNK, DEFAULT_QUERY_CHUNK};
use scorelab_core::score::EXACT_DIVERGENCE_MAX_DIM;
use scorelab_core::{open_device, BackendKind, EmpiricalScore, ScoreFn};
use scorelab_sample::options::{DEFAULT_GRID, DEFAULT_STEPS, DEFAULT_T_MIN};
use scorelab_sample::SamplerOptions;

use crate::arrays::{optional_rows, rows, tensor_matrix, times, vector};
use crate::errors::{value_error, IntoPy};
use crate::interrupt::{run_stoppable, without_gil, FailureSlot, Guarded};
use crate::scores::{resolve, sde_or_default, ScoreContext};
use crate::sde::PySde;

/// Bins of the d1 histogram (as in `analyze memorization`'s d1_histogram.png).
const HISTOGRAM_BINS: usize = 40;

/// The empirical score of `train` under `sde` (default vp) and, with `divergence`, ∇·s.
fn empirical(
    x: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    train: &Bound<'_, PyAny>,
    sde: Option<&PySde>,
    chunks: (usize, usize),
) -> PyResult<(EmpiricalScore, Tensor<2>, scorelab_core::Times)> {
    let device = open_device(BackendKind::Flex).py()?;
    let x = rows(x, "x")?;
    let t = times(t, x.rows)?;
    let train = rows(train, "train")?;
    let score = EmpiricalScore::with_chunks(
        train.tensor(&device),
        sde_or_default(sde)?,
        chunks.0,
        chunks.1,
    )
    .py()?;
    let x = x.tensor(&device);
    score.check_input(&x).py()?;
    Ok((score, x, t))
}

/// The empirical score s(x, t) = (α Σ_k w_k y_k + c − x)/σ², w = softmax(−‖x − αy_k − c‖²/2σ²),
/// of the training set `train` (N, d) under `sde` (default vp), for x (B, d); `t` a number
/// or one time per row. Float32 (B, d).
#[pyfunction]
#[pyo3(signature = (x, t, train, sde = None, *, query_chunk = DEFAULT_QUERY_CHUNK,
    data_chunk = DEFAULT_DATA_CHUNK))]
pub fn empirical_score<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    train: &Bound<'py, PyAny>,
    sde: Option<PyRef<'py, PySde>>,
    query_chunk: usize,
    data_chunk: usize,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let (score, x, t) = empirical(x, t, train, sde.as_deref(), (query_chunk, data_chunk))?;
    // SAFETY: the empirical score does not touch Python.
    let s = unsafe { without_gil(py, || score.score(x, &t)) };
    Ok(tensor_matrix(py, s))
}

/// A batch's scores (B, d) and divergences (B,).
type ScoreAndDivergence<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, numpy::PyArray1<f32>>);

/// The empirical score and its divergence ∇·s = (α²/σ⁴)(Σ w_k‖y_k‖² − ‖Σ w_k y_k‖²) − d/σ²:
/// a tuple (float32 (B, d), float32 (B,)).
#[pyfunction]
#[pyo3(signature = (x, t, train, sde = None, *, query_chunk = DEFAULT_QUERY_CHUNK,
    data_chunk = DEFAULT_DATA_CHUNK))]
pub fn empirical_score_and_divergence<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    train: &Bound<'py, PyAny>,
    sde: Option<PyRef<'py, PySde>>,
    query_chunk: usize,
    data_chunk: usize,
) -> PyResult<ScoreAndDivergence<'py>> {
    let (score, x, t) = empirical(x, t, train, sde.as_deref(), (query_chunk, data_chunk))?;
    // SAFETY: the empirical score does not touch Python.
    let (s, div) = unsafe { without_gil(py, || score.score_and_divergence(x, &t)) };
    Ok((
        tensor_matrix(py, s),
        vector(py, scorelab_core::device::to_vec(div)),
    ))
}

/// The memorisation report of `analyze memorization`: for each sample the distances d1, d2 to
/// its two nearest points of `train` and d1/d2 (memorised when below `threshold`), the
/// memorised fraction, which training points are copied and how often, the d1 histogram, and
/// the same numbers for `fresh` draws from the data distribution (the level of a model that
/// generalises). Returns a dict.
#[pyfunction]
#[pyo3(signature = (samples, train, fresh = None, *, threshold = DEFAULT_THRESHOLD))]
pub fn memorization<'py>(
    py: Python<'py>,
    samples: &Bound<'py, PyAny>,
    train: &Bound<'py, PyAny>,
    fresh: Option<&Bound<'py, PyAny>>,
    threshold: f64,
) -> PyResult<Bound<'py, PyDict>> {
    validate_threshold(threshold).py()?;
    let samples = rows(samples, "samples")?;
    let train = rows(train, "train")?;
    let fresh = optional_rows(fresh, "fresh")?;
    let device = open_device(BackendKind::Flex).py()?;
    let (points, training) = (samples.tensor(&device), train.tensor(&device));
    let fresh_points = fresh.as_ref().map(|f| f.tensor(&device));
    // SAFETY: the nearest-neighbour search does not touch Python.
    let (own, theirs) = unsafe {
        without_gil(py, || -> scorelab_analysis::Result<_> {
            let own = neighbours(&points, &training)?;
            let theirs = fresh_points
                .as_ref()
                .map(|f| neighbours(f, &training))
                .transpose()?;
            Ok((own, theirs))
        })
    }
    .py()?;
    py.check_signals()?;

    let report = PyDict::new(py);
    let stats = memorisation_stats(&own, threshold).py()?;
    report.set_item("samples", pythonize::pythonize(py, &stats)?)?;
    let copies = copy_stats(&own, threshold, train.rows);
    report.set_item("copies", pythonize::pythonize(py, &copies)?)?;
    report.set_item("d1", vector(py, own.nearest.d1.clone()))?;
    report.set_item("d2", vector(py, own.nearest.d2.clone()))?;
    report.set_item("ratio", vector(py, own.ratio.clone()))?;
    report.set_item("nearest", vector(py, own.nearest.i1.clone()))?;
    report.set_item("second_nearest", vector(py, own.nearest.i2.clone()))?;
    let mut d1 = vec![own.d1_values()];
    match &theirs {
        Some(theirs) => {
            let stats = memorisation_stats(theirs, threshold).py()?;
            report.set_item("fresh", pythonize::pythonize(py, &stats)?)?;
            report.set_item("fresh_d1", vector(py, theirs.nearest.d1.clone()))?;
            d1.push(theirs.d1_values());
        }
        None => report.set_item("fresh", py.None())?,
    }
    let slices: Vec<&[f64]> = d1.iter().map(Vec::as_slice).collect();
    let bins = histogram(&slices, HISTOGRAM_BINS, true);
    let hist = PyDict::new(py);
    hist.set_item("edges", vector(py, bins.edges))?;
    hist.set_item("centres", vector(py, bins.centres))?;
    let mut fractions = bins.fractions.into_iter();
    hist.set_item("samples", vector(py, fractions.next().unwrap_or_default()))?;
    match fractions.next() {
        Some(f) => hist.set_item("fresh", vector(py, f))?,
        None => hist.set_item("fresh", py.None())?,
    }
    report.set_item("histogram", hist)?;
    Ok(report)
}

/// The path diagnostics of `analyze paths`: reverse paths of `score` and of the empirical
/// score of its training set from the same noise, with d1(τ) and the memorised fraction of
/// each, the score gap ‖s − s_emp‖ along the model's paths, the Novikov (Girsanov) exponent,
/// and with `divergence` the Li–Yau bound ∇·s ≥ −d/σ² (default: exact divergence when
/// d ≤ 64 and the score has one). A dict of the report's series.
#[pyfunction]
#[pyo3(signature = (score, *, train = None, sde = None, n = 500, evaluations = 60,
    divergence = None, sampler = "em", steps = DEFAULT_STEPS, nfe = None, t_min = DEFAULT_T_MIN,
    grid = DEFAULT_GRID, eps = None, eta = None, seed = 0, device = "cpu",
    query_chunk = DEFAULT_QUERY_CHUNK, data_chunk = DEFAULT_DATA_CHUNK))]
#[allow(clippy::too_many_arguments)]
pub fn paths<'py>(
    py: Python<'py>,
    score: &Bound<'py, PyAny>,
    train: Option<&Bound<'py, PyAny>>,
    sde: Option<PyRef<'py, PySde>>,
    n: usize,
    evaluations: usize,
    divergence: Option<bool>,
    sampler: &str,
    steps: usize,
    nfe: Option<usize>,
    t_min: f64,
    grid: &str,
    eps: Option<f64>,
    eta: Option<f64>,
    seed: u64,
    device: &str,
    query_chunk: usize,
    data_chunk: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let options = SamplerOptions {
        sampler: sampler.into(),
        steps,
        nfe,
        t_min,
        grid: grid.into(),
        eps,
        eta,
        seed,
        ..SamplerOptions::default()
    };
    let sampler = options.resolve().py()?;
    let device = open_device(BackendKind::parse(device).py()?).py()?;
    let train = optional_rows(train, "train")?;
    let failure = FailureSlot::default();
    let context = ScoreContext {
        sde: sde.as_deref(),
        train: train.as_ref(),
        dim: None,
        chunks: (query_chunk, data_chunk),
        device: &device,
        failure: &failure,
    };
    let resolved = resolve(score, &context)?;
    let training = resolved.training("paths")?;
    let dim = resolved.score().dim();
    let divergence =
        divergence.unwrap_or(dim <= EXACT_DIVERGENCE_MAX_DIM && resolved.has_divergence);
    if divergence && !resolved.has_divergence {
        return Err(value_error(
            "a callable score has no divergence: pass divergence=False",
        ));
    }
    let empirical = EmpiricalScore::with_chunks(
        training.clone(),
        resolved.sde().clone(),
        query_chunk,
        data_chunk,
    )
    .py()?;
    let config = PathConfig {
        sampler,
        n,
        evaluations,
        divergence,
        distance_scale: resolved.normalisation.scale,
    };
    let guarded = Guarded::new(resolved.score(), failure.clone());
    let guarded_empirical = Guarded::new(&empirical, failure.clone());
    // SAFETY: the runs touch Python only through `Python::attach` (Guarded, CallableScore).
    let report = unsafe {
        run_stoppable(py, &failure, || {
            path_diagnostics(
                &guarded,
                &guarded_empirical,
                None,
                &training,
                &config,
                &scorelab_sample::Prior::Nominal,
                &device,
                &mut |_| {},
            )
        })
    }?
    .py()?;
    let out = pythonize::pythonize(py, &report)?;
    out.set_item("config", pythonize::pythonize(py, &config)?)?;
    out.set_item("score_evaluations_per_sample", config.sampler.evaluations())?;
    Ok(out)
}

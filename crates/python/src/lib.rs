//! Python bindings of scorelab (`import scorelab`): numpy arrays in and out, errors as Python
//! exceptions, long calls without the GIL and interruptible with Ctrl-C.
//!
//! Modules:
//! - [`sde`]: `SDE`, the forward SDEs of DESIGN §2 (marginal α, c, σ², prior draws);
//! - [`scores`]: the scores a caller can pass: `"empirical"` with a training array, a
//!   `GaussianMixture` (its exact score), a `Checkpoint`, or any callable `f(x, t)`;
//! - [`checkpoint`]: `Checkpoint`, scorelab's own networks loaded from a checkpoint folder;
//! - [`sampling`]: `sample`, every reverse-time sampler of the CLI, bit-identical to it;
//! - [`analysis`]: `empirical_score`, `memorization` (d1, d2, d1/d2 with the fresh-data
//!   baseline) and `paths` (path diagnostics against the empirical score);
//! - [`data`]: `dataset`, the CLI's datasets drawn from the same seeds;
//! - [`arrays`], [`errors`], [`interrupt`]: conversions, the exception policy, GIL release.

mod analysis;
mod arrays;
mod checkpoint;
mod data;
mod errors;
mod interrupt;
mod sampling;
mod scores;
mod sde;

use pyo3::prelude::*;

/// scorelab: score-based generative models, the empirical score and memorisation metrics.
#[pymodule]
fn scorelab(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<sde::PySde>()?;
    m.add_class::<scores::PyGaussianMixture>()?;
    m.add_class::<checkpoint::PyCheckpoint>()?;
    m.add_class::<sampling::SampleResult>()?;
    m.add_function(wrap_pyfunction!(sampling::sample, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::empirical_score, m)?)?;
    m.add_function(wrap_pyfunction!(
        analysis::empirical_score_and_divergence,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(analysis::memorization, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::paths, m)?)?;
    m.add_function(wrap_pyfunction!(data::dataset, m)?)?;
    Ok(())
}

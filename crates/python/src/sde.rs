//! `scorelab.SDE`: a forward SDE with X_t | X_0 = x ~ N(α(t) x + c(t), σ²(t) I) (DESIGN §2).

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use scorelab_core::{open_device, BackendKind, Sde, SdeParams};
use scorelab_sample::prior_sample;

use crate::arrays::{matrix, vector};
use crate::errors::{value_error, IntoPy};
use scorelab_core::device::to_vec;

/// A forward SDE: ve, vp, subvp, cvp, ou, cou or heat, with DESIGN §2's defaults for every
/// parameter not given. `ve` needs `sigma_max`.
#[pyclass(name = "SDE", module = "scorelab", frozen)]
pub struct PySde {
    pub sde: Sde,
}

#[pymethods]
impl PySde {
    #[new]
    #[pyo3(signature = (name = "vp", *, sigma_min = None, sigma_max = None, beta_min = None,
        beta_max = None, theta = None, sigma = None, mu = None, c = None, t_end = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: &str,
        sigma_min: Option<f64>,
        sigma_max: Option<f64>,
        beta_min: Option<f64>,
        beta_max: Option<f64>,
        theta: Option<f64>,
        sigma: Option<f64>,
        mu: Option<f64>,
        c: Option<f64>,
        t_end: Option<f64>,
    ) -> PyResult<Self> {
        let params = SdeParams {
            sigma_min,
            sigma_max,
            beta_min,
            beta_max,
            theta,
            sigma,
            mu,
            c,
            t_end,
        };
        Ok(PySde {
            sde: params.build(name, None).py()?,
        })
    }

    /// The SDE's name.
    #[getter]
    fn name(&self) -> &'static str {
        self.sde.name()
    }

    /// The horizon T.
    #[getter]
    fn t_end(&self) -> f64 {
        self.sde.t_end()
    }

    /// (α(t), c(t), σ²(t)) of the marginal X_t | X_0 = x ~ N(α x + c, σ² I); `t` a number or an
    /// array (then three arrays).
    fn marginal<'py>(
        &self,
        py: Python<'py>,
        t: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let sde = &self.sde;
        let check = |t: f64| {
            if t.is_finite() && t >= 0.0 && t <= sde.t_end() {
                Ok(())
            } else {
                Err(value_error(format!(
                    "t must lie in [0, T = {}], got {t}",
                    sde.t_end()
                )))
            }
        };
        if let Ok(t) = t.extract::<f64>() {
            check(t)?;
            return PyTuple::new(py, [sde.alpha(t), sde.shift(t), sde.sigma2(t)]);
        }
        let ts: Vec<f64> = t
            .extract()
            .map_err(|_| value_error("t must be a number or a 1-D array of numbers"))?;
        for &t in &ts {
            check(t)?;
        }
        let column = |f: &dyn Fn(f64) -> f64| vector(py, ts.iter().map(|&t| f(t)).collect());
        PyTuple::new(
            py,
            [
                column(&|t| sde.alpha(t)),
                column(&|t| sde.shift(t)),
                column(&|t| sde.sigma2(t)),
            ],
        )
    }

    /// (a(t), b(t)) of the drift f(x, t) = a x + b, and the diffusion g(t).
    fn coefficients(&self, t: f64) -> (f64, f64, f64) {
        let (a, b) = self.sde.drift(t);
        (a, b, self.sde.diffusion(t))
    }

    /// The prior N(mean·1, var·I) that sampling starts from, as (mean, var).
    fn prior(&self) -> (f64, f64) {
        self.sde.prior()
    }

    /// `n` draws of dimension `dim` from the prior, seeded as `scorelab sample` seeds its
    /// starting points; float32 array of shape (n, dim).
    #[pyo3(signature = (n, dim, *, seed = 0))]
    fn prior_sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        dim: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, numpy::PyArray2<f32>>> {
        if n == 0 || dim == 0 {
            return Err(value_error(format!(
                "n and dim must be >= 1, got n = {n}, dim = {dim}"
            )));
        }
        let device = open_device(BackendKind::Flex).py()?;
        let draw = prior_sample(&self.sde, n, dim, seed, &device);
        Ok(matrix(py, to_vec(draw), n, dim))
    }

    fn __repr__(&self) -> String {
        format!("SDE({:?})", self.sde)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PySde>()
            .map(|o| o.get().sde == self.sde)
            .unwrap_or(false)
    }
}

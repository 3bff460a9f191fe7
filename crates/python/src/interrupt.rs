//! Long calls run with the GIL released and stop at the next score evaluation after Ctrl-C.
//!
//! The samplers call a score once per step; [`Guarded`] wraps any score and checks Python's
//! signal flag at each call. When a signal handler (Ctrl-C: `KeyboardInterrupt`) or a callable
//! score raises, the exception is kept in the run's [`FailureSlot`] and [`stop`] unwinds out of
//! the sampler (without the panic hook: nothing is printed); [`run_stoppable`] catches that
//! unwind at the boundary and returns the exception, so no panic reaches Python.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::Tensor;
use pyo3::prelude::*;

use scorelab_core::{ScoreFn, Sde, Times};

/// The first exception raised during a run, shared by the scores of that run.
#[derive(Clone, Default)]
pub struct FailureSlot(Rc<RefCell<Option<PyErr>>>);

impl FailureSlot {
    /// Keeps `error` unless an earlier one is already kept.
    pub fn set(&self, error: PyErr) {
        self.0.borrow_mut().get_or_insert(error);
    }

    /// `Err` with the kept exception, if any.
    pub fn check(&self) -> PyResult<()> {
        match self.0.borrow_mut().take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// The payload of the unwind that stops a run.
struct Stopped;

/// Leaves the current run; the exception that caused it is in the run's [`FailureSlot`].
pub fn stop() -> ! {
    std::panic::resume_unwind(Box::new(Stopped))
}

/// A score that checks for signals before each evaluation (see the module documentation).
pub struct Guarded<'a> {
    inner: &'a dyn ScoreFn,
    failure: FailureSlot,
}

impl<'a> Guarded<'a> {
    pub fn new(inner: &'a dyn ScoreFn, failure: FailureSlot) -> Self {
        Guarded { inner, failure }
    }

    /// Stops the run when a signal handler raised.
    fn check(&self) {
        if let Err(error) = Python::attach(|py| py.check_signals()) {
            self.failure.set(error);
            stop();
        }
    }
}

impl ScoreFn for Guarded<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn sde(&self) -> &Sde {
        self.inner.sde()
    }

    fn score(&self, x: Tensor<2>, t: &Times) -> Tensor<2> {
        self.check();
        self.inner.score(x, t)
    }

    fn score_and_divergence(&self, x: Tensor<2>, t: &Times) -> (Tensor<2>, Tensor<1>) {
        self.check();
        self.inner.score_and_divergence(x, t)
    }

    fn score_and_divergence_estimate(
        &self,
        x: Tensor<2>,
        t: &Times,
        probes: &Tensor<2>,
    ) -> (Tensor<2>, Tensor<1>) {
        self.check();
        self.inner.score_and_divergence_estimate(x, t, probes)
    }
}

/// Carries a value that is not `Send` through [`Python::detach`], which runs its closure on
/// the calling thread.
struct OnThisThread<T>(T);

// SAFETY: `detach` runs the closure on the thread that calls it, so the value never changes
// threads; what `Ungil` guards against, touching Python objects without the GIL, is ruled out
// by `without_gil`'s contract.
unsafe impl<T> Send for OnThisThread<T> {}

/// Runs `work` with the GIL released, so other Python threads run meanwhile.
///
/// # Safety
/// `work` must not use Python objects except through `Python::attach` (as [`Guarded`] and the
/// callable score do).
pub unsafe fn without_gil<T>(py: Python<'_>, work: impl FnOnce() -> T) -> T {
    let job = OnThisThread(work);
    let result = py.detach(move || {
        let job = job;
        OnThisThread((job.0)())
    });
    result.0
}

/// Runs `work` with the GIL released; a run left by [`stop`] returns the exception kept in
/// `failure`. Other panics go on unwinding (PyO3 turns them into `PanicException`).
///
/// # Safety
/// As for [`without_gil`].
pub unsafe fn run_stoppable<T>(
    py: Python<'_>,
    failure: &FailureSlot,
    work: impl FnOnce() -> T,
) -> PyResult<T> {
    let outcome = without_gil(py, || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
    });
    match outcome {
        Ok(value) => {
            failure.check()?;
            Ok(value)
        }
        Err(payload) if payload.is::<Stopped>() => {
            failure.check()?;
            Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the run stopped without an exception",
            ))
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

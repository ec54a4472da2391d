//! Calling Python callables from the core's callbacks.
//!
//! A callback takes the GIL, builds its arguments, calls the function and
//! maps the result by the core's policy (`nbd::callback`, shared with the
//! other bindings): an int is the callback's return value, anything else
//! counts as 0; an exception returns -1 with `*error` set (EPROTO unless
//! the function set another), which fails the command. The `int *error`
//! of chunk, extent and completion callbacks is passed as a
//! `ctypes.c_int` whose `.value` the function may set.
//!
//! An exception never escapes into the core and is never ignored. For
//! calls whose callbacks run before they return (`block_status`,
//! `opt_list`, ...), the first one is kept and becomes the `__cause__` of
//! the `nbd.Error` the call raises; otherwise (aio commands, the debug
//! callback, later exceptions) it is printed to stderr, as libnbd does.
//! A callback that calls a locked method of its own handle gets an
//! `nbd.Error` with errno EDEADLK from the core.

use nbd::callback::{self, FirstRaised, Outcome};
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::error;

/// Where the callbacks of one synchronous call leave the first exception
/// they raised.
#[derive(Default, Clone)]
pub(crate) struct Raised(FirstRaised<PyErr>);

impl Raised {
    /// The Python result of a call whose callbacks have all run: the
    /// core's error, caused by the callback's exception if one was raised.
    /// A call that succeeded even though a callback raised fails anyway.
    pub(crate) fn check<T>(&self, py: Python<'_>, ret: Result<T, nbd::Error>) -> PyResult<T> {
        let failed = match self.0.settle(ret) {
            Ok(v) => return Ok(v),
            Err(failed) => failed,
        };
        // Ctrl-C or sys.exit() in a callback stop the program as usual.
        if let Some(exc) = failed
            .raised
            .as_ref()
            .filter(|e| !e.is_instance_of::<PyException>(py))
        {
            return Err(exc.clone_ref(py));
        }
        let mut nbd_err = failed.error;
        if let (Some(exc), true) = (&failed.raised, failed.only_callback) {
            // Only the callback failed: say what it raised.
            nbd_err = nbd::Error::new(nbd_err.errno(), format!("{}: {exc}", nbd_err.message()));
        }
        let err = error::to_py(py, nbd_err);
        err.set_cause(py, failed.raised);
        Err(err)
    }
}

/// A Python callable used as a callback of the core.
pub(crate) struct Callable {
    f: Py<PyAny>,
    raised: Option<Raised>,
}

impl Callable {
    pub(crate) fn new(
        f: &Bound<'_, PyAny>,
        name: &str,
        raised: Option<&Raised>,
    ) -> PyResult<Callable> {
        if !f.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "callback parameter {name} is not callable"
            )));
        }
        Ok(Callable {
            f: f.clone().unbind(),
            raised: raised.cloned(),
        })
    }

    /// Call the function with the arguments `build` makes; `err` is the
    /// `ctypes.c_int` holding `*error` (None for callbacks without one).
    pub(crate) fn invoke<F>(&self, error: Option<&mut i32>, build: F) -> i32
    where
        F: for<'py> FnOnce(Python<'py>, &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>>,
    {
        Python::attach(|py| {
            let holder = match error.as_deref() {
                Some(&e) => match c_int(py, e) {
                    Ok(h) => h,
                    Err(exc) => {
                        self.report(py, exc);
                        return callback::result(Outcome::Raised, error, None);
                    }
                },
                None => py.None().into_bound(py),
            };
            let mut outcome = match build(py, &holder).and_then(|args| self.f.bind(py).call1(args))
            {
                Ok(v) => Outcome::Returned(v.extract::<i64>().ok()),
                Err(exc) => {
                    self.report(py, exc);
                    Outcome::Raised
                }
            };
            let mut left = None;
            if error.is_some() {
                match holder.getattr("value").and_then(|v| v.extract::<i32>()) {
                    Ok(v) => left = Some(v),
                    Err(exc) => {
                        self.report(py, exc);
                        outcome = Outcome::Raised;
                    }
                }
            }
            callback::result(outcome, error, left)
        })
    }

    /// Hand an exception to the call waiting for it, or print it.
    fn report(&self, py: Python<'_>, exc: PyErr) {
        let unkept = match &self.raised {
            Some(r) => r.0.keep(exc),
            None => Some(exc),
        };
        if let Some(exc) = unkept {
            exc.print(py);
        }
    }
}

/// `ctypes.c_int(value)`, libnbd's holder for a callback's `*error`.
fn c_int(py: Python<'_>, value: i32) -> PyResult<Bound<'_, PyAny>> {
    py.import("ctypes")?.getattr("c_int")?.call1((value,))
}

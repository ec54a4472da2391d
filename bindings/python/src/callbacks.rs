//! Calling Python callables from the core's callbacks.
//!
//! A callback takes the GIL, builds its arguments, calls the function and
//! maps the result as libnbd's module does: an int is the callback's return
//! value, anything else counts as 0. The `int *error` of chunk, extent and
//! completion callbacks is passed as a `ctypes.c_int` whose `.value` the
//! function may set.
//!
//! An exception never escapes into the core and is never ignored: the
//! callback returns -1 with the error set (EPROTO unless the function set
//! another), which fails the command. For calls whose callbacks run before
//! they return (`block_status`, `opt_list`, ...), the exception is kept and
//! becomes the `__cause__` of the `nbd.Error` the call raises; otherwise
//! (aio commands, the debug callback) it is printed to stderr, as libnbd
//! does.

use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::error;

/// Where the callbacks of one synchronous call leave the first exception
/// they raised.
#[derive(Default, Clone)]
pub(crate) struct Raised(Arc<Mutex<Option<PyErr>>>);

impl Raised {
    /// Keep `exc` unless an earlier one is kept; give it back otherwise.
    fn keep(&self, exc: PyErr) -> Option<PyErr> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return Some(exc);
        }
        *slot = Some(exc);
        None
    }

    /// The Python result of a call whose callbacks have all run: the
    /// core's error, caused by the callback's exception if one was raised.
    /// A call that succeeded even though a callback raised fails anyway.
    pub(crate) fn check<T>(&self, py: Python<'_>, ret: Result<T, nbd::Error>) -> PyResult<T> {
        let exc = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        // Ctrl-C or sys.exit() in a callback stop the program as usual.
        if let Some(exc) = exc.as_ref().filter(|e| !e.is_instance_of::<PyException>(py)) {
            return Err(exc.clone_ref(py));
        }
        match (ret, exc) {
            (Ok(v), None) => Ok(v),
            (Err(e), exc) => {
                let err = error::to_py(py, e);
                err.set_cause(py, exc);
                Err(err)
            }
            (Ok(_), Some(exc)) => {
                let msg = format!("a callback raised an exception: {exc}");
                let err = error::to_py(py, nbd::Error::new(libc::EPROTO, msg));
                err.set_cause(py, Some(exc));
                Err(err)
            }
        }
    }
}

/// A Python callable used as a callback of the core.
pub(crate) struct Callable {
    f: Py<PyAny>,
    raised: Option<Raised>,
}

impl Callable {
    pub(crate) fn new(f: &Bound<'_, PyAny>, name: &str, raised: Option<&Raised>) -> PyResult<Callable> {
        if !f.is_callable() {
            return Err(PyTypeError::new_err(format!("callback parameter {name} is not callable")));
        }
        Ok(Callable { f: f.clone().unbind(), raised: raised.cloned() })
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
                        return -1;
                    }
                },
                None => py.None().into_bound(py),
            };
            let outcome = build(py, &holder).and_then(|args| self.f.bind(py).call1(args));
            let (mut ret, mut failed) = match outcome {
                Ok(v) => (v.extract::<i64>().map(|n| n as i32).unwrap_or(0), false),
                Err(exc) => {
                    self.report(py, exc);
                    (-1, true)
                }
            };
            if let Some(e) = error {
                match holder.getattr("value").and_then(|v| v.extract::<i32>()) {
                    Ok(v) => *e = v,
                    Err(exc) => {
                        self.report(py, exc);
                        (ret, failed) = (-1, true);
                    }
                }
                if failed && *e == 0 {
                    *e = libc::EPROTO;
                }
            }
            ret
        })
    }

    /// Hand an exception to the call waiting for it, or print it.
    fn report(&self, py: Python<'_>, exc: PyErr) {
        let unkept = match &self.raised {
            Some(r) => r.keep(exc),
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

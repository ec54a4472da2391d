//! `nbd.Error` and `nbd.ClosedHandle`.
//!
//! `nbd.Error` behaves as libnbd's: `args` is `(message, errnum)`, with the
//! properties `.string`, `.errnum` and `.errno` (the symbolic name from
//! Python's errno module, or None) and `str()` giving "message (ENAME)".
//! Properties and a `__str__` that receives `self` need Python functions,
//! so the two classes are defined by a few lines of Python run once at
//! import; the types are kept here to raise them.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

static ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CLOSED: PyOnceLock<Py<PyType>> = PyOnceLock::new();

const CLASSES: &std::ffi::CStr = cr#"
import errno as _errno

class Error(Exception):
    """Exception raised when an NBD call fails.

    Use .string for the message, .errnum for the errno number (0 when
    the error does not correspond to a system error), and .errno for its
    symbolic name such as "EINVAL" (None when the number has no name).
    """

    @property
    def string(self):
        return self.args[0]

    @property
    def errnum(self):
        return self.args[1]

    @property
    def errno(self):
        return _errno.errorcode.get(self.args[1])

    def __str__(self):
        name = self.errno
        if name:
            return "%s (%s)" % (self.string, name)
        return "%s" % self.string


class ClosedHandle(Exception):
    """Raised when a method is called on a handle after its close()."""
"#;

/// Define the exception classes and add them to the module.
pub(crate) fn add_exceptions(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let ns = PyDict::new(py);
    ns.set_item("__name__", "nbd")?;
    py.run(CLASSES, Some(&ns), None)?;
    for (name, cell) in [("Error", &ERROR), ("ClosedHandle", &CLOSED)] {
        let ty = ns
            .get_item(name)?
            .expect("defined above")
            .cast_into::<PyType>()?;
        m.add(name, &ty)?;
        let _ = cell.set(py, ty.unbind());
    }
    Ok(())
}

/// An `nbd.Error` for a failed core call: the message names the call
/// ("nbd_pread: ..."), and the errno is the core's.
pub(crate) fn to_py(py: Python<'_>, e: nbd::Error) -> PyErr {
    let err = match ERROR.get(py) {
        Some(ty) => PyErr::from_type(ty.bind(py).clone(), (e.to_string(), e.errno())),
        None => pyo3::exceptions::PyRuntimeError::new_err(e.to_string()),
    };
    match e.context().and_then(|c| c.strip_prefix("nbd_")) {
        Some(call) => raised_in_call(py, call, err),
        None => err,
    }
}

/// `err` raised from a Python frame named after the method that failed
/// (`nbd._call_frame`), so that its traceback says "in is_read_only" as
/// libnbd's module does; `err` unchanged if that cannot be done.
fn raised_in_call(py: Python<'_>, call: &str, err: PyErr) -> PyErr {
    let raise = || -> PyResult<Option<PyErr>> {
        let frame = py.import("nbd")?.getattr("_call_frame")?.call1((call,))?;
        Ok(frame.call1((err.value(py),)).err())
    };
    match raise() {
        Ok(Some(raised)) => raised,
        _ => err,
    }
}

/// The error raised by any method of a closed handle.
pub(crate) fn closed() -> PyErr {
    Python::attach(|py| match CLOSED.get(py) {
        Some(ty) => PyErr::from_type(ty.bind(py).clone(), "NBD handle has been closed"),
        None => pyo3::exceptions::PyValueError::new_err("NBD handle has been closed"),
    })
}

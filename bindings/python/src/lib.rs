//! The native part of the `nbd` Python package (`nbd._libnbd`): the
//! `NBD` handle class, `Buffer`, the exceptions, and the module constants.
//!
//! One method per call is generated from api.yaml into `generated.rs`; this
//! file holds the hand-written plumbing around it: the handle, `close()` and
//! the context manager. Every call releases the GIL while the core works,
//! so other Python threads run while one waits on the server.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyTuple;

mod buffer;
mod callbacks;
mod conv;
mod error;
mod generated;

/// An NBD handle: one connection to an NBD server and its settings.
///
/// The core handle is shared with calls in progress, so `close()` from one
/// thread while another waits on the server is safe: the connection goes
/// away when the last call using it returns.
#[pyclass(module = "nbd", name = "NBD", subclass, frozen)]
pub struct Nbd {
    handle: Mutex<Option<Arc<nbd::Handle>>>,
}

impl Nbd {
    /// The core handle, or `nbd.ClosedHandle` after `close()`.
    fn handle(&self) -> PyResult<Arc<nbd::Handle>> {
        let guard = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        guard.clone().ok_or_else(error::closed)
    }
}

#[pymethods]
impl Nbd {
    /// Create a new NBD handle.
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        let handle = nbd::Handle::new().map_err(|e| error::to_py(py, e))?;
        Ok(Nbd {
            handle: Mutex::new(Some(Arc::new(handle))),
        })
    }

    /// Close the handle and its connection. Any later call on it, including
    /// a second close(), raises nbd.ClosedHandle.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        let handle = taken.ok_or_else(error::closed)?;
        // Dropping may wait for a subprocess server to exit: let other
        // threads run meanwhile.
        py.detach(move || drop(handle));
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Close the handle at the end of a `with` block (a handle already
    /// closed inside the block is fine).
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        let taken = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        py.detach(move || drop(taken));
        false
    }

    /// The object's size for `sys.getsizeof`: the Python object and what
    /// the handle holds (nbd_get_handle_size), so memory profilers and
    /// code that budgets memory see handles at their real size.
    fn __sizeof__(&self, py: Python<'_>) -> usize {
        let own = std::mem::size_of::<Nbd>();
        match self.handle() {
            Ok(h) => own + py.detach(|| h.get_handle_size()).unwrap_or(0),
            Err(_) => own,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match self.handle() {
            // Never wait for the handle lock while holding the GIL.
            Ok(h) => match py.detach(|| h.get_handle_name()) {
                Ok(name) => format!("<nbd.NBD {name}>"),
                Err(_) => "<nbd.NBD>".to_string(),
            },
            Err(_) => "<nbd.NBD (closed)>".to_string(),
        }
    }
}

/// The native module, imported by `nbd/__init__.py`.
#[pymodule]
fn _libnbd(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Nbd>()?;
    m.add_class::<buffer::Buffer>()?;
    error::add_exceptions(m)?;
    generated::add_constants(m)?;
    let h = nbd::Handle::new().map_err(|e| error::to_py(py, e))?;
    m.add("__version__", h.get_version())?;
    m.add("package_name", h.get_package_name())?;
    Ok(())
}

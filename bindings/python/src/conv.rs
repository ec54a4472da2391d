//! Conversions of Python arguments that are more than a number or a
//! string: file paths, socket addresses, and byte buffers.

use std::net::{SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyTuple};

/// A path argument: `str`, `bytes` or `os.PathLike`, encoded as
/// `os.fsencode` does.
pub(crate) fn path(obj: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    let encoded = obj.py().import("os")?.call_method1("fsencode", (obj,))?;
    let bytes = encoded.cast_into::<PyBytes>()?;
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes.as_bytes())))
}

/// A socket address as Python's socket module writes them: a path for a
/// Unix socket, `(host, port)` for IPv4 or IPv6, `(host, port, flowinfo,
/// scope_id)` for IPv6.
pub(crate) fn sockaddr(obj: &Bound<'_, PyAny>) -> PyResult<nbd::SockAddr> {
    let Ok(t) = obj.cast::<PyTuple>() else {
        let p = path(obj)?;
        return nbd::SockAddr::unix(&p)
            .map_err(|e| PyValueError::new_err(format!("{}: {e}", p.display())));
    };
    let host: String = t.get_item(0)?.extract()?;
    let port: u16 = t.get_item(1)?.extract()?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| PyValueError::new_err(format!("{host}: {e}")))?
        .next()
        .ok_or_else(|| PyValueError::new_err(format!("{host}: no address")))?;
    let addr = match (t.len(), addr) {
        (2, a) => a,
        (4, SocketAddr::V6(a)) => {
            let flowinfo: u32 = t.get_item(2)?.extract()?;
            let scope: u32 = t.get_item(3)?.extract()?;
            SocketAddr::V6(SocketAddrV6::new(*a.ip(), a.port(), flowinfo, scope))
        }
        _ => {
            return Err(PyTypeError::new_err(
                "address must be (host, port) or (host, port, flowinfo, scope_id)",
            ))
        }
    };
    Ok(nbd::SockAddr::from(addr))
}

/// Bytes to send: any object with the buffer protocol. An immutable
/// `bytes` object is read in place (it is kept alive and cannot change);
/// anything else is copied first, since it could change or be resized by
/// another thread while the GIL is released.
pub(crate) enum BytesIn {
    Shared {
        _owner: Py<PyBytes>,
        ptr: *const u8,
        len: usize,
    },
    Copied(Vec<u8>),
}

// SAFETY: `Shared` points into an immutable bytes object that `_owner`
// keeps alive; reading it needs no GIL.
unsafe impl Send for BytesIn {}
unsafe impl Sync for BytesIn {}

impl BytesIn {
    pub(crate) fn new(obj: &Bound<'_, PyAny>) -> PyResult<BytesIn> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(BytesIn::shared(b));
        }
        if let Ok(ba) = obj.cast::<PyByteArray>() {
            return Ok(BytesIn::Copied(ba.to_vec()));
        }
        // memoryview() refuses anything without the buffer protocol (str,
        // int, ...); tobytes() copies it in C order.
        let view = obj
            .py()
            .import("builtins")?
            .getattr("memoryview")?
            .call1((obj,))?;
        let copy = view.call_method0("tobytes")?;
        view.call_method0("release")?;
        Ok(BytesIn::shared(copy.cast::<PyBytes>()?))
    }

    fn shared(b: &Bound<'_, PyBytes>) -> BytesIn {
        let s = b.as_bytes();
        BytesIn::Shared {
            ptr: s.as_ptr(),
            len: s.len(),
            _owner: b.clone().unbind(),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            // SAFETY: see the Send/Sync comment above.
            BytesIn::Shared { ptr, len, .. } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
            BytesIn::Copied(v) => v,
        }
    }
}

/// A new bytearray of `count` zero bytes, for a read to fill (what the
/// read calls return). MemoryError when it cannot be allocated.
pub(crate) fn out_bytearray(py: Python<'_>, count: usize) -> PyResult<Bound<'_, PyByteArray>> {
    // new_with hands over zeroed memory.
    PyByteArray::new_with(py, count, |_| Ok(()))
}

/// The bytes of a bytearray as a mutable slice, for the core to read into
/// with the GIL released.
///
/// # Safety
/// Nothing may resize the bytearray or write it while the slice lives:
/// only give it a bytearray that no Python code can reach except through
/// read-only memoryviews (which pin its size).
pub(crate) unsafe fn bytearray_slice<'a>(b: &Bound<'_, PyByteArray>) -> &'a mut [u8] {
    let len = b.len();
    if len == 0 {
        return &mut [];
    }
    std::slice::from_raw_parts_mut(b.data(), len)
}

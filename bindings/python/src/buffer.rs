//! `nbd.Buffer` and the memory of aio commands.
//!
//! A Buffer wraps a Python object with the buffer protocol (a bytearray
//! unless made with `from_buffer`), as libnbd's does, so `to_buffer()` and
//! `from_buffer()` share memory with Python. When an aio command uses it,
//! the core gets that memory together with an anchor that holds a buffer
//! export of the object (`ctypes.c_char.from_buffer`): while the command
//! is in flight the object stays alive and cannot be resized (a bytearray
//! refuses with BufferError), and the core drops the anchor when the
//! command retires.

use std::sync::Arc;

use pyo3::exceptions::{PyBufferError, PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyInt, PySlice, PyType};

/// Asynchronous I/O persistent buffer.
#[pyclass(module = "nbd", name = "Buffer", frozen)]
pub struct Buffer {
    obj: Py<PyAny>,
}

fn builtin<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("builtins")?.getattr(name)
}

/// A flat byte view of a buffer-like object.
fn byte_view<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    builtin(obj.py(), "memoryview")?
        .call1((obj,))?
        .call_method1("cast", ("B",))
}

fn nbytes(obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    builtin(obj.py(), "memoryview")?
        .call1((obj,))?
        .getattr("nbytes")?
        .extract()
}

#[pymethods]
impl Buffer {
    /// Allocate an AIO buffer of len zero bytes, for nbd.NBD.aio_pread;
    /// given a bytes-like object instead of a size, a copy of it.
    #[new]
    #[pyo3(signature = (len))]
    fn new(len: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = len.py();
        if len.is_instance_of::<PyInt>() {
            let ba = PyByteArray::new_with(py, len.extract()?, |_| Ok(()))?;
            return Ok(Buffer {
                obj: ba.into_any().unbind(),
            });
        }
        nbytes(len)?;
        Ok(Buffer {
            obj: builtin(py, "bytearray")?.call1((len,))?.unbind(),
        })
    }

    /// Create an AIO buffer that shares an existing buffer-like object:
    /// changes to the original are seen by aio_pwrite, and aio_pread
    /// changes the original.
    #[classmethod]
    fn from_buffer(_cls: &Bound<'_, PyType>, buf: &Bound<'_, PyAny>) -> PyResult<Self> {
        nbytes(buf)?;
        Ok(Buffer {
            obj: buf.clone().unbind(),
        })
    }

    /// Create an AIO buffer holding a copy of a bytearray or other
    /// buffer-like object (anything else is passed to bytearray()).
    #[classmethod]
    fn from_bytearray(_cls: &Bound<'_, PyType>, ba: &Bound<'_, PyAny>) -> PyResult<Self> {
        let copy = builtin(ba.py(), "bytearray")?.call1((ba,))?;
        Ok(Buffer { obj: copy.unbind() })
    }

    /// Return the object holding the buffer's memory (shared, not copied).
    fn to_buffer(&self, py: Python<'_>) -> Py<PyAny> {
        self.obj.clone_ref(py)
    }

    /// Copy the buffer into a new bytearray.
    fn to_bytearray<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        builtin(py, "bytearray")?.call1((self.obj.bind(py),))
    }

    /// Return the size of the buffer in bytes.
    fn size(&self, py: Python<'_>) -> PyResult<usize> {
        nbytes(self.obj.bind(py))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        nbytes(self.obj.bind(py))
    }

    /// Return true if every byte of the buffer is zero. offset and size
    /// restrict the test to [offset, offset+size); size -1 means up to the
    /// end, and size 0 is always true.
    #[pyo3(signature = (offset = 0, size = -1))]
    fn is_zero(&self, py: Python<'_>, offset: i64, size: i64) -> PyResult<bool> {
        let obj = self.obj.bind(py);
        let len = nbytes(obj)?;
        // A negative offset is out of range too (IndexError, as libnbd's).
        let offset = match usize::try_from(offset) {
            Ok(o) if o <= len => o,
            _ => return Err(PyIndexError::new_err("offset out of range")),
        };
        let size = match size {
            -1 => len - offset,
            s if s < 0 || s as u64 > (len - offset) as u64 => {
                return Err(PyIndexError::new_err("size out of range"))
            }
            s => s as usize,
        };
        if let Ok(ba) = obj.cast::<PyByteArray>() {
            // SAFETY: no Python code runs while the slice is in use.
            let bytes = unsafe { ba.as_bytes() };
            return Ok(bytes[offset..offset + size].iter().all(|&b| b == 0));
        }
        let slice = PySlice::new(py, offset as isize, (offset + size) as isize, 1);
        let part = byte_view(obj)?.get_item(slice)?.call_method0("tobytes")?;
        Ok(part.cast::<PyBytes>()?.as_bytes().iter().all(|&b| b == 0))
    }

    /// buf[i] is a byte as an int, buf[i:j] a bytes copy of the range.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let item = byte_view(self.obj.bind(py))?.get_item(key)?;
        if key.is_instance_of::<PySlice>() {
            return item.call_method0("tobytes");
        }
        Ok(item)
    }

    /// buf[i] = int, or buf[i:j] = bytes of the same length.
    fn __setitem__(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        byte_view(self.obj.bind(py))?.set_item(key, value)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<nbd.Buffer of {} bytes>",
            nbytes(self.obj.bind(py))?
        ))
    }
}

/// The Python object behind a read's buffer and where its bytes are, so
/// that a chunk callback can be shown the piece it is about as a
/// read-only memoryview into that very object (as libnbd's module does):
/// a callback that keeps the view pins the buffer, which cannot then be
/// resized.
pub(crate) struct View {
    obj: Py<PyAny>,
    base: usize,
    len: usize,
}

impl View {
    /// A view source for a bytearray the read fills.
    pub(crate) fn of_bytearray(b: &Bound<'_, PyByteArray>) -> Arc<View> {
        Arc::new(View {
            obj: b.clone().into_any().unbind(),
            base: b.data() as usize,
            len: b.len(),
        })
    }
}

/// The Python argument for a piece `sub` of a read buffer: a read-only
/// memoryview of the buffer's object over exactly those bytes, or (when
/// `sub` is not inside the buffer `view` describes, or there is none) a
/// read-only memoryview of a copy.
pub(crate) fn subbuf<'py>(
    py: Python<'py>,
    view: Option<&View>,
    sub: &[u8],
) -> PyResult<Bound<'py, PyAny>> {
    let start = (sub.as_ptr() as usize).wrapping_sub(view.map_or(0, |v| v.base));
    if let Some(v) = view.filter(|v| start <= v.len && sub.len() <= v.len - start) {
        let slice = PySlice::new(py, start as isize, (start + sub.len()) as isize, 1);
        return byte_view(v.obj.bind(py))?
            .get_item(slice)?
            .call_method0("toreadonly");
    }
    builtin(py, "memoryview")?.call1((PyBytes::new(py, sub),))
}

/// The object whose memory a buffer argument is: an `nbd.Buffer`'s
/// underlying object, or the argument itself.
fn exporter<'py>(arg: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    match arg.cast::<Buffer>() {
        Ok(b) => b.get().obj.bind(arg.py()).clone(),
        Err(_) => arg.clone(),
    }
}

/// The memory of an aio read's buffer argument and the view source for
/// its chunk callbacks; as `persist(arg, true)` otherwise.
pub(crate) fn persist_read(arg: &Bound<'_, PyAny>) -> PyResult<(nbd::AioBuffer, Arc<View>)> {
    let obj = exporter(arg);
    let buf = persist(arg, true)?;
    let view = Arc::new(View {
        obj: obj.unbind(),
        base: buf.as_ptr() as usize,
        len: buf.len(),
    });
    Ok((buf, view))
}

/// The memory of an aio command's buffer argument: an `nbd.Buffer` or any
/// object with the buffer protocol. A read (`writable`) needs writable
/// memory; a write may also take read-only memory, which is used in place
/// when it is an immutable bytes object and copied otherwise.
pub(crate) fn persist(arg: &Bound<'_, PyAny>, writable: bool) -> PyResult<nbd::AioBuffer> {
    let py = arg.py();
    let obj = exporter(arg);
    if !writable {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            let s = bytes.as_bytes();
            let (ptr, len) = (s.as_ptr() as *mut u8, s.len());
            // SAFETY: bytes are immutable and kept alive by the anchor;
            // the core only reads the memory of a write.
            return Ok(unsafe {
                nbd::AioBuffer::from_raw_parts_keep(ptr, len, Box::new(bytes.clone().unbind()))
            });
        }
    }
    let len = nbytes(&obj)?;
    if len == 0 {
        return Ok(nbd::AioBuffer::new(0));
    }
    let ctypes = py.import("ctypes")?;
    match ctypes
        .getattr("c_char")?
        .call_method1("from_buffer", (&obj,))
    {
        Ok(anchor) => {
            let addr: usize = ctypes.call_method1("addressof", (&anchor,))?.extract()?;
            // SAFETY: the anchor holds a buffer export of `obj`: its `len`
            // bytes at `addr` stay allocated and in place until the core
            // drops the anchor, when the command retires.
            Ok(unsafe {
                nbd::AioBuffer::from_raw_parts_keep(addr as *mut u8, len, Box::new(anchor.unbind()))
            })
        }
        Err(_) if !writable => {
            let copy = byte_view(&obj)?.call_method0("tobytes")?;
            Ok(nbd::AioBuffer::from_vec(
                copy.cast::<PyBytes>()?.as_bytes().to_vec(),
            ))
        }
        Err(e) => {
            // As libnbd's module: a buffer that cannot be written (bytes,
            // a read-only view) is a BufferError; an object without the
            // buffer protocol stays a TypeError.
            let writable_protocol = builtin(py, "memoryview")?.call1((&obj,)).is_ok();
            let err = if writable_protocol {
                PyBufferError::new_err("underlying buffer is not writable: a read needs a writable, contiguous buffer (nbd.Buffer, bytearray, ...)")
            } else {
                PyTypeError::new_err("the buffer of a read must support the buffer protocol (nbd.Buffer, bytearray, ...)")
            };
            err.set_cause(py, Some(e));
            Err(err)
        }
    }
}

//! Buffers that outlive the call that starts an aio command.

use std::sync::Arc;

/// Memory for an asynchronous read or write. The engine keeps a clone until
/// the command retires, so the memory stays valid for the whole command.
///
/// An `AioBuffer` either owns its memory (`new`, `from_vec`) or borrows it
/// from a caller who promised to keep it valid (`from_raw_parts`, used by the
/// C library, where libnbd's contract puts that duty on the caller).
#[derive(Clone)]
pub struct AioBuffer {
    inner: Arc<Inner>,
}

struct Inner {
    ptr: *mut u8,
    len: usize,
    _owner: Option<Box<[u8]>>,
    /// Keeps foreign owners (a Python object, a Node Buffer) alive.
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
    /// Memory of the library's own that no caller ever sees unless a
    /// read filled it completely (the tokio API's pooled buffers): a read
    /// need not clear it first.
    private: bool,
}

// SAFETY: the memory is either owned by the buffer or guaranteed by the
// creator of a raw buffer to stay valid and be usable from any thread;
// concurrent access follows libnbd's rule that the caller does not touch a
// buffer while a command using it is in flight.
unsafe impl Send for Inner {}
unsafe impl Sync for Inner {}

impl AioBuffer {
    /// A zero-filled buffer of `len` bytes.
    pub fn new(len: usize) -> AioBuffer {
        AioBuffer::from_vec(vec![0; len])
    }

    /// A buffer holding these bytes.
    pub fn from_vec(v: Vec<u8>) -> AioBuffer {
        AioBuffer::from_box(v.into_boxed_slice(), false)
    }

    /// A buffer over memory that someone else owns.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `len` bytes until every
    /// clone of the returned buffer has been dropped, and nobody else may
    /// access it while a command using it is in flight.
    pub unsafe fn from_raw_parts(ptr: *mut u8, len: usize) -> AioBuffer {
        AioBuffer {
            inner: Arc::new(Inner {
                ptr,
                len,
                _owner: None,
                _keep: None,
                private: false,
            }),
        }
    }

    /// Like `from_raw_parts`, also keeping `keep` alive as long as the buffer.
    ///
    /// # Safety
    /// As for `from_raw_parts`; `keep` is typically the object owning `ptr`.
    pub unsafe fn from_raw_parts_keep(
        ptr: *mut u8,
        len: usize,
        keep: Box<dyn std::any::Any + Send + Sync>,
    ) -> AioBuffer {
        AioBuffer {
            inner: Arc::new(Inner {
                ptr,
                len,
                _owner: None,
                _keep: Some(keep),
                private: false,
            }),
        }
    }

    pub fn len(&self) -> usize {
        self.inner.len
    }

    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// A buffer owning this memory.
    fn from_box(mut owner: Box<[u8]>, private: bool) -> AioBuffer {
        let ptr = owner.as_mut_ptr();
        let len = owner.len();
        AioBuffer {
            inner: Arc::new(Inner {
                ptr,
                len,
                _owner: Some(owner),
                _keep: None,
                private,
            }),
        }
    }

    /// A zero-filled buffer of the library's own (see `Inner::private`).
    #[cfg(feature = "tokio")]
    pub(crate) fn private(len: usize) -> AioBuffer {
        AioBuffer::from_box(vec![0; len].into_boxed_slice(), true)
    }

    /// Whether this is a buffer of the library's own.
    pub(crate) fn is_private(&self) -> bool {
        self.inner.private
    }

    /// The memory back as a vector, when this is the last clone of a
    /// buffer that owns it; empty otherwise (the engine still holds it).
    #[cfg(feature = "tokio")]
    pub(crate) fn into_vec(self) -> Vec<u8> {
        Arc::try_unwrap(self.inner)
            .ok()
            .and_then(|inner| inner._owner)
            .map(Vec::from)
            .unwrap_or_default()
    }

    /// Whether another clone of this buffer exists (the engine still
    /// holds it).
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.inner) > 1
    }

    /// The start of the memory.
    pub fn as_ptr(&self) -> *mut u8 {
        self.inner.ptr
    }

    /// A copy of the current contents. Call it only when no command using
    /// the buffer is in flight.
    pub fn to_vec(&self) -> Vec<u8> {
        // SAFETY: ptr/len are valid per the constructors' contracts.
        unsafe { std::slice::from_raw_parts(self.inner.ptr, self.inner.len) }.to_vec()
    }

    /// The contents as a slice.
    ///
    /// # Safety
    /// No command using the buffer may be in flight while the slice lives.
    pub unsafe fn as_slice(&self) -> &[u8] {
        std::slice::from_raw_parts(self.inner.ptr, self.inner.len)
    }

    /// The contents as a mutable slice.
    ///
    /// # Safety
    /// No command using the buffer may be in flight, and no other slice of
    /// it may exist, while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice(&self) -> &mut [u8] {
        std::slice::from_raw_parts_mut(self.inner.ptr, self.inner.len)
    }
}

impl std::fmt::Debug for AioBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AioBuffer")
            .field("len", &self.inner.len)
            .finish()
    }
}

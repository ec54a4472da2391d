//! The per-thread "last error" that the C API's `nbd_get_error` and
//! `nbd_get_errno` report.
//!
//! libnbd keeps the most recent error of each thread in thread-local
//! storage, so it can be read even when `nbd_create` returned no handle.
//! The Rust API returns errors as values and does not need this; the C
//! layer calls [`set`] whenever a call fails and [`message`] / [`errno`]
//! to answer the two getters.

use std::cell::RefCell;
use std::ffi::CString;

use crate::Error;

struct LastError {
    /// "nbd_pread: ..." as C text, kept so `nbd_get_error` can return a
    /// pointer that stays valid until the next failing call.
    message: Option<CString>,
    errno: i32,
}

thread_local! {
    static LAST: RefCell<LastError> = const { RefCell::new(LastError { message: None, errno: 0 }) };
}

/// Record `err` as this thread's most recent error.
pub fn set(err: &Error) {
    set_raw(err.errno(), &err.to_string());
}

/// Record a message and errno directly (for errors made outside `Error`).
pub fn set_raw(errno: i32, message: &str) {
    // An interior NUL cannot be represented in C; cut the text there.
    let text = message.split('\0').next().unwrap_or("");
    let message = CString::new(text).ok();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        last.message = message;
        last.errno = errno;
    });
}

/// Forget this thread's error (libnbd does not clear on success, but the
/// C layer may want a clean slate in tests).
pub fn clear() {
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        last.message = None;
        last.errno = 0;
    });
}

/// This thread's most recent error message, if any.
pub fn message() -> Option<String> {
    LAST.with(|last| {
        last.borrow()
            .message
            .as_ref()
            .map(|m| m.to_string_lossy().into_owned())
    })
}

/// A pointer to this thread's most recent error message as a C string, or
/// NULL when there is none. It stays valid until this thread records
/// another error.
pub fn message_ptr() -> *const libc::c_char {
    LAST.with(|last| {
        last.borrow()
            .message
            .as_ref()
            .map_or(std::ptr::null(), |m| m.as_ptr())
    })
}

/// This thread's most recent errno (0 when none applies).
pub fn errno() -> i32 {
    LAST.with(|last| last.borrow().errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_per_thread() {
        set(&Error::new(libc::EINVAL, "bad").with_context("nbd_pread"));
        assert_eq!(message().as_deref(), Some("nbd_pread: bad"));
        assert_eq!(errno(), libc::EINVAL);
        assert!(!message_ptr().is_null());
        std::thread::spawn(|| {
            assert_eq!(message(), None);
            assert_eq!(errno(), 0);
            assert!(message_ptr().is_null());
        })
        .join()
        .unwrap();
        set_raw(0, "with\0nul");
        assert_eq!(message().as_deref(), Some("with"));
        clear();
        assert_eq!(message(), None);
    }
}

//! The owner of a C callback's `user_data`. The generated wrappers in
//! `generated/callbacks.rs` move one into each closure they hand to the
//! engine; the engine drops every closure exactly once, so `free` runs
//! exactly once, also when a call fails before the command exists.

use std::ffi::c_void;

/// `user_data` with the C function that frees it.
pub struct UserData {
    user_data: *mut c_void,
    free: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: libnbd's contract lets the library call a callback and its free
// function from whichever thread drives the handle, so C callers already
// make `user_data` usable from any thread.
unsafe impl Send for UserData {}

impl UserData {
    pub fn new(
        user_data: *mut c_void,
        free: Option<unsafe extern "C" fn(*mut c_void)>,
    ) -> UserData {
        UserData { user_data, free }
    }

    pub fn user_data(&self) -> *mut c_void {
        self.user_data
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the C caller gave `free` to be called once with
            // `user_data`; Drop runs once.
            unsafe { free(self.user_data) }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::generated::callbacks::{completion, nbd_completion_callback};

    static FREED: AtomicUsize = AtomicUsize::new(0);
    static CALLED: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn free_it(p: *mut std::ffi::c_void) {
        assert_eq!(p as usize, 42);
        FREED.fetch_add(1, Ordering::SeqCst);
    }

    unsafe extern "C" fn call_it(p: *mut std::ffi::c_void, error: *mut i32) -> i32 {
        assert_eq!(p as usize, 42);
        unsafe { *error = 7 };
        CALLED.fetch_add(1, Ordering::SeqCst);
        1
    }

    #[test]
    fn free_runs_once_when_called_dropped_or_never_callable() {
        let user_data = 42usize as *mut std::ffi::c_void;
        let cb = nbd_completion_callback {
            callback: Some(call_it),
            user_data,
            free: Some(free_it),
        };
        let mut f = unsafe { completion(cb) }.expect("a closure");
        let mut err = 0;
        assert_eq!(f(&mut err), 1);
        assert_eq!(
            (
                err,
                CALLED.load(Ordering::SeqCst),
                FREED.load(Ordering::SeqCst)
            ),
            (7, 1, 0)
        );
        drop(f);
        assert_eq!(FREED.load(Ordering::SeqCst), 1);
        // No function but a free: a closure that is never called (it
        // answers 0) and frees only when the engine drops it.
        let cb = nbd_completion_callback {
            callback: None,
            user_data,
            free: Some(free_it),
        };
        let mut f = unsafe { completion(cb) }.expect("a closure owning user_data");
        let mut err = 0;
        assert_eq!(f(&mut err), 0);
        assert_eq!(
            (CALLED.load(Ordering::SeqCst), FREED.load(Ordering::SeqCst)),
            (1, 1)
        );
        drop(f);
        assert_eq!(FREED.load(Ordering::SeqCst), 2);
        // Neither function nor free: no closure at all.
        let cb = nbd_completion_callback {
            callback: None,
            user_data,
            free: None,
        };
        assert!(unsafe { completion(cb) }.is_none());
    }
}

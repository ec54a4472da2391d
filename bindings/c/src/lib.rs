//! The C library: libnbd's C API over the `nbd` engine.
//!
//! Every call except the four below is generated from api.yaml into
//! `generated/exports.rs`; the helpers it uses live here: argument and
//! result conversion (`convert`), the callback owner whose drop calls the
//! C `free` (`callbacks`), and the panic guard (`guard`).
//! `cargo xtask build-c` links the staticlib into libnbd.so.0 with the
//! symbol versions of `libnbd.map`.

#![allow(non_camel_case_types)]

pub mod callbacks;
pub mod convert;
pub mod generated;
pub mod guard;

use std::ffi::{c_char, c_int};

use guard::guard;

/// C `struct nbd_handle`: a boxed engine handle, opaque to C.
pub type nbd_handle = nbd::Handle;

/// C `nbd_create`: a new handle, or NULL with the error in
/// `nbd_get_error`.
#[no_mangle]
pub extern "C" fn nbd_create() -> *mut nbd_handle {
    guard("nbd_create", std::ptr::null_mut(), || {
        let h = nbd::Handle::new()?;
        Ok(Box::into_raw(Box::new(h)))
    })
}

/// C `nbd_close`: close the connection and free the handle. NULL is
/// allowed and does nothing, as with free(3).
///
/// # Safety
/// `h` is NULL or a handle from `nbd_create` not yet closed, and no other
/// thread uses it.
#[no_mangle]
pub unsafe extern "C" fn nbd_close(h: *mut nbd_handle) {
    if h.is_null() {
        return;
    }
    // SAFETY: `h` is a live handle per the contract above.
    if unsafe { &*h }.held_by_this_thread() {
        // Called from one of the handle's own callbacks: the call that
        // runs the callback still uses the handle, so freeing it now
        // would pull it from under that call. Refuse (libnbd deadlocks).
        guard("nbd_close", (), || {
            Err(nbd::Error::new(
                libc::EDEADLK,
                "cannot close a handle from its own callback; the handle is left open",
            ))
        });
        return;
    }
    // SAFETY: per the contract above, `h` came from Box::into_raw in
    // nbd_create and is dropped once. Dropping runs the engine's
    // shutdown, which drops (and so frees) every pending callback.
    let h = unsafe { Box::from_raw(h) };
    guard("nbd_close", (), move || {
        drop(h);
        Ok(())
    })
}

/// C `nbd_get_error`: this thread's last error message, valid until the
/// next failing call in this thread, or NULL.
#[no_mangle]
pub extern "C" fn nbd_get_error() -> *const c_char {
    nbd::last_error::message_ptr()
}

/// C `nbd_get_errno`: this thread's last errno, 0 when none applies.
#[no_mangle]
pub extern "C" fn nbd_get_errno() -> c_int {
    nbd::last_error::errno()
}

//! Failures of a stub and the OCaml exceptions they become:
//! `NBD.Error of string * Unix.error option` and `NBD.Closed of string`.
//!
//! The exceptions are built here and returned to NBD.ml, which raises
//! them: raising from Rust would unwind OCaml-style over Rust frames.

use std::any::Any;
use std::ffi::CStr;

use ocaml_interop::{BoxRoot, OCaml, OCamlException, OCamlRuntime, ToOCaml};
use ocaml_sys::Value as RawOCaml;

/// Why a stub failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The core failed: `NBD.Error`.
    Nbd(nbd::Error),
    /// The handle was closed: `NBD.Closed "NBD.<call>"`.
    Closed(&'static str),
}

impl From<nbd::Error> for Failure {
    fn from(e: nbd::Error) -> Failure {
        Failure::Nbd(e)
    }
}

impl Failure {
    /// An argument the core cannot take (out of range, not UTF-8).
    pub(crate) fn invalid(arg: &str, what: &str) -> Failure {
        Failure::Nbd(nbd::Error::new(libc::EINVAL, format!("{arg}: {what}")))
    }

    /// A panic in the binding or the core, reported rather than unwound
    /// into OCaml.
    pub(crate) fn from_panic(panic: Box<dyn Any + Send>) -> Failure {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Failure::Nbd(nbd::Error::new(
            libc::EIO,
            format!("internal error: {what}"),
        ))
    }

    /// The exception value, not raised.
    pub(crate) fn to_exn(&self, cr: &mut OCamlRuntime) -> BoxRoot<OCamlException> {
        match self {
            Failure::Nbd(e) => {
                let msg: BoxRoot<String> = e.to_string().to_boxroot(cr);
                let errno = unix_error_option(cr, e.errno());
                // SAFETY: both values are rooted.
                exception(
                    cr,
                    c"NBD.Error",
                    &[&|| unsafe { msg.get_raw() }, &|| unsafe { errno.get_raw() }],
                )
            }
            Failure::Closed(name) => {
                let msg: BoxRoot<String> = (*name).to_boxroot(cr);
                // SAFETY: the value is rooted.
                exception(cr, c"NBD.Closed", &[&|| unsafe { msg.get_raw() }])
            }
        }
    }
}

/// Reads a rooted value at the moment it is stored.
type Field<'a> = &'a dyn Fn() -> RawOCaml;

/// `Exn (args...)` for an exception registered by NBD.ml with
/// `Callback.register_exception`.
fn exception(cr: &mut OCamlRuntime, name: &CStr, args: &[Field<'_>]) -> BoxRoot<OCamlException> {
    // SAFETY: NBD.ml registers the exceptions when the module is
    // initialised, before any stub can run; the slot pointer stays valid.
    // `caml_alloc` initialises the fields, which are then set from rooted
    // values, read after the allocation, with `store_field` (caml_modify).
    unsafe {
        let slot = ocaml_sys::caml_named_value(name.as_ptr());
        assert!(
            !slot.is_null(),
            "{name:?} is not registered: NBD.ml was not initialised"
        );
        let block = ocaml_sys::caml_alloc(1 + args.len(), 0);
        ocaml_sys::store_field(block, 0, *slot);
        for (i, a) in args.iter().enumerate() {
            ocaml_sys::store_field(block, 1 + i, a());
        }
        BoxRoot::new(OCaml::new(cr, block))
    }
}

/// The constant constructors of OCaml 4.13's `Unix.error`, in order; any
/// other errno is `EUNKNOWNERR n`. The first match wins, as in the unix
/// library (EAGAIN before EWOULDBLOCK, which Linux makes equal).
#[rustfmt::skip]
const UNIX_ERRORS: [i32; 68] = [
    libc::E2BIG, libc::EACCES, libc::EAGAIN, libc::EBADF, libc::EBUSY, libc::ECHILD,
    libc::EDEADLK, libc::EDOM, libc::EEXIST, libc::EFAULT, libc::EFBIG, libc::EINTR,
    libc::EINVAL, libc::EIO, libc::EISDIR, libc::EMFILE, libc::EMLINK, libc::ENAMETOOLONG,
    libc::ENFILE, libc::ENODEV, libc::ENOENT, libc::ENOEXEC, libc::ENOLCK, libc::ENOMEM,
    libc::ENOSPC, libc::ENOSYS, libc::ENOTDIR, libc::ENOTEMPTY, libc::ENOTTY, libc::ENXIO,
    libc::EPERM, libc::EPIPE, libc::ERANGE, libc::EROFS, libc::ESPIPE, libc::ESRCH,
    libc::EXDEV, libc::EWOULDBLOCK, libc::EINPROGRESS, libc::EALREADY, libc::ENOTSOCK,
    libc::EDESTADDRREQ, libc::EMSGSIZE, libc::EPROTOTYPE, libc::ENOPROTOOPT,
    libc::EPROTONOSUPPORT, libc::ESOCKTNOSUPPORT, libc::EOPNOTSUPP, libc::EPFNOSUPPORT,
    libc::EAFNOSUPPORT, libc::EADDRINUSE, libc::EADDRNOTAVAIL, libc::ENETDOWN,
    libc::ENETUNREACH, libc::ENETRESET, libc::ECONNABORTED, libc::ECONNRESET, libc::ENOBUFS,
    libc::EISCONN, libc::ENOTCONN, libc::ESHUTDOWN, libc::ETOOMANYREFS, libc::ETIMEDOUT,
    libc::ECONNREFUSED, libc::EHOSTDOWN, libc::EHOSTUNREACH, libc::ELOOP, libc::EOVERFLOW,
];

/// `Some e` for an errno, `None` for 0.
fn unix_error_option(cr: &mut OCamlRuntime, errno: i32) -> BoxRoot<Option<()>> {
    // SAFETY: blocks are allocated with caml_alloc and filled with
    // immediate values or rooted ones.
    unsafe {
        if errno == 0 {
            return BoxRoot::new(OCaml::new(cr, ocaml_sys::NONE));
        }
        let error: RawOCaml = match UNIX_ERRORS.iter().position(|&e| e == errno) {
            Some(i) => ocaml_sys::val_int(i as isize),
            None => {
                let b = ocaml_sys::caml_alloc(1, 0);
                ocaml_sys::store_field(b, 0, ocaml_sys::val_int(errno as isize));
                b
            }
        };
        let error: BoxRoot<()> = BoxRoot::new(OCaml::new(cr, error));
        let some = ocaml_sys::caml_alloc(1, 0);
        ocaml_sys::store_field(some, 0, error.get_raw());
        BoxRoot::new(OCaml::new(cr, some))
    }
}

/// The errno of a `Unix.error` value.
pub(crate) fn errno_of_unix_error(v: RawOCaml) -> i32 {
    // SAFETY: `v` is a Unix.error: an immediate index or EUNKNOWNERR's
    // block holding an int.
    unsafe {
        if ocaml_sys::is_long(v) {
            let i = ocaml_sys::int_val(v) as usize;
            UNIX_ERRORS.get(i).copied().unwrap_or(libc::EINVAL)
        } else {
            ocaml_sys::int_val(*ocaml_sys::field(v, 0)) as i32
        }
    }
}

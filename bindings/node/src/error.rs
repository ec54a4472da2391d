//! `NbdError`: how a failed core call reaches JavaScript.
//!
//! The class is defined in `index.js` (a subclass of `Error` with `.errno`,
//! the positive errno number as libnbd reports it, and `.code`, its
//! symbolic name such as `"ENOTCONN"`), which hands it to the addon once at
//! load through `__setErrorClass`. Each thread running JavaScript (the main
//! thread, each worker) loads the addon afresh, so the class is kept per
//! thread. Without it (the addon required directly) a plain `Error` with
//! the same two properties is thrown.

use std::cell::RefCell;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::js::{self, JsRef};

thread_local! {
    static ERROR_CLASS: RefCell<Option<JsRef>> = const { RefCell::new(None) };
}

/// Remember the `NbdError` class of this thread's JavaScript environment.
pub(crate) fn set_class(env: sys::napi_env, class: sys::napi_value) -> Result<()> {
    let r = JsRef::new(env, class)?;
    ERROR_CLASS.with(|c| *c.borrow_mut() = Some(r));
    Ok(())
}

/// A JavaScript `NbdError` for a core error, with `.cause` when a callback's
/// exception made the call fail. Its message names the call
/// ("nbd_pread: ...").
pub(crate) fn to_js(
    env: sys::napi_env,
    e: &nbd::Error,
    cause: Option<Error>,
) -> Result<sys::napi_value> {
    let msg = js::string(env, &e.to_string())?;
    let errno = js::i32(env, e.errno())?;
    let class = ERROR_CLASS.with(|c| c.borrow().as_ref().map(|r| r.value(env)));
    let cause = match cause {
        Some(c) => Some(unsafe { ToNapiValue::to_napi_value(env, c)? }),
        None => None,
    };
    match class {
        Some(class) => {
            let class = class?;
            // new NbdError(message, errno, { cause })
            let options = match cause {
                Some(c) => {
                    let o = js::object(env)?;
                    js::set(env, o, "cause", c)?;
                    o
                }
                None => js::undefined(env)?,
            };
            let mut obj = ptr::null_mut();
            js::check(env, unsafe {
                sys::napi_new_instance(env, class, 3, [msg, errno, options].as_ptr(), &mut obj)
            })?;
            Ok(obj)
        }
        None => {
            let mut obj = ptr::null_mut();
            js::check(env, unsafe {
                sys::napi_create_error(env, ptr::null_mut(), msg, &mut obj)
            })?;
            js::set(env, obj, "errno", errno)?;
            if let Some(code) = errno_name(e.errno()) {
                js::set(env, obj, "code", js::string(env, code)?)?;
            }
            if let Some(c) = cause {
                js::set(env, obj, "cause", c)?;
            }
            Ok(obj)
        }
    }
}

/// The same, as the error a napi method returns to throw it.
pub(crate) fn throwable(env: sys::napi_env, e: &nbd::Error, cause: Option<Error>) -> Error {
    match to_js(env, e, cause) {
        Ok(obj) => Error::from(unsafe { Unknown::from_raw_unchecked(env, obj) }),
        Err(err) => err,
    }
}

/// The error of any method of a closed handle: EBADF, as for a closed file
/// descriptor.
pub(crate) fn closed() -> nbd::Error {
    nbd::Error::new(libc::EBADF, "the NBD handle has been closed")
}

/// The error of a method called from inside a callback of the same handle,
/// which would otherwise wait forever for the lock the callback runs under.
pub(crate) fn reentered() -> nbd::Error {
    nbd::Error::new(
        libc::EDEADLK,
        "a method of this handle was called from inside one of its own callbacks",
    )
}

/// The error of a command whose callback threw but which the core let
/// succeed (callbacks without an error pointer).
pub(crate) fn callback_threw(call: &'static str) -> nbd::Error {
    nbd::Error::new(libc::EPROTO, "a callback threw an exception").with_context(call)
}

/// The symbolic name of an errno number (`"ESHUTDOWN"`), for `.code`.
/// Node's own table (`os.constants.errno`) lacks many that NBD reports.
pub(crate) fn errno_name(errno: i32) -> Option<&'static str> {
    macro_rules! names {
        ($($name:ident),* $(,)?) => {
            match errno {
                $(libc::$name => Some(stringify!($name)),)*
                _ => None,
            }
        };
    }
    // Aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP) share a number with a name
    // listed here and are left out.
    names!(
        EPERM,
        ENOENT,
        ESRCH,
        EINTR,
        EIO,
        ENXIO,
        E2BIG,
        ENOEXEC,
        EBADF,
        ECHILD,
        EAGAIN,
        ENOMEM,
        EACCES,
        EFAULT,
        ENOTBLK,
        EBUSY,
        EEXIST,
        EXDEV,
        ENODEV,
        ENOTDIR,
        EISDIR,
        EINVAL,
        ENFILE,
        EMFILE,
        ENOTTY,
        ETXTBSY,
        EFBIG,
        ENOSPC,
        ESPIPE,
        EROFS,
        EMLINK,
        EPIPE,
        EDOM,
        ERANGE,
        EDEADLK,
        ENAMETOOLONG,
        ENOLCK,
        ENOSYS,
        ENOTEMPTY,
        ELOOP,
        ENOMSG,
        EIDRM,
        ENOSTR,
        ENODATA,
        ETIME,
        ENOSR,
        ENOLINK,
        EPROTO,
        EMULTIHOP,
        EBADMSG,
        EOVERFLOW,
        EILSEQ,
        EUSERS,
        ENOTSOCK,
        EDESTADDRREQ,
        EMSGSIZE,
        EPROTOTYPE,
        ENOPROTOOPT,
        EPROTONOSUPPORT,
        ESOCKTNOSUPPORT,
        EOPNOTSUPP,
        EPFNOSUPPORT,
        EAFNOSUPPORT,
        EADDRINUSE,
        EADDRNOTAVAIL,
        ENETDOWN,
        ENETUNREACH,
        ENETRESET,
        ECONNABORTED,
        ECONNRESET,
        ENOBUFS,
        EISCONN,
        ENOTCONN,
        ESHUTDOWN,
        ETOOMANYREFS,
        ETIMEDOUT,
        ECONNREFUSED,
        EHOSTDOWN,
        EHOSTUNREACH,
        EALREADY,
        EINPROGRESS,
        ESTALE,
        EDQUOT,
        ECANCELED,
        EOWNERDEAD,
        ENOTRECOVERABLE,
        EREMOTEIO,
        ENOMEDIUM,
        EMEDIUMTYPE,
        EKEYEXPIRED,
        EKEYREJECTED,
        EKEYREVOKED,
        ENOKEY,
    )
}

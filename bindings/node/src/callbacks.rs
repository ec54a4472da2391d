//! Calling JavaScript functions from the core's callbacks.
//!
//! The core runs every callback on the thread that called into it, and
//! this binding only calls into the core from the JavaScript thread (the
//! methods, and the driver's event handler), so a callback always finds
//! its function on its own thread and calls it directly.
//!
//! A function's result maps by the core's policy (`nbd::callback`, shared
//! with the other bindings): a number is the callback's return value,
//! anything else counts as 0. Callbacks with an `int *error` get an object
//! `{ value }` whose `value` the function may set. An exception never
//! escapes into the core and is never ignored: the callback returns -1
//! with the error set (EPROTO unless the function set another), which
//! fails the command, and the first exception is kept in the `Raised` of
//! the call or command it belongs to, which throws (or rejects) with it as
//! the `NbdError`'s `cause`.

use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use nbd::callback::{self, FirstRaised, Outcome};

use napi::bindgen_prelude::*;
use napi::sys;

use crate::js::{self, JsRef};

/// Where the callbacks of one call (or one asynchronous command) leave the
/// first exception they threw (the cause of the failure); later ones are
/// printed to stderr, as the Python and OCaml bindings do.
#[derive(Default, Clone)]
pub(crate) struct Raised(FirstRaised<Error>);

impl Raised {
    fn keep(&self, callback: &str, exc: Error) {
        if let Some(later) = self.0.keep(exc) {
            eprintln!(
                "libnbd: {callback} callback: uncaught JavaScript exception: {}",
                later.reason
            );
        }
    }

    /// The exception, if a callback threw one since the last `take`.
    pub(crate) fn take(&self) -> Option<Error> {
        self.0.take()
    }

    /// The result of a call (or its command) once its callbacks have all
    /// run, by the core's policy: the core's error with the exception as
    /// its cause, or, for a call that succeeded although a callback threw,
    /// `callback_threw` (the error to raise then) with it.
    pub(crate) fn settle<T>(
        &self,
        ret: nbd::Result<T>,
        callback_threw: impl FnOnce() -> nbd::Error,
    ) -> std::result::Result<T, (nbd::Error, Option<Error>)> {
        self.0.settle(ret).map_err(|f| {
            let error = if f.only_callback {
                callback_threw()
            } else {
                f.error
            };
            (error, f.raised)
        })
    }
}

/// What every callback of one handle shares: where exceptions go, and the
/// count of JavaScript callbacks running, during which the handle's lock is
/// held, so methods of the same handle must refuse to run.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) raised: Raised,
    pub(crate) busy: Arc<AtomicU32>,
}

/// A JavaScript function used as a core callback.
pub(crate) struct JsCallback {
    func: JsRef,
    /// The callback's name in messages (`extent`, `completion`, ...).
    name: String,
    cx: Context,
}

impl JsCallback {
    /// Take a function argument; anything else is a `TypeError`.
    pub(crate) fn new(
        env: &Env,
        f: sys::napi_value,
        name: &str,
        cx: Context,
    ) -> Result<JsCallback> {
        let env = env.raw();
        if js::type_of(env, f)? != sys::ValueType::napi_function {
            return Err(Error::new(
                Status::FunctionExpected,
                format!("the {name} callback must be a function"),
            ));
        }
        Ok(JsCallback {
            func: JsRef::new(env, f)?,
            name: name.to_string(),
            cx,
        })
    }

    /// Call the function with the arguments `build` makes (given the
    /// `{ value }` holder of `*error`, or undefined) and map its result.
    pub(crate) fn invoke<F>(&self, error: Option<&mut i32>, build: F) -> i32
    where
        F: FnOnce(sys::napi_env, sys::napi_value) -> Result<Vec<sys::napi_value>>,
    {
        if !self.func.on_own_thread() {
            // Cannot happen (see the module comment); fail the command
            // rather than touch JavaScript from a foreign thread.
            return callback::result(Outcome::Raised, error, None);
        }
        let env = self.func.env();
        self.cx.busy.fetch_add(1, Ordering::SeqCst);
        let ret = js::scoped(env, || {
            let (outcome, left) = self.call(env, error.as_deref().copied(), build);
            callback::result(outcome, error, left)
        });
        self.cx.busy.fetch_sub(1, Ordering::SeqCst);
        ret
    }

    /// Call the function; `error` is `*error`'s value for callbacks that
    /// have one. Returns what the function did and the value it left in
    /// `{ value }` (None when unreadable); exceptions go to `Raised`.
    fn call<F>(&self, env: sys::napi_env, error: Option<i32>, build: F) -> (Outcome, Option<i32>)
    where
        F: FnOnce(sys::napi_env, sys::napi_value) -> Result<Vec<sys::napi_value>>,
    {
        let holder = match error {
            Some(e) => {
                js::object(env).and_then(|h| js::set(env, h, "value", js::i32(env, e)?).map(|()| h))
            }
            None => js::undefined(env),
        };
        let holder = match holder {
            Ok(h) => h,
            Err(exc) => return self.raised(exc),
        };
        let mut outcome = match self.call_js(env, holder, build) {
            Ok(v) => Outcome::Returned(v),
            Err(exc) => {
                self.cx.raised.keep(&self.name, exc);
                Outcome::Raised
            }
        };
        if error.is_none() {
            return (outcome, None);
        }
        // Read back `*error` even when the function threw, so that a value
        // it set before throwing wins over EPROTO.
        let left = match js::get(env, holder, "value").and_then(|v| js::number_of(env, v)) {
            Ok(Some(v)) if v.fract() == 0.0 && v >= i32::MIN as f64 && v <= i32::MAX as f64 => {
                Some(v as i32)
            }
            Ok(_) if outcome == Outcome::Raised => None,
            Ok(_) => {
                let exc = Error::new(
                    Status::InvalidArg,
                    "error.value must be an integer errno".to_string(),
                );
                self.cx.raised.keep(&self.name, exc);
                outcome = Outcome::Raised;
                None
            }
            Err(exc) => {
                self.cx.raised.keep(&self.name, exc);
                outcome = Outcome::Raised;
                None
            }
        };
        (outcome, left)
    }

    fn raised(&self, exc: Error) -> (Outcome, Option<i32>) {
        self.cx.raised.keep(&self.name, exc);
        (Outcome::Raised, None)
    }

    /// Call the function; a number it returns is the callback's value
    /// (None for anything else).
    fn call_js<F>(
        &self,
        env: sys::napi_env,
        holder: sys::napi_value,
        build: F,
    ) -> Result<Option<i64>>
    where
        F: FnOnce(sys::napi_env, sys::napi_value) -> Result<Vec<sys::napi_value>>,
    {
        let args = build(env, holder)?;
        let func = self.func.value(env)?;
        let this = js::undefined(env)?;
        let mut ret = ptr::null_mut();
        js::check(env, unsafe {
            sys::napi_call_function(env, this, func, args.len(), args.as_ptr(), &mut ret)
        })?;
        Ok(js::number_of(env, ret)?
            .filter(|n| n.is_finite())
            .map(|n| n as i64))
    }
}

/// The `{ length, flags }` object of one 64-bit extent.
pub(crate) fn extent(env: sys::napi_env, e: &nbd::Extent) -> Result<sys::napi_value> {
    let o = js::object(env)?;
    js::set(env, o, "length", js::u64(env, e.length)?)?;
    js::set(env, o, "flags", js::u64(env, e.flags)?)?;
    Ok(o)
}

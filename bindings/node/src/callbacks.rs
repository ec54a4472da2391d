//! Calling JavaScript functions from the core's callbacks.
//!
//! The core runs every callback on the thread that called into it, and
//! this binding only calls into the core from the JavaScript thread (the
//! methods, and the driver's event handler), so a callback always finds
//! its function on its own thread and calls it directly.
//!
//! A function's result maps as libnbd's bindings do: a number is the
//! callback's return value, anything else counts as 0. Callbacks with an
//! `int *error` get an object `{ value }` whose `value` the function may
//! set. An exception never escapes into the core and is never ignored: the
//! callback returns -1 with the error set (EPROTO unless the function set
//! another), which fails the command, and the exception is kept in the
//! `Raised` of the call or command it belongs to, which throws (or
//! rejects) with it as the `NbdError`'s `cause`.

use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi::sys;

use crate::js::{self, JsRef};

/// Where the callbacks of one call (or one asynchronous command) leave the
/// first exception they threw.
#[derive(Default, Clone)]
pub(crate) struct Raised(Arc<Mutex<Option<Error>>>);

impl Raised {
    fn keep(&self, exc: Error) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(exc);
        }
    }

    /// The exception, if a callback threw one since the last `take`.
    pub(crate) fn take(&self) -> Option<Error> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
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
    cx: Context,
}

impl JsCallback {
    /// Take a function argument; anything else is a `TypeError`.
    pub(crate) fn new(env: &Env, f: sys::napi_value, name: &str, cx: Context) -> Result<JsCallback> {
        let env = env.raw();
        if js::type_of(env, f)? != sys::ValueType::napi_function {
            return Err(Error::new(Status::FunctionExpected, format!("the {name} callback must be a function")));
        }
        Ok(JsCallback { func: JsRef::new(env, f)?, cx })
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
            if let Some(e) = error {
                *e = libc::EPROTO;
            }
            return -1;
        }
        let env = self.func.env();
        self.cx.busy.fetch_add(1, Ordering::SeqCst);
        let ret = js::scoped(env, || match self.call(env, error, build) {
            Ok(r) => r,
            Err(exc) => {
                self.cx.raised.keep(exc);
                -1
            }
        });
        self.cx.busy.fetch_sub(1, Ordering::SeqCst);
        ret
    }

    fn call<F>(&self, env: sys::napi_env, error: Option<&mut i32>, build: F) -> Result<i32>
    where
        F: FnOnce(sys::napi_env, sys::napi_value) -> Result<Vec<sys::napi_value>>,
    {
        let holder = match error.as_deref() {
            Some(&e) => {
                let h = js::object(env)?;
                js::set(env, h, "value", js::i32(env, e)?)?;
                h
            }
            None => js::undefined(env)?,
        };
        let outcome = self.call_js(env, holder, build);
        // Read back `*error` even when the function threw, so that a value
        // it set before throwing wins over EPROTO.
        if let Some(e) = error {
            let set = js::get(env, holder, "value").and_then(|v| js::number_of(env, v));
            match (&outcome, set) {
                (_, Ok(Some(v))) if v.fract() == 0.0 && v >= i32::MIN as f64 && v <= i32::MAX as f64 => *e = v as i32,
                (Ok(_), Ok(_)) => {
                    return Err(Error::new(Status::InvalidArg, "error.value must be an integer errno".to_string()))
                }
                (_, Err(exc)) => return Err(exc),
                (Err(_), Ok(_)) => {}
            }
            if outcome.is_err() && *e == 0 {
                *e = libc::EPROTO;
            }
        }
        outcome
    }

    fn call_js<F>(&self, env: sys::napi_env, holder: sys::napi_value, build: F) -> Result<i32>
    where
        F: FnOnce(sys::napi_env, sys::napi_value) -> Result<Vec<sys::napi_value>>,
    {
        let args = build(env, holder)?;
        let func = self.func.value(env)?;
        let this = js::undefined(env)?;
        let mut ret = ptr::null_mut();
        js::check(env, unsafe { sys::napi_call_function(env, this, func, args.len(), args.as_ptr(), &mut ret) })?;
        // A number is the callback's return value; anything else is 0.
        Ok(match js::number_of(env, ret)? {
            Some(n) if n.is_finite() => n.clamp(i32::MIN as f64, i32::MAX as f64) as i32,
            _ => 0,
        })
    }
}

/// The `{ length, flags }` object of one 64-bit extent.
pub(crate) fn extent(env: sys::napi_env, e: &nbd::Extent) -> Result<sys::napi_value> {
    let o = js::object(env)?;
    js::set(env, o, "length", js::u64(env, e.length)?)?;
    js::set(env, o, "flags", js::u64(env, e.flags)?)?;
    Ok(o)
}

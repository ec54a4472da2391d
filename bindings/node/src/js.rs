//! Small helpers over raw Node-API calls: making values, reading and
//! setting properties, and references that belong to one thread.
//!
//! Every function here must run on the thread of `env`, inside a handle
//! scope; the callers (napi methods, the driver's thread-safe-function
//! callback, core callbacks invoked from those) guarantee it.

use std::ffi::c_void;
use std::ptr;
use std::thread::ThreadId;

use napi::bindgen_prelude::*;
use napi::sys;

/// A Node-API status as a `Result`: a pending JavaScript exception is taken
/// (so that it does not stay pending) and returned as the error.
pub(crate) fn check(env: sys::napi_env, status: sys::napi_status) -> Result<()> {
    match status {
        sys::Status::napi_ok => Ok(()),
        sys::Status::napi_pending_exception => Err(take_exception(env)),
        s => Err(Error::new(
            Status::from(s),
            "a Node-API call failed".to_string(),
        )),
    }
}

/// The pending exception, cleared, kept as a napi error that gives the
/// original value back on this thread (primitives included).
pub(crate) fn take_exception(env: sys::napi_env) -> Error {
    let mut exc = ptr::null_mut();
    let status = unsafe { sys::napi_get_and_clear_last_exception(env, &mut exc) };
    if status != sys::Status::napi_ok || exc.is_null() {
        return Error::new(
            Status::PendingException,
            "a JavaScript exception was lost".to_string(),
        );
    }
    Error::from_unknown_without_coercion(unsafe { Unknown::from_raw_unchecked(env, exc) })
}

pub(crate) fn undefined(env: sys::napi_env) -> Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    check(env, unsafe { sys::napi_get_undefined(env, &mut v) })?;
    Ok(v)
}

pub(crate) fn string(env: sys::napi_env, s: &str) -> Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    check(env, unsafe {
        sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v)
    })?;
    Ok(v)
}

pub(crate) fn i32(env: sys::napi_env, n: i32) -> Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    check(env, unsafe { sys::napi_create_int32(env, n, &mut v) })?;
    Ok(v)
}

pub(crate) fn u32(env: sys::napi_env, n: u32) -> Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    check(env, unsafe { sys::napi_create_uint32(env, n, &mut v) })?;
    Ok(v)
}

/// A 64-bit integer as a JavaScript number. Offsets, lengths and counts
/// that NBD servers report stay far below 2^53, where numbers are exact.
pub(crate) fn f64(env: sys::napi_env, n: f64) -> Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    check(env, unsafe { sys::napi_create_double(env, n, &mut v) })?;
    Ok(v)
}

pub(crate) fn u64(env: sys::napi_env, n: u64) -> Result<sys::napi_value> {
    f64(env, n as f64)
}

#[allow(dead_code)] // for int64 callback arguments
pub(crate) fn i64(env: sys::napi_env, n: i64) -> Result<sys::napi_value> {
    f64(env, n as f64)
}

/// A new `Buffer` holding a copy of `bytes`.
pub(crate) fn buffer(env: sys::napi_env, bytes: &[u8]) -> Result<sys::napi_value> {
    let mut data = ptr::null_mut();
    let mut v = ptr::null_mut();
    check(env, unsafe {
        sys::napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr().cast(), &mut data, &mut v)
    })?;
    Ok(v)
}

/// An array of the values `items` makes.
pub(crate) fn array<T>(
    env: sys::napi_env,
    items: &[T],
    mut make: impl FnMut(sys::napi_env, &T) -> Result<sys::napi_value>,
) -> Result<sys::napi_value> {
    let mut arr = ptr::null_mut();
    check(env, unsafe {
        sys::napi_create_array_with_length(env, items.len(), &mut arr)
    })?;
    for (i, item) in items.iter().enumerate() {
        let v = make(env, item)?;
        check(env, unsafe { sys::napi_set_element(env, arr, i as u32, v) })?;
    }
    Ok(arr)
}

pub(crate) fn object(env: sys::napi_env) -> Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    check(env, unsafe { sys::napi_create_object(env, &mut v) })?;
    Ok(v)
}

pub(crate) fn set(
    env: sys::napi_env,
    obj: sys::napi_value,
    key: &str,
    value: sys::napi_value,
) -> Result<()> {
    let key = string(env, key)?;
    check(env, unsafe { sys::napi_set_property(env, obj, key, value) })
}

pub(crate) fn get(env: sys::napi_env, obj: sys::napi_value, key: &str) -> Result<sys::napi_value> {
    let key = string(env, key)?;
    let mut v = ptr::null_mut();
    check(env, unsafe {
        sys::napi_get_property(env, obj, key, &mut v)
    })?;
    Ok(v)
}

pub(crate) fn type_of(env: sys::napi_env, v: sys::napi_value) -> Result<sys::napi_valuetype> {
    let mut t = 0;
    check(env, unsafe { sys::napi_typeof(env, v, &mut t) })?;
    Ok(t)
}

/// A callback's `{ value }` holder for its `int *error`, as a number.
pub(crate) fn number_of(env: sys::napi_env, v: sys::napi_value) -> Result<Option<f64>> {
    if type_of(env, v)? != sys::ValueType::napi_number {
        return Ok(None);
    }
    let mut n = 0.0;
    check(env, unsafe { sys::napi_get_value_double(env, v, &mut n) })?;
    Ok(Some(n))
}

/// A strong reference to a JavaScript value (an object or a function),
/// usable from Rust values that must be `Send` because the core's callback
/// boxes are.
///
/// A Node-API reference belongs to the thread of its environment. This one
/// is only ever read on that thread (`value` checks), and when it is
/// dropped anywhere else it is leaked rather than deleted: the core only
/// drops callbacks on the JavaScript thread that runs the handle, so the
/// leak is a safety net, not a path taken.
pub(crate) struct JsRef {
    env: sys::napi_env,
    raw: sys::napi_ref,
    thread: ThreadId,
}

// SAFETY: the raw pointers are only used on `thread` (see above).
unsafe impl Send for JsRef {}
unsafe impl Sync for JsRef {}

impl JsRef {
    pub(crate) fn new(env: sys::napi_env, value: sys::napi_value) -> Result<JsRef> {
        let mut raw = ptr::null_mut();
        check(env, unsafe {
            sys::napi_create_reference(env, value, 1, &mut raw)
        })?;
        Ok(JsRef {
            env,
            raw,
            thread: std::thread::current().id(),
        })
    }

    /// Whether this thread may use the reference.
    pub(crate) fn on_own_thread(&self) -> bool {
        std::thread::current().id() == self.thread
    }

    pub(crate) fn env(&self) -> sys::napi_env {
        self.env
    }

    /// The value, on the reference's own thread and environment.
    pub(crate) fn value(&self, env: sys::napi_env) -> Result<sys::napi_value> {
        if !self.on_own_thread() || env != self.env {
            return Err(Error::new(
                Status::GenericFailure,
                "a JavaScript value was used from another thread".to_string(),
            ));
        }
        let mut v = ptr::null_mut();
        check(env, unsafe {
            sys::napi_get_reference_value(env, self.raw, &mut v)
        })?;
        Ok(v)
    }
}

impl Drop for JsRef {
    fn drop(&mut self) {
        if self.on_own_thread() {
            unsafe { sys::napi_delete_reference(self.env, self.raw) };
        }
    }
}

/// A JavaScript value returned as is from a napi method (a promise made
/// with the raw API, an error object).
pub struct RawValue(pub(crate) sys::napi_value);

impl ToNapiValue for RawValue {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        Ok(val.0)
    }
}

impl TypeName for RawValue {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

/// Run `f` inside a handle scope of its own, so that the values a long
/// loop of callbacks makes are freed as it goes.
pub(crate) fn scoped<T>(env: sys::napi_env, f: impl FnOnce() -> T) -> T {
    let mut scope = ptr::null_mut();
    let opened = unsafe { sys::napi_open_handle_scope(env, &mut scope) } == sys::Status::napi_ok;
    let out = f();
    if opened {
        unsafe { sys::napi_close_handle_scope(env, scope) };
    }
    out
}

/// A raw pointer-sized payload for Node-API's `void *` parameters.
pub(crate) fn as_data(key: u64) -> *mut c_void {
    key as usize as *mut c_void
}

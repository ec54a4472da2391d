//! JavaScript arguments to the core's Rust types.
//!
//! Integers are checked, not truncated: a number must be an integer in
//! range (so `1.5` or `-1` for an offset is a `RangeError`), and 64-bit
//! arguments also take a `bigint`, for offsets beyond 2^53. Optional
//! arguments come in one options object whose unknown keys are refused, so
//! that a misspelt `{ flag: ... }` is an error rather than ignored.

use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::js;

fn range_error(msg: String) -> Error {
    Error::new(Status::InvalidArg, msg)
}

/// The integer value of a number or bigint argument, checked against the
/// range of the target type.
unsafe fn integer(
    env: sys::napi_env,
    v: sys::napi_value,
    min: i128,
    max: i128,
    what: &str,
) -> Result<i128> {
    match js::type_of(env, v)? {
        sys::ValueType::napi_number => {
            let mut n = 0.0;
            js::check(env, sys::napi_get_value_double(env, v, &mut n))?;
            if n.fract() != 0.0 || !n.is_finite() {
                return Err(range_error(format!(
                    "expected an integer for {what}, got {n}"
                )));
            }
            let i = n as i128;
            if i < min || i > max {
                return Err(range_error(format!("{n} is out of range for {what}")));
            }
            Ok(i)
        }
        sys::ValueType::napi_bigint => {
            let mut lossless = false;
            let i = if min < 0 {
                let mut n = 0i64;
                js::check(
                    env,
                    sys::napi_get_value_bigint_int64(env, v, &mut n, &mut lossless),
                )?;
                n as i128
            } else {
                let mut n = 0u64;
                js::check(
                    env,
                    sys::napi_get_value_bigint_uint64(env, v, &mut n, &mut lossless),
                )?;
                n as i128
            };
            if !lossless || i < min || i > max {
                return Err(range_error(format!("bigint out of range for {what}")));
            }
            Ok(i)
        }
        _ => Err(Error::new(
            Status::NumberExpected,
            format!("expected a number for {what}"),
        )),
    }
}

macro_rules! int_arg {
    ($name:ident, $t:ty, $what:literal) => {
        #[doc = concat!("An argument converted to `", stringify!($t), "` with range checks.")]
        pub struct $name(pub $t);

        impl FromNapiValue for $name {
            unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
                let i = integer(env, v, <$t>::MIN as i128, <$t>::MAX as i128, $what)?;
                Ok($name(i as $t))
            }
        }

        impl TypeName for $name {
            fn type_name() -> &'static str {
                "number"
            }
            fn value_type() -> ValueType {
                ValueType::Number
            }
        }

        impl ValidateNapiValue for $name {}
    };
}

int_arg!(I32, i32, "a 32-bit signed integer");
int_arg!(U32, u32, "a 32-bit unsigned integer");
#[allow(dead_code)] // for int64 arguments, which api.yaml may use again
mod i64_arg {
    use super::*;
    int_arg!(I64, i64, "a 64-bit signed integer");
}
#[allow(unused_imports)]
pub use i64_arg::I64;
int_arg!(U64, u64, "a 64-bit unsigned integer");
int_arg!(Usize, usize, "a size");

/// A 64-bit result as a JavaScript number, refused when it cannot be
/// exact (beyond 2^53) rather than rounded.
pub(crate) fn exact(n: i128, call: &'static str) -> Result<f64> {
    const LIMIT: i128 = 1 << 53;
    if n.abs() > LIMIT {
        return Err(range_error(format!(
            "{call}: the result {n} cannot be represented exactly as a number"
        )));
    }
    Ok(n as f64)
}

/// The optional arguments of one call.
pub(crate) struct Options {
    env: sys::napi_env,
    obj: Option<sys::napi_value>,
}

impl Options {
    /// Check an options argument: absent, `undefined`, `null`, or an object
    /// whose keys are all among `known`.
    pub(crate) fn new(env: &Env, value: Option<Unknown<'_>>, known: &[&str]) -> Result<Options> {
        let env = env.raw();
        let Some(value) = value else {
            return Ok(Options { env, obj: None });
        };
        let v = value.raw();
        match js::type_of(env, v)? {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => {
                return Ok(Options { env, obj: None })
            }
            sys::ValueType::napi_object => {}
            _ => {
                return Err(Error::new(
                    Status::ObjectExpected,
                    "the options argument must be an object".to_string(),
                ))
            }
        }
        let mut names = ptr::null_mut();
        js::check(env, unsafe {
            sys::napi_get_property_names(env, v, &mut names)
        })?;
        let mut len = 0u32;
        js::check(env, unsafe {
            sys::napi_get_array_length(env, names, &mut len)
        })?;
        for i in 0..len {
            let mut key = ptr::null_mut();
            js::check(env, unsafe {
                sys::napi_get_element(env, names, i, &mut key)
            })?;
            let key = unsafe { String::from_napi_value(env, key) }?;
            if !known.contains(&key.as_str()) {
                let allowed = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("unknown option `{key}` (this method takes: {allowed})"),
                ));
            }
        }
        Ok(Options { env, obj: Some(v) })
    }

    fn get(&self, key: &str) -> Result<Option<sys::napi_value>> {
        let Some(obj) = self.obj else { return Ok(None) };
        let v = js::get(self.env, obj, key)?;
        match js::type_of(self.env, v)? {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
            _ => Ok(Some(v)),
        }
    }

    /// An optional flags value, 0 when absent.
    pub(crate) fn flags(&self, key: &str) -> Result<u32> {
        match self.get(key)? {
            Some(v) => Ok(unsafe { U32::from_napi_value(self.env, v) }?.0),
            None => Ok(0),
        }
    }

    /// An optional function.
    pub(crate) fn function(&self, key: &str) -> Result<Option<sys::napi_value>> {
        match self.get(key)? {
            Some(v) if js::type_of(self.env, v)? == sys::ValueType::napi_function => Ok(Some(v)),
            Some(_) => Err(Error::new(
                Status::FunctionExpected,
                format!("the option `{key}` must be a function"),
            )),
            None => Ok(None),
        }
    }
}

/// A socket address given as a string: a path (absolute, or `unix:PATH`)
/// for a Unix socket, otherwise `HOST:PORT` with a numeric IPv4 address or
/// a bracketed IPv6 one (`[::1]:10809`).
pub(crate) fn sockaddr(s: &str) -> Result<nbd::SockAddr> {
    let path = s
        .strip_prefix("unix:")
        .or(if s.starts_with('/') { Some(s) } else { None });
    if let Some(path) = path {
        return nbd::SockAddr::unix(path)
            .map_err(|e| Error::new(Status::InvalidArg, format!("{s}: {e}")));
    }
    s.parse::<std::net::SocketAddr>()
        .map(nbd::SockAddr::from)
        .map_err(|_| {
            Error::new(
                Status::InvalidArg,
                format!("{s}: not a socket address (PATH, unix:PATH or HOST:PORT)"),
            )
        })
}

/// A list of strings as the core takes it.
pub(crate) fn str_list(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The memory of a `Buffer` given to a raw aio call, kept alive (through
/// the napi `Buffer`, which holds a reference to the JavaScript object)
/// until the core drops its last clone of the command's buffer.
pub(crate) fn persist(buf: Buffer) -> nbd::AioBuffer {
    let mut buf = buf;
    let ptr = buf.as_mut_ptr();
    let len = buf.len();
    // SAFETY: the Buffer's backing store does not move while the Buffer
    // (kept below) references it; libnbd's contract, which the method
    // documents, is that the caller leaves the buffer alone until the
    // command completes.
    unsafe { nbd::AioBuffer::from_raw_parts_keep(ptr, len, Box::new(buf)) }
}

//! Turning C arguments into the engine's Rust types and results back into
//! C values. A NULL where a pointer is required is an `EFAULT` error, not
//! a crash; text that is not UTF-8 is `EINVAL` (the engine speaks `&str`).

use std::ffi::{c_char, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nbd::{AioBuffer, Error, Handle, Result};

use crate::nbd_handle;

fn null(name: &str) -> Error {
    Error::new(libc::EFAULT, format!("{name} cannot be NULL"))
}

/// The handle behind `h`.
///
/// # Safety
/// `h` is NULL or a live handle from `nbd_create`.
pub unsafe fn handle<'a>(h: *mut nbd_handle) -> Result<&'a Handle> {
    // SAFETY: per the contract, a non-NULL `h` points to a live handle.
    unsafe { h.as_ref() }.ok_or_else(|| null("handle"))
}

/// # Safety
/// `p` is NULL or a NUL-terminated string valid for `'a`.
pub unsafe fn string<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let bytes = unsafe { CStr::from_ptr(p) };
    bytes
        .to_str()
        .map_err(|_| Error::new(libc::EINVAL, format!("{name} is not valid UTF-8")))
}

/// A file name: any bytes but NUL, so no UTF-8 requirement.
///
/// # Safety
/// As for [`string`].
pub unsafe fn path<'a>(p: *const c_char, name: &str) -> Result<&'a Path> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    Ok(Path::new(std::ffi::OsStr::from_bytes(bytes)))
}

/// A NULL-terminated array of strings.
///
/// # Safety
/// `p` is NULL or points to NUL-terminated strings ending with a NULL
/// pointer, all valid for `'a`.
pub unsafe fn string_list<'a>(p: *mut *mut c_char, name: &str) -> Result<Vec<&'a str>> {
    if p.is_null() {
        return Err(null(name));
    }
    let mut out = Vec::new();
    for i in 0.. {
        // SAFETY: the array is NULL-terminated, so every index up to and
        // including the terminator is readable.
        let s = unsafe { *p.add(i) };
        if s.is_null() {
            break;
        }
        // SAFETY: each element is a NUL-terminated string.
        out.push(unsafe { string(s, name) }?);
    }
    Ok(out)
}

/// A socket address copied out of C memory.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes.
pub unsafe fn sockaddr(
    p: *const libc::sockaddr,
    len: libc::socklen_t,
    name: &str,
) -> Result<socket2::SockAddr> {
    if p.is_null() {
        return Err(null(name));
    }
    let max = std::mem::size_of::<libc::sockaddr_storage>();
    let n = len as usize;
    if n > max || n < std::mem::size_of::<libc::sa_family_t>() {
        return Err(Error::new(
            libc::EINVAL,
            format!("{name}: invalid address length {len}"),
        ));
    }
    // SAFETY: sockaddr_storage is plain data, valid when zeroed; we copy
    // `n <= max` bytes that the caller vouched for.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        std::ptr::copy_nonoverlapping(
            p.cast::<u8>(),
            (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
            n,
        );
        Ok(socket2::SockAddr::new(storage, len))
    }
}

fn check_len(len: usize, name: &str) -> Result<()> {
    if len > isize::MAX as usize {
        return Err(Error::new(
            libc::EINVAL,
            format!("{name}: length {len} is too large"),
        ));
    }
    Ok(())
}

/// Bytes read by the call. A NULL pointer is allowed only with length 0.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes during `'a`.
pub unsafe fn bytes_in<'a>(p: *const c_void, len: usize, name: &str) -> Result<&'a [u8]> {
    check_len(len, name)?;
    match (p.is_null(), len) {
        (true, 0) => Ok(&[]),
        (true, _) => Err(null(name)),
        // SAFETY: non-NULL and valid for `len` bytes per the contract.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }),
    }
}

/// Bytes filled in place by the call.
///
/// # Safety
/// `p` is NULL or valid for writes of `len` bytes during `'a`, and not
/// otherwise accessed meanwhile.
pub unsafe fn bytes_out<'a>(p: *mut c_void, len: usize, name: &str) -> Result<&'a mut [u8]> {
    check_len(len, name)?;
    match (p.is_null(), len) {
        (true, 0) => Ok(&mut []),
        (true, _) => Err(null(name)),
        // SAFETY: non-NULL, valid and exclusive per the contract.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) }),
    }
}

/// The caller's memory for an aio command, used in place: libnbd's
/// contract makes the caller keep it valid until the command retires.
///
/// # Safety
/// `p` is NULL or valid for reads and writes of `len` bytes until the
/// command using it retires.
pub unsafe fn aio_buffer(p: *mut c_void, len: usize, name: &str) -> Result<AioBuffer> {
    check_len(len, name)?;
    match (p.is_null(), len) {
        (true, 0) => Ok(AioBuffer::new(0)),
        (true, _) => Err(null(name)),
        // SAFETY: per the contract above, which is AioBuffer's.
        (false, _) => Ok(unsafe { AioBuffer::from_raw_parts(p.cast::<u8>(), len) }),
    }
}

/// A required callback: NULL `.callback` is `EFAULT` (its free function
/// has already run).
pub fn required<T>(cb: Option<T>, name: &str) -> Result<T> {
    cb.ok_or_else(|| null(name))
}

/// A `&str` as a C string for the duration of a callback. Text with a NUL
/// inside is cut there, which is all C could see of it anyway.
pub struct CText(CString);

impl CText {
    pub fn new(s: &str) -> CText {
        let text = s.split('\0').next().unwrap_or("");
        CText(CString::new(text).unwrap_or_default())
    }

    pub fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr()
    }
}

/// Results back to C, one function per return kind of api.yaml.
pub mod ret {
    use std::ffi::{c_char, c_int, CStr, CString};
    use std::sync::Mutex;

    use nbd::{Error, Result};

    pub fn error(_: ()) -> Result<c_int> {
        Ok(0)
    }

    pub fn boolean(b: bool) -> Result<c_int> {
        Ok(b as c_int)
    }

    pub fn int(i: i32) -> Result<c_int> {
        Ok(i)
    }

    pub fn int64(i: i64) -> Result<i64> {
        Ok(i)
    }

    pub fn uint(u: u32) -> Result<u32> {
        Ok(u)
    }

    pub fn uint64(u: u64) -> Result<u64> {
        Ok(u)
    }

    pub fn uintptr(u: usize) -> Result<usize> {
        Ok(u)
    }

    pub fn fd(fd: std::os::fd::RawFd) -> Result<c_int> {
        Ok(fd)
    }

    pub fn size(n: usize) -> Result<isize> {
        isize::try_from(n)
            .map_err(|_| Error::new(libc::EOVERFLOW, format!("{n} does not fit ssize_t")))
    }

    /// Cookies are >= 1 and fit in the `int64_t` libnbd returns.
    pub fn cookie(c: u64) -> Result<i64> {
        i64::try_from(c)
            .map_err(|_| Error::new(libc::EOVERFLOW, format!("cookie {c} does not fit int64_t")))
    }

    /// The value of an enum newtype (`Tls(2)` -> 2).
    pub fn enumeration(value: i32) -> Result<c_int> {
        Ok(value)
    }

    /// The bits of a flags newtype.
    pub fn flags(bits: u32) -> Result<u32> {
        Ok(bits)
    }

    /// A string the caller frees with free(3), so it is allocated with
    /// malloc(3).
    pub fn string(s: String) -> Result<*mut c_char> {
        let text = s.split('\0').next().unwrap_or("");
        // SAFETY: malloc of len+1 bytes, checked for NULL, then filled
        // with the text and a terminating NUL.
        unsafe {
            let p = libc::malloc(text.len() + 1).cast::<u8>();
            if p.is_null() {
                return Err(Error::new(libc::ENOMEM, "malloc failed"));
            }
            std::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len());
            *p.add(text.len()) = 0;
            Ok(p.cast::<c_char>())
        }
    }

    /// The engine's static strings as C strings that live as long as the
    /// library: each distinct one is converted once and kept. A Vec, not a
    /// HashMap, so valgrind sees the kept strings as reachable (a hash
    /// table only holds a pointer into the middle of its allocation).
    pub fn static_string(s: &'static str) -> Result<*const c_char> {
        static INTERNED: Mutex<Vec<(&'static str, &'static CStr)>> = Mutex::new(Vec::new());
        let mut kept = INTERNED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c)) = kept.iter().find(|(k, _)| *k == s) {
            return Ok(c.as_ptr());
        }
        let text = s.split('\0').next().unwrap_or("");
        let c: &'static CStr = Box::leak(CString::new(text).unwrap_or_default().into_boxed_c_str());
        kept.push((s, c));
        Ok(c.as_ptr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_pointers_are_efault() {
        unsafe {
            assert_eq!(
                handle(std::ptr::null_mut()).err().map(|e| e.errno()),
                Some(libc::EFAULT)
            );
            assert_eq!(
                string(std::ptr::null(), "s").unwrap_err().errno(),
                libc::EFAULT
            );
            assert_eq!(
                bytes_out(std::ptr::null_mut(), 4, "buf")
                    .unwrap_err()
                    .errno(),
                libc::EFAULT
            );
            assert!(bytes_out(std::ptr::null_mut(), 0, "buf")
                .unwrap()
                .is_empty());
            assert_eq!(
                string_list(std::ptr::null_mut(), "argv")
                    .unwrap_err()
                    .errno(),
                libc::EFAULT
            );
        }
        assert_eq!(
            required::<u8>(None, "cb").unwrap_err().message(),
            "cb cannot be NULL"
        );
    }

    #[test]
    fn string_lists_stop_at_null() {
        let a = CString::new("nbdkit").unwrap();
        let b = CString::new("-s").unwrap();
        let mut argv = [
            a.as_ptr() as *mut c_char,
            b.as_ptr() as *mut c_char,
            std::ptr::null_mut(),
        ];
        let v = unsafe { string_list(argv.as_mut_ptr(), "argv") }.unwrap();
        assert_eq!(v, ["nbdkit", "-s"]);
    }

    #[test]
    fn returned_strings_are_malloced_and_statics_interned() {
        let p = ret::string("hello".into()).unwrap();
        assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), "hello");
        unsafe { libc::free(p.cast()) };
        let a = ret::static_string("newstyle-fixed").unwrap();
        let b = ret::static_string("newstyle-fixed").unwrap();
        assert_eq!(a, b);
    }
}

//! OCaml arguments to the core's Rust types, and read data back into
//! OCaml `bytes`. Everything is copied out of the OCaml heap before the
//! runtime is released, because the GC may move values meanwhile.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use ocaml_interop::{OCamlBytes, OCamlInt, OCamlInt64, OCamlList, OCamlRef, OCamlRuntime};

use crate::error::Failure;

/// The marker type of `Unix.sockaddr` values.
pub(crate) struct SockAddr;

pub(crate) fn int(cr: &OCamlRuntime, v: OCamlRef<OCamlInt>, name: &str) -> Result<i32, Failure> {
    let n: i64 = v.to_rust(cr);
    i32::try_from(n).map_err(|_| Failure::invalid(name, "out of range for an int"))
}

pub(crate) fn uint(cr: &OCamlRuntime, v: OCamlRef<OCamlInt>, name: &str) -> Result<u32, Failure> {
    let n: i64 = v.to_rust(cr);
    u32::try_from(n).map_err(|_| Failure::invalid(name, "out of range for an unsigned int"))
}

/// `uint32_t` arguments are `int64` in OCaml, as in libnbd's module.
pub(crate) fn uint32(
    cr: &OCamlRuntime,
    v: OCamlRef<OCamlInt64>,
    name: &str,
) -> Result<u32, Failure> {
    let n: i64 = v.to_rust(cr);
    u32::try_from(n).map_err(|_| Failure::invalid(name, "out of range for a uint32"))
}

/// `uint64_t` arguments are `int64`, their bits taken as unsigned.
pub(crate) fn uint64(cr: &OCamlRuntime, v: OCamlRef<OCamlInt64>) -> u64 {
    let n: i64 = v.to_rust(cr);
    n as u64
}

pub(crate) fn size(cr: &OCamlRuntime, v: OCamlRef<OCamlInt>, name: &str) -> Result<usize, Failure> {
    let n: i64 = v.to_rust(cr);
    usize::try_from(n).map_err(|_| Failure::invalid(name, "must not be negative"))
}

pub(crate) fn string(
    cr: &OCamlRuntime,
    v: OCamlRef<String>,
    name: &str,
) -> Result<String, Failure> {
    let bytes = cr.get(v).as_bytes();
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|_| Failure::invalid(name, "not valid UTF-8"))
}

pub(crate) fn string_list(
    cr: &OCamlRuntime,
    v: OCamlRef<OCamlList<String>>,
    name: &str,
) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    let mut list = cr.get(v);
    while let Some((head, tail)) = list.uncons() {
        let s = std::str::from_utf8(head.as_bytes())
            .map_err(|_| Failure::invalid(name, "not valid UTF-8"))?;
        out.push(s.to_string());
        list = tail;
    }
    Ok(out)
}

/// A file name: any bytes.
pub(crate) fn path(cr: &OCamlRuntime, v: OCamlRef<String>) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(cr.get(v).as_bytes()))
}

/// `Unix.ADDR_UNIX path` or `Unix.ADDR_INET (addr, port)`.
pub(crate) fn sockaddr(
    cr: &OCamlRuntime,
    v: OCamlRef<SockAddr>,
    name: &str,
) -> Result<nbd::SockAddr, Failure> {
    // SAFETY: a Unix.sockaddr is a block: tag 0 holds a string, tag 1 an
    // inet_addr (a string of 4 or 16 bytes) and an int.
    unsafe {
        let raw = v.get_raw();
        let field = |i: usize| *ocaml_sys::field(raw, i);
        let bytes = |s: ocaml_sys::Value| {
            std::slice::from_raw_parts(ocaml_sys::string_val(s), ocaml_sys::caml_string_length(s))
        };
        let _ = cr;
        match ocaml_sys::tag_val(raw) {
            0 => nbd::SockAddr::unix(OsStr::from_bytes(bytes(field(0))))
                .map_err(|e| Failure::invalid(name, &e.to_string())),
            1 => {
                let port = u16::try_from(ocaml_sys::int_val(field(1)))
                    .map_err(|_| Failure::invalid(name, "port out of range"))?;
                let ip: std::net::IpAddr = match bytes(field(0)) {
                    &[a, b, c, d] => std::net::Ipv4Addr::new(a, b, c, d).into(),
                    b if b.len() == 16 => {
                        let mut octets = [0u8; 16];
                        octets.copy_from_slice(b);
                        std::net::Ipv6Addr::from(octets).into()
                    }
                    _ => return Err(Failure::invalid(name, "bad inet_addr")),
                };
                Ok(std::net::SocketAddr::new(ip, port).into())
            }
            _ => Err(Failure::invalid(name, "not a Unix.sockaddr")),
        }
    }
}

/// A Rust buffer as long as the OCaml `bytes` a read fills.
pub(crate) fn out_buffer(cr: &OCamlRuntime, v: OCamlRef<OCamlBytes>) -> Vec<u8> {
    // A copy of the caller's bytes, copied back whether or not the read
    // succeeds: a failed read leaves them as the core left the buffer
    // (cleared when pread_initialize is on, untouched when it is off).
    cr.get(v).as_bytes().to_vec()
}

/// Copy read data into the OCaml `bytes` (rooted, so still valid after
/// the runtime was released and taken back).
pub(crate) fn copy_out(cr: &OCamlRuntime, v: OCamlRef<OCamlBytes>, data: &[u8]) {
    let dst = cr.get(v);
    let len = dst.as_bytes().len().min(data.len());
    // SAFETY: `bytes` values are mutable, and `len` is within both.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ocaml_sys::string_val(dst.raw()), len) };
}

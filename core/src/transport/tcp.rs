//! Resolving a host name and a service (port number or /etc/services
//! name) into the addresses to try, IPv4 and IPv6 alike.

use std::ffi::{CStr, CString};

use socket2::SockAddr;

use crate::{Error, Result};

/// Resolve `host` and `port` with getaddrinfo(3), in the order the
/// resolver prefers. `port` may be a number ("10809") or a service name
/// ("nbd").
pub(crate) fn resolve_tcp(host: &str, port: &str) -> Result<Vec<SockAddr>> {
    let c_host = CString::new(host)
        .map_err(|_| Error::new(libc::EINVAL, "host name contains a NUL byte"))?;
    let c_port =
        CString::new(port).map_err(|_| Error::new(libc::EINVAL, "port contains a NUL byte"))?;

    // SAFETY: an all-zero addrinfo is the documented way to start hints.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = libc::AI_ADDRCONFIG;

    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C strings and hints; `list` receives a list that we
    // free below with freeaddrinfo.
    let r = unsafe { libc::getaddrinfo(c_host.as_ptr(), c_port.as_ptr(), &hints, &mut list) };
    if r != 0 {
        return Err(gai_error(r, host, port));
    }

    let mut addrs = Vec::new();
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getaddrinfo returned.
        let ai = unsafe { &*cur };
        if !ai.ai_addr.is_null()
            && ai.ai_addrlen as usize <= std::mem::size_of::<libc::sockaddr_storage>()
        {
            // SAFETY: ai_addr points to ai_addrlen bytes of a sockaddr;
            // we copy them into zeroed storage of sufficient size.
            let addr = unsafe {
                SockAddr::try_init(|storage, len| {
                    std::ptr::copy_nonoverlapping(
                        ai.ai_addr as *const u8,
                        storage as *mut u8,
                        ai.ai_addrlen as usize,
                    );
                    *len = ai.ai_addrlen;
                    Ok(())
                })
            };
            if let Ok(((), addr)) = addr {
                addrs.push(addr);
            }
        }
        cur = ai.ai_next;
    }
    // SAFETY: `list` came from a successful getaddrinfo.
    unsafe { libc::freeaddrinfo(list) };

    if addrs.is_empty() {
        return Err(Error::new(
            libc::ENXIO,
            format!("getaddrinfo: {host}:{port}: no addresses"),
        ));
    }
    Ok(addrs)
}

/// An error for a getaddrinfo failure: its own message, and an errno that
/// says roughly the same thing.
fn gai_error(code: i32, host: &str, port: &str) -> Error {
    let errno = match code {
        libc::EAI_SYSTEM => std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
        libc::EAI_MEMORY => libc::ENOMEM,
        libc::EAI_AGAIN => libc::EAGAIN,
        libc::EAI_SERVICE => libc::EINVAL,
        _ => libc::ENXIO,
    };
    // SAFETY: gai_strerror returns a pointer to a static string.
    let text = unsafe { CStr::from_ptr(libc::gai_strerror(code)) }.to_string_lossy();
    Error::new(errno, format!("getaddrinfo: {host}:{port}: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_named_ports() {
        let a = resolve_tcp("127.0.0.1", "10809").unwrap();
        assert_eq!(a[0].as_socket().unwrap().port(), 10809);
        let b = resolve_tcp("127.0.0.1", "nbd").unwrap();
        assert_eq!(b[0].as_socket().unwrap().port(), 10809);
    }

    #[test]
    fn ipv6_literal() {
        // AI_ADDRCONFIG may hide ::1 on hosts without IPv6; accept either.
        match resolve_tcp("::1", "1234") {
            Ok(a) => assert!(a[0].as_socket().unwrap().is_ipv6()),
            Err(e) => assert_ne!(e.errno(), 0),
        }
    }

    #[test]
    fn unknown_service_fails() {
        let e = resolve_tcp("127.0.0.1", "no-such-service-xyz").unwrap_err();
        assert!(e.message().contains("getaddrinfo"), "{e}");
        assert!(resolve_tcp("a\0b", "1").is_err());
    }
}

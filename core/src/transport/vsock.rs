//! AF_VSOCK addresses (a virtual machine talking to its host).

use socket2::SockAddr;

/// The address of port `port` on context `cid` (2 is the host).
pub(crate) fn vsock_addr(cid: u32, port: u32) -> SockAddr {
    SockAddr::vsock(cid, port)
}

/// Whether this build can make AF_VSOCK connections.
pub(crate) fn supported() -> bool {
    cfg!(any(target_os = "linux", target_os = "android"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn address_round_trips() {
        let a = super::vsock_addr(2, 10809);
        assert_eq!(a.as_vsock_address(), Some((2, 10809)));
        assert!(super::supported());
    }
}

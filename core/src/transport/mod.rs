//! Getting a connected, non-blocking socket to an NBD server.
//!
//! Every transport ends in the same place: a [`Socket`] that is
//! non-blocking and close-on-exec, handed to the driver. Connecting is
//! itself non-blocking ([`PendingConnect`]): the driver waits for the
//! socket to become writable and then calls [`PendingConnect::advance`],
//! which either finishes or moves on to the next resolved address.

mod activation;
mod subprocess;
mod tcp;
mod unix;
mod vsock;

use std::collections::VecDeque;
use std::io;

use socket2::{SockAddr, Socket, Type};

use crate::{Error, Result};

pub(crate) use activation::{spawn_socket_activation, ActivationDir};
pub(crate) use subprocess::{spawn_command, Subprocess};
pub(crate) use tcp::resolve_tcp;
pub(crate) use unix::unix_addr;
pub(crate) use vsock::{supported as vsock_supported, vsock_addr};

/// A socket being connected to one of several addresses, tried in turn.
#[derive(Debug)]
pub(crate) struct PendingConnect {
    /// The socket whose connect(2) is in progress.
    socket: Socket,
    /// The address it is connecting to.
    addr: SockAddr,
    /// Addresses not tried yet.
    rest: VecDeque<SockAddr>,
}

/// Where a connection attempt stands.
#[derive(Debug)]
pub(crate) enum ConnectStep {
    /// Connected: the socket and the address it reached.
    Done(Socket, SockAddr),
    /// Still in progress: wait for the socket to become writable.
    Waiting(PendingConnect),
}

impl PendingConnect {
    /// Start connecting to the first address that accepts a connect(2)
    /// without failing at once; fails when every address failed.
    pub(crate) fn start(addrs: Vec<SockAddr>) -> Result<ConnectStep> {
        let mut rest: VecDeque<SockAddr> = addrs.into();
        let mut last_err = None;
        while let Some(addr) = rest.pop_front() {
            match begin_connect(&addr) {
                Ok((socket, true)) => return Ok(ConnectStep::Done(socket, addr)),
                Ok((socket, false)) => {
                    return Ok(ConnectStep::Waiting(PendingConnect { socket, addr, rest }))
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::new(libc::ENOENT, "no address to connect to")))
    }

    /// The socket to wait on (for writability).
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The socket became writable (or failed): see whether the connect
    /// succeeded; if not, go on with the next address.
    pub(crate) fn advance(self) -> Result<ConnectStep> {
        match finish_connect(&self.socket, &self.addr) {
            // Called early (no error, but no peer yet): keep waiting.
            Ok(()) if still_connecting(&self.socket) => Ok(ConnectStep::Waiting(self)),
            Ok(()) => Ok(ConnectStep::Done(self.socket, self.addr)),
            Err(e) if self.rest.is_empty() => Err(e),
            Err(_) => PendingConnect::start(self.rest.into()),
        }
    }
}

/// Create a non-blocking, close-on-exec stream socket for `addr` and start
/// connecting. Returns whether the connection completed at once.
fn begin_connect(addr: &SockAddr) -> Result<(Socket, bool)> {
    // socket2 sets SOCK_CLOEXEC on Linux; ask for SOCK_NONBLOCK too so the
    // connect below does not block.
    let socket = Socket::new(addr.domain(), Type::STREAM.nonblocking(), None)
        .map_err(|e| Error::from_io(&e, "socket"))?;
    match socket.connect(addr) {
        Ok(()) => Ok((socket, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok((socket, false)),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok((socket, false)),
        Err(e) => Err(Error::from_io(
            &e,
            format_args!("connect: {}", describe_addr(addr)),
        )),
    }
}

/// After the socket became writable: did the connect succeed?
fn finish_connect(socket: &Socket, addr: &SockAddr) -> Result<()> {
    match socket.take_error() {
        Ok(None) => Ok(()),
        Ok(Some(e)) | Err(e) => Err(Error::from_io(
            &e,
            format_args!("connect: {}", describe_addr(addr)),
        )),
    }
}

/// A connect(2) in progress has no peer yet.
fn still_connecting(socket: &Socket) -> bool {
    matches!(socket.peer_addr(), Err(e) if e.raw_os_error() == Some(libc::ENOTCONN))
}

/// Take over a socket the caller connected: make it non-blocking and
/// close-on-exec (the caller may have done neither).
pub(crate) fn adopt_socket(fd: std::os::fd::RawFd) -> Result<Socket> {
    use std::os::fd::FromRawFd;
    if fd < 0 {
        return Err(Error::new(
            libc::EBADF,
            format!("invalid file descriptor {fd}"),
        ));
    }
    // SAFETY: the caller hands us ownership of `fd` (libnbd's contract
    // for nbd_connect_socket): from now on only this Socket closes it.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    socket
        .set_nonblocking(true)
        .map_err(|e| Error::from_io(&e, "fcntl: set O_NONBLOCK"))?;
    socket
        .set_cloexec(true)
        .map_err(|e| Error::from_io(&e, "fcntl: set FD_CLOEXEC"))?;
    Ok(socket)
}

/// A human-readable form of an address for error messages.
pub(crate) fn describe_addr(addr: &SockAddr) -> String {
    if let Some(sa) = addr.as_socket() {
        return sa.to_string();
    }
    if let Some(path) = addr.as_pathname() {
        return path.display().to_string();
    }
    if let Some(name) = addr.as_abstract_namespace() {
        return format!("@{}", String::from_utf8_lossy(name));
    }
    if let Some((cid, port)) = addr.as_vsock_address() {
        return format!("vsock:{cid}:{port}");
    }
    format!("address family {}", addr.family())
}

/// One of our standard descriptors (0, 1 or 2) as a server subprocess
/// should get it: a duplicate of ours. A duplicate is passed rather than
/// plain inheritance because a parent may hold its standard descriptors
/// close-on-exec (Node.js does), which would start the server without
/// them (nbdkit then refuses to start); the duplicate is dup2'd onto the
/// same number in the child, which clears that flag there only. A
/// descriptor we do not have open is not opened for the child either.
pub(crate) fn server_stdio(fd: libc::c_int) -> std::process::Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: fcntl only reads `fd` (failing with EBADF when it is closed).
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return std::process::Stdio::inherit();
    }
    // SAFETY: `dup` is a new descriptor that nothing else owns.
    std::process::Stdio::from(unsafe { OwnedFd::from_raw_fd(dup) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn connects_over_tcp_after_a_refused_address() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = SockAddr::from(listener.local_addr().unwrap());
        // A port nobody listens on: bind and drop to get a free one.
        let dead_port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let bad = SockAddr::from(dead_port);
        let mut step = PendingConnect::start(vec![bad, good]).unwrap();
        for _ in 0..100 {
            match step {
                ConnectStep::Done(sock, addr) => {
                    assert_eq!(addr.as_socket(), Some(listener.local_addr().unwrap()));
                    assert!(sock.nonblocking().unwrap());
                    return;
                }
                ConnectStep::Waiting(p) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    step = p.advance().unwrap();
                }
            }
        }
        panic!("never connected");
    }

    #[test]
    fn all_addresses_refused_is_an_error() {
        let dead = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut step = PendingConnect::start(vec![SockAddr::from(dead)]);
        for _ in 0..100 {
            match step {
                Err(e) => {
                    assert_eq!(e.errno(), libc::ECONNREFUSED, "{e}");
                    return;
                }
                Ok(ConnectStep::Done(..)) => panic!("connected to a closed port"),
                Ok(ConnectStep::Waiting(p)) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    step = p.advance();
                }
            }
        }
        panic!("no verdict");
    }

    #[test]
    fn adopt_rejects_negative_fd() {
        assert_eq!(adopt_socket(-1).unwrap_err().errno(), libc::EBADF);
    }
}

//! Moving bytes between a protocol machine and a non-blocking socket,
//! with as few system calls as possible: all pending output goes out in
//! one vectored send, and reading stops as soon as a read comes back
//! short (the socket is drained; asking again would only return EAGAIN).

use std::io::{self, IoSlice, Read};

use socket2::Socket;

use crate::protocol::{Direction, Machine};
use crate::{Error, Result};

/// The byte-moving side of a protocol machine. [`Machine`] implements it;
/// tests implement it with scripted peers.
pub(crate) trait Wire {
    fn direction(&self) -> Direction;
    /// Called before every write: a layer that transforms the bytes
    /// (TLS) produces what `pending_output` will then offer.
    fn prepare_output(&mut self) -> Result<()> {
        Ok(())
    }
    fn pending_output<'a>(&'a self, out: &mut Vec<IoSlice<'a>>);
    fn output_written(&mut self, n: usize);
    fn input_buffer(&mut self) -> &mut [u8];
    fn input_received(&mut self, n: usize) -> Result<()>;
    fn input_eof(&mut self);
    fn transport_failed(&mut self, err: Error);
    /// How many bytes end the reply unit being read, for a pump that
    /// reads one reply at a time (None: no such limit is known).
    fn reply_unit_remaining(&self) -> Option<usize> {
        None
    }
    /// Between replies, nothing buffered.
    fn at_reply_boundary(&self) -> bool {
        false
    }
}

impl Wire for Machine {
    fn direction(&self) -> Direction {
        Machine::direction(self)
    }
    fn pending_output<'a>(&'a self, out: &mut Vec<IoSlice<'a>>) {
        Machine::pending_output(self, out)
    }
    fn output_written(&mut self, n: usize) {
        Machine::output_written(self, n)
    }
    fn input_buffer(&mut self) -> &mut [u8] {
        Machine::input_buffer(self)
    }
    fn input_received(&mut self, n: usize) -> Result<()> {
        Machine::input_received(self, n)
    }
    fn input_eof(&mut self) {
        Machine::input_eof(self)
    }
    fn transport_failed(&mut self, err: Error) {
        Machine::transport_failed(self, err)
    }
    fn reply_unit_remaining(&self) -> Option<usize> {
        Machine::reply_unit_remaining(self)
    }
    fn at_reply_boundary(&self) -> bool {
        Machine::at_reply_boundary(self)
    }
}

/// The most slices one sendmsg accepts (IOV_MAX on Linux).
const MAX_IOV: usize = 1024;

/// What a [`pump`] found out about the socket.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PumpReport {
    /// Some bytes moved in either direction.
    pub(crate) progressed: bool,
    /// The peer closed the connection.
    pub(crate) eof: bool,
    /// A recv came back short or would have blocked: the socket had no
    /// more to read at that moment (an event-driven driver may clear its
    /// readable state).
    pub(crate) read_blocked: bool,
    /// A send was partial or would have blocked: the socket could take no
    /// more at that moment.
    pub(crate) write_blocked: bool,
}

/// Move bytes until the machine wants nothing more that the socket can
/// give or take without blocking. `may_read` / `may_write` say whether
/// trying that direction is worth a system call (the caller knows the
/// socket is readable, or bytes are likely waiting).
///
/// Errors are fatal to the connection: the machine has been told (via
/// `transport_failed`, or it reported the error itself) before return.
pub(crate) fn pump<W: Wire + ?Sized>(
    wire: &mut W,
    sock: &Socket,
    may_read: bool,
    may_write: bool,
) -> Result<PumpReport> {
    pump_replies(wire, sock, may_read, may_write, false)
}

/// [`pump`], reading at most one reply when `one_reply` (and the wire
/// knows where replies end): every recv stops at the end of the reply
/// unit being read, and reading stops once a whole reply was read, so the
/// replies after it stay in the socket, which stays readable. This is
/// libnbd's nbd_aio_notify_read, whose callers may count on one reply
/// (one completion) per notification.
pub(crate) fn pump_replies<W: Wire + ?Sized>(
    wire: &mut W,
    sock: &Socket,
    mut may_read: bool,
    mut may_write: bool,
    one_reply: bool,
) -> Result<PumpReport> {
    let mut report = PumpReport::default();
    loop {
        let dir = wire.direction();
        let mut moved = false;
        if dir.writes() && may_write {
            match write_pending(wire, sock) {
                Ok(Written::All) => moved = true,
                Ok(Written::Partial) => {
                    moved = true;
                    may_write = false;
                    report.write_blocked = true;
                }
                Ok(Written::Blocked) => {
                    may_write = false;
                    report.write_blocked = true;
                }
                Ok(Written::Nothing) => may_write = false,
                Err(e) => return Err(e),
            }
        }
        // Re-read the direction: writing a request may have made the
        // machine wait for its reply.
        if wire.direction().reads() && may_read {
            let limit = if one_reply {
                wire.reply_unit_remaining()
            } else {
                None
            };
            match read_some(wire, sock, limit)? {
                Read_::Full => moved = true,
                Read_::Short => {
                    moved = true;
                    may_read = false;
                    report.read_blocked = true;
                }
                Read_::WouldBlock => {
                    may_read = false;
                    report.read_blocked = true;
                }
                Read_::NoRoom => may_read = false,
                Read_::Eof => {
                    report.progressed = true;
                    report.eof = true;
                    return Ok(report);
                }
            }
            if limit.is_some() && wire.at_reply_boundary() {
                // One whole reply read: the next stays in the socket.
                may_read = false;
            }
            // Replies often make the machine want to write (handshake
            // answers), which usually succeeds at once.
            may_write = true;
        }
        if !moved {
            return Ok(report);
        }
        report.progressed = true;
    }
}

/// What a send or recv that failed with `e` leaves to do.
enum Retry {
    /// Interrupted by a signal: try again at once.
    Now,
    /// The socket would block: wait for the next poll.
    Later,
}

/// Sort a failed send or recv: a real failure ends the transport, and the
/// machine and the caller both learn of it.
fn io_failed<W: Wire + ?Sized>(wire: &mut W, e: &io::Error, op: &str) -> Result<Retry> {
    match e.kind() {
        io::ErrorKind::Interrupted => Ok(Retry::Now),
        io::ErrorKind::WouldBlock => Ok(Retry::Later),
        _ => {
            let err = Error::from_io(e, op);
            wire.transport_failed(err.clone());
            Err(err)
        }
    }
}

enum Written {
    All,
    Partial,
    /// Nothing pending.
    Nothing,
    /// The socket would block.
    Blocked,
}

/// One vectored send of everything pending (up to IOV_MAX slices).
fn write_pending<W: Wire + ?Sized>(wire: &mut W, sock: &Socket) -> Result<Written> {
    loop {
        wire.prepare_output()?;
        let result = {
            let mut slices = Vec::new();
            wire.pending_output(&mut slices);
            slices.retain(|s| !s.is_empty());
            if slices.is_empty() {
                return Ok(Written::Nothing);
            }
            slices.truncate(MAX_IOV);
            let total: usize = slices.iter().map(|s| s.len()).sum();
            // MSG_NOSIGNAL: a peer that went away must give EPIPE, not
            // kill the process with SIGPIPE.
            sock.send_vectored_with_flags(&slices, libc::MSG_NOSIGNAL)
                .map(|n| (n, total))
        };
        match result {
            Ok((n, total)) => {
                wire.output_written(n);
                return Ok(if n == total {
                    Written::All
                } else {
                    Written::Partial
                });
            }
            Err(e) => match io_failed(wire, &e, "send")? {
                Retry::Now => continue,
                Retry::Later => return Ok(Written::Blocked),
            },
        }
    }
}

#[allow(non_camel_case_types)]
enum Read_ {
    /// The buffer was filled: more may be waiting.
    Full,
    /// Fewer bytes than asked for: the socket is drained for now.
    Short,
    WouldBlock,
    /// The machine has no room for input (no recv was made).
    NoRoom,
    Eof,
}

/// One recv into the machine's input buffer, of at most `limit` bytes.
fn read_some<W: Wire + ?Sized>(wire: &mut W, sock: &Socket, limit: Option<usize>) -> Result<Read_> {
    loop {
        let buf = wire.input_buffer();
        let buf = match limit {
            Some(l) if l < buf.len() => &mut buf[..l],
            _ => buf,
        };
        let want = buf.len();
        if want == 0 {
            return Ok(Read_::NoRoom);
        }
        let mut s: &Socket = sock;
        match s.read(buf) {
            Ok(0) => {
                wire.input_eof();
                return Ok(Read_::Eof);
            }
            Ok(n) => {
                wire.input_received(n)?;
                return Ok(if n == want { Read_::Full } else { Read_::Short });
            }
            Err(e) => match io_failed(wire, &e, "recv")? {
                Retry::Now => continue,
                Retry::Later => return Ok(Read_::WouldBlock),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Type};
    use std::io::Write;

    /// A toy protocol: sends `out`, then expects to read `expect` bytes.
    struct Echo {
        out: Vec<u8>,
        sent: usize,
        inbuf: Vec<u8>,
        got: Vec<u8>,
        expect: usize,
        eof: bool,
        failed: Option<Error>,
    }

    impl Wire for Echo {
        fn direction(&self) -> Direction {
            let w = if self.sent < self.out.len() { 2 } else { 0 };
            let r = if self.got.len() < self.expect && !self.eof {
                1
            } else {
                0
            };
            Direction(w | r)
        }
        fn pending_output<'a>(&'a self, out: &mut Vec<IoSlice<'a>>) {
            let rest = &self.out[self.sent..];
            // Split in two to exercise vectored writes.
            let mid = rest.len() / 2;
            out.push(IoSlice::new(&rest[..mid]));
            out.push(IoSlice::new(&rest[mid..]));
        }
        fn output_written(&mut self, n: usize) {
            self.sent += n;
        }
        fn input_buffer(&mut self) -> &mut [u8] {
            let want = (self.expect - self.got.len()).min(self.inbuf.len());
            &mut self.inbuf[..want]
        }
        fn input_received(&mut self, n: usize) -> Result<()> {
            self.got.extend_from_slice(&self.inbuf[..n]);
            Ok(())
        }
        fn input_eof(&mut self) {
            self.eof = true;
        }
        fn transport_failed(&mut self, err: Error) {
            self.failed = Some(err);
        }
    }

    fn echo(out: &[u8], expect: usize) -> Echo {
        Echo {
            out: out.to_vec(),
            sent: 0,
            inbuf: vec![0; 7],
            got: vec![],
            expect,
            eof: false,
            failed: None,
        }
    }

    #[test]
    fn writes_then_reads_until_drained() {
        let (a, b) = Socket::pair(Domain::UNIX, Type::STREAM, None).unwrap();
        a.set_nonblocking(true).unwrap();
        let mut w = echo(b"hello world", 20);
        let r = pump(&mut w, &a, true, true).unwrap();
        assert!(r.progressed);
        assert_eq!(w.sent, 11);
        let mut peer: std::os::unix::net::UnixStream = std::os::fd::OwnedFd::from(b).into();
        let mut got = [0u8; 11];
        std::io::Read::read_exact(&mut peer, &mut got).unwrap();
        assert_eq!(&got, b"hello world");
        peer.write_all(b"0123456789abcdefghij").unwrap();
        pump(&mut w, &a, true, false).unwrap();
        assert_eq!(w.got, b"0123456789abcdefghij");
        drop(peer);
        let r = pump(
            &mut Echo {
                expect: 1,
                ..echo(b"", 1)
            },
            &a,
            true,
            false,
        )
        .unwrap();
        assert!(r.eof);
    }

    #[test]
    fn broken_pipe_fails_without_sigpipe() {
        let (a, b) = Socket::pair(Domain::UNIX, Type::STREAM, None).unwrap();
        a.set_nonblocking(true).unwrap();
        drop(b);
        let mut w = echo(b"data", 0);
        let e = pump(&mut w, &a, false, true).unwrap_err();
        assert_eq!(e.errno(), libc::EPIPE);
        assert!(w.failed.is_some());
    }
}

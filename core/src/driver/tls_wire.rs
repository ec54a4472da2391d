//! The TLS layer between the socket and the protocol machine: a
//! [`Wire`] whose socket side is ciphertext (the session's buffers) and
//! whose machine side is plaintext. [`pump`](super::io::pump) drives it
//! exactly as it drives a bare machine, so the blocking, aio and poll
//! paths work unchanged over TLS.
//!
//! Direction: while the handshake runs, the session alone decides (read
//! the server's flight, write ours); afterwards the machine's wishes pass
//! through, plus writing whenever ciphertext is still queued.

use std::io::IoSlice;

use super::io::Wire;
use crate::protocol::{Direction, Machine};
use crate::tls::{Plain, TlsSession};
use crate::{Error, Result};

/// A machine seen through its TLS session.
pub(crate) struct TlsWire<'a> {
    pub(crate) machine: &'a mut Machine,
    pub(crate) tls: &'a mut TlsSession,
}

/// What a machine behind TLS waits for.
pub(crate) fn direction(machine: &Machine, tls: &TlsSession) -> Direction {
    let mut bits = 0;
    if tls.has_output() {
        bits |= Direction::WRITE.bits();
    }
    let can_read = tls.has_input_space();
    if tls.is_handshaking() {
        if can_read {
            bits |= Direction::READ.bits();
        }
    } else if tls.is_open() {
        let m = machine.direction();
        if m.writes() {
            bits |= Direction::WRITE.bits();
        }
        if m.reads() && can_read {
            bits |= Direction::READ.bits();
        }
    }
    Direction(bits)
}

impl TlsWire<'_> {
    /// Feed the machine whatever the session can decrypt now, finishing
    /// the handshake first if it is still running. Returns whether any
    /// plaintext reached the machine (or the handshake completed).
    pub(crate) fn process_input(&mut self) -> Result<bool> {
        let mut progressed = false;
        loop {
            if self.tls.is_handshaking() {
                match self.tls.handshake() {
                    Ok(true) => {
                        progressed = true;
                        let summary = self.tls.summary();
                        self.machine.tls_established(&summary)?;
                        continue;
                    }
                    Ok(false) => return Ok(progressed),
                    Err(e) => return Err(self.fail(e)),
                }
            }
            if !self.tls.is_open() || !self.machine.direction().reads() {
                return Ok(progressed);
            }
            let buf = self.machine.input_buffer();
            match self.tls.read_plain(buf) {
                Ok(Plain::Data(n)) => {
                    progressed = true;
                    self.machine.input_received(n)?;
                }
                Ok(Plain::NeedInput) => return Ok(progressed),
                Ok(Plain::Closed) => {
                    self.machine.input_eof();
                    return Ok(true);
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.machine.transport_failed(e.clone());
        e
    }
}

impl Wire for TlsWire<'_> {
    fn direction(&self) -> Direction {
        direction(self.machine, self.tls)
    }

    /// Encrypt the machine's queued output, until the session's send
    /// buffer is full enough.
    fn prepare_output(&mut self) -> Result<()> {
        loop {
            let n = {
                let mut slices: Vec<IoSlice<'_>> = Vec::new();
                self.machine.pending_output(&mut slices);
                slices.retain(|s| !s.is_empty());
                match self.tls.write_plain(&slices) {
                    Ok(n) => n,
                    Err(e) => {
                        drop(slices);
                        return Err(self.fail(e));
                    }
                }
            };
            if n == 0 {
                return Ok(());
            }
            self.machine.output_written(n);
        }
    }

    fn pending_output<'a>(&'a self, out: &mut Vec<IoSlice<'a>>) {
        let bytes = self.tls.output();
        if !bytes.is_empty() {
            out.push(IoSlice::new(bytes));
        }
    }

    fn output_written(&mut self, n: usize) {
        self.tls.output_sent(n);
    }

    fn input_buffer(&mut self) -> &mut [u8] {
        self.tls.input_space()
    }

    fn input_received(&mut self, n: usize) -> Result<()> {
        self.tls.input_added(n);
        self.process_input().map(drop)
    }

    fn input_eof(&mut self) {
        self.tls.input_eof();
        // Errors have already killed the machine.
        let _ = self.process_input();
        let eof = Error::new(libc::ECONNRESET, "the server closed the connection");
        if let Some(e) = self.tls.explain_early_end(&eof) {
            self.machine.transport_failed(e);
        }
        self.machine.input_eof();
    }

    fn transport_failed(&mut self, err: Error) {
        let err = self.tls.explain_early_end(&err).unwrap_or(err);
        self.machine.transport_failed(err);
    }
}

/// The connection is over: send the ciphertext still queued (the last
/// NBD message, close_notify). A clean close waits a little for the
/// socket to take it; a failed one only tries once.
pub(crate) fn send_remaining(sock: &socket2::Socket, tls: &mut TlsSession, clean: bool) {
    /// How long a clean close may wait for a full socket buffer.
    const LINGER_MS: i32 = 1000;
    let mut waited = false;
    while tls.has_output() {
        match sock.send_with_flags(tls.output(), libc::MSG_NOSIGNAL) {
            Ok(n) => tls.output_sent(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && clean && !waited => {
                waited = true;
                let mut pfd = libc::pollfd {
                    fd: std::os::fd::AsRawFd::as_raw_fd(sock),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                if unsafe { libc::poll(&mut pfd, 1, LINGER_MS) } <= 0 {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

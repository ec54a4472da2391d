//! One connection: the protocol machine, the socket it talks through, and
//! whatever came with the transport (a subprocess, a temporary directory).

use std::os::fd::{AsRawFd, RawFd};

use socket2::{SockAddr, Socket};

use super::io::{pump, pump_replies, PumpReport};
use super::tls_wire::{self, TlsWire};
use crate::generated::types::PublicState;
use crate::protocol::{Config, Direction, Machine};
use crate::tls::{TlsParams, TlsSession};
use crate::transport::{ActivationDir, ConnectStep, PendingConnect, Subprocess};
use crate::{Error, Result};

/// How the connection was made, as `nbd_get_uri` needs to know.
#[derive(Debug, Clone)]
pub(crate) enum Peer {
    /// `connect_tcp` with the host and port as the caller gave them.
    Tcp { host: String, port: String },
    /// A socket address: Unix, vsock, or an IP address given to aio_connect.
    Addr(SockAddr),
    /// A socket the caller connected (`connect_socket`).
    Socket,
    /// A subprocess on a socketpair (`connect_command`).
    Command,
    /// A socket-activated subprocess listening on this address.
    Activation(SockAddr),
}

/// Where the socket stands.
#[derive(Debug)]
enum Link {
    /// connect(2) in progress.
    Connecting(PendingConnect),
    /// Connected; the machine talks through it.
    Open(Socket),
    /// Closed after the connection ended (or never opened).
    Gone,
}

/// A connection and everything it owns. Fields drop in order: the machine
/// (and with it every command's buffers and callbacks), the socket, then
/// the subprocess is terminated and reaped, then its directory removed.
pub(crate) struct Connection {
    pub(crate) machine: Machine,
    link: Link,
    /// The TLS session between the socket and the machine, once the
    /// server accepted NBD_OPT_STARTTLS.
    tls: Option<TlsSession>,
    /// What a TLS session is built from (set when the connection is
    /// installed in its handle).
    pub(crate) tls_params: TlsParams,
    pub(crate) peer: Peer,
    /// The address the socket reached (after a connect this library made).
    pub(crate) reached: Option<SockAddr>,
    /// Counts the sockets the connection has had (a connect may try
    /// several addresses, each with a socket of its own).
    sockets: u32,
    /// The error that ended the connection, when the driver saw it.
    fatal: Option<Error>,
    pub(crate) child: Option<Subprocess>,
    pub(crate) activation: Option<ActivationDir>,
}

/// What a TLS session holds, roughly: OpenSSL's session and context and
/// its read and write record buffers (16 KiB each and some), plus ours.
const TLS_SESSION_ESTIMATE: usize = 64 * 1024;

impl Connection {
    /// An estimate of the memory the connection holds (for
    /// nbd_get_handle_size).
    pub(crate) fn memory(&self) -> usize {
        std::mem::size_of::<Connection>()
            + self.machine.memory()
            + if self.tls.is_some() {
                TLS_SESSION_ESTIMATE
            } else {
                0
            }
    }

    /// A connection whose socket is still to be connected to `addrs`.
    pub(crate) fn connect(config: Config, addrs: Vec<SockAddr>, peer: Peer) -> Connection {
        let mut conn = Connection::new(config, Link::Gone, peer);
        match PendingConnect::start(addrs) {
            Ok(step) => conn.apply_step(step),
            Err(e) => conn.fail(e),
        }
        conn
    }

    /// A connection over a socket that is already connected.
    pub(crate) fn over_socket(config: Config, socket: Socket, peer: Peer) -> Connection {
        let mut conn = Connection::new(config, Link::Open(socket), peer);
        conn.machine.start_handshake();
        conn
    }

    fn new(config: Config, link: Link, peer: Peer) -> Connection {
        let mut machine = Machine::new(config);
        if machine.config().connect_timeout.is_some() {
            machine.start_clock(std::time::Instant::now());
        }
        Connection {
            machine,
            link,
            tls: None,
            tls_params: TlsParams::default(),
            peer,
            reached: None,
            sockets: 1,
            fatal: None,
            child: None,
            activation: None,
        }
    }

    fn apply_step(&mut self, step: ConnectStep) {
        self.sockets = self.sockets.wrapping_add(1);
        match step {
            ConnectStep::Waiting(p) => self.link = Link::Connecting(p),
            ConnectStep::Done(socket, addr) => {
                self.link = Link::Open(socket);
                self.reached = Some(addr);
                self.machine.start_handshake();
            }
        }
    }

    /// Throw the machine away for a fresh one (which the caller then
    /// fails): every command, buffer and callback the old one held is
    /// dropped here.
    pub(crate) fn replace_machine(&mut self, config: Config) {
        let old = std::mem::replace(&mut self.machine, Machine::new(config));
        drop(old);
    }

    /// The connection failed for a reason the machine cannot know.
    pub(crate) fn fail(&mut self, err: Error) {
        if self.fatal.is_none() {
            self.fatal = Some(err.clone());
        }
        self.machine.transport_failed(err);
        self.link = Link::Gone;
    }

    /// The coarse state, for permitted-state checks and aio_is_*.
    pub(crate) fn public_state(&self) -> PublicState {
        match self.link {
            Link::Connecting(_) => PublicState::Connecting,
            _ => self.machine.public_state(),
        }
    }

    /// The socket's file descriptor, while there is a socket.
    pub(crate) fn fd(&self) -> Option<RawFd> {
        match &self.link {
            Link::Connecting(p) => Some(p.socket().as_raw_fd()),
            Link::Open(s) => Some(s.as_raw_fd()),
            Link::Gone => None,
        }
    }

    /// What to wait for: writability while connecting, else the machine's
    /// wish (nothing once the socket is gone).
    pub(crate) fn direction(&self) -> Direction {
        match (&self.link, &self.tls) {
            (Link::Connecting(_), _) => Direction::WRITE,
            (Link::Open(_), None) => self.machine.direction(),
            (Link::Open(_), Some(tls)) => tls_wire::direction(&self.machine, tls),
            (Link::Gone, _) => Direction::NONE,
        }
    }

    /// Which of the connection's sockets [`Connection::fd`] is (the
    /// number alone may be reused by the next one).
    pub(crate) fn socket_serial(&self) -> u32 {
        self.sockets
    }

    pub(crate) fn is_connecting_socket(&self) -> bool {
        matches!(self.link, Link::Connecting(_))
    }

    /// The error that ended the connection, or a description of why it
    /// cannot make progress.
    pub(crate) fn dead_error(&self) -> Error {
        if let Some(e) = self.machine.error().or(self.fatal.as_ref()) {
            return e.clone();
        }
        match self.machine.public_state() {
            PublicState::Closed => Error::new(libc::ENOTCONN, "connection is closed"),
            PublicState::Dead => Error::new(libc::ENOTCONN, "connection is dead"),
            _ => Error::new(
                libc::EINVAL,
                format!("nothing to wait for in state {}", self.machine.state_name()),
            ),
        }
    }

    /// The socket may be readable and/or writable: move bytes (or finish
    /// connecting). Errors have already killed the connection.
    pub(crate) fn on_ready(&mut self, readable: bool, writable: bool) -> Result<PumpReport> {
        self.on_ready_replies(readable, writable, false)
    }

    /// [`Connection::on_ready`], reading at most one reply when
    /// `one_reply` (a plaintext connection in the transmission phase; see
    /// `pump_replies`).
    pub(crate) fn on_ready_replies(
        &mut self,
        readable: bool,
        writable: bool,
        one_reply: bool,
    ) -> Result<PumpReport> {
        let report = match std::mem::replace(&mut self.link, Link::Gone) {
            Link::Connecting(p) => {
                match p.advance() {
                    Ok(step) => self.apply_step(step),
                    Err(e) => {
                        self.fail(e.clone());
                        return Err(e);
                    }
                }
                // The server speaks first; its greeting may be there already.
                let report = PumpReport {
                    progressed: true,
                    ..PumpReport::default()
                };
                if matches!(self.link, Link::Open(_)) {
                    self.pump_open(true, true, false)?;
                }
                report
            }
            Link::Open(s) => {
                self.link = Link::Open(s);
                self.pump_open(readable, writable, one_reply)?
            }
            Link::Gone => {
                return Err(Error::new(
                    libc::EINVAL,
                    format!("no socket to use in state {}", self.machine.state_name()),
                ))
            }
        };
        Ok(report)
    }

    fn pump_open(&mut self, readable: bool, writable: bool, one_reply: bool) -> Result<PumpReport> {
        let Link::Open(sock) = &self.link else {
            return Ok(PumpReport::default());
        };
        let (mut readable, mut writable) = (readable, writable);
        let mut report = PumpReport::default();
        let result = loop {
            let step = match self.tls.as_mut() {
                None => pump_replies(&mut self.machine, sock, readable, writable, one_reply),
                Some(tls) => pump(
                    &mut TlsWire {
                        machine: &mut self.machine,
                        tls,
                    },
                    sock,
                    readable,
                    writable,
                ),
            };
            match step {
                Ok(r) => {
                    report.progressed |= r.progressed;
                    report.eof |= r.eof;
                    report.read_blocked |= r.read_blocked;
                    report.write_blocked |= r.write_blocked;
                }
                Err(e) => break Err(e),
            }
            if self.tls.is_none() && self.machine.tls_handshake_pending() {
                // The server accepted NBD_OPT_STARTTLS: from here on every
                // byte goes through TLS. Send the ClientHello at once.
                match TlsSession::start(&self.tls_params) {
                    Ok(session) => {
                        self.tls = Some(session);
                        (readable, writable) = (false, true);
                        continue;
                    }
                    Err(e) => {
                        self.machine.transport_failed(e.clone());
                        break Err(e);
                    }
                }
            }
            break Ok(report);
        };
        // The machine's error is the authoritative reason (the TLS layer
        // may have explained a bare socket error).
        let result = result.map_err(|e| self.machine.error().cloned().unwrap_or(e));
        if let Err(e) = &result {
            if self.fatal.is_none() {
                self.fatal = Some(e.clone());
            }
        }
        self.close_if_finished();
        result
    }

    /// The time is `now`: fail what is past its deadline (the machine
    /// dies with ETIMEDOUT) and drop the socket. Returns whether anything
    /// timed out.
    pub(crate) fn handle_timeout(&mut self, now: std::time::Instant) -> bool {
        if !self.machine.handle_timeout(now) {
            return false;
        }
        if matches!(self.link, Link::Connecting(_)) {
            self.link = Link::Gone;
        }
        self.close_if_finished();
        true
    }

    /// Drop the socket once the machine is dead or closed (libnbd closes
    /// it at that point too).
    pub(crate) fn close_if_finished(&mut self) {
        let state = self.machine.public_state();
        if matches!(state, PublicState::Dead | PublicState::Closed) {
            if let Link::Open(sock) = &self.link {
                if let Some(tls) = self.tls.as_mut() {
                    // The machine counts bytes as sent once they are
                    // encrypted: NBD_OPT_ABORT or NBD_CMD_DISC may still be
                    // queued as ciphertext. Send it, and close_notify.
                    let clean = state == PublicState::Closed;
                    if clean {
                        tls.close_notify();
                    }
                    tls_wire::send_remaining(sock, tls, clean);
                }
                self.link = Link::Gone;
            }
            self.tls = None;
        }
    }

    /// Try to send pending output without waiting (a fresh request can
    /// usually go out at once, saving a poll). Over TLS, also hand the
    /// machine any plaintext already decrypted or received (it would not
    /// make the socket readable again).
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.flush_progress().map(drop)
    }

    /// [`Connection::flush`], telling whether anything moved.
    pub(crate) fn flush_progress(&mut self) -> Result<bool> {
        if !matches!(self.link, Link::Open(_)) {
            return Ok(false);
        }
        let mut moved = self.deliver_buffered()?;
        if self.direction().writes() {
            moved |= self.pump_open(false, true, false)?.progressed;
        }
        Ok(moved)
    }

    /// Over TLS: give the machine what the session holds already, when
    /// the machine wants to read. Returns whether anything was delivered.
    pub(crate) fn deliver_buffered(&mut self) -> Result<bool> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(false);
        };
        if !tls.has_buffered_input() || !self.machine.direction().reads() {
            return Ok(false);
        }
        let r = TlsWire {
            machine: &mut self.machine,
            tls,
        }
        .process_input();
        if let Err(e) = &r {
            if self.fatal.is_none() {
                self.fatal = Some(e.clone());
            }
        }
        self.close_if_finished();
        r
    }
}

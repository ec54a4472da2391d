//! The machine: the data every phase uses, and the public entry points
//! through which the drivers feed it bytes and events. The states and
//! their data are in state.rs; the protocol work lives in handshake.rs,
//! options.rs, starttls.rs, submit.rs and reply.rs.

use std::io::IoSlice;
use std::time::Instant;

use super::commands::Commands;
use super::inbuf::InBuf;
use super::outqueue::{OutQueue, Sent, Tag};
use super::state::{AbortCause, OptKind, State, WindDown};
use super::types::*;
use crate::generated::types::{CompletionCallback, Extent, PublicState};
use crate::Error;

/// Remaining read payload smaller than this is copied through the
/// internal buffer (so that the replies after it arrive in the same
/// read()); larger payloads are received straight into the caller's
/// buffer.
const DIRECT_MIN: usize = 32 * 1024;

/// What every phase of the connection uses: the settings, what
/// negotiation learnt, the byte buffers, the counters and the debug log.
pub(super) struct Context {
    pub(super) config: Config,
    pub(super) info: Negotiated,
    pub(super) inbuf: InBuf,
    pub(super) out: OutQueue,
    pub(super) stats: Stats,
    pub(super) debug: Vec<String>,
    /// The result of the last opt-mode option, until collected. It is
    /// produced as an option ends and read in whatever state follows
    /// (Negotiating, Ready after opt_go, Closed after opt_abort, Dead).
    pub(super) opt_result: Option<Result<OptOutcome, Error>>,
    /// Handshake flags both sides agreed on (export-name replies and
    /// which options exist depend on them for the whole negotiation).
    pub(super) gflags: u16,
    /// The export name the current meta contexts were negotiated for
    /// (kept with `info` across options in opt mode).
    pub(super) meta_export: Option<String>,
    /// When connecting and the handshake must be over (a connect timeout).
    pub(super) handshake_deadline: Option<Instant>,
}

impl Context {
    /// Record a debug message; the closure runs only when debugging.
    pub(super) fn debug_msg(&mut self, msg: impl FnOnce() -> String) {
        if self.config.debug {
            self.debug.push(msg());
        }
    }

    /// Enough buffered bytes for a message of `n` bytes? If not, make room
    /// for it to accumulate.
    pub(super) fn have(&mut self, n: usize) -> bool {
        if self.inbuf.len() >= n {
            true
        } else {
            self.inbuf.reserve_contiguous(n);
            false
        }
    }
}

/// The sans-IO NBD client for one connection.
pub struct Machine {
    pub(super) cx: Context,
    pub(super) state: State,
}

impl Machine {
    /// A machine for one connection, configured from the handle's settings.
    pub fn new(config: Config) -> Machine {
        Machine {
            cx: Context {
                config,
                info: Negotiated::default(),
                inbuf: InBuf::new(),
                out: OutQueue::new(),
                stats: Stats::default(),
                debug: Vec::new(),
                opt_result: None,
                gflags: 0,
                meta_export: None,
                handshake_deadline: None,
            },
            state: State::Created,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.cx.config
    }

    /// The settings, for changes made while negotiating in opt mode (they
    /// apply to the next option).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.cx.config
    }

    /// The coarse state for permitted_states checks and aio_is_*: the one
    /// place that maps the fine states to the public ones.
    pub fn public_state(&self) -> PublicState {
        match self.state {
            State::Created => PublicState::Created,
            State::RecvMagic
            | State::RecvOldstyle
            | State::RecvGflags
            | State::RecvOptReply { .. }
            | State::RecvExportName { .. }
            | State::TlsHandshake(_)
            | State::SendAbort(_) => PublicState::Connecting,
            State::Negotiating => PublicState::Negotiating,
            State::Ready(_) => PublicState::Connected,
            State::Closed(_) => PublicState::Closed,
            State::Dead { .. } => PublicState::Dead,
        }
    }

    /// The fine state's name, as libnbd's nbd_connection_state shows it.
    pub fn state_name(&self) -> &'static str {
        match &self.state {
            State::Created => "START",
            State::RecvMagic => "MAGIC.RECV_MAGIC",
            State::RecvOldstyle => "OLDSTYLE.RECV_REMAINING",
            State::RecvGflags => "NEWSTYLE.RECV_GFLAGS",
            State::RecvOptReply { opt, .. } => opt.state_name(),
            State::RecvExportName { .. } => "NEWSTYLE.OPT_EXPORT_NAME.RECV_REPLY",
            State::TlsHandshake(_) => "NEWSTYLE.OPT_STARTTLS.TLS_HANDSHAKE",
            State::Negotiating => "NEGOTIATING",
            State::SendAbort(_) => "NEWSTYLE.SEND_OPT_ABORT",
            State::Ready(t) => {
                if !self.cx.out.is_empty() {
                    "ISSUE_COMMAND.SEND_REQUEST"
                } else if t.reply.is_idle() && self.cx.inbuf.is_empty() {
                    "READY"
                } else {
                    "REPLY.RECV_REPLY"
                }
            }
            State::Closed(_) => "CLOSED",
            State::Dead { .. } => "DEAD",
        }
    }

    /// Whether the machine wants to read, write, both or neither.
    pub fn direction(&self) -> Direction {
        let write = if self.cx.out.is_empty() {
            0
        } else {
            Direction::WRITE.0
        };
        match self.state {
            State::Created | State::Closed(_) | State::Dead { .. } => Direction::NONE,
            State::RecvMagic
            | State::RecvOldstyle
            | State::RecvGflags
            | State::RecvOptReply { .. }
            | State::RecvExportName { .. }
            | State::Ready(_) => Direction(Direction::READ.0 | write),
            State::Negotiating | State::TlsHandshake(_) | State::SendAbort(_) => Direction(write),
        }
    }

    /// The error that killed the machine, once it is dead.
    pub fn error(&self) -> Option<&Error> {
        match &self.state {
            State::Dead { error, .. } => Some(error),
            _ => None,
        }
    }

    // ---- bytes out ----

    /// The bytes waiting to be sent, as slices for one vectored write.
    pub fn pending_output<'a>(&'a self, out: &mut Vec<IoSlice<'a>>) {
        self.cx.out.slices(out);
    }

    /// `n` bytes of `pending_output` were written to the socket.
    pub fn output_written(&mut self, n: usize) {
        self.cx.stats.bytes_sent += n as u64;
        let mut sent_abort = false;
        let mut cmds = match &mut self.state {
            State::Ready(t) => Some(&mut t.cmds),
            _ => None,
        };
        let stats = &mut self.cx.stats;
        self.cx.out.written(n, |Sent { tag }| {
            stats.chunks_sent += 1;
            match tag {
                Tag::Handshake => {}
                Tag::OptAbort => sent_abort = true,
                Tag::Request(cookie) => {
                    if let Some(cmds) = cmds.as_mut() {
                        cmds.mark_sent(cookie);
                    }
                }
            }
        });
        if sent_abort {
            self.abort_sent();
        }
    }

    // ---- bytes in ----

    /// Where the next received bytes should go; never empty while
    /// `direction()` includes READ.
    pub fn input_buffer(&mut self) -> &mut [u8] {
        if let State::Ready(t) = &mut self.state {
            t.direct = false;
            if self.cx.inbuf.is_empty() {
                if let Some((cookie, pos, remaining)) = t.reply.data_target() {
                    if remaining >= DIRECT_MIN {
                        if let Some(buf) = t.cmds.get(cookie).and_then(|c| c.buf.as_ref()) {
                            if pos
                                .checked_add(remaining)
                                .is_some_and(|end| end <= buf.len())
                            {
                                t.direct = true;
                                // SAFETY: the range lies inside the buffer
                                // (just checked); the command holds a clone
                                // of the buffer so it stays allocated, and
                                // the caller does not touch it while the
                                // read is in flight.
                                return unsafe {
                                    std::slice::from_raw_parts_mut(buf.as_ptr().add(pos), remaining)
                                };
                            }
                        }
                    }
                }
            }
        }
        self.cx.inbuf.space()
    }

    /// In the transmission phase, how many bytes end the reply unit being
    /// read (a header, a chunk's payload, a read's data): a caller that
    /// reads no more than that leaves the next reply in the socket, as
    /// libnbd, which reads one reply per nbd_aio_notify_read, does. None
    /// before the transmission phase.
    pub fn reply_unit_remaining(&self) -> Option<usize> {
        let State::Ready(t) = &self.state else {
            return None;
        };
        let buffered = self.cx.inbuf.len();
        let magic = (buffered >= 4).then(|| super::wire::be32(self.cx.inbuf.avail(), 0));
        Some(
            t.reply
                .unit_remaining(buffered, self.cx.info.extended_headers, magic),
        )
    }

    /// Between replies: no reply is partly read, and nothing is buffered.
    pub fn at_reply_boundary(&self) -> bool {
        matches!(&self.state, State::Ready(t) if t.reply.is_idle()) && self.cx.inbuf.is_empty()
    }

    /// `n` bytes were received into `input_buffer()`: parse them, running
    /// callbacks and completing commands. An error means the machine died.
    pub fn input_received(&mut self, n: usize) -> Result<(), Error> {
        match &mut self.state {
            State::Closed(_) | State::Dead { .. } => return Ok(()),
            State::Created => {
                let e = Error::new(libc::EINVAL, "received data before the handshake started");
                self.die(e.clone());
                return Err(e);
            }
            State::Ready(t) if t.direct => {
                t.direct = false;
                t.reply.data_received_direct(n);
            }
            _ => self.cx.inbuf.received(n),
        }
        self.cx.stats.bytes_received += n as u64;
        self.run()
    }

    /// The peer closed the connection (read returned 0).
    pub fn input_eof(&mut self) {
        match &self.state {
            State::Created | State::Closed(_) | State::Dead { .. } => {}
            // die() prefers the failure the abort carries.
            State::SendAbort(AbortCause::Failed(e)) => {
                let e = e.clone();
                self.die(e)
            }
            State::SendAbort(_) => self.close(),
            State::Ready(t)
                if (self.cx.config.keep_on_break || self.cx.config.cannot_redial)
                    && !t.disconnect_requested =>
            {
                // The handle would reconnect: an end the client did not
                // ask for is a break, whatever was in flight.
                self.die(Error::new(
                    libc::ECONNRESET,
                    "the server closed the connection",
                ));
            }
            State::Ready(t) => {
                if t.reply.is_idle() && self.cx.inbuf.is_empty() {
                    // A clean end between replies: libnbd calls this
                    // CLOSED; anything still in flight fails.
                    self.cx
                        .debug_msg(|| "server closed the connection".to_string());
                    self.close();
                } else {
                    self.die(Error::new(
                        libc::EPROTO,
                        "server closed the connection in the middle of a reply",
                    ));
                }
            }
            State::Negotiating => self.die(Error::new(
                libc::EPROTO,
                "server closed the connection while negotiating",
            )),
            _ => self.die(Error::new(
                libc::EPROTO,
                "server closed the connection during the handshake",
            )),
        }
    }

    /// The transport failed: the machine is dead; every command fails.
    pub fn transport_failed(&mut self, err: Error) {
        self.die(err);
    }

    // ---- starting things ----

    /// The socket is connected: begin the handshake (the server speaks
    /// first).
    pub fn start_handshake(&mut self) {
        if matches!(self.state, State::Created) {
            self.state = State::RecvMagic;
        }
    }

    /// Opt mode: start one option. Its result is collected with
    /// `option_result()` (and passed to `completion`).
    pub fn start_option(
        &mut self,
        opt: OptRequest,
        completion: Option<CompletionCallback>,
    ) -> Result<(), Error> {
        self.begin_user_option(opt, completion)
    }

    // ---- TLS ----

    /// The server accepted NBD_OPT_STARTTLS: from now on every byte in
    /// either direction must pass through TLS. The driver starts a TLS
    /// client session over the connection, runs its handshake, and then
    /// calls [`Machine::tls_established`] (or `transport_failed`). The
    /// machine neither produces nor parses bytes until then.
    pub fn tls_handshake_pending(&self) -> bool {
        matches!(self.state, State::TlsHandshake(_))
    }

    /// The TLS handshake succeeded (`summary` describes the session for
    /// the debug log; it must not contain secrets). Negotiation goes on
    /// inside TLS: the caller's opt_starttls completes, or automatic
    /// negotiation continues. An error means the machine died.
    pub fn tls_established(&mut self, summary: &str) -> Result<(), Error> {
        self.starttls_done(summary)
    }

    /// The result of the option started last, once it has finished
    /// (returned once).
    pub fn option_result(&mut self) -> Option<Result<OptOutcome, Error>> {
        self.cx.opt_result.take()
    }

    /// Queue a transmission-phase command; returns its cookie.
    pub fn start_command(&mut self, cmd: Command) -> Result<u64, Error> {
        self.submit(cmd)
    }

    /// nbd_aio_disconnect / nbd_shutdown: queue NBD_CMD_DISC, or
    /// NBD_OPT_ABORT while negotiating. With `abandon_pending`, requests
    /// not yet sent are dropped and fail with ENOTCONN.
    pub fn disconnect(&mut self, abandon_pending: bool) -> Result<(), Error> {
        self.request_disconnect(abandon_pending)
    }

    /// An estimate of the memory the machine holds, in bytes: its input
    /// buffer, send queue, command table and what it learnt (meta
    /// contexts, names), for nbd_get_handle_size.
    pub fn memory(&self) -> usize {
        let strings = |v: &[String]| v.iter().map(|s| s.capacity()).sum::<usize>();
        let cx = &self.cx;
        let scratch = match &self.state {
            State::Ready(t) => {
                t.scratch32.capacity() * 4 + t.scratch64.capacity() * std::mem::size_of::<Extent>()
            }
            _ => 0,
        };
        std::mem::size_of::<Machine>()
            + cx.inbuf.capacity()
            + cx.out.memory()
            + self.state.commands().map_or(0, Commands::memory)
            + cx.info
                .meta_contexts
                .iter()
                .map(|m| m.name.capacity() + 8)
                .sum::<usize>()
            + strings(&cx.config.meta_contexts)
            + cx.config.export_name.capacity()
            + strings(&cx.debug)
            + scratch
    }

    /// NBD_CMD_DISC has been queued (nbd_aio_disconnect or nbd_shutdown):
    /// no more commands, and no second disconnect request.
    pub fn disconnecting(&self) -> bool {
        match &self.state {
            State::Ready(t) => t.disconnect_requested,
            State::Closed(e) | State::Dead { ended: e, .. } => e.disconnect_requested,
            _ => false,
        }
    }

    // ---- completion bookkeeping ----

    /// nbd_aio_command_completed: Ok(false) while in flight, Ok(true) and
    /// retired on success, the command's error (retired) on failure,
    /// EINVAL for an unknown cookie.
    pub fn command_completed(&mut self, cookie: u64) -> Result<bool, Error> {
        match self.state.commands_mut() {
            Some(cmds) => cmds.command_completed(cookie),
            // Before transmission no command exists: answer as an empty
            // table does.
            None => Self::command_completed_unconnected(cookie),
        }
    }

    /// nbd_aio_command_completed and nbd_aio_peek_command_completed
    /// before transmission, with or without a machine (no connection
    /// yet): the answers of an empty command table.
    pub fn command_completed_unconnected(cookie: u64) -> Result<bool, Error> {
        Commands::new().command_completed(cookie)
    }

    pub fn peek_command_completed_unconnected() -> Result<u64, Error> {
        Commands::new().peek_completed()
    }

    /// nbd_aio_peek_command_completed: the cookie of a completed command,
    /// 0 when some are in flight but none completed, EINVAL when none.
    pub fn peek_command_completed(&self) -> Result<u64, Error> {
        match self.state.commands() {
            Some(cmds) => cmds.peek_completed(),
            None => Self::peek_command_completed_unconnected(),
        }
    }

    // ---- deadlines (the caller supplies the time) ----

    /// The connection attempt began at `now`: with a connect timeout,
    /// connecting and the whole handshake (in opt mode, up to the end of
    /// negotiation) must be over by `now` plus the timeout.
    pub fn start_clock(&mut self, now: Instant) {
        self.cx.handshake_deadline = self.cx.config.connect_timeout.map(|t| now + t);
    }

    /// Command `cookie` was issued at `now`: with a request timeout, it
    /// must be answered by `now` plus the timeout.
    pub fn command_started_at(&mut self, cookie: u64, now: Instant) {
        if let (Some(t), State::Ready(tr)) = (self.cx.config.request_timeout, &mut self.state) {
            tr.deadlines.push_back((now + t, cookie));
        }
    }

    /// When [`Machine::handle_timeout`] next has something to do, if ever.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        match &mut self.state {
            State::Ready(t) => {
                while let Some(&(at, cookie)) = t.deadlines.front() {
                    if t.cmds.active_mut(cookie).is_some() {
                        return Some(at);
                    }
                    t.deadlines.pop_front();
                }
                None
            }
            State::Closed(_) | State::Dead { .. } => None,
            _ => self.cx.handshake_deadline,
        }
    }

    /// The time is `now`: a handshake or a command past its deadline
    /// fails with ETIMEDOUT, and with it the connection (NBD cannot
    /// cancel one request; the others on this connection fail with
    /// ENOTCONN). Returns whether anything timed out.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.next_deadline() {
            Some(at) if at <= now => {}
            _ => return false,
        }
        let ms = |d: Option<std::time::Duration>| d.map_or(0, |d| d.as_millis());
        let err = match &mut self.state {
            State::Ready(t) => {
                let ms = ms(self.cx.config.request_timeout);
                if let Some((_, cookie)) = t.deadlines.pop_front() {
                    // It completes now, whatever becomes of the others.
                    let why = format!("the server did not answer within {ms} ms");
                    t.cmds.fail_one(cookie, libc::ETIMEDOUT, &why);
                }
                Error::new(
                    libc::ETIMEDOUT,
                    format!(
                        "a request was not answered within {ms} ms, so the connection was closed"
                    ),
                )
            }
            _ => Error::new(
                libc::ETIMEDOUT,
                format!(
                    "connecting and the handshake did not finish within {} ms",
                    ms(self.cx.config.connect_timeout)
                ),
            ),
        };
        self.die(err);
        true
    }

    // ---- reconnecting ----

    /// The connection broke and its commands are kept for a new one
    /// (`Config::keep_on_break`).
    pub fn is_broken(&self) -> bool {
        matches!(&self.state, State::Dead { ended, .. } if ended.broken)
    }

    /// No new connection will take the kept commands: fail them, and any
    /// issued since, with the error that broke the connection.
    pub fn give_up(&mut self, why: &str) {
        if let State::Dead { error, ended } = &mut self.state {
            if ended.broken {
                ended.broken = false;
                let why = format!("{why}: {}", error.message());
                ended.cmds.fail_all(error.errno(), &why);
            }
        }
    }

    /// This machine has just reached the transmission phase on a new
    /// connection that replaces `old`'s broken one: take over `old`'s
    /// commands (same cookies, same numbering) and send again every one
    /// not answered, in cookie order. Returns their cookies.
    pub fn adopt(&mut self, old: &mut Machine) -> Result<Vec<u64>, Error> {
        self.adopt_commands(old)
    }

    /// Number this connection's commands `first`, `first + step`, ...
    /// (several connections of one handle share one cookie space). Only
    /// in the transmission phase, before the first command.
    pub fn number_cookies(&mut self, first: u64, step: u64) -> Result<(), Error> {
        match &mut self.state {
            State::Ready(t) => t.cmds.number_from(first, step),
            _ => Err(Error::new(
                libc::EINVAL,
                "cookies are numbered in the transmission phase",
            )),
        }
    }

    /// Commands submitted and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.state.commands().map_or(0, Commands::in_flight)
    }

    // ---- what was negotiated ----

    pub fn info(&self) -> &Negotiated {
        &self.cx.info
    }

    pub fn stats(&self) -> Stats {
        self.cx.stats
    }

    /// Debug messages since the last call (only produced when
    /// `Config::debug` is set).
    pub fn take_debug(&mut self) -> Vec<String> {
        std::mem::take(&mut self.cx.debug)
    }

    // ---- internal helpers shared by the other files ----

    /// Parse as much buffered input as possible.
    fn run(&mut self) -> Result<(), Error> {
        loop {
            let progress = match &mut self.state {
                State::Ready(t) => t.step_reply(&mut self.cx),
                State::RecvMagic
                | State::RecvOldstyle
                | State::RecvGflags
                | State::RecvOptReply { .. }
                | State::RecvExportName { .. } => self.step_handshake(),
                // Nothing is expected: bytes from the server here are
                // left alone until the state expects them.
                _ => Ok(false),
            };
            match progress {
                Ok(true) => continue,
                Ok(false) => return Ok(()),
                Err(e) => {
                    self.die(e.clone());
                    return Err(e);
                }
            }
        }
    }

    /// Hand the state to a handler by value; the handler sets the next
    /// one. `Created` stands in meanwhile, unseen: nothing outside the
    /// machine runs in between (callbacks cannot reach it), and a handler
    /// that fails leaves the machine to `die`, which replaces it.
    pub(super) fn take_state(&mut self) -> State {
        std::mem::replace(&mut self.state, State::Created)
    }

    /// The connection failed: fail the option and every command.
    pub(super) fn die(&mut self, err: Error) {
        if self.state.is_over() {
            return;
        }
        let keep = self.cx.config.keep_on_break
            && matches!(&self.state, State::Ready(t) if !t.disconnect_requested);
        let WindDown {
            opt,
            mut ended,
            failure,
        } = self.take_state().wind_down();
        // The reason negotiation was being abandoned matters more than
        // what went wrong while saying goodbye.
        let err = failure.unwrap_or(err);
        let err = if self.cx.config.cannot_redial {
            Error::new(
                err.errno(),
                format!(
                    "{} (not reconnected: this transport cannot be dialled again)",
                    err.message()
                ),
            )
        } else {
            err
        };
        self.cx.debug_msg(|| format!("connection failed: {err}"));
        self.cx.out.clear();
        if keep {
            let n = ended.cmds.requeue_all().len();
            ended.broken = true;
            self.cx
                .debug_msg(|| format!("keeping {n} commands to send again on a new connection"));
            self.state = State::Dead { error: err, ended };
            return;
        }
        let why = format!("the connection died: {}", err.message());
        if let Some(opt) = opt {
            self.finish_option_with(opt, Err(err.clone()), libc::ENOTCONN);
        }
        ended.cmds.abort_all(&why);
        self.state = State::Dead { error: err, ended };
    }

    /// The connection ended cleanly (the server hung up between replies,
    /// or NBD_OPT_ABORT went out).
    pub(super) fn close(&mut self) {
        if self.state.is_over() {
            return;
        }
        let WindDown { opt, mut ended, .. } = self.take_state().wind_down();
        self.cx.out.clear();
        if let Some(opt) = opt {
            if matches!(opt.kind, OptKind::Abort) {
                self.finish_option_with(opt, Ok(OptOutcome::Done), 0);
            } else {
                let err = Error::new(libc::ENOTCONN, "the connection was closed");
                self.finish_option_with(opt, Err(err), libc::ENOTCONN);
            }
        }
        ended.cmds.abort_all("the server closed the connection");
        self.state = State::Closed(ended);
    }
}

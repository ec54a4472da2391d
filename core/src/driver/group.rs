//! The connections of one handle. Usually there is one. With
//! nbd_set_connections(3) above 1, a server that advertises multi-conn and
//! a transport that can be dialled again (TCP, Unix or vsock), the first
//! connection's negotiation is repeated on more connections once its
//! handshake is over, and commands are spread over all of them.
//!
//! To every driver (the blocking calls, `nbd_poll`, the caller's own
//! event loop, the tokio driver) a group looks like one connection: one
//! descriptor, one direction, one `on_ready`. With one connection that is
//! the socket itself, exactly as before groups existed. With several it is
//! an epoll descriptor that watches every socket in the direction its own
//! machine wants, so it is readable whenever any of them needs attention;
//! the group's direction is then READ, and `on_ready` serves the sockets
//! that are ready. The library's own waits (`nbd_poll`, the blocking
//! calls) and `on_ready` use poll(2) on the sockets themselves, which
//! costs no epoll_ctl when a direction changes; the epoll set is kept up
//! to date only once its descriptor was handed out (`aio_get_fd`, the
//! tokio driver).
//!
//! Invariants:
//! - `members[0]` is the first connection: negotiation results, the
//!   subprocess and the URI are its.
//! - The handle reports Connecting while the extra connections do their
//!   handshakes, so no command is issued before every connection numbers
//!   its cookies: member `k` uses `k + 1`, `k + 1 + n`, ... for `n`
//!   connections, so a cookie names its connection and is unique per
//!   handle.
//! - Members are never removed once commands may exist (a dead member
//!   stays, answering for its failed commands); the extras are dropped
//!   only while they are still opening.
//! - Once its descriptor was handed out, the epoll set is brought up to
//!   date after every step (`settle`), before anybody waits on it.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::connection::{Connection, Peer};
use super::io::PumpReport;
use crate::generated::types::{PublicState, Tls};
use crate::protocol::{Command, Config, Direction, Negotiated, Stats};
use crate::{Error, Result};

/// The most connections one handle may have (nbd_set_connections).
pub(crate) const MAX_CONNECTIONS: u32 = 64;

pub(crate) struct Group {
    members: Vec<Member>,
    plan: Plan,
    /// Present when the handle may have several connections (decided when
    /// the first one starts, so the descriptor the caller sees never
    /// changes).
    epoll: Option<Epoll>,
    /// Whether the epoll descriptor was handed out (someone may wait on
    /// it): only then is the set kept up to date.
    exported: bool,
    /// The number of connections that share the cookie space.
    stride: u64,
    /// Where the search for the next command's connection starts on a tie.
    turn: usize,
    /// With nbd_set_reconnect_delay, on a transport that can be dialled
    /// again: how long a broken connection may take to come back.
    reconnect_delay: Option<Duration>,
    /// Connections that came back (nbd_stats_reconnects).
    reconnects: u64,
    /// The group's own debug messages, not yet forwarded.
    notes: Vec<String>,
    /// `serve`'s poll set and whose each entry is, kept between calls so
    /// that the poll loop does not allocate.
    pollfds: Vec<libc::pollfd>,
    pollers: Vec<(usize, bool)>,
}

struct Member {
    conn: Connection,
    /// What the epoll set holds for this member: its socket (and which
    /// socket of the connection's life that was) and the events watched
    /// (0: not in the set).
    watched: Option<Watched>,
    /// The connection broke and is being replaced.
    reconnect: Option<Reconnect>,
    /// The traffic of the connections this one replaced.
    carried: Stats,
}

impl Member {
    fn new(conn: Connection) -> Member {
        Member {
            conn,
            watched: None,
            reconnect: None,
            carried: Stats::default(),
        }
    }

    /// The connection dialled to replace this member's, if one is.
    fn dialing(&mut self) -> Option<(&mut Connection, &mut Option<Watched>)> {
        match self.reconnect.as_mut().map(|r| &mut r.attempt) {
            Some(Attempt::Dialing(c, w)) => Some((c, w)),
            _ => None,
        }
    }

    fn dialing_ref(&self) -> Option<&Connection> {
        match self.reconnect.as_ref().map(|r| &r.attempt) {
            Some(Attempt::Dialing(c, _)) => Some(c),
            _ => None,
        }
    }
}

/// A broken connection coming back.
struct Reconnect {
    /// When it broke: attempts end at this plus the reconnect delay.
    since: Instant,
    tries: u32,
    attempt: Attempt,
}

enum Attempt {
    /// The next attempt starts then.
    At(Instant),
    /// Connecting and negotiating, with its epoll registration (boxed:
    /// a connection is large and this is rare).
    Dialing(Box<Connection>, Option<Watched>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Watched {
    fd: RawFd,
    socket: u32,
    events: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// One connection and no more.
    Single,
    /// Open more connections, up to this many in all, once the first
    /// finished its handshake.
    Waiting(usize),
    /// The extra connections are connecting and negotiating.
    Opening,
    /// Settled: every connection that will ever carry commands is there.
    Running,
}

impl Group {
    /// The group of a new connection; `wanted` connections in all when
    /// the server and the transport allow it.
    pub(crate) fn new(conn: Connection, wanted: u32, reconnect_delay: Option<Duration>) -> Group {
        let mut g = Group {
            members: vec![Member::new(conn)],
            plan: Plan::Single,
            epoll: None,
            exported: false,
            stride: 1,
            turn: 0,
            reconnect_delay: None,
            reconnects: 0,
            notes: Vec::new(),
            pollfds: Vec::new(),
            pollers: Vec::new(),
        };
        let redial = matches!(g.first().peer, Peer::Tcp { .. } | Peer::Addr(_));
        if (wanted > 1 || reconnect_delay.is_some()) && !redial {
            g.first_mut().machine.config_mut().cannot_redial = reconnect_delay.is_some();
            g.note(
                "using one connection, never reconnected: a subprocess or a socket \
                 the caller connected cannot be dialled again"
                    .to_string(),
            );
        } else if wanted > 1 || reconnect_delay.is_some() {
            // One descriptor for the handle's life, whichever sockets come
            // and go behind it.
            match Epoll::new() {
                Ok(ep) => {
                    g.epoll = Some(ep);
                    if wanted > 1 {
                        g.plan = Plan::Waiting(wanted as usize);
                    }
                    if reconnect_delay.is_some() {
                        g.reconnect_delay = reconnect_delay;
                        g.first_mut().machine.config_mut().keep_on_break = true;
                    }
                }
                Err(e) => g.note(format!("using one connection, never reconnected: {e}")),
            }
        }
        g.settle();
        g
    }

    pub(crate) fn first(&self) -> &Connection {
        &self.members[0].conn
    }

    pub(crate) fn first_mut(&mut self) -> &mut Connection {
        &mut self.members[0].conn
    }

    fn note(&mut self, msg: String) {
        if self.first().machine.config().debug {
            self.notes.push(msg);
        }
    }

    // ---- what the drivers see ----

    /// The coarse state: the first connection's, except Connecting while
    /// more connections are being opened, and, once several run,
    /// Connected while any of them is.
    pub(crate) fn public_state(&self) -> PublicState {
        if self.reconnecting() {
            // Commands are taken meanwhile, and sent once it is back.
            return PublicState::Connected;
        }
        let first = self.first().public_state();
        match self.plan {
            Plan::Waiting(_) | Plan::Opening if first == PublicState::Connected => {
                PublicState::Connecting
            }
            Plan::Running if self.members.len() > 1 => {
                let any = |s| self.members.iter().any(|m| m.conn.public_state() == s);
                if any(PublicState::Connected) {
                    PublicState::Connected
                } else if any(PublicState::Closed) {
                    PublicState::Closed
                } else {
                    PublicState::Dead
                }
            }
            _ => first,
        }
    }

    /// Connected and some connection is in the middle of a request or
    /// reply (libnbd's "processing" as opposed to "ready").
    pub(crate) fn processing(&self) -> bool {
        self.public_state() == PublicState::Connected
            && self.members.iter().any(|m| {
                m.conn.public_state() == PublicState::Connected
                    && !m.conn.machine.state_name().starts_with("READY")
            })
    }

    /// What to wait for on [`Group::fd`].
    pub(crate) fn direction(&self) -> Direction {
        if self.epoll.is_none() {
            return self.first().direction();
        }
        if self.reconnecting() || self.members.iter().any(|m| m.conn.direction().bits() != 0) {
            Direction::READ
        } else {
            Direction::NONE
        }
    }

    /// Whether a broken connection is being replaced.
    fn reconnecting(&self) -> bool {
        self.members.iter().any(|m| m.reconnect.is_some())
    }

    /// The descriptor for a waiter outside the library (`aio_get_fd`, the
    /// tokio driver), while there is a socket. From now on the epoll set
    /// is kept up to date.
    pub(crate) fn fd(&mut self) -> Option<RawFd> {
        if self.epoll.is_none() {
            return self.first().fd();
        }
        if !self.exported {
            self.exported = true;
            self.watch();
        }
        match &self.epoll {
            Some(ep) if self.has_socket() => Some(ep.0.as_raw_fd()),
            _ => None,
        }
    }

    /// Whether any connection still has a socket (or will have one
    /// again: a broken connection being replaced).
    pub(crate) fn has_socket(&self) -> bool {
        self.reconnecting() || self.members.iter().any(|m| m.conn.fd().is_some())
    }

    /// Whether [`Group::fd`] is a socket whose connect(2) is in progress
    /// (it is to be waited on for writing, and served as such; the tokio
    /// driver asks).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn is_connecting_socket(&self) -> bool {
        self.epoll.is_none() && self.first().is_connecting_socket()
    }

    /// The error that ended the group, or why it cannot make progress.
    pub(crate) fn dead_error(&self) -> Error {
        let ended =
            |c: &Connection| matches!(c.public_state(), PublicState::Dead | PublicState::Closed);
        if self.members.len() == 1 || ended(self.first()) {
            return self.first().dead_error();
        }
        match self.members.iter().find(|m| ended(&m.conn)) {
            Some(m) => m.conn.dead_error(),
            None => self.first().dead_error(),
        }
    }

    /// The result of a step over every member: with one connection its
    /// error (unless it is being replaced); with several, a member's
    /// failure has failed its own commands and is an error only when no
    /// connection is left.
    fn outcome<T>(&self, value: T, failed: Option<Error>) -> Result<T> {
        // A connection being replaced has not failed the handle.
        let alone = self.members.len() == 1 && !self.reconnecting();
        match failed {
            Some(e) if alone || self.direction().bits() == 0 => Err(e),
            _ => Ok(value),
        }
    }

    /// Send what is queued on every connection without waiting.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.flush_progress().map(drop)
    }

    /// [`Group::flush`], telling whether anything moved (a connection
    /// that failed counts: its commands completed).
    pub(crate) fn flush_progress(&mut self) -> Result<bool> {
        let (moved, failed) = self.each(Connection::flush_progress);
        self.settle();
        self.outcome(moved, failed)
    }

    /// Run `step` on every connection (replacements being dialled too):
    /// whether anything moved (a failure counts: commands completed),
    /// and the first failure of a member's own connection.
    fn each(&mut self, step: impl Fn(&mut Connection) -> Result<bool>) -> (bool, Option<Error>) {
        let mut moved = false;
        let mut failed = None;
        for m in &mut self.members {
            match step(&mut m.conn) {
                Ok(b) => moved |= b,
                Err(e) => {
                    moved = true;
                    failed.get_or_insert(e);
                }
            }
            if let Some((c, _)) = m.dialing() {
                // Its failure only means another attempt.
                moved |= step(c).unwrap_or(true);
            }
        }
        (moved, failed)
    }

    /// Over TLS: give each machine the plaintext its session holds
    /// already. Returns whether anything was delivered.
    pub(crate) fn deliver_buffered(&mut self) -> Result<bool> {
        let (moved, failed) = self.each(Connection::deliver_buffered);
        if moved {
            self.settle();
        }
        self.outcome(moved, failed)
    }

    /// [`Group::fd`] is ready in `direction`'s sense: move bytes. With
    /// several connections, every socket that is ready is served.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn on_ready(&mut self, readable: bool, writable: bool) -> Result<PumpReport> {
        self.on_ready_replies(readable, writable, false)
    }

    /// [`Group::on_ready`] for nbd_aio_notify_read and _write: with one
    /// connection, a notification of readability reads one reply, as
    /// libnbd's does (the caller's loop may count on one completion per
    /// notification); the socket stays readable while more are waiting.
    pub(crate) fn notify(&mut self, readable: bool, writable: bool) -> Result<PumpReport> {
        self.on_ready_replies(readable, writable, readable && !writable)
    }

    fn on_ready_replies(
        &mut self,
        readable: bool,
        writable: bool,
        one_reply: bool,
    ) -> Result<PumpReport> {
        if self.epoll.is_none() {
            let r = self
                .first_mut()
                .on_ready_replies(readable, writable, one_reply);
            self.settle();
            return r;
        }
        self.serve(-1, 0).map(|(_, report)| report)
    }

    /// One poll round: wait up to `timeout` ms
    /// for a socket to be ready in its machine's direction, or for
    /// `extra_fd` (when >= 0) to be readable, then serve the ready
    /// sockets. 0 on timeout, 1 otherwise.
    pub(crate) fn poll_members(&mut self, extra_fd: RawFd, timeout: i32) -> Result<i32> {
        self.settle();
        if self.direction().bits() == 0 {
            return Err(Error::new(
                libc::EINVAL,
                format!(
                    "nothing to poll for in state {}",
                    self.first().machine.state_name()
                ),
            ));
        }
        let (n, _) = self.serve(extra_fd, timeout)?;
        Ok(i32::from(n > 0))
    }

    /// poll(2) the sockets (each in its machine's direction) and
    /// `extra_fd` (when >= 0, for reading) for up to `timeout` ms, and
    /// serve the sockets that are ready. Returns how many descriptors
    /// were ready, and a report whose `read_blocked` says every socket
    /// served was left drained (an edge-triggered waiter on the epoll
    /// descriptor may clear its readiness).
    fn serve(&mut self, extra_fd: RawFd, timeout: i32) -> Result<(usize, PumpReport)> {
        let mut fds = std::mem::take(&mut self.pollfds);
        // (member, whether it is the connection dialled to replace it)
        let mut whose = std::mem::take(&mut self.pollers);
        fds.clear();
        whose.clear();
        for (k, m) in self.members.iter().enumerate() {
            let conns = std::iter::once((&m.conn, false)).chain(m.dialing_ref().map(|c| (c, true)));
            for (conn, dialing) in conns {
                let Some(fd) = conn.fd() else {
                    continue;
                };
                let (reads, writes) = wants(conn);
                let mut events = 0;
                if reads {
                    events |= libc::POLLIN;
                }
                if writes {
                    events |= libc::POLLOUT;
                }
                if events != 0 {
                    fds.push(libc::pollfd {
                        fd,
                        events,
                        revents: 0,
                    });
                    whose.push((k, dialing));
                }
            }
        }
        if extra_fd >= 0 {
            fds.push(libc::pollfd {
                fd: extra_fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let n = loop {
            // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if r >= 0 {
                break r as usize;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                self.pollfds = fds;
                self.pollers = whose;
                return Err(Error::from_io(&e, "poll"));
            }
        };
        let mut report = PumpReport::default();
        let mut drained = true;
        let mut failed = None;
        for (p, &(k, dialing)) in fds.iter().zip(&whose) {
            let bits = p.revents;
            if bits == 0 {
                continue;
            }
            let m = &mut self.members[k];
            let conn = match m.dialing() {
                Some((c, _)) if dialing => c,
                _ => &mut m.conn,
            };
            let r = if bits & libc::POLLNVAL != 0 {
                let e = Error::new(libc::EBADF, "poll: the socket is not open");
                conn.fail(e.clone());
                Err(e)
            } else if conn.is_connecting_socket() {
                conn.on_ready(false, true).map(|_| PumpReport {
                    progressed: true,
                    ..PumpReport::default()
                })
            } else {
                // POLLHUP and POLLERR show up in the read that follows.
                let readable = bits & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
                let writable = bits & libc::POLLOUT != 0;
                conn.on_ready(readable, writable).inspect(|r| {
                    if (readable && !r.read_blocked) || (writable && !r.write_blocked) {
                        drained = false;
                    }
                })
            };
            match r {
                Ok(r) => {
                    report.progressed |= r.progressed;
                    report.eof |= r.eof;
                }
                // A replacement that fails is tried again.
                Err(_) if dialing => report.progressed = true,
                Err(e) => {
                    report.progressed = true;
                    failed.get_or_insert(e);
                }
            }
        }
        report.read_blocked = drained;
        report.write_blocked = drained;
        self.pollfds = fds;
        self.pollers = whose;
        self.settle();
        self.outcome((n, report), failed)
    }

    /// After any step: close the sockets of connections that ended, move
    /// the opening of more connections on, and bring the epoll set up to
    /// date.
    pub(crate) fn settle(&mut self) {
        for m in &mut self.members {
            m.conn.close_if_finished();
            if let Some((c, _)) = m.dialing() {
                c.close_if_finished();
            }
        }
        self.advance();
        if self.reconnect_delay.is_some() {
            self.heal(Instant::now());
        }
        if self.exported {
            self.watch();
        }
    }

    fn watch(&mut self) {
        let Some(ep) = &self.epoll else {
            return;
        };
        for m in &mut self.members {
            watch_one(ep, &mut m.conn, &mut m.watched);
            if let Some(Attempt::Dialing(c, w)) = m.reconnect.as_mut().map(|r| &mut r.attempt) {
                watch_one(ep, c, w);
            }
        }
    }

    // ---- opening more connections ----

    fn advance(&mut self) {
        match self.plan {
            Plan::Waiting(n) => match self.first().public_state() {
                PublicState::Connected => self.open_more(n),
                PublicState::Closed | PublicState::Dead => self.plan = Plan::Running,
                _ => {}
            },
            Plan::Opening => self.check_opening(),
            Plan::Single | Plan::Running => {}
        }
    }

    fn open_more(&mut self, n: usize) {
        self.plan = Plan::Running;
        let first = self.first();
        if !first.machine.info().can_multi_conn() {
            self.note("using one connection: the server does not advertise multi-conn".to_string());
            return;
        }
        if first.reached.is_none() {
            self.note("using one connection: the server's address is unknown".to_string());
            return;
        }
        if let Err(e) = self.first_mut().machine.number_cookies(1, n as u64) {
            self.note(format!("using one connection: {e}"));
            return;
        }
        self.stride = n as u64;
        let extras: Vec<Connection> = (1..n).filter_map(|_| redial(self.first())).collect();
        self.members.extend(extras.into_iter().map(Member::new));
        self.plan = Plan::Opening;
        self.note(format!("opening {} more connections", n - 1));
        self.check_opening();
    }

    /// Every extra connection must finish its handshake and see the
    /// export as the first one does; one that fails or differs ends the
    /// attempt, and the handle goes on with the first connection alone.
    fn check_opening(&mut self) {
        if self.first().public_state() != PublicState::Connected {
            self.drop_extras("the first connection ended".to_string());
            return;
        }
        let mut pending = false;
        for k in 1..self.members.len() {
            let c = &self.members[k].conn;
            match c.public_state() {
                PublicState::Connected => {
                    if let Some(why) = difference(self.first().machine.info(), c.machine.info()) {
                        self.drop_extras(format!("connection {} differs: {why}", k + 1));
                        return;
                    }
                }
                PublicState::Closed | PublicState::Dead => {
                    let e = c.dead_error();
                    self.drop_extras(format!("connection {} failed: {e}", k + 1));
                    return;
                }
                _ => pending = true,
            }
        }
        if pending {
            return;
        }
        for k in 1..self.members.len() {
            let stride = self.stride;
            if let Err(e) = self.members[k]
                .conn
                .machine
                .number_cookies(k as u64 + 1, stride)
            {
                self.drop_extras(format!("connection {}: {e}", k + 1));
                return;
            }
        }
        self.plan = Plan::Running;
        let n = self.members.len();
        self.note(format!("using {n} connections"));
    }

    /// Close the extra connections (before any command used them).
    fn drop_extras(&mut self, why: String) {
        self.note(format!("{why}: using one connection"));
        for m in self.members.drain(1..) {
            let mut conn = m.conn;
            if conn.public_state() == PublicState::Connected {
                // Say goodbye when it can be done without waiting.
                let _ = conn.machine.disconnect(false);
                let _ = conn.flush();
            }
            // Dropping the socket takes it out of the epoll set.
        }
        self.plan = Plan::Running;
    }

    // ---- reconnecting ----

    /// Move every broken connection's replacement on: start one when a
    /// connection broke, dial again (backing off) when an attempt failed,
    /// hand the kept commands over when one is ready, give up after the
    /// reconnect delay.
    fn heal(&mut self, now: Instant) {
        let Some(delay) = self.reconnect_delay else {
            return;
        };
        for k in 0..self.members.len() {
            let m = &mut self.members[k];
            if m.reconnect.is_none() {
                if !m.conn.machine.is_broken() {
                    continue;
                }
                let e = m.conn.dead_error();
                m.reconnect = Some(Reconnect {
                    since: now,
                    tries: 0,
                    attempt: Attempt::At(now),
                });
                self.note(format!(
                    "connection {} broke ({e}): reconnecting for up to {} ms",
                    k + 1,
                    delay.as_millis()
                ));
            }
            if let Some(msg) = self.heal_one(k, now, delay) {
                self.note(msg);
            }
        }
    }

    /// One step of member `k`'s reconnect; what to say about it.
    fn heal_one(&mut self, k: usize, now: Instant, delay: Duration) -> Option<String> {
        let m = &mut self.members[k];
        let r = m.reconnect.as_mut()?;
        if now >= r.since + delay {
            m.reconnect = None;
            let why = format!("could not reconnect within {} ms", delay.as_millis());
            m.conn.machine.give_up(&why);
            return Some(format!("connection {}: {why}", k + 1));
        }
        match &mut r.attempt {
            Attempt::At(t) if now >= *t => {
                r.tries += 1;
                let tries = r.tries;
                let (attempt, outcome) = match redial(&m.conn) {
                    Some(c) if c.public_state() != PublicState::Dead => (
                        Attempt::Dialing(Box::new(c), None),
                        "connecting".to_string(),
                    ),
                    Some(c) => (
                        Attempt::At(now + backoff(tries)),
                        c.dead_error().to_string(),
                    ),
                    None => (
                        Attempt::At(now + backoff(tries)),
                        "the address is unknown".to_string(),
                    ),
                };
                r.attempt = attempt;
                Some(format!(
                    "connection {}: reconnect attempt {tries}: {outcome}",
                    k + 1
                ))
            }
            Attempt::At(_) => None,
            Attempt::Dialing(c, _) => match c.public_state() {
                PublicState::Connected => {
                    if let Some(why) = difference(m.conn.machine.info(), c.machine.info()) {
                        m.reconnect = None;
                        let why = format!("the server's export changed ({why})");
                        m.conn.machine.give_up(&why);
                        return Some(format!("connection {}: not reconnected: {why}", k + 1));
                    }
                    let Some(Attempt::Dialing(mut c, watched)) =
                        m.reconnect.take().map(|r| r.attempt)
                    else {
                        return None;
                    };
                    match c.machine.adopt(&mut m.conn.machine) {
                        Ok(cookies) => {
                            if c.machine.config().request_timeout.is_some() {
                                for &cookie in &cookies {
                                    c.machine.command_started_at(cookie, now);
                                }
                            }
                            let old = std::mem::replace(&mut m.conn, *c);
                            m.carried += old.machine.stats();
                            m.watched = watched;
                            let _ = m.conn.flush();
                            self.reconnects += 1;
                            Some(format!(
                                "connection {} is back; {} commands sent again",
                                k + 1,
                                cookies.len()
                            ))
                        }
                        Err(e) => {
                            m.conn
                                .machine
                                .give_up(&format!("reconnecting failed ({e})"));
                            Some(format!("connection {}: reconnecting failed: {e}", k + 1))
                        }
                    }
                }
                PublicState::Dead | PublicState::Closed => {
                    let e = c.dead_error();
                    let tries = r.tries;
                    r.attempt = Attempt::At(now + backoff(tries));
                    Some(format!("connection {}: attempt {tries} failed: {e}", k + 1))
                }
                _ => None,
            },
        }
    }

    /// Connections that came back after breaking (nbd_stats_reconnects).
    pub(crate) fn reconnects(&self) -> u64 {
        self.reconnects
    }

    // ---- commands ----

    /// The connection the next command goes to: the open one with the
    /// fewest commands in flight; on a tie, the next in turn after the
    /// last one picked (so that commands issued one at a time use every
    /// connection too).
    fn pick(&mut self) -> usize {
        let n = self.members.len();
        if n == 1 {
            return 0;
        }
        let turn = self.turn;
        let k = self
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                m.conn.public_state() == PublicState::Connected && !m.conn.machine.disconnecting()
            })
            .min_by_key(|(k, m)| (m.conn.machine.in_flight(), (k + n - turn) % n))
            .map(|(k, _)| k)
            // None open: one coming back keeps the command until then.
            .or_else(|| self.members.iter().position(|m| m.reconnect.is_some()))
            .unwrap_or(0);
        self.turn = (k + 1) % n;
        k
    }

    /// The connection whose command `cookie` is (cookies are numbered in
    /// turn across the connections).
    fn owner(&self, cookie: u64) -> usize {
        if self.members.len() == 1 || cookie == 0 {
            return 0;
        }
        let k = ((cookie - 1) % self.stride) as usize;
        if k < self.members.len() {
            k
        } else {
            0
        }
    }

    /// Queue a command on one connection, and send it at once when that
    /// connection was idle, so a lone request (queue depth 1) goes out
    /// without waiting for the next poll. When other commands are in
    /// flight there, the request joins the queue and the next poll or
    /// notify sends every queued request in one vectored write. When
    /// output was already waiting, the last send found the socket full.
    pub(crate) fn submit(&mut self, cmd: Command) -> Result<u64> {
        let k = self.pick();
        let conn = &mut self.members[k].conn;
        let socket_was_full = conn.machine.direction().writes();
        let busy = conn.machine.in_flight() > 0;
        let r = conn.machine.start_command(cmd);
        if let Ok(cookie) = r {
            if conn.machine.config().request_timeout.is_some() {
                conn.machine
                    .command_started_at(cookie, std::time::Instant::now());
            }
        }
        if r.is_ok() && !socket_was_full && !busy {
            // A send failure kills the connection, which fails the
            // command; the caller learns that from the command.
            let _ = conn.flush();
        }
        r
    }

    /// nbd_aio_command_completed for `cookie`.
    pub(crate) fn command_completed(&mut self, cookie: u64) -> Result<bool> {
        let k = self.owner(cookie);
        self.members[k].conn.machine.command_completed(cookie)
    }

    /// nbd_aio_peek_command_completed over every connection.
    pub(crate) fn peek_command_completed(&self) -> Result<u64> {
        if self.members.len() == 1 {
            return self.first().machine.peek_command_completed();
        }
        let mut active = false;
        let mut err = None;
        for m in &self.members {
            match m.conn.machine.peek_command_completed() {
                Ok(0) => active = true,
                Ok(c) => return Ok(c),
                Err(e) => {
                    err.get_or_insert(e);
                }
            }
        }
        match err {
            Some(e) if !active => Err(e),
            _ => Ok(0),
        }
    }

    /// Commands issued and not completed, on every connection.
    pub(crate) fn in_flight(&self) -> usize {
        self.members
            .iter()
            .map(|m| m.conn.machine.in_flight())
            .sum()
    }

    /// The connections in the transmission phase (0 before and after).
    pub(crate) fn open_count(&self) -> usize {
        if self.public_state() != PublicState::Connected {
            return 0;
        }
        self.members
            .iter()
            .filter(|m| m.conn.public_state() == PublicState::Connected)
            .count()
    }

    /// Queue NBD_CMD_DISC on every open connection (or NBD_OPT_ABORT while
    /// negotiating).
    pub(crate) fn disconnect(&mut self, abandon_pending: bool) -> Result<()> {
        // No connection comes back once the handle is shutting down.
        for m in &mut self.members {
            if m.reconnect.take().is_some() {
                m.conn
                    .machine
                    .give_up("the handle disconnected while reconnecting");
            }
        }
        if self.members.len() == 1 {
            return self.first_mut().machine.disconnect(abandon_pending);
        }
        let mut result = Ok(());
        let mut any = false;
        for m in &mut self.members {
            let m = &mut m.conn.machine;
            if matches!(m.public_state(), PublicState::Closed | PublicState::Dead)
                || m.disconnecting()
            {
                continue;
            }
            match m.disconnect(abandon_pending) {
                Ok(()) => any = true,
                Err(e) if result.is_ok() => result = Err(e),
                Err(_) => {}
            }
        }
        if any {
            Ok(())
        } else {
            result
        }
    }

    /// Whether every open connection has queued its disconnect request.
    pub(crate) fn disconnecting(&self) -> bool {
        self.members.iter().all(|m| {
            m.conn.machine.disconnecting()
                || matches!(
                    m.conn.machine.public_state(),
                    PublicState::Closed | PublicState::Dead
                )
        }) && self.members.iter().any(|m| m.conn.machine.disconnecting())
    }

    /// Throw every machine away for a fresh one, failed with `err` (the
    /// commands, buffers and callbacks they held are dropped here).
    pub(crate) fn scrap(&mut self, config: &Config, err: Error) {
        for m in &mut self.members {
            m.conn.replace_machine(config.clone());
            m.conn.fail(err.clone());
        }
        self.settle();
    }

    /// Every connection's configuration (settings changed while
    /// connected reach all of them).
    pub(crate) fn configs_mut(&mut self) -> impl Iterator<Item = &mut Config> {
        self.members.iter_mut().map(|m| m.conn.machine.config_mut())
    }

    // ---- deadlines ----

    /// Whether a connect or request timeout is set (else no clock is
    /// read anywhere).
    pub(crate) fn timed(&self) -> bool {
        let c = self.first().machine.config();
        c.connect_timeout.is_some() || c.request_timeout.is_some() || self.reconnect_delay.is_some()
    }

    /// The earliest deadline of any connection, or of a reconnect (the
    /// next attempt, or the end of trying).
    pub(crate) fn next_deadline(&mut self) -> Option<std::time::Instant> {
        let delay = self.reconnect_delay.unwrap_or_default();
        let mut next = None::<Instant>;
        let mut at = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for m in &mut self.members {
            if let Some(t) = m.conn.machine.next_deadline() {
                at(t);
            }
            if let Some(r) = m.reconnect.as_mut() {
                at(r.since + delay);
                match &mut r.attempt {
                    Attempt::At(t) => at(*t),
                    Attempt::Dialing(c, _) => {
                        if let Some(t) = c.machine.next_deadline() {
                            at(t);
                        }
                    }
                }
            }
        }
        next
    }

    /// The time is `now`: fail every handshake and command past its
    /// deadline (each failing its own connection). Returns whether
    /// anything timed out.
    pub(crate) fn handle_timeout(&mut self, now: std::time::Instant) -> bool {
        let mut fired = false;
        for m in &mut self.members {
            fired |= m.conn.handle_timeout(now);
            if let Some((c, _)) = m.dialing() {
                c.handle_timeout(now);
            }
        }
        if fired || self.reconnecting() {
            self.settle();
        }
        fired
    }

    // ---- bookkeeping ----

    pub(crate) fn memory(&self) -> usize {
        std::mem::size_of::<Group>()
            + self
                .members
                .iter()
                .map(|m| std::mem::size_of::<Member>() + m.conn.memory())
                .sum::<usize>()
    }

    /// Traffic over every connection.
    pub(crate) fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for m in &self.members {
            s += m.carried;
            s += m.conn.machine.stats();
        }
        s
    }

    /// Debug messages since the last call: the group's, the first
    /// connection's, then the others' (named by their number).
    pub(crate) fn take_debug(&mut self) -> Vec<String> {
        let mut out = std::mem::take(&mut self.notes);
        for (k, m) in self.members.iter_mut().enumerate() {
            let msgs = m.conn.machine.take_debug();
            if k == 0 {
                out.extend(msgs);
            } else {
                out.extend(
                    msgs.into_iter()
                        .map(|s| format!("connection {}: {s}", k + 1)),
                );
            }
        }
        out
    }
}

/// Bring the epoll set's entry for one connection up to date.
fn watch_one(ep: &Epoll, conn: &mut Connection, watched: &mut Option<Watched>) {
    let want = conn.fd().map(|fd| Watched {
        fd,
        socket: conn.socket_serial(),
        events: events_for(conn),
    });
    if want == *watched {
        return;
    }
    let Some(w) = want else {
        // The socket was closed, which took it out of the set.
        *watched = None;
        return;
    };
    let before = watched.filter(|o| o.fd == w.fd && o.socket == w.socket && o.events != 0);
    let r = ep.set(w.fd, before.is_some(), w.events);
    match r {
        Ok(()) => *watched = Some(w),
        Err(e) => {
            *watched = None;
            conn.fail(Error::from_io(&e, "epoll_ctl"));
        }
    }
}

/// Whether a connection's socket is to be waited on for reading, and
/// for writing (a connect(2) in progress: writing only).
fn wants(conn: &Connection) -> (bool, bool) {
    if conn.is_connecting_socket() {
        return (false, true);
    }
    let dir = conn.direction();
    (dir.reads(), dir.writes())
}

/// The epoll events a connection waits for.
fn events_for(conn: &Connection) -> u32 {
    let (reads, writes) = wants(conn);
    let mut ev = 0;
    if reads {
        ev |= libc::EPOLLIN as u32;
    }
    if writes {
        ev |= libc::EPOLLOUT as u32;
    }
    ev
}

/// A new connection to where `old` was connected, negotiating what `old`
/// ended up with: an extra connection beside it, or its replacement
/// (None when its address is unknown).
fn redial(old: &Connection) -> Option<Connection> {
    let addr = old.reached.clone()?;
    let mut c = Connection::connect(extra_config(old), vec![addr], old.peer.clone());
    c.tls_params = old.tls_params.clone();
    Some(c)
}

/// How long to wait after reconnect attempt `tries` failed: 50 ms,
/// doubling, at most 1 s.
fn backoff(tries: u32) -> Duration {
    Duration::from_millis(50u64 << tries.saturating_sub(1).min(5)).min(Duration::from_secs(1))
}

/// How an extra connection negotiates: as the first one ended up, with
/// no option mode. Structured replies, extended headers, the meta
/// contexts and TLS are asked for exactly when the first connection got
/// them.
fn extra_config(first: &Connection) -> Config {
    let info = first.machine.info();
    let mut c = first.machine.config().clone();
    c.opt_mode = false;
    c.request_structured_replies = info.structured_replies;
    c.request_extended_headers = info.extended_headers;
    c.meta_contexts = if info.meta_valid {
        info.meta_contexts.iter().map(|m| m.name.clone()).collect()
    } else {
        Vec::new()
    };
    c.request_meta_context = !c.meta_contexts.is_empty();
    c.tls = if info.tls { Tls::REQUIRE } else { Tls::DISABLE };
    c
}

/// How an extra connection's view of the export differs from the
/// first's, if it does.
fn difference(a: &Negotiated, b: &Negotiated) -> Option<String> {
    if a.size != b.size {
        return Some(format!("export size {} instead of {}", b.size, a.size));
    }
    if a.eflags != b.eflags {
        return Some(format!(
            "export flags {:#x} instead of {:#x}",
            b.eflags, a.eflags
        ));
    }
    if (a.structured_replies, a.extended_headers) != (b.structured_replies, b.extended_headers) {
        return Some("different reply formats were negotiated".to_string());
    }
    if (a.block_minimum, a.block_preferred, a.block_maximum)
        != (b.block_minimum, b.block_preferred, b.block_maximum)
    {
        return Some("different block size constraints".to_string());
    }
    fn names(n: &Negotiated) -> Vec<&str> {
        let mut v: Vec<&str> = n.meta_contexts.iter().map(|m| m.name.as_str()).collect();
        v.sort_unstable();
        v
    }
    if names(a) != names(b) {
        return Some("different meta contexts were negotiated".to_string());
    }
    if a.tls != b.tls {
        return Some("TLS was negotiated on one connection only".to_string());
    }
    None
}

/// An epoll instance (level-triggered).
struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> Result<Epoll> {
        // SAFETY: plain system call.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd == -1 {
            return Err(Error::from_io(
                &std::io::Error::last_os_error(),
                "epoll_create1",
            ));
        }
        // SAFETY: `fd` is a new descriptor nobody else owns.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Make the set watch `fd` for `events` (none: take it out), `listed`
    /// telling whether the set holds it now.
    ///
    /// Never EPOLL_CTL_MOD: the set is not epoll_wait()ed (members are
    /// served after poll(2)), so an entry stays on its ready list from its
    /// last event on, and MOD of an entry still listed does not wake
    /// whoever waits on the epoll descriptor, even when the socket is
    /// ready in the new direction (a server's greeting that came while the
    /// socket was watched for its connect only: the tokio driver then
    /// slept forever). A fresh entry for a ready socket does wake.
    fn set(&self, fd: RawFd, listed: bool, events: u32) -> std::io::Result<()> {
        if listed {
            self.ctl(libc::EPOLL_CTL_DEL, fd, 0)?;
        }
        if events != 0 {
            self.ctl(libc::EPOLL_CTL_ADD, fd, events)?;
        }
        Ok(())
    }

    /// epoll_ctl ADD or DEL. An ADD that finds the descriptor in the set
    /// still (after a failed update) replaces the entry, and a DEL that
    /// does not find it (the socket was closed, which removed it) is done.
    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32) -> std::io::Result<()> {
        let call = |op| {
            let mut ev = libc::epoll_event {
                events,
                u64: fd as u64,
            };
            // SAFETY: `ev` is a valid event for the duration of the call.
            let r = unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut ev) };
            if r == -1 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        match call(op) {
            Err(e) if op == libc::EPOLL_CTL_ADD && e.raw_os_error() == Some(libc::EEXIST) => {
                call(libc::EPOLL_CTL_DEL).and_then(|()| call(libc::EPOLL_CTL_ADD))
            }
            Err(e) if op == libc::EPOLL_CTL_DEL && e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            r => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An edge-triggered epoll watching `inner`'s descriptor, as the
    /// tokio reactor does: whether it reports an event now.
    fn outer_event(outer: &Epoll) -> bool {
        let mut ev = [libc::epoll_event { events: 0, u64: 0 }; 4];
        // SAFETY: `ev` has room for the 4 events asked for.
        let n = unsafe { libc::epoll_wait(outer.0.as_raw_fd(), ev.as_mut_ptr(), 4, 0) };
        assert!(n >= 0, "epoll_wait: {}", std::io::Error::last_os_error());
        n > 0
    }

    /// A socket that became readable while watched for writing only is
    /// reported once the set watches it for reading: the waiter on the
    /// set's descriptor wakes.
    #[test]
    fn a_new_direction_that_is_ready_wakes_the_outer_waiter() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let inner = Epoll::new().unwrap();
        let outer = Epoll::new().unwrap();
        let fd = a.as_raw_fd();
        inner.set(fd, false, libc::EPOLLOUT as u32).unwrap();
        outer
            .ctl(
                libc::EPOLL_CTL_ADD,
                inner.0.as_raw_fd(),
                (libc::EPOLLIN | libc::EPOLLET) as u32,
            )
            .unwrap();
        assert!(outer_event(&outer), "writable: the set is ready");
        assert!(!outer_event(&outer), "edge-triggered: reported once");
        // The peer's bytes arrive while only writing is watched...
        std::io::Write::write_all(&mut &b, b"greeting").unwrap();
        assert!(!outer_event(&outer));
        // ... and the machine now wants to read them.
        inner.set(fd, true, libc::EPOLLIN as u32).unwrap();
        assert!(outer_event(&outer), "the waiter must wake for the bytes");
        // Taken out: nothing left to report.
        inner.set(fd, true, 0).unwrap();
        assert!(!outer_event(&outer));
    }
}

//! The table of commands: queued, in flight, and completed but not yet
//! retired. It owns the rules of libnbd(3) CALLBACKS: the completion
//! callback runs after every mid-command callback; a command's callbacks
//! and buffer are kept until it *retires* (the completion callback
//! returned 1, nbd_aio_command_completed collected it, or the table is
//! dropped at close), and then the mid-command callback is dropped before
//! the completion callback, each exactly once. C callers free an
//! in-flight command's buffer in a callback's `.free`, so nothing may be
//! dropped earlier.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::types::ExtentSink;
use super::wire;
use crate::generated::types::{ChunkCallback, CompletionCallback};
use crate::{AioBuffer, Error};

/// Cookies are sequential integers; a multiplicative hash spreads them
/// over the table without SipHash's cost.
#[derive(Default)]
pub(super) struct CookieHasher(u64);

impl Hasher for CookieHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type CookieMap<V> = HashMap<u64, V, BuildHasherDefault<CookieHasher>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting in the send queue; no byte written yet or partly written.
    Queued,
    /// Completely written; waiting for the reply.
    Sent,
    /// Completed; waiting for nbd_aio_command_completed.
    Done,
}

/// The parts of a read buffer that content chunks have filled, so that a
/// server cannot send overlapping chunks. Nearly every read gets a single
/// chunk, kept inline; more ranges spill into a vector.
#[derive(Default)]
pub(super) struct Coverage {
    first: Option<(u64, u64)>,
    more: Vec<(u64, u64)>,
    /// Bytes recorded (ranges never overlap, so this is the sum).
    total: u64,
}

impl Coverage {
    /// Bytes covered by the recorded ranges.
    pub(super) fn total(&self) -> u64 {
        self.total
    }

    /// Record `[start, end)`; false if it overlaps a recorded range.
    pub(super) fn insert(&mut self, start: u64, end: u64) -> bool {
        let overlaps = |&(s, e): &(u64, u64)| start < e && s < end;
        match self.first {
            None => {
                self.first = Some((start, end));
                self.total = end - start;
                true
            }
            Some(f) => {
                if overlaps(&f) || self.more.iter().any(overlaps) {
                    return false;
                }
                self.more.push((start, end));
                self.total += end - start;
                true
            }
        }
    }
}

pub(super) struct Cmd {
    pub typ: u16,
    pub flags: u16,
    pub offset: u64,
    pub count: u64,
    /// The caller's buffer (reads are written into it).
    pub buf: Option<AioBuffer>,
    pub chunk: Option<ChunkCallback>,
    pub sink: Option<ExtentSink>,
    /// Block status with a filter: the context IDs asked for.
    pub bs_filter: Option<Vec<u32>>,
    /// Block status: the context IDs that got extents.
    pub bs_seen: Vec<u32>,
    pub completion: Option<CompletionCallback>,
    /// The errno the command will complete with (first error wins).
    pub error: i32,
    /// Why, when the library knows more than the errno (a protocol
    /// violation, a dead connection); shown by nbd_get_error.
    pub error_msg: Option<String>,
    /// The parts of a read that data and hole chunks (or a simple reply)
    /// filled; a read succeeds only when this is the whole request.
    pub coverage: Coverage,
    pub phase: Phase,
}

impl Cmd {
    pub(super) fn new(typ: u16, flags: u16, offset: u64, count: u64) -> Cmd {
        Cmd {
            typ,
            flags,
            offset,
            count,
            buf: None,
            chunk: None,
            sink: None,
            bs_filter: None,
            bs_seen: Vec::new(),
            completion: None,
            error: 0,
            error_msg: None,
            coverage: Coverage::default(),
            phase: Phase::Queued,
        }
    }

    /// Record an error unless an earlier one is already recorded.
    pub(super) fn set_error(&mut self, errno: i32) {
        if self.error == 0 {
            self.error = errno;
        }
    }

    /// Record an error and its cause unless an earlier error is recorded.
    pub(super) fn fail(&mut self, errno: i32, why: impl Into<String>) {
        if self.error == 0 {
            self.error = errno;
            self.error_msg = Some(why.into());
        }
    }

    /// The error nbd_aio_command_completed (and the synchronous calls)
    /// report for this failed command.
    fn failure(&self) -> Error {
        let name = wire::cmd_name(self.typ);
        match &self.error_msg {
            Some(why) => Error::new(self.error, format!("{name}: command failed: {why}")),
            None => Error::new(self.error, format!("{name}: command failed")),
        }
    }

    /// Drop the callbacks in libnbd's order (mid-command, then
    /// completion) and the buffer: the command has retired.
    fn retire(mut self) {
        drop(self.chunk.take());
        drop(self.sink.take());
        drop(self.completion.take());
        drop(self.buf.take());
    }
}

#[derive(Default)]
pub(super) struct Commands {
    map: CookieMap<Cmd>,
    /// Completed, unretired cookies in completion order.
    done: VecDeque<u64>,
    next_cookie: u64,
    /// What the next cookie adds (1, or the number of connections of a
    /// handle whose connections share one cookie space).
    cookie_step: u64,
    /// Queued plus sent commands (libnbd's in_flight).
    active: usize,
}

impl Commands {
    pub(super) fn new() -> Commands {
        Commands {
            next_cookie: 1,
            cookie_step: 1,
            ..Commands::default()
        }
    }

    /// Number the commands `first`, `first + step`, ...: the connections
    /// of one handle take turns in one cookie space. Only before the
    /// first command.
    pub(super) fn number_from(&mut self, first: u64, step: u64) -> Result<(), Error> {
        if self.next_cookie != 1 || !self.map.is_empty() || first == 0 || step == 0 {
            return Err(Error::new(
                libc::EINVAL,
                "cookies can be renumbered only before the first command",
            ));
        }
        self.next_cookie = first;
        self.cookie_step = step;
        Ok(())
    }

    /// Add a command; returns its cookie (unique, >= 1).
    pub(super) fn insert(&mut self, cmd: Cmd) -> u64 {
        let cookie = self.next_cookie;
        self.next_cookie += self.cookie_step;
        self.map.insert(cookie, cmd);
        self.active += 1;
        cookie
    }

    /// A command waiting for its reply (queued or sent).
    pub(super) fn active_mut(&mut self, cookie: u64) -> Option<&mut Cmd> {
        self.map.get_mut(&cookie).filter(|c| c.phase != Phase::Done)
    }

    pub(super) fn get(&self, cookie: u64) -> Option<&Cmd> {
        self.map.get(&cookie)
    }

    /// The request was completely written.
    pub(super) fn mark_sent(&mut self, cookie: u64) {
        if let Some(c) = self.map.get_mut(&cookie) {
            if c.phase == Phase::Queued {
                c.phase = Phase::Sent;
            }
        }
    }

    pub(super) fn in_flight(&self) -> usize {
        self.active
    }

    /// Memory the table holds: its slots and every command's bookkeeping
    /// (callbacks counted by their box, not what they capture).
    pub(super) fn memory(&self) -> usize {
        self.map.capacity() * (std::mem::size_of::<u64>() + std::mem::size_of::<Cmd>())
            + self.done.capacity() * std::mem::size_of::<u64>()
    }

    /// Complete a command after its final reply: run the completion
    /// callback, drop the callbacks in libnbd's order, and either keep the
    /// command for nbd_aio_command_completed or retire it at once when the
    /// completion callback returned 1.
    pub(super) fn complete(&mut self, cookie: u64) {
        self.finish(cookie, None);
    }

    /// Fail a command that will get no reply (connection gone, abandoned):
    /// it completes with ENOTCONN unless it already had an error; `why`
    /// says what ended the connection.
    pub(super) fn abort(&mut self, cookie: u64, why: &str) {
        self.finish(cookie, Some((libc::ENOTCONN, why)));
    }

    /// The commands not yet answered, in cookie order, made ready to be
    /// sent again from scratch (what a reply had delivered is forgotten).
    pub(super) fn requeue_all(&mut self) -> Vec<u64> {
        let cookies = self.unanswered();
        for cookie in &cookies {
            if let Some(c) = self.map.get_mut(cookie) {
                c.phase = Phase::Queued;
                c.coverage = Coverage::default();
                c.bs_seen.clear();
                c.error = 0;
                c.error_msg = None;
            }
        }
        cookies
    }

    /// The commands a new connection must send again (see `requeue_all`).
    pub(super) fn queued(&mut self, cookie: u64) -> Option<&mut Cmd> {
        self.map
            .get_mut(&cookie)
            .filter(|c| c.phase == Phase::Queued)
    }

    /// Fail every command still waiting, in cookie order.
    pub(super) fn abort_all(&mut self, why: &str) {
        self.fail_all(libc::ENOTCONN, why);
    }

    /// Complete one command that will get no reply with `errno`.
    pub(super) fn fail_one(&mut self, cookie: u64, errno: i32, why: &str) {
        self.finish(cookie, Some((errno, why)));
    }

    /// Fail every command still waiting with `errno`, in cookie order.
    pub(super) fn fail_all(&mut self, errno: i32, why: &str) {
        if self.active == 0 {
            return;
        }
        for cookie in self.unanswered() {
            self.finish(cookie, Some((errno, why)));
        }
    }

    /// The cookies of the commands still waiting for a reply, in order.
    fn unanswered(&self) -> Vec<u64> {
        let mut cookies: Vec<u64> = self
            .map
            .iter()
            .filter(|(_, c)| c.phase != Phase::Done)
            .map(|(&k, _)| k)
            .collect();
        cookies.sort_unstable();
        cookies
    }

    fn finish(&mut self, cookie: u64, abort: Option<(i32, &str)>) {
        let Some(cmd) = self.map.get_mut(&cookie).filter(|c| c.phase != Phase::Done) else {
            return;
        };
        self.active -= 1;
        if cmd.typ == wire::CMD_DISC {
            // Nobody holds this cookie; it has no reply and no callbacks.
            self.map.remove(&cookie);
            return;
        }
        match abort {
            Some((errno, why)) => cmd.fail(errno, why),
            None => {
                // A successful read must have covered every byte of the
                // request with data or holes, exactly once (overlaps are
                // refused as they arrive); anything less would hand the
                // caller bytes the server never sent.
                let covered = cmd.coverage.total();
                if cmd.typ == wire::CMD_READ && cmd.error == 0 && covered != cmd.count {
                    cmd.fail(
                        libc::EIO,
                        format!(
                            "the server's reply covered {covered} of the {} bytes requested",
                            cmd.count
                        ),
                    );
                }
            }
        }
        let mut retire = false;
        if let Some(cb) = cmd.completion.as_mut() {
            let mut err = cmd.error;
            match cb(&mut err) {
                -1 if err != 0 => cmd.error = err,
                1 => retire = true,
                _ => {}
            }
        }
        cmd.coverage = Coverage::default();
        cmd.phase = Phase::Done;
        if retire {
            if let Some(cmd) = self.map.remove(&cookie) {
                cmd.retire();
            }
        } else {
            self.done.push_back(cookie);
        }
    }

    /// nbd_aio_command_completed. Cookie 0 is invalid; any other cookie
    /// that names no completed command (still in flight, already retired,
    /// or never issued) is "not completed", as libnbd answers.
    pub(super) fn command_completed(&mut self, cookie: u64) -> Result<bool, Error> {
        if cookie == 0 {
            return Err(Error::new(libc::EINVAL, "invalid aio cookie 0"));
        }
        match self.map.get(&cookie) {
            Some(c) if c.typ != wire::CMD_DISC && c.phase == Phase::Done => {}
            _ => return Ok(false),
        }
        let cmd = self.map.remove(&cookie).expect("checked above");
        if let Some(pos) = self.done.iter().position(|&c| c == cookie) {
            self.done.remove(pos);
        }
        let result = if cmd.error == 0 {
            Ok(true)
        } else {
            Err(cmd.failure())
        };
        cmd.retire();
        result
    }

    /// nbd_aio_peek_command_completed.
    pub(super) fn peek_completed(&self) -> Result<u64, Error> {
        if let Some(&c) = self.done.front() {
            return Ok(c);
        }
        if self.active > 0 {
            return Ok(0);
        }
        Err(Error::new(libc::EINVAL, "no commands are in flight"))
    }
}

//! One round of poll(2) on the handle's sockets (and optionally one more
//! descriptor), then the notification the result calls for, with the
//! deadlines met. This is `nbd_poll` / `nbd_poll2`, and the engine of
//! every blocking call; the poll itself is `Group::poll_members`.

use std::os::fd::RawFd;
use std::time::Instant;

use super::group::Group;
use crate::Result;

/// Wait up to `timeout` ms (-1: forever) for the sockets to become ready
/// in the direction their machines want, or for `extra_fd` (if >= 0) to
/// be readable; then move bytes. Returns 0 on timeout, 1 otherwise.
pub(crate) fn poll_once(group: &mut Group, extra_fd: RawFd, timeout: i32) -> Result<i32> {
    if !group.timed() {
        return poll_now(group, extra_fd, timeout);
    }
    // With deadlines: wait no longer than the next one, then fail what
    // is past its deadline. Meeting a deadline counts as something that
    // happened (1), not as the caller's timeout; when it ended the last
    // connection, its error is the result, as for any connection that
    // dies during a poll.
    let now = Instant::now();
    if group.handle_timeout(now) {
        return timed_out(group);
    }
    let (wait, shortened) = match group.next_deadline() {
        Some(at) => {
            let ms = millis_until(at, now);
            if timeout < 0 || ms < timeout {
                (ms, true)
            } else {
                (timeout, false)
            }
        }
        None => (timeout, false),
    };
    let r = poll_now(group, extra_fd, wait);
    if group.handle_timeout(Instant::now()) {
        return r.and_then(|_| timed_out(group));
    }
    match r {
        Ok(0) if shortened => Ok(1),
        r => r,
    }
}

/// The result of a poll in which a deadline passed.
fn timed_out(group: &Group) -> Result<i32> {
    if group.public_state() == crate::generated::types::PublicState::Dead {
        Err(group.dead_error())
    } else {
        Ok(1)
    }
}

/// Milliseconds from `now` until `at`, rounded up (so that a wait of
/// that long reaches it), at most `i32::MAX`.
pub(crate) fn millis_until(at: Instant, now: Instant) -> i32 {
    let ns = at.saturating_duration_since(now).as_nanos();
    i32::try_from(ns.div_ceil(1_000_000)).unwrap_or(i32::MAX)
}

/// [`poll_once`] without deadlines.
fn poll_now(group: &mut Group, extra_fd: RawFd, timeout: i32) -> Result<i32> {
    // Over TLS, plaintext may already sit decrypted in the session: the
    // socket would not become readable for it.
    if group.deliver_buffered()? {
        return Ok(1);
    }
    group.poll_members(extra_fd, timeout)
}

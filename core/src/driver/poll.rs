//! One round of poll(2) on the connection's socket (and optionally one
//! more descriptor), then the notification the result calls for. This is
//! `nbd_poll` / `nbd_poll2`, and the engine of every blocking call. A
//! handle with several connections waits on its epoll descriptor instead
//! (`Group::poll_members`).

use std::os::fd::RawFd;
use std::time::Instant;

use super::connection::Connection;
use super::group::Group;
use crate::{Error, Result};

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
    if group.is_multi() {
        return group.poll_members(extra_fd, timeout);
    }
    let r = poll_socket(group.first_mut(), extra_fd, timeout);
    group.settle();
    r
}

/// [`poll_once`] on the one connection of a handle.
fn poll_socket(conn: &mut Connection, extra_fd: RawFd, timeout: i32) -> Result<i32> {
    let dir = conn.direction();
    let Some(fd) = conn.fd() else {
        return Err(Error::new(
            libc::EINVAL,
            format!("nothing to poll for in state {}", conn.machine.state_name()),
        ));
    };
    let mut events: libc::c_short = 0;
    if dir.reads() {
        events |= libc::POLLIN;
    }
    if dir.writes() {
        events |= libc::POLLOUT;
    }
    if events == 0 {
        return Err(Error::new(
            libc::EINVAL,
            format!("nothing to poll for in state {}", conn.machine.state_name()),
        ));
    }
    let mut fds = [
        libc::pollfd {
            fd,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: extra_fd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let nfds = if extra_fd >= 0 { 2 } else { 1 };
    let r = loop {
        // SAFETY: `fds` is a valid array of at least `nfds` pollfds.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), nfds, timeout) };
        if r == -1 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::from_io(&e, "poll"));
        }
        break r;
    };
    if r == 0 {
        return Ok(0);
    }
    let revents = fds[0].revents;
    if revents & libc::POLLNVAL != 0 {
        let e = Error::new(libc::EBADF, "poll: the socket is not open");
        conn.fail(e.clone());
        return Err(e);
    }
    if conn.is_connecting_socket() {
        if revents != 0 {
            conn.on_ready(false, true)?;
        }
        return Ok(1);
    }
    // POLLHUP and POLLERR are reported through the read that follows (EOF
    // or the socket error), so treat them as readable.
    let readable = revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
    let writable = revents & libc::POLLOUT != 0;
    if readable || writable {
        conn.on_ready(readable, writable)?;
    }
    Ok(1)
}

//! The aio control calls: the socket and direction for an event loop,
//! notifications, states, command completion, and nbd_poll.

use std::os::fd::RawFd;

use crate::driver::poll::poll_once;
use crate::generated::types::PublicState;
use crate::handle::{Handle, Inner};
use crate::protocol::Machine;
use crate::{Error, Result};

impl Handle {
    /// Not a locked getter: it moves the handle on (fails what overran),
    /// so it must not run whenever the lock is released, as the copies of
    /// the getters that cannot fail are taken.
    pub(crate) fn do_aio_get_timeout_ms(&self) -> i32 {
        match self.lock() {
            Ok(mut h) => h.timeout_ms(),
            // From a callback of this handle: it is busy; ask again.
            Err(_) => 0,
        }
    }

    pub(crate) fn do_aio_get_direction(&self) -> u32 {
        self.direction_unlocked()
    }

    pub(crate) fn do_aio_is_created(&self) -> bool {
        self.state_unlocked() == PublicState::Created
    }

    pub(crate) fn do_aio_is_connecting(&self) -> bool {
        self.state_unlocked() == PublicState::Connecting
    }

    pub(crate) fn do_aio_is_negotiating(&self) -> bool {
        self.state_unlocked() == PublicState::Negotiating
    }

    pub(crate) fn do_aio_is_ready(&self) -> bool {
        self.state_unlocked() == PublicState::Connected && !self.processing_unlocked()
    }

    pub(crate) fn do_aio_is_processing(&self) -> bool {
        self.state_unlocked() == PublicState::Connected && self.processing_unlocked()
    }

    pub(crate) fn do_aio_is_dead(&self) -> bool {
        self.state_unlocked() == PublicState::Dead
    }

    pub(crate) fn do_aio_is_closed(&self) -> bool {
        self.state_unlocked() == PublicState::Closed
    }
}

impl Inner {
    pub(crate) fn do_aio_get_fd(&mut self) -> Result<RawFd> {
        self.conn
            .as_mut()
            .and_then(|c| c.fd())
            .ok_or_else(|| Error::new(libc::EINVAL, "connection is not in a connected state"))
    }

    /// Shared by notify_read and notify_write.
    fn notify(&mut self, readable: bool, writable: bool, what: &str) -> Result<()> {
        let state = self.public_state();
        let conn = self
            .conn
            .as_mut()
            .filter(|c| c.has_socket())
            .ok_or_else(|| {
                Error::new(
                    libc::EINVAL,
                    format!("{what} event is invalid in state {}", state.name()),
                )
            })?;
        // As libnbd's state machine: an event the handle is not waiting
        // for (see nbd_aio_get_direction) is refused, not ignored.
        let dir = conn.direction();
        if (readable && !dir.reads()) || (writable && !dir.writes()) {
            return Err(Error::new(
                libc::EINVAL,
                format!(
                    "{what} event is invalid in state {}: the handle is not waiting to {what}",
                    state.name()
                ),
            ));
        }
        let r = conn.notify(readable, writable).map(drop);
        self.after_step();
        r
    }

    pub(crate) fn do_aio_notify_read(&mut self) -> Result<()> {
        self.notify(true, false, "read")
    }

    pub(crate) fn do_aio_notify_write(&mut self) -> Result<()> {
        self.notify(false, true, "write")
    }

    pub(crate) fn do_aio_command_completed(&mut self, cookie: u64) -> Result<bool> {
        if cookie == 0 {
            return Err(Error::new(libc::EINVAL, "invalid aio cookie 0"));
        }
        self.expire();
        let Some(conn) = self.conn.as_mut() else {
            return Machine::command_completed_unconnected(cookie);
        };
        let r = conn.command_completed(cookie);
        self.after_step();
        r
    }

    pub(crate) fn do_aio_peek_command_completed(&mut self) -> Result<i64> {
        self.expire();
        let cookie = match self.conn.as_ref() {
            Some(conn) => conn.peek_command_completed()?,
            None => Machine::peek_command_completed_unconnected()?,
        };
        i64::try_from(cookie).map_err(|_| Error::new(libc::EOVERFLOW, "cookie out of range"))
    }

    /// Fail what is past its deadline before answering about commands.
    fn expire(&mut self) {
        if let Some(g) = self.conn.as_mut().filter(|g| g.timed()) {
            if g.handle_timeout(std::time::Instant::now()) {
                self.after_step();
            }
        }
    }

    pub(crate) fn do_aio_in_flight(&mut self) -> Result<i32> {
        self.expire();
        Ok(i32::try_from(self.conn()?.in_flight()).unwrap_or(i32::MAX))
    }

    /// nbd_aio_get_timeout_ms with the lock held.
    fn timeout_ms(&mut self) -> i32 {
        // after_step fails what is past its deadline first.
        self.after_step();
        match self.conn.as_mut() {
            Some(g) if g.timed() => g.next_deadline().map_or(-1, |at| {
                crate::driver::poll::millis_until(at, std::time::Instant::now())
            }),
            _ => -1,
        }
    }

    pub(crate) fn do_poll(&mut self, timeout: i32) -> Result<i32> {
        self.do_poll2(-1, timeout)
    }

    pub(crate) fn do_poll2(&mut self, fd: RawFd, timeout: i32) -> Result<i32> {
        let state = self.public_state();
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::new(
                libc::EINVAL,
                format!("nothing to poll for in state {}", state.name()),
            ));
        };
        let r = poll_once(conn, fd, timeout);
        self.after_step();
        r
    }
}

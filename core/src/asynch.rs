//! The native tokio API: [`AsyncHandle`], driving the same engine as
//! [`Handle`] with `tokio::io::unix::AsyncFd` over the handle's socket.
//! The methods are generated (`generated/async_handle.rs`); this module
//! holds what they are built from: the wait loop, commands, connects and
//! shutdown. The design is described in ARCHITECTURE.md ("The tokio
//! driver").

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;

use crate::generated::types::{CompletionCallback, PublicState, Shutdown};
use crate::handle::Inner;
use crate::protocol::Direction;
use crate::{Error, Handle, Result};

/// An NBD connection driven by tokio: the same engine, settings and calls
/// as [`Handle`], with `async fn`s for every call that waits on the
/// server.
///
/// ```no_run
/// # async fn demo() -> nbd::Result<()> {
/// let h = nbd::AsyncHandle::new()?;
/// h.add_meta_context(nbd::CONTEXT_BASE_ALLOCATION)?; // settings stay sync
/// h.connect_uri("nbd+unix:///?socket=/tmp/nbd.sock").await?;
/// let mut buf = vec![0u8; 65536];
/// h.pread(&mut buf, 0, None).await?;
/// h.pwrite(&buf, 1 << 20, None).await?;
/// h.flush(None).await?;
/// let len = h.get_size()? as u64;
/// h.block_status_64(len, 0, Box::new(|_ctx, _off, _entries, _err| 0), None)
///     .await?;
/// h.shutdown(None).await?;
/// # Ok(())
/// # }
/// ```
///
/// `AsyncHandle` is `Send + Sync` and `Clone`: clones share one
/// connection, and any number of tasks may have commands in flight on it
/// at once (they are pipelined on the socket). No thread is started and
/// nothing polls: a task waiting for its command waits for the socket's
/// readiness (registered with the runtime's reactor once connected) or
/// for another task to report progress.
///
/// - Settings, getters and everything else that does not wait on the
///   server are the plain synchronous calls of [`Handle`], passed
///   through.
/// - `async fn`s: the data commands (`pread`, `pread_structured`,
///   `pwrite`, `flush`, `trim`, `cache`, `zero`, `block_status`,
///   `block_status_64`, `block_status_filter`), the `connect_*` calls,
///   `opt_go` and `opt_info` (generated from their aio twins), and
///   [`AsyncHandle::shutdown`].
/// - Left out: the `aio_*` calls, `poll`, `poll2` and `connection_state`
///   (the event loop is tokio's; [`AsyncHandle::handle`] reaches the
///   underlying [`Handle`] if needed), and the option calls whose
///   synchronous result cannot be read off their aio twin's completion
///   yet (`opt_abort`, `opt_list`, `opt_list_meta_context`,
///   `opt_list_meta_context_queries`, `opt_set_meta_context`,
///   `opt_set_meta_context_queries`, `opt_starttls`,
///   `opt_structured_reply`, `opt_extended_headers`): their blocking
///   forms must not run on a runtime.
///
/// The socket is registered with the reactor of the runtime that first
/// waits on it (again after each reconnect): use a connection from one
/// runtime.
///
/// **Cancellation**: dropping a command's future at any point is safe.
/// The command itself is not cancelled (NBD has no way to); it is still
/// answered and retired by whichever task drives the connection next, and
/// the engine only ever reads and writes memory it owns: `pread` reads
/// into a buffer of its own and copies into the caller's slice once the
/// command succeeded, `pwrite` copies the caller's bytes first. (Reading
/// straight into the caller's memory, retargeted when the future is
/// dropped, is a later step.) A command's failure carries its errno; the
/// message is the errno's, without the server's text.
#[derive(Clone)]
pub struct AsyncHandle(Arc<Shared>);

struct Shared {
    h: Handle,
    /// The socket as registered with the reactor.
    reg: Mutex<Option<Registration>>,
    /// Woken whenever a task moved bytes: commands that another task
    /// completed are seen by their own futures.
    progress: Notify,
    /// Whether a task is waiting on the socket (the driver).
    driving: AtomicBool,
    /// Tells the driver to re-read the direction: another task queued
    /// output the socket did not take at once.
    look_again: Notify,
}

/// The driver's role, handed over when its wait ends or its future is
/// dropped: the others are woken and one of them takes it.
struct Driving<'a>(&'a Shared);

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        self.0.driving.store(false, Ordering::Release);
        self.0.progress.notify_waiters();
    }
}

/// A duplicate of the engine's socket registered with the reactor. A
/// duplicate because the engine closes its socket whenever the connection
/// ends: the registration must never name a descriptor number that may
/// already belong to someone else.
struct Registration {
    /// st_dev and st_ino of the engine's socket: the same number may be a
    /// new socket after a reconnect or a failed connect attempt.
    id: (u64, u64),
    fd: Arc<AsyncFd<OwnedFd>>,
}

/// What one step under the lock left to do.
enum Step {
    /// Bytes moved: re-check, others may be done.
    Progressed,
    /// Wait for the socket in `dir`.
    Wait(Arc<AsyncFd<OwnedFd>>, Direction),
    /// Nothing more can happen.
    Stuck(Error),
}

/// A completion slot's value while the command is in flight.
const PENDING: i32 = i32::MIN;

fn socket_id(fd: RawFd) -> Result<(u64, u64)> {
    // SAFETY: fstat writes into the zeroed struct we pass.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } == -1 {
        return Err(Error::from_io(&std::io::Error::last_os_error(), "fstat"));
    }
    Ok((st.st_dev, st.st_ino))
}

impl AsyncHandle {
    /// A new handle, not connected (see [`Handle::new`]).
    pub fn new() -> Result<AsyncHandle> {
        Ok(AsyncHandle::from_handle(Handle::new()?))
    }

    /// Drive an existing handle (not connected, or connected and idle)
    /// with tokio.
    pub fn from_handle(h: Handle) -> AsyncHandle {
        AsyncHandle(Arc::new(Shared {
            h,
            reg: Mutex::new(None),
            progress: Notify::new(),
            driving: AtomicBool::new(false),
            look_again: Notify::new(),
        }))
    }

    /// The underlying synchronous handle. Its blocking calls must not be
    /// made on a runtime thread, and hold the handle's lock for as long as
    /// they wait: the async calls of other tasks wait for it meanwhile.
    pub fn handle(&self) -> &Handle {
        &self.0.h
    }

    /// One non-blocking step under the handle's lock: send what is
    /// queued and, over TLS, hand the machine plaintext already decrypted
    /// (the socket would not become readable for it); then say what to
    /// wait for, registering the socket when it is new.
    fn step(&self) -> Step {
        let mut g = match self.0.h.lock() {
            Ok(g) => g,
            Err(e) => return Step::Stuck(e),
        };
        let inner: &mut Inner = &mut g;
        let Some(conn) = inner.conn.as_mut() else {
            return Step::Stuck(Error::new(libc::ENOTCONN, "the handle is not connected"));
        };
        let moved = conn.flush_progress();
        inner.after_step();
        let conn = inner.conn.as_mut().expect("checked above");
        match moved {
            Ok(true) => return Step::Progressed,
            Ok(false) => {}
            Err(e) => {
                drop(g);
                self.forget_socket();
                return Step::Stuck(e);
            }
        }
        let dir = conn.direction();
        let fd = match conn.fd() {
            Some(fd) if dir.bits() != 0 => fd,
            _ => {
                let e = conn.dead_error();
                drop(g);
                self.forget_socket();
                return Step::Stuck(e);
            }
        };
        // Under the lock, so the descriptor is the engine's own.
        match self.register(fd) {
            Ok(afd) => Step::Wait(afd, dir),
            Err(e) => Step::Stuck(e),
        }
    }

    /// [`Self::step`], waking the waiting tasks when it moved bytes or
    /// found the connection over (their commands may be done).
    fn step_and_tell(&self) -> Step {
        let step = self.step();
        if !matches!(step, Step::Wait(..)) {
            self.0.progress.notify_waiters();
        }
        step
    }

    fn register(&self, fd: RawFd) -> Result<Arc<AsyncFd<OwnedFd>>> {
        let id = socket_id(fd)?;
        let mut reg = self.0.reg.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = reg.as_ref().filter(|r| r.id == id) {
            return Ok(r.fd.clone());
        }
        // SAFETY: fcntl on a descriptor the engine holds open (we hold its
        // lock); the duplicate is ours.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if dup == -1 {
            return Err(Error::from_io(&std::io::Error::last_os_error(), "dup"));
        }
        // SAFETY: `dup` is a new descriptor nobody else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(dup) };
        // SAFETY: the registration owns `owned`, so the descriptor stays
        // open and the same socket until the registration is dropped.
        let afd = unsafe {
            AsyncFd::register_with_interest(owned, Interest::READABLE | Interest::WRITABLE)
        }
        .map_err(|e| Error::new(libc::EIO, format!("registering the socket with tokio: {e}")))?;
        let afd = Arc::new(afd);
        *reg = Some(Registration {
            id,
            fd: afd.clone(),
        });
        Ok(afd)
    }

    /// The engine closed its socket: close our duplicate too (the peer
    /// sees the connection end once every waiter has let go of it).
    fn forget_socket(&self) {
        *self.0.reg.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The socket is ready in these directions: move bytes.
    /// The socket is ready for reading (`read`) or writing: move bytes,
    /// clear tokio's readiness when the socket turned out drained (a short
    /// or blocked recv) or full (a partial or blocked send), and wake the
    /// waiting tasks when anything moved. tokio clears only if no new
    /// readiness arrived since `guard` was taken, so this is race-free.
    fn serve(
        &self,
        guard: std::io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, OwnedFd>>,
        read: bool,
    ) -> Result<()> {
        let mut guard = guard.map_err(|e| Error::from_io(&e, "waiting for the socket"))?;
        let report = self.on_ready(read, !read);
        if (read && report.read_blocked) || (!read && report.write_blocked) {
            guard.clear_ready();
        }
        if report.progressed {
            self.0.progress.notify_waiters();
        }
        Ok(())
    }

    fn on_ready(&self, readable: bool, writable: bool) -> crate::driver::io::PumpReport {
        let Ok(mut g) = self.0.h.lock() else {
            return Default::default();
        };
        let inner: &mut Inner = &mut g;
        let Some(conn) = inner.conn.as_mut() else {
            return Default::default();
        };
        let connecting = conn.is_connecting_socket();
        let r = if connecting {
            conn.on_ready(false, true)
        } else {
            conn.on_ready(readable, writable)
        };
        inner.after_step();
        match r {
            // Still connecting on the same socket: readiness was spurious.
            Ok(r)
                if connecting
                    && inner
                        .conn
                        .as_ref()
                        .is_some_and(|c| c.is_connecting_socket()) =>
            {
                crate::driver::io::PumpReport {
                    write_blocked: true,
                    ..r
                }
            }
            Ok(r) => r,
            // The connection is dead; the next step reports it.
            Err(_) => crate::driver::io::PumpReport {
                progressed: true,
                ..Default::default()
            },
        }
    }

    /// Drive the connection until `done`. `done` is asked before every
    /// wait; a connection that can make no more progress is an error
    /// unless `done` then holds.
    ///
    /// One waiting task at a time (the driver) waits on the socket and
    /// moves bytes; the others wait for the progress notification, and
    /// one of them takes over when the driver's own wait ends (or its
    /// future is dropped). So a readiness event wakes one task, not all
    /// of them, and each progress wakes the others only to check their
    /// own slot.
    pub(crate) async fn wait_until(&self, mut done: impl FnMut() -> bool) -> Result<()> {
        let sh = &*self.0;
        let mut driving: Option<Driving<'_>> = None;
        // Whether this task has sent what it queued (every waiter does
        // that once; the driver at every turn).
        let mut flushed = false;
        loop {
            // Enabled before `done` is asked: progress reported after the
            // check wakes this wait (no lost wake-up).
            let notified = sh.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done() {
                return Ok(());
            }
            if driving.is_none() {
                if !flushed {
                    match self.step_and_tell() {
                        Step::Progressed => continue,
                        Step::Stuck(e) => return if done() { Ok(()) } else { Err(e) },
                        // Output is left for the driver to send once the
                        // socket takes it: tell it to look again.
                        Step::Wait(_, dir) if dir.writes() => sh.look_again.notify_one(),
                        Step::Wait(..) => {}
                    }
                    flushed = true;
                }
                if sh
                    .driving
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    notified.await;
                    continue;
                }
                driving = Some(Driving(sh));
            }
            let (afd, dir) = match self.step_and_tell() {
                Step::Progressed => continue,
                Step::Stuck(e) => return if done() { Ok(()) } else { Err(e) },
                Step::Wait(afd, dir) => (afd, dir),
            };
            tokio::select! {
                biased;
                () = &mut notified => continue,
                () = sh.look_again.notified() => continue,
                r = afd.readable(), if dir.reads() => self.serve(r, true)?,
                r = afd.writable(), if dir.writes() => self.serve(r, false)?,
            }
        }
    }

    /// Submit a command through its aio twin with a completion callback
    /// that records its errno and retires it (so a dropped future leaves
    /// nothing in the command table), then wait for it.
    pub(crate) async fn command(
        &self,
        name: &'static str,
        submit: impl FnOnce(&Handle, CompletionCallback) -> Result<()>,
    ) -> Result<()> {
        let slot = Arc::new(AtomicI32::new(PENDING));
        let done = slot.clone();
        let completion: CompletionCallback = Box::new(move |err| {
            done.store(*err, Ordering::Release);
            1
        });
        submit(&self.0.h, completion).map_err(|e| e.renamed(name))?;
        // Other tasks may be waiting for a socket that has just had our
        // request written to it (and so our reply on its way).
        self.wait_until(|| slot.load(Ordering::Acquire) != PENDING)
            .await
            .map_err(|e| e.renamed(name))?;
        match slot.load(Ordering::Acquire) {
            0 => Ok(()),
            errno => Err(Error::new(
                errno,
                format!(
                    "the command failed: {}",
                    std::io::Error::from_raw_os_error(errno)
                ),
            )
            .with_context(name)),
        }
    }

    /// After an aio connect call: wait until the handshake is over. The
    /// handle is then connected (or negotiating, in opt mode); a failed
    /// or closed connection is an error.
    pub(crate) async fn connected(&self, name: &'static str) -> Result<()> {
        let h = &self.0.h;
        let r = self
            .wait_until(|| h.public_state() != PublicState::Connecting)
            .await;
        match h.public_state() {
            PublicState::Connected | PublicState::Negotiating => Ok(()),
            _ => Err(self
                .dead_error()
                .or(r.err())
                .unwrap_or_else(|| {
                    Error::new(libc::ENOTCONN, "the connection ended during the handshake")
                })
                .renamed(name)),
        }
    }

    fn dead_error(&self) -> Option<Error> {
        let g = self.0.h.lock().ok()?;
        g.conn.as_ref().map(|c| c.dead_error())
    }

    /// nbd_shutdown(3) without blocking: the commands already issued are
    /// still sent (unless `SHUTDOWN_ABANDON_PENDING`) and answered, then
    /// the disconnect request follows; waits until the connection is
    /// closed or dead. In opt mode, ends the negotiation.
    pub async fn shutdown(&self, flags: Option<Shutdown>) -> Result<()> {
        const NAME: &str = "nbd_shutdown";
        let flags = flags.unwrap_or_default();
        if flags.bits() & !Shutdown::MASK.bits() != 0 {
            return Err(Error::new(
                libc::EINVAL,
                format!("invalid value for flags: {:#x}", flags.bits()),
            )
            .with_context(NAME));
        }
        let abandon = flags.bits() & Shutdown::ABANDON_PENDING.bits() != 0;
        let h = &self.0.h;
        let ended = || matches!(h.public_state(), PublicState::Closed | PublicState::Dead);
        match h.public_state() {
            PublicState::Connected | PublicState::Negotiating => {}
            PublicState::Created => {
                return Err(Error::new(
                    libc::ENOTCONN,
                    "invalid state: created: the handle must be negotiating or connected",
                )
                .with_context(NAME))
            }
            s => {
                return Err(Error::new(
                    libc::EINVAL,
                    format!(
                        "invalid state: {}: the handle must be negotiating or connected",
                        s.name()
                    ),
                )
                .with_context(NAME))
            }
        }
        if !abandon && h.public_state() == PublicState::Connected {
            // As the blocking call: let the commands issued finish first.
            self.wait_until(|| ended() || h.aio_in_flight().map_or(true, |n| n == 0))
                .await
                .map_err(|e| e.renamed(NAME))?;
        }
        {
            let mut g = h.lock().map_err(|e| e.renamed(NAME))?;
            let inner: &mut Inner = &mut g;
            let conn = inner.conn_mut().map_err(|e| e.renamed(NAME))?;
            let r = match conn.machine.public_state() {
                PublicState::Closed | PublicState::Dead => Ok(()),
                _ if conn.machine.disconnecting() => Ok(()),
                _ => conn.machine.disconnect(abandon),
            };
            inner.after_step();
            r.map_err(|e| e.renamed(NAME))?;
        }
        self.wait_until(ended).await.map_err(|e| e.renamed(NAME))?;
        self.forget_socket();
        Ok(())
    }
}

impl std::fmt::Debug for AsyncHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncHandle")
            .field("state", &self.0.h.public_state().name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn is_send_sync_clone() {
        assert_send_sync::<AsyncHandle>();
    }

    #[test]
    fn socket_ids_differ() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::os::fd::AsRawFd;
        assert_ne!(
            socket_id(a.as_raw_fd()).unwrap(),
            socket_id(b.as_raw_fd()).unwrap()
        );
    }
}

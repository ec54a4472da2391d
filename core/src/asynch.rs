//! The native tokio API: [`AsyncHandle`], driving the same engine as
//! [`Handle`] with `tokio::io::unix::AsyncFd` over the handle's socket.
//! The methods are generated (`generated/async_handle.rs`); this module
//! holds what they are built from: the wait loop, commands (with the
//! handle's buffer pool), options, connects, and the hand-written
//! `shutdown`, `pread_owned` and `pwrite_owned`. The design is described in ARCHITECTURE.md ("The tokio
//! driver").

use std::future::Future;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;

use crate::generated::types::{CmdFlag, CompletionCallback, PublicState, Shutdown};
use crate::handle::Inner;
use crate::protocol::{Direction, OptOutcome};
use crate::{AioBuffer, Error, Handle, Result};

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
/// at once (they are pipelined on the socket, what several tasks queued
/// going out in one vectored write). No thread is started and nothing
/// polls: one waiting task at a time waits for the socket's readiness
/// (registered with the runtime's reactor once connected) and moves the
/// bytes for all; each other task sleeps until its own command completes.
///
/// - Settings, getters and everything else that does not wait on the
///   server are the plain synchronous calls of [`Handle`], passed
///   through.
/// - `async fn`s, generated from api.yaml through their aio twins: the
///   data commands (`pread`, `pread_structured`, `pwrite`, `flush`,
///   `trim`, `cache`, `zero`, `block_status`, `block_status_64`,
///   `block_status_filter`), the `connect_*` calls, and every option
///   request of opt mode (`opt_go`, `opt_info`, `opt_list`,
///   `opt_list_meta_context[_queries]`, `opt_set_meta_context[_queries]`,
///   `opt_starttls`, `opt_structured_reply`, `opt_extended_headers`,
///   `opt_abort`), returning what the blocking calls return; and, written
///   by hand, [`AsyncHandle::shutdown`] and the owned-buffer forms
///   [`AsyncHandle::pread_owned`] and [`AsyncHandle::pwrite_owned`]
///   (Rust-only: no copy, for bulk transfers).
/// - Left out: the `aio_*` calls, `poll`, `poll2` and `connection_state`
///   (the event loop is tokio's; [`AsyncHandle::handle`] reaches the
///   underlying [`Handle`] if needed), and the handle's life and
///   thread-local error calls, which Rust expresses otherwise.
///
/// Errors are [`Error`]s as from [`Handle`]: the errno and the same
/// message, the server's text included, under the call's own name.
///
/// The socket is registered with the reactor of the runtime that first
/// waits on it (again after each reconnect): use a connection from one
/// runtime.
///
/// **Cancellation**: dropping a command's future at any point is safe.
/// The command itself is not cancelled (NBD has no way to); it is still
/// answered and retired by whichever task drives the connection next, and
/// the engine only ever reads and writes memory the handle owns: `pread`
/// reads into a buffer of the handle's (reused from command to command)
/// and copies into the caller's slice once the command succeeded;
/// `pwrite` copies the caller's bytes first. Reading straight into the
/// caller's slice cannot be made safe: a future may be leaked
/// (`std::mem::forget`) without its drop ever running, ending the borrow
/// while the server's reply is still to come: hence the owned forms,
/// which lend a `Vec<u8>` to the engine and get it back. With
/// `pread_initialize` on
/// (the default), a read that fails or is dropped leaves the caller's
/// slice zeroed, as the blocking call does.
#[derive(Clone)]
pub struct AsyncHandle(Arc<Shared>);

struct Shared {
    h: Handle,
    /// The socket as registered with the reactor.
    reg: Mutex<Option<Registration>>,
    /// Whether a task is waiting on the socket (the driver).
    driving: AtomicBool,
    /// Tasks in [`AsyncHandle::wait_until`] that are not driving: one of
    /// them must take over when the driver leaves.
    waiting: AtomicUsize,
    /// Wakes one waiting task to take the driver's role.
    vacant: Notify,
    /// Tasks waiting for something other than a command of their own
    /// (a connect, an option, shutdown): woken by any progress.
    watchers: AtomicUsize,
    progress: Notify,
    /// Tells the driver to send: another task queued a request.
    look_again: Notify,
    /// Set by the first task to queue a request since the driver last
    /// sent (which clears it): only that task notifies `look_again`.
    nudged: AtomicBool,
    /// Buffers of reads and writes that completed, for the next ones.
    pool: Mutex<Pool>,
}

/// Memory kept for reuse by the buffers the engine reads into and writes
/// from: allocating (and zeroing) a fresh one per command cost more than
/// the copy.
#[derive(Default)]
struct Pool {
    free: Vec<AioBuffer>,
    bytes: usize,
}

impl Pool {
    /// What the pool keeps at most, and the largest buffer it keeps.
    const MAX_BYTES: usize = 32 << 20;
    const MAX_LEN: usize = 4 << 20;

    fn take(&mut self, len: usize) -> Option<AioBuffer> {
        let i = self.free.iter().rposition(|b| b.len() == len)?;
        self.bytes -= len;
        Some(self.free.swap_remove(i))
    }

    /// Keep `b` if it is the last clone (the engine let go of it) and
    /// there is room.
    fn give(&mut self, b: AioBuffer) {
        if !b.is_shared() && b.len() <= Self::MAX_LEN && self.bytes + b.len() <= Self::MAX_BYTES {
            self.bytes += b.len();
            self.free.push(b);
        }
    }
}

/// The driver's role, handed over when its wait ends or its future is
/// dropped: one waiting task is woken to take it.
struct Driving<'a>(&'a Shared);

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        self.0.driving.store(false, Ordering::SeqCst);
        self.0.hand_over();
    }
}

/// A task inside [`AsyncHandle::wait_until`], counted while it does not
/// drive; on leaving, it passes on a hand-over it may have taken without
/// using it.
struct Waiting<'a> {
    sh: &'a Shared,
    counted: bool,
}

impl Waiting<'_> {
    fn set_counted(&mut self, counted: bool) {
        if counted != self.counted {
            if counted {
                self.sh.waiting.fetch_add(1, Ordering::SeqCst);
            } else {
                self.sh.waiting.fetch_sub(1, Ordering::SeqCst);
            }
            self.counted = counted;
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.set_counted(false);
        self.sh.hand_over();
    }
}

/// A watcher (see [`Shared::watchers`]) for as long as it lives.
struct Watching<'a>(&'a Shared);

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.0.watchers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    /// Nobody drives: wake one waiting task to take over. (Its own
    /// command may be done by then; it hands over again as it leaves.)
    fn hand_over(&self) {
        if !self.driving.load(Ordering::SeqCst) && self.waiting.load(Ordering::SeqCst) > 0 {
            self.vacant.notify_one();
        }
    }

    /// Bytes moved or the connection ended: wake the watchers. Tasks
    /// waiting for a command are woken by its completion callback alone.
    fn tell_watchers(&self) {
        if self.watchers.load(Ordering::SeqCst) > 0 {
            self.progress.notify_waiters();
        }
    }
}

/// Clears the caller's read buffer (when `pread_initialize` is on) on
/// every way out but success: a failed or dropped read leaves no old
/// bytes behind, as the blocking call, which clears it first, does.
struct ClearUnlessRead<'a> {
    h: &'a Handle,
    buf: Option<&'a mut [u8]>,
}

impl Drop for ClearUnlessRead<'_> {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            self.h.initialize_read_buffer(buf);
        }
    }
}

/// What a command's future and its completion callback share.
struct Slot {
    /// The command's errno once it completed, [`PENDING`] before.
    errno: AtomicI32,
    /// Set when the future is dropped before the completion: the
    /// callback then retires the command itself.
    abandoned: AtomicBool,
    /// The task to wake on completion (cheaper than a `Notify`: one
    /// waiter, no list).
    waker: Mutex<Option<Waker>>,
}

impl Slot {
    fn done(&self) -> bool {
        self.errno.load(Ordering::SeqCst) != PENDING
    }

    /// No wake-up wanted: the task is about to run the engine itself
    /// and checks its command afterwards (waking the running task would
    /// only schedule it again, one more turn of the runtime per request).
    fn forget_waker(&self) {
        self.waker.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// The completion callback's part: record, then wake.
    fn complete(&self, errno: i32) {
        self.errno.store(errno, Ordering::SeqCst);
        let w = self.waker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// Ready once the slot's command completed.
struct Completed<'a>(&'a Slot);

impl Future for Completed<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let slot = self.0;
        if slot.done() {
            return Poll::Ready(());
        }
        {
            let mut w = slot.waker.lock().unwrap_or_else(|p| p.into_inner());
            if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *w = Some(cx.waker().clone());
            }
        }
        // Asked again after the waker is in place: a completion that
        // took the (empty) waker before is seen here.
        if slot.done() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Retires a failed command whose future is dropped: the completion
/// callback does it if it has not run yet, this guard if it has (a
/// command that succeeded retired in its callback).
struct Abandon<'a> {
    h: &'a AsyncHandle,
    slot: &'a Slot,
    cookie: u64,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        // Dekker-style with the callback (store errno, then load
        // abandoned; both SeqCst): at least one of the two sees the other.
        self.slot.abandoned.store(true, Ordering::SeqCst);
        if !matches!(self.slot.errno.load(Ordering::SeqCst), PENDING | 0) {
            let _ = self.h.0.h.aio_command_completed(self.cookie);
        }
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
    /// The engine's descriptor number, once the socket was found to be
    /// this one while connected: from then on it cannot change (a
    /// connected handle never reconnects; its socket only goes away), so
    /// the number alone identifies it and no fstat is needed per step.
    settled: Option<RawFd>,
}

/// What one step under the lock left to do.
enum Step {
    /// Bytes moved: re-check, others may be done.
    Progressed,
    /// Wait for the socket in `dir`, or until the deadline (a connect or
    /// request timeout).
    Wait(Arc<AsyncFd<OwnedFd>>, Direction, Option<std::time::Instant>),
    /// Nothing more can happen.
    Stuck(Error),
}

/// Sleep until `deadline` (never, without one).
async fn until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A completion slot's value while the command is in flight.
const PENDING: i32 = i32::MIN;

/// Wait for a command's completion callback; never, for a watcher.
async fn completion(own: Option<&Slot>) {
    match own {
        Some(slot) => Completed(slot).await,
        None => std::future::pending().await,
    }
}

/// A watcher's progress notification; never, for a command's task.
async fn watch(progress: &mut Option<Pin<Box<tokio::sync::futures::Notified<'_>>>>) {
    match progress {
        Some(p) => p.await,
        None => std::future::pending().await,
    }
}

/// What a synchronous `opt_*` call returns, read off the option's
/// outcome as the blocking calls do.
pub(crate) trait OptAnswer {
    fn from_outcome(o: OptOutcome) -> Self;
}

impl OptAnswer for () {
    fn from_outcome(_: OptOutcome) {}
}

impl OptAnswer for i32 {
    fn from_outcome(o: OptOutcome) -> i32 {
        crate::calls::opt::count(o)
    }
}

impl OptAnswer for bool {
    fn from_outcome(o: OptOutcome) -> bool {
        crate::calls::opt::accepted(o)
    }
}

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
            driving: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
            vacant: Notify::new(),
            watchers: AtomicUsize::new(0),
            progress: Notify::new(),
            look_again: Notify::new(),
            nudged: AtomicBool::new(false),
            pool: Mutex::default(),
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
        let connected = conn.public_state() == PublicState::Connected;
        let deadline = if conn.timed() {
            conn.next_deadline()
        } else {
            None
        };
        match self.register(fd, connected) {
            Ok(afd) => Step::Wait(afd, dir, deadline),
            Err(e) => Step::Stuck(e),
        }
    }

    /// A deadline passed: fail what overran (the machine's step under the
    /// lock does), and wake the waiting tasks.
    fn expire(&self) {
        if let Ok(mut g) = self.0.h.lock() {
            g.after_step();
        }
        self.0.tell_watchers();
    }

    /// [`Self::step`], waking the waiting tasks when it moved bytes or
    /// found the connection over (their commands may be done).
    fn step_and_tell(&self) -> Step {
        let step = self.step();
        if !matches!(step, Step::Wait(..)) {
            self.0.tell_watchers();
        }
        step
    }

    /// The reactor's registration of the engine's socket `fd`, made anew
    /// when the socket is not the one registered (called under the
    /// handle's lock).
    fn register(&self, fd: RawFd, connected: bool) -> Result<Arc<AsyncFd<OwnedFd>>> {
        let mut reg = self.0.reg.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = reg.as_ref().filter(|r| r.settled == Some(fd)) {
            return Ok(r.fd.clone());
        }
        let id = socket_id(fd)?;
        if let Some(r) = reg.as_mut().filter(|r| r.id == id) {
            if connected {
                r.settled = Some(fd);
            }
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
            settled: connected.then_some(fd),
        });
        Ok(afd)
    }

    /// The engine closed its socket: close our duplicate too (the peer
    /// sees the connection end once every waiter has let go of it).
    fn forget_socket(&self) {
        *self.0.reg.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The socket is ready for reading (`read`) or writing: move bytes
    /// (completion callbacks wake the tasks whose commands completed),
    /// clear tokio's readiness when the socket turned out drained (a short
    /// or blocked recv) or full (a partial or blocked send), and wake the
    /// watchers when anything moved. tokio clears only if no new
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
            self.0.tell_watchers();
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
    /// unless `done` then holds. `own` is the slot of this task's
    /// command, whose completion wakes it; without one the task is a
    /// watcher, woken by any progress.
    ///
    /// One waiting task at a time (the driver) waits on the socket and
    /// moves bytes; the others wait for their own completion, and one of
    /// them takes over when the driver's wait ends (or its future is
    /// dropped). So a readiness event wakes one task, and a completion
    /// wakes the task whose command it was, not all of them.
    async fn wait_until(&self, mut done: impl FnMut() -> bool, own: Option<&Slot>) -> Result<()> {
        let sh = &*self.0;
        let _watching = own.is_none().then(|| {
            sh.watchers.fetch_add(1, Ordering::SeqCst);
            Watching(sh)
        });
        let mut waiting = Waiting { sh, counted: false };
        let mut driving: Option<Driving<'_>> = None;
        let mut told = false;
        loop {
            // A watcher enables its notification before `done` is asked:
            // progress reported after the check wakes this wait (no lost
            // wake-up). Completions and hand-overs leave a permit instead.
            let mut progress = own.is_none().then(|| Box::pin(sh.progress.notified()));
            if let Some(p) = progress.as_mut() {
                p.as_mut().enable();
            }
            if done() {
                return Ok(());
            }
            if driving.is_none() {
                // Counted before trying: a driver leaving after a failed
                // try sees the count and hands over.
                waiting.set_counted(true);
                if sh
                    .driving
                    .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    // The driver sends what this task queued, together
                    // with what others queued meanwhile (one vectored
                    // write): tell it to look, once, unless another task
                    // did since it last sent (it sends ours too: we
                    // queued before looking at the flag).
                    if !told {
                        if !sh.nudged.swap(true, Ordering::SeqCst) {
                            sh.look_again.notify_one();
                        }
                        told = true;
                    }
                    tokio::select! {
                        biased;
                        () = completion(own) => {}
                        () = watch(&mut progress) => {}
                        () = sh.vacant.notified() => {}
                    }
                    continue;
                }
                waiting.set_counted(false);
                driving = Some(Driving(sh));
            }
            // Cleared before sending: a task that queues after this
            // finds it clear and notifies.
            sh.nudged.store(false, Ordering::SeqCst);
            let (afd, dir, deadline) = match self.step_and_tell() {
                Step::Progressed => continue,
                Step::Stuck(e) => return if done() { Ok(()) } else { Err(e) },
                Step::Wait(afd, dir, deadline) => (afd, dir, deadline),
            };
            tokio::select! {
                biased;
                () = completion(own) => continue,
                () = watch(&mut progress) => continue,
                () = sh.look_again.notified() => continue,
                // Built only when there is a deadline: a runtime without
                // its timer never meets a sleep otherwise.
                () = until(deadline), if deadline.is_some() => {
                    self.expire();
                    continue;
                }
                r = afd.readable(), if dir.reads() => {
                    if let Some(slot) = own {
                        slot.forget_waker();
                    }
                    self.serve(r, true)?
                }
                r = afd.writable(), if dir.writes() => {
                    if let Some(slot) = own {
                        slot.forget_waker();
                    }
                    self.serve(r, false)?
                }
            }
        }
    }

    /// Submit a command through its aio twin with a completion callback
    /// that records its errno, wakes this task and retires the command
    /// if it succeeded; a failed one is retired here with
    /// `aio_command_completed`, which carries the server's message. A
    /// dropped future leaves nothing in the command table: the callback
    /// (or, if it already ran, the drop) retires it.
    pub(crate) async fn command(
        &self,
        name: &'static str,
        submit: impl FnOnce(&Handle, CompletionCallback) -> Result<u64>,
    ) -> Result<()> {
        let slot = Arc::new(Slot {
            errno: AtomicI32::new(PENDING),
            abandoned: AtomicBool::new(false),
            waker: Mutex::new(None),
        });
        let theirs = slot.clone();
        let completion: CompletionCallback = Box::new(move |err| {
            theirs.complete(*err);
            // Retire at once, unless the future is still there to ask
            // for the server's message on a failure.
            i32::from(*err == 0 || theirs.abandoned.load(Ordering::SeqCst))
        });
        let cookie = submit(&self.0.h, completion).map_err(|e| e.renamed(name))?;
        let mut abandon = Abandon {
            h: self,
            slot: &slot,
            cookie,
        };
        self.wait_until(|| slot.done(), Some(&slot))
            .await
            .map_err(|e| e.renamed(name))?;
        abandon.cookie = 0;
        let errno = slot.errno.load(Ordering::SeqCst);
        if errno == 0 {
            // Retired by the callback.
            return Ok(());
        }
        match self.0.h.aio_command_completed(cookie) {
            Err(e) => Err(e.renamed(name)),
            // Gone with the connection: only the errno is left.
            Ok(_) => Err(Error::new(
                errno,
                format!(
                    "the command failed: {}",
                    std::io::Error::from_raw_os_error(errno)
                ),
            )
            .with_context(name)),
        }
    }

    /// A buffer for the engine of `len` bytes, from the pool if it has
    /// one (its contents are then a previous command's).
    fn buffer(&self, len: usize) -> AioBuffer {
        let reused = self
            .0
            .pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(len);
        reused.unwrap_or_else(|| AioBuffer::private(len))
    }

    /// Back to the pool, unless the engine still holds it (a command that
    /// never completed).
    fn recycle(&self, buf: AioBuffer) {
        self.0
            .pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .give(buf);
    }

    /// [`AsyncHandle::pread`] without the copy, for bulk transfers: the
    /// server's data goes straight into `buf` (`buf.len()` bytes at
    /// `offset`), which the call owns while the command is in flight and
    /// then gives back. Dropping the future is still safe: the buffer
    /// stays with the command and is freed when the command retires.
    /// As with [`Handle::aio_pread`], the buffer is zeroed first when
    /// `pread_initialize` is on; after an error its contents are not
    /// defined, and it comes back empty if the engine still holds it (a
    /// connection that failed with the command outstanding). A Rust-only
    /// form; libnbd has none.
    pub async fn pread_owned(
        &self,
        buf: Vec<u8>,
        offset: u64,
        flags: Option<CmdFlag>,
    ) -> (Result<()>, Vec<u8>) {
        self.lend("nbd_pread", buf, |h, buf, completion| {
            h.aio_pread(buf, offset, Some(completion), flags)
        })
        .await
    }

    /// [`AsyncHandle::pwrite`] without the copy: `buf` is sent as it is,
    /// owned by the call while the command is in flight and given back
    /// (empty only if the engine still holds it after an error). Dropping
    /// the future is safe, as for [`AsyncHandle::pread_owned`]. A
    /// Rust-only form; libnbd has none.
    pub async fn pwrite_owned(
        &self,
        buf: Vec<u8>,
        offset: u64,
        flags: Option<CmdFlag>,
    ) -> (Result<()>, Vec<u8>) {
        self.lend("nbd_pwrite", buf, |h, buf, completion| {
            h.aio_pwrite(buf, offset, Some(completion), flags)
        })
        .await
    }

    /// A command on `buf` lent to the engine, given back once the engine
    /// let go of it.
    async fn lend(
        &self,
        name: &'static str,
        buf: Vec<u8>,
        submit: impl FnOnce(&Handle, AioBuffer, CompletionCallback) -> Result<u64>,
    ) -> (Result<()>, Vec<u8>) {
        let owned = AioBuffer::from_vec(buf);
        let r = self.on_buffer(name, &owned, submit).await;
        (r, owned.into_vec())
    }

    /// A command on `owned` (the engine gets a clone). Once it is over,
    /// the engine holds the clone no more (unless the command never
    /// completed): on a multi-thread runtime this task may run as soon as
    /// the completion callback woke it, before the engine, still in the
    /// same step under the handle's lock, retired the command and dropped
    /// its clone, so it waits for that step to end.
    async fn on_buffer(
        &self,
        name: &'static str,
        owned: &AioBuffer,
        submit: impl FnOnce(&Handle, AioBuffer, CompletionCallback) -> Result<u64>,
    ) -> Result<()> {
        let theirs = owned.clone();
        let r = self
            .command(name, |h, completion| submit(h, theirs, completion))
            .await;
        if owned.is_shared() {
            drop(self.0.h.lock());
        }
        r
    }

    /// A read command: the engine reads into a buffer of the handle's
    /// own, copied into `buf` once the command succeeded. The engine never
    /// sees the caller's memory, so dropping the future at any point (or
    /// leaking it) leaves nothing that could write into memory the caller
    /// has taken back.
    pub(crate) async fn read(
        &self,
        name: &'static str,
        buf: &mut [u8],
        submit: impl FnOnce(&Handle, AioBuffer, CompletionCallback) -> Result<u64>,
    ) -> Result<()> {
        let owned = self.buffer(buf.len());
        let mut clear = ClearUnlessRead {
            h: &self.0.h,
            buf: Some(buf),
        };
        self.on_buffer(name, &owned, submit).await?;
        if let Some(buf) = clear.buf.take() {
            // SAFETY: the command completed: the engine writes no more to
            // the buffer, and the completion's store happens-before this.
            buf.copy_from_slice(unsafe { owned.as_slice() });
        }
        self.recycle(owned);
        Ok(())
    }

    /// A write command, from a copy of `buf` in a buffer of the handle's
    /// own (the caller may reuse `buf` as soon as the future is dropped).
    pub(crate) async fn write(
        &self,
        name: &'static str,
        buf: &[u8],
        submit: impl FnOnce(&Handle, AioBuffer, CompletionCallback) -> Result<u64>,
    ) -> Result<()> {
        let owned = self.buffer(buf.len());
        // SAFETY: nobody else holds this fresh buffer yet.
        unsafe { owned.as_mut_slice() }.copy_from_slice(buf);
        let r = self.on_buffer(name, &owned, submit).await;
        self.recycle(owned);
        r
    }

    /// Start an option through its aio twin (without a completion
    /// callback) and wait for its result, as the synchronous `opt_*`
    /// calls do: the result carries the server's message on failure.
    pub(crate) async fn option<T: OptAnswer>(
        &self,
        name: &'static str,
        start: impl FnOnce(&Handle) -> Result<()>,
    ) -> Result<T> {
        start(&self.0.h).map_err(|e| e.renamed(name))?;
        let h = &self.0.h;
        let mut found = None;
        let r = self
            .wait_until(
                || {
                    if found.is_none() {
                        found = h
                            .lock()
                            .ok()
                            .and_then(|mut g| g.conn.as_mut()?.first_mut().machine.option_result());
                    }
                    found.is_some()
                },
                None,
            )
            .await;
        match (found, r) {
            (Some(Ok(o)), _) if h.public_state() == PublicState::Connecting => {
                // After opt_go with nbd_set_connections: the other
                // connections open before the handle is connected.
                self.connected(name).await.map(|()| T::from_outcome(o))
            }
            (Some(Ok(o)), _) => Ok(T::from_outcome(o)),
            (Some(Err(e)), _) | (None, Err(e)) => Err(e.renamed(name)),
            (None, Ok(())) => Err(self
                .dead_error()
                .unwrap_or_else(|| Error::new(libc::ENOTCONN, "the connection ended"))
                .renamed(name)),
        }
    }

    /// After an aio connect call: wait until the handshake is over. The
    /// handle is then connected (or negotiating, in opt mode); a failed
    /// or closed connection is an error.
    pub(crate) async fn connected(&self, name: &'static str) -> Result<()> {
        let h = &self.0.h;
        let r = self
            .wait_until(|| h.public_state() != PublicState::Connecting, None)
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
            self.wait_until(
                || ended() || h.aio_in_flight().map_or(true, |n| n == 0),
                None,
            )
            .await
            .map_err(|e| e.renamed(NAME))?;
        }
        {
            let mut g = h.lock().map_err(|e| e.renamed(NAME))?;
            let inner: &mut Inner = &mut g;
            let conn = inner.conn_mut().map_err(|e| e.renamed(NAME))?;
            let r = match conn.public_state() {
                PublicState::Closed | PublicState::Dead => Ok(()),
                _ if conn.disconnecting() => Ok(()),
                _ => conn.disconnect(abandon),
            };
            inner.after_step();
            r.map_err(|e| e.renamed(NAME))?;
        }
        self.wait_until(ended, None)
            .await
            .map_err(|e| e.renamed(NAME))?;
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

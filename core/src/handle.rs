//! The handle: settings, the connection, and the lock around them.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::driver::Group;
use crate::generated::dispatch::Unlocked;
use crate::generated::types::PublicState;
use crate::settings::Settings;
use crate::{Error, Result};

/// Handles are named nbd1, nbd2, ... in debug messages.
static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(1);

/// Threads are numbered from 1 for the lock's owner record (0: nobody).
static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static THREAD_NUMBER: u64 = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

fn this_thread() -> u64 {
    THREAD_NUMBER.with(|n| *n)
}

/// A connection to one NBD server and the settings that shape it.
///
/// Every call takes an internal lock for its whole duration, so calls from
/// several threads are serialised, as in libnbd. The few calls that must
/// not wait for the lock (`aio_get_direction`, `aio_is_*`, the private
/// data) read values published in atomics.
///
/// Callbacks run while the lock is held. A callback that calls a locked
/// method of its own handle would wait for itself for ever (libnbd
/// deadlocks there); here the lock knows which thread holds it, and such
/// a call fails at once with `EDEADLK`. The locked getters that cannot
/// fail answer from a copy taken when the lock was last released.
pub struct Handle {
    inner: Mutex<Inner>,
    shared: Arc<Shared>,
    /// The number of the thread holding `inner` (0 while free).
    owner: AtomicU64,
    private_data: AtomicUsize,
}

/// The handle's lock as held by one call: clears the owner record, and
/// refreshes the copy the non-failing getters answer from while the lock
/// is held, when released.
pub(crate) struct Locked<'a> {
    guard: MutexGuard<'a, Inner>,
    owner: &'a AtomicU64,
}

impl Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let copy = Unlocked::capture(&mut self.guard);
        *self
            .guard
            .shared
            .unlocked
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = copy;
        // Cleared before the guard (a field) unlocks the mutex.
        self.owner.store(0, Ordering::Relaxed);
    }
}

/// Values readable without the lock, refreshed by the locked side after
/// every step that can change them.
#[derive(Default)]
pub(crate) struct Shared {
    state: AtomicU8,
    direction: AtomicU32,
    processing: AtomicBool,
    unlocked: Mutex<Unlocked>,
}

/// Everything behind the handle's lock.
pub(crate) struct Inner {
    pub(crate) settings: Settings,
    /// The connection (or, with multi-conn, connections); None until a
    /// connect call starts one.
    pub(crate) conn: Option<Group>,
    shared: Arc<Shared>,
    /// The call being traced, used as the context of the machine's own
    /// debug messages (libnbd labels them with the API call too).
    debug_context: String,
}

impl Handle {
    /// A new handle, not connected. Debugging starts enabled when
    /// `LIBNBD_DEBUG` is exactly "1".
    pub fn new() -> Result<Handle> {
        let n = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        let debug = std::env::var_os("LIBNBD_DEBUG").is_some_and(|v| v == "1");
        let mut inner = Inner {
            settings: Settings::new(format!("nbd{n}"), debug),
            conn: None,
            shared: Arc::new(Shared::default()),
            debug_context: String::new(),
        };
        let copy = Unlocked::capture(&mut inner);
        *inner
            .shared
            .unlocked
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = copy;
        inner.publish();
        Ok(Handle {
            shared: inner.shared.clone(),
            inner: Mutex::new(inner),
            owner: AtomicU64::new(0),
            private_data: AtomicUsize::new(0),
        })
    }

    /// Take the handle lock, or fail with `EDEADLK` when this thread holds
    /// it already (a callback calling its own handle). A panic in an
    /// earlier call (say, in a user callback) does not make the handle
    /// unusable.
    pub(crate) fn lock(&self) -> Result<Locked<'_>> {
        let me = this_thread();
        // Only this thread ever stores `me`, so seeing it means this
        // thread is inside a call on the handle.
        if self.owner.load(Ordering::Relaxed) == me {
            return Err(Error::new(
                libc::EDEADLK,
                "a callback cannot call a function that locks its own handle \
                 (the handle is busy running the callback)",
            ));
        }
        let guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.owner.store(me, Ordering::Relaxed);
        Ok(Locked {
            guard,
            owner: &self.owner,
        })
    }

    /// The locked calls that cannot fail: their answer from inside the
    /// call, or from the copy taken at the last release when this thread
    /// holds the lock (see [`Unlocked`]).
    pub(crate) fn locked_or_copy<T>(
        &self,
        call: impl FnOnce(&mut Inner) -> T,
        copy: impl FnOnce(&Unlocked) -> T,
    ) -> T {
        match self.lock() {
            Ok(mut h) => call(&mut h),
            Err(_) => copy(
                &self
                    .shared
                    .unlocked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            ),
        }
    }

    /// Whether the calling thread is inside a call on this handle (in one
    /// of its callbacks): a binding must not close or free the handle then.
    #[doc(hidden)]
    pub fn held_by_this_thread(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == this_thread()
    }

    /// The coarse state (created, connecting, negotiating, connected,
    /// closed, dead) the `aio_is_*` calls and `permitted_states` speak of,
    /// without waiting for the lock.
    pub fn public_state(&self) -> PublicState {
        self.state_unlocked()
    }

    /// A value read without waiting for the lock: `exact` from the
    /// handle when nobody holds it, else `published` from what the
    /// holder's last step left in [`Shared`].
    fn read_unlocked<T>(
        &self,
        exact: impl FnOnce(&Inner) -> T,
        published: impl FnOnce(&Shared) -> T,
    ) -> T {
        match self.inner.try_lock() {
            Ok(inner) => exact(&inner),
            Err(std::sync::TryLockError::Poisoned(p)) => exact(&p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => published(&self.shared),
        }
    }

    /// The public state without waiting for the lock: exact when nobody
    /// holds it, else as published by the last step of the holder.
    pub(crate) fn state_unlocked(&self) -> PublicState {
        self.read_unlocked(Inner::public_state, |s| {
            decode_state(s.state.load(Ordering::Acquire))
        })
    }

    /// The wanted direction without waiting for the lock.
    pub(crate) fn direction_unlocked(&self) -> u32 {
        self.read_unlocked(Inner::direction, |s| s.direction.load(Ordering::Acquire))
    }

    /// Whether a connected handle is in the middle of a request or reply.
    pub(crate) fn processing_unlocked(&self) -> bool {
        self.read_unlocked(Inner::processing, |s| s.processing.load(Ordering::Acquire))
    }

    pub(crate) fn private_data(&self) -> &AtomicUsize {
        &self.private_data
    }
}

impl Handle {
    /// Clear `buf` when nbd_set_pread_initialize is on, as a read call
    /// does before any check. For bindings that refuse a read's other
    /// arguments before calling the handle (the C library's NULL
    /// closures); the generated read calls do this themselves.
    #[doc(hidden)]
    pub fn initialize_read_buffer(&self, buf: &mut [u8]) {
        match self.lock() {
            Ok(h) => h.initialize_read_buffer(buf),
            // The read is about to fail with EDEADLK; its buffer holds no
            // old bytes either way.
            Err(_) => buf.fill(0),
        }
    }

    /// The same for an aio read's buffer.
    #[doc(hidden)]
    pub fn initialize_aio_read_buffer(&self, buf: &crate::AioBuffer) {
        if let Ok(h) = self.lock() {
            h.initialize_aio_read_buffer(buf);
        }
    }

    /// nbd_get_handle_size without waiting: None while another thread
    /// holds the handle (in a call). For bindings that keep their garbage
    /// collector's account of a handle up to date from places where
    /// waiting for the handle could deadlock.
    #[doc(hidden)]
    pub fn try_handle_size(&self) -> Option<usize> {
        match self.inner.try_lock() {
            Ok(mut inner) => inner.do_get_handle_size().ok(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().do_get_handle_size().ok(),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

impl Inner {
    /// The coarse state the dispatch checks `permitted_states` against.
    pub(crate) fn public_state(&self) -> PublicState {
        match &self.conn {
            None => PublicState::Created,
            Some(c) => c.public_state(),
        }
    }

    /// `LIBNBD_AIO_DIRECTION_*` for the current state.
    pub(crate) fn direction(&self) -> u32 {
        self.conn.as_ref().map_or(0, |c| c.direction().bits())
    }

    /// Connected but not idle: libnbd's "processing" as opposed to
    /// "ready" (the machine names its idle state READY).
    pub(crate) fn processing(&self) -> bool {
        self.conn.as_ref().is_some_and(Group::processing)
    }

    /// Whether command flags outside the library's mask are refused.
    pub(crate) fn strict_flags(&self) -> bool {
        use crate::generated::types::Strict;
        self.settings.config.strict.bits() & Strict::FLAGS.bits() != 0
    }

    /// Clear a synchronous read's buffer when nbd_set_pread_initialize is
    /// on; the dispatch layer calls this before any check can fail, so the
    /// caller never sees old bytes after an error.
    pub(crate) fn initialize_read_buffer(&self, buf: &mut [u8]) {
        if self.settings.config.pread_initialize {
            buf.fill(0);
        }
    }

    /// The same for an aio read's buffer, which the caller has just handed
    /// over (nothing else reads or writes it until the command retires).
    pub(crate) fn initialize_aio_read_buffer(&self, buf: &crate::AioBuffer) {
        // The library's own buffers reach no caller unless a read filled
        // them (the tokio API zeroes the caller's slice instead).
        if self.settings.config.pread_initialize && !buf.is_private() {
            // SAFETY: the buffer was handed to this call; no command holds
            // it yet, and the caller keeps off it while it is lent to us.
            unsafe { buf.as_mut_slice() }.fill(0);
        }
    }

    pub(crate) fn debug_enabled(&self) -> bool {
        self.settings.debug
    }

    /// Emit a debug message: to the debug callback if one is set, else to
    /// stderr as "libnbd: debug: NAME: CONTEXT: MSG".
    pub(crate) fn debug(&mut self, context: &str, msg: &str) {
        if !self.settings.debug {
            return;
        }
        if context != self.debug_context {
            self.debug_context.clear();
            self.debug_context.push_str(context);
        }
        match self.settings.debug_callback.as_mut() {
            Some(cb) => {
                let _ = cb(context, msg);
            }
            None => eprintln!(
                "libnbd: debug: {}: {}: {}",
                self.settings.handle_name, context, msg
            ),
        }
    }

    /// The connection, or ENOTCONN when none was started.
    pub(crate) fn conn(&self) -> Result<&Group> {
        self.conn.as_ref().ok_or_else(not_connected)
    }

    pub(crate) fn conn_mut(&mut self) -> Result<&mut Group> {
        self.conn.as_mut().ok_or_else(not_connected)
    }

    /// After a step that may have changed the state: forward the machine's
    /// debug messages and publish state and direction for lock-free readers.
    pub(crate) fn after_step(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            if conn.timed() {
                conn.handle_timeout(std::time::Instant::now());
            }
            conn.settle();
            let msgs = conn.take_debug();
            if self.settings.debug && !msgs.is_empty() {
                let context = if self.debug_context.is_empty() {
                    "nbd".to_string()
                } else {
                    self.debug_context.clone()
                };
                for m in msgs {
                    self.debug(&context, &m);
                }
            }
        }
        self.publish();
    }

    fn publish(&self) {
        self.shared
            .state
            .store(encode_state(self.public_state()), Ordering::Release);
        self.shared
            .direction
            .store(self.direction(), Ordering::Release);
        self.shared
            .processing
            .store(self.processing(), Ordering::Release);
    }
}

fn not_connected() -> Error {
    Error::new(libc::ENOTCONN, "the handle is not connected")
}

fn encode_state(s: PublicState) -> u8 {
    match s {
        PublicState::Created => 0,
        PublicState::Connecting => 1,
        PublicState::Negotiating => 2,
        PublicState::Connected => 3,
        PublicState::Closed => 4,
        PublicState::Dead => 5,
    }
}

fn decode_state(v: u8) -> PublicState {
    match v {
        0 => PublicState::Created,
        1 => PublicState::Connecting,
        2 => PublicState::Negotiating,
        3 => PublicState::Connected,
        4 => PublicState::Closed,
        _ => PublicState::Dead,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_count_up() {
        let a = Handle::new().unwrap();
        let b = Handle::new().unwrap();
        let na: usize = a.lock().unwrap().settings.handle_name[3..].parse().unwrap();
        let nb: usize = b.lock().unwrap().settings.handle_name[3..].parse().unwrap();
        assert!(nb > na);
        assert_eq!(a.lock().unwrap().public_state(), PublicState::Created);
        assert_eq!(a.state_unlocked(), PublicState::Created);
        assert_eq!(a.direction_unlocked(), 0);
    }

    #[test]
    fn state_codes_round_trip() {
        for s in [
            PublicState::Created,
            PublicState::Connecting,
            PublicState::Negotiating,
            PublicState::Connected,
            PublicState::Closed,
            PublicState::Dead,
        ] {
            assert_eq!(decode_state(encode_state(s)), s);
        }
    }
}

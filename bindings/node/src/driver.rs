//! The promise driver: asynchronous commands on the JavaScript thread.
//!
//! An `…Async` method starts the core's aio call with a completion callback
//! that only records the command's errno, and returns a promise. All of the
//! core's work then happens on the JavaScript thread, so JavaScript
//! callbacks run where they can be called directly and nothing ever waits
//! for the event loop:
//!
//! - while a handle has promises pending, one *watcher* thread per handle
//!   waits in poll(2) for the socket to become ready in the direction the
//!   engine wants, or until the handle's next deadline (a connect or
//!   request timeout), and then only wakes the JavaScript thread through
//!   a thread-safe function; it never touches the handle;
//! - on the JavaScript thread the *pump* lets the engine move bytes
//!   (`poll` with a zero timeout, until nothing is ready), settles the
//!   promises whose commands completed, and re-arms the watcher with the
//!   new direction.
//!
//! Many commands can be in flight at once: the watcher is armed once per
//! handle, not per command. The thread-safe function keeps the event loop
//! alive only while promises are pending, so an idle handle does not keep
//! a program from exiting, and a handle whose JavaScript object was
//! collected stays alive until its pending promises settle.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::callbacks::{Context, Raised};
use crate::error;
use crate::js::{self, RawValue};

/// The coarse states of a handle, as `permitted_states` in api.yaml names
/// them (the core's generated enum).
pub use nbd::PublicState as State;

/// When the promise of an asynchronous call settles.
pub enum Wait {
    /// When the core calls the command's completion callback.
    Completion,
    /// When the handle has left these states (and `connecting`): for calls
    /// without a completion callback, such as connecting.
    Leave(&'static [State]),
}

/// What the promise of a successful call resolves to.
pub enum Value {
    Undefined,
    /// A copy of the buffer the command read into, as a `Buffer`.
    Read(nbd::AioBuffer),
}

/// One asynchronous call between its start and its `submit`.
pub struct Op {
    call: &'static str,
    raised: Raised,
    busy: Arc<AtomicU32>,
    done: Arc<Mutex<Option<i32>>>,
}

impl Op {
    /// The context for the command's own callbacks: their exceptions
    /// reject this promise.
    pub fn cx(&self) -> Context {
        Context {
            raised: self.raised.clone(),
            busy: self.busy.clone(),
        }
    }

    /// The completion callback the binding passes to the core: it records
    /// the errno. The command is retired when its promise settles (with
    /// nbd_aio_command_completed, whose error keeps the cause).
    pub fn completion(&self) -> nbd::CompletionCallback {
        let done = self.done.clone();
        Box::new(move |err: &mut i32| {
            *done.lock().unwrap_or_else(|p| p.into_inner()) = Some(*err);
            0
        })
    }
}

enum Waiting {
    Completion(Arc<Mutex<Option<i32>>>),
    Leave(&'static [State]),
}

struct Pending {
    deferred: sys::napi_deferred,
    call: &'static str,
    /// The command's cookie (aio commands; None for options and connects).
    cookie: Option<u64>,
    raised: Raised,
    waiting: Waiting,
    value: Value,
}

/// An open handle as the JavaScript thread sees it.
pub struct Conn {
    pub handle: nbd::Handle,
    /// For callbacks of synchronous calls, raw aio calls and the debug
    /// callback: their exceptions fail the method that is running.
    pub cx: Context,
    key: u64,
    pending: RefCell<Vec<Pending>>,
    watcher: RefCell<Option<Watcher>>,
    /// The last error of the pump's own `poll`: the reason a connection
    /// died, for the promises waiting on it.
    last_error: RefCell<Option<nbd::Error>>,
    /// Bytes reported to V8 as held outside its heap for this handle
    /// (nbd_get_handle_size), so that it collects forgotten handles in
    /// time.
    external: std::cell::Cell<i64>,
}

/// Report a change of a handle's memory to V8 only when it moved by this
/// much, so that calls in a steady state cost nothing.
const EXTERNAL_MEMORY_STEP: i64 = 4096;

struct Entry {
    weak: Weak<Conn>,
    /// Held while promises are pending, so that they settle even if the
    /// JavaScript object of the handle is collected.
    strong: Option<Rc<Conn>>,
}

thread_local! {
    static CONNS: RefCell<HashMap<u64, Entry>> = RefCell::new(HashMap::new());
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

fn lookup(key: u64) -> Option<Rc<Conn>> {
    CONNS.with(|m| m.borrow().get(&key).and_then(|e| e.weak.upgrade()))
}

/// Hold or release the strong reference of a handle; the released one is
/// dropped outside the map's borrow, since dropping a `Conn` unregisters it.
fn hold(key: u64, conn: Option<Rc<Conn>>) {
    let old = CONNS.with(|m| {
        let mut m = m.borrow_mut();
        match m.get_mut(&key) {
            Some(e) => std::mem::replace(&mut e.strong, conn),
            None => None,
        }
    });
    drop(old);
}

impl Conn {
    pub fn new(handle: nbd::Handle) -> Rc<Conn> {
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        let conn = Rc::new(Conn {
            handle,
            cx: Context {
                raised: Raised::default(),
                busy: Arc::new(AtomicU32::new(0)),
            },
            key,
            pending: RefCell::new(Vec::new()),
            watcher: RefCell::new(None),
            last_error: RefCell::new(None),
            external: std::cell::Cell::new(0),
        });
        CONNS.with(|m| {
            m.borrow_mut().insert(
                key,
                Entry {
                    weak: Rc::downgrade(&conn),
                    strong: None,
                },
            )
        });
        conn
    }

    /// Whether a JavaScript callback of this handle is running (its lock is
    /// held).
    pub fn busy(&self) -> bool {
        self.cx.busy.load(Ordering::SeqCst) != 0
    }

    /// The result of a synchronous call: the core's error, or the error of
    /// a callback that threw (as the `cause`), thrown as an `NbdError`.
    /// Tell V8 how much memory the handle holds now (when it changed
    /// noticeably and the handle is not busy in another call). Called at
    /// creation and by the generated connecting methods.
    pub fn account_memory(&self, env: &Env) {
        if let Some(now) = self.handle.try_handle_size() {
            let now = now as i64;
            let delta = now - self.external.get();
            if delta.abs() >= EXTERNAL_MEMORY_STEP && env.adjust_external_memory(delta).is_ok() {
                self.external.set(now);
            }
        }
    }

    /// The handle is going away: V8 no longer carries its memory.
    pub fn release_memory(&self, env: &Env) {
        let held = self.external.replace(0);
        if held != 0 {
            let _ = env.adjust_external_memory(-held);
        }
    }

    pub fn finish<T>(self: &Rc<Self>, env: &Env, ret: nbd::Result<T>) -> Result<T> {
        // Not inside a callback of this handle (an unlocked method called
        // from one): re-arming takes the lock the callback runs under.
        if !self.busy() && !self.pending.borrow().is_empty() {
            // The call may have completed commands or changed what the
            // engine waits for.
            self.settle(env.raw());
            self.rearm(env.raw());
        }
        let threw = || nbd::Error::new(libc::EPROTO, "a callback threw an exception");
        self.cx
            .raised
            .settle(ret, threw)
            .map_err(|(e, exc)| error::throwable(env.raw(), &e, exc))
    }

    /// Start an asynchronous call: the context of its callbacks and its
    /// completion. Its promise is made by `submit`, so that nothing is
    /// left pending when an argument turns out to be wrong in between.
    pub fn start(&self, call: &'static str) -> Op {
        Op {
            call,
            raised: Raised::default(),
            busy: self.cx.busy.clone(),
            done: Arc::new(Mutex::new(None)),
        }
    }

    /// Hand over an asynchronous call the core accepted (or reject its
    /// promise at once when it refused it) and return the promise.
    pub fn submit(
        self: &Rc<Self>,
        env: &Env,
        op: Op,
        ret: nbd::Result<Option<u64>>,
        wait: Wait,
        value: Value,
    ) -> Result<RawValue> {
        let env = env.raw();
        let mut deferred = ptr::null_mut();
        let mut promise = ptr::null_mut();
        js::check(env, unsafe {
            sys::napi_create_promise(env, &mut deferred, &mut promise)
        })?;
        let cookie = match ret {
            Ok(c) => c,
            Err(e) => {
                let exc = op.raised.take();
                reject(env, deferred, &e, exc);
                return Ok(RawValue(promise));
            }
        };
        let waiting = match wait {
            Wait::Completion => Waiting::Completion(op.done.clone()),
            Wait::Leave(states) => Waiting::Leave(states),
        };
        let first = self.pending.borrow().is_empty();
        self.pending.borrow_mut().push(Pending {
            deferred,
            call: op.call,
            cookie,
            raised: op.raised,
            waiting,
            value,
        });
        if first {
            hold(self.key, Some(self.clone()));
        }
        self.pump(env);
        Ok(RawValue(promise))
    }

    /// Let the engine move whatever bytes it can without waiting, settle
    /// what completed, and wait again.
    fn pump(self: &Rc<Self>, env: sys::napi_env) {
        // Bounded so that a server streaming replies cannot starve the
        // event loop; the watcher fires again at once if more is ready.
        for _ in 0..1024 {
            if self.pending.borrow().is_empty() {
                break;
            }
            if self.handle.aio_get_direction() & AIO_DIRECTION_BOTH == 0 {
                break;
            }
            match self.handle.poll(0) {
                Ok(0) => break,
                Ok(_) => self.settle(env),
                Err(e) => {
                    *self.last_error.borrow_mut() = Some(e.clone());
                    self.settle(env);
                    if !self.handle.aio_is_dead() {
                        // Not a connection failure: do not spin on it.
                        self.reject_all(env, &e);
                    }
                    break;
                }
            }
        }
        self.settle(env);
        self.rearm(env);
    }

    /// Resolve or reject every promise whose call has finished.
    fn settle(&self, env: sys::napi_env) {
        let now = self.handle.public_state();
        let finished: Vec<(Pending, Option<nbd::Error>)> = {
            let mut pending = self.pending.borrow_mut();
            let mut out = Vec::new();
            let mut i = 0;
            while i < pending.len() {
                let outcome = match &pending[i].waiting {
                    Waiting::Completion(done) => {
                        let done = *done.lock().unwrap_or_else(|p| p.into_inner());
                        done.map(|err| {
                            // Retire the command: its error names the cause
                            // (a short read, the connection dying, ...).
                            let retired = pending[i]
                                .cookie
                                .map(|c| self.handle.aio_command_completed(c));
                            match retired {
                                Some(Err(e)) => Some(
                                    nbd::Error::new(e.errno(), e.message())
                                        .with_context(pending[i].call),
                                ),
                                _ => (err != 0).then(|| command_failed(pending[i].call, err)),
                            }
                        })
                    }
                    Waiting::Leave(states) => {
                        if states.contains(&now) || now == State::Connecting {
                            None
                        } else if now == State::Dead {
                            let e = self.last_error.borrow().clone().unwrap_or_else(|| {
                                nbd::Error::new(libc::ENOTCONN, "the connection failed")
                                    .with_context(pending[i].call)
                            });
                            Some(Some(e))
                        } else {
                            Some(None)
                        }
                    }
                };
                match outcome {
                    Some(err) => out.push((pending.remove(i), err)),
                    None => i += 1,
                }
            }
            out
        };
        for (p, err) in finished {
            match p
                .raised
                .settle(err.map_or(Ok(()), Err), || error::callback_threw(p.call))
            {
                Ok(()) => resolve(env, p.deferred, &p.value),
                Err((e, exc)) => reject(env, p.deferred, &e, exc),
            }
        }
    }

    fn reject_all(&self, env: sys::napi_env, e: &nbd::Error) {
        let all: Vec<Pending> = self.pending.borrow_mut().drain(..).collect();
        for p in all {
            let exc = p.raised.take();
            reject(env, p.deferred, e, exc);
        }
    }

    /// Arm the watcher for what the engine waits for, or let it sleep when
    /// no promise is pending.
    fn rearm(self: &Rc<Self>, env: sys::napi_env) {
        if self.pending.borrow().is_empty() {
            if let Some(w) = self.watcher.borrow_mut().as_mut() {
                w.disarm();
                w.keep_alive(env, false);
            }
            hold(self.key, None);
            return;
        }
        let dir = self.handle.aio_get_direction() & AIO_DIRECTION_BOTH;
        let fd = self.handle.aio_get_fd();
        let fd = match (dir, fd) {
            (0, _) => Err(nbd::Error::new(
                libc::EINVAL,
                format!(
                    "the handle waits for nothing in its state ({:?})",
                    self.handle.public_state()
                ),
            )),
            (_, fd) => fd,
        };
        let fd = match fd {
            Ok(fd) => fd,
            Err(e) => {
                // Nothing would ever wake the pending promises.
                self.reject_all(env, &e);
                self.rearm(env);
                return;
            }
        };
        let mut events = 0;
        if dir & AIO_DIRECTION_READ != 0 {
            events |= libc::POLLIN;
        }
        if dir & AIO_DIRECTION_WRITE != 0 {
            events |= libc::POLLOUT;
        }
        let mut slot = self.watcher.borrow_mut();
        if slot.is_none() {
            match Watcher::start(env, self.key) {
                Ok(w) => *slot = Some(w),
                Err(e) => {
                    drop(slot);
                    let e =
                        nbd::Error::new(libc::EIO, format!("cannot start the event watcher: {e}"));
                    self.reject_all(env, &e);
                    hold(self.key, None);
                    return;
                }
            }
        }
        // Wake up for the next deadline too: the pump's poll then fails
        // what overran.
        let deadline = u64::try_from(self.handle.aio_get_timeout_ms())
            .ok()
            .map(|ms| std::time::Instant::now() + std::time::Duration::from_millis(ms));
        let w = slot.as_mut().expect("started above");
        w.arm(fd, events, deadline);
        w.keep_alive(env, true);
    }

    /// Reject every pending promise of a handle being closed.
    pub fn close(&self, env: &Env) {
        let e = nbd::Error::new(
            libc::ESHUTDOWN,
            "the handle was closed while the command was in flight",
        );
        self.reject_all(env.raw(), &e);
        if let Some(w) = self.watcher.borrow_mut().as_mut() {
            w.keep_alive(env.raw(), false);
        }
        hold(self.key, None);
    }

    /// After the pump ran from the event loop, with no method to throw
    /// from: an exception of the debug callback or of a raw aio callback
    /// becomes an uncaught exception, as one thrown in a timer would.
    fn report_stray(&self, env: sys::napi_env) {
        if let Some(exc) = self.cx.raised.take() {
            if let Ok(v) = unsafe { ToNapiValue::to_napi_value(env, exc) } {
                unsafe { sys::napi_fatal_exception(env, v) };
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Stop the watcher before the core closes the socket it polls.
        if let Some(w) = self.watcher.get_mut().take() {
            w.stop();
        }
        let key = self.key;
        let _ = CONNS.try_with(|m| m.borrow_mut().remove(&key));
    }
}

const AIO_DIRECTION_READ: u32 = nbd::AIO_DIRECTION_READ;
const AIO_DIRECTION_WRITE: u32 = nbd::AIO_DIRECTION_WRITE;
const AIO_DIRECTION_BOTH: u32 = AIO_DIRECTION_READ | AIO_DIRECTION_WRITE;

/// The errno of a failed command as an error naming the call.
fn command_failed(call: &'static str, err: i32) -> nbd::Error {
    let text = std::io::Error::from_raw_os_error(err).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    nbd::Error::new(err, format!("the command failed: {text}")).with_context(call)
}

fn resolve(env: sys::napi_env, deferred: sys::napi_deferred, value: &Value) {
    let v = match value {
        Value::Undefined => js::undefined(env),
        // SAFETY: the command has completed, so the core no longer writes
        // the buffer.
        Value::Read(buf) => js::buffer(env, unsafe { buf.as_slice() }),
    };
    match v {
        Ok(v) => unsafe {
            sys::napi_resolve_deferred(env, deferred, v);
        },
        Err(e) => reject_napi(env, deferred, e),
    }
}

fn reject(env: sys::napi_env, deferred: sys::napi_deferred, e: &nbd::Error, cause: Option<Error>) {
    match error::to_js(env, e, cause) {
        Ok(v) => unsafe {
            sys::napi_reject_deferred(env, deferred, v);
        },
        Err(err) => reject_napi(env, deferred, err),
    }
}

fn reject_napi(env: sys::napi_env, deferred: sys::napi_deferred, err: Error) {
    if let Ok(v) = unsafe { ToNapiValue::to_napi_value(env, err) } {
        unsafe { sys::napi_reject_deferred(env, deferred, v) };
    }
}

/// The thread-safe function, once Node has finalized it, is gone: the
/// watcher checks under this lock before calling it.
struct TsfnSlot(Mutex<Option<usize>>);

struct Ctl {
    /// The descriptor and poll events to wait for, and until when at
    /// most (the handle's next deadline), or None.
    armed: Option<(RawFd, libc::c_short, Option<std::time::Instant>)>,
    quit: bool,
}

struct Shared {
    ctl: Mutex<Ctl>,
    tsfn: TsfnSlot,
}

/// The watcher thread of one handle.
struct Watcher {
    shared: Arc<Shared>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
    tsfn: sys::napi_threadsafe_function,
    alive: bool,
}

impl Watcher {
    fn start(env: sys::napi_env, key: u64) -> std::result::Result<Watcher, String> {
        let mut fds = [0; 2];
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: pipe2 just returned these two descriptors.
        let (wake_r, wake_w) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let shared = Arc::new(Shared {
            ctl: Mutex::new(Ctl {
                armed: None,
                quit: false,
            }),
            tsfn: TsfnSlot(Mutex::new(None)),
        });
        let name = js::string(env, "nbd watcher").map_err(|e| e.to_string())?;
        let mut tsfn = ptr::null_mut();
        let finalize_data = Arc::into_raw(shared.clone()) as *mut c_void;
        let status = unsafe {
            sys::napi_create_threadsafe_function(
                env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                finalize_data,
                Some(tsfn_finalize),
                ptr::null_mut(),
                Some(on_ready),
                &mut tsfn,
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: not handed to Node, so still ours.
            drop(unsafe { Arc::from_raw(finalize_data as *const Shared) });
            return Err(format!("napi_create_threadsafe_function failed ({status})"));
        }
        *shared.tsfn.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(tsfn as usize);
        // Idle until armed: an idle handle must not keep the program alive.
        unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("nbd-watcher".into())
            .spawn(move || watch(thread_shared, wake_r, key))
            .map_err(|e| {
                unsafe {
                    sys::napi_release_threadsafe_function(
                        tsfn,
                        sys::ThreadsafeFunctionReleaseMode::abort,
                    )
                };
                format!("cannot start a thread: {e}")
            })?;
        Ok(Watcher {
            shared,
            wake: wake_w,
            thread: Some(thread),
            tsfn,
            alive: false,
        })
    }

    fn wake(&self) {
        let b = [1u8];
        // A full pipe already holds a wake-up.
        unsafe { libc::write(self.wake.as_raw_fd(), b.as_ptr().cast(), 1) };
    }

    fn arm(&mut self, fd: RawFd, events: libc::c_short, deadline: Option<std::time::Instant>) {
        let mut ctl = self.shared.ctl.lock().unwrap_or_else(|p| p.into_inner());
        if ctl.armed != Some((fd, events, deadline)) {
            ctl.armed = Some((fd, events, deadline));
            drop(ctl);
            self.wake();
        }
    }

    fn disarm(&mut self) {
        let mut ctl = self.shared.ctl.lock().unwrap_or_else(|p| p.into_inner());
        if ctl.armed.is_some() {
            ctl.armed = None;
            drop(ctl);
            self.wake();
        }
    }

    /// Keep the event loop running while promises wait on this handle.
    fn keep_alive(&mut self, env: sys::napi_env, on: bool) {
        if on != self.alive {
            self.alive = on;
            unsafe {
                if on {
                    sys::napi_ref_threadsafe_function(env, self.tsfn);
                } else {
                    sys::napi_unref_threadsafe_function(env, self.tsfn);
                }
            }
        }
    }

    /// End the thread and give the thread-safe function back to Node.
    fn stop(mut self) {
        self.shared
            .ctl
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .quit = true;
        self.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let slot = self.shared.tsfn.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            unsafe {
                sys::napi_release_threadsafe_function(
                    self.tsfn,
                    sys::ThreadsafeFunctionReleaseMode::abort,
                )
            };
        }
    }
}

/// The watcher thread: wait until the armed descriptor is ready or its
/// deadline passed, disarm, and wake the JavaScript thread; a byte on the
/// wake pipe means the arming changed.
fn watch(shared: Arc<Shared>, wake: OwnedFd, key: u64) {
    loop {
        let armed = {
            let ctl = shared.ctl.lock().unwrap_or_else(|p| p.into_inner());
            if ctl.quit {
                return;
            }
            ctl.armed
        };
        let (fd, events, deadline) = armed.unwrap_or((-1, 0, None));
        let timeout = deadline.map_or(-1, |at| {
            let ns = at
                .saturating_duration_since(std::time::Instant::now())
                .as_nanos();
            i32::try_from(ns.div_ceil(1_000_000)).unwrap_or(i32::MAX)
        });
        let mut fds = [
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
        ];
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        // Any other failure to wait wakes the JavaScript thread below,
        // whose own poll reports what is wrong.
        if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if fds[0].revents != 0 {
            let mut buf = [0u8; 64];
            while unsafe { libc::read(wake.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
            continue;
        }
        if armed.is_none() {
            continue;
        }
        {
            let mut ctl = shared.ctl.lock().unwrap_or_else(|p| p.into_inner());
            if ctl.armed != armed {
                continue;
            }
            ctl.armed = None;
        }
        let slot = shared.tsfn.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tsfn) = *slot {
            unsafe {
                sys::napi_call_threadsafe_function(
                    tsfn as sys::napi_threadsafe_function,
                    js::as_data(key),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }
}

/// On the JavaScript thread, when a watcher saw its socket ready.
unsafe extern "C" fn on_ready(
    env: sys::napi_env,
    _js_cb: sys::napi_value,
    _context: *mut c_void,
    data: *mut c_void,
) {
    if env.is_null() {
        return; // the environment is shutting down
    }
    let key = data as usize as u64;
    if let Some(conn) = lookup(key) {
        if !conn.busy() {
            conn.pump(env);
            conn.report_stray(env);
        }
    }
}

unsafe extern "C" fn tsfn_finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the Arc given to napi_create_threadsafe_function.
    let shared = unsafe { Arc::from_raw(data as *const Shared) };
    *shared.tsfn.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

//! The OCaml runtime lock, and the frame of every stub.
//!
//! Each stub releases the runtime while the core works, so other OCaml
//! threads run while one waits for the server. The core calls callbacks
//! on the same thread, inside that call: a callback takes the runtime
//! back for as long as the OCaml closure runs. A thread-local state says
//! whether this thread holds the runtime, has released it, or is inside a
//! GC finalizer, where no OCaml code may run at all.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ocaml_interop::{alloc_error, alloc_ok, OCaml, OCamlException, OCamlRuntime, ToOCaml};

use crate::error::Failure;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Running OCaml code or a stub with the runtime held.
    Holding,
    /// Inside `blocking`: the runtime is released.
    Released,
    /// Inside a custom block's finalizer: the runtime is held but OCaml
    /// code must not run.
    Finalizing,
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State::Holding) };
}

/// Puts the previous state back, and the runtime with it, on every exit
/// including unwinding.
struct Restore {
    prev: State,
    reacquire: bool,
    release: bool,
}

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: pairs with the release/acquire done when `self` was made.
        unsafe {
            if self.reacquire {
                ocaml_sys::caml_leave_blocking_section();
            }
            if self.release {
                ocaml_sys::caml_enter_blocking_section();
            }
        }
        STATE.with(|s| s.set(self.prev));
    }
}

/// Run `f` with the runtime released. `f` must not touch OCaml values.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    let prev = STATE.with(|s| s.replace(State::Released));
    if prev != State::Holding {
        // Already released (a nested call from a callback cannot get
        // here, it holds the runtime) or finalizing: nothing to release.
        let _restore = Restore {
            prev,
            reacquire: false,
            release: false,
        };
        return f();
    }
    // SAFETY: this thread holds the runtime (state Holding).
    unsafe { ocaml_sys::caml_enter_blocking_section() };
    let _restore = Restore {
        prev,
        reacquire: true,
        release: false,
    };
    f()
}

/// Run `f` holding the runtime, taking it back if this thread released it.
pub(crate) fn holding<T>(f: impl FnOnce() -> T) -> T {
    let prev = STATE.with(|s| s.get());
    if prev != State::Released {
        return f();
    }
    // SAFETY: this thread released the runtime in `blocking`.
    unsafe { ocaml_sys::caml_leave_blocking_section() };
    STATE.with(|s| s.set(State::Holding));
    let _restore = Restore {
        prev,
        reacquire: false,
        release: true,
    };
    f()
}

/// Run OCaml code from a callback: None inside a finalizer, where the
/// callback is skipped.
pub(crate) fn calling_ocaml<T>(f: impl FnOnce(&mut OCamlRuntime) -> T) -> Option<T> {
    if STATE.with(|s| s.get()) == State::Finalizing {
        return None;
    }
    // SAFETY: `holding` gives this thread the runtime.
    Some(holding(|| f(unsafe { OCamlRuntime::recover_handle() })))
}

/// Run `f`, a finalizer's work: callbacks it triggers are skipped.
pub(crate) fn finalizing<T>(f: impl FnOnce() -> T) -> T {
    let prev = STATE.with(|s| s.replace(State::Finalizing));
    let _restore = Restore {
        prev,
        reacquire: false,
        release: false,
    };
    f()
}

/// The frame of a stub: run the body, and return `Ok value` or
/// `Error exn`, where a panic becomes `NBD.Error` too.
pub(crate) fn stub<'a, T: 'static, R: ToOCaml<T>>(
    cr: &'a mut OCamlRuntime,
    body: impl FnOnce(&mut OCamlRuntime) -> Result<R, Failure>,
) -> OCaml<'a, Result<T, OCamlException>> {
    let outcome = catch_unwind(AssertUnwindSafe(|| body(cr)));
    let outcome = match outcome {
        Ok(o) => o,
        Err(panic) => Err(Failure::from_panic(panic)),
    };
    match outcome {
        Ok(value) => {
            let value = value.to_boxroot(cr);
            alloc_ok(cr, &value)
        }
        Err(failure) => {
            let exn = failure.to_exn(cr);
            alloc_error(cr, &exn)
        }
    }
}

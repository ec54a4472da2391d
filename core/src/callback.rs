//! The policy every language binding follows when the core calls one of
//! its user's functions as a callback, so that Python, OCaml and Node
//! (and any later binding) agree on what a callback's result means:
//!
//! - A function that returns an integer returns that value (saturated to
//!   the C `int` range); one that returns anything else returns 0.
//! - The `int *error` of chunk, extent and completion callbacks is handed
//!   to the function in a holder it may set; the value it leaves there is
//!   the callback's `*error`.
//! - A function that raises (throws) never unwinds into the core: the
//!   callback returns -1, which fails the command, with `*error` set to
//!   what the function left in the holder, or `EPROTO` when it left 0.
//! - The first exception raised for one call or command wins ([`FirstRaised`]):
//!   it becomes the cause of the error the call raises, or is printed when
//!   nobody waits for it. A call that succeeds although one of its
//!   callbacks raised fails anyway ([`FirstRaised::settle`]).
//!
//! The handle's side of the policy, a callback calling a locked method
//! of its own handle, is in the handle: that call fails with `EDEADLK`.

use std::sync::{Arc, Mutex};

use crate::Error;

/// What the user's function did when called as a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It returned: the value as an integer, or None for a value that is
    /// not one (which counts as 0).
    Returned(Option<i64>),
    /// It raised an exception (or the binding could not call it, or could
    /// not read what it left in the error holder).
    Raised,
}

/// The callback's return value for the core, setting `*error` (`slot`,
/// absent for callbacks without one) from `left`, the value the function
/// left in its error holder (None when it could not be read).
pub fn result(outcome: Outcome, slot: Option<&mut i32>, left: Option<i32>) -> i32 {
    match outcome {
        Outcome::Returned(value) => {
            if let (Some(e), Some(v)) = (slot, left) {
                *e = v;
            }
            value.map_or(0, |v| v.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
        }
        Outcome::Raised => {
            if let Some(e) = slot {
                *e = left.filter(|&v| v != 0).unwrap_or(libc::EPROTO);
            }
            -1
        }
    }
}

/// Where the callbacks of one call (or one asynchronous command) leave
/// the first exception they raised; later ones are handed back to be
/// printed. `E` is the binding's exception type.
pub struct FirstRaised<E>(Arc<Mutex<Option<E>>>);

impl<E> Clone for FirstRaised<E> {
    fn clone(&self) -> Self {
        FirstRaised(self.0.clone())
    }
}

impl<E> Default for FirstRaised<E> {
    fn default() -> Self {
        FirstRaised(Arc::new(Mutex::new(None)))
    }
}

/// A call whose callbacks have all run, failed: the core's error, or
/// `EPROTO` when only a callback failed, and the exception that should be
/// its cause.
#[derive(Debug)]
pub struct Failed<E> {
    /// The error to raise.
    pub error: Error,
    /// The first exception a callback raised, if any.
    pub raised: Option<E>,
    /// The call itself succeeded: only the callback failed it (`error` is
    /// then a generic EPROTO for the binding to describe the exception in).
    pub only_callback: bool,
}

impl<E> FirstRaised<E> {
    /// Keep `exc` unless an earlier exception is kept; give it back then,
    /// for the caller to print.
    pub fn keep(&self, exc: E) -> Option<E> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return Some(exc);
        }
        *slot = Some(exc);
        None
    }

    /// The kept exception, leaving none.
    pub fn take(&self) -> Option<E> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The outcome of a call whose callbacks have all run: its value, or
    /// the error to raise with the kept exception as its cause. A call
    /// that succeeded although a callback raised fails with `EPROTO`.
    pub fn settle<T>(&self, ret: crate::Result<T>) -> Result<T, Failed<E>> {
        match (ret, self.take()) {
            (Ok(v), None) => Ok(v),
            (Err(error), raised) => Err(Failed {
                error,
                raised,
                only_callback: false,
            }),
            (Ok(_), Some(exc)) => Err(Failed {
                error: Error::new(libc::EPROTO, "a callback raised an exception"),
                raised: Some(exc),
                only_callback: true,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_values_saturate_and_non_integers_are_zero() {
        assert_eq!(result(Outcome::Returned(Some(1)), None, None), 1);
        assert_eq!(
            result(Outcome::Returned(Some(1 << 40)), None, None),
            i32::MAX
        );
        assert_eq!(
            result(Outcome::Returned(Some(-(1 << 40))), None, None),
            i32::MIN
        );
        assert_eq!(result(Outcome::Returned(None), None, None), 0);
    }

    #[test]
    fn the_error_left_in_the_holder_is_the_callbacks() {
        let mut e = 0;
        assert_eq!(
            result(Outcome::Returned(Some(-1)), Some(&mut e), Some(libc::EIO)),
            -1
        );
        assert_eq!(e, libc::EIO);
        let mut e = libc::EINVAL;
        result(Outcome::Returned(Some(0)), Some(&mut e), None);
        assert_eq!(e, libc::EINVAL, "an unreadable holder leaves *error alone");
    }

    #[test]
    fn raising_fails_with_eproto_unless_an_errno_was_left() {
        let mut e = 0;
        assert_eq!(result(Outcome::Raised, Some(&mut e), Some(0)), -1);
        assert_eq!(e, libc::EPROTO);
        let mut e = 0;
        assert_eq!(
            result(Outcome::Raised, Some(&mut e), Some(libc::ENOSPC)),
            -1
        );
        assert_eq!(e, libc::ENOSPC);
        assert_eq!(result(Outcome::Raised, None, None), -1);
    }

    #[test]
    fn the_first_exception_wins() {
        let r = FirstRaised::default();
        assert_eq!(r.keep("first"), None);
        assert_eq!(r.keep("second"), Some("second"));
        let failed = r.clone().settle(Ok(())).unwrap_err();
        assert_eq!(failed.error.errno(), libc::EPROTO);
        assert_eq!(failed.raised, Some("first"));
        assert!(failed.only_callback);
        assert!(r.settle(Ok(7)).is_ok(), "settling takes the exception");
    }

    #[test]
    fn a_failed_call_keeps_its_own_error() {
        let r = FirstRaised::default();
        r.keep(1);
        let failed = r
            .settle::<()>(Err(Error::new(libc::EIO, "read failed")))
            .unwrap_err();
        assert_eq!(failed.error.errno(), libc::EIO);
        assert_eq!(failed.raised, Some(1));
        assert!(!failed.only_callback);
    }
}

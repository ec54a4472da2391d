//! The boundary guard around every export: errors become the C error
//! value plus this thread's `nbd_get_error`, and a panic never unwinds
//! into C (that would be undefined behaviour).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use nbd::{last_error, Error};

/// Run `f`; on error or panic record the error for `nbd_get_error`,
/// attributed to `call`, and return `on_error`.
pub fn guard<T>(call: &'static str, on_error: T, f: impl FnOnce() -> Result<T, Error>) -> T {
    // AssertUnwindSafe: after a panic the only state the caller can see is
    // the handle, whose lock recovers from poisoning by design.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            last_error::set(&e.with_context(call));
            on_error
        }
        Err(panic) => {
            let msg = format!("{call}: internal error: {}", panic_text(&*panic));
            last_error::set_raw(libc::EIO, &msg);
            on_error
        }
    }
}

fn panic_text(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "panic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_return() {
        let r = guard("nbd_test", -1, || -> Result<i32, Error> { panic!("boom") });
        assert_eq!(r, -1);
        assert_eq!(last_error::errno(), libc::EIO);
        assert_eq!(
            last_error::message().as_deref(),
            Some("nbd_test: internal error: boom")
        );
    }

    #[test]
    fn an_error_is_attributed_to_the_call() {
        let r = guard("nbd_test", -1, || -> Result<i32, Error> {
            Err(Error::new(libc::EINVAL, "bad"))
        });
        assert_eq!(r, -1);
        assert_eq!(last_error::message().as_deref(), Some("nbd_test: bad"));
        assert_eq!(guard("nbd_test", -1, || Ok(7)), 7);
    }
}

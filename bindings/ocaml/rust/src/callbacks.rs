//! Calling OCaml closures from the core's callbacks.
//!
//! A closure is held in a boxroot, so it stays alive (and is updated when
//! the GC moves it) for as long as the core may call it; the core drops
//! the callback when it no longer can, and the root goes with it. A call
//! takes the runtime back if the stub released it, builds the arguments,
//! and calls the closure with `caml_callbackN_exn`, so an exception
//! never unwinds into Rust. The result maps by the core's policy
//! (`nbd::callback`, shared with the other bindings): the closure's int
//! is the callback's return value; an exception returns -1 with `*error`
//! set (EPROTO unless the closure set another), which fails the command.
//! For calls whose callbacks run before they return (`block_status`,
//! `opt_list`, ...) the first exception's text goes into the call's
//! `NBD.Error`; otherwise (aio commands, the debug callback, later
//! exceptions) it is printed on stderr, as libnbd does. A closure that
//! calls a locked function of its own handle gets `NBD.Error` with
//! EDEADLK from the core.

use nbd::callback::{self, FirstRaised, Outcome};
use ocaml_interop::{BoxRoot, OCaml, OCamlException, OCamlInt, OCamlRuntime};

use crate::error::Failure;
use crate::runtime;

/// The marker type of an OCaml `int ref`.
pub(crate) struct IntRef;

/// Where the callbacks of one synchronous call leave the first exception
/// they raised (as the callback's name and the exception's text).
#[derive(Default, Clone)]
pub(crate) struct Raised(FirstRaised<(&'static str, String)>);

impl Raised {
    /// The result of a call whose callbacks have all run: the core's
    /// error naming the callback's exception, if one was raised. A call
    /// that succeeded even though a callback raised fails anyway.
    pub(crate) fn check<T>(&self, ret: nbd::Result<T>) -> Result<T, Failure> {
        let failed = match self.0.settle(ret) {
            Ok(v) => return Ok(v),
            Err(failed) => failed,
        };
        let e = failed.error;
        let Some((cb, text)) = failed.raised else {
            return Err(Failure::Nbd(e));
        };
        if failed.only_callback {
            return Err(Failure::Nbd(nbd::Error::new(
                e.errno(),
                format!("{cb} callback raised {text}"),
            )));
        }
        let mut err = nbd::Error::new(
            e.errno(),
            format!("{} ({cb} callback raised {text})", e.message()),
        );
        if let Some(c) = e.context() {
            err = err.with_context(c);
        }
        Err(Failure::Nbd(err))
    }
}

/// A boxroot that may be dropped on a thread that released the runtime.
struct Root<F: 'static>(Option<BoxRoot<F>>);

// SAFETY: the root is only used, and deleted, with the runtime held
// (`invoke` and `drop` take it back first), and OCaml 4's runtime lock
// makes any thread holding it a valid user of roots.
unsafe impl<F> Send for Root<F> {}

impl<F> Drop for Root<F> {
    fn drop(&mut self) {
        let root = self.0.take();
        runtime::holding(move || drop(root));
    }
}

/// An OCaml closure used as a callback of the core.
pub(crate) struct Closure<F: 'static> {
    root: Root<F>,
    name: &'static str,
    raised: Option<Raised>,
}

impl<F: 'static> Closure<F> {
    pub(crate) fn new(f: OCaml<'_, F>, name: &'static str, raised: Option<&Raised>) -> Closure<F> {
        Closure {
            root: Root(Some(BoxRoot::new(f))),
            name,
            raised: raised.cloned(),
        }
    }

    /// Call the closure through `call`, which gets the runtime, the
    /// closure, and the `int ref` holding `*error` (0 for callbacks
    /// without one), and returns the closure's result.
    pub(crate) fn invoke<C>(&self, error: Option<&mut i32>, call: C) -> i32
    where
        C: for<'c> FnOnce(
            &'c mut OCamlRuntime,
            &BoxRoot<F>,
            &BoxRoot<IntRef>,
        ) -> Result<OCaml<'c, OCamlInt>, OCaml<'c, OCamlException>>,
    {
        let Some(root) = self.root.0.as_ref() else {
            return 0;
        };
        let outcome = runtime::calling_ocaml(|cr| {
            let err_ref = int_ref(cr, error.as_deref().copied().unwrap_or(0));
            let result = match call(cr, root, &err_ref) {
                Ok(v) => Ok(v.to_rust::<i64>()),
                Err(exn) => Err(BoxRoot::new(exn)),
            };
            let result = result.map_err(|exn| exn_to_string(cr, &exn));
            (result, read_int_ref(&err_ref))
        });
        // Inside a finalizer: the handle is going away, skip the callback.
        let Some((result, left)) = outcome else {
            return 0;
        };
        let outcome = match result {
            Ok(ret) => Outcome::Returned(Some(ret)),
            Err(text) => {
                self.report(text);
                Outcome::Raised
            }
        };
        callback::result(outcome, error, Some(left))
    }

    /// Hand an exception to the call waiting for it, or print it.
    fn report(&self, text: String) {
        let unkept = match &self.raised {
            Some(r) => r.0.keep((self.name, text)).map(|(_, text)| text),
            None => Some(text),
        };
        if let Some(text) = unkept {
            eprintln!(
                "libnbd: {} callback: uncaught OCaml exception: {text}",
                self.name
            );
        }
    }
}

/// `ref v`.
fn int_ref(cr: &mut OCamlRuntime, v: i32) -> BoxRoot<IntRef> {
    // SAFETY: a ref is a one-field block with tag 0; the field is an
    // immediate int.
    unsafe {
        let b = ocaml_sys::caml_alloc(1, 0);
        ocaml_sys::store_field(b, 0, ocaml_sys::val_int(v as isize));
        BoxRoot::new(OCaml::new(cr, b))
    }
}

fn read_int_ref(r: &BoxRoot<IntRef>) -> i32 {
    // SAFETY: the root holds a ref block whose field the closure may have
    // set to another int.
    unsafe { ocaml_sys::int_val(*ocaml_sys::field(r.get_raw(), 0)) as i32 }
}

/// `Printexc.to_string exn`, through the closure NBD.ml registers.
fn exn_to_string(cr: &mut OCamlRuntime, exn: &BoxRoot<OCamlException>) -> String {
    // SAFETY: the named value, if registered, is a closure; the argument
    // is rooted; the result is checked for an exception before use.
    unsafe {
        let f = ocaml_sys::caml_named_value(c"NBD.exn_to_string".as_ptr());
        if f.is_null() {
            return "an exception".into();
        }
        let r = ocaml_sys::caml_callback_exn(*f, exn.get_raw());
        if ocaml_sys::is_exception_result(r) {
            return "an exception".into();
        }
        let s: OCaml<String> = OCaml::new(cr, r);
        String::from_utf8_lossy(s.as_bytes()).into_owned()
    }
}

//! The native part of the `nbd` OCaml library (module `NBD`), linked by
//! dune as `libnbd_stubs.a` into native programs and loaded as
//! `dllnbd_stubs.so` by bytecode ones.
//!
//! One stub per call is generated from api.yaml into `generated.rs`; this
//! crate's other files hold the hand-written plumbing: the handle custom
//! block and `close` (`handle.rs`), `NBD.Buffer` (`buffer.rs`), the
//! exceptions (`error.rs`), argument conversions (`conv.rs`), calling
//! OCaml closures (`callbacks.rs`) and the runtime lock (`runtime.rs`).
//!
//! ocaml-interop 0.10 is the last release for OCaml 4 (Debian's 4.13).

mod buffer;
mod callbacks;
mod conv;
mod error;
mod generated;
mod handle;
mod runtime;

use ocaml_interop::{ocaml_export, OCaml, OCamlInt, OCamlRef};

// NBD.errno_of_unix_error.
ocaml_export! {
    fn nbd_ocaml_errno_of_unix_error(cr, e: OCamlRef<()>) -> OCaml<OCamlInt> {
        // SAFETY: `e` is a rooted Unix.error.
        let errno = error::errno_of_unix_error(unsafe { e.get_raw() });
        OCaml::of_i32(errno)
    }
}

//! The handle: a custom block (an ocaml-interop `DynBox`) freed by the GC,
//! or earlier by `NBD.close`.

use std::sync::{Arc, Mutex};

use ocaml_interop::{ocaml_export, DynBox, OCaml, OCamlException, OCamlRef, OCamlRuntime};

use crate::error::Failure;
use crate::runtime::{blocking, finalizing, stub};

/// What `NBD.t` holds. The core handle is shared with the calls in
/// progress, so `close` from one thread while another waits on the server
/// is safe: the connection goes away when the last call using it returns.
pub struct HandleBox {
    handle: Mutex<Option<Arc<nbd::Handle>>>,
}

impl Drop for HandleBox {
    /// Runs in the GC's finalizer when the handle was not closed: no
    /// OCaml code may run there, so callbacks the close would trigger
    /// (debug messages) are skipped.
    fn drop(&mut self) {
        let handle = self
            .handle
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        finalizing(move || drop(handle));
    }
}

/// The core handle of `h`, or `NBD.Closed` naming the call.
pub(crate) fn handle(
    cr: &OCamlRuntime,
    h: OCamlRef<DynBox<HandleBox>>,
    call: &'static str,
) -> Result<Arc<nbd::Handle>, Failure> {
    let boxed = cr.get(h);
    let b: &HandleBox = std::borrow::Borrow::borrow(&boxed);
    let guard = b.handle.lock().unwrap_or_else(|p| p.into_inner());
    guard.clone().ok_or(Failure::Closed(call))
}

// `NBD.create` and `NBD.close` (which does nothing on a closed handle).
ocaml_export! {
    fn nbd_ocaml_create(cr, _unit: OCamlRef<()>) -> OCaml<Result<DynBox<HandleBox>, OCamlException>> {
        stub(cr, |cr| {
            let h = nbd::Handle::new()?;
            Ok(OCaml::box_value(cr, HandleBox { handle: Mutex::new(Some(Arc::new(h))) }).root())
        })
    }

    fn nbd_ocaml_close(cr, h: OCamlRef<DynBox<HandleBox>>) {
        let taken = {
            let boxed = cr.get(h);
            let b: &HandleBox = std::borrow::Borrow::borrow(&boxed);
            let mut guard = b.handle.lock().unwrap_or_else(|p| p.into_inner());
            guard.take()
        };
        // Dropping may wait for a subprocess server to exit: let other
        // threads run meanwhile.
        blocking(move || drop(taken));
        OCaml::unit()
    }
}

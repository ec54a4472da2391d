//! The handle: a custom block (an ocaml-interop `DynBox`) freed by the GC,
//! or earlier by `NBD.close`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ocaml_interop::{ocaml_export, DynBox, OCaml, OCamlException, OCamlRef, OCamlRuntime};

use crate::error::Failure;
use crate::runtime::{blocking, finalizing, stub};

/// What `NBD.t` holds. The core handle is shared with the calls in
/// progress, so `close` from one thread while another waits on the server
/// is safe: the connection goes away when the last call using it returns.
pub struct HandleBox {
    handle: Mutex<Option<Arc<nbd::Handle>>>,
    /// Bytes reported to the GC as held outside the OCaml heap for this
    /// handle (nbd_get_handle_size), so that it collects forgotten
    /// handles in time.
    accounted: AtomicUsize,
}

// The OCaml runtime's accounting of memory a custom block keeps alive
// outside the heap (memory.h). Called with the runtime lock held.
extern "C" {
    fn caml_alloc_dependent_memory(bsz: usize);
    fn caml_free_dependent_memory(bsz: usize);
}

/// Report a change of a handle's memory to the GC only when it moved by
/// this much, so that calls in a steady state cost nothing.
const ACCOUNT_STEP: usize = 4096;

impl HandleBox {
    /// Bring the GC's account of this handle up to date, unless another
    /// thread is in a call on it. The runtime lock must be held.
    fn account(&self, handle: &nbd::Handle) {
        let Some(now) = handle.try_handle_size() else {
            return;
        };
        let before = self.accounted.load(Ordering::Relaxed);
        if now.abs_diff(before) < ACCOUNT_STEP {
            return;
        }
        self.accounted.store(now, Ordering::Relaxed);
        // SAFETY: plain counters of the runtime, whose lock we hold.
        unsafe {
            if now > before {
                caml_alloc_dependent_memory(now - before);
            } else {
                caml_free_dependent_memory(before - now);
            }
        }
    }

    /// The handle is closed or collected: the GC stops counting it.
    fn release(&self) {
        let held = self.accounted.swap(0, Ordering::Relaxed);
        if held > 0 {
            // SAFETY: as above; also allowed in a custom block finalizer.
            unsafe { caml_free_dependent_memory(held) };
        }
    }
}

impl Drop for HandleBox {
    /// Runs in the GC's finalizer when the handle was not closed: no
    /// OCaml code may run there, so callbacks the close would trigger
    /// (debug messages) are skipped.
    fn drop(&mut self) {
        self.release();
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

/// After a call that connected: bring the GC's account of `h` up to
/// date (its connection's buffers are now allocated).
pub(crate) fn account(cr: &OCamlRuntime, h: OCamlRef<DynBox<HandleBox>>) {
    let boxed = cr.get(h);
    let b: &HandleBox = std::borrow::Borrow::borrow(&boxed);
    let handle = b.handle.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(handle) = handle {
        b.account(&handle);
    }
}

// `NBD.create` and `NBD.close` (which does nothing on a closed handle).
ocaml_export! {
    fn nbd_ocaml_create(cr, _unit: OCamlRef<()>) -> OCaml<Result<DynBox<HandleBox>, OCamlException>> {
        stub(cr, |cr| {
            let h = nbd::Handle::new()?;
            let b = HandleBox { handle: Mutex::new(Some(Arc::new(h))), accounted: AtomicUsize::new(0) };
            if let Some(h) = b.handle.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                b.account(h);
            }
            Ok(OCaml::box_value(cr, b).root())
        })
    }

    fn nbd_ocaml_close(cr, h: OCamlRef<DynBox<HandleBox>>) {
        let taken = {
            let boxed = cr.get(h);
            let b: &HandleBox = std::borrow::Borrow::borrow(&boxed);
            b.release();
            let mut guard = b.handle.lock().unwrap_or_else(|p| p.into_inner());
            guard.take()
        };
        // Dropping may wait for a subprocess server to exit: let other
        // threads run meanwhile.
        blocking(move || drop(taken));
        OCaml::unit()
    }
}

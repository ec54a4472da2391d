//! `NBD.Buffer`: memory for aio commands, a custom block holding an
//! `nbd::AioBuffer`. The core keeps its own reference to the memory
//! until the command retires, so a buffer the GC collects mid-command is
//! freed only afterwards.

use ocaml_interop::{
    ocaml_export, DynBox, OCaml, OCamlBytes, OCamlInt, OCamlRef, OCamlRuntime, ToOCaml,
};

/// The core's buffer held by an `NBD.Buffer.t` argument (a new reference
/// to the same memory).
pub(crate) fn aio_buffer(cr: &OCamlRuntime, b: OCamlRef<DynBox<nbd::AioBuffer>>) -> nbd::AioBuffer {
    let boxed = cr.get(b);
    let buf: &nbd::AioBuffer = std::borrow::Borrow::borrow(&boxed);
    buf.clone()
}

// NBD.Buffer.alloc (the size is checked in OCaml), of_bytes, to_bytes, size.
ocaml_export! {
    fn nbd_ocaml_buffer_alloc(cr, n: OCamlRef<OCamlInt>) -> OCaml<DynBox<nbd::AioBuffer>> {
        let n: i64 = n.to_rust(cr);
        OCaml::box_value(cr, nbd::AioBuffer::new(n.max(0) as usize))
    }

    fn nbd_ocaml_buffer_of_bytes(cr, b: OCamlRef<OCamlBytes>) -> OCaml<DynBox<nbd::AioBuffer>> {
        let v: Vec<u8> = b.to_rust(cr);
        OCaml::box_value(cr, nbd::AioBuffer::from_vec(v))
    }

    fn nbd_ocaml_buffer_to_bytes(cr, b: OCamlRef<DynBox<nbd::AioBuffer>>) -> OCaml<OCamlBytes> {
        let data = aio_buffer(cr, b).to_vec();
        data.to_ocaml(cr)
    }

    fn nbd_ocaml_buffer_size(cr, b: OCamlRef<DynBox<nbd::AioBuffer>>) -> OCaml<OCamlInt> {
        let len = aio_buffer(cr, b).len() as i64;
        len.to_ocaml(cr)
    }
}

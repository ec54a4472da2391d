//! The OCaml binding's generated layer: the module `NBD` (`NBD.ml` and its
//! documented interface `NBD.mli`) and the Rust stubs behind it
//! (`bindings/ocaml/rust/src/generated.rs`, one `ocaml_export!` function
//! per call and a wrapper per callback kind).
//!
//! Names and types follow libnbd's own OCaml module: required arguments are
//! positional after the handle, flags and callbacks are optional arguments
//! before it (`?completion:(int ref -> int) -> ?flags:CMD_FLAG.t list ->
//! t -> Buffer.t -> int64 -> cookie`), enums are variants and flag sets
//! lists of variants, 64-bit and `uint32_t` values are `int64`, and a
//! callback's `int *error` is an `int ref`.
//!
//! Between OCaml and Rust everything is plain: enums and flags cross as
//! `int` (NBD.ml converts them), optional callbacks as options, and every
//! stub returns `('a, exn) result`, so that no OCaml exception is ever
//! raised across Rust frames; NBD.ml raises it.

use serde::Serialize;

mod callbacks;
mod calls;

use crate::lower::{LFlags, Lowered};
use crate::markup;
use crate::model::*;
use crate::names::{capitalise, ocaml_ident};
use crate::render::rendered;
use crate::{Error, Lang, Output};
use callbacks::{callback_view, CallbackView};
use calls::{call_view, CallView};

/// Where the outputs go, relative to the repository root.
const RUST_OUT: &str = "bindings/ocaml/rust/src/generated.rs";
const ML_OUT: &str = "bindings/ocaml/src/NBD.ml";
const MLI_OUT: &str = "bindings/ocaml/src/NBD.mli";

#[derive(Serialize)]
struct ValueView {
    name: String,
    /// An OCaml literal.
    value: String,
    doc: String,
}

#[derive(Serialize)]
struct EnumView {
    module: String,
    doc: String,
    values: Vec<ValueView>,
}

#[derive(Serialize)]
struct FlagsView {
    module: String,
    doc: String,
    values: Vec<ValueView>,
    /// Every known bit, as an OCaml literal.
    mask: String,
}

#[derive(Serialize)]
struct ConstView {
    name: String,
    ml_type: String,
    value: String,
    doc: String,
}

#[derive(Serialize)]
struct SpecialView {
    /// Doc comments of `create` and `close`, from api.yaml, and their
    /// versions.
    create_doc: String,
    create_since: String,
    close_doc: String,
    close_since: String,
}

#[derive(Serialize)]
struct OcamlView {
    calls: Vec<CallView>,
    callbacks: Vec<CallbackView>,
    enums: Vec<EnumView>,
    flags: Vec<FlagsView>,
    constants: Vec<ConstView>,
    special: SpecialView,
}

/// An OCaml string literal.
fn ml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\{:03}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How C names in code spans read in OCaml: `LIBNBD_TLS_ALLOW` is
/// `TLS.ALLOW`, `LIBNBD_CMD_FLAG_MASK` is `CMD_FLAG.mask`,
/// `LIBNBD_STATE_HOLE` is `state_hole`; `nbd_pread` is `NBD.pread`.
fn ml_code(l: &Lowered, code: &str) -> String {
    let api = l.api;
    if let Some(name) = code.strip_prefix("LIBNBD_") {
        for e in &api.enums {
            for v in &e.values {
                if name == format!("{}_{}", e.prefix, v.name) {
                    return format!("{}.{}", e.prefix, v.name);
                }
            }
        }
        for f in &api.flags {
            if name == format!("{}_MASK", f.prefix) {
                return format!("{}.mask", f.prefix);
            }
            for v in &f.values {
                if name == format!("{}_{}", f.prefix, v.name) {
                    return format!("{}.{}", f.prefix, v.name);
                }
            }
        }
        if api.constants.iter().any(|k| k.name == name) {
            return name.to_ascii_lowercase();
        }
    }
    if let Some(call) = code.strip_prefix("nbd_") {
        if ml_call_exists(l, call) {
            return format!("NBD.{call}");
        }
    }
    code.to_string()
}

/// Whether the OCaml module has a value for this call (get_error and
/// get_errno are exceptions in OCaml).
fn ml_call_exists(l: &Lowered, name: &str) -> bool {
    l.call(name).is_some_and(|c| match c.def.special {
        Some(Special::GetError) | Some(Special::GetErrno) => false,
        Some(Special::Create) | Some(Special::Close) | None => true,
    })
}

/// odoc for a paragraph of api.yaml text.
fn odoc(l: &Lowered, text: &str) -> String {
    let link = |name: &str| {
        if ml_call_exists(l, name) {
            format!("{{!{}}}", ocaml_ident(name))
        } else {
            format!("[nbd_{name}]")
        }
    };
    let code = |c: &str| ml_code(l, c);
    markup::to_odoc(text, &link, &code)
}

/// The doc comment of a call: summary and description (the caller adds
/// the `@since` tag, after which odoc allows no more paragraphs).
fn call_doc(l: &Lowered, call: &Call) -> String {
    let summary = markup::to_odoc(
        &format!("{}.", capitalise(&call.shortdesc)),
        &|n| n.to_string(),
        &|c| c.to_string(),
    );
    format!("{summary}\n\n{}", odoc(l, &call.longdesc))
}

fn short_doc(l: &Lowered, doc: &str) -> String {
    if doc.is_empty() {
        String::new()
    } else {
        odoc(l, &format!("{}.", capitalise(doc)))
    }
}

// Validation makes sure every value name is an OCaml constructor other
// than `UNKNOWN` (which carries the values this version does not know),
// and that every integer constant fits an `int32`.

fn enum_view(l: &Lowered, e: &EnumDef) -> EnumView {
    EnumView {
        module: e.prefix.clone(),
        doc: short_doc(l, &e.doc),
        values: e
            .values
            .iter()
            .map(|v| ValueView {
                name: v.name.clone(),
                value: v.value.to_string(),
                doc: short_doc(l, &v.doc),
            })
            .collect(),
    }
}

fn flags_view(l: &Lowered, f: &LFlags) -> FlagsView {
    FlagsView {
        module: f.def.prefix.clone(),
        doc: short_doc(l, &f.def.doc),
        values: f
            .def
            .values
            .iter()
            .map(|v| ValueView {
                name: v.name.clone(),
                value: format!("{:#x}", v.value),
                doc: short_doc(l, &v.doc),
            })
            .collect(),
        mask: format!("{:#x}", f.mask),
    }
}

/// libnbd's module has integer constants as `int32` and strings as
/// `string`, named in lower case.
fn const_view(l: &Lowered, k: &ConstDef) -> ConstView {
    let (ml_type, value) = match &k.value {
        ConstValue::Int(i) => ("int32", format!("{i}l")),
        ConstValue::Str(s) => ("string", ml_string(s)),
    };
    ConstView {
        name: ocaml_ident(&k.name.to_ascii_lowercase()),
        ml_type: ml_type.into(),
        value,
        doc: short_doc(l, &k.doc),
    }
}

fn special_doc(l: &Lowered, which: Special) -> (String, String) {
    let call = l.special(which).def;
    (call_doc(l, call), call.first_version.clone())
}

pub(crate) fn outputs(l: &Lowered) -> Result<Vec<Output>, Error> {
    let api = l.api;
    let (create_doc, create_since) = special_doc(l, Special::Create);
    let (close_doc, close_since) = special_doc(l, Special::Close);
    let view = OcamlView {
        calls: l.regular_calls().map(|c| call_view(l, c)).collect(),
        callbacks: l.callbacks.iter().map(callback_view).collect(),
        enums: api.enums.iter().map(|e| enum_view(l, e)).collect(),
        flags: l.flags.iter().map(|f| flags_view(l, f)).collect(),
        constants: api.constants.iter().map(|k| const_view(l, k)).collect(),
        special: SpecialView {
            create_doc,
            create_since,
            close_doc,
            close_since,
        },
    };
    Ok(vec![
        rendered(RUST_OUT, Lang::Rust, "ocaml/stubs.rs.tera", &view)?,
        rendered(ML_OUT, Lang::OCaml, "ocaml/NBD.ml.tera", &view)?,
        rendered(MLI_OUT, Lang::OCaml, "ocaml/NBD.mli.tera", &view)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_api() -> Api {
        crate::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../api.yaml"
        )))
        .unwrap()
    }

    /// The types of libnbd 1.14's own NBD.mli, so that programs written
    /// for it type-check against ours.
    #[test]
    fn signatures_are_libnbds() {
        let api = real_api();
        let l = crate::lower::lower(&api).unwrap();
        let val = |name: &str| call_view(&l, l.call(name).unwrap()).val_type;
        let expected = [
            ("pread", "?flags:CMD_FLAG.t list -> t -> bytes -> int64 -> unit"),
            ("pwrite", "?flags:CMD_FLAG.t list -> t -> bytes -> int64 -> unit"),
            (
                "pread_structured",
                "?flags:CMD_FLAG.t list -> t -> bytes -> int64 -> (bytes -> int64 -> int -> int ref -> int) -> unit",
            ),
            ("aio_pread", "?completion:(int ref -> int) -> ?flags:CMD_FLAG.t list -> t -> Buffer.t -> int64 -> cookie"),
            (
                "block_status",
                "?flags:CMD_FLAG.t list -> t -> int64 -> int64 -> (string -> int64 -> int64 array -> int ref -> int) -> unit",
            ),
            ("aio_opt_list", "?completion:(int ref -> int) -> t -> (string -> string -> int) -> unit"),
            ("opt_list", "t -> (string -> string -> int) -> int"),
            ("connect_vsock", "t -> int64 -> int64 -> unit"),
            ("connect_command", "t -> string list -> unit"),
            ("connect_socket", "t -> Unix.file_descr -> unit"),
            ("aio_connect", "t -> Unix.sockaddr -> unit"),
            ("set_handshake_flags", "t -> HANDSHAKE_FLAG.t list -> unit"),
            ("get_tls", "t -> TLS.t"),
            ("get_block_size", "t -> SIZE.t -> int64"),
            ("set_private_data", "t -> int -> int"),
            ("aio_get_direction", "t -> int"),
            ("shutdown", "?flags:SHUTDOWN.t list -> t -> unit"),
            ("set_debug_callback", "t -> (string -> string -> int) -> unit"),
            ("aio_command_completed", "t -> int64 -> bool"),
        ];
        for (name, ty) in expected {
            assert_eq!(val(name), ty, "{name}");
        }
    }

    #[test]
    fn code_spans_use_ocaml_names() {
        let api = real_api();
        let api = &crate::lower::lower(&api).unwrap();
        assert_eq!(ml_code(api, "LIBNBD_TLS_REQUIRE"), "TLS.REQUIRE");
        assert_eq!(ml_code(api, "LIBNBD_CMD_FLAG_MASK"), "CMD_FLAG.mask");
        assert_eq!(ml_code(api, "LIBNBD_STATE_HOLE"), "state_hole");
        assert_eq!(ml_code(api, "nbd_pread"), "NBD.pread");
        assert_eq!(ml_code(api, "LIBNBD_DEBUG"), "LIBNBD_DEBUG");
    }

    #[test]
    fn string_literals() {
        assert_eq!(ml_string("base:"), "\"base:\"");
        assert_eq!(ml_string("a\"b\\"), "\"a\\\"b\\\\\"");
    }
}

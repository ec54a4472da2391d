//! One Rust wrapper per callback kind, around an OCaml closure.

use serde::Serialize;

use crate::lower::LCallback;
use crate::model::CbArgKind;
use crate::names::{camel, rust_ident};

#[derive(Serialize)]
pub(super) struct CallbackView {
    name: String,
    /// `chunk_callback`
    fn_name: String,
    /// `ChunkFn`, the ocaml-interop type of the OCaml closure.
    alias: String,
    /// `fn(OCamlBytes, OCamlInt64, OCamlInt, IntRef) -> OCamlInt`
    ocaml_fn: String,
    /// `bytes -> int64 -> int -> int ref -> int`
    ml_type: String,
    /// `nbd::ChunkCallback`
    rust_type: String,
    /// The core closure's parameters.
    params: String,
    /// `Some(error)` for callbacks with an `int *error`, else `None`.
    error_arg: String,
    /// The closure parameter holding the `int ref` (`_err` if unused).
    err_param: String,
    /// Arguments of `try_call` after the runtime.
    call_args: String,
}

/// The OCaml type of a callback, as libnbd's module writes it.
pub(super) fn callback_ml_type(cb: &LCallback) -> String {
    let mut parts: Vec<&str> = cb
        .args
        .iter()
        .map(|a| match a.kind {
            CbArgKind::BytesIn { .. } => "bytes",
            CbArgKind::String => "string",
            CbArgKind::Int | CbArgKind::Uint => "int",
            CbArgKind::Uint64 | CbArgKind::Int64 => "int64",
            CbArgKind::Uint32Array { .. } => "int64 array",
            CbArgKind::Extent64Array { .. } => "extent array",
            CbArgKind::MutableInt => "int ref",
        })
        .collect();
    parts.push("int");
    parts.join(" -> ")
}

pub(super) fn callback_view(cb: &LCallback) -> CallbackView {
    let mut params = Vec::new();
    let mut markers = Vec::new();
    let mut call_args = Vec::new();
    let mut error_arg = "None".to_string();
    for a in &cb.args {
        let id = rust_ident(a.name);
        let (ty, marker, expr) = match a.kind {
            CbArgKind::BytesIn { .. } => ("&[u8]", "OCamlBytes", format!("&{id}")),
            CbArgKind::String => ("&str", "String", format!("&{id}")),
            CbArgKind::Int => ("i32", "OCamlInt", format!("&i64::from({id})")),
            CbArgKind::Uint => ("u32", "OCamlInt", format!("&i64::from({id})")),
            CbArgKind::Uint64 => ("u64", "OCamlInt64", format!("&({id} as i64)")),
            CbArgKind::Int64 => ("i64", "OCamlInt64", format!("&{id}")),
            CbArgKind::Uint32Array { .. } => (
                "&[u32]",
                "OCamlUniformArray<OCamlInt64>",
                format!("&{id}.iter().map(|&e| i64::from(e)).collect::<Vec<i64>>()"),
            ),
            CbArgKind::Extent64Array { .. } => (
                "&[nbd::Extent]",
                "OCamlUniformArray<(OCamlInt64, OCamlInt64)>",
                format!("&{id}.iter().map(|e| (e.length as i64, e.flags as i64)).collect::<Vec<(i64, i64)>>()"),
            ),
            CbArgKind::MutableInt => {
                error_arg = format!("Some({id})");
                ("&mut i32", "IntRef", "err".to_string())
            }
        };
        params.push(format!("{id}: {ty}"));
        markers.push(marker);
        call_args.push(expr);
    }
    CallbackView {
        name: cb.name.to_string(),
        fn_name: format!("{}_callback", cb.name),
        alias: format!("{}Fn", camel(cb.name)),
        ocaml_fn: format!("fn({}) -> OCamlInt", markers.join(", ")),
        ml_type: callback_ml_type(cb),
        rust_type: format!("nbd::{}Callback", camel(cb.name)),
        params: params.join(", "),
        err_param: if error_arg == "None" {
            "_err".into()
        } else {
            "err".into()
        },
        error_arg,
        call_args: call_args.join(", "),
    }
}

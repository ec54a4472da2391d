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
    let mut markers = Vec::new();
    let mut call_args = Vec::new();
    for a in &cb.args {
        let id = rust_ident(a.name);
        let (marker, expr) = match a.kind {
            CbArgKind::BytesIn { .. } => ("OCamlBytes", format!("&{id}")),
            CbArgKind::String => ("String", format!("&{id}")),
            CbArgKind::Int => ("OCamlInt", format!("&i64::from({id})")),
            CbArgKind::Uint => ("OCamlInt", format!("&i64::from({id})")),
            CbArgKind::Uint64 => ("OCamlInt64", format!("&({id} as i64)")),
            CbArgKind::Int64 => ("OCamlInt64", format!("&{id}")),
            CbArgKind::Uint32Array { .. } => (
                "OCamlUniformArray<OCamlInt64>",
                format!("&{id}.iter().map(|&e| i64::from(e)).collect::<Vec<i64>>()"),
            ),
            CbArgKind::Extent64Array { .. } => (
                "OCamlUniformArray<(OCamlInt64, OCamlInt64)>",
                format!("&{id}.iter().map(|e| (e.length as i64, e.flags as i64)).collect::<Vec<(i64, i64)>>()"),
            ),
            CbArgKind::MutableInt => ("IntRef", "err".to_string()),
        };
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
        params: cb.binding_params(),
        err_param: cb.err_param().into(),
        error_arg: cb.error_arg(),
        call_args: call_args.join(", "),
    }
}

//! One wrapper per callback kind, and its TypeScript function type.

use serde::Serialize;

use crate::lower::LCallback;
use crate::model::CbArgKind;
use crate::names::{camel, capitalise, lower_camel, rust_ident};

#[derive(Serialize)]
pub(super) struct CallbackView {
    /// `chunk_callback`
    fn_name: String,
    name: String,
    /// `nbd::ChunkCallback`
    rust_type: String,
    /// `subbuf: &[u8], offset: u64, status: u32, error: &mut i32`
    params: String,
    /// `Some(error)` for callbacks with an `int *error`, else `None`.
    error_arg: String,
    /// Expressions making each JavaScript argument (in scope: `env`,
    /// `holder`).
    js_args: Vec<String>,
    doc: String,
}

/// The TypeScript alias of a callback's function type (`ChunkCallback`).
pub(super) fn callback_alias(name: &str) -> String {
    format!("{}Callback", camel(name))
}

#[derive(Serialize)]
pub(super) struct CallbackTypeView {
    name: String,
    ty: String,
    doc: String,
}

pub(super) fn callback_view(cb: &LCallback) -> (CallbackView, CallbackTypeView) {
    let mut js_args = Vec::new();
    let mut ts_args = Vec::new();
    for a in &cb.args {
        let id = rust_ident(a.name);
        let (expr, ts) = match a.kind {
            CbArgKind::BytesIn { .. } => (format!("js::buffer(env, {id})?"), "Buffer"),
            CbArgKind::String => (format!("js::string(env, {id})?"), "string"),
            CbArgKind::Int => (format!("js::i32(env, {id})?"), "number"),
            CbArgKind::Uint => (format!("js::u32(env, {id})?"), "number"),
            CbArgKind::Uint64 => (format!("js::u64(env, {id})?"), "number"),
            CbArgKind::Int64 => (format!("js::i64(env, {id})?"), "number"),
            CbArgKind::Uint32Array { .. } => (
                format!("js::array(env, {id}, |env, n| js::u32(env, *n))?"),
                "number[]",
            ),
            CbArgKind::Extent64Array { .. } => (
                format!("js::array(env, {id}, callbacks::extent)?"),
                "Extent[]",
            ),
            CbArgKind::MutableInt => ("holder".to_string(), "{ value: number }"),
        };
        js_args.push(expr);
        ts_args.push(format!("{}: {ts}", lower_camel(a.name)));
    }
    let doc = capitalise(&cb.def.doc);
    (
        CallbackView {
            fn_name: format!("{}_callback", cb.name),
            name: cb.name.to_string(),
            rust_type: format!("nbd::{}Callback", camel(cb.name)),
            params: cb.binding_params(),
            error_arg: cb.error_arg(),
            js_args,
            doc: doc.clone(),
        },
        CallbackTypeView {
            name: callback_alias(cb.name),
            ty: format!("({}) => number | void", ts_args.join(", ")),
            doc: format!("{doc}. Return a negative number (or throw) to fail the command."),
        },
    )
}

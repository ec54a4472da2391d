//! The core's generated layer: `core/src/generated/{types,dispatch}.rs`.

use serde::Serialize;

use crate::markup;
use crate::model::*;
use crate::names::{camel, capitalise, rust_ident};
use crate::render::render;
use crate::{Error, Lang, Output};

#[derive(Serialize)]
struct EnumView {
    name: String,
    doc: String,
    values: Vec<ValueView>,
}

#[derive(Serialize)]
struct ValueView {
    name: String,
    value: String,
    doc: String,
}

#[derive(Serialize)]
struct FlagsView {
    name: String,
    doc: String,
    values: Vec<ValueView>,
    mask: String,
    default: String,
    /// One constant per call that restricts the set with a `permitted`
    /// list (an aio call shares its synchronous twin's).
    permitted: Vec<PermittedView>,
}

#[derive(Serialize)]
struct PermittedView {
    /// `PERMITTED_PREAD_STRUCTURED`
    name: String,
    value: String,
    doc: String,
}

#[derive(Serialize)]
struct ConstView {
    name: String,
    ty: String,
    value: String,
    doc: String,
}

#[derive(Serialize)]
struct CallbackView {
    name: String,
    doc: String,
    args: String,
}

#[derive(Serialize)]
struct StateView {
    name: String,
    doc: String,
}

#[derive(Serialize)]
struct TypesView {
    enums: Vec<EnumView>,
    flags: Vec<FlagsView>,
    constants: Vec<ConstView>,
    callbacks: Vec<CallbackView>,
    states: Vec<StateView>,
}

#[derive(Serialize)]
struct CallView {
    name: String,
    c_name: String,
    doc: String,
    /// `buf: &mut [u8], offset: u64`
    params: String,
    ret: String,
    locked: bool,
    may_set_error: bool,
    /// Statements run before the checks (defaults of optional flags).
    prelude: Vec<String>,
    /// Expressions of type `Result<()>`, chained before the call.
    checks: Vec<String>,
    /// `buf, offset, flags`
    do_args: String,
    /// `format!` arguments for the entry trace.
    trace_fmt: String,
    trace_args: String,
}

#[derive(Serialize)]
struct DispatchView {
    calls: Vec<CallView>,
}

pub(crate) fn type_name(name: &str) -> String {
    camel(name)
}

fn cb_arg_type(k: &CbArgKind) -> &'static str {
    match k {
        CbArgKind::BytesIn { .. } => "&[u8]",
        CbArgKind::String => "&str",
        CbArgKind::Int => "i32",
        CbArgKind::Uint => "u32",
        CbArgKind::Uint64 => "u64",
        CbArgKind::Int64 => "i64",
        CbArgKind::Uint32Array { .. } => "&[u32]",
        CbArgKind::Extent64Array { .. } => "&[Extent]",
        CbArgKind::MutableInt => "&mut i32",
    }
}

/// The Rust parameter type of an argument.
pub(crate) fn arg_type(k: &ArgKind) -> String {
    match k {
        ArgKind::Bool => "bool".into(),
        ArgKind::Int => "i32".into(),
        ArgKind::Uint => "u32".into(),
        ArgKind::Int64 => "i64".into(),
        ArgKind::Uint32 => "u32".into(),
        ArgKind::Uint64 => "u64".into(),
        ArgKind::SizeT => "usize".into(),
        ArgKind::String => "&str".into(),
        ArgKind::StringList => "&[&str]".into(),
        ArgKind::Path => "&std::path::Path".into(),
        ArgKind::Fd => "std::os::fd::RawFd".into(),
        ArgKind::Sockaddr { .. } => "&crate::SockAddr".into(),
        ArgKind::BytesIn { .. } => "&[u8]".into(),
        ArgKind::BytesOut { .. } => "&mut [u8]".into(),
        ArgKind::BytesPersistIn { .. } | ArgKind::BytesPersistOut { .. } => {
            "crate::AioBuffer".into()
        }
        ArgKind::Closure { callback } => format!("{}Callback", camel(callback)),
        ArgKind::Enum { r#enum } => type_name(r#enum),
        ArgKind::Flags { flags } => type_name(flags),
        ArgKind::Uintptr => "usize".into(),
    }
}

/// The Rust return type (inside `Result` for calls that can fail).
pub(crate) fn ret_type(r: &RetKind) -> String {
    match r {
        RetKind::Error | RetKind::Void => "()".into(),
        RetKind::Bool => "bool".into(),
        RetKind::Int => "i32".into(),
        RetKind::Int64 => "i64".into(),
        RetKind::Uint => "u32".into(),
        RetKind::Uint64 | RetKind::Cookie => "u64".into(),
        RetKind::SizeT | RetKind::Uintptr => "usize".into(),
        RetKind::StaticString => "&'static str".into(),
        RetKind::String => "String".into(),
        RetKind::Fd => "std::os::fd::RawFd".into(),
        RetKind::Enum { r#enum } => type_name(r#enum),
        RetKind::Flags { flags } => type_name(flags),
        RetKind::Handle => "crate::Handle".into(),
    }
}

fn state_variant(s: State) -> String {
    camel(s.as_str())
}

fn flag_mask(set: &FlagsDef, names: Option<&Vec<String>>) -> u32 {
    set.values
        .iter()
        .filter(|v| names.is_none_or(|n| n.contains(&v.name)))
        .fold(0, |m, v| m | v.value)
}

/// `nbd_NAME(3)` references as rustdoc links to the method of `Handle`
/// (`nbd_create(3)` to `Handle::new`, the error getters to `Error`);
/// names that are no call of api.yaml stay as they are.
fn rust_refs(api: &Api, text: &str) -> String {
    markup::map_call_refs(text, str::to_string, |name| {
        let call = api.calls.iter().find(|c| c.name == name);
        match (call.and_then(|c| c.special), call) {
            (Some(Special::Create), _) => "[`Handle::new`]".to_string(),
            (Some(Special::Close), _) => "dropping the [`Handle`]".to_string(),
            (Some(Special::GetError) | Some(Special::GetErrno), _) => "[`Error`]".to_string(),
            (None, Some(_)) => format!("[`Handle::{}`]", rust_ident(name)),
            (None, None) => format!("nbd_{name}(3)"),
        }
    })
}

fn call_view(api: &Api, call: &Call) -> CallView {
    let c_name = format!("nbd_{}", call.name);
    let mut params = Vec::new();
    let mut do_args = Vec::new();
    let mut prelude = Vec::new();
    let mut checks = Vec::new();
    let mut trace_fmt = Vec::new();
    let mut trace_args = Vec::new();

    if !call.permitted_states.is_empty() {
        let states: Vec<String> = call
            .permitted_states
            .iter()
            .map(|s| format!("PublicState::{}", state_variant(*s)))
            .collect();
        checks.push(format!(
            "check_state(h.public_state(), &[{}])",
            states.join(", ")
        ));
    }

    for a in &call.args {
        let id = rust_ident(&a.name);
        params.push(format!("{id}: {}", arg_type(&a.kind)));
        do_args.push(id.clone());
        match &a.kind {
            ArgKind::Enum { r#enum } => {
                checks.push(format!("{id}.check(\"{}\")", a.name));
                let _ = r#enum;
                trace_fmt.push(format!("{}={{}}", a.name));
                trace_args.push(format!("{id}.0"));
            }
            ArgKind::Flags { flags } => {
                let set = api.flags.iter().find(|f| &f.name == flags);
                let mask = set.map_or(0, |s| flag_mask(s, None));
                checks.push(format!("check_flags(\"{}\", {id}.0, {mask:#x})", a.name));
                trace_fmt.push(format!("{}={{:#x}}", a.name));
                trace_args.push(format!("{id}.0"));
            }
            ArgKind::BytesIn { len }
            | ArgKind::BytesOut { len }
            | ArgKind::BytesPersistIn { len }
            | ArgKind::BytesPersistOut { len } => {
                // A read buffer is cleared before anything can fail, when
                // nbd_set_pread_initialize is on (libnbd's contract).
                match &a.kind {
                    ArgKind::BytesOut { .. } => {
                        prelude.push(format!("h.initialize_read_buffer({id});"))
                    }
                    ArgKind::BytesPersistOut { .. } => {
                        prelude.push(format!("h.initialize_aio_read_buffer(&{id});"))
                    }
                    _ => {}
                }
                trace_fmt.push(format!("{}=<buf> {len}={{}}", a.name));
                trace_args.push(format!("{id}.len()"));
            }
            ArgKind::Closure { .. } => trace_fmt.push(format!("{}=<fun>", a.name)),
            ArgKind::Sockaddr { .. } => trace_fmt.push(format!("{}=<sockaddr>", a.name)),
            ArgKind::String => {
                trace_fmt.push(format!("{}={{:?}}", a.name));
                trace_args.push(id.clone());
            }
            ArgKind::StringList | ArgKind::Path => {
                trace_fmt.push(format!("{}={{:?}}", a.name));
                trace_args.push(id.clone());
            }
            _ => {
                trace_fmt.push(format!("{}={{}}", a.name));
                trace_args.push(id.clone());
            }
        }
    }
    for o in &call.optargs {
        let id = rust_ident(&o.name);
        match &o.kind {
            OptArgKind::Closure { callback } => {
                params.push(format!("{id}: Option<{}Callback>", camel(callback)));
                do_args.push(id.clone());
                trace_fmt.push(format!("{}=<fun>", o.name));
            }
            OptArgKind::Flags { flags, permitted } => {
                let ty = type_name(flags);
                params.push(format!("{id}: Option<{ty}>"));
                prelude.push(format!("let {id} = {id}.unwrap_or_default();"));
                do_args.push(id.clone());
                let set = api.flags.iter().find(|f| &f.name == flags);
                let mask = set.map_or(0, |s| flag_mask(s, permitted.as_ref()));
                if set.is_some_and(|s| s.name == "cmd_flag") {
                    checks.push(format!(
                        "check_cmd_flags(\"{}\", {id}.0, {mask:#x}, h.strict_flags())",
                        o.name
                    ));
                } else {
                    checks.push(format!("check_flags(\"{}\", {id}.0, {mask:#x})", o.name));
                }
                trace_fmt.push(format!("{}={{:#x}}", o.name));
                trace_args.push(format!("{id}.0"));
            }
        }
    }

    let mut doc = markup::to_markdown(&rust_refs(api, &call.longdesc), "c");
    if let Some(r) = &call.returns {
        doc.push_str("\n\n# Returns\n\n");
        doc.push_str(&markup::to_markdown(&rust_refs(api, r), "c"));
    }
    if !call.permitted_states.is_empty() {
        let s: Vec<&str> = call.permitted_states.iter().map(|s| s.as_str()).collect();
        doc.push_str(&format!("\n\nPermitted in the states: {}.", s.join(", ")));
    }
    doc.push_str(&format!("\n\n{} C: `{c_name}`.", call.origin()));

    CallView {
        name: rust_ident(&call.name),
        c_name,
        doc: format!("{}.\n\n{doc}", capitalise(&call.shortdesc)),
        params: params.join(", "),
        ret: ret_type(&call.ret),
        locked: call.locked,
        may_set_error: call.may_set_error,
        prelude,
        checks,
        do_args: do_args.join(", "),
        trace_fmt: trace_fmt.join(" "),
        trace_args: trace_args.join(", "),
    }
}

pub(crate) fn outputs(api: &Api) -> Result<Vec<Output>, Error> {
    let types = TypesView {
        enums: api
            .enums
            .iter()
            .map(|e| EnumView {
                name: type_name(&e.name),
                doc: capitalise(&e.doc),
                values: e
                    .values
                    .iter()
                    .map(|v| ValueView { name: v.name.clone(), value: v.value.to_string(), doc: capitalise(&v.doc) })
                    .collect(),
            })
            .collect(),
        flags: api
            .flags
            .iter()
            .map(|f| FlagsView {
                name: type_name(&f.name),
                doc: capitalise(&f.doc),
                values: f
                    .values
                    .iter()
                    .map(|v| ValueView { name: v.name.clone(), value: format!("{:#x}", v.value), doc: capitalise(&v.doc) })
                    .collect(),
                mask: format!("{:#x}", flag_mask(f, None)),
                default: format!("{:#x}", flag_mask(f, Some(&f.default))),
                permitted: permitted_views(api, f),
            })
            .collect(),
        constants: api
            .constants
            .iter()
            .map(|k| {
                let (ty, value) = match &k.value {
                    ConstValue::Int(i) if *i >= 0 && *i <= u32::MAX as i64 => ("u32".to_string(), i.to_string()),
                    ConstValue::Int(i) => ("i64".to_string(), i.to_string()),
                    ConstValue::Str(s) => ("&str".to_string(), format!("{s:?}")),
                };
                ConstView { name: k.name.clone(), ty, value, doc: capitalise(&k.doc) }
            })
            .collect(),
        callbacks: api
            .callbacks
            .iter()
            .map(|cb| CallbackView {
                name: format!("{}Callback", camel(&cb.name)),
                doc: capitalise(&cb.doc),
                args: cb.args.iter().map(|a| cb_arg_type(&a.kind)).collect::<Vec<_>>().join(", "),
            })
            .collect(),
        states: State::ALL
            .iter()
            .map(|s| StateView { name: state_variant(*s), doc: state_doc(*s).into() })
            .collect(),
    };
    let dispatch = DispatchView {
        calls: api.calls.iter().filter(|c| c.special.is_none()).map(|c| call_view(api, c)).collect(),
    };
    Ok(vec![
        Output {
            path: "core/src/generated/mod.rs".into(),
            lang: Lang::Rust,
            text: format!(
                "// {}\n\n//! The layer generated from api.yaml: see docs/core-contract.md.\n\npub mod dispatch;\npub mod types;\n",
                crate::DO_NOT_EDIT
            ),
        },
        Output {
            path: "core/src/generated/types.rs".into(),
            lang: Lang::Rust,
            text: render("rust/types.rs.tera", &types)?,
        },
        Output {
            path: "core/src/generated/dispatch.rs".into(),
            lang: Lang::Rust,
            text: render("rust/dispatch.rs.tera", &dispatch)?,
        },
    ])
}

/// The `permitted` lists of set `set`, one per call; an aio call whose
/// synchronous twin exists is covered by the twin's (validation makes the
/// two agree).
fn permitted_views(api: &Api, set: &FlagsDef) -> Vec<PermittedView> {
    let exists = |name: &str| api.calls.iter().any(|c| c.name == name);
    api.calls
        .iter()
        .filter(|c| !c.name.strip_prefix("aio_").is_some_and(exists))
        .filter_map(|c| {
            c.optargs.iter().find_map(|o| match &o.kind {
                OptArgKind::Flags { flags, permitted: Some(p) } if *flags == set.name => {
                    let aio = format!("aio_{}", c.name);
                    let also = if exists(&aio) { format!(" and `nbd_{aio}` accept") } else { " accepts".to_string() };
                    Some(PermittedView {
                        name: format!("PERMITTED_{}", c.name.to_uppercase()),
                        value: format!("{:#x}", flag_mask(set, Some(p))),
                        doc: format!("The flags `nbd_{}`{also} (api.yaml's `permitted` list)", c.name),
                    })
                }
                OptArgKind::Flags { .. } | OptArgKind::Closure { .. } => None,
            })
        })
        .collect()
}

fn state_doc(s: State) -> &'static str {
    match s {
        State::Created => "Created, not yet connecting.",
        State::Connecting => "Connecting: socket set-up and the start of the handshake.",
        State::Negotiating => "Negotiating in opt mode, waiting for the next option.",
        State::Connected => "Connected and ready for commands, or processing them.",
        State::Closed => "The connection was shut down cleanly.",
        State::Dead => "The connection failed.",
    }
}

//! The core's generated layer: `core/src/generated/{types,dispatch}.rs`.

use serde::Serialize;

use crate::lower::{
    by_value_arg, type_name, AsyncForm, LArgKind, LCall, LFlags, LOptKind, LRet, Lowered,
};
use crate::markup;
use crate::model::*;
use crate::names::{camel, capitalise, comma_list, rust_ident};
use crate::render::{module_index, rendered};
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

/// One method of `AsyncHandle` (`core/src/generated/async_handle.rs`).
#[derive(Serialize)]
struct AsyncCallView {
    name: String,
    c_name: String,
    /// "sync", "completion", "connect" or "option" ([`AsyncForm`]).
    form: &'static str,
    doc: String,
    params: String,
    ret: String,
    may_set_error: bool,
    /// The synchronous call's arguments (`sync` and `connect`).
    args: String,
    /// The aio twin's name.
    aio_name: String,
    /// How a command is awaited: "read" (into the buffer argument
    /// `buffer`), "write" (from it) or "command" (no buffer).
    method: &'static str,
    buffer: Option<String>,
    /// The aio twin's arguments, `completion` among them.
    aio_args: String,
}

#[derive(Serialize)]
struct AsyncView {
    calls: Vec<AsyncCallView>,
}

fn async_call_view(l: &Lowered, call: &LCall) -> Option<AsyncCallView> {
    let form = match call.async_form {
        AsyncForm::Sync => "sync",
        AsyncForm::Completion => "completion",
        AsyncForm::Connect => "connect",
        AsyncForm::Option { .. } => "option",
        AsyncForm::Omitted => return None,
    };
    let sync = call_view(l, call);
    let name = rust_ident(call.name);
    let mut method = "command";
    let mut buffer = None;
    let mut aio_args = Vec::new();
    let mut args = Vec::new();
    for a in &call.args {
        let id = rust_ident(a.name);
        args.push(id.clone());
        let direction = match &a.kind {
            LArgKind::BytesOut { .. } => "read",
            LArgKind::BytesIn { .. } => "write",
            _ => {
                aio_args.push(id);
                continue;
            }
        };
        // The engine gets a buffer of the handle's own (see
        // `AsyncHandle::read`), which the closure receives.
        method = direction;
        aio_args.push(format!("{id}_owned"));
        buffer = Some(id);
    }
    match call.async_form {
        AsyncForm::Completion => aio_args.push("Some(completion)".into()),
        AsyncForm::Option { completion: true } => aio_args.push("None".into()),
        _ => {}
    }
    aio_args.extend(call.optargs.iter().map(|o| rust_ident(o.name)));
    let short = capitalise(&call.def.shortdesc);
    let doc = match call.async_form {
        AsyncForm::Sync => {
            format!("{short}: [`Handle::{name}`], which does not wait on the server.")
        }
        AsyncForm::Completion => format!(
            "{short}, awaiting the server's reply: [`Handle::{name}`] through \
             [`Handle::aio_{name}`] (the future may be dropped at any point; the \
             command is still answered and retired)."
        ),
        AsyncForm::Option { .. } => format!(
            "{short}, awaiting the server's answer: [`Handle::{name}`] through \
             [`Handle::aio_{name}`]."
        ),
        _ => format!(
            "{short}, awaiting the end of the handshake: [`Handle::{name}`] through \
             [`Handle::aio_{name}`]."
        ),
    };
    Some(AsyncCallView {
        aio_name: rust_ident(&format!("aio_{}", call.name)),
        name,
        c_name: call.c_name.clone(),
        form,
        doc,
        params: sync.params,
        ret: sync.ret,
        may_set_error: sync.may_set_error,
        args: args
            .into_iter()
            .chain(call.optargs.iter().map(|o| rust_ident(o.name)))
            .collect::<Vec<_>>()
            .join(", "),
        method,
        buffer,
        aio_args: aio_args.join(", "),
    })
}

/// The Rust parameter type of an argument.
fn arg_type(k: &LArgKind) -> String {
    match k {
        LArgKind::Bool => "bool".into(),
        LArgKind::Int => "i32".into(),
        LArgKind::Uint => "u32".into(),
        LArgKind::Int64 => "i64".into(),
        LArgKind::Uint32 => "u32".into(),
        LArgKind::Uint64 => "u64".into(),
        LArgKind::SizeT => "usize".into(),
        LArgKind::String => "&str".into(),
        LArgKind::StringList => "&[&str]".into(),
        LArgKind::Path => "&std::path::Path".into(),
        LArgKind::Fd => "std::os::fd::RawFd".into(),
        LArgKind::Sockaddr { .. } => "&crate::SockAddr".into(),
        LArgKind::BytesIn { .. } => "&[u8]".into(),
        LArgKind::BytesOut { .. } => "&mut [u8]".into(),
        LArgKind::BytesPersistIn { .. } | LArgKind::BytesPersistOut { .. } => {
            "crate::AioBuffer".into()
        }
        LArgKind::Closure(cb) => format!("{}Callback", camel(cb.name)),
        LArgKind::Enum(e) => type_name(&e.name),
        LArgKind::Flags { set, .. } => type_name(&set.name),
        LArgKind::Uintptr => "usize".into(),
    }
}

/// The Rust return type (inside `Result` for calls that can fail).
fn ret_type(r: &LRet) -> String {
    match r {
        LRet::Error | LRet::Void => "()".into(),
        LRet::Bool => "bool".into(),
        LRet::Int => "i32".into(),
        LRet::Int64 => "i64".into(),
        LRet::Uint => "u32".into(),
        LRet::Uint64 | LRet::Cookie => "u64".into(),
        LRet::SizeT | LRet::Uintptr => "usize".into(),
        LRet::StaticString => "&'static str".into(),
        LRet::String => "String".into(),
        LRet::Fd => "std::os::fd::RawFd".into(),
        LRet::Enum(e) => type_name(&e.name),
        LRet::Flags(f) => type_name(&f.name),
        LRet::Handle => "crate::Handle".into(),
    }
}

fn state_variant(s: State) -> String {
    camel(s.as_str())
}

/// `nbd_NAME(3)` references as rustdoc links to the method of `Handle`
/// (`nbd_create(3)` to `Handle::new`, the error getters to `Error`);
/// names that are no call of api.yaml stay as they are.
fn rust_refs(l: &Lowered, text: &str) -> String {
    markup::map_call_refs(text, str::to_string, |name| {
        match l.call(name).map(|c| c.def.special) {
            Some(Some(Special::Create)) => "[`Handle::new`]".to_string(),
            Some(Some(Special::Close)) => "dropping the [`Handle`]".to_string(),
            Some(Some(Special::GetError) | Some(Special::GetErrno)) => "[`Error`]".to_string(),
            Some(None) => format!("[`Handle::{}`]", rust_ident(name)),
            None => format!("nbd_{name}(3)"),
        }
    })
}

fn call_view(l: &Lowered, call: &LCall) -> CallView {
    let mut params = Vec::new();
    let mut do_args = Vec::new();
    let mut prelude = Vec::new();
    let mut checks = Vec::new();
    let mut trace_fmt = Vec::new();
    let mut trace_args = Vec::new();

    if !call.def.permitted_states.is_empty() {
        let states: Vec<String> = call
            .def
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
        let id = rust_ident(a.name);
        params.push(format!("{id}: {}", arg_type(&a.kind)));
        do_args.push(id.clone());
        // What the entry trace prints: the format, and its argument.
        let (fmt, arg) = match &a.kind {
            LArgKind::Enum(_) => {
                checks.push(format!("{id}.check(\"{}\")", a.name));
                (format!("{}={{}}", a.name), Some(format!("{id}.0")))
            }
            LArgKind::Flags { mask, .. } => {
                checks.push(format!("check_flags(\"{}\", {id}.0, {mask:#x})", a.name));
                (format!("{}={{:#x}}", a.name), Some(format!("{id}.0")))
            }
            LArgKind::BytesIn { len }
            | LArgKind::BytesOut { len }
            | LArgKind::BytesPersistIn { len }
            | LArgKind::BytesPersistOut { len } => (
                format!("{}=<buf> {len}={{}}", a.name),
                Some(format!("{id}.len()")),
            ),
            LArgKind::Closure(_) => (format!("{}=<fun>", a.name), None),
            LArgKind::Sockaddr { .. } => (format!("{}=<sockaddr>", a.name), None),
            LArgKind::String | LArgKind::StringList | LArgKind::Path => {
                (format!("{}={{:?}}", a.name), Some(id.clone()))
            }
            by_value_arg!() => (format!("{}={{}}", a.name), Some(id.clone())),
        };
        trace_fmt.push(fmt);
        trace_args.extend(arg);
    }
    // A read buffer is cleared before anything can fail, when
    // nbd_set_pread_initialize is on (libnbd's contract).
    if let Some(buf) = &call.read_buffer {
        prelude.push(format!("{};", buf.initialize(&rust_ident(buf.name))));
    }
    for o in &call.optargs {
        let id = rust_ident(o.name);
        match &o.kind {
            LOptKind::Closure(cb) => {
                params.push(format!("{id}: Option<{}Callback>", camel(cb.name)));
                do_args.push(id.clone());
                trace_fmt.push(format!("{}=<fun>", o.name));
            }
            LOptKind::Flags { set, mask } => {
                params.push(format!("{id}: Option<{}>", type_name(&set.name)));
                prelude.push(format!("let {id} = {id}.unwrap_or_default();"));
                do_args.push(id.clone());
                if set.name == "cmd_flag" {
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

    let def = call.def;
    let mut doc = markup::to_markdown(&rust_refs(l, &def.longdesc), "c");
    if let Some(r) = &def.returns {
        doc.push_str("\n\n# Returns\n\n");
        doc.push_str(&markup::to_markdown(&rust_refs(l, r), "c"));
    }
    if !def.permitted_states.is_empty() {
        let s: Vec<&str> = def.permitted_states.iter().map(|s| s.as_str()).collect();
        doc.push_str(&format!("\n\nPermitted in the states: {}.", s.join(", ")));
    }
    doc.push_str(&format!("\n\n{}", call.origin_c));

    CallView {
        name: rust_ident(call.name),
        c_name: call.c_name.clone(),
        doc: format!("{}.\n\n{doc}", capitalise(&def.shortdesc)),
        params: params.join(", "),
        ret: ret_type(&call.ret),
        locked: def.locked,
        may_set_error: def.may_set_error,
        prelude,
        checks,
        do_args: do_args.join(", "),
        trace_fmt: trace_fmt.join(" "),
        trace_args: trace_args.join(", "),
    }
}

fn value_view(name: &str, value: String, doc: &str) -> ValueView {
    ValueView {
        name: name.to_string(),
        value,
        doc: capitalise(doc),
    }
}

fn flags_view(f: &LFlags) -> FlagsView {
    FlagsView {
        name: type_name(&f.def.name),
        doc: capitalise(&f.def.doc),
        values: f
            .def
            .values
            .iter()
            .map(|v| value_view(&v.name, format!("{:#x}", v.value), &v.doc))
            .collect(),
        mask: format!("{:#x}", f.mask),
        default: format!("{:#x}", f.default),
        permitted: f
            .permitted
            .iter()
            .map(|p| {
                let who = match p.twin {
                    Some(twin) => format!("`nbd_{}` and `nbd_{}` accept", p.call.name, twin.name),
                    None => format!("`nbd_{}` accepts", p.call.name),
                };
                PermittedView {
                    name: format!("PERMITTED_{}", p.call.name.to_uppercase()),
                    value: format!("{:#x}", p.mask),
                    doc: format!("The flags {who} (api.yaml's `permitted` list)"),
                }
            })
            .collect(),
    }
}

pub(crate) fn outputs(l: &Lowered) -> Result<Vec<Output>, Error> {
    let api = l.api;
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
                    .map(|v| value_view(&v.name, v.value.to_string(), &v.doc))
                    .collect(),
            })
            .collect(),
        flags: l.flags.iter().map(flags_view).collect(),
        constants: api
            .constants
            .iter()
            .map(|k| {
                let (ty, value) = match &k.value {
                    ConstValue::Int(i) if *i >= 0 && *i <= u32::MAX as i64 => {
                        ("u32".to_string(), i.to_string())
                    }
                    ConstValue::Int(i) => ("i64".to_string(), i.to_string()),
                    ConstValue::Str(s) => ("&str".to_string(), format!("{s:?}")),
                };
                ConstView {
                    name: k.name.clone(),
                    ty,
                    value,
                    doc: capitalise(&k.doc),
                }
            })
            .collect(),
        callbacks: l
            .callbacks
            .iter()
            .map(|cb| CallbackView {
                name: format!("{}Callback", camel(cb.name)),
                doc: capitalise(&cb.def.doc),
                args: comma_list(cb.args.iter().map(|a| a.rust_type(""))),
            })
            .collect(),
        states: State::ALL
            .iter()
            .map(|s| StateView {
                name: state_variant(*s),
                doc: state_doc(*s).into(),
            })
            .collect(),
    };
    let dispatch = DispatchView {
        calls: l.regular_calls().map(|c| call_view(l, c)).collect(),
    };
    let asynch = AsyncView {
        calls: l
            .regular_calls()
            .filter_map(|c| async_call_view(l, c))
            .collect(),
    };
    Ok(vec![
        module_index(
            "core/src/generated/mod.rs",
            "The layer generated from api.yaml: see docs/core-contract.md.",
            &["async_handle", "dispatch", "types"],
        ),
        rendered(
            "core/src/generated/async_handle.rs",
            Lang::Rust,
            "rust/async.rs.tera",
            &asynch,
        )?,
        rendered(
            "core/src/generated/types.rs",
            Lang::Rust,
            "rust/types.rs.tera",
            &types,
        )?,
        rendered(
            "core/src/generated/dispatch.rs",
            Lang::Rust,
            "rust/dispatch.rs.tera",
            &dispatch,
        )?,
    ])
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

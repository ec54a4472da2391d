//! The methods of the `NBD` class: one per call, and a promise form per
//! aio call that starts an operation.

use serde::Serialize;

use super::callbacks::callback_alias;
use super::jsdoc;
use crate::lower::{number_ret, LArg, LArgKind, LCall, LOptArg, LOptKind, LRet, Lowered};
use crate::names::{self, camel, capitalise, lower_camel, rust_ident};

#[derive(Serialize)]
pub(super) struct MethodView {
    /// The JavaScript name (`preadAsync`).
    js_name: String,
    /// The Rust method name (`pread_async`).
    rust_name: String,
    /// The parameters, conversions and core call (the same shape for
    /// both forms).
    #[serde(flatten)]
    parts: Assembled,
    /// Synchronous methods: whether the core call returns a `Result`, the
    /// Rust return type, and the expression turning `ret` into it.
    may_fail: bool,
    /// The call makes a connection: V8 is told what the handle now holds.
    connects: bool,
    ret: String,
    convert: String,
    uses_ret: bool,
    /// Promise methods: the name of the C call, what the promise waits
    /// for and what it resolves to.
    c_name: String,
    wait: String,
    value: String,
    /// Promise methods: the core call's result as the driver takes it,
    /// the command's cookie when there is one (`.map(Some)`).
    ret_map: String,
    /// One line for the Rust doc comment.
    summary: String,
    /// The .d.ts return type and JSDoc lines.
    ts_ret: String,
    jsdoc: Vec<String>,
}

/// Whose context a callback made by a method belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// A synchronous (or raw aio) method: exceptions fail the running call.
    Sync,
    /// A promise method: exceptions reject the promise.
    Promise,
}

impl Form {
    fn cx(self) -> &'static str {
        match self {
            Form::Sync => "conn.cx.clone()",
            Form::Promise => "op.cx()",
        }
    }
}

/// One required argument's contribution to a method.
struct ArgParts {
    param: String,
    prelude: Vec<String>,
    callbacks: Vec<String>,
    call_arg: String,
    ts: String,
}

fn arg_parts(call: &LCall, a: &LArg, form: Form) -> ArgParts {
    // A bytes_out argument is replaced by its length, as in libnbd's
    // Python module; so is a promise method's bytes_persist_out.
    let shown = match &call.read_buffer {
        Some(b) if b.persistent && b.name == a.name && form == Form::Promise => b.len,
        Some(_) | None => a.shown,
    };
    let ts_name = lower_camel(shown);
    let id = rust_ident(shown);
    let local = rust_ident(a.name);
    let simple = |rust: &str, ts: &str, call_arg: String| ArgParts {
        param: format!("{id}: {rust}"),
        prelude: vec![],
        callbacks: vec![],
        call_arg,
        ts: format!("{ts_name}: {ts}"),
    };
    match &a.kind {
        LArgKind::Bool => simple("bool", "boolean", id.clone()),
        LArgKind::Int | LArgKind::Fd => simple("conv::I32", "number", format!("{id}.0")),
        LArgKind::Uint | LArgKind::Uint32 => simple("conv::U32", "number", format!("{id}.0")),
        LArgKind::Int64 => simple("conv::I64", "number | bigint", format!("{id}.0")),
        LArgKind::Uint64 => simple("conv::U64", "number | bigint", format!("{id}.0")),
        LArgKind::SizeT | LArgKind::Uintptr => simple("conv::Usize", "number", format!("{id}.0")),
        LArgKind::String => simple("String", "string", format!("&{id}")),
        LArgKind::Path => simple("String", "string", format!("std::path::Path::new(&{id})")),
        LArgKind::StringList => ArgParts {
            prelude: vec![format!("let {id} = conv::str_list(&{id});")],
            ..simple("Vec<String>", "string[]", format!("&{id}"))
        },
        LArgKind::Sockaddr { .. } => ArgParts {
            prelude: vec![format!("let {id} = conv::sockaddr(&{id})?;")],
            ..simple("String", "string", format!("&{id}"))
        },
        LArgKind::BytesIn { .. } => simple("Buffer", "Uint8Array", format!("&{id}")),
        LArgKind::BytesOut { .. } => ArgParts {
            prelude: vec![format!("let mut {local} = vec![0u8; {id}.0];")],
            ..simple("conv::Usize", "number", format!("&mut {local}"))
        },
        LArgKind::BytesPersistIn { .. } => match form {
            // Copied, so the caller may reuse its buffer at once.
            Form::Promise => ArgParts {
                prelude: vec![format!(
                    "let {id} = nbd::AioBuffer::from_vec({id}.to_vec());"
                )],
                ..simple("Buffer", "Uint8Array", id.clone())
            },
            Form::Sync => ArgParts {
                prelude: vec![format!("let {id} = conv::persist({id});")],
                ..simple("Buffer", "Buffer", id.clone())
            },
        },
        LArgKind::BytesPersistOut { .. } => match form {
            Form::Promise => ArgParts {
                prelude: vec![format!("let {local} = nbd::AioBuffer::new({id}.0);")],
                ..simple("conv::Usize", "number", format!("{local}.clone()"))
            },
            Form::Sync => ArgParts {
                prelude: vec![format!("let {id} = conv::persist({id});")],
                ..simple("Buffer", "Buffer", id.clone())
            },
        },
        LArgKind::Closure(cb) => ArgParts {
            callbacks: vec![format!(
                "let {id} = {}_callback(&env, {id}.raw(), {})?;",
                cb.name,
                form.cx()
            )],
            ..simple("Unknown<'_>", &callback_alias(cb.name), id.clone())
        },
        LArgKind::Enum(_) => simple("conv::I32", "number", a.core_arg(&format!("{id}.0"))),
        LArgKind::Flags { .. } => simple("conv::U32", "number", a.core_arg(&format!("{id}.0"))),
    }
}

/// One optional argument: a key of the options object.
struct OptParts {
    key: String,
    prelude: Vec<String>,
    callbacks: Vec<String>,
    call_arg: String,
    ts: String,
}

fn optarg_parts(o: &LOptArg, form: Form) -> Option<OptParts> {
    let key = lower_camel(o.name);
    let id = rust_ident(o.name);
    Some(match &o.kind {
        LOptKind::Closure(cb) => {
            // The promise is the completion callback of a promise method.
            if cb.name == "completion" && form == Form::Promise {
                return None;
            }
            OptParts {
                prelude: vec![],
                callbacks: vec![format!(
                    "let {id} = opts.function(\"{key}\")?.map(|f| {}_callback(&env, f, {})).transpose()?;",
                    cb.name,
                    form.cx()
                )],
                call_arg: id.clone(),
                ts: format!("{key}?: {}", callback_alias(cb.name)),
                key,
            }
        }
        LOptKind::Flags { .. } => OptParts {
            prelude: vec![format!("let {id} = opts.flags(\"{key}\")?;")],
            callbacks: vec![],
            call_arg: o.core_arg(&id),
            ts: format!("{key}?: number"),
            key,
        },
    })
}

/// The parts shared by both forms of a method.
#[derive(Serialize)]
struct Assembled {
    /// Rust parameters after `env: Env`.
    params: String,
    /// The keys of the options object, or None when the call has no
    /// optional arguments (and so no options parameter).
    option_keys: Option<String>,
    /// Statements converting the arguments, before the operation starts.
    prelude: Vec<String>,
    /// Statements making the callbacks, after the operation starts (they
    /// need its context).
    callbacks: Vec<String>,
    /// The core call.
    call: String,
    /// The .d.ts parameter list.
    ts_params: String,
}

fn assemble(call: &LCall, form: Form, completion: Option<&str>) -> Assembled {
    let mut params = vec![];
    let mut prelude = vec![];
    let mut callbacks = vec![];
    let mut call_args = vec![];
    let mut ts_params = vec![];
    for a in &call.args {
        let p = arg_parts(call, a, form);
        params.push(p.param);
        prelude.extend(p.prelude);
        callbacks.extend(p.callbacks);
        call_args.push(p.call_arg);
        ts_params.push(p.ts);
    }
    let mut keys = vec![];
    let mut ts_opts = vec![];
    let mut opt_prelude = vec![];
    for o in &call.optargs {
        match optarg_parts(o, form) {
            Some(p) => {
                keys.push(format!("\"{}\"", p.key));
                opt_prelude.extend(p.prelude);
                callbacks.extend(p.callbacks);
                call_args.push(p.call_arg);
                ts_opts.push(p.ts);
            }
            None => call_args.push(completion.unwrap_or("None").to_string()),
        }
    }
    let option_keys = if keys.is_empty() {
        None
    } else {
        Some(keys.join(", "))
    };
    if option_keys.is_some() {
        params.push("options: Option<Unknown<'_>>".into());
        ts_params.push(format!("options?: {{ {} }}", ts_opts.join("; ")));
        prelude.extend(opt_prelude);
    }
    Assembled {
        params: params.join(", "),
        option_keys,
        prelude,
        callbacks,
        call: format!(
            "conn.handle.{}({})",
            rust_ident(call.name),
            call_args.join(", ")
        ),
        ts_params: ts_params.join(", "),
    }
}

/// The Rust return type, the conversion of the core's value `ret`, and the
/// TypeScript type, of a synchronous method.
fn ret_parts(call: &LCall) -> (String, String, String) {
    if let Some(buf) = call.returned_buffer {
        return (
            "Buffer".into(),
            format!("Buffer::from({})", rust_ident(buf)),
            "Buffer".into(),
        );
    }
    let wide = |conv: &str| format!("conv::exact(ret as i128, \"{}\")?{conv}", call.c_name);
    let (rust, convert, ts): (&str, String, &str) = match &call.ret {
        LRet::Error | LRet::Void => ("()", "()".into(), "void"),
        LRet::Bool => ("bool", "ret".into(), "boolean"),
        LRet::Int | LRet::Fd => ("i32", "ret".into(), "number"),
        LRet::Uint => ("u32", "ret".into(), "number"),
        LRet::Int64 | LRet::Uint64 | LRet::Cookie | LRet::SizeT | LRet::Uintptr => {
            ("f64", wide(""), "number")
        }
        LRet::StaticString => ("String", "ret.to_string()".into(), "string"),
        LRet::String => ("String", "ret".into(), "string"),
        LRet::Enum(_) => ("i32", "ret.0".into(), "number"),
        LRet::Flags(_) => ("u32", "ret.0".into(), "number"),
        // Only the special `create`, which is the constructor.
        LRet::Handle => ("()", "()".into(), "void"),
    };
    (rust.into(), convert, ts.into())
}

pub(super) fn method_view(l: &Lowered, call: &LCall) -> MethodView {
    let def = call.def;
    let a = assemble(call, Form::Sync, None);
    let (ret, convert, ts_ret) = ret_parts(call);
    let summary = format!("{}.", capitalise(&def.shortdesc));
    MethodView {
        js_name: names::js_method(call.name),
        rust_name: rust_ident(call.name),
        parts: a,
        may_fail: def.may_set_error,
        uses_ret: convert.contains("ret"),
        ret,
        convert,
        c_name: call.c_name.clone(),
        wait: String::new(),
        ret_map: String::new(),
        connects: def.connects(),
        value: String::new(),
        ts_ret,
        jsdoc: jsdoc(
            l,
            &summary,
            &def.longdesc,
            std::slice::from_ref(&call.origin_c),
        ),
        summary,
    }
}

/// The promise form of an aio call, if it has one.
pub(super) fn async_view(l: &Lowered, call: &LCall) -> Option<MethodView> {
    let js_name = names::js_promise_method(call.def)?;
    let op = call.name.strip_prefix("aio_")?;
    let def = call.def;
    let has_completion = call.optargs.iter().any(|o| match &o.kind {
        LOptKind::Closure(cb) => cb.name == "completion",
        LOptKind::Flags { .. } => false,
    });
    let wait = if has_completion {
        "driver::Wait::Completion".to_string()
    } else {
        // Validation makes sure there are states to wait out.
        let states: Vec<String> = def
            .permitted_states
            .iter()
            .map(|s| format!("driver::State::{}", camel(s.as_str())))
            .collect();
        format!("driver::Wait::Leave(&[{}])", states.join(", "))
    };
    let a = assemble(call, Form::Promise, Some("Some(op.completion())"));
    let read = call.read_buffer.as_ref().filter(|b| b.persistent);
    let (value, ts_ret, resolves) = match read {
        Some(b) => (
            format!("driver::Value::Read({})", rust_ident(b.name)),
            "Promise<Buffer>",
            "resolves with the data read",
        ),
        None => (
            "driver::Value::Undefined".to_string(),
            "Promise<void>",
            "resolves",
        ),
    };
    let when = if has_completion {
        "when the command completes"
    } else {
        "when the handle has left its current state"
    };
    // The aio call's description speaks of cookies and completion
    // callbacks, which the promise replaces: point to the blocking call's
    // instead when there is one.
    let sync = l.call(op).map(|c| c.def).filter(|c| c.special.is_none());
    let (summary, body) = match sync {
        Some(s) => (capitalise(&s.shortdesc), ""),
        None => (capitalise(&def.shortdesc), def.longdesc.as_str()),
    };
    let summary = format!(
        "{summary}, without blocking: the promise {resolves} {when}, and rejects with an `NbdError` if it fails."
    );
    let mut extra = vec![format!(
        "The promise form of `nbd_{}`: the event loop runs while the operation is in flight, and many may be in flight at once. Callbacks run on the JavaScript thread; an exception in one fails the operation and becomes the `cause` of the rejection.",
        call.name
    )];
    if let Some(s) = sync {
        extra.push(format!(
            "See nbd_{}(3) for the details of the operation.",
            s.name
        ));
    }
    extra.push(call.origin_c.clone());
    Some(MethodView {
        js_name,
        rust_name: format!("{}_async", op),
        parts: a,
        may_fail: true,
        ret: String::new(),
        convert: String::new(),
        uses_ret: false,
        c_name: call.c_name.clone(),
        wait,
        value,
        connects: def.connects(),
        ret_map: promise_ret_map(&call.ret).to_string(),
        ts_ret: ts_ret.to_string(),
        jsdoc: jsdoc(l, &summary, body, &extra),
        summary,
    })
}

/// The core call's result as the promise driver takes it: the command's
/// cookie when there is one.
fn promise_ret_map(r: &LRet) -> &'static str {
    match r {
        LRet::Cookie => ".map(Some)",
        number_ret!()
        | LRet::Error
        | LRet::Bool
        | LRet::StaticString
        | LRet::String
        | LRet::Enum(_)
        | LRet::Flags(_)
        | LRet::Void
        | LRet::Handle => ".map(|_| None)",
    }
}

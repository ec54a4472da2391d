//! The Node.js binding's generated layer: the napi-rs methods of the `NBD`
//! class and one wrapper per callback kind
//! (`bindings/node/src/generated.rs`), the package's entry point with the
//! constants and `NbdError` (`index.js`), its TypeScript declarations with
//! JSDoc from the descriptions (`index.d.ts`), and `package.json`.
//!
//! Every call but the four special ones becomes a camelCase method taking
//! the required arguments in order and the optional ones in a final
//! options object (`h.pwrite(buf, offset, { flags })`); a `bytes_out`
//! argument is replaced by its length and the method returns a `Buffer`,
//! as libnbd's Python module does. Each aio call that starts an operation
//! (every aio call outside the `aio_control` group) also gets a promise
//! form named after the operation (`aio_pread` -> `preadAsync`), whose
//! completion callback the binding supplies; it resolves when the command
//! completes, or, for calls without a completion callback (connecting),
//! when the handle leaves the states the call is permitted in.

use serde::Serialize;

use crate::backend_rust::type_name;
use crate::markup;
use crate::model::*;
use crate::names::{camel, capitalise, lower_camel, rust_ident};
use crate::render::render;
use crate::{Error, Lang, Output};

const RUST_OUT: &str = "bindings/node/src/generated.rs";
const JS_OUT: &str = "bindings/node/index.js";
const DTS_OUT: &str = "bindings/node/index.d.ts";
const PACKAGE_OUT: &str = "bindings/node/package.json";

/// The npm package's name, and the file name of the built addon in it.
const PACKAGE_NAME: &str = "libnbd";
const ADDON_FILE: &str = "nbd.node";

/// Names the generated method bodies use for themselves; an argument of
/// api.yaml must not take one of them.
const RESERVED: &[&str] = &["env", "conn", "opts", "options", "ret", "op", "self", "holder", "f"];

/// JavaScript reserved words, which cannot name a parameter in the .d.ts.
const JS_RESERVED: &[&str] = &[
    "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do",
    "else", "enum", "export", "extends", "false", "finally", "for", "function", "if", "import", "in",
    "instanceof", "new", "null", "return", "super", "switch", "this", "throw", "true", "try",
    "typeof", "var", "void", "while", "with", "yield", "let", "static", "implements", "interface",
    "package", "private", "protected", "public", "await",
];

#[derive(Serialize)]
struct MethodView {
    /// The JavaScript name (`preadAsync`).
    js_name: String,
    /// The Rust method name (`pread_async`).
    rust_name: String,
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
    /// The .d.ts parameter list, return type and JSDoc lines.
    ts_params: String,
    ts_ret: String,
    jsdoc: Vec<String>,
}

#[derive(Serialize)]
struct CallbackView {
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

#[derive(Serialize)]
struct MemberView {
    name: String,
    /// A JavaScript literal (`1`, `"base:allocation"`), also its TS type.
    value: String,
    doc: String,
}

/// An enum or a flag set: one frozen object (`TLS`, `CMD_FLAG`).
#[derive(Serialize)]
struct GroupView {
    name: String,
    doc: String,
    members: Vec<MemberView>,
}

#[derive(Serialize)]
struct NodeView {
    methods: Vec<MethodView>,
    asyncs: Vec<MethodView>,
    callbacks: Vec<CallbackView>,
    groups: Vec<GroupView>,
    constants: Vec<MemberView>,
    /// TypeScript aliases of the callback function types.
    callback_types: Vec<CallbackTypeView>,
    package_name: String,
    version: String,
    addon_file: String,
}

#[derive(Serialize)]
struct CallbackTypeView {
    name: String,
    ty: String,
    doc: String,
}

/// `nbd_pread(3)` -> `{@link NBD.pread}` and `LIBNBD_CMD_FLAG_FUA` ->
/// `CMD_FLAG.FUA`: the names a JavaScript reader finds in this package.
fn js_refs(api: &Api, text: &str) -> String {
    let linked = markup::map_call_refs(text, str::to_string, |name| {
        let special = api.calls.iter().find(|c| c.name == name).and_then(|c| c.special);
        match special {
            Some(Special::Create) => "`new NBD()`".to_string(),
            Some(Special::GetError) | Some(Special::GetErrno) => "`NbdError`".to_string(),
            Some(Special::Close) | None => format!("{{@link NBD.{}}}", lower_camel(name)),
        }
    });
    constant_refs(api, &linked)
}

fn constant_refs(api: &Api, text: &str) -> String {
    let mut prefixes: Vec<&str> = api.enums.iter().map(|e| e.prefix.as_str()).chain(api.flags.iter().map(|f| f.prefix.as_str())).collect();
    // The longest prefix first, so that `CMD_FLAG` does not take a longer
    // one's names.
    prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("LIBNBD_") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 7..];
        let word: String = tail.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let grouped = prefixes
            .iter()
            .find_map(|p| word.strip_prefix(p).and_then(|r| r.strip_prefix('_')).map(|member| format!("{p}.{member}")));
        out.push_str(&grouped.unwrap_or_else(|| word.clone()));
        rest = &tail[word.len()..];
    }
    out.push_str(rest);
    out
}

/// JSDoc lines (without the ` * ` prefix) from summary and markup text.
///
/// The texts use libnbd's `nbd_foo(3)` references; they are rewritten
/// after wrapping, so that a `{@link ...}` is never split across lines.
fn jsdoc(api: &Api, summary: &str, body: &str, extra: &[String]) -> Vec<String> {
    let mut paras = vec![markup::wrap(summary, 76)];
    let body = markup::to_markdown(body, "c");
    if !body.is_empty() {
        paras.push(body);
    }
    paras.extend(extra.iter().map(|e| markup::wrap(e, 76)));
    let text = js_refs(api, &paras.join("\n\n"));
    // `*/` would end the comment.
    text.replace("*/", "*\\/").lines().map(|l| l.trim_end().to_string()).collect()
}

fn callback<'a>(api: &'a Api, name: &str) -> Result<&'a CallbackDef, Error> {
    api.callbacks.iter().find(|c| c.name == name).ok_or_else(|| Error(format!("node: no callback named `{name}`")))
}

/// The TypeScript alias of a callback's function type (`ChunkCallback`).
fn callback_alias(name: &str) -> String {
    format!("{}Callback", camel(name))
}

fn js_param(call: &Call, name: &str) -> Result<String, Error> {
    let js = lower_camel(name);
    if RESERVED.contains(&name) || JS_RESERVED.contains(&js.as_str()) {
        return Err(Error(format!("node: call {}: argument `{name}` clashes with a name the binding uses", call.name)));
    }
    Ok(js)
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

fn arg_parts(api: &Api, call: &Call, a: &Arg, form: Form) -> Result<ArgParts, Error> {
    // A bytes_out argument is replaced by its length, as in libnbd's
    // Python module; so is a promise method's bytes_persist_out.
    let shown = match &a.kind {
        ArgKind::BytesOut { len } => len.clone(),
        ArgKind::BytesPersistOut { len } if form == Form::Promise => len.clone(),
        _ => a.name.clone(),
    };
    let ts_name = js_param(call, &shown)?;
    js_param(call, &a.name)?;
    let id = rust_ident(&shown);
    let local = rust_ident(&a.name);
    let simple = |rust: &str, ts: &str, call_arg: String| ArgParts {
        param: format!("{id}: {rust}"),
        prelude: vec![],
        callbacks: vec![],
        call_arg,
        ts: format!("{ts_name}: {ts}"),
    };
    let parts = match &a.kind {
        ArgKind::Bool => simple("bool", "boolean", id.clone()),
        ArgKind::Int | ArgKind::Fd => simple("conv::I32", "number", format!("{id}.0")),
        ArgKind::Uint | ArgKind::Uint32 => simple("conv::U32", "number", format!("{id}.0")),
        ArgKind::Int64 => simple("conv::I64", "number | bigint", format!("{id}.0")),
        ArgKind::Uint64 => simple("conv::U64", "number | bigint", format!("{id}.0")),
        ArgKind::SizeT | ArgKind::Uintptr => simple("conv::Usize", "number", format!("{id}.0")),
        ArgKind::String => simple("String", "string", format!("&{id}")),
        ArgKind::Path => simple("String", "string", format!("std::path::Path::new(&{id})")),
        ArgKind::StringList => ArgParts {
            prelude: vec![format!("let {id} = conv::str_list(&{id});")],
            ..simple("Vec<String>", "string[]", format!("&{id}"))
        },
        ArgKind::Sockaddr { .. } => ArgParts {
            prelude: vec![format!("let {id} = conv::sockaddr(&{id})?;")],
            ..simple("String", "string", format!("&{id}"))
        },
        ArgKind::BytesIn { .. } => simple("Buffer", "Uint8Array", format!("&{id}")),
        ArgKind::BytesOut { .. } => ArgParts {
            prelude: vec![format!("let mut {local} = vec![0u8; {id}.0];")],
            ..simple("conv::Usize", "number", format!("&mut {local}"))
        },
        ArgKind::BytesPersistIn { .. } => match form {
            // Copied, so the caller may reuse its buffer at once.
            Form::Promise => ArgParts {
                prelude: vec![format!("let {id} = nbd::AioBuffer::from_vec({id}.to_vec());")],
                ..simple("Buffer", "Uint8Array", id.clone())
            },
            Form::Sync => ArgParts {
                prelude: vec![format!("let {id} = conv::persist({id});")],
                ..simple("Buffer", "Buffer", id.clone())
            },
        },
        ArgKind::BytesPersistOut { .. } => match form {
            Form::Promise => ArgParts {
                prelude: vec![format!("let {local} = nbd::AioBuffer::new({id}.0);")],
                ..simple("conv::Usize", "number", format!("{local}.clone()"))
            },
            Form::Sync => ArgParts {
                prelude: vec![format!("let {id} = conv::persist({id});")],
                ..simple("Buffer", "Buffer", id.clone())
            },
        },
        ArgKind::Closure { callback: cb } => {
            callback(api, cb)?;
            ArgParts {
                callbacks: vec![format!("let {id} = {cb}_callback(&env, {id}.raw(), {})?;", form.cx())],
                ..simple("Unknown<'_>", &callback_alias(cb), id.clone())
            }
        }
        ArgKind::Enum { r#enum } => simple("conv::I32", "number", format!("nbd::{}({id}.0)", type_name(r#enum))),
        ArgKind::Flags { flags } => simple("conv::U32", "number", format!("nbd::{}({id}.0)", type_name(flags))),
    };
    Ok(parts)
}

/// One optional argument: a key of the options object.
struct OptParts {
    key: String,
    prelude: Vec<String>,
    callbacks: Vec<String>,
    call_arg: String,
    ts: String,
}

fn optarg_parts(api: &Api, call: &Call, o: &OptArg, form: Form) -> Result<Option<OptParts>, Error> {
    let key = js_param(call, &o.name)?;
    let id = rust_ident(&o.name);
    Ok(Some(match &o.kind {
        // The promise is the completion callback of a promise method.
        OptArgKind::Closure { callback: cb } if cb == "completion" && form == Form::Promise => return Ok(None),
        OptArgKind::Closure { callback: cb } => {
            callback(api, cb)?;
            OptParts {
                prelude: vec![],
                callbacks: vec![format!(
                    "let {id} = opts.function(\"{key}\")?.map(|f| {cb}_callback(&env, f, {})).transpose()?;",
                    form.cx()
                )],
                call_arg: id.clone(),
                ts: format!("{key}?: {}", callback_alias(cb)),
                key,
            }
        }
        OptArgKind::Flags { flags, .. } => OptParts {
            prelude: vec![format!("let {id} = opts.flags(\"{key}\")?;")],
            callbacks: vec![],
            call_arg: format!("Some(nbd::{}({id}))", type_name(flags)),
            ts: format!("{key}?: number"),
            key,
        },
    }))
}

/// The parts shared by both forms of a method.
struct Assembled {
    params: String,
    option_keys: Option<String>,
    prelude: Vec<String>,
    callbacks: Vec<String>,
    call: String,
    ts_params: String,
}

fn assemble(api: &Api, call: &Call, form: Form, completion: Option<&str>) -> Result<Assembled, Error> {
    let mut params = vec![];
    let mut prelude = vec![];
    let mut callbacks = vec![];
    let mut call_args = vec![];
    let mut ts_params = vec![];
    for a in &call.args {
        let p = arg_parts(api, call, a, form)?;
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
        match optarg_parts(api, call, o, form)? {
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
    let option_keys = if keys.is_empty() { None } else { Some(keys.join(", ")) };
    if option_keys.is_some() {
        params.push("options: Option<Unknown<'_>>".into());
        ts_params.push(format!("options?: {{ {} }}", ts_opts.join("; ")));
        prelude.extend(opt_prelude);
    }
    Ok(Assembled {
        params: params.join(", "),
        option_keys,
        prelude,
        callbacks,
        call: format!("conn.handle.{}({})", rust_ident(&call.name), call_args.join(", ")),
        ts_params: ts_params.join(", "),
    })
}

/// The Rust return type, the conversion of the core's value `ret`, and the
/// TypeScript type, of a synchronous method.
fn ret_parts(call: &Call) -> (String, String, String) {
    if let Some(a) = call.args.iter().find(|a| matches!(a.kind, ArgKind::BytesOut { .. })) {
        return ("Buffer".into(), format!("Buffer::from({})", rust_ident(&a.name)), "Buffer".into());
    }
    let c_name = format!("nbd_{}", call.name);
    let wide = |conv: &str| format!("conv::exact(ret as i128, \"{c_name}\")?{conv}");
    let (rust, convert, ts): (&str, String, &str) = match &call.ret {
        RetKind::Error | RetKind::Void => ("()", "()".into(), "void"),
        RetKind::Bool => ("bool", "ret".into(), "boolean"),
        RetKind::Int | RetKind::Fd => ("i32", "ret".into(), "number"),
        RetKind::Uint => ("u32", "ret".into(), "number"),
        RetKind::Int64 | RetKind::Uint64 | RetKind::Cookie | RetKind::SizeT | RetKind::Uintptr => ("f64", wide(""), "number"),
        RetKind::StaticString => ("String", "ret.to_string()".into(), "string"),
        RetKind::String => ("String", "ret".into(), "string"),
        RetKind::Enum { .. } => ("i32", "ret.0".into(), "number"),
        RetKind::Flags { .. } => ("u32", "ret.0".into(), "number"),
        // Only the special `create`, which is the constructor.
        RetKind::Handle => ("()", "()".into(), "void"),
    };
    (rust.into(), convert, ts.into())
}

fn since(call: &Call) -> String {
    format!("{} C: `nbd_{}`.", call.origin(), call.name)
}

fn method_view(api: &Api, call: &Call) -> Result<MethodView, Error> {
    let a = assemble(api, call, Form::Sync, None)?;
    let (ret, convert, ts_ret) = ret_parts(call);
    let summary = format!("{}.", capitalise(&call.shortdesc));
    Ok(MethodView {
        js_name: lower_camel(&call.name),
        rust_name: rust_ident(&call.name),
        params: a.params,
        option_keys: a.option_keys,
        prelude: a.prelude,
        callbacks: a.callbacks,
        call: a.call,
        may_fail: call.may_set_error,
        uses_ret: convert.contains("ret"),
        ret,
        convert,
        c_name: format!("nbd_{}", call.name),
        wait: String::new(),
        ret_map: String::new(),
        connects: call.connects(),
        value: String::new(),
        ts_params: a.ts_params,
        ts_ret,
        jsdoc: jsdoc(api, &summary, &call.longdesc, &[since(call)]),
        summary,
    })
}

/// The promise form of an aio call, if it has one.
fn async_view(api: &Api, call: &Call) -> Result<Option<MethodView>, Error> {
    let Some(op) = call.name.strip_prefix("aio_") else { return Ok(None) };
    if call.group == Group::AioControl || call.special.is_some() {
        return Ok(None);
    }
    let has_completion = call
        .optargs
        .iter()
        .any(|o| matches!(&o.kind, OptArgKind::Closure { callback } if callback == "completion"));
    let wait = if has_completion {
        "driver::Wait::Completion".to_string()
    } else {
        if call.permitted_states.is_empty() {
            return Err(Error(format!(
                "node: call {} has neither a completion callback nor permitted states to wait out",
                call.name
            )));
        }
        let states: Vec<String> =
            call.permitted_states.iter().map(|s| format!("driver::State::{}", camel(s.as_str()))).collect();
        format!("driver::Wait::Leave(&[{}])", states.join(", "))
    };
    let a = assemble(api, call, Form::Promise, Some("Some(op.completion())"))?;
    let read = call.args.iter().find(|a| matches!(a.kind, ArgKind::BytesPersistOut { .. }));
    let (value, ts_ret, resolves) = match read {
        Some(a) => (
            format!("driver::Value::Read({})", rust_ident(&a.name)),
            "Promise<Buffer>",
            "resolves with the data read",
        ),
        None => ("driver::Value::Undefined".to_string(), "Promise<void>", "resolves"),
    };
    let when = if has_completion { "when the command completes" } else { "when the handle has left its current state" };
    // The aio call's description speaks of cookies and completion
    // callbacks, which the promise replaces: point to the blocking call's
    // instead when there is one.
    let sync = api.calls.iter().find(|c| c.name == op && c.special.is_none());
    let (summary, body) = match sync {
        Some(s) => (capitalise(&s.shortdesc), ""),
        None => (capitalise(&call.shortdesc), call.longdesc.as_str()),
    };
    let summary = format!(
        "{summary}, without blocking: the promise {resolves} {when}, and rejects with an `NbdError` if it fails."
    );
    let mut extra = vec![format!(
        "The promise form of `nbd_{}`: the event loop runs while the operation is in flight, and many may be in flight at once. Callbacks run on the JavaScript thread; an exception in one fails the operation and becomes the `cause` of the rejection.",
        call.name
    )];
    if let Some(s) = sync {
        extra.push(format!("See nbd_{}(3) for the details of the operation.", s.name));
    }
    extra.push(since(call));
    Ok(Some(MethodView {
        js_name: format!("{}Async", lower_camel(op)),
        rust_name: format!("{}_async", op),
        params: a.params,
        option_keys: a.option_keys,
        prelude: a.prelude,
        callbacks: a.callbacks,
        call: a.call,
        may_fail: true,
        ret: String::new(),
        convert: String::new(),
        uses_ret: false,
        c_name: format!("nbd_{}", call.name),
        wait,
        value,
        connects: call.connects(),
        ret_map: if matches!(call.ret, RetKind::Cookie) { ".map(Some)" } else { ".map(|_| None)" }.to_string(),
        ts_params: a.ts_params,
        ts_ret: ts_ret.to_string(),
        jsdoc: jsdoc(api, &summary, body, &extra),
        summary,
    }))
}

fn callback_view(cb: &CallbackDef) -> Result<(CallbackView, CallbackTypeView), Error> {
    let mut params = Vec::new();
    let mut js_args = Vec::new();
    let mut ts_args = Vec::new();
    let mut error_arg = "None".to_string();
    for a in &cb.args {
        if RESERVED.contains(&a.name.as_str()) {
            return Err(Error(format!("node: callback {}: argument `{}` clashes with a name the binding uses", cb.name, a.name)));
        }
        let id = rust_ident(&a.name);
        let (ty, expr, ts) = match &a.kind {
            CbArgKind::BytesIn { .. } => ("&[u8]", format!("js::buffer(env, {id})?"), "Buffer"),
            CbArgKind::String => ("&str", format!("js::string(env, {id})?"), "string"),
            CbArgKind::Int => ("i32", format!("js::i32(env, {id})?"), "number"),
            CbArgKind::Uint => ("u32", format!("js::u32(env, {id})?"), "number"),
            CbArgKind::Uint64 => ("u64", format!("js::u64(env, {id})?"), "number"),
            CbArgKind::Int64 => ("i64", format!("js::i64(env, {id})?"), "number"),
            CbArgKind::Uint32Array { .. } => ("&[u32]", format!("js::array(env, {id}, |env, n| js::u32(env, *n))?"), "number[]"),
            CbArgKind::Extent64Array { .. } => {
                ("&[nbd::Extent]", format!("js::array(env, {id}, callbacks::extent)?"), "Extent[]")
            }
            CbArgKind::MutableInt => {
                error_arg = format!("Some({id})");
                ("&mut i32", "holder".to_string(), "{ value: number }")
            }
        };
        params.push(format!("{id}: {ty}"));
        js_args.push(expr);
        ts_args.push(format!("{}: {ts}", lower_camel(&a.name)));
    }
    let doc = capitalise(&cb.doc);
    Ok((
        CallbackView {
            fn_name: format!("{}_callback", cb.name),
            name: cb.name.clone(),
            rust_type: format!("nbd::{}Callback", camel(&cb.name)),
            params: params.join(", "),
            error_arg,
            js_args,
            doc: doc.clone(),
        },
        CallbackTypeView {
            name: callback_alias(&cb.name),
            ty: format!("({}) => number | void", ts_args.join(", ")),
            doc: format!("{doc}. Return a negative number (or throw) to fail the command."),
        },
    ))
}

fn flag_mask(set: &FlagsDef) -> u32 {
    set.values.iter().fold(0, |m, v| m | v.value)
}

fn groups(api: &Api) -> Vec<GroupView> {
    let mut out = Vec::new();
    for e in &api.enums {
        out.push(GroupView {
            name: e.prefix.clone(),
            doc: capitalise(&e.doc),
            members: e
                .values
                .iter()
                .map(|v| MemberView { name: v.name.clone(), value: v.value.to_string(), doc: capitalise(&v.doc) })
                .collect(),
        });
    }
    for f in &api.flags {
        let mut members: Vec<MemberView> = f
            .values
            .iter()
            .map(|v| MemberView { name: v.name.clone(), value: v.value.to_string(), doc: capitalise(&v.doc) })
            .collect();
        members.push(MemberView { name: "MASK".into(), value: flag_mask(f).to_string(), doc: "Every flag of the set".into() });
        out.push(GroupView { name: f.prefix.clone(), doc: capitalise(&f.doc), members });
    }
    out
}

fn constants(api: &Api) -> Vec<MemberView> {
    api.constants
        .iter()
        .map(|k| MemberView {
            name: k.name.clone(),
            value: match &k.value {
                ConstValue::Int(i) => i.to_string(),
                ConstValue::Str(s) => format!("{s:?}"),
            },
            doc: capitalise(&k.doc),
        })
        .collect()
}

pub(crate) fn outputs(api: &Api) -> Result<Vec<Output>, Error> {
    let mut methods = Vec::new();
    let mut asyncs = Vec::new();
    for c in api.calls.iter().filter(|c| c.special.is_none()) {
        methods.push(method_view(api, c)?);
        if let Some(a) = async_view(api, c)? {
            asyncs.push(a);
        }
    }
    let mut names: Vec<&str> = methods.iter().chain(&asyncs).map(|m| m.js_name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error(format!("node: two methods are named `{}`", w[0])));
    }
    let mut callbacks = Vec::new();
    let mut callback_types = Vec::new();
    for cb in &api.callbacks {
        let (v, t) = callback_view(cb)?;
        callbacks.push(v);
        callback_types.push(t);
    }
    let view = NodeView {
        methods,
        asyncs,
        callbacks,
        groups: groups(api),
        constants: constants(api),
        callback_types,
        package_name: PACKAGE_NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        addon_file: ADDON_FILE.into(),
    };
    Ok(vec![
        Output { path: RUST_OUT.into(), lang: Lang::Rust, text: render("node/generated.rs.tera", &view)? },
        Output { path: JS_OUT.into(), lang: Lang::JavaScript, text: render("node/index.js.tera", &view)? },
        Output { path: DTS_OUT.into(), lang: Lang::JavaScript, text: render("node/index.d.ts.tera", &view)? },
        Output { path: PACKAGE_OUT.into(), lang: Lang::Text, text: render("node/package.json.tera", &view)? },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        crate::parse(
            "enums: []\nflags:\n  - { name: cmd_flag, prefix: CMD_FLAG, doc: d, values: [{ name: FUA, value: 1 }] }\nconstants: []\ncallbacks: []\ncalls:\n  - { name: pread, ret: { kind: error }, first_version: \"1.0\", group: data, shortdesc: s, longdesc: l }\n  - { name: create, ret: { kind: handle }, special: create, first_version: \"1.0\", group: handle, shortdesc: s, longdesc: l }\n",
        )
        .unwrap()
    }

    #[test]
    fn references_become_javascript_names() {
        let api = api();
        assert_eq!(
            js_refs(&api, "see nbd_pread(3), nbd_create(3) and LIBNBD_CMD_FLAG_FUA or LIBNBD_OTHER"),
            "see {@link NBD.pread}, `new NBD()` and CMD_FLAG.FUA or OTHER"
        );
        assert_eq!(js_refs(&api, "xnbd_pread(3) nbd_foo"), "xnbd_pread(3) nbd_foo");
    }

    #[test]
    fn comments_cannot_be_closed_by_the_text() {
        let api = api();
        assert_eq!(jsdoc(&api, "S.", "a */ b", &[]), vec!["S.", "", "a *\\/ b"]);
        let long = format!("{} see nbd_pread(3)", "word ".repeat(15));
        let lines = jsdoc(&api, "S.", &long, &[]);
        assert!(lines.iter().any(|l| l.contains("{@link NBD.pread}")), "{lines:?}");
    }
}

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

use crate::markup;
use crate::model::*;
use crate::names::{camel, capitalise, ocaml_ident, rust_ident};
use crate::render::render;
use crate::{Error, Lang, Output};

/// Where the outputs go, relative to the repository root.
const RUST_OUT: &str = "bindings/ocaml/rust/src/generated.rs";
const ML_OUT: &str = "bindings/ocaml/src/NBD.ml";
const MLI_OUT: &str = "bindings/ocaml/src/NBD.mli";

/// Names the generated OCaml wrappers use for themselves.
const ML_RESERVED: &[&str] = &[
    "h",
    "ret",
    "create",
    "close",
    "with_handle",
    "errno_of_unix_error",
];
/// Names the generated Rust stubs use for themselves.
const RUST_RESERVED: &[&str] = &["cr", "h", "handle", "ret", "raised", "f"];

/// OCaml refuses more than five arguments to a native external without a
/// separate bytecode entry point.
const MAX_NATIVE_ARGS: usize = 5;

#[derive(Serialize)]
struct CallView {
    /// The OCaml value name (`pread`).
    name: String,
    /// `NBD.pread`, the name `NBD.Closed` carries.
    qualified: String,
    /// The Rust method of `nbd::Handle`.
    rust_name: String,
    /// The stub's C symbol, and the bytecode one when needed.
    stub: String,
    byte_stub: Option<String>,
    /// The `val` type in NBD.mli.
    val_type: String,
    /// The `external` type in NBD.ml (handle first, optional ones last).
    ext_type: String,
    /// The parameters of the wrapper, `?(flags = []) h buf offset`.
    ml_params: String,
    /// The wrapper's body.
    ml_body: String,
    /// The odoc comment text, and the libnbd version of the call.
    doc: String,
    /// The libnbd release for `@since`; None for an extension.
    since: Option<String>,
    /// The call makes a connection (whose buffers the GC is then told
    /// about, see `handle::account`).
    connects: bool,
    /// "Since libnbd 1.2." or the extension sentence.
    origin: String,
    /// Rust stub parameters after the handle.
    rust_params: Vec<String>,
    /// The OCaml type (ocaml-interop marker) of the stub's success value.
    rust_ret: String,
    /// Statements converting the arguments, runtime held.
    prelude: Vec<String>,
    /// Arguments of the core call.
    call_args: String,
    /// The statement turning the core result into `ret` or a failure.
    check: String,
    /// Statements after a successful call (copying read data out).
    post: Vec<String>,
    /// The Rust value returned to OCaml.
    convert: String,
}

#[derive(Serialize)]
struct CallbackView {
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
fn ml_code(api: &Api, code: &str) -> String {
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
        if ml_call_exists(api, call) {
            return format!("NBD.{call}");
        }
    }
    code.to_string()
}

/// Whether the OCaml module has a value for this call (get_error and
/// get_errno are exceptions in OCaml).
fn ml_call_exists(api: &Api, name: &str) -> bool {
    api.calls.iter().any(|c| {
        c.name == name && !matches!(c.special, Some(Special::GetError) | Some(Special::GetErrno))
    })
}

/// odoc for a paragraph of api.yaml text.
fn odoc(api: &Api, text: &str) -> String {
    let link = |name: &str| {
        if ml_call_exists(api, name) {
            format!("{{!{}}}", ocaml_ident(name))
        } else {
            format!("[nbd_{name}]")
        }
    };
    let code = |c: &str| ml_code(api, c);
    markup::to_odoc(text, &link, &code)
}

/// The doc comment of a call: summary and description (the caller adds
/// the `@since` tag, after which odoc allows no more paragraphs).
fn call_doc(api: &Api, call: &Call) -> String {
    let summary = markup::to_odoc(
        &format!("{}.", capitalise(&call.shortdesc)),
        &|n| n.to_string(),
        &|c| c.to_string(),
    );
    format!("{summary}\n\n{}", odoc(api, &call.longdesc))
}

fn callback<'a>(api: &'a Api, name: &str) -> Result<&'a CallbackDef, Error> {
    api.callbacks
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| Error(format!("ocaml: no callback named `{name}`")))
}

fn enum_prefix(api: &Api, name: &str) -> Result<String, Error> {
    api.enums
        .iter()
        .find(|e| e.name == name)
        .map(|e| e.prefix.clone())
        .ok_or_else(|| Error(format!("ocaml: no enum named `{name}`")))
}

fn flags_prefix(api: &Api, name: &str) -> Result<String, Error> {
    api.flags
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.prefix.clone())
        .ok_or_else(|| Error(format!("ocaml: no flag set named `{name}`")))
}

/// The OCaml type of a callback, as libnbd's module writes it.
fn callback_ml_type(cb: &CallbackDef) -> String {
    let mut parts: Vec<&str> = cb
        .args
        .iter()
        .map(|a| match &a.kind {
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

/// One argument's contribution to the wrapper and the stub.
struct ArgParts {
    /// In `let name <params> =`.
    ml_param: String,
    /// In the `val` type.
    ml_type: String,
    /// The expression handed to the external.
    ml_stub_arg: String,
    /// In the `external` type.
    ext_type: String,
    /// `name: OCamlRef<...>` in the Rust stub.
    rust_param: String,
    prelude: Vec<String>,
    call_arg: String,
    post: Vec<String>,
}

fn check_names(call: &Call, name: &str) -> Result<(), Error> {
    if ML_RESERVED.contains(&name) || RUST_RESERVED.contains(&name) {
        return Err(Error(format!(
            "ocaml: call {}: argument `{name}` clashes with a name the binding uses",
            call.name
        )));
    }
    Ok(())
}

fn arg_parts(api: &Api, call: &Call, a: &Arg, raised: &str) -> Result<ArgParts, Error> {
    check_names(call, &a.name)?;
    let ml = ocaml_ident(&a.name);
    let id = rust_ident(&a.name);
    let q = &a.name;
    // A positional argument whose OCaml value is passed through as is.
    let plain = |ml_ty: &str, marker: &str, prelude: Vec<String>, call_arg: String| ArgParts {
        ml_param: ml.clone(),
        ml_type: ml_ty.to_string(),
        ml_stub_arg: ml.clone(),
        ext_type: ml_ty.to_string(),
        rust_param: format!("{id}: OCamlRef<{marker}>"),
        prelude,
        call_arg,
        post: vec![],
    };
    let parts = match &a.kind {
        ArgKind::Bool => plain(
            "bool",
            "bool",
            vec![format!("let {id}: bool = {id}.to_rust(cr);")],
            id.clone(),
        ),
        ArgKind::Int => plain(
            "int",
            "OCamlInt",
            vec![format!("let {id} = conv::int(cr, {id}, \"{q}\")?;")],
            id.clone(),
        ),
        ArgKind::Fd => plain(
            "Unix.file_descr",
            "OCamlInt",
            vec![format!("let {id} = conv::int(cr, {id}, \"{q}\")?;")],
            id.clone(),
        ),
        ArgKind::Uint => plain(
            "int",
            "OCamlInt",
            vec![format!("let {id} = conv::uint(cr, {id}, \"{q}\")?;")],
            id.clone(),
        ),
        ArgKind::Int64 => plain(
            "int64",
            "OCamlInt64",
            vec![format!("let {id}: i64 = {id}.to_rust(cr);")],
            id.clone(),
        ),
        ArgKind::Uint32 => plain(
            "int64",
            "OCamlInt64",
            vec![format!("let {id} = conv::uint32(cr, {id}, \"{q}\")?;")],
            id.clone(),
        ),
        ArgKind::Uint64 => plain(
            "int64",
            "OCamlInt64",
            vec![format!("let {id} = conv::uint64(cr, {id});")],
            id.clone(),
        ),
        ArgKind::SizeT | ArgKind::Uintptr => plain(
            "int",
            "OCamlInt",
            vec![format!("let {id} = conv::size(cr, {id}, \"{q}\")?;")],
            id.clone(),
        ),
        ArgKind::String => plain(
            "string",
            "String",
            vec![format!("let {id} = conv::string(cr, {id}, \"{q}\")?;")],
            format!("&{id}"),
        ),
        ArgKind::StringList => plain(
            "string list",
            "OCamlList<String>",
            vec![
                format!("let {id}_owned = conv::string_list(cr, {id}, \"{q}\")?;"),
                format!("let {id}: Vec<&str> = {id}_owned.iter().map(String::as_str).collect();"),
            ],
            format!("&{id}"),
        ),
        ArgKind::Path => plain(
            "string",
            "String",
            vec![format!("let {id} = conv::path(cr, {id});")],
            format!("&{id}"),
        ),
        ArgKind::Sockaddr { .. } => plain(
            "Unix.sockaddr",
            "conv::SockAddr",
            vec![format!("let {id} = conv::sockaddr(cr, {id}, \"{q}\")?;")],
            format!("&{id}"),
        ),
        ArgKind::BytesIn { .. } => plain(
            "bytes",
            "OCamlBytes",
            vec![format!("let {id}: Vec<u8> = {id}.to_rust(cr);")],
            format!("&{id}"),
        ),
        ArgKind::BytesOut { .. } => ArgParts {
            post: vec![format!("conv::copy_out(cr, {id}, &{id}_buf);")],
            ..plain(
                "bytes",
                "OCamlBytes",
                vec![format!("let mut {id}_buf = conv::out_buffer(cr, {id});")],
                format!("&mut {id}_buf"),
            )
        },
        ArgKind::BytesPersistIn { .. } | ArgKind::BytesPersistOut { .. } => plain(
            "Buffer.t",
            "DynBox<nbd::AioBuffer>",
            vec![format!("let {id} = buffer::aio_buffer(cr, {id});")],
            id.clone(),
        ),
        ArgKind::Closure { callback: cb } => {
            let def = callback(api, cb)?;
            let ty = format!("({})", callback_ml_type(def));
            ArgParts {
                rust_param: format!("{id}: OCamlRef<{}Fn>", camel(cb)),
                ..plain(
                    &ty,
                    "",
                    vec![format!("let {id} = {cb}_callback(cr.get({id}), {raised});")],
                    id.clone(),
                )
            }
        }
        ArgKind::Enum { r#enum } => {
            let prefix = enum_prefix(api, r#enum)?;
            ArgParts {
                ml_type: format!("{prefix}.t"),
                ml_stub_arg: format!("({prefix}.to_int {ml})"),
                ext_type: "int".into(),
                ..plain(
                    "",
                    "OCamlInt",
                    vec![format!(
                        "let {id} = nbd::{}(conv::int(cr, {id}, \"{q}\")?);",
                        camel(r#enum)
                    )],
                    id.clone(),
                )
            }
        }
        ArgKind::Flags { flags } => {
            let prefix = flags_prefix(api, flags)?;
            ArgParts {
                ml_type: format!("{prefix}.t list"),
                ml_stub_arg: format!("({prefix}.to_int {ml})"),
                ext_type: "int".into(),
                ..plain(
                    "",
                    "OCamlInt",
                    vec![format!(
                        "let {id} = nbd::{}(conv::uint(cr, {id}, \"{q}\")?);",
                        camel(flags)
                    )],
                    id.clone(),
                )
            }
        }
    };
    Ok(parts)
}

fn optarg_parts(api: &Api, call: &Call, o: &OptArg, raised: &str) -> Result<ArgParts, Error> {
    check_names(call, &o.name)?;
    let ml = ocaml_ident(&o.name);
    let id = rust_ident(&o.name);
    let label = &o.name;
    Ok(match &o.kind {
        OptArgKind::Closure { callback: cb } => {
            let ty = callback_ml_type(callback(api, cb)?);
            ArgParts {
                ml_param: format!("?{ml}"),
                ml_type: format!("?{label}:({ty})"),
                ml_stub_arg: ml.clone(),
                ext_type: format!("({ty}) option"),
                rust_param: format!("{id}: OCamlRef<Option<{}Fn>>", camel(cb)),
                prelude: vec![format!(
                    "let {id} = cr.get({id}).to_option().map(|f| {cb}_callback(f, {raised}));"
                )],
                call_arg: id.clone(),
                post: vec![],
            }
        }
        OptArgKind::Flags { flags, .. } => {
            let prefix = flags_prefix(api, flags)?;
            ArgParts {
                ml_param: format!("?({ml} = [])"),
                ml_type: format!("?{label}:{prefix}.t list"),
                ml_stub_arg: format!("({prefix}.to_int {ml})"),
                ext_type: "int".into(),
                rust_param: format!("{id}: OCamlRef<OCamlInt>"),
                prelude: vec![format!(
                    "let {id} = Some(nbd::{}(conv::uint(cr, {id}, \"{}\")?));",
                    camel(flags),
                    o.name
                )],
                call_arg: id.clone(),
                post: vec![],
            }
        }
    })
}

/// The return value: the `val` type, the external's type, the Rust marker
/// type, the Rust conversion of the core's `ret`, and how the wrapper
/// turns the external's value into the result.
struct RetParts {
    ml: String,
    ext: String,
    marker: String,
    convert: String,
    /// `{}` is the external's unwrapped value.
    wrap: String,
}

fn ret_parts(api: &Api, call: &Call) -> Result<RetParts, Error> {
    let simple = |ml: &str, marker: &str, convert: &str| RetParts {
        ml: ml.into(),
        ext: ml.into(),
        marker: marker.into(),
        convert: convert.into(),
        wrap: "{}".into(),
    };
    Ok(match &call.ret {
        RetKind::Error | RetKind::Void => simple("unit", "()", "ret"),
        RetKind::Bool => simple("bool", "bool", "ret"),
        RetKind::Int => simple("int", "OCamlInt", "ret"),
        RetKind::Int64 => simple("int64", "OCamlInt64", "ret"),
        RetKind::Uint => simple("int", "OCamlInt", "i64::from(ret)"),
        RetKind::Uint64 => simple("int64", "OCamlInt64", "ret as i64"),
        RetKind::SizeT | RetKind::Uintptr => simple("int", "OCamlInt", "ret as i64"),
        RetKind::Cookie => RetParts {
            ext: "int64".into(),
            ..simple("cookie", "OCamlInt64", "ret as i64")
        },
        RetKind::StaticString | RetKind::String => simple("string", "String", "ret"),
        RetKind::Fd => simple("Unix.file_descr", "OCamlInt", "ret"),
        RetKind::Enum { r#enum } => {
            let prefix = enum_prefix(api, r#enum)?;
            RetParts {
                ml: format!("{prefix}.t"),
                ext: "int".into(),
                marker: "OCamlInt".into(),
                convert: "ret.0".into(),
                wrap: format!("{prefix}.of_int ({{}})"),
            }
        }
        RetKind::Flags { flags } => {
            let prefix = flags_prefix(api, flags)?;
            RetParts {
                ml: format!("{prefix}.t list"),
                ext: "int".into(),
                marker: "OCamlInt".into(),
                convert: "i64::from(ret.0)".into(),
                wrap: format!("{prefix}.of_int ({{}})"),
            }
        }
        RetKind::Handle => {
            return Err(Error(format!(
                "ocaml: call {} returns a handle but is not special",
                call.name
            )))
        }
    })
}

fn call_view(api: &Api, call: &Call) -> Result<CallView, Error> {
    let sync_callbacks = call.callbacks_run_during_call();
    let raised = if sync_callbacks {
        "Some(&raised)"
    } else {
        "None"
    };
    let mut args = Vec::new();
    for a in &call.args {
        args.push(arg_parts(api, call, a, raised)?);
    }
    let mut optargs = Vec::new();
    for o in &call.optargs {
        optargs.push(optarg_parts(api, call, o, raised)?);
    }
    let r = ret_parts(api, call)?;
    let name = ocaml_ident(&call.name);
    let stub = format!("nbd_ocaml_{}", call.name);
    let all: Vec<&ArgParts> = args.iter().chain(optargs.iter()).collect();

    // OCaml: optional arguments first, then the handle and the rest.
    let mut val_type: Vec<String> = optargs.iter().map(|p| p.ml_type.clone()).collect();
    val_type.push("t".into());
    val_type.extend(args.iter().map(|p| p.ml_type.clone()));
    val_type.push(r.ml.clone());
    let mut ml_params: Vec<String> = optargs.iter().map(|p| p.ml_param.clone()).collect();
    ml_params.push("h".into());
    ml_params.extend(args.iter().map(|p| p.ml_param.clone()));
    // The external: the handle, the arguments, then the optional ones.
    let mut ext_type = vec!["t".to_string()];
    ext_type.extend(all.iter().map(|p| p.ext_type.clone()));
    ext_type.push(format!("({}, exn) result", r.ext));
    let mut stub_args = vec!["h".to_string()];
    stub_args.extend(all.iter().map(|p| p.ml_stub_arg.clone()));
    let raw = format!("ret (Raw.{name} {})", stub_args.join(" "));

    let mut prelude = Vec::new();
    if sync_callbacks {
        prelude.push("let raised = Raised::default();".to_string());
    }
    prelude.extend(all.iter().flat_map(|p| p.prelude.clone()));
    let check = if sync_callbacks {
        "let ret = raised.check(ret)?;"
    } else if call.may_set_error {
        "let ret = ret.map_err(Failure::from)?;"
    } else {
        ""
    };
    Ok(CallView {
        qualified: format!("NBD.{name}"),
        rust_name: rust_ident(&call.name),
        byte_stub: (all.len() + 1 > MAX_NATIVE_ARGS).then(|| format!("{stub}_byte")),
        stub,
        val_type: val_type.join(" -> "),
        ext_type: ext_type.join(" -> "),
        ml_params: ml_params.join(" "),
        ml_body: r.wrap.replace("{}", &raw),
        doc: call_doc(api, call),
        since: (!call.extension).then(|| call.first_version.clone()),
        connects: call.connects(),
        origin: call.origin(),
        rust_params: all.iter().map(|p| p.rust_param.clone()).collect(),
        rust_ret: r.marker,
        prelude,
        call_args: all
            .iter()
            .map(|p| p.call_arg.clone())
            .collect::<Vec<_>>()
            .join(", "),
        check: check.into(),
        post: all.iter().flat_map(|p| p.post.clone()).collect(),
        convert: r.convert,
        name,
    })
}

fn callback_view(cb: &CallbackDef) -> CallbackView {
    let mut params = Vec::new();
    let mut markers = Vec::new();
    let mut call_args = Vec::new();
    let mut error_arg = "None".to_string();
    for a in &cb.args {
        let id = rust_ident(&a.name);
        let (ty, marker, expr) = match &a.kind {
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
        name: cb.name.clone(),
        fn_name: format!("{}_callback", cb.name),
        alias: format!("{}Fn", camel(&cb.name)),
        ocaml_fn: format!("fn({}) -> OCamlInt", markers.join(", ")),
        ml_type: callback_ml_type(cb),
        rust_type: format!("nbd::{}Callback", camel(&cb.name)),
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

fn short_doc(api: &Api, doc: &str) -> String {
    if doc.is_empty() {
        String::new()
    } else {
        odoc(api, &format!("{}.", capitalise(doc)))
    }
}

/// OCaml constructors must start with a capital, and `UNKNOWN` carries
/// the values this version does not know.
fn check_constructor(set: &str, name: &str) -> Result<(), Error> {
    let ok = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "UNKNOWN";
    if ok {
        Ok(())
    } else {
        Err(Error(format!(
            "ocaml: {set}: value `{name}` cannot be an OCaml constructor"
        )))
    }
}

fn enum_view(api: &Api, e: &EnumDef) -> Result<EnumView, Error> {
    let mut values = Vec::new();
    for v in &e.values {
        check_constructor(&e.name, &v.name)?;
        values.push(ValueView {
            name: v.name.clone(),
            value: v.value.to_string(),
            doc: short_doc(api, &v.doc),
        });
    }
    Ok(EnumView {
        module: e.prefix.clone(),
        doc: short_doc(api, &e.doc),
        values,
    })
}

fn flags_view(api: &Api, f: &FlagsDef) -> Result<FlagsView, Error> {
    let mut values = Vec::new();
    for v in &f.values {
        check_constructor(&f.name, &v.name)?;
        values.push(ValueView {
            name: v.name.clone(),
            value: format!("{:#x}", v.value),
            doc: short_doc(api, &v.doc),
        });
    }
    let mask = f.values.iter().fold(0, |m, v| m | v.value);
    Ok(FlagsView {
        module: f.prefix.clone(),
        doc: short_doc(api, &f.doc),
        values,
        mask: format!("{mask:#x}"),
    })
}

/// libnbd's module has integer constants as `int32` and strings as
/// `string`, named in lower case.
fn const_view(api: &Api, k: &ConstDef) -> Result<ConstView, Error> {
    let (ml_type, value) = match &k.value {
        ConstValue::Int(i) => {
            i32::try_from(*i)
                .map_err(|_| Error(format!("ocaml: constant {} does not fit an int32", k.name)))?;
            ("int32", format!("{i}l"))
        }
        ConstValue::Str(s) => ("string", ml_string(s)),
    };
    Ok(ConstView {
        name: ocaml_ident(&k.name.to_ascii_lowercase()),
        ml_type: ml_type.into(),
        value,
        doc: short_doc(api, &k.doc),
    })
}

fn special_doc(api: &Api, which: Special) -> Result<(String, String), Error> {
    let call = api
        .calls
        .iter()
        .find(|c| c.special == Some(which))
        .ok_or_else(|| Error(format!("ocaml: api.yaml has no {which:?} call")))?;
    Ok((call_doc(api, call), call.first_version.clone()))
}

pub(crate) fn outputs(api: &Api) -> Result<Vec<Output>, Error> {
    let mut calls = Vec::new();
    for c in api.calls.iter().filter(|c| c.special.is_none()) {
        calls.push(call_view(api, c)?);
    }
    let view = OcamlView {
        calls,
        callbacks: api.callbacks.iter().map(callback_view).collect(),
        enums: api
            .enums
            .iter()
            .map(|e| enum_view(api, e))
            .collect::<Result<_, _>>()?,
        flags: api
            .flags
            .iter()
            .map(|f| flags_view(api, f))
            .collect::<Result<_, _>>()?,
        constants: api
            .constants
            .iter()
            .map(|k| const_view(api, k))
            .collect::<Result<_, _>>()?,
        special: {
            let (create_doc, create_since) = special_doc(api, Special::Create)?;
            let (close_doc, close_since) = special_doc(api, Special::Close)?;
            SpecialView {
                create_doc,
                create_since,
                close_doc,
                close_since,
            }
        },
    };
    Ok(vec![
        Output {
            path: RUST_OUT.into(),
            lang: Lang::Rust,
            text: render("ocaml/stubs.rs.tera", &view)?,
        },
        Output {
            path: ML_OUT.into(),
            lang: Lang::OCaml,
            text: render("ocaml/NBD.ml.tera", &view)?,
        },
        Output {
            path: MLI_OUT.into(),
            lang: Lang::OCaml,
            text: render("ocaml/NBD.mli.tera", &view)?,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The types of libnbd 1.14's own NBD.mli, so that programs written
    /// for it type-check against ours.
    #[test]
    fn signatures_are_libnbds() {
        let api = crate::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../api.yaml"
        )))
        .unwrap();
        let val = |name: &str| {
            let call = api.calls.iter().find(|c| c.name == name).unwrap();
            call_view(&api, call).unwrap().val_type
        };
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
        let api = crate::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../api.yaml"
        )))
        .unwrap();
        assert_eq!(ml_code(&api, "LIBNBD_TLS_REQUIRE"), "TLS.REQUIRE");
        assert_eq!(ml_code(&api, "LIBNBD_CMD_FLAG_MASK"), "CMD_FLAG.mask");
        assert_eq!(ml_code(&api, "LIBNBD_STATE_HOLE"), "state_hole");
        assert_eq!(ml_code(&api, "nbd_pread"), "NBD.pread");
        assert_eq!(ml_code(&api, "LIBNBD_DEBUG"), "LIBNBD_DEBUG");
    }

    #[test]
    fn string_literals() {
        assert_eq!(ml_string("base:"), "\"base:\"");
        assert_eq!(ml_string("a\"b\\"), "\"a\\\"b\\\\\"");
    }
}

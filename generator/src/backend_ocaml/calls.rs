//! One `external`, wrapper and Rust stub per call.

use serde::Serialize;

use super::call_doc;
use super::callbacks::callback_ml_type;
use crate::lower::{LArg, LArgKind, LCall, LOptArg, LOptKind, LRet, Lowered};
use crate::names::{camel, ocaml_ident, rust_ident};

/// OCaml refuses more than five arguments to a native external without a
/// separate bytecode entry point.
const MAX_NATIVE_ARGS: usize = 5;

#[derive(Serialize)]
pub(super) struct CallView {
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
    pub(super) val_type: String,
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
    /// Statements after the core call, whether or not it succeeded:
    /// copying a read buffer back (the data, or after a failure the
    /// buffer as pread_initialize left it).
    post: Vec<String>,
    /// The Rust value returned to OCaml.
    convert: String,
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

fn arg_parts(a: &LArg, raised: &str) -> ArgParts {
    let ml = ocaml_ident(a.name);
    let id = rust_ident(a.name);
    let q = a.name;
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
    // One converted by a checking `conv::` function (which names the
    // argument in its error), passed as `id` or `&id`.
    let checked = |ml_ty: &str, marker: &str, conv: &str, call_arg: String| {
        plain(
            ml_ty,
            marker,
            vec![format!("let {id} = conv::{conv}(cr, {id}, \"{q}\")?;")],
            call_arg,
        )
    };
    // An enum or flags value: NBD.ml turns it into an int for the stub.
    let module_value = |ml_type: String, prefix: &str, conv: &str| ArgParts {
        ml_type,
        ml_stub_arg: format!("({prefix}.to_int {ml})"),
        ext_type: "int".into(),
        ..plain(
            "",
            "OCamlInt",
            vec![format!(
                "let {id} = {};",
                a.core_arg(&format!("conv::{conv}(cr, {id}, \"{q}\")?"))
            )],
            id.clone(),
        )
    };
    match &a.kind {
        LArgKind::Bool => plain(
            "bool",
            "bool",
            vec![format!("let {id}: bool = {id}.to_rust(cr);")],
            id.clone(),
        ),
        LArgKind::Int => checked("int", "OCamlInt", "int", id.clone()),
        LArgKind::Fd => checked("Unix.file_descr", "OCamlInt", "int", id.clone()),
        LArgKind::Uint => checked("int", "OCamlInt", "uint", id.clone()),
        LArgKind::Int64 => plain(
            "int64",
            "OCamlInt64",
            vec![format!("let {id}: i64 = {id}.to_rust(cr);")],
            id.clone(),
        ),
        LArgKind::Uint32 => checked("int64", "OCamlInt64", "uint32", id.clone()),
        LArgKind::Uint64 => plain(
            "int64",
            "OCamlInt64",
            vec![format!("let {id} = conv::uint64(cr, {id});")],
            id.clone(),
        ),
        LArgKind::SizeT | LArgKind::Uintptr => checked("int", "OCamlInt", "size", id.clone()),
        LArgKind::String => checked("string", "String", "string", format!("&{id}")),
        LArgKind::StringList => plain(
            "string list",
            "OCamlList<String>",
            vec![
                format!("let {id}_owned = conv::string_list(cr, {id}, \"{q}\")?;"),
                format!("let {id}: Vec<&str> = {id}_owned.iter().map(String::as_str).collect();"),
            ],
            format!("&{id}"),
        ),
        LArgKind::Path => plain(
            "string",
            "String",
            vec![format!("let {id} = conv::path(cr, {id});")],
            format!("&{id}"),
        ),
        LArgKind::Sockaddr { .. } => checked(
            "Unix.sockaddr",
            "conv::SockAddr",
            "sockaddr",
            format!("&{id}"),
        ),
        LArgKind::BytesIn { .. } => plain(
            "bytes",
            "OCamlBytes",
            vec![format!("let {id}: Vec<u8> = {id}.to_rust(cr);")],
            format!("&{id}"),
        ),
        LArgKind::BytesOut { .. } => ArgParts {
            post: vec![format!("conv::copy_out(cr, {id}, &{id}_buf);")],
            ..plain(
                "bytes",
                "OCamlBytes",
                vec![format!("let mut {id}_buf = conv::out_buffer(cr, {id});")],
                format!("&mut {id}_buf"),
            )
        },
        LArgKind::BytesPersistIn { .. } | LArgKind::BytesPersistOut { .. } => plain(
            "Buffer.t",
            "DynBox<nbd::AioBuffer>",
            vec![format!("let {id} = buffer::aio_buffer(cr, {id});")],
            id.clone(),
        ),
        LArgKind::Closure(cb) => {
            let ty = format!("({})", callback_ml_type(cb));
            ArgParts {
                rust_param: format!("{id}: OCamlRef<{}Fn>", camel(cb.name)),
                ..plain(
                    &ty,
                    "",
                    vec![format!(
                        "let {id} = {}_callback(cr.get({id}), {raised});",
                        cb.name
                    )],
                    id.clone(),
                )
            }
        }
        LArgKind::Enum(e) => module_value(format!("{}.t", e.prefix), &e.prefix, "int"),
        LArgKind::Flags { set, .. } => {
            module_value(format!("{}.t list", set.prefix), &set.prefix, "uint")
        }
    }
}

fn optarg_parts(o: &LOptArg, raised: &str) -> ArgParts {
    let ml = ocaml_ident(o.name);
    let id = rust_ident(o.name);
    let label = o.name;
    match &o.kind {
        LOptKind::Closure(cb) => {
            let ty = callback_ml_type(cb);
            ArgParts {
                ml_param: format!("?{ml}"),
                ml_type: format!("?{label}:({ty})"),
                ml_stub_arg: ml.clone(),
                ext_type: format!("({ty}) option"),
                rust_param: format!("{id}: OCamlRef<Option<{}Fn>>", camel(cb.name)),
                prelude: vec![format!(
                    "let {id} = cr.get({id}).to_option().map(|f| {}_callback(f, {raised}));",
                    cb.name
                )],
                call_arg: id.clone(),
                post: vec![],
            }
        }
        LOptKind::Flags { set, .. } => {
            let prefix = &set.prefix;
            ArgParts {
                ml_param: format!("?({ml} = [])"),
                ml_type: format!("?{label}:{prefix}.t list"),
                ml_stub_arg: format!("({prefix}.to_int {ml})"),
                ext_type: "int".into(),
                rust_param: format!("{id}: OCamlRef<OCamlInt>"),
                prelude: vec![format!(
                    "let {id} = {};",
                    o.core_arg(&format!("conv::uint(cr, {id}, \"{}\")?", o.name))
                )],
                call_arg: id.clone(),
                post: vec![],
            }
        }
    }
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

fn ret_parts(call: &LCall) -> RetParts {
    let simple = |ml: &str, marker: &str, convert: &str| RetParts {
        ml: ml.into(),
        ext: ml.into(),
        marker: marker.into(),
        convert: convert.into(),
        wrap: "{}".into(),
    };
    match &call.ret {
        LRet::Error | LRet::Void => simple("unit", "()", "ret"),
        LRet::Bool => simple("bool", "bool", "ret"),
        LRet::Int => simple("int", "OCamlInt", "ret"),
        LRet::Int64 => simple("int64", "OCamlInt64", "ret"),
        LRet::Uint => simple("int", "OCamlInt", "i64::from(ret)"),
        LRet::Uint64 => simple("int64", "OCamlInt64", "ret as i64"),
        LRet::SizeT | LRet::Uintptr => simple("int", "OCamlInt", "ret as i64"),
        LRet::Cookie => RetParts {
            ext: "int64".into(),
            ..simple("cookie", "OCamlInt64", "ret as i64")
        },
        LRet::StaticString | LRet::String => simple("string", "String", "ret"),
        LRet::Fd => simple("Unix.file_descr", "OCamlInt", "ret"),
        LRet::Enum(e) => {
            let prefix = &e.prefix;
            RetParts {
                ml: format!("{prefix}.t"),
                ext: "int".into(),
                marker: "OCamlInt".into(),
                convert: "ret.0".into(),
                wrap: format!("{prefix}.of_int ({{}})"),
            }
        }
        LRet::Flags(f) => {
            let prefix = &f.prefix;
            RetParts {
                ml: format!("{prefix}.t list"),
                ext: "int".into(),
                marker: "OCamlInt".into(),
                convert: "i64::from(ret.0)".into(),
                wrap: format!("{prefix}.of_int ({{}})"),
            }
        }
        // Only the special `create`, which has no stub (NBD.create is
        // written by hand).
        LRet::Handle => simple("t", "()", "ret"),
    }
}

pub(super) fn call_view(l: &Lowered, call: &LCall) -> CallView {
    let def = call.def;
    let sync_callbacks = call.callbacks_run_during_call;
    let raised = if sync_callbacks {
        "Some(&raised)"
    } else {
        "None"
    };
    let args: Vec<ArgParts> = call.args.iter().map(|a| arg_parts(a, raised)).collect();
    let optargs: Vec<ArgParts> = call
        .optargs
        .iter()
        .map(|o| optarg_parts(o, raised))
        .collect();
    let r = ret_parts(call);
    let name = ocaml_ident(call.name);
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
    } else if def.may_set_error {
        "let ret = ret.map_err(Failure::from)?;"
    } else {
        ""
    };
    CallView {
        qualified: format!("NBD.{name}"),
        rust_name: rust_ident(call.name),
        byte_stub: (all.len() + 1 > MAX_NATIVE_ARGS).then(|| format!("{stub}_byte")),
        stub,
        val_type: val_type.join(" -> "),
        ext_type: ext_type.join(" -> "),
        ml_params: ml_params.join(" "),
        ml_body: r.wrap.replace("{}", &raw),
        doc: call_doc(l, def),
        since: call.since.map(str::to_string),
        connects: def.connects(),
        origin: call.origin.clone(),
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
    }
}

//! The Go binding's generated layer: the package `libnbd` (module
//! `libguestfs.org/libnbd`) in bindings/go, over the C library with cgo.
//!
//! Names and types follow libnbd's own Go binding, so that programs
//! written for it build unchanged: a method per call on `*Libnbd` in Go
//! case (`h.AioPread`), required arguments in order, optional ones in a
//! `*XxxOptargs` struct whose fields each have an `XxxSet` flag, a
//! `(value, error)` pair back (or just `error`), strings as `*string`,
//! `int` returns as `uint`, enums and flag sets as named integer types
//! with `PREFIX_NAME` constants, closures as Go funcs.
//!
//! Four files are generated:
//! - `bindings.go`: enums, flags, constants, and the methods;
//! - `closures.go`: the callback types and the Go functions C calls
//!   (exported, so that file's C preamble holds declarations only);
//! - `wrappers.h` and `wrappers.c`: one C function per call that calls
//!   the library and, on failure, copies its thread-local error before
//!   cgo may move the goroutine to another thread; and per callback kind
//!   a trampoline from the C callback to the Go function and a
//!   constructor of the callback struct around a `cgo.Handle`.
//!
//! The generated Go is laid out as gofmt would (tabs, fields aligned), so
//! `gofmt -l` is quiet on it.

use serde::Serialize;

use crate::lower::{LArg, LArgKind, LCall, LCallback, LOptKind, LRet, Lowered};
use crate::markup;
use crate::model::*;
use crate::names::{camel, capitalise};
use crate::render::rendered;
use crate::{Error, Lang, Output};

/// Where the outputs go, relative to the repository root.
const DIR: &str = "bindings/go";

const GO_KEYWORDS: &[&str] = &[
    "break",
    "case",
    "chan",
    "const",
    "continue",
    "default",
    "defer",
    "else",
    "fallthrough",
    "for",
    "func",
    "go",
    "goto",
    "if",
    "import",
    "interface",
    "map",
    "package",
    "range",
    "return",
    "select",
    "struct",
    "switch",
    "type",
    "var",
];

/// A parameter name safe in Go (keywords get a trailing `_`; the names
/// the generated bodies use for themselves start with `c` + capital or
/// are `h` and `ret`, which api.yaml never uses).
fn go_ident(name: &str) -> String {
    if GO_KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

/// The Go local holding an argument's C value: `offset` -> `cOffset`.
fn c_local(name: &str) -> String {
    format!("c{}", camel(name))
}

/// The Go type of an enum or flag set: its C prefix in Go case
/// (`CMD_FLAG` -> `CmdFlag`), as libnbd names them.
fn type_of_prefix(prefix: &str) -> String {
    camel(&prefix.to_ascii_lowercase())
}

/// The Go type of a callback kind (`chunk` -> `ChunkCallback`).
fn callback_type(cb: &str) -> String {
    format!("{}Callback", camel(cb))
}

/// The method name of a call (`aio_pread` -> `AioPread`).
fn method(call: &str) -> String {
    camel(call)
}

/// Whether the package has a method for this call (create and close are
/// written by hand; get_error and get_errno are `LibnbdError`'s fields).
fn has_method(l: &Lowered, name: &str) -> bool {
    l.call(name).is_some_and(|c| c.def.special.is_none())
}

/// How C names in code spans read in Go.
fn go_code(l: &Lowered, code: &str) -> String {
    if let Some(name) = code.strip_prefix("LIBNBD_") {
        let api = l.api;
        let known = api.enums.iter().any(|e| {
            e.values
                .iter()
                .any(|v| name == format!("{}_{}", e.prefix, v.name))
        }) || api.flags.iter().any(|f| {
            name == format!("{}_MASK", f.prefix)
                || f.values
                    .iter()
                    .any(|v| name == format!("{}_{}", f.prefix, v.name))
        }) || api.constants.iter().any(|k| k.name == name);
        if known {
            return name.to_string();
        }
    }
    if let Some(call) = code.strip_prefix("nbd_") {
        if has_method(l, call) {
            return format!("h.{}", method(call));
        }
    }
    code.to_string()
}

/// Godoc text of api.yaml prose, laid out as Go 1.19's gofmt lays doc
/// comments out: code spans in Go names (without their backquotes),
/// `nbd_NAME(3)` references as doc links to the method, paragraphs
/// wrapped, list items indented `  - `, verbatim lines indented by a tab.
fn godoc(l: &Lowered, text: &str) -> Vec<String> {
    let inline = |p: &str| -> String {
        let linked = markup::map_call_refs(
            p,
            |s| s.to_string(),
            |name| {
                if has_method(l, name) {
                    format!("[Libnbd.{}]", method(name))
                } else {
                    format!("nbd_{name}(3)")
                }
            },
        );
        markup::spans(&linked)
            .into_iter()
            .map(|s| match s {
                markup::Span::Text(t) => t.to_string(),
                markup::Span::Code(c) => go_code(l, c),
            })
            .collect()
    };
    let mut out = Vec::new();
    for (i, block) in markup::parse(text).into_iter().enumerate() {
        if i > 0 {
            out.push("//".to_string());
        }
        match block {
            markup::Block::Para(p) => out.extend(comment_lines(&markup::wrap(&inline(&p), 74))),
            markup::Block::Verbatim(lines) => out.extend(lines.iter().map(|line| {
                if line.trim().is_empty() {
                    "//".to_string()
                } else {
                    format!("//\t{line}")
                }
            })),
            markup::Block::Bullets(items) => {
                for item in items {
                    let wrapped = markup::wrap(&inline(&item), 70);
                    for (j, line) in wrapped.lines().enumerate() {
                        let lead = if j == 0 { "  - " } else { "    " };
                        out.push(format!("// {lead}{line}"));
                    }
                }
            }
        }
    }
    out
}

/// Text as `//` comment lines (gofmt keeps an empty one as `//`).
fn comment_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            if line.is_empty() {
                "//".to_string()
            } else {
                format!("// {line}")
            }
        })
        .collect()
}

/// A Go string literal.
fn go_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---- enums, flags, constants ----

#[derive(Serialize)]
struct ConstView {
    /// The declaration after `const ` (`TLS_ALLOW = Tls(1)`).
    decl: String,
    doc: Vec<String>,
}

#[derive(Serialize)]
struct TypeView {
    /// `Tls`, `CmdFlag`.
    name: String,
    /// `int` for an enum, `uint32` for a flag set.
    base: String,
    doc: Vec<String>,
    values: Vec<ConstView>,
}

fn short_doc(l: &Lowered, name: &str, doc: &str) -> Vec<String> {
    if doc.is_empty() {
        return Vec::new();
    }
    godoc(l, &format!("{name}: {}.", doc))
}

fn enum_view(l: &Lowered, e: &EnumDef) -> TypeView {
    let ty = type_of_prefix(&e.prefix);
    TypeView {
        doc: short_doc(l, &ty, &e.doc),
        values: e
            .values
            .iter()
            .map(|v| {
                let name = format!("{}_{}", e.prefix, v.name);
                ConstView {
                    doc: short_doc(l, &name, &v.doc),
                    decl: format!("{name} = {ty}({})", v.value),
                }
            })
            .collect(),
        name: ty,
        base: "int".into(),
    }
}

fn flags_view(l: &Lowered, f: &crate::lower::LFlags) -> TypeView {
    let ty = type_of_prefix(&f.def.prefix);
    let mut values: Vec<ConstView> = f
        .def
        .values
        .iter()
        .map(|v| {
            let name = format!("{}_{}", f.def.prefix, v.name);
            ConstView {
                doc: short_doc(l, &name, &v.doc),
                decl: format!("{name} = {ty}({:#04x})", v.value),
            }
        })
        .collect();
    let mask = format!("{}_MASK", f.def.prefix);
    values.push(ConstView {
        doc: comment_lines(&format!("{mask}: every flag of {ty}.")),
        decl: format!("{mask} = {ty}({:#04x})", f.mask),
    });
    TypeView {
        doc: short_doc(l, &ty, &f.def.doc),
        values,
        name: ty,
        base: "uint32".into(),
    }
}

/// libnbd's package has integer constants as `uint32` and strings
/// untyped. Older releases named the string ones in lower case, which
/// programs written then (libnbd's own tests among them) still use:
/// both spellings are declared.
fn const_views(l: &Lowered, k: &ConstDef) -> Vec<ConstView> {
    match &k.value {
        ConstValue::Int(i) => vec![ConstView {
            doc: short_doc(l, &k.name, &k.doc),
            decl: format!("{} uint32 = {i}", k.name),
        }],
        ConstValue::Str(s) => {
            let lower = k.name.to_ascii_lowercase();
            vec![
                ConstView {
                    doc: short_doc(l, &k.name, &k.doc),
                    decl: format!("{} = {}", k.name, go_string(s)),
                },
                ConstView {
                    doc: comment_lines(&format!(
                        "{lower}: {}, as libnbd's package once spelled it.",
                        k.name
                    )),
                    decl: format!("{lower} = {}", k.name),
                },
            ]
        }
    }
}

// ---- callbacks ----

#[derive(Serialize)]
struct CallbackView {
    /// `chunk`
    name: String,
    doc: Vec<String>,
    /// `ChunkCallback`
    go_type: String,
    /// The Go func type's parameters (`subbuf []byte, offset uint64, …`).
    go_params: String,
    /// The exported Go function called from C (`goNbdChunkCallback`).
    export: String,
    /// Its parameters after the handle id, in cgo types.
    export_params: String,
    /// Statements before calling the Go func (copies, the error cell).
    prelude: Vec<String>,
    /// The Go func's arguments.
    args: String,
    /// Statements after it (the error cell written back).
    post: Vec<String>,
    /// The C trampoline's parameters after `user_data`.
    c_params: String,
    /// The exported function's arguments in C (casts dropping `const`).
    c_args: String,
}

fn callback_view(cb: &LCallback) -> CallbackView {
    let mut go_params = Vec::new();
    let mut export_params = Vec::new();
    let mut prelude = Vec::new();
    let mut args = Vec::new();
    let mut post = Vec::new();
    let mut c_args = Vec::new();
    for a in &cb.args {
        let n = go_ident(a.name);
        let c = &a.c;
        match a.kind {
            CbArgKind::BytesIn { len } => {
                go_params.push(format!("{n} []byte"));
                export_params.push(format!("{n} unsafe.Pointer, {len} C.size_t"));
                args.push(format!("copyBytes({n}, {len})"));
                c_args.push(format!("(void *) {}, {}", c[0].name, c[1].name));
            }
            CbArgKind::String => {
                go_params.push(format!("{n} string"));
                export_params.push(format!("{n} *C.char"));
                args.push(format!("C.GoString({n})"));
                c_args.push(format!("(char *) {}", c[0].name));
            }
            CbArgKind::Int => {
                go_params.push(format!("{n} int"));
                export_params.push(format!("{n} C.int"));
                args.push(format!("int({n})"));
                c_args.push(c[0].name.clone());
            }
            CbArgKind::Uint => {
                go_params.push(format!("{n} uint"));
                export_params.push(format!("{n} C.uint"));
                args.push(format!("uint({n})"));
                c_args.push(c[0].name.clone());
            }
            CbArgKind::Uint64 => {
                go_params.push(format!("{n} uint64"));
                export_params.push(format!("{n} C.uint64_t"));
                args.push(format!("uint64({n})"));
                c_args.push(c[0].name.clone());
            }
            CbArgKind::Int64 => {
                go_params.push(format!("{n} int64"));
                export_params.push(format!("{n} C.int64_t"));
                args.push(format!("int64({n})"));
                c_args.push(c[0].name.clone());
            }
            CbArgKind::Uint32Array { len } => {
                go_params.push(format!("{n} []uint32"));
                export_params.push(format!("{n} *C.uint32_t, {len} C.size_t"));
                args.push(format!("copyUint32s({n}, {len})"));
                c_args.push(format!("{}, {}", c[0].name, c[1].name));
            }
            CbArgKind::Extent64Array { len } => {
                go_params.push(format!("{n} []LibnbdExtent"));
                export_params.push(format!("{n} *C.nbd_extent, {len} C.size_t"));
                args.push(format!("copyExtents({n}, {len})"));
                c_args.push(format!("{}, {}", c[0].name, c[1].name));
            }
            CbArgKind::MutableInt => {
                go_params.push(format!("{n} *int"));
                export_params.push(format!("{n} *C.int"));
                let cell = format!("go{}", capitalise(a.name));
                prelude.push(format!("{cell} := int(*{n})"));
                args.push(format!("&{cell}"));
                post.push(format!("*{n} = C.int({cell})"));
                c_args.push(c[0].name.clone());
            }
        }
    }
    let c_params: Vec<String> = cb.c_params[1..]
        .iter()
        .map(|p| p.ty.c_decl(&p.name))
        .collect();
    CallbackView {
        doc: comment_lines(&markup::wrap(
            &format!(
                "{}: {} (nbd_{}_callback). Its result is the C callback's; \
                 if it panics, the C callback returns -1 and the method \
                 during which it ran panics with the same value.",
                callback_type(cb.name),
                cb.def.doc,
                cb.name
            ),
            74,
        )),
        name: cb.name.to_string(),
        go_type: callback_type(cb.name),
        go_params: go_params.join(", "),
        export: format!("goNbd{}Callback", camel(cb.name)),
        export_params: export_params
            .iter()
            .map(|p| format!(", {p}"))
            .collect::<String>(),
        prelude,
        args: args.join(", "),
        post,
        c_params: c_params.join(", "),
        c_args: c_args.iter().map(|a| format!(", {a}")).collect::<String>(),
    }
}

// ---- calls ----

#[derive(Serialize)]
struct FieldView {
    /// `FlagsSet`, `Flags` and the padding after `Flags` that lines its
    /// type up with `bool` (as gofmt does).
    set: String,
    name: String,
    pad: String,
    go_type: String,
}

#[derive(Serialize)]
struct CallView {
    /// `aio_pread`
    name: String,
    /// `AioPread`
    method: String,
    doc: Vec<String>,
    /// `AioPreadOptargs` when the call has optional arguments.
    optargs: Option<String>,
    fields: Vec<FieldView>,
    /// The method's parameters.
    params: String,
    /// `error` or `(uint64, error)`.
    results: String,
    /// What a failure returns before the error (`0, `, `nil, ` or ``).
    zero: String,
    /// Statements converting the arguments; any may return an error.
    prelude: Vec<String>,
    /// Statements after which nothing can fail: callbacks registered
    /// (their `.free` releases them, even if the call fails).
    closures: Vec<String>,
    /// The C wrapper's arguments after the error cell and the handle.
    c_args: String,
    /// Whether the call can fail, and the value that says it did.
    fails: Option<FailView>,
    /// The Go value returned on success.
    convert: String,
    /// The C wrapper: its return type, parameters after the handle, and
    /// the library function's arguments after the handle.
    c_ret: String,
    c_params: String,
    c_call_args: String,
}

#[derive(Serialize)]
struct FailView {
    /// In Go (`-1`, `nil`) and in C (`-1`, `NULL`).
    go: String,
    c: String,
}

/// How a failed call shows, if the call can fail: the C value it
/// returns, as Go and as C spell it.
fn failure_value(call: &LCall) -> Option<FailView> {
    if !call.def.may_set_error {
        return None;
    }
    let (go, c) = match call.ret {
        LRet::Error
        | LRet::Bool
        | LRet::Int
        | LRet::Int64
        | LRet::SizeT
        | LRet::Cookie
        | LRet::Fd
        | LRet::Enum(_) => ("-1", "-1"),
        LRet::StaticString | LRet::String => ("nil", "NULL"),
        LRet::Uint | LRet::Uint64 | LRet::Flags(_) | LRet::Uintptr | LRet::Void | LRet::Handle => {
            return None
        }
    };
    Some(FailView {
        go: go.into(),
        c: c.into(),
    })
}

/// The Go result type and the conversion of the C value `ret`.
fn go_ret(ret: &LRet) -> (Option<String>, String) {
    match ret {
        LRet::Error => (None, "nil".into()),
        LRet::Bool => (Some("bool".into()), "ret != 0, nil".into()),
        // libnbd's Go binding returns C `int` values as `uint`.
        LRet::Int | LRet::Uint | LRet::SizeT | LRet::Uintptr => {
            (Some("uint".into()), "uint(ret), nil".into())
        }
        LRet::Int64 | LRet::Uint64 | LRet::Cookie => {
            (Some("uint64".into()), "uint64(ret), nil".into())
        }
        LRet::Fd => (Some("int".into()), "int(ret), nil".into()),
        LRet::Enum(e) => {
            let t = type_of_prefix(&e.prefix);
            (Some(t.clone()), format!("{t}(ret), nil"))
        }
        LRet::Flags(f) => {
            let t = type_of_prefix(&f.prefix);
            (Some(t.clone()), format!("{t}(ret), nil"))
        }
        LRet::StaticString => (Some("*string".into()), "goString(ret, false), nil".into()),
        LRet::String => (Some("*string".into()), "goString(ret, true), nil".into()),
        LRet::Void | LRet::Handle => {
            unreachable!("validated: only the specials return void or a handle")
        }
    }
}

/// The zero value of a Go result type, as a failure returns it.
fn zero_of(ty: &str) -> &'static str {
    match ty {
        "bool" => "false",
        "*string" => "nil",
        _ => "0",
    }
}

/// One required argument: its Go parameter, the statements converting it
/// (`prelude`, which may fail, returning `zero` before the error;
/// `closures`, which register callbacks), and the C arguments it becomes.
fn arg_parts(
    call: &str,
    a: &LArg,
    zero: &str,
    prelude: &mut Vec<String>,
    closures: &mut Vec<String>,
) -> (String, Vec<String>) {
    let n = go_ident(a.name);
    let c = c_local(a.name);
    let len = format!("{c}Len");
    let q = go_string(call);
    let aname = go_string(a.name);
    // A conversion that may fail: `assign` declares `err`; `cleanup`, if
    // any, is deferred once it succeeded.
    let mut checked = |assign: String, cleanup: Option<String>| {
        prelude.push(assign);
        prelude.push("if err != nil {".into());
        prelude.push(format!("\treturn {zero}err"));
        prelude.push("}".into());
        prelude.extend(cleanup.map(|c| format!("defer {c}")));
    };
    let free = format!("C.free(unsafe.Pointer({c}))");
    let scalar = |go_ty: &str, c_ty: &str, prelude: &mut Vec<String>| {
        prelude.push(format!("{c} := C.{c_ty}({n})"));
        (format!("{n} {go_ty}"), vec![c.clone()])
    };
    match &a.kind {
        LArgKind::Bool => scalar("bool", "bool", prelude),
        LArgKind::Int | LArgKind::Fd => scalar("int", "int", prelude),
        LArgKind::Uint => scalar("uint", "uint", prelude),
        LArgKind::Int64 => scalar("int64", "int64_t", prelude),
        LArgKind::Uint32 => scalar("uint32", "uint32_t", prelude),
        LArgKind::Uint64 => scalar("uint64", "uint64_t", prelude),
        LArgKind::SizeT => scalar("uint", "size_t", prelude),
        LArgKind::Uintptr => scalar("uint", "uintptr_t", prelude),
        LArgKind::Enum(e) => scalar(&type_of_prefix(&e.prefix), "int", prelude),
        LArgKind::Flags { set, .. } => scalar(&type_of_prefix(&set.prefix), "uint32_t", prelude),
        LArgKind::String | LArgKind::Path => {
            checked(
                format!("{c}, err := cString({q}, {aname}, {n})"),
                Some(free),
            );
            (format!("{n} string"), vec![c])
        }
        LArgKind::StringList => {
            checked(
                format!("{c}, err := cStringList({q}, {aname}, {n})"),
                Some(format!("freeStringList({c})")),
            );
            (format!("{n} []string"), vec![c])
        }
        LArgKind::Sockaddr { .. } => {
            checked(
                format!("{c}, {len}, err := cSockaddr({q}, {n})"),
                Some(free),
            );
            (format!("{n} string"), vec![c, len])
        }
        LArgKind::BytesIn { .. } | LArgKind::BytesOut { .. } => {
            prelude.push(format!("{c}, {len} := bytesArg({n})"));
            (format!("{n} []byte"), vec![c, len])
        }
        LArgKind::BytesPersistIn { .. } | LArgKind::BytesPersistOut { .. } => {
            checked(
                format!("{c}, {len}, err := aioBufferArg({q}, {aname}, {n})"),
                None,
            );
            (format!("{n} AioBuffer"), vec![c, len])
        }
        LArgKind::Closure(cb) => {
            prelude.push(format!("if {n} == nil {{"));
            prelude.push(format!("\treturn {zero}nilCallbackError({q}, {aname})"));
            prelude.push("}".into());
            closures.push(format!(
                "{c} := C._nbd_go_{}_callback(newCallback(h.panics, {n}))",
                cb.name
            ));
            (format!("{n} {}", callback_type(cb.name)), vec![c])
        }
    }
}

fn call_view(l: &Lowered, call: &LCall) -> CallView {
    let name = call.name.to_string();
    let m = method(call.name);
    let (ret_ty, convert) = go_ret(&call.ret);
    let (results, zero) = match &ret_ty {
        None => ("error".to_string(), String::new()),
        Some(t) => (format!("({t}, error)"), format!("{}, ", zero_of(t))),
    };
    let mut params = Vec::new();
    let mut prelude = Vec::new();
    let mut closures = Vec::new();
    let mut c_args = Vec::new();
    for a in &call.args {
        let (p, cs) = arg_parts(call.name, a, &zero, &mut prelude, &mut closures);
        params.push(p);
        c_args.extend(cs);
    }
    let mut fields = Vec::new();
    let optargs = (!call.optargs.is_empty()).then(|| format!("{m}Optargs"));
    if let Some(o) = &optargs {
        params.push(format!("optargs *{o}"));
        for oa in &call.optargs {
            let c = c_local(oa.name);
            let (field, go_type) = match &oa.kind {
                LOptKind::Closure(cb) => (callback_type(cb.name), callback_type(cb.name)),
                LOptKind::Flags { set, .. } => (capitalise(oa.name), type_of_prefix(&set.prefix)),
            };
            match &oa.kind {
                LOptKind::Closure(cb) => {
                    prelude.push(format!("var {c} C.nbd_{}_callback", cb.name));
                    closures.push(format!(
                        "if optargs != nil && optargs.{field}Set && optargs.{field} != nil {{"
                    ));
                    closures.push(format!(
                        "\t{c} = C._nbd_go_{}_callback(newCallback(h.panics, optargs.{field}))",
                        cb.name
                    ));
                    closures.push("}".into());
                }
                LOptKind::Flags { .. } => {
                    prelude.push(format!("var {c} C.uint32_t"));
                    prelude.push(format!("if optargs != nil && optargs.{field}Set {{"));
                    prelude.push(format!("\t{c} = C.uint32_t(optargs.{field})"));
                    prelude.push("}".into());
                }
            }
            c_args.push(c);
            let set = format!("{field}Set");
            let pad = " ".repeat(set.len() - field.len());
            fields.push(FieldView {
                set,
                name: field,
                pad,
                go_type,
            });
        }
    }
    let mut doc = comment_lines(&format!("{m}: {}.", call.def.shortdesc));
    doc.push("//".into());
    doc.extend(godoc(l, &call.def.longdesc));
    doc.push("//".into());
    doc.extend(comment_lines(&format!(
        "{} C: nbd_{}.",
        call.origin, call.name
    )));
    let fails = failure_value(call);
    let c_params: Vec<String> = call.c_params[1..]
        .iter()
        .map(|p| p.ty.c_decl(&p.name))
        .collect();
    let c_call_args: Vec<String> = call.c_params[1..].iter().map(|p| p.name.clone()).collect();
    CallView {
        fails,
        name,
        method: m,
        doc,
        optargs,
        fields,
        params: params.join(", "),
        results,
        zero,
        prelude,
        closures,
        c_args: c_args.iter().map(|a| format!(", {a}")).collect(),
        convert,
        c_ret: call.c_ret.c(),
        c_params: c_params.iter().map(|p| format!(", {p}")).collect(),
        c_call_args: c_call_args.iter().map(|a| format!(", {a}")).collect(),
    }
}

#[derive(Serialize)]
struct GoView {
    enums: Vec<TypeView>,
    flags: Vec<TypeView>,
    constants: Vec<ConstView>,
    callbacks: Vec<CallbackView>,
    calls: Vec<CallView>,
}

pub(crate) fn outputs(l: &Lowered) -> Result<Vec<Output>, Error> {
    let api = l.api;
    let view = GoView {
        enums: api.enums.iter().map(|e| enum_view(l, e)).collect(),
        flags: l.flags.iter().map(|f| flags_view(l, f)).collect(),
        constants: api
            .constants
            .iter()
            .flat_map(|k| const_views(l, k))
            .collect(),
        callbacks: l.callbacks.iter().map(callback_view).collect(),
        calls: l.regular_calls().map(|c| call_view(l, c)).collect(),
    };
    let out = |file: &str, lang, template| rendered(format!("{DIR}/{file}"), lang, template, &view);
    Ok(vec![
        out("bindings.go", Lang::Go, "go/bindings.go.tera")?,
        out("closures.go", Lang::Go, "go/closures.go.tera")?,
        out("wrappers.h", Lang::C, "go/wrappers.h.tera")?,
        out("wrappers.c", Lang::C, "go/wrappers.c.tera")?,
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

    /// The signatures of libnbd's own Go package, so that programs
    /// written for it build against ours.
    #[test]
    fn signatures_are_libnbds() {
        let api = real_api();
        let l = crate::lower::lower(&api).unwrap();
        let sig = |name: &str| {
            let v = call_view(&l, l.call(name).unwrap());
            format!("{}({}) {}", v.method, v.params, v.results)
        };
        let expected = [
            (
                "pread",
                "Pread(buf []byte, offset uint64, optargs *PreadOptargs) error",
            ),
            (
                "aio_pread",
                "AioPread(buf AioBuffer, offset uint64, optargs *AioPreadOptargs) (uint64, error)",
            ),
            ("get_size", "GetSize() (uint64, error)"),
            ("get_export_name", "GetExportName() (*string, error)"),
            ("get_tls", "GetTls() (Tls, error)"),
            ("set_tls", "SetTls(tls Tls) error"),
            ("aio_get_direction", "AioGetDirection() (uint, error)"),
            ("aio_get_fd", "AioGetFd() (int, error)"),
            ("aio_in_flight", "AioInFlight() (uint, error)"),
            (
                "aio_command_completed",
                "AioCommandCompleted(cookie uint64) (bool, error)",
            ),
            ("connect_command", "ConnectCommand(argv []string) error"),
            ("stats_bytes_sent", "StatsBytesSent() (uint64, error)"),
            (
                "set_private_data",
                "SetPrivateData(private_data uint) (uint, error)",
            ),
            (
                "get_handshake_flags",
                "GetHandshakeFlags() (HandshakeFlag, error)",
            ),
            ("poll", "Poll(timeout int) (uint, error)"),
            ("aio_connect", "AioConnect(addr string) error"),
        ];
        for (name, s) in expected {
            assert_eq!(sig(name), s, "{name}");
        }
    }

    #[test]
    fn callbacks_are_libnbds() {
        let api = real_api();
        let l = crate::lower::lower(&api).unwrap();
        let ty = |name: &str| {
            let cb = l.callbacks.iter().find(|c| c.name == name).unwrap();
            let v = callback_view(cb);
            format!("{} func({}) int", v.go_type, v.go_params)
        };
        assert_eq!(
            ty("chunk"),
            "ChunkCallback func(subbuf []byte, offset uint64, status uint, error *int) int"
        );
        assert_eq!(ty("completion"), "CompletionCallback func(error *int) int");
        assert_eq!(
            ty("extent64"),
            "Extent64Callback func(metacontext string, offset uint64, entries []LibnbdExtent, error *int) int"
        );
    }

    #[test]
    fn names() {
        assert_eq!(type_of_prefix("CMD_FLAG"), "CmdFlag");
        assert_eq!(type_of_prefix("TLS"), "Tls");
        assert_eq!(go_ident("type"), "type_");
        assert_eq!(c_local("export_name"), "cExportName");
        assert_eq!(go_string("a\"b\\"), "\"a\\\"b\\\\\"");
    }
}

//! The Python binding's generated layer: the pyo3 methods of `nbd.NBD`, one
//! wrapper per callback kind and the module constants
//! (`bindings/python/src/generated.rs`), and the typing stub
//! (`bindings/python/python/nbd/__init__.pyi`).
//!
//! Python names, defaults, type strings and docstrings follow libnbd's own
//! Python module: a `bytes_out` argument is replaced by its length
//! (`pread(count, offset, flags=0)`), optional flags default to 0 and
//! optional callbacks to `None`, and a callback's `int *error` is a
//! `ctypes.c_int` whose `.value` the callback may set.

use serde::Serialize;

use crate::lower::{LArg, LArgKind, LCall, LCallback, LOptArg, LOptKind, LRet, Lowered};
use crate::markup;
use crate::model::*;
use crate::names::{camel, capitalise, comma_list, python_ident, rust_ident};
use crate::render::rendered;
use crate::{Error, Lang, Output};

/// Where the outputs go, relative to the repository root.
const RUST_OUT: &str = "bindings/python/src/generated.rs";
const STUB_OUT: &str = "bindings/python/python/nbd/__init__.pyi";

#[derive(Serialize)]
struct CallView {
    /// The Python method name (and the Rust one, escaped).
    name: String,
    rust_name: String,
    /// Docstring lines, printed as `///` comments for pyo3.
    doc: Vec<String>,
    /// The inside of `#[pyo3(signature = (...))]`.
    signature: String,
    /// Rust parameters after `py: Python<'py>`.
    params: String,
    /// Statements before the call (conversions that need the GIL).
    prelude: Vec<String>,
    /// The core call, run with the GIL released.
    call: String,
    /// Whether a callback exception must be checked after the call
    /// (callbacks that run before the call returns).
    sync_callbacks: bool,
    /// Whether the core call returns a `Result`.
    may_fail: bool,
    /// The expression turning the core's value `ret` into the Python value.
    convert: String,
    /// Whether `convert` uses `ret` (a read returns its buffer instead).
    uses_ret: bool,
    /// The Rust return type inside `PyResult<...>`.
    ret: String,
    /// The stub's parameter list and return type.
    pyi_params: String,
    pyi_ret: String,
    /// The docstring as a Python string literal body.
    pyi_doc: String,
}

#[derive(Serialize)]
struct CallbackView {
    name: String,
    /// `chunk_callback`
    fn_name: String,
    /// `nbd::ChunkCallback`
    rust_type: String,
    /// `subbuf: &[u8], offset: u64, status: u32, error: &mut i32`
    params: String,
    /// `Some(error)` for callbacks with an `int *error`, else `None`.
    error_arg: String,
    /// The closure parameter holding the `ctypes.c_int` (`_err` if unused).
    err_param: String,
    /// Whether the callback receives a piece of a read buffer, shown to
    /// Python as a read-only memoryview into that buffer: its wrapper then
    /// takes the buffer's `buffer::View`.
    views: bool,
    /// Expressions building each Python argument (in scope: `py`, `err`).
    py_args: Vec<String>,
    doc: String,
}

#[derive(Serialize)]
struct ConstView {
    name: String,
    /// A Rust literal (`0x1`, `"base:allocation"`).
    rust_value: String,
    /// The stub's type (`int`, `str`).
    pyi_type: String,
}

#[derive(Serialize)]
struct PythonView {
    calls: Vec<CallView>,
    callbacks: Vec<CallbackView>,
    constants: Vec<ConstView>,
}

/// `nbd_pread(3)` -> `nbd.pread`, `LIBNBD_CMD_FLAG_FUA` -> `CMD_FLAG_FUA`,
/// as libnbd's Python docstrings write them.
fn python_refs(text: &str) -> String {
    markup::map_call_refs(text, str::to_string, |name| format!("nbd.{name}")).replace("LIBNBD_", "")
}

/// The docstring of a call: summary line and description. The `returns`
/// text speaks of C return codes, so it is left out, as libnbd's module
/// does.
fn docstring(call: &LCall) -> String {
    format!(
        "{}.\n\n{}\n\n{}",
        capitalise(&call.def.shortdesc),
        markup::to_plain(&python_refs(&call.def.longdesc)),
        call.origin
    )
}

/// A Python string literal body for `"""..."""` inside a method: escaped,
/// and its lines after the first indented to the method body.
fn pyi_escape(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"");
    let lines: Vec<String> = escaped
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 || l.is_empty() {
                l.to_string()
            } else {
                format!("        {l}")
            }
        })
        .collect();
    format!("{}\n        ", lines.join("\n"))
}

/// The stub type of a Python callable for a callback.
fn callable_type(cb: &LCallback) -> String {
    let args: Vec<&str> = cb
        .args
        .iter()
        .map(|a| match a.kind {
            CbArgKind::BytesIn { .. } => "bytes",
            CbArgKind::String => "str",
            CbArgKind::Int | CbArgKind::Uint | CbArgKind::Uint64 | CbArgKind::Int64 => "int",
            CbArgKind::Uint32Array { .. } => "List[int]",
            CbArgKind::Extent64Array { .. } => "List[Tuple[int, int]]",
            CbArgKind::MutableInt => "ctypes.c_int",
        })
        .collect();
    format!("Callable[[{}], Optional[int]]", args.join(", "))
}

/// One argument's contribution to a method.
struct ArgParts {
    /// `name: type` in the Rust signature.
    param: String,
    /// `name = default` or `name` in the pyo3 signature.
    sig: String,
    prelude: Vec<String>,
    /// The expression passed to the core.
    call_arg: String,
    pyi: String,
}

fn arg_parts(call: &LCall, a: &LArg, raised: &str) -> ArgParts {
    // A bytes_out argument is replaced by its length, as in libnbd.
    let py_name = python_ident(a.shown);
    let id = rust_ident(&py_name);
    let local = rust_ident(a.name);
    let bound = "&Bound<'py, PyAny>";
    let simple = |rust: &str, pyi: &str| ArgParts {
        param: format!("{id}: {rust}"),
        sig: id.clone(),
        prelude: vec![],
        call_arg: id.clone(),
        pyi: format!("{py_name}: {pyi}"),
    };
    match &a.kind {
        LArgKind::Bool => ArgParts {
            prelude: vec![format!("let {id} = {id}.is_truthy()?;")],
            ..simple(bound, "bool")
        },
        LArgKind::Int | LArgKind::Fd => simple("i32", "int"),
        LArgKind::Uint | LArgKind::Uint32 => simple("u32", "int"),
        LArgKind::Int64 => simple("i64", "int"),
        LArgKind::Uint64 => simple("u64", "int"),
        LArgKind::SizeT | LArgKind::Uintptr => simple("usize", "int"),
        LArgKind::String => ArgParts {
            call_arg: format!("&{id}"),
            ..simple("String", "str")
        },
        LArgKind::StringList => ArgParts {
            prelude: vec![format!(
                "let {id}: Vec<&str> = {id}.iter().map(String::as_str).collect();"
            )],
            call_arg: format!("&{id}"),
            ..simple("Vec<String>", "Sequence[str]")
        },
        LArgKind::Path => ArgParts {
            prelude: vec![format!("let {id} = conv::path({id})?;")],
            call_arg: format!("&{id}"),
            ..simple(bound, "StrOrBytesPath")
        },
        LArgKind::Sockaddr { .. } => ArgParts {
            prelude: vec![format!("let {id} = conv::sockaddr({id})?;")],
            call_arg: format!("&{id}"),
            ..simple(bound, "SockAddr")
        },
        LArgKind::BytesIn { .. } => ArgParts {
            prelude: vec![format!("let {id} = conv::BytesIn::new({id})?;")],
            call_arg: format!("{id}.as_slice()"),
            ..simple(bound, "ReadableBuffer")
        },
        LArgKind::BytesOut { .. } => {
            // The data goes straight into the bytearray returned (zeroed,
            // so nothing old can show); callbacks see views of it.
            let mut prelude = vec![format!("let {local}_obj = conv::out_bytearray(py, {id})?;")];
            if call.views_read_buffer {
                prelude.push(format!(
                    "let {local}_view = buffer::View::of_bytearray(&{local}_obj);"
                ));
            }
            prelude.push(format!(
                "// SAFETY: the bytearray is new; until it is returned only this call and\n        \
                 // read-only views of it (which cannot resize it) reach it.\n        \
                 let {local} = unsafe {{ conv::bytearray_slice(&{local}_obj) }};"
            ));
            ArgParts {
                prelude,
                call_arg: local.clone(),
                ..simple("usize", "int")
            }
        }
        LArgKind::BytesPersistIn { .. } => ArgParts {
            prelude: vec![format!("let {id} = buffer::persist({id}, false)?;")],
            ..simple(bound, "Union[Buffer, ReadableBuffer]")
        },
        LArgKind::BytesPersistOut { .. } => ArgParts {
            prelude: vec![if call.views_read_buffer {
                format!("let ({id}, {id}_view) = buffer::persist_read({id})?;")
            } else {
                format!("let {id} = buffer::persist({id}, true)?;")
            }],
            ..simple(bound, "Union[Buffer, WritableBuffer]")
        },
        LArgKind::Closure(cb) => {
            let view = if cb.views_buffer {
                match read_buffer(call) {
                    Some(buf) => format!(", Some({buf}_view.clone())"),
                    None => ", None".to_string(),
                }
            } else {
                String::new()
            };
            ArgParts {
                prelude: vec![format!(
                    "let {id} = {}_callback({id}, {raised}{view})?;",
                    cb.name
                )],
                ..simple(bound, &callable_type(cb))
            }
        }
        LArgKind::Enum(_) => ArgParts {
            call_arg: a.core_arg(&id),
            ..simple("i32", "int")
        },
        LArgKind::Flags { .. } => ArgParts {
            call_arg: a.core_arg(&id),
            ..simple("u32", "int")
        },
    }
}

/// The local holding the read buffer of a call (a bytes_out or persistent
/// out argument), whose `_view` callbacks look into.
fn read_buffer(call: &LCall) -> Option<String> {
    call.read_buffer.as_ref().map(|b| {
        if b.persistent {
            rust_ident(&python_ident(b.name))
        } else {
            rust_ident(b.name)
        }
    })
}

fn optarg_parts(o: &LOptArg, raised: &str) -> ArgParts {
    let py_name = python_ident(o.name);
    let id = rust_ident(&py_name);
    match &o.kind {
        LOptKind::Closure(cb) => ArgParts {
            param: format!("{id}: Option<&Bound<'py, PyAny>>"),
            sig: format!("{id} = None"),
            prelude: vec![format!(
                "let {id} = {id}.map(|f| {}_callback(f, {raised}{})).transpose()?;",
                cb.name,
                if cb.views_buffer { ", None" } else { "" }
            )],
            call_arg: id.clone(),
            pyi: format!("{py_name}: Optional[{}] = None", callable_type(cb)),
        },
        LOptKind::Flags { .. } => ArgParts {
            param: format!("{id}: u32"),
            sig: format!("{id} = 0"),
            prelude: vec![],
            call_arg: o.core_arg(&id),
            pyi: format!("{py_name}: int = 0"),
        },
    }
}

/// The Rust return type, the conversion of the core's value, and the
/// stub's type.
fn ret_parts(call: &LCall) -> (String, String, String) {
    if let Some(buf) = call.returned_buffer {
        // libnbd's module returns the read data as a bytearray.
        let buf = rust_ident(buf);
        return (
            "Bound<'py, PyByteArray>".into(),
            format!("{buf}_obj"),
            "bytearray".into(),
        );
    }
    let (rust, convert, pyi) = match &call.ret {
        LRet::Error | LRet::Void => ("()", "()", "None"),
        LRet::Bool => ("bool", "ret", "bool"),
        LRet::Int | LRet::Fd => ("i32", "ret", "int"),
        LRet::Int64 => ("i64", "ret", "int"),
        LRet::Uint => ("u32", "ret", "int"),
        LRet::Uint64 | LRet::Cookie => ("u64", "ret", "int"),
        LRet::SizeT | LRet::Uintptr => ("usize", "ret", "int"),
        LRet::StaticString => ("&'static str", "ret", "str"),
        LRet::String => ("String", "ret", "str"),
        LRet::Enum(_) => ("i32", "ret.0", "int"),
        LRet::Flags(_) => ("u32", "ret.0", "int"),
        // Only the special `create`, which is NBD() itself.
        LRet::Handle => ("()", "()", "None"),
    };
    (rust.into(), convert.into(), pyi.into())
}

fn call_view(call: &LCall) -> CallView {
    // Validation makes sure such a call can fail with the exception.
    let sync_callbacks = call.callbacks_run_during_call;
    let raised = if sync_callbacks {
        "Some(&raised)"
    } else {
        "None"
    };
    let parts: Vec<ArgParts> = call
        .args
        .iter()
        .map(|a| arg_parts(call, a, raised))
        .chain(call.optargs.iter().map(|o| optarg_parts(o, raised)))
        .collect();
    let (ret, convert, pyi_ret) = ret_parts(call);
    let doc = docstring(call);
    let name = python_ident(call.name);
    let mut pyi_params = vec!["self".to_string()];
    pyi_params.extend(parts.iter().map(|p| p.pyi.clone()));
    CallView {
        rust_name: rust_ident(&name),
        name,
        doc: doc.lines().map(str::to_string).collect(),
        signature: comma_list(parts.iter().map(|p| &p.sig)),
        params: comma_list(parts.iter().map(|p| &p.param)),
        prelude: parts.iter().flat_map(|p| p.prelude.clone()).collect(),
        call: format!(
            "handle.{}({})",
            rust_ident(call.name),
            comma_list(parts.iter().map(|p| &p.call_arg))
        ),
        sync_callbacks,
        may_fail: call.def.may_set_error,
        uses_ret: convert.contains("ret"),
        convert,
        ret,
        pyi_params: pyi_params.join(", "),
        pyi_ret,
        pyi_doc: pyi_escape(&doc),
    }
}

fn callback_view(cb: &LCallback) -> CallbackView {
    let mut py_args = Vec::new();
    for a in &cb.args {
        let id = rust_ident(a.name);
        let expr = match a.kind {
            CbArgKind::BytesIn { .. } => format!("buffer::subbuf(py, view.as_deref(), {id})?"),
            CbArgKind::String
            | CbArgKind::Int
            | CbArgKind::Uint
            | CbArgKind::Uint64
            | CbArgKind::Int64 => format!("{id}.into_bound_py_any(py)?"),
            CbArgKind::Uint32Array { .. } => format!("{id}.to_vec().into_bound_py_any(py)?"),
            CbArgKind::Extent64Array { .. } => format!(
                "{id}.iter().map(|e| (e.length, e.flags)).collect::<Vec<_>>().into_bound_py_any(py)?"
            ),
            CbArgKind::MutableInt => "err.clone()".to_string(),
        };
        py_args.push(expr);
    }
    CallbackView {
        name: cb.name.to_string(),
        fn_name: format!("{}_callback", cb.name),
        rust_type: format!("nbd::{}Callback", camel(cb.name)),
        params: cb.binding_params(),
        err_param: cb.err_param().into(),
        error_arg: cb.error_arg(),
        py_args,
        doc: capitalise(&cb.def.doc),
        views: cb.views_buffer,
    }
}

fn int_const(name: String, value: i64) -> ConstView {
    ConstView {
        name,
        rust_value: format!("{value}i64"),
        pyi_type: "int".into(),
    }
}

/// Every constant at module level, in libnbd's order: enums, flags (each
/// set with its `_MASK`), then the plain constants.
fn constants(l: &Lowered) -> Vec<ConstView> {
    let api = l.api;
    let mut out = Vec::new();
    for e in &api.enums {
        for v in &e.values {
            out.push(int_const(
                format!("{}_{}", e.prefix, v.name),
                v.value.into(),
            ));
        }
    }
    for f in &l.flags {
        for v in &f.def.values {
            out.push(int_const(
                format!("{}_{}", f.def.prefix, v.name),
                v.value.into(),
            ));
        }
        out.push(int_const(format!("{}_MASK", f.def.prefix), f.mask.into()));
    }
    for k in &api.constants {
        out.push(match &k.value {
            ConstValue::Int(i) => int_const(k.name.clone(), *i),
            ConstValue::Str(s) => ConstView {
                name: k.name.clone(),
                rust_value: format!("{s:?}"),
                pyi_type: "str".into(),
            },
        });
    }
    out
}

pub(crate) fn outputs(l: &Lowered) -> Result<Vec<Output>, Error> {
    let view = PythonView {
        calls: l.regular_calls().map(call_view).collect(),
        callbacks: l.callbacks.iter().map(callback_view).collect(),
        constants: constants(l),
    };
    Ok(vec![
        rendered(RUST_OUT, Lang::Rust, "python/generated.rs.tera", &view)?,
        rendered(STUB_OUT, Lang::Python, "python/nbd.pyi.tera", &view)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_python_names() {
        assert_eq!(
            python_refs("see nbd_pread(3) and LIBNBD_CMD_FLAG_FUA"),
            "see nbd.pread and CMD_FLAG_FUA"
        );
        assert_eq!(
            python_refs("nbd_foo without page, xnbd_pread(3)"),
            "nbd_foo without page, xnbd_pread(3)"
        );
    }

    #[test]
    fn docstrings_escape_triple_quotes() {
        assert_eq!(
            pyi_escape("a \"\"\" b \\ c\n\nd"),
            "a \\\"\\\"\\\" b \\\\ c\n\n        d\n        "
        );
    }
}

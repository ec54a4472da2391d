//! The C library's generated side (`bindings/c`): one `extern "C"` export
//! per call over `nbd::Handle`, the `#[repr(C)]` callback structs with the
//! closures that wrap them, and a C program that takes the address of every
//! function through the type the Rust side exports, so that a header which
//! disagrees with the exports fails to compile.
//!
//! The C types are the lowered model's ([`crate::lower::ffi::Ffi`]), which
//! the header prints as C and this module as Rust FFI types; `cargo xtask
//! build-c` checks the two against each other without the generator.

use serde::Serialize;

use crate::lower::{
    by_value_arg, number_ret, LArg, LArgKind, LCall, LCallback, LCbArg, LOptArg, LOptKind, LRet,
    Lowered,
};
use crate::model::*;
use crate::names::{camel, comma_list, rust_ident};
use crate::render::{module_index, rendered};
use crate::{Error, Lang, Output};

/// How a call's value goes back to C: the value returned on error (or for
/// a NULL handle or a caught panic), and the `ret::` helper that converts
/// the Rust value.
fn ret_conv(r: &LRet) -> (&'static str, &'static str) {
    match r {
        LRet::Error => ("-1", "error"),
        LRet::Bool => ("-1", "boolean"),
        LRet::Int => ("-1", "int"),
        LRet::Int64 => ("-1", "int64"),
        LRet::Uint => ("0", "uint"),
        LRet::Uint64 => ("0", "uint64"),
        LRet::SizeT => ("-1", "size"),
        LRet::Cookie => ("-1", "cookie"),
        LRet::StaticString => ("std::ptr::null()", "static_string"),
        LRet::String => ("std::ptr::null_mut()", "string"),
        LRet::Fd => ("-1", "fd"),
        LRet::Enum(_) => ("-1", "enumeration"),
        LRet::Flags(_) => ("0", "flags"),
        LRet::Uintptr => ("0", "uintptr"),
        LRet::Void => ("()", "void"),
        LRet::Handle => ("std::ptr::null_mut()", "handle"),
    }
}

/// What one argument becomes at the boundary (its C parameters are the
/// lowered model's).
struct ArgPlan {
    /// Statements run before anything can fail (callback wrapping, so a
    /// callback's free runs on every path).
    early: Vec<String>,
    /// Statements converting C values into Rust ones; each may fail.
    convert: Vec<String>,
    /// The expression passed to the `Handle` method.
    pass: String,
}

/// `clear` is the statement clearing the call's read buffer: libnbd
/// clears it (when nbd_set_pread_initialize is on) before any argument
/// check. The dispatch layer does so first thing, but a required closure
/// that is NULL is refused here, at the C border, before the dispatch
/// runs: that refusal clears the buffer itself.
fn arg_plan(a: &LArg, clear: Option<&str>) -> ArgPlan {
    let id = rust_ident(a.name);
    let n = a.name;
    let simple = |pass: String| ArgPlan {
        early: vec![],
        convert: vec![],
        pass,
    };
    let converted = |stmt: String, pass: String| ArgPlan {
        early: vec![],
        convert: vec![stmt],
        pass,
    };
    let len = |len: &str| rust_ident(len);
    match &a.kind {
        by_value_arg!() | LArgKind::Enum(_) | LArgKind::Flags { .. } => simple(a.core_arg(&id)),
        LArgKind::String => converted(format!("let {id} = convert::string({id}, \"{n}\")?;"), id),
        LArgKind::Path => converted(format!("let {id} = convert::path({id}, \"{n}\")?;"), id),
        LArgKind::StringList => converted(
            format!("let {id} = convert::string_list({id}, \"{n}\")?;"),
            format!("&{id}"),
        ),
        LArgKind::Sockaddr { len: l } => converted(
            format!("let {id} = convert::sockaddr({id}, {}, \"{n}\")?;", len(l)),
            format!("&{id}"),
        ),
        LArgKind::BytesIn { len: l } => converted(
            format!("let {id} = convert::bytes_in({id}, {}, \"{n}\")?;", len(l)),
            id,
        ),
        LArgKind::BytesOut { len: l } => converted(
            format!("let {id} = convert::bytes_out({id}, {}, \"{n}\")?;", len(l)),
            id,
        ),
        LArgKind::BytesPersistIn { len: l } => converted(
            format!(
                "let {id} = convert::aio_buffer({id}.cast_mut(), {}, \"{n}\")?;",
                len(l)
            ),
            id,
        ),
        LArgKind::BytesPersistOut { len: l } => converted(
            format!(
                "let {id} = convert::aio_buffer({id}, {}, \"{n}\")?;",
                len(l)
            ),
            id,
        ),
        LArgKind::Closure(cb) => {
            let required = match clear {
                Some(clear) => format!("convert::required({id}, \"{n}\").inspect_err(|_| {clear})"),
                None => format!("convert::required({id}, \"{n}\")"),
            };
            ArgPlan {
                early: vec![format!("let {id} = callbacks::{}({n}_callback);", cb.name)],
                convert: vec![format!("let {id} = {required}?;")],
                pass: id,
            }
        }
    }
}

fn optarg_plan(o: &LOptArg) -> ArgPlan {
    let id = rust_ident(o.name);
    match &o.kind {
        LOptKind::Closure(cb) => ArgPlan {
            early: vec![format!(
                "let {id} = callbacks::{}({}_callback);",
                cb.name, o.name
            )],
            convert: vec![],
            pass: id,
        },
        LOptKind::Flags { .. } => ArgPlan {
            early: vec![],
            convert: vec![],
            pass: o.core_arg(&id),
        },
    }
}

#[derive(Serialize)]
struct ExportView {
    c_name: String,
    shortdesc: String,
    method: String,
    /// `h: *mut nbd_handle, buf: *mut c_void, count: libc::size_t, ...`
    params: String,
    ret: String,
    error_value: String,
    early: Vec<String>,
    convert: Vec<String>,
    call_args: String,
    /// Whether the method returns `Result` (a `?` follows the call).
    fallible: bool,
    ret_fn: String,
    /// The Rust result as the `ret::` helper takes it (`r`, or `r.0` for
    /// the enum and flags newtypes).
    ret_arg: String,
}

#[derive(Serialize)]
struct ExportsView {
    exports: Vec<ExportView>,
}

/// One callback argument as the Rust closure receives it and as the C
/// function is called with it.
struct CbArgPlan {
    /// `subbuf: &[u8]`
    closure_param: String,
    /// Statements before the C call (copies, C strings).
    prepare: Vec<String>,
    /// Expressions passed to the C function.
    c_args: Vec<String>,
}

fn cb_arg_plan(a: &LCbArg) -> CbArgPlan {
    let id = rust_ident(a.name);
    let plain = |rust: &str| CbArgPlan {
        closure_param: format!("{id}: {rust}"),
        prepare: vec![],
        c_args: vec![id.clone()],
    };
    match a.kind {
        CbArgKind::Int => plain("i32"),
        CbArgKind::Uint => plain("u32"),
        CbArgKind::Uint64 => plain("u64"),
        CbArgKind::Int64 => plain("i64"),
        // `&mut i32` coerces to the `int *` the C function takes.
        CbArgKind::MutableInt => plain("&mut i32"),
        CbArgKind::BytesIn { .. } => CbArgPlan {
            closure_param: format!("{id}: &[u8]"),
            prepare: vec![],
            c_args: vec![
                format!("{id}.as_ptr().cast::<c_void>()"),
                format!("{id}.len()"),
            ],
        },
        CbArgKind::String => CbArgPlan {
            closure_param: format!("{id}: &str"),
            prepare: vec![format!("let {id} = convert::CText::new({id});")],
            c_args: vec![format!("{id}.as_ptr()")],
        },
        // The C type is a non-const pointer: hand C a copy it may scribble
        // on rather than the engine's own array.
        CbArgKind::Uint32Array { .. } => CbArgPlan {
            closure_param: format!("{id}: &[u32]"),
            prepare: vec![format!("let mut {id} = {id}.to_vec();")],
            c_args: vec![format!("{id}.as_mut_ptr()"), format!("{id}.len()")],
        },
        CbArgKind::Extent64Array { .. } => CbArgPlan {
            closure_param: format!("{id}: &[nbd::Extent]"),
            prepare: vec![format!("let mut {id} = {id}.to_vec();")],
            c_args: vec![format!("{id}.as_mut_ptr()"), format!("{id}.len()")],
        },
    }
}

#[derive(Serialize)]
struct CallbackView {
    /// `chunk`
    name: String,
    /// `nbd_chunk_callback`
    struct_name: String,
    /// `nbd::ChunkCallback`
    rust_type: String,
    doc: String,
    /// `*mut c_void, *const c_void, libc::size_t, ...` (user_data first)
    fn_params: String,
    closure_params: String,
    prepare: Vec<String>,
    c_args: String,
}

#[derive(Serialize)]
struct CallbacksView {
    callbacks: Vec<CallbackView>,
}

fn export_view(call: &LCall) -> ExportView {
    let (error_value, ret_fn) = ret_conv(&call.ret);
    let clear = call
        .read_buffer
        .as_ref()
        .map(|b| b.initialize(&rust_ident(b.name)));
    let plans: Vec<ArgPlan> = call
        .args
        .iter()
        .map(|a| arg_plan(a, clear.as_deref()))
        .chain(call.optargs.iter().map(optarg_plan))
        .collect();
    let params: Vec<String> = call
        .c_params
        .iter()
        .map(|p| format!("{}: {}", rust_ident(&p.name), p.ty.rust()))
        .collect();
    ExportView {
        c_name: call.c_name.clone(),
        shortdesc: call.def.shortdesc.clone(),
        method: rust_ident(call.name),
        params: params.join(", "),
        ret: call.c_ret.rust(),
        error_value: error_value.into(),
        early: plans.iter().flat_map(|p| p.early.clone()).collect(),
        convert: plans.iter().flat_map(|p| p.convert.clone()).collect(),
        call_args: comma_list(plans.iter().map(|p| &p.pass)),
        fallible: call.def.may_set_error,
        ret_fn: ret_fn.into(),
        ret_arg: match call.ret {
            LRet::Enum(_) | LRet::Flags(_) => "r.0".into(),
            number_ret!()
            | LRet::Error
            | LRet::Bool
            | LRet::Cookie
            | LRet::StaticString
            | LRet::String
            | LRet::Void
            | LRet::Handle => "r".into(),
        },
    }
}

fn callback_view(cb: &LCallback) -> CallbackView {
    let plans: Vec<CbArgPlan> = cb.args.iter().map(cb_arg_plan).collect();
    let mut c_args = vec!["owner.user_data()".to_string()];
    c_args.extend(plans.iter().flat_map(|p| p.c_args.clone()));
    CallbackView {
        name: cb.name.to_string(),
        struct_name: format!("nbd_{}_callback", cb.name),
        rust_type: format!("nbd::{}Callback", camel(cb.name)),
        doc: cb.def.doc.clone(),
        fn_params: comma_list(cb.c_params.iter().map(|p| p.ty.rust())),
        closure_params: comma_list(plans.iter().map(|p| &p.closure_param)),
        prepare: plans.iter().flat_map(|p| p.prepare.clone()).collect(),
        c_args: c_args.join(", "),
    }
}

pub(crate) fn outputs(l: &Lowered) -> Result<Vec<Output>, Error> {
    let exports = ExportsView {
        exports: l.regular_calls().map(export_view).collect(),
    };
    let callbacks = CallbacksView {
        callbacks: l.callbacks.iter().map(callback_view).collect(),
    };
    Ok(vec![
        module_index(
            "bindings/c/src/generated/mod.rs",
            "The C library's layer generated from api.yaml.",
            &["callbacks", "exports"],
        ),
        rendered(
            "bindings/c/src/generated/exports.rs",
            Lang::Rust,
            "c/exports.rs.tera",
            &exports,
        )?,
        rendered(
            "bindings/c/src/generated/callbacks.rs",
            Lang::Rust,
            "c/callbacks.rs.tera",
            &callbacks,
        )?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_are_wrapped_before_anything_can_fail() {
        let api = crate::lower::fixture_api();
        let l = crate::lower::lower(&api).unwrap();
        let v = export_view(l.call("aio_pread_structured").unwrap());
        assert_eq!(
            v.early,
            vec![
                "let chunk = callbacks::chunk(chunk_callback);",
                "let completion = callbacks::completion(completion_callback);"
            ]
        );
        // A NULL chunk callback clears the read buffer before failing.
        assert_eq!(
            v.convert,
            vec![
                "let buf = convert::aio_buffer(buf, count, \"buf\")?;",
                "let chunk = convert::required(chunk, \"chunk\").inspect_err(|_| h.initialize_aio_read_buffer(&buf))?;"
            ]
        );
        assert_eq!(v.params, "h: *mut nbd_handle, buf: *mut c_void, count: libc::size_t, offset: u64, chunk_callback: nbd_chunk_callback, completion_callback: nbd_completion_callback, flags: u32");
        assert_eq!((v.ret.as_str(), v.error_value.as_str()), ("i64", "-1"));
    }
}

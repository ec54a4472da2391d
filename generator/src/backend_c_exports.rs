//! The C library's generated side (`bindings/c`): one `extern "C"` export
//! per call over `nbd::Handle`, the `#[repr(C)]` callback structs with the
//! closures that wrap them, and a C program that takes the address of every
//! function through the type the Rust side exports, so that a header which
//! disagrees with the exports fails to compile.
//!
//! Every type appears twice, as the Rust FFI type of the export and as the
//! C type the compile check expects; both come from one [`Ffi`] value, so
//! the check compares the header (written by `backend_c` from its own
//! table) against what the exports really are.

use serde::Serialize;

use crate::backend_rust::type_name;
use crate::model::*;
use crate::names::{camel, rust_ident};
use crate::render::render;
use crate::{Error, Lang, Output};

/// A type crossing the C boundary.
#[derive(Debug, Clone, PartialEq)]
enum Ffi {
    Bool,
    Int,
    Uint,
    Int64,
    Uint32,
    Uint64,
    SizeT,
    SsizeT,
    Uintptr,
    Socklen,
    ConstCharPtr,
    CharPtr,
    CharPtrPtr,
    ConstVoidPtr,
    VoidPtr,
    ConstSockaddrPtr,
    Uint32Ptr,
    ExtentPtr,
    IntPtr,
    Handle,
    /// A callback struct passed by value, by callback name.
    Callback(String),
    Void,
}

impl Ffi {
    fn rust(&self) -> String {
        match self {
            Ffi::Bool => "bool".into(),
            Ffi::Int => "c_int".into(),
            Ffi::Uint => "c_uint".into(),
            Ffi::Int64 => "i64".into(),
            Ffi::Uint32 => "u32".into(),
            Ffi::Uint64 => "u64".into(),
            Ffi::SizeT => "libc::size_t".into(),
            Ffi::SsizeT => "libc::ssize_t".into(),
            Ffi::Uintptr => "libc::uintptr_t".into(),
            Ffi::Socklen => "libc::socklen_t".into(),
            Ffi::ConstCharPtr => "*const c_char".into(),
            Ffi::CharPtr => "*mut c_char".into(),
            Ffi::CharPtrPtr => "*mut *mut c_char".into(),
            Ffi::ConstVoidPtr => "*const c_void".into(),
            Ffi::VoidPtr => "*mut c_void".into(),
            Ffi::ConstSockaddrPtr => "*const libc::sockaddr".into(),
            Ffi::Uint32Ptr => "*mut u32".into(),
            Ffi::ExtentPtr => "*mut nbd::Extent".into(),
            Ffi::IntPtr => "*mut c_int".into(),
            Ffi::Handle => "*mut nbd_handle".into(),
            Ffi::Callback(cb) => format!("nbd_{cb}_callback"),
            Ffi::Void => "()".into(),
        }
    }
}

/// How a call's value goes back to C: the FFI type, the value returned on
/// error (or for a NULL handle or a caught panic), and the `ret::` helper
/// that converts the Rust value.
fn ret_ffi(r: &RetKind) -> (Ffi, &'static str, &'static str) {
    match r {
        RetKind::Error => (Ffi::Int, "-1", "error"),
        RetKind::Bool => (Ffi::Int, "-1", "boolean"),
        RetKind::Int => (Ffi::Int, "-1", "int"),
        RetKind::Int64 => (Ffi::Int64, "-1", "int64"),
        RetKind::Uint => (Ffi::Uint, "0", "uint"),
        RetKind::Uint64 => (Ffi::Uint64, "0", "uint64"),
        RetKind::SizeT => (Ffi::SsizeT, "-1", "size"),
        RetKind::Cookie => (Ffi::Int64, "-1", "cookie"),
        RetKind::StaticString => (Ffi::ConstCharPtr, "std::ptr::null()", "static_string"),
        RetKind::String => (Ffi::CharPtr, "std::ptr::null_mut()", "string"),
        RetKind::Fd => (Ffi::Int, "-1", "fd"),
        RetKind::Enum { .. } => (Ffi::Int, "-1", "enumeration"),
        RetKind::Flags { .. } => (Ffi::Uint32, "0", "flags"),
        RetKind::Uintptr => (Ffi::Uintptr, "0", "uintptr"),
        RetKind::Void => (Ffi::Void, "()", "void"),
        RetKind::Handle => (Ffi::Handle, "std::ptr::null_mut()", "handle"),
    }
}

/// One C parameter: its name and type.
struct Param {
    name: String,
    ty: Ffi,
}

fn p(name: &str, ty: Ffi) -> Param {
    Param {
        name: rust_ident(name),
        ty,
    }
}

/// What one argument becomes at the boundary.
struct ArgPlan {
    params: Vec<Param>,
    /// Statements run before anything can fail (callback wrapping, so a
    /// callback's free runs on every path).
    early: Vec<String>,
    /// Statements converting C values into Rust ones; each may fail.
    convert: Vec<String>,
    /// The expression passed to the `Handle` method.
    pass: String,
}

fn arg_plan(a: &Arg) -> ArgPlan {
    let id = rust_ident(&a.name);
    let n = &a.name;
    let simple = |ty: Ffi, pass: String| ArgPlan {
        params: vec![p(n, ty)],
        early: vec![],
        convert: vec![],
        pass,
    };
    let converted = |params: Vec<Param>, stmt: String, pass: String| ArgPlan {
        params,
        early: vec![],
        convert: vec![stmt],
        pass,
    };
    match &a.kind {
        ArgKind::Bool => simple(Ffi::Bool, id),
        ArgKind::Int => simple(Ffi::Int, id),
        ArgKind::Uint => simple(Ffi::Uint, id),
        ArgKind::Int64 => simple(Ffi::Int64, id),
        ArgKind::Uint32 => simple(Ffi::Uint32, id),
        ArgKind::Uint64 => simple(Ffi::Uint64, id),
        ArgKind::SizeT => simple(Ffi::SizeT, id),
        ArgKind::Fd => simple(Ffi::Int, id),
        ArgKind::Uintptr => simple(Ffi::Uintptr, id),
        ArgKind::Enum { r#enum } => simple(Ffi::Int, format!("nbd::{}({id})", type_name(r#enum))),
        ArgKind::Flags { flags } => simple(Ffi::Uint32, format!("nbd::{}({id})", type_name(flags))),
        ArgKind::String => converted(
            vec![p(n, Ffi::ConstCharPtr)],
            format!("let {id} = convert::string({id}, \"{n}\")?;"),
            id,
        ),
        ArgKind::Path => converted(
            vec![p(n, Ffi::ConstCharPtr)],
            format!("let {id} = convert::path({id}, \"{n}\")?;"),
            id,
        ),
        ArgKind::StringList => converted(
            vec![p(n, Ffi::CharPtrPtr)],
            format!("let {id} = convert::string_list({id}, \"{n}\")?;"),
            format!("&{id}"),
        ),
        ArgKind::Sockaddr { len } => converted(
            vec![p(n, Ffi::ConstSockaddrPtr), p(len, Ffi::Socklen)],
            format!(
                "let {id} = convert::sockaddr({id}, {}, \"{n}\")?;",
                rust_ident(len)
            ),
            format!("&{id}"),
        ),
        ArgKind::BytesIn { len } => converted(
            vec![p(n, Ffi::ConstVoidPtr), p(len, Ffi::SizeT)],
            format!(
                "let {id} = convert::bytes_in({id}, {}, \"{n}\")?;",
                rust_ident(len)
            ),
            id,
        ),
        ArgKind::BytesOut { len } => converted(
            vec![p(n, Ffi::VoidPtr), p(len, Ffi::SizeT)],
            format!(
                "let {id} = convert::bytes_out({id}, {}, \"{n}\")?;",
                rust_ident(len)
            ),
            id,
        ),
        ArgKind::BytesPersistIn { len } => converted(
            vec![p(n, Ffi::ConstVoidPtr), p(len, Ffi::SizeT)],
            format!(
                "let {id} = convert::aio_buffer({id}.cast_mut(), {}, \"{n}\")?;",
                rust_ident(len)
            ),
            id,
        ),
        ArgKind::BytesPersistOut { len } => converted(
            vec![p(n, Ffi::VoidPtr), p(len, Ffi::SizeT)],
            format!(
                "let {id} = convert::aio_buffer({id}, {}, \"{n}\")?;",
                rust_ident(len)
            ),
            id,
        ),
        ArgKind::Closure { callback } => {
            let c_param = format!("{n}_callback");
            ArgPlan {
                params: vec![p(&c_param, Ffi::Callback(callback.clone()))],
                early: vec![format!("let {id} = callbacks::{callback}({c_param});")],
                convert: vec![format!("let {id} = convert::required({id}, \"{n}\")?;")],
                pass: id,
            }
        }
    }
}

fn optarg_plan(o: &OptArg) -> ArgPlan {
    let id = rust_ident(&o.name);
    match &o.kind {
        OptArgKind::Closure { callback } => {
            let c_param = format!("{}_callback", o.name);
            ArgPlan {
                params: vec![p(&c_param, Ffi::Callback(callback.clone()))],
                early: vec![format!("let {id} = callbacks::{callback}({c_param});")],
                convert: vec![],
                pass: id,
            }
        }
        OptArgKind::Flags { flags, .. } => ArgPlan {
            params: vec![p(&o.name, Ffi::Uint32)],
            early: vec![],
            convert: vec![],
            pass: format!("Some(nbd::{}({id}))", type_name(flags)),
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
    ffi: Vec<Ffi>,
}

fn cb_arg_plan(a: &CbArg) -> CbArgPlan {
    let id = rust_ident(&a.name);
    let plain = |rust: &str, ffi: Ffi| CbArgPlan {
        closure_param: format!("{id}: {rust}"),
        prepare: vec![],
        c_args: vec![id.clone()],
        ffi: vec![ffi],
    };
    match &a.kind {
        CbArgKind::Int => plain("i32", Ffi::Int),
        CbArgKind::Uint => plain("u32", Ffi::Uint),
        CbArgKind::Uint64 => plain("u64", Ffi::Uint64),
        CbArgKind::Int64 => plain("i64", Ffi::Int64),
        // `&mut i32` coerces to the `int *` the C function takes.
        CbArgKind::MutableInt => plain("&mut i32", Ffi::IntPtr),
        CbArgKind::BytesIn { .. } => CbArgPlan {
            closure_param: format!("{id}: &[u8]"),
            prepare: vec![],
            c_args: vec![
                format!("{id}.as_ptr().cast::<c_void>()"),
                format!("{id}.len()"),
            ],
            ffi: vec![Ffi::ConstVoidPtr, Ffi::SizeT],
        },
        CbArgKind::String => CbArgPlan {
            closure_param: format!("{id}: &str"),
            prepare: vec![format!("let {id} = convert::CText::new({id});")],
            c_args: vec![format!("{id}.as_ptr()")],
            ffi: vec![Ffi::ConstCharPtr],
        },
        // The C type is a non-const pointer: hand C a copy it may scribble
        // on rather than the engine's own array.
        CbArgKind::Uint32Array { .. } => CbArgPlan {
            closure_param: format!("{id}: &[u32]"),
            prepare: vec![format!("let mut {id} = {id}.to_vec();")],
            c_args: vec![format!("{id}.as_mut_ptr()"), format!("{id}.len()")],
            ffi: vec![Ffi::Uint32Ptr, Ffi::SizeT],
        },
        CbArgKind::Extent64Array { .. } => CbArgPlan {
            closure_param: format!("{id}: &[nbd::Extent]"),
            prepare: vec![format!("let mut {id} = {id}.to_vec();")],
            c_args: vec![format!("{id}.as_mut_ptr()"), format!("{id}.len()")],
            ffi: vec![Ffi::ExtentPtr, Ffi::SizeT],
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

/// The parameters of a call at the C boundary, in order.
fn call_params(call: &Call) -> Vec<Param> {
    match call.special {
        Some(Special::Create) | Some(Special::GetError) | Some(Special::GetErrno) => vec![],
        Some(Special::Close) => vec![p("h", Ffi::Handle)],
        None => {
            let mut ps = vec![p("h", Ffi::Handle)];
            for a in &call.args {
                ps.extend(arg_plan(a).params);
            }
            for o in &call.optargs {
                ps.extend(optarg_plan(o).params);
            }
            ps
        }
    }
}

fn export_view(call: &Call) -> ExportView {
    let (ret, error_value, ret_fn) = ret_ffi(&call.ret);
    let mut plans: Vec<ArgPlan> = call
        .args
        .iter()
        .map(arg_plan)
        .chain(call.optargs.iter().map(optarg_plan))
        .collect();
    clear_read_buffer_on_closure_error(call, &mut plans);
    let params: Vec<String> = call_params(call)
        .iter()
        .map(|p| format!("{}: {}", p.name, p.ty.rust()))
        .collect();
    ExportView {
        c_name: format!("nbd_{}", call.name),
        shortdesc: call.shortdesc.clone(),
        method: rust_ident(&call.name),
        params: params.join(", "),
        ret: ret.rust(),
        error_value: error_value.into(),
        early: plans.iter().flat_map(|p| p.early.clone()).collect(),
        convert: plans.iter().flat_map(|p| p.convert.clone()).collect(),
        call_args: plans
            .iter()
            .map(|p| p.pass.clone())
            .collect::<Vec<_>>()
            .join(", "),
        fallible: call.may_set_error,
        ret_fn: ret_fn.into(),
        ret_arg: match call.ret {
            RetKind::Enum { .. } | RetKind::Flags { .. } => "r.0".into(),
            _ => "r".into(),
        },
    }
}

/// libnbd clears a read buffer (when nbd_set_pread_initialize is on)
/// before any argument check. The dispatch layer does so first thing, but
/// a required closure that is NULL is refused here, at the C border,
/// before the dispatch runs: that refusal clears the buffer itself.
fn clear_read_buffer_on_closure_error(call: &Call, plans: &mut [ArgPlan]) {
    let clear = call.args.iter().find_map(|a| {
        let id = rust_ident(&a.name);
        match &a.kind {
            ArgKind::BytesOut { .. } => Some(format!("h.initialize_read_buffer({id})")),
            ArgKind::BytesPersistOut { .. } => Some(format!("h.initialize_aio_read_buffer(&{id})")),
            _ => None,
        }
    });
    let Some(clear) = clear else { return };
    for (a, plan) in call.args.iter().zip(plans.iter_mut()) {
        if let ArgKind::Closure { .. } = a.kind {
            let id = rust_ident(&a.name);
            plan.convert = vec![format!(
                "let {id} = convert::required({id}, \"{}\").inspect_err(|_| {clear})?;",
                a.name
            )];
        }
    }
}

fn callback_view(cb: &CallbackDef) -> CallbackView {
    let plans: Vec<CbArgPlan> = cb.args.iter().map(cb_arg_plan).collect();
    let mut ffi = vec![Ffi::VoidPtr];
    ffi.extend(plans.iter().flat_map(|p| p.ffi.clone()));
    let mut c_args = vec!["owner.user_data()".to_string()];
    c_args.extend(plans.iter().flat_map(|p| p.c_args.clone()));
    CallbackView {
        name: cb.name.clone(),
        struct_name: format!("nbd_{}_callback", cb.name),
        rust_type: format!("nbd::{}Callback", camel(&cb.name)),
        doc: cb.doc.clone(),
        fn_params: ffi.iter().map(Ffi::rust).collect::<Vec<_>>().join(", "),
        closure_params: plans
            .iter()
            .map(|p| p.closure_param.clone())
            .collect::<Vec<_>>()
            .join(", "),
        prepare: plans.iter().flat_map(|p| p.prepare.clone()).collect(),
        c_args: c_args.join(", "),
    }
}

pub(crate) fn outputs(api: &Api) -> Result<Vec<Output>, Error> {
    let exports = ExportsView {
        exports: api
            .calls
            .iter()
            .filter(|c| c.special.is_none())
            .map(export_view)
            .collect(),
    };
    let callbacks = CallbacksView {
        callbacks: api.callbacks.iter().map(callback_view).collect(),
    };
    Ok(vec![
        Output {
            path: "bindings/c/src/generated/mod.rs".into(),
            lang: Lang::Rust,
            text: format!(
                "// {}\n\n//! The C library's layer generated from api.yaml.\n\npub mod callbacks;\npub mod exports;\n",
                crate::DO_NOT_EDIT
            ),
        },
        Output {
            path: "bindings/c/src/generated/exports.rs".into(),
            lang: Lang::Rust,
            text: render("c/exports.rs.tera", &exports)?,
        },
        Output {
            path: "bindings/c/src/generated/callbacks.rs".into(),
            lang: Lang::Rust,
            text: render("c/callbacks.rs.tera", &callbacks)?,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_are_wrapped_before_anything_can_fail() {
        let call: Call = serde_yaml::from_str(
            "name: aio_pread\nargs:\n  - { name: buf, kind: bytes_persist_out, len: count }\n\
             optargs:\n  - { name: completion, kind: closure, callback: completion }\n\
             ret: { kind: cookie }\nfirst_version: '1.0'\ngroup: aio\nshortdesc: x\nlongdesc: x\n",
        )
        .unwrap();
        let v = export_view(&call);
        assert_eq!(
            v.early,
            vec!["let completion = callbacks::completion(completion_callback);"]
        );
        assert_eq!(v.params, "h: *mut nbd_handle, buf: *mut c_void, count: libc::size_t, completion_callback: nbd_completion_callback");
        assert_eq!((v.ret.as_str(), v.error_value.as_str()), ("i64", "-1"));
    }
}

//! The lowering pass: a validated [`Api`] becomes the model every backend
//! reads (in the spirit of UniFFI's pipeline and Diplomat's HIR).
//!
//! In the lowered model references are resolved: an argument naming a
//! callback, an enum or a flag set holds that definition, not a name to
//! look up. What several backends need is computed here once: each flag
//! set's mask and default, each flags argument's permitted mask and the
//! per-call `permitted` constants, the origin sentence of a call, the
//! `bytes_out` argument that bindings return instead of the C value, the
//! read buffer a call clears first, how each argument is passed to the
//! core's `Handle` method, and the C type of everything crossing the C
//! boundary ([`ffi`]).
//!
//! Lowering cannot fail: [`lower`] validates first, and everything that
//! could be wrong is a validation error (`validate.rs`).

pub mod ffi;

use crate::model::*;
use crate::names::{camel, comma_list, rust_ident};
use crate::validate::{self, ValidationError};
use ffi::{param, CParam, Ffi};

/// The lowered API.
pub struct Lowered<'a> {
    pub api: &'a Api,
    pub flags: Vec<LFlags<'a>>,
    pub callbacks: Vec<LCallback<'a>>,
    /// Every call, the special ones included, in api.yaml's order.
    pub calls: Vec<LCall<'a>>,
}

/// A flag set with its masks.
pub struct LFlags<'a> {
    pub def: &'a FlagsDef,
    /// Every flag of the set.
    pub mask: u32,
    /// The set's `default` list as bits.
    pub default: u32,
    /// The calls restricting the set with a `permitted` list, one entry per
    /// synchronous call (its `aio_` twin permits the same, by validation)
    /// or aio call without a twin.
    pub permitted: Vec<Permitted<'a>>,
}

/// A `permitted` list of one call (and its aio twin).
pub struct Permitted<'a> {
    pub call: &'a Call,
    pub twin: Option<&'a Call>,
    pub mask: u32,
}

/// A callback kind.
#[derive(Clone)]
pub struct LCallback<'a> {
    pub def: &'a CallbackDef,
    pub name: &'a str,
    pub args: Vec<LCbArg<'a>>,
    /// The C parameters of the function pointer, `user_data` first.
    pub c_params: Vec<CParam>,
    /// Whether it is handed pieces of a read buffer (a `bytes_in`).
    pub views_buffer: bool,
    /// Whether some call takes it as an optional argument (C then has a
    /// `NBD_NULL_...` macro for it).
    pub optional: bool,
}

#[derive(Clone)]
pub struct LCbArg<'a> {
    pub name: &'a str,
    pub kind: &'a CbArgKind,
    pub c: Vec<CParam>,
}

/// A call.
pub struct LCall<'a> {
    pub def: &'a Call,
    /// Without `nbd_`.
    pub name: &'a str,
    /// `nbd_pread`
    pub c_name: String,
    pub args: Vec<LArg<'a>>,
    pub optargs: Vec<LOptArg<'a>>,
    pub ret: LRet<'a>,
    /// The C parameters, the handle first (none for the handle-less
    /// specials).
    pub c_params: Vec<CParam>,
    pub c_ret: Ffi,
    /// "Since libnbd 1.2." or the extension sentence ([`Call::origin`]).
    pub origin: String,
    /// The origin followed by the C name: "Since libnbd 1.2. C: `nbd_x`."
    pub origin_c: String,
    /// The libnbd release for a `@since`-like tag; None for an extension.
    pub since: Option<&'a str>,
    /// `first_version` as (major, minor).
    pub version: (u32, u32),
    /// A `bytes_out` argument: bindings take its length instead and return
    /// the data read (as libnbd's Python module does).
    pub returned_buffer: Option<&'a str>,
    /// The buffer a read fills (`bytes_out` or `bytes_persist_out`), which
    /// is cleared before anything can fail.
    pub read_buffer: Option<ReadBuffer<'a>>,
    /// See [`Call::callbacks_run_during_call`].
    pub callbacks_run_during_call: bool,
    /// Whether an argument is checked against its enum or flag set.
    pub checks_values: bool,
    /// Whether a closure argument's callback is shown pieces of the
    /// call's read buffer.
    pub views_read_buffer: bool,
    /// How the tokio API (`nbd::AsyncHandle`) offers the call.
    pub async_form: AsyncForm,
}

/// How `nbd::AsyncHandle`, the core's tokio API, offers a call; decided
/// here from the call's group and its `aio_` twin, so no backend has to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncForm {
    /// The synchronous call, passed through: it does not wait on the
    /// server (settings, getters, and so on).
    Sync,
    /// An `async fn`: the aio twin takes the same arguments (buffers
    /// persistent instead of borrowed), the same optional arguments plus
    /// a `completion` callback first, and the synchronous call returns
    /// nothing; the command is submitted with a completion callback and
    /// awaited.
    Completion,
    /// An `async fn` for a `connect` group call: the aio twin takes the
    /// same arguments and returns nothing; awaited until the handshake is
    /// over.
    Connect,
    /// An `async fn` for an option request (a negotiation call permitted
    /// only while negotiating): the aio twin takes the same arguments,
    /// plus an optional `completion` callback when `completion` (passed
    /// as none); the option's result is awaited and read off as the
    /// synchronous call does, the server's message included.
    Option { completion: bool },
    /// Not offered: the specials, the `aio_*` and event-loop calls (tokio
    /// is the event loop), and calls that wait on the server without an
    /// aio twin to await (`shutdown` is written by hand).
    Omitted,
}

/// The buffer of a read call.
pub struct ReadBuffer<'a> {
    pub name: &'a str,
    /// Its length parameter.
    pub len: &'a str,
    /// `bytes_persist_out` (an `AioBuffer`) rather than `bytes_out`.
    pub persistent: bool,
}

impl ReadBuffer<'_> {
    /// The statement (without `;`) clearing the buffer `local` through the
    /// handle `h` when nbd_set_pread_initialize is on (libnbd's contract).
    pub fn initialize(&self, local: &str) -> String {
        if self.persistent {
            format!("h.initialize_aio_read_buffer(&{local})")
        } else {
            format!("h.initialize_read_buffer({local})")
        }
    }
}

pub struct LArg<'a> {
    pub def: &'a Arg,
    pub name: &'a str,
    /// The name bindings give the parameter: a `bytes_out` argument is
    /// replaced by its length (see [`LCall::returned_buffer`]).
    pub shown: &'a str,
    pub kind: LArgKind<'a>,
    /// Its C parameters.
    pub c: Vec<CParam>,
}

/// [`ArgKind`] with its references resolved.
pub enum LArgKind<'a> {
    Bool,
    Int,
    Uint,
    Int64,
    Uint32,
    Uint64,
    SizeT,
    String,
    StringList,
    Path,
    Fd,
    Uintptr,
    Sockaddr {
        len: &'a str,
    },
    BytesIn {
        len: &'a str,
    },
    BytesOut {
        len: &'a str,
    },
    BytesPersistIn {
        len: &'a str,
    },
    BytesPersistOut {
        len: &'a str,
    },
    Closure(LCallback<'a>),
    Enum(&'a EnumDef),
    /// A required flags argument accepts the whole set (`mask`).
    Flags {
        set: &'a FlagsDef,
        mask: u32,
    },
}

pub struct LOptArg<'a> {
    pub name: &'a str,
    pub kind: LOptKind<'a>,
    pub c: CParam,
}

/// [`OptArgKind`] with its references resolved.
pub enum LOptKind<'a> {
    Closure(LCallback<'a>),
    /// `mask` is what the call permits (the whole set without a
    /// `permitted` list).
    Flags {
        set: &'a FlagsDef,
        mask: u32,
    },
}

/// [`RetKind`] with its references resolved.
pub enum LRet<'a> {
    Error,
    Bool,
    Int,
    Int64,
    Uint,
    Uint64,
    SizeT,
    Cookie,
    StaticString,
    String,
    Fd,
    Enum(&'a EnumDef),
    Flags(&'a FlagsDef),
    Uintptr,
    Void,
    Handle,
}

/// A pattern for the [`LArgKind`]s passed by value as they are (numbers,
/// bools, descriptors): no conversion, no length, no definition. The
/// backends that treat them alike match them with `by_value_arg!()`, so
/// that the list is kept here once and their matches stay exhaustive.
macro_rules! by_value_arg {
    () => {
        $crate::lower::LArgKind::Bool
            | $crate::lower::LArgKind::Int
            | $crate::lower::LArgKind::Uint
            | $crate::lower::LArgKind::Int64
            | $crate::lower::LArgKind::Uint32
            | $crate::lower::LArgKind::Uint64
            | $crate::lower::LArgKind::SizeT
            | $crate::lower::LArgKind::Fd
            | $crate::lower::LArgKind::Uintptr
    };
}
pub(crate) use by_value_arg;

/// A pattern for the [`LRet`]s that are a number (a descriptor among
/// them) with no type of its own, matched with `number_ret!()` by the
/// backends that treat them alike.
macro_rules! number_ret {
    () => {
        $crate::lower::LRet::Int
            | $crate::lower::LRet::Int64
            | $crate::lower::LRet::Uint
            | $crate::lower::LRet::Uint64
            | $crate::lower::LRet::SizeT
            | $crate::lower::LRet::Fd
            | $crate::lower::LRet::Uintptr
    };
}
pub(crate) use number_ret;

/// The Rust type of a lower-case enum or flag set name (`cmd_flag` ->
/// `CmdFlag`).
pub fn type_name(name: &str) -> String {
    camel(name)
}

/// An enum or flags value `expr` as the core's newtype, seen from a
/// binding crate (`nbd::CmdFlag(expr)`).
fn newtype(name: &str, expr: &str) -> String {
    format!("nbd::{}({expr})", type_name(name))
}

impl LCbArg<'_> {
    /// The argument's type in the core's callback signature, the core's
    /// own types behind `krate` (`""` in the core, `"nbd::"` in a binding
    /// crate).
    pub fn rust_type(&self, krate: &str) -> String {
        match self.kind {
            CbArgKind::BytesIn { .. } => "&[u8]".into(),
            CbArgKind::String => "&str".into(),
            CbArgKind::Int => "i32".into(),
            CbArgKind::Uint => "u32".into(),
            CbArgKind::Uint64 => "u64".into(),
            CbArgKind::Int64 => "i64".into(),
            CbArgKind::Uint32Array { .. } => "&[u32]".into(),
            CbArgKind::Extent64Array { .. } => format!("&[{krate}Extent]"),
            CbArgKind::MutableInt => "&mut i32".into(),
        }
    }
}

impl LCallback<'_> {
    /// The parameters of a binding crate's closure for the callback, as
    /// the core calls it (`name: type, …`).
    pub fn binding_params(&self) -> String {
        comma_list(
            self.args
                .iter()
                .map(|a| format!("{}: {}", rust_ident(a.name), a.rust_type("nbd::"))),
        )
    }

    /// The error argument a binding hands to its callback helper: the
    /// `mutable_int` parameter as `Some(id)`, or `None` without one.
    pub fn error_arg(&self) -> String {
        self.args
            .iter()
            .find(|a| matches!(a.kind, CbArgKind::MutableInt))
            .map_or("None".into(), |a| format!("Some({})", rust_ident(a.name)))
    }

    /// The name a binding's closure gives that error argument (`_err`
    /// when there is none to use).
    pub fn err_param(&self) -> &'static str {
        if self.error_arg() == "None" {
            "_err"
        } else {
            "err"
        }
    }
}

impl LArg<'_> {
    /// The argument as the binding crates pass it to the core's `Handle`
    /// method, given the binding's converted value `expr`: enums and flags
    /// are wrapped in their newtype, everything else goes as it is.
    pub fn core_arg(&self, expr: &str) -> String {
        match self.def.kind.role() {
            ArgRole::Enum(name) | ArgRole::Flags(name) => newtype(name, expr),
            ArgRole::Plain
            | ArgRole::Sockaddr { .. }
            | ArgRole::Buffer { .. }
            | ArgRole::Closure(_) => expr.to_string(),
        }
    }
}

impl LOptArg<'_> {
    /// The optional argument as passed to the core (an `Option`), given
    /// the binding's value `expr` (already an `Option` for a closure).
    pub fn core_arg(&self, expr: &str) -> String {
        match &self.kind {
            LOptKind::Closure(_) => expr.to_string(),
            LOptKind::Flags { set, .. } => format!("Some({})", newtype(&set.name, expr)),
        }
    }
}

impl<'a> Lowered<'a> {
    /// The call named `name` (without `nbd_`), if there is one.
    pub fn call(&self, name: &str) -> Option<&LCall<'a>> {
        self.calls.iter().find(|c| c.name == name)
    }

    /// The calls generated like the rest (not the four special ones).
    pub fn regular_calls(&self) -> impl Iterator<Item = &LCall<'a>> {
        self.calls.iter().filter(|c| c.def.special.is_none())
    }

    /// The call marked `special` (validation makes sure there is one).
    pub fn special(&self, which: Special) -> &LCall<'a> {
        self.calls
            .iter()
            .find(|c| c.def.special == Some(which))
            .unwrap_or_else(|| unreachable!("validated: a call is marked {which:?}"))
    }
}

/// Validate `api` and lower it.
pub fn lower(api: &Api) -> Result<Lowered<'_>, Vec<ValidationError>> {
    validate::validate(api)?;
    let optional: Vec<&str> = api
        .calls
        .iter()
        .flat_map(|c| &c.optargs)
        .filter_map(|o| match &o.kind {
            OptArgKind::Closure { callback } => Some(callback.as_str()),
            OptArgKind::Flags { .. } => None,
        })
        .collect();
    let r = Resolver { api, optional };
    Ok(Lowered {
        api,
        flags: api.flags.iter().map(|f| r.flags(f)).collect(),
        callbacks: api
            .callbacks
            .iter()
            .map(|cb| r.lower_callback(cb))
            .collect(),
        calls: api.calls.iter().map(|c| r.call(c)).collect(),
    })
}

/// Name resolution over a validated description.
struct Resolver<'a> {
    api: &'a Api,
    /// The callbacks some call takes as an optional argument.
    optional: Vec<&'a str>,
}

/// The bits of the flags of `set` named in `names` (every flag when None).
pub fn flag_mask(set: &FlagsDef, names: Option<&[String]>) -> u32 {
    set.values
        .iter()
        .filter(|v| names.is_none_or(|n| n.contains(&v.name)))
        .fold(0, |m, v| m | v.value)
}

impl<'a> Resolver<'a> {
    fn callback(&self, name: &str) -> LCallback<'a> {
        let def = self
            .api
            .callbacks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| unreachable!("validated: callback `{name}` is defined"));
        self.lower_callback(def)
    }

    fn lower_callback(&self, cb: &'a CallbackDef) -> LCallback<'a> {
        let args: Vec<LCbArg> = cb
            .args
            .iter()
            .map(|a| LCbArg {
                name: &a.name,
                kind: &a.kind,
                c: ffi::cb_arg(&a.name, &a.kind),
            })
            .collect();
        let mut c_params = vec![param("user_data", Ffi::VoidPtr)];
        c_params.extend(args.iter().flat_map(|a| a.c.iter().cloned()));
        LCallback {
            def: cb,
            name: &cb.name,
            views_buffer: cb.args.iter().any(|a| a.kind.is_buffer()),
            c_params,
            args,
            optional: self.optional.contains(&cb.name.as_str()),
        }
    }

    fn enumeration(&self, name: &str) -> &'a EnumDef {
        self.api
            .enums
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| unreachable!("validated: enum `{name}` is defined"))
    }

    fn flag_set(&self, name: &str) -> &'a FlagsDef {
        self.api
            .flags
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| unreachable!("validated: flag set `{name}` is defined"))
    }

    fn flags(&self, set: &'a FlagsDef) -> LFlags<'a> {
        let find = |name: &str| self.api.calls.iter().find(|c| c.name == name);
        let permitted = self
            .api
            .calls
            .iter()
            .filter(|c| {
                c.name
                    .strip_prefix("aio_")
                    .is_none_or(|s| find(s).is_none())
            })
            .filter_map(|c| {
                c.optargs.iter().find_map(|o| match &o.kind {
                    OptArgKind::Flags {
                        flags,
                        permitted: Some(p),
                    } if *flags == set.name => Some(Permitted {
                        call: c,
                        twin: find(&format!("aio_{}", c.name)),
                        mask: flag_mask(set, Some(p)),
                    }),
                    OptArgKind::Flags { .. } | OptArgKind::Closure { .. } => None,
                })
            })
            .collect();
        LFlags {
            def: set,
            mask: flag_mask(set, None),
            default: flag_mask(set, Some(&set.default)),
            permitted,
        }
    }

    fn arg(&self, a: &'a Arg) -> LArg<'a> {
        let n = a.name.as_str();
        // A buffer and its length, as C takes them.
        let buffer = |ptr: Ffi, len: &str| vec![param(n, ptr), param(len, Ffi::SizeT)];
        let (kind, c) = match &a.kind {
            ArgKind::Bool => (LArgKind::Bool, vec![param(n, Ffi::Bool)]),
            ArgKind::Int => (LArgKind::Int, vec![param(n, Ffi::Int)]),
            ArgKind::Uint => (LArgKind::Uint, vec![param(n, Ffi::Uint)]),
            ArgKind::Int64 => (LArgKind::Int64, vec![param(n, Ffi::Int64)]),
            ArgKind::Uint32 => (LArgKind::Uint32, vec![param(n, Ffi::Uint32)]),
            ArgKind::Uint64 => (LArgKind::Uint64, vec![param(n, Ffi::Uint64)]),
            ArgKind::SizeT => (LArgKind::SizeT, vec![param(n, Ffi::SizeT)]),
            ArgKind::String => (LArgKind::String, vec![param(n, Ffi::ConstCharPtr)]),
            ArgKind::StringList => (LArgKind::StringList, vec![param(n, Ffi::CharPtrPtr)]),
            ArgKind::Path => (LArgKind::Path, vec![param(n, Ffi::ConstCharPtr)]),
            ArgKind::Fd => (LArgKind::Fd, vec![param(n, Ffi::Int)]),
            ArgKind::Uintptr => (LArgKind::Uintptr, vec![param(n, Ffi::Uintptr)]),
            ArgKind::Sockaddr { len } => (
                LArgKind::Sockaddr { len },
                vec![param(n, Ffi::ConstSockaddrPtr), param(len, Ffi::Socklen)],
            ),
            ArgKind::BytesIn { len } => (LArgKind::BytesIn { len }, buffer(Ffi::ConstVoidPtr, len)),
            ArgKind::BytesOut { len } => (LArgKind::BytesOut { len }, buffer(Ffi::VoidPtr, len)),
            ArgKind::BytesPersistIn { len } => (
                LArgKind::BytesPersistIn { len },
                buffer(Ffi::ConstVoidPtr, len),
            ),
            ArgKind::BytesPersistOut { len } => {
                (LArgKind::BytesPersistOut { len }, buffer(Ffi::VoidPtr, len))
            }
            ArgKind::Closure { callback } => (
                LArgKind::Closure(self.callback(callback)),
                vec![param(
                    &format!("{n}_callback"),
                    Ffi::Callback(callback.clone()),
                )],
            ),
            ArgKind::Enum { r#enum } => (
                LArgKind::Enum(self.enumeration(r#enum)),
                vec![param(n, Ffi::Int)],
            ),
            ArgKind::Flags { flags } => {
                let set = self.flag_set(flags);
                (
                    LArgKind::Flags {
                        set,
                        mask: flag_mask(set, None),
                    },
                    vec![param(n, Ffi::Uint32)],
                )
            }
        };
        let shown = match a.kind.role() {
            ArgRole::Buffer {
                len,
                out: true,
                persistent: false,
            } => len,
            ArgRole::Buffer { .. }
            | ArgRole::Plain
            | ArgRole::Sockaddr { .. }
            | ArgRole::Closure(_)
            | ArgRole::Enum(_)
            | ArgRole::Flags(_) => n,
        };
        LArg {
            def: a,
            name: n,
            shown,
            kind,
            c,
        }
    }

    fn optarg(&self, o: &'a OptArg) -> LOptArg<'a> {
        let n = o.name.as_str();
        match &o.kind {
            OptArgKind::Closure { callback } => LOptArg {
                name: n,
                kind: LOptKind::Closure(self.callback(callback)),
                c: param(&format!("{n}_callback"), Ffi::Callback(callback.clone())),
            },
            OptArgKind::Flags { flags, permitted } => {
                let set = self.flag_set(flags);
                LOptArg {
                    name: n,
                    kind: LOptKind::Flags {
                        set,
                        mask: flag_mask(set, permitted.as_deref()),
                    },
                    c: param(n, Ffi::Uint32),
                }
            }
        }
    }

    fn ret(&self, r: &RetKind) -> LRet<'a> {
        match r {
            RetKind::Error => LRet::Error,
            RetKind::Bool => LRet::Bool,
            RetKind::Int => LRet::Int,
            RetKind::Int64 => LRet::Int64,
            RetKind::Uint => LRet::Uint,
            RetKind::Uint64 => LRet::Uint64,
            RetKind::SizeT => LRet::SizeT,
            RetKind::Cookie => LRet::Cookie,
            RetKind::StaticString => LRet::StaticString,
            RetKind::String => LRet::String,
            RetKind::Fd => LRet::Fd,
            RetKind::Enum { r#enum } => LRet::Enum(self.enumeration(r#enum)),
            RetKind::Flags { flags } => LRet::Flags(self.flag_set(flags)),
            RetKind::Uintptr => LRet::Uintptr,
            RetKind::Void => LRet::Void,
            RetKind::Handle => LRet::Handle,
        }
    }

    fn call(&self, call: &'a Call) -> LCall<'a> {
        let args: Vec<LArg<'a>> = call.args.iter().map(|a| self.arg(a)).collect();
        let optargs: Vec<LOptArg<'a>> = call.optargs.iter().map(|o| self.optarg(o)).collect();
        let c_params = match call.special {
            Some(Special::Create) | Some(Special::GetError) | Some(Special::GetErrno) => vec![],
            Some(Special::Close) => vec![param("h", Ffi::Handle)],
            None => {
                let mut ps = vec![param("h", Ffi::Handle)];
                ps.extend(args.iter().flat_map(|a| a.c.iter().cloned()));
                ps.extend(optargs.iter().map(|o| o.c.clone()));
                ps
            }
        };
        let read_buffer = args.iter().find_map(read_buffer);
        let c_name = format!("nbd_{}", call.name);
        let origin = call.origin();
        LCall {
            def: call,
            name: &call.name,
            origin_c: format!("{origin} C: `{c_name}`."),
            origin,
            c_name,
            ret: self.ret(&call.ret),
            c_ret: ffi::ret(&call.ret),
            c_params,
            since: (!call.extension).then_some(call.first_version.as_str()),
            version: validate::version_key(&call.first_version).unwrap_or_else(|| {
                unreachable!("validated: {} is MAJOR.MINOR", call.first_version)
            }),
            returned_buffer: read_buffer
                .as_ref()
                .filter(|b| !b.persistent)
                .map(|b| b.name),
            read_buffer,
            callbacks_run_during_call: call.callbacks_run_during_call(),
            checks_values: call.checks_values(),
            views_read_buffer: call
                .args
                .iter()
                .filter_map(|a| a.kind.callback())
                .any(|name| self.callback(name).views_buffer),
            async_form: async_form(self.api, call),
            args,
            optargs,
        }
    }
}

/// See [`AsyncForm`].
fn async_form(api: &Api, call: &Call) -> AsyncForm {
    if call.special.is_some()
        || matches!(call.group, Group::Aio | Group::AioControl)
        || call.name.starts_with("aio_")
    {
        return AsyncForm::Omitted;
    }
    let aio_name = format!("aio_{}", call.name);
    let Some(twin) = api.calls.iter().find(|c| c.name == aio_name) else {
        // Data commands, the connect group's calls (shutdown, written by
        // hand) and the option requests (permitted only while negotiating)
        // wait on the server: without a twin there is no async form.
        let waits = match call.group {
            Group::Data | Group::Connect => true,
            Group::Negotiate => call.permitted_states == [State::Negotiating],
            _ => false,
        };
        return if waits {
            AsyncForm::Omitted
        } else {
            AsyncForm::Sync
        };
    };
    let same_args = twin.args.len() == call.args.len()
        && twin.args.iter().zip(&call.args).all(|(t, s)| {
            t.name == s.name
                && match (&s.kind, &t.kind) {
                    (ArgKind::BytesIn { len: a }, ArgKind::BytesPersistIn { len: b })
                    | (ArgKind::BytesOut { len: a }, ArgKind::BytesPersistOut { len: b }) => a == b,
                    (a, b) => a == b,
                }
        });
    if !same_args {
        return AsyncForm::Omitted;
    }
    let completion_first = matches!(
        twin.optargs.first(),
        Some(OptArg { kind: OptArgKind::Closure { callback }, .. }) if callback == "completion"
    );
    let negotiates =
        call.group == Group::Negotiate && call.permitted_states == [State::Negotiating];
    if negotiates && call.optargs.is_empty() && (twin.optargs.is_empty() || completion_first) {
        AsyncForm::Option {
            completion: completion_first,
        }
    } else if call.ret != RetKind::Error {
        AsyncForm::Omitted
    } else if completion_first
        && twin.optargs[1..] == call.optargs[..]
        && twin.ret == RetKind::Cookie
    {
        AsyncForm::Completion
    } else if call.connects() && twin.optargs.is_empty() && twin.ret == RetKind::Error {
        AsyncForm::Connect
    } else {
        AsyncForm::Omitted
    }
}

fn read_buffer<'a>(a: &LArg<'a>) -> Option<ReadBuffer<'a>> {
    match a.def.kind.role() {
        ArgRole::Buffer {
            len,
            out: true,
            persistent,
        } => Some(ReadBuffer {
            name: a.name,
            len,
            persistent,
        }),
        ArgRole::Buffer { out: false, .. }
        | ArgRole::Plain
        | ArgRole::Sockaddr { .. }
        | ArgRole::Closure(_)
        | ArgRole::Enum(_)
        | ArgRole::Flags(_) => None,
    }
}

/// The small API of `fixture.yaml`, for the generator's unit tests.
#[cfg(test)]
pub(crate) fn fixture_api() -> Api {
    crate::parse(include_str!("fixture.yaml")).unwrap_or_else(|e| panic!("fixture.yaml: {e}"))
}

#[cfg(test)]
mod tests;

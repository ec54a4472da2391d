//! The typed model of `api.yaml`.
//!
//! Every kind is a closed enum and every struct rejects unknown fields, so a
//! typo in `api.yaml` is an error and a new kind breaks every backend's
//! exhaustive `match` until it is handled.

use serde::{Deserialize, Serialize};

/// The whole API description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Enumerations whose values are part of the ABI (TLS modes, ...).
    pub enums: Vec<EnumDef>,
    /// Bit-flag sets with their mask (command flags, strict mode, ...).
    pub flags: Vec<FlagsDef>,
    /// Plain constants (`LIBNBD_STATE_HOLE`, context names, ...).
    pub constants: Vec<ConstDef>,
    /// Callback signatures (`nbd_chunk_callback`, ...).
    pub callbacks: Vec<CallbackDef>,
    /// Every call of the API.
    pub calls: Vec<Call>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumDef {
    /// Lower-case name used for types (`tls` -> `Tls`, `nbd_set_tls`).
    pub name: String,
    /// Upper-case prefix of the C constants (`TLS` -> `LIBNBD_TLS_ALLOW`).
    pub prefix: String,
    /// One-line description.
    pub doc: String,
    pub values: Vec<EnumValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumValue {
    /// Upper-case value name without the prefix (`ALLOW`).
    pub name: String,
    pub value: i32,
    #[serde(default)]
    pub doc: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsDef {
    /// Lower-case name (`cmd_flag`, `strict`, ...).
    pub name: String,
    /// Upper-case prefix of the C constants (`CMD_FLAG`).
    pub prefix: String,
    pub doc: String,
    /// The default value of an optional flags argument of this set, as a
    /// list of flag names (empty means 0).
    #[serde(default)]
    pub default: Vec<String>,
    pub values: Vec<FlagValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagValue {
    pub name: String,
    pub value: u32,
    #[serde(default)]
    pub doc: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstDef {
    /// Upper-case name without `LIBNBD_` (`STATE_HOLE`).
    pub name: String,
    pub value: ConstValue,
    #[serde(default)]
    pub doc: String,
}

/// An integer (`value: 1`) or a string (`value: "base:allocation"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConstValue {
    Int(i64),
    /// A string constant, such as a meta context name.
    Str(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackDef {
    /// Lower-case name (`chunk` -> `nbd_chunk_callback`).
    pub name: String,
    pub doc: String,
    /// Arguments after `void *user_data`.
    pub args: Vec<CbArg>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawArg", into = "RawArg")]
pub struct CbArg {
    pub name: String,
    pub kind: CbArgKind,
}

/// The closed set of callback argument kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum CbArgKind {
    /// `const void *NAME, size_t LEN`.
    BytesIn { len: String },
    /// `const char *`.
    String,
    /// `int`.
    Int,
    /// `unsigned`.
    Uint,
    /// `uint64_t`.
    Uint64,
    /// `int64_t`.
    Int64,
    /// `uint32_t *NAME, size_t LEN`.
    Uint32Array { len: String },
    /// `nbd_extent *NAME, size_t LEN`.
    Extent64Array { len: String },
    /// `int *` that the callback may assign (the `error` pointer).
    MutableInt,
}

/// Coarse handle states that calls can be permitted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Created,
    Connecting,
    Negotiating,
    Connected,
    Closed,
    Dead,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Created,
        State::Connecting,
        State::Negotiating,
        State::Connected,
        State::Closed,
        State::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Connecting => "connecting",
            State::Negotiating => "negotiating",
            State::Connected => "connected",
            State::Closed => "closed",
            State::Dead => "dead",
        }
    }
}

/// Calls that are not generated like the rest, because they have no handle
/// or manage the handle itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Special {
    Create,
    Close,
    GetError,
    GetErrno,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// Name without `nbd_` (`pread`).
    pub name: String,
    #[serde(default)]
    pub args: Vec<Arg>,
    /// Optional arguments: only closures and flags, always last.
    #[serde(default)]
    pub optargs: Vec<OptArg>,
    pub ret: RetKind,
    /// States in which the call is permitted. Empty means every state
    /// (calls that only touch configuration or are special).
    #[serde(default)]
    pub permitted_states: Vec<State>,
    /// Whether the call takes the handle lock (default true).
    #[serde(default = "yes")]
    pub locked: bool,
    /// Whether the call can fail and set the error (default true).
    #[serde(default = "yes")]
    pub may_set_error: bool,
    /// One of the four hand-written C entry points.
    #[serde(default)]
    pub special: Option<Special>,
    /// A call libnbd does not have, added by this library. Its
    /// `first_version` is the libnbd release whose API it was added beside.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub extension: bool,
    /// The libnbd version that introduced the call (`1.0`, `1.12`...).
    pub first_version: String,
    /// Group for the overview page.
    pub group: Group,
    /// One line, no final full stop.
    pub shortdesc: String,
    /// Paragraphs separated by blank lines; `nbd_foo(3)` references are
    /// checked.
    pub longdesc: String,
    /// The meaning of the return value, in prose (RETURN VALUE section).
    #[serde(default)]
    pub returns: Option<String>,
    /// A complete C example program, if any.
    #[serde(default)]
    pub example: Option<String>,
    /// Names of related calls, without `nbd_`.
    #[serde(default)]
    pub see_also: Vec<String>,
    /// Extra SEE ALSO entries that are not calls (`nbdkit(1)`).
    #[serde(default)]
    pub see_also_external: Vec<String>,
}

impl Call {
    /// Whether the call makes a connection (api.yaml's `connect` group):
    /// bindings that tell a garbage collector what a handle holds update
    /// it after these, when the connection's buffers exist.
    pub fn connects(&self) -> bool {
        self.group == Group::Connect
    }

    /// Where the call comes from, one sentence for every binding's
    /// documentation: the libnbd release that first had it, or that it
    /// is this library's own.
    pub fn origin(&self) -> String {
        if self.extension {
            "Extension of this library, not in libnbd.".to_string()
        } else {
            format!("Since libnbd {}.", self.first_version)
        }
    }

    /// Whether the call's callbacks all run before it returns, so that an
    /// exception raised in one can fail the call itself (bindings use this).
    /// A call taking a completion callback is asynchronous, and the debug
    /// callback stays set on the handle after `set_debug_callback` returns.
    pub fn callbacks_run_during_call(&self) -> bool {
        let closures: Vec<&str> = self
            .args
            .iter()
            .filter_map(|a| a.kind.callback())
            .chain(self.optargs.iter().filter_map(|o| match &o.kind {
                OptArgKind::Closure { callback } => Some(callback.as_str()),
                OptArgKind::Flags { .. } => None,
            }))
            .collect();
        !closures.is_empty() && !closures.contains(&"completion") && !closures.contains(&"debug")
    }

    /// Whether an argument is checked against its enum or flag set (and
    /// so the call can fail with `EINVAL` for an unknown value).
    pub fn checks_values(&self) -> bool {
        self.args.iter().any(|a| a.kind.is_checked())
            || self.optargs.iter().any(|o| match o.kind {
                OptArgKind::Flags { .. } => true,
                OptArgKind::Closure { .. } => false,
            })
    }
}

/// What an argument kind carries besides its value. [`ArgKind::role`] is
/// the one exhaustive match over [`ArgKind`] that the helpers below,
/// validation and lowering share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRole<'a> {
    /// A value or string passed as it is.
    Plain,
    /// `const struct sockaddr *` followed by its length parameter.
    Sockaddr { len: &'a str },
    /// A buffer followed by its length parameter: `out` when the call
    /// fills it, `persistent` when it is kept until an aio command retires.
    Buffer {
        len: &'a str,
        out: bool,
        persistent: bool,
    },
    /// A callback, by name.
    Closure(&'a str),
    /// A value of an enum, by name.
    Enum(&'a str),
    /// A value of a flag set, by name.
    Flags(&'a str),
}

impl ArgKind {
    pub fn role(&self) -> ArgRole<'_> {
        fn buffer(len: &str, out: bool, persistent: bool) -> ArgRole<'_> {
            ArgRole::Buffer {
                len,
                out,
                persistent,
            }
        }
        match self {
            ArgKind::Bool
            | ArgKind::Int
            | ArgKind::Uint
            | ArgKind::Int64
            | ArgKind::Uint32
            | ArgKind::Uint64
            | ArgKind::SizeT
            | ArgKind::String
            | ArgKind::StringList
            | ArgKind::Path
            | ArgKind::Fd
            | ArgKind::Uintptr => ArgRole::Plain,
            ArgKind::Sockaddr { len } => ArgRole::Sockaddr { len },
            ArgKind::BytesIn { len } => buffer(len, false, false),
            ArgKind::BytesOut { len } => buffer(len, true, false),
            ArgKind::BytesPersistIn { len } => buffer(len, false, true),
            ArgKind::BytesPersistOut { len } => buffer(len, true, true),
            ArgKind::Closure { callback } => ArgRole::Closure(callback),
            ArgKind::Enum { r#enum } => ArgRole::Enum(r#enum),
            ArgKind::Flags { flags } => ArgRole::Flags(flags),
        }
    }

    /// The callback a closure argument takes.
    pub fn callback(&self) -> Option<&str> {
        match self.role() {
            ArgRole::Closure(callback) => Some(callback),
            ArgRole::Plain
            | ArgRole::Sockaddr { .. }
            | ArgRole::Buffer { .. }
            | ArgRole::Enum(_)
            | ArgRole::Flags(_) => None,
        }
    }

    /// The name of the length parameter that follows a pointer argument.
    pub fn len(&self) -> Option<&str> {
        match self.role() {
            ArgRole::Sockaddr { len } | ArgRole::Buffer { len, .. } => Some(len),
            ArgRole::Plain | ArgRole::Closure(_) | ArgRole::Enum(_) | ArgRole::Flags(_) => None,
        }
    }

    /// Whether the value is checked against an enum or a flag set.
    pub fn is_checked(&self) -> bool {
        match self.role() {
            ArgRole::Enum(_) | ArgRole::Flags(_) => true,
            ArgRole::Plain
            | ArgRole::Sockaddr { .. }
            | ArgRole::Buffer { .. }
            | ArgRole::Closure(_) => false,
        }
    }
}

impl CbArgKind {
    /// The name of the length parameter that follows an array argument.
    pub fn len(&self) -> Option<&str> {
        match self {
            CbArgKind::BytesIn { len }
            | CbArgKind::Uint32Array { len }
            | CbArgKind::Extent64Array { len } => Some(len),
            CbArgKind::String
            | CbArgKind::Int
            | CbArgKind::Uint
            | CbArgKind::Uint64
            | CbArgKind::Int64
            | CbArgKind::MutableInt => None,
        }
    }

    /// Whether the argument is a piece of a buffer (`bytes_in`).
    pub fn is_buffer(&self) -> bool {
        match self {
            CbArgKind::BytesIn { .. } => true,
            CbArgKind::String
            | CbArgKind::Int
            | CbArgKind::Uint
            | CbArgKind::Uint64
            | CbArgKind::Int64
            | CbArgKind::Uint32Array { .. }
            | CbArgKind::Extent64Array { .. }
            | CbArgKind::MutableInt => false,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Handle,
    Config,
    Tls,
    Connect,
    Negotiate,
    Info,
    Data,
    Aio,
    AioControl,
    Misc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawArg", into = "RawArg")]
pub struct Arg {
    pub name: String,
    pub kind: ArgKind,
}

/// The closed set of argument kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgKind {
    Bool,
    Int,
    Uint,
    Int64,
    Uint32,
    Uint64,
    SizeT,
    /// `const char *`, never NULL.
    String,
    /// `char **`, NULL-terminated.
    StringList,
    /// `const char *` naming a file or directory.
    Path,
    Fd,
    /// `const struct sockaddr *NAME, socklen_t LEN`.
    Sockaddr {
        len: String,
    },
    /// `const void *NAME, size_t LEN`, used only during the call.
    BytesIn {
        len: String,
    },
    /// `void *NAME, size_t LEN`, filled during the call.
    BytesOut {
        len: String,
    },
    /// Like `bytes_in` but kept until an aio command retires.
    BytesPersistIn {
        len: String,
    },
    /// Like `bytes_out` but kept and filled until an aio command retires.
    BytesPersistOut {
        len: String,
    },
    /// A required callback, by name of its `callbacks` entry.
    Closure {
        callback: String,
    },
    /// A value of an enum, by name.
    Enum {
        r#enum: String,
    },
    /// A value of a flag set, by name.
    Flags {
        flags: String,
    },
    Uintptr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawArg", into = "RawArg")]
pub struct OptArg {
    pub name: String,
    pub kind: OptArgKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OptArgKind {
    /// An optional callback; absent means no callback.
    Closure { callback: String },
    /// Optional flags of a set. `permitted` restricts which flags this call
    /// accepts (all of the set when absent).
    Flags {
        flags: String,
        permitted: Option<Vec<String>>,
    },
}

/// The closed set of return kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RetKind {
    /// 0 on success, -1 on error.
    Error,
    /// 0 or 1, -1 on error.
    Bool,
    Int,
    Int64,
    /// Unsigned, cannot fail.
    Uint,
    Uint64,
    SizeT,
    /// An aio command cookie (>= 1), -1 on error.
    Cookie,
    /// A string owned by the library for its lifetime.
    StaticString,
    /// A string the caller must free.
    String,
    Fd,
    Enum {
        r#enum: String,
    },
    Flags {
        flags: String,
    },
    Uintptr,
    /// Nothing (only `close`).
    Void,
    /// A new handle (only `create`).
    Handle,
}

/// The on-disk shape shared by every argument list: a name, a kind, and
/// the keys some kinds need. Converting it into the closed kinds checks
/// that exactly the right keys are present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArg {
    pub name: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted: Option<Vec<String>>,
}

impl RawArg {
    fn new(name: &str, kind: &str) -> RawArg {
        RawArg {
            name: name.into(),
            kind: kind.into(),
            ..RawArg::default()
        }
    }

    /// Take the one extra key this kind needs, refusing any other.
    fn take(&mut self, key: &str) -> Result<String, String> {
        let v = match key {
            "len" => self.len.take(),
            "callback" => self.callback.take(),
            "enum" => self.enum_.take(),
            "flags" => self.flags.take(),
            _ => None,
        };
        v.ok_or_else(|| {
            format!(
                "argument `{}` of kind `{}` needs the key `{key}`",
                self.name, self.kind
            )
        })
    }

    fn finish(self) -> Result<(), String> {
        let extra: Vec<&str> = [
            self.len.as_ref().map(|_| "len"),
            self.callback.as_ref().map(|_| "callback"),
            self.enum_.as_ref().map(|_| "enum"),
            self.flags.as_ref().map(|_| "flags"),
            self.permitted.as_ref().map(|_| "permitted"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if extra.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "argument `{}` of kind `{}` does not take the key(s) {}",
                self.name,
                self.kind,
                extra.join(", ")
            ))
        }
    }

    fn with(mut self, key: &str, value: &str) -> RawArg {
        match key {
            "len" => self.len = Some(value.into()),
            "callback" => self.callback = Some(value.into()),
            "enum" => self.enum_ = Some(value.into()),
            _ => self.flags = Some(value.into()),
        }
        self
    }
}

impl TryFrom<RawArg> for Arg {
    type Error = String;
    fn try_from(mut r: RawArg) -> Result<Arg, String> {
        let kind = match r.kind.as_str() {
            "bool" => ArgKind::Bool,
            "int" => ArgKind::Int,
            "uint" => ArgKind::Uint,
            "int64" => ArgKind::Int64,
            "uint32" => ArgKind::Uint32,
            "uint64" => ArgKind::Uint64,
            "size_t" => ArgKind::SizeT,
            "string" => ArgKind::String,
            "string_list" => ArgKind::StringList,
            "path" => ArgKind::Path,
            "fd" => ArgKind::Fd,
            "uintptr" => ArgKind::Uintptr,
            "sockaddr" => ArgKind::Sockaddr {
                len: r.take("len")?,
            },
            "bytes_in" => ArgKind::BytesIn {
                len: r.take("len")?,
            },
            "bytes_out" => ArgKind::BytesOut {
                len: r.take("len")?,
            },
            "bytes_persist_in" => ArgKind::BytesPersistIn {
                len: r.take("len")?,
            },
            "bytes_persist_out" => ArgKind::BytesPersistOut {
                len: r.take("len")?,
            },
            "closure" => ArgKind::Closure {
                callback: r.take("callback")?,
            },
            "enum" => ArgKind::Enum {
                r#enum: r.take("enum")?,
            },
            "flags" => ArgKind::Flags {
                flags: r.take("flags")?,
            },
            other => return Err(format!("argument `{}`: unknown kind `{other}`", r.name)),
        };
        let name = r.name.clone();
        r.finish()?;
        Ok(Arg { name, kind })
    }
}

impl From<Arg> for RawArg {
    fn from(a: Arg) -> RawArg {
        let n = a.name.as_str();
        match &a.kind {
            ArgKind::Bool => RawArg::new(n, "bool"),
            ArgKind::Int => RawArg::new(n, "int"),
            ArgKind::Uint => RawArg::new(n, "uint"),
            ArgKind::Int64 => RawArg::new(n, "int64"),
            ArgKind::Uint32 => RawArg::new(n, "uint32"),
            ArgKind::Uint64 => RawArg::new(n, "uint64"),
            ArgKind::SizeT => RawArg::new(n, "size_t"),
            ArgKind::String => RawArg::new(n, "string"),
            ArgKind::StringList => RawArg::new(n, "string_list"),
            ArgKind::Path => RawArg::new(n, "path"),
            ArgKind::Fd => RawArg::new(n, "fd"),
            ArgKind::Uintptr => RawArg::new(n, "uintptr"),
            ArgKind::Sockaddr { len } => RawArg::new(n, "sockaddr").with("len", len),
            ArgKind::BytesIn { len } => RawArg::new(n, "bytes_in").with("len", len),
            ArgKind::BytesOut { len } => RawArg::new(n, "bytes_out").with("len", len),
            ArgKind::BytesPersistIn { len } => RawArg::new(n, "bytes_persist_in").with("len", len),
            ArgKind::BytesPersistOut { len } => {
                RawArg::new(n, "bytes_persist_out").with("len", len)
            }
            ArgKind::Closure { callback } => RawArg::new(n, "closure").with("callback", callback),
            ArgKind::Enum { r#enum } => RawArg::new(n, "enum").with("enum", r#enum),
            ArgKind::Flags { flags } => RawArg::new(n, "flags").with("flags", flags),
        }
    }
}

impl TryFrom<RawArg> for OptArg {
    type Error = String;
    fn try_from(mut r: RawArg) -> Result<OptArg, String> {
        let kind = match r.kind.as_str() {
            "closure" => OptArgKind::Closure { callback: r.take("callback")? },
            "flags" => OptArgKind::Flags { flags: r.take("flags")?, permitted: r.permitted.take() },
            other => {
                return Err(format!(
                    "optional argument `{}`: kind `{other}` cannot be optional (only closure and flags)",
                    r.name
                ))
            }
        };
        let name = r.name.clone();
        r.finish()?;
        Ok(OptArg { name, kind })
    }
}

impl From<OptArg> for RawArg {
    fn from(o: OptArg) -> RawArg {
        match o.kind {
            OptArgKind::Closure { callback } => {
                RawArg::new(&o.name, "closure").with("callback", &callback)
            }
            OptArgKind::Flags { flags, permitted } => {
                let mut r = RawArg::new(&o.name, "flags").with("flags", &flags);
                r.permitted = permitted;
                r
            }
        }
    }
}

impl TryFrom<RawArg> for CbArg {
    type Error = String;
    fn try_from(mut r: RawArg) -> Result<CbArg, String> {
        let kind = match r.kind.as_str() {
            "bytes_in" => CbArgKind::BytesIn {
                len: r.take("len")?,
            },
            "string" => CbArgKind::String,
            "int" => CbArgKind::Int,
            "uint" => CbArgKind::Uint,
            "uint64" => CbArgKind::Uint64,
            "int64" => CbArgKind::Int64,
            "uint32_array" => CbArgKind::Uint32Array {
                len: r.take("len")?,
            },
            "extent64_array" => CbArgKind::Extent64Array {
                len: r.take("len")?,
            },
            "mutable_int" => CbArgKind::MutableInt,
            other => {
                return Err(format!(
                    "callback argument `{}`: unknown kind `{other}`",
                    r.name
                ))
            }
        };
        let name = r.name.clone();
        r.finish()?;
        Ok(CbArg { name, kind })
    }
}

impl From<CbArg> for RawArg {
    fn from(a: CbArg) -> RawArg {
        let n = a.name.as_str();
        match &a.kind {
            CbArgKind::BytesIn { len } => RawArg::new(n, "bytes_in").with("len", len),
            CbArgKind::String => RawArg::new(n, "string"),
            CbArgKind::Int => RawArg::new(n, "int"),
            CbArgKind::Uint => RawArg::new(n, "uint"),
            CbArgKind::Uint64 => RawArg::new(n, "uint64"),
            CbArgKind::Int64 => RawArg::new(n, "int64"),
            CbArgKind::Uint32Array { len } => RawArg::new(n, "uint32_array").with("len", len),
            CbArgKind::Extent64Array { len } => RawArg::new(n, "extent64_array").with("len", len),
            CbArgKind::MutableInt => RawArg::new(n, "mutable_int"),
        }
    }
}

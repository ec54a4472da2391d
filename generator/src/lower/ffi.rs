//! The one mapping of the API's kinds to C types. The header (`backend_c`)
//! prints each [`Ffi`] as C and the exports (`backend_c_exports`) as the
//! Rust FFI type; that the two agree is checked outside the generator
//! (`cargo xtask build-c` compiles cbindgen's view of the exports against
//! the header).

use crate::model::{CbArgKind, RetKind};

/// A type crossing the C boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ffi {
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
    /// The type in C (`const char *`, `nbd_chunk_callback`).
    pub fn c(&self) -> String {
        match self {
            Ffi::Bool => "bool".into(),
            Ffi::Int => "int".into(),
            Ffi::Uint => "unsigned".into(),
            Ffi::Int64 => "int64_t".into(),
            Ffi::Uint32 => "uint32_t".into(),
            Ffi::Uint64 => "uint64_t".into(),
            Ffi::SizeT => "size_t".into(),
            Ffi::SsizeT => "ssize_t".into(),
            Ffi::Uintptr => "uintptr_t".into(),
            Ffi::Socklen => "socklen_t".into(),
            Ffi::ConstCharPtr => "const char *".into(),
            Ffi::CharPtr => "char *".into(),
            Ffi::CharPtrPtr => "char **".into(),
            Ffi::ConstVoidPtr => "const void *".into(),
            Ffi::VoidPtr => "void *".into(),
            Ffi::ConstSockaddrPtr => "const struct sockaddr *".into(),
            Ffi::Uint32Ptr => "uint32_t *".into(),
            Ffi::ExtentPtr => "nbd_extent *".into(),
            Ffi::IntPtr => "int *".into(),
            Ffi::Handle => "struct nbd_handle *".into(),
            Ffi::Callback(cb) => format!("nbd_{cb}_callback"),
            Ffi::Void => "void".into(),
        }
    }

    /// A C declaration of `name` with this type (`const char *name`).
    pub fn c_decl(&self, name: &str) -> String {
        let ty = self.c();
        if ty.ends_with('*') {
            format!("{ty}{name}")
        } else {
            format!("{ty} {name}")
        }
    }

    /// Whether the type is a pointer, which the API never accepts as NULL.
    pub fn is_pointer(&self) -> bool {
        match self {
            Ffi::ConstCharPtr
            | Ffi::CharPtr
            | Ffi::CharPtrPtr
            | Ffi::ConstVoidPtr
            | Ffi::VoidPtr
            | Ffi::ConstSockaddrPtr
            | Ffi::Uint32Ptr
            | Ffi::ExtentPtr
            | Ffi::IntPtr
            | Ffi::Handle => true,
            Ffi::Bool
            | Ffi::Int
            | Ffi::Uint
            | Ffi::Int64
            | Ffi::Uint32
            | Ffi::Uint64
            | Ffi::SizeT
            | Ffi::SsizeT
            | Ffi::Uintptr
            | Ffi::Socklen
            | Ffi::Callback(_)
            | Ffi::Void => false,
        }
    }

    /// The type in Rust's FFI terms (`*const c_char`, `libc::size_t`).
    pub fn rust(&self) -> String {
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

/// One C parameter: its name in api.yaml and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CParam {
    pub name: String,
    pub ty: Ffi,
}

pub(crate) fn param(name: &str, ty: Ffi) -> CParam {
    CParam {
        name: name.to_string(),
        ty,
    }
}

/// The C type of a call's value.
pub(crate) fn ret(r: &RetKind) -> Ffi {
    match r {
        RetKind::Error | RetKind::Bool | RetKind::Int | RetKind::Fd | RetKind::Enum { .. } => {
            Ffi::Int
        }
        RetKind::Int64 | RetKind::Cookie => Ffi::Int64,
        RetKind::Uint => Ffi::Uint,
        RetKind::Uint64 => Ffi::Uint64,
        RetKind::SizeT => Ffi::SsizeT,
        RetKind::StaticString => Ffi::ConstCharPtr,
        RetKind::String => Ffi::CharPtr,
        RetKind::Flags { .. } => Ffi::Uint32,
        RetKind::Uintptr => Ffi::Uintptr,
        RetKind::Void => Ffi::Void,
        RetKind::Handle => Ffi::Handle,
    }
}

/// The C parameters of one callback argument.
pub(crate) fn cb_arg(name: &str, k: &CbArgKind) -> Vec<CParam> {
    match k {
        CbArgKind::BytesIn { len } => vec![param(name, Ffi::ConstVoidPtr), param(len, Ffi::SizeT)],
        CbArgKind::String => vec![param(name, Ffi::ConstCharPtr)],
        CbArgKind::Int => vec![param(name, Ffi::Int)],
        CbArgKind::Uint => vec![param(name, Ffi::Uint)],
        CbArgKind::Uint64 => vec![param(name, Ffi::Uint64)],
        CbArgKind::Int64 => vec![param(name, Ffi::Int64)],
        CbArgKind::Uint32Array { len } => vec![param(name, Ffi::Uint32Ptr), param(len, Ffi::SizeT)],
        CbArgKind::Extent64Array { len } => {
            vec![param(name, Ffi::ExtentPtr), param(len, Ffi::SizeT)]
        }
        CbArgKind::MutableInt => vec![param(name, Ffi::IntPtr)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations() {
        assert_eq!(Ffi::ConstCharPtr.c_decl("name"), "const char *name");
        assert_eq!(Ffi::Uint32.c_decl("flags"), "uint32_t flags");
        assert_eq!(
            Ffi::Callback("chunk".into()).c_decl("chunk_callback"),
            "nbd_chunk_callback chunk_callback"
        );
        assert!(Ffi::CharPtrPtr.is_pointer() && !Ffi::Callback("x".into()).is_pointer());
    }
}

//! Names per language, decided here so that templates only print.

use crate::model::{Call, Group};

/// `cmd_flag` -> `CmdFlag`.
pub fn camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `aio_pread` -> `aioPread`.
pub fn lower_camel(snake: &str) -> String {
    let c = camel(snake);
    let mut chars = c.chars();
    match chars.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `read from the server` -> `Read from the server`: a short description
/// as the first sentence of a doc comment.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "yield", "box", "try",
];

/// Items joined with `", "`: a parameter or argument list.
pub fn comma_list<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `name`, or `escape(name)` when it is one of a language's `keywords`.
fn unless_keyword(name: &str, keywords: &[&str], escape: fn(&str) -> String) -> String {
    if keywords.contains(&name) {
        escape(name)
    } else {
        name.to_string()
    }
}

/// An identifier safe to use as a Rust variable.
pub fn rust_ident(name: &str) -> String {
    unless_keyword(name, RUST_KEYWORDS, |n| format!("r#{n}"))
}

const C_KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "bool",
    "class",
    "new",
    "delete",
    "template",
    "this",
    "private",
    "public",
    "protected",
];

/// Whether a name cannot be a C (or C++) parameter name.
pub fn is_c_keyword(name: &str) -> bool {
    C_KEYWORDS.contains(&name)
}

const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// An identifier safe to use as a Python parameter.
pub fn python_ident(name: &str) -> String {
    unless_keyword(name, PYTHON_KEYWORDS, |n| format!("{n}_"))
}

const OCAML_KEYWORDS: &[&str] = &[
    "and",
    "as",
    "assert",
    "asr",
    "begin",
    "class",
    "constraint",
    "do",
    "done",
    "downto",
    "else",
    "end",
    "exception",
    "external",
    "false",
    "for",
    "fun",
    "function",
    "functor",
    "if",
    "in",
    "include",
    "inherit",
    "initializer",
    "land",
    "lazy",
    "let",
    "lor",
    "lsl",
    "lsr",
    "lxor",
    "match",
    "method",
    "mod",
    "module",
    "mutable",
    "new",
    "nonrec",
    "object",
    "of",
    "open",
    "or",
    "private",
    "rec",
    "sig",
    "struct",
    "then",
    "to",
    "true",
    "try",
    "type",
    "val",
    "virtual",
    "when",
    "while",
    "with",
];

/// An identifier safe to use as an OCaml value or parameter name.
pub fn ocaml_ident(name: &str) -> String {
    unless_keyword(name, OCAML_KEYWORDS, |n| format!("{n}_"))
}

/// Names the generated Python method bodies use for themselves.
pub const PYTHON_RESERVED: &[&str] = &["py", "handle", "ret", "raised", "self"];

/// Names the generated Node method bodies use for themselves.
pub const NODE_RESERVED: &[&str] = &[
    "env", "conn", "opts", "options", "ret", "op", "self", "holder", "f",
];

/// JavaScript reserved words, which cannot name a parameter in the .d.ts.
pub const JS_RESERVED: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "let",
    "static",
    "implements",
    "interface",
    "package",
    "private",
    "protected",
    "public",
    "await",
];

/// Names the generated OCaml wrappers use for themselves.
pub const OCAML_ML_RESERVED: &[&str] = &[
    "h",
    "ret",
    "create",
    "close",
    "with_handle",
    "errno_of_unix_error",
];

/// Names the generated Rust stubs of the OCaml binding use for themselves.
pub const OCAML_RUST_RESERVED: &[&str] = &["cr", "h", "handle", "ret", "raised", "f"];

/// The JavaScript method of a call (`aio_pread` -> `aioPread`).
pub fn js_method(call: &str) -> String {
    lower_camel(call)
}

/// The promise method of an aio call that starts an operation (every aio
/// call outside the `aio_control` group): `aio_pread` -> `preadAsync`.
pub fn js_promise_method(call: &Call) -> Option<String> {
    let op = call.name.strip_prefix("aio_")?;
    (call.group != Group::AioControl && call.special.is_none())
        .then(|| format!("{}Async", lower_camel(op)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(camel("cmd_flag"), "CmdFlag");
        assert_eq!(camel("tls"), "Tls");
        assert_eq!(lower_camel("aio_pread_structured"), "aioPreadStructured");
        assert_eq!(rust_ident("type"), "r#type");
        assert_eq!(rust_ident("buf"), "buf");
        assert_eq!(python_ident("from"), "from_");
        assert_eq!(ocaml_ident("method"), "method_");
        assert_eq!(ocaml_ident("offset"), "offset");
        assert!(is_c_keyword("int"));
    }
}

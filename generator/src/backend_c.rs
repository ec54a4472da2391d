//! The C header `libnbd.h` and the linker version script.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::*;
use crate::render::render;
use crate::{Error, Lang, Output};

#[derive(Serialize)]
struct DefineView {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct CallbackView {
    /// `nbd_chunk_callback`
    type_name: String,
    /// `int (*callback) (void *user_data, ...)`
    params: String,
    have: String,
    /// `NBD_NULL_CHUNK` when some call takes it as an optional argument.
    null_macro: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct ProtoView {
    pub name: String,
    pub ret: String,
    /// `struct nbd_handle *h, void *buf, size_t count`
    pub params: String,
    /// `LIBNBD_ATTRIBUTE_NONNULL(1, 2)` and similar, one per line.
    pub attrs: Vec<String>,
    pub have: String,
}

#[derive(Serialize)]
struct HeaderView {
    groups: Vec<Vec<DefineView>>,
    callbacks: Vec<CallbackView>,
    specials: Vec<ProtoView>,
    calls: Vec<ProtoView>,
    string_constants: Vec<DefineView>,
}

#[derive(Serialize)]
struct MapNode {
    version: String,
    symbols: Vec<String>,
    previous: Option<String>,
}

#[derive(Serialize)]
struct MapView {
    nodes: Vec<MapNode>,
}

fn cb_params(cb: &CallbackDef) -> String {
    let mut p = vec!["void *user_data".to_string()];
    for a in &cb.args {
        let n = &a.name;
        p.push(match &a.kind {
            CbArgKind::BytesIn { len } => format!("const void *{n}, size_t {len}"),
            CbArgKind::String => format!("const char *{n}"),
            CbArgKind::Int => format!("int {n}"),
            CbArgKind::Uint => format!("unsigned {n}"),
            CbArgKind::Uint64 => format!("uint64_t {n}"),
            CbArgKind::Int64 => format!("int64_t {n}"),
            CbArgKind::Uint32Array { len } => format!("uint32_t *{n}, size_t {len}"),
            CbArgKind::Extent64Array { len } => format!("nbd_extent *{n}, size_t {len}"),
            CbArgKind::MutableInt => format!("int *{n}"),
        });
    }
    p.join(", ")
}

/// The C parameters of an argument, and whether each is a pointer that must
/// not be NULL.
pub(crate) fn c_params(a: &Arg) -> Vec<(String, bool)> {
    let n = &a.name;
    match &a.kind {
        ArgKind::Bool => vec![(format!("bool {n}"), false)],
        ArgKind::Int | ArgKind::Fd | ArgKind::Enum { .. } => vec![(format!("int {n}"), false)],
        ArgKind::Uint => vec![(format!("unsigned {n}"), false)],
        ArgKind::Int64 => vec![(format!("int64_t {n}"), false)],
        ArgKind::Uint32 | ArgKind::Flags { .. } => vec![(format!("uint32_t {n}"), false)],
        ArgKind::Uint64 => vec![(format!("uint64_t {n}"), false)],
        ArgKind::SizeT => vec![(format!("size_t {n}"), false)],
        ArgKind::String | ArgKind::Path => vec![(format!("const char *{n}"), true)],
        ArgKind::StringList => vec![(format!("char **{n}"), true)],
        ArgKind::Sockaddr { len } => vec![
            (format!("const struct sockaddr *{n}"), true),
            (format!("socklen_t {len}"), false),
        ],
        ArgKind::BytesIn { len } | ArgKind::BytesPersistIn { len } => {
            vec![(format!("const void *{n}"), true), (format!("size_t {len}"), false)]
        }
        ArgKind::BytesOut { len } | ArgKind::BytesPersistOut { len } => {
            vec![(format!("void *{n}"), true), (format!("size_t {len}"), false)]
        }
        ArgKind::Closure { callback } => {
            vec![(format!("nbd_{callback}_callback {n}_callback"), false)]
        }
        ArgKind::Uintptr => vec![(format!("uintptr_t {n}"), false)],
    }
}

pub(crate) fn c_optparam(o: &OptArg) -> String {
    match &o.kind {
        OptArgKind::Closure { callback } => format!("nbd_{callback}_callback {}_callback", o.name),
        OptArgKind::Flags { .. } => format!("uint32_t {}", o.name),
    }
}

pub(crate) fn c_ret(r: &RetKind) -> &'static str {
    match r {
        RetKind::Error | RetKind::Bool | RetKind::Int | RetKind::Fd | RetKind::Enum { .. } => "int",
        RetKind::Int64 | RetKind::Cookie => "int64_t",
        RetKind::Uint => "unsigned",
        RetKind::Uint64 => "uint64_t",
        RetKind::SizeT => "ssize_t",
        RetKind::StaticString => "const char *",
        RetKind::String => "char *",
        RetKind::Flags { .. } => "uint32_t",
        RetKind::Uintptr => "uintptr_t",
        RetKind::Void => "void",
        RetKind::Handle => "struct nbd_handle *",
    }
}

/// The C prototype of a call, as the header declares it.
pub(crate) fn proto(call: &Call) -> ProtoView {
    let name = format!("nbd_{}", call.name);
    let have = format!("LIBNBD_HAVE_{}", name.to_uppercase());
    let mut attrs = Vec::new();
    let params = match call.special {
        Some(Special::Create) | Some(Special::GetError) | Some(Special::GetErrno) => "void".to_string(),
        Some(Special::Close) => "struct nbd_handle *h".to_string(),
        None => {
            let mut ps = vec!["struct nbd_handle *h".to_string()];
            let mut nonnull = vec!["1".to_string()];
            for a in &call.args {
                for (p, nn) in c_params(a) {
                    ps.push(p);
                    if nn {
                        nonnull.push(ps.len().to_string());
                    }
                }
            }
            ps.extend(call.optargs.iter().map(c_optparam));
            attrs.push(format!("LIBNBD_ATTRIBUTE_NONNULL({})", nonnull.join(", ")));
            ps.join(", ")
        }
    };
    if matches!(call.ret, RetKind::String) {
        attrs.insert(0, "LIBNBD_ATTRIBUTE_ALLOC_DEALLOC(__builtin_free)".to_string());
    }
    if call.special == Some(Special::Create) {
        attrs.push("LIBNBD_ATTRIBUTE_ALLOC_DEALLOC(nbd_close)".to_string());
    }
    let ret = c_ret(&call.ret);
    ProtoView { name, ret: ret.to_string(), params, attrs, have }
}

fn c_value_hex(v: u32) -> String {
    format!("{v:#04x}U")
}

pub(crate) fn outputs(api: &Api) -> Result<Vec<Output>, Error> {
    let mut groups = Vec::new();
    for e in &api.enums {
        groups.push(
            e.values
                .iter()
                .map(|v| DefineView { name: format!("LIBNBD_{}_{}", e.prefix, v.name), value: v.value.to_string() })
                .collect(),
        );
    }
    for f in &api.flags {
        let mut g: Vec<DefineView> = f
            .values
            .iter()
            .map(|v| DefineView { name: format!("LIBNBD_{}_{}", f.prefix, v.name), value: c_value_hex(v.value) })
            .collect();
        let mask = f.values.iter().fold(0, |m, v| m | v.value);
        g.push(DefineView { name: format!("LIBNBD_{}_MASK", f.prefix), value: c_value_hex(mask) });
        groups.push(g);
    }
    let mut ints = Vec::new();
    let mut strings = Vec::new();
    for k in &api.constants {
        let name = format!("LIBNBD_{}", k.name);
        match &k.value {
            ConstValue::Int(i) => ints.push(DefineView { name, value: i.to_string() }),
            ConstValue::Str(s) => strings.push(DefineView { name, value: format!("{s:?}") }),
        }
    }
    groups.push(ints);

    let optional_cbs: Vec<&str> = api
        .calls
        .iter()
        .flat_map(|c| c.optargs.iter())
        .filter_map(|o| match &o.kind {
            OptArgKind::Closure { callback } => Some(callback.as_str()),
            _ => None,
        })
        .collect();
    let callbacks = api
        .callbacks
        .iter()
        .map(|cb| CallbackView {
            type_name: format!("nbd_{}_callback", cb.name),
            params: cb_params(cb),
            have: format!("LIBNBD_HAVE_NBD_{}_CALLBACK", cb.name.to_uppercase()),
            null_macro: optional_cbs
                .contains(&cb.name.as_str())
                .then(|| format!("NBD_NULL_{}", cb.name.to_uppercase())),
        })
        .collect();

    let specials = [Special::Close, Special::Create, Special::GetError, Special::GetErrno]
        .iter()
        .filter_map(|s| api.calls.iter().find(|c| c.special == Some(*s)))
        .map(proto)
        .collect();
    let calls = api.calls.iter().filter(|c| c.special.is_none()).map(proto).collect();
    let header = HeaderView { groups, callbacks, specials, calls, string_constants: strings };

    // Version nodes in release order, each call in the node of its first version.
    let mut by_version: BTreeMap<(u32, u32), Vec<String>> = BTreeMap::new();
    for c in &api.calls {
        let key = c
            .first_version
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .unwrap_or((1, 0));
        by_version.entry(key).or_default().push(format!("nbd_{}", c.name));
    }
    let mut nodes = Vec::new();
    let mut previous: Option<String> = None;
    for ((maj, min), mut symbols) in by_version {
        symbols.sort();
        let version = format!("LIBNBD_{maj}.{min}");
        nodes.push(MapNode { version: version.clone(), symbols, previous: previous.clone() });
        previous = Some(version);
    }

    Ok(vec![
        Output {
            path: "bindings/c/include/libnbd.h".into(),
            lang: Lang::C,
            text: render("c/libnbd.h.tera", &header)?,
        },
        Output {
            path: "bindings/c/libnbd.map".into(),
            lang: Lang::Text,
            text: render("c/libnbd.map.tera", &MapView { nodes })?,
        },
    ])
}

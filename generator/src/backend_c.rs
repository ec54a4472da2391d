//! The C header `libnbd.h` and the linker version script.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::lower::ffi::{CParam, Ffi};
use crate::lower::{LCall, Lowered};
use crate::model::*;
use crate::names::comma_list;
use crate::render::rendered;
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

fn decls(params: &[CParam]) -> String {
    comma_list(params.iter().map(|p| p.ty.c_decl(&p.name)))
}

/// The C prototype of a call, as the header declares it.
pub(crate) fn proto(call: &LCall) -> ProtoView {
    let name = call.c_name.clone();
    let have = format!("LIBNBD_HAVE_{}", name.to_uppercase());
    let mut attrs = Vec::new();
    let params = match call.def.special {
        Some(Special::Create) | Some(Special::GetError) | Some(Special::GetErrno) => {
            "void".to_string()
        }
        Some(Special::Close) => decls(&call.c_params),
        None => {
            // Every pointer parameter (the handle first) must not be NULL.
            let nonnull: Vec<String> = call
                .c_params
                .iter()
                .enumerate()
                .filter(|(_, p)| p.ty.is_pointer())
                .map(|(i, _)| (i + 1).to_string())
                .collect();
            attrs.push(format!("LIBNBD_ATTRIBUTE_NONNULL({})", nonnull.join(", ")));
            decls(&call.c_params)
        }
    };
    if call.c_ret == Ffi::CharPtr {
        attrs.insert(
            0,
            "LIBNBD_ATTRIBUTE_ALLOC_DEALLOC(__builtin_free)".to_string(),
        );
    }
    if call.def.special == Some(Special::Create) {
        attrs.push("LIBNBD_ATTRIBUTE_ALLOC_DEALLOC(nbd_close)".to_string());
    }
    ProtoView {
        name,
        ret: call.c_ret.c(),
        params,
        attrs,
        have,
    }
}

fn c_value_hex(v: u32) -> String {
    format!("{v:#04x}U")
}

pub(crate) fn outputs(l: &Lowered) -> Result<Vec<Output>, Error> {
    let api = l.api;
    let mut groups = Vec::new();
    for e in &api.enums {
        groups.push(
            e.values
                .iter()
                .map(|v| DefineView {
                    name: format!("LIBNBD_{}_{}", e.prefix, v.name),
                    value: v.value.to_string(),
                })
                .collect(),
        );
    }
    for f in &l.flags {
        let prefix = &f.def.prefix;
        let mut g: Vec<DefineView> = f
            .def
            .values
            .iter()
            .map(|v| DefineView {
                name: format!("LIBNBD_{prefix}_{}", v.name),
                value: c_value_hex(v.value),
            })
            .collect();
        g.push(DefineView {
            name: format!("LIBNBD_{prefix}_MASK"),
            value: c_value_hex(f.mask),
        });
        groups.push(g);
    }
    let mut ints = Vec::new();
    let mut strings = Vec::new();
    for k in &api.constants {
        let name = format!("LIBNBD_{}", k.name);
        match &k.value {
            ConstValue::Int(i) => ints.push(DefineView {
                name,
                value: i.to_string(),
            }),
            ConstValue::Str(s) => strings.push(DefineView {
                name,
                value: format!("{s:?}"),
            }),
        }
    }
    groups.push(ints);

    let callbacks = l
        .callbacks
        .iter()
        .map(|cb| CallbackView {
            type_name: format!("nbd_{}_callback", cb.name),
            params: decls(&cb.c_params),
            have: format!("LIBNBD_HAVE_NBD_{}_CALLBACK", cb.name.to_uppercase()),
            null_macro: cb
                .optional
                .then(|| format!("NBD_NULL_{}", cb.name.to_uppercase())),
        })
        .collect();

    let specials = [
        Special::Close,
        Special::Create,
        Special::GetError,
        Special::GetErrno,
    ]
    .into_iter()
    .map(|s| proto(l.special(s)))
    .collect();
    let calls = l.regular_calls().map(proto).collect();
    let header = HeaderView {
        groups,
        callbacks,
        specials,
        calls,
        string_constants: strings,
    };

    // Version nodes in release order, each call in the node of its first version.
    let mut by_version: BTreeMap<(u32, u32), Vec<String>> = BTreeMap::new();
    for c in &l.calls {
        by_version
            .entry(c.version)
            .or_default()
            .push(c.c_name.clone());
    }
    let mut nodes = Vec::new();
    let mut previous: Option<String> = None;
    for ((maj, min), mut symbols) in by_version {
        symbols.sort();
        let version = format!("LIBNBD_{maj}.{min}");
        nodes.push(MapNode {
            version: version.clone(),
            symbols,
            previous: previous.clone(),
        });
        previous = Some(version);
    }

    Ok(vec![
        rendered(
            "bindings/c/include/libnbd.h",
            Lang::C,
            "c/libnbd.h.tera",
            &header,
        )?,
        rendered(
            "bindings/c/libnbd.map",
            Lang::Text,
            "c/libnbd.map.tera",
            &MapView { nodes },
        )?,
    ])
}

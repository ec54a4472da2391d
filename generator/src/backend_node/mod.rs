//! The Node.js binding's generated layer: the napi-rs methods of the `NBD`
//! class and one wrapper per callback kind
//! (`bindings/node/src/generated.rs`), the package's entry point with the
//! constants and `NbdError` (`index.js`), its TypeScript declarations with
//! JSDoc from the descriptions (`index.d.ts`), and `package.json`.
//!
//! Every call but the four special ones becomes a camelCase method taking
//! the required arguments in order and the optional ones in a final
//! options object (`h.pwrite(buf, offset, { flags })`); a `bytes_out`
//! argument is replaced by its length and the method returns a `Buffer`,
//! as libnbd's Python module does. Each aio call that starts an operation
//! (every aio call outside the `aio_control` group) also gets a promise
//! form named after the operation (`aio_pread` -> `preadAsync`), whose
//! completion callback the binding supplies; it resolves when the command
//! completes, or, for calls without a completion callback (connecting),
//! when the handle leaves the states the call is permitted in.

use serde::Serialize;

mod callbacks;
mod methods;

use crate::lower::Lowered;
use crate::markup;
use crate::model::*;
use crate::names::{capitalise, lower_camel};
use crate::render::rendered;
use crate::{Error, Lang, Output};
use callbacks::{callback_view, CallbackTypeView, CallbackView};
use methods::{async_view, method_view, MethodView};

const RUST_OUT: &str = "bindings/node/src/generated.rs";
const JS_OUT: &str = "bindings/node/index.js";
const DTS_OUT: &str = "bindings/node/index.d.ts";
const PACKAGE_OUT: &str = "bindings/node/package.json";

/// The npm package's name, and the file name of the built addon in it.
const PACKAGE_NAME: &str = "libnbd";
const ADDON_FILE: &str = "nbd.node";

#[derive(Serialize)]
struct MemberView {
    name: String,
    /// A JavaScript literal (`1`, `"base:allocation"`), also its TS type.
    value: String,
    doc: String,
}

/// An enum or a flag set: one frozen object (`TLS`, `CMD_FLAG`).
#[derive(Serialize)]
struct GroupView {
    name: String,
    doc: String,
    members: Vec<MemberView>,
}

#[derive(Serialize)]
struct NodeView {
    methods: Vec<MethodView>,
    asyncs: Vec<MethodView>,
    callbacks: Vec<CallbackView>,
    groups: Vec<GroupView>,
    constants: Vec<MemberView>,
    /// TypeScript aliases of the callback function types.
    callback_types: Vec<CallbackTypeView>,
    package_name: String,
    version: String,
    addon_file: String,
}

/// `nbd_pread(3)` -> `{@link NBD.pread}` and `LIBNBD_CMD_FLAG_FUA` ->
/// `CMD_FLAG.FUA`: the names a JavaScript reader finds in this package.
fn js_refs(l: &Lowered, text: &str) -> String {
    let linked = markup::map_call_refs(text, str::to_string, |name| {
        let special = l.call(name).and_then(|c| c.def.special);
        match special {
            Some(Special::Create) => "`new NBD()`".to_string(),
            Some(Special::GetError) | Some(Special::GetErrno) => "`NbdError`".to_string(),
            Some(Special::Close) | None => format!("{{@link NBD.{}}}", lower_camel(name)),
        }
    });
    constant_refs(l.api, &linked)
}

fn constant_refs(api: &Api, text: &str) -> String {
    let mut prefixes: Vec<&str> = api
        .enums
        .iter()
        .map(|e| e.prefix.as_str())
        .chain(api.flags.iter().map(|f| f.prefix.as_str()))
        .collect();
    // The longest prefix first, so that `CMD_FLAG` does not take a longer
    // one's names.
    prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("LIBNBD_") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 7..];
        let word: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let grouped = prefixes.iter().find_map(|p| {
            word.strip_prefix(p)
                .and_then(|r| r.strip_prefix('_'))
                .map(|member| format!("{p}.{member}"))
        });
        out.push_str(&grouped.unwrap_or_else(|| word.clone()));
        rest = &tail[word.len()..];
    }
    out.push_str(rest);
    out
}

/// JSDoc lines (without the ` * ` prefix) from summary and markup text.
///
/// The texts use libnbd's `nbd_foo(3)` references; they are rewritten
/// after wrapping, so that a `{@link ...}` is never split across lines.
fn jsdoc(l: &Lowered, summary: &str, body: &str, extra: &[String]) -> Vec<String> {
    let mut paras = vec![markup::wrap(summary, 76)];
    let body = markup::to_markdown(body, "c");
    if !body.is_empty() {
        paras.push(body);
    }
    paras.extend(extra.iter().map(|e| markup::wrap(e, 76)));
    let text = js_refs(l, &paras.join("\n\n"));
    // `*/` would end the comment.
    text.replace("*/", "*\\/")
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// An enum's or a flag set's value as a member of its group.
fn value_member(name: &str, value: impl ToString, doc: &str) -> MemberView {
    MemberView {
        name: name.to_string(),
        value: value.to_string(),
        doc: capitalise(doc),
    }
}

fn groups(l: &Lowered) -> Vec<GroupView> {
    let mut out = Vec::new();
    for e in &l.api.enums {
        out.push(GroupView {
            name: e.prefix.clone(),
            doc: capitalise(&e.doc),
            members: e
                .values
                .iter()
                .map(|v| value_member(&v.name, v.value, &v.doc))
                .collect(),
        });
    }
    for f in &l.flags {
        let mut members: Vec<MemberView> = f
            .def
            .values
            .iter()
            .map(|v| value_member(&v.name, v.value, &v.doc))
            .collect();
        members.push(MemberView {
            name: "MASK".into(),
            value: f.mask.to_string(),
            doc: "Every flag of the set".into(),
        });
        out.push(GroupView {
            name: f.def.prefix.clone(),
            doc: capitalise(&f.def.doc),
            members,
        });
    }
    out
}

fn constants(api: &Api) -> Vec<MemberView> {
    api.constants
        .iter()
        .map(|k| MemberView {
            name: k.name.clone(),
            value: match &k.value {
                ConstValue::Int(i) => i.to_string(),
                ConstValue::Str(s) => format!("{s:?}"),
            },
            doc: capitalise(&k.doc),
        })
        .collect()
}

pub(crate) fn outputs(l: &Lowered) -> Result<Vec<Output>, Error> {
    // Validation makes sure that no two methods share a name.
    let methods = l.regular_calls().map(|c| method_view(l, c)).collect();
    let asyncs = l.regular_calls().filter_map(|c| async_view(l, c)).collect();
    let (callbacks, callback_types) = l.callbacks.iter().map(callback_view).unzip();
    let view = NodeView {
        methods,
        asyncs,
        callbacks,
        groups: groups(l),
        constants: constants(l.api),
        callback_types,
        package_name: PACKAGE_NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        addon_file: ADDON_FILE.into(),
    };
    Ok(vec![
        rendered(RUST_OUT, Lang::Rust, "node/generated.rs.tera", &view)?,
        rendered(JS_OUT, Lang::JavaScript, "node/index.js.tera", &view)?,
        rendered(DTS_OUT, Lang::JavaScript, "node/index.d.ts.tera", &view)?,
        rendered(PACKAGE_OUT, Lang::Text, "node/package.json.tera", &view)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_javascript_names() {
        let api = crate::lower::fixture_api();
        let l = crate::lower::lower(&api).unwrap();
        assert_eq!(
            js_refs(
                &l,
                "see nbd_pread(3), nbd_create(3) and LIBNBD_CMD_FLAG_FUA or LIBNBD_OTHER"
            ),
            "see {@link NBD.pread}, `new NBD()` and CMD_FLAG.FUA or OTHER"
        );
        assert_eq!(
            js_refs(&l, "xnbd_pread(3) nbd_foo"),
            "xnbd_pread(3) nbd_foo"
        );
    }

    #[test]
    fn comments_cannot_be_closed_by_the_text() {
        let api = crate::lower::fixture_api();
        let l = crate::lower::lower(&api).unwrap();
        assert_eq!(jsdoc(&l, "S.", "a */ b", &[]), vec!["S.", "", "a *\\/ b"]);
        let long = format!("{} see nbd_pread(3)", "word ".repeat(15));
        let lines = jsdoc(&l, "S.", &long, &[]);
        assert!(
            lines.iter().any(|l| l.contains("{@link NBD.pread}")),
            "{lines:?}"
        );
    }
}

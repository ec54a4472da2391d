//! Tera set-up: every template is compiled into the binary, so rendering
//! needs no files at run time and a test can render them all.

use std::sync::OnceLock;

use serde::Serialize;

use crate::Error;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

/// Every template, by path under `generator/templates/`.
pub const TEMPLATES: &[(&str, &str)] = templates![
    "rust/types.rs.tera",
    "rust/dispatch.rs.tera",
    "rust/async.rs.tera",
    "c/libnbd.h.tera",
    "c/libnbd.map.tera",
    "c/exports.rs.tera",
    "c/callbacks.rs.tera",
    "man/call.3.tera",
    "man/overview.3.tera",
    "man/nbdsh.1.tera",
    "python/generated.rs.tera",
    "python/nbd.pyi.tera",
    "node/generated.rs.tera",
    "node/index.js.tera",
    "node/index.d.ts.tera",
    "node/package.json.tera",
    "ocaml/stubs.rs.tera",
    "ocaml/NBD.ml.tera",
    "ocaml/NBD.mli.tera",
    "go/bindings.go.tera",
    "go/closures.go.tera",
    "go/wrappers.h.tera",
    "go/wrappers.c.tera",
    // One template per construct, included by the files above.
    "c/call.h.tera",
    "c/callback.h.tera",
    "go/call.go.tera",
    "go/type.go.tera",
    "node/callback.d.ts.tera",
    "node/callback.rs.tera",
    "node/group.d.ts.tera",
    "node/group.js.tera",
    "node/method.d.ts.tera",
    "node/method.rs.tera",
    "node/promise.rs.tera",
    "ocaml/call.ml.tera",
    "ocaml/call.mli.tera",
    "ocaml/call.rs.tera",
    "ocaml/callback.rs.tera",
    "ocaml/enum.ml.tera",
    "ocaml/enum.mli.tera",
    "ocaml/external.ml.tera",
    "ocaml/flags.ml.tera",
    "ocaml/flags.mli.tera",
    "python/call.pyi.tera",
    "python/call.rs.tera",
    "python/callback.rs.tera",
    "rust/call.rs.tera",
    "rust/callback.rs.tera",
    "rust/enum.rs.tera",
    "rust/flags.rs.tera",
];

fn tera() -> &'static tera::Tera {
    static TERA: OnceLock<tera::Tera> = OnceLock::new();
    TERA.get_or_init(|| {
        let mut t = tera::Tera::default();
        t.autoescape_on(vec![]);
        t.add_raw_templates(TEMPLATES.iter().copied())
            .unwrap_or_else(|e| panic!("a built-in template does not parse: {e:?}"));
        t
    })
}

/// Render one template with a serializable view.
pub fn render<T: Serialize>(template: &str, view: &T) -> Result<String, Error> {
    let mut ctx = tera::Context::from_serialize(view)
        .map_err(|e| Error(format!("{template}: cannot build the context: {e}")))?;
    ctx.insert("do_not_edit", crate::DO_NOT_EDIT);
    tera().render(template, &ctx).map_err(|e| {
        let mut msg = format!("{template}: {e}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        Error(msg)
    })
}

/// The output at `path` in `lang` that one template renders from a view.
pub fn rendered<T: Serialize>(
    path: impl Into<std::path::PathBuf>,
    lang: crate::Lang,
    template: &str,
    view: &T,
) -> Result<crate::Output, Error> {
    Ok(crate::Output {
        path: path.into(),
        lang,
        text: render(template, view)?,
    })
}

/// A generated folder's `mod.rs`: the do-not-edit line, a one-line
/// module doc and a `pub mod` line for each module.
pub fn module_index(path: &str, doc: &str, modules: &[&str]) -> crate::Output {
    let mods: String = modules.iter().map(|m| format!("pub mod {m};\n")).collect();
    crate::Output {
        path: path.into(),
        lang: crate::Lang::Rust,
        text: format!("// {}\n\n//! {doc}\n\n{mods}", crate::DO_NOT_EDIT),
    }
}

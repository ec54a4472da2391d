//! Every check on the model, done before anything is emitted. Each error
//! names the call (or type) and the field, and says what is wrong.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::markup;
use crate::model::*;
use crate::names::{self, lower_camel, python_ident};

/// One problem found in api.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// `call pread`, `flags cmd_flag`, ...
    pub item: String,
    /// The field, such as `see_also` or `args[1]`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "api.yaml: {}: {}: {}",
            self.item, self.field, self.message
        )
    }
}

struct Checker<'a> {
    api: &'a Api,
    errors: Vec<ValidationError>,
    call_names: HashSet<&'a str>,
}

impl Checker<'_> {
    fn err(&mut self, item: impl Into<String>, field: impl Into<String>, msg: impl Into<String>) {
        self.errors.push(ValidationError {
            item: item.into(),
            field: field.into(),
            message: msg.into(),
        });
    }
}

/// Check the whole description; all problems are reported at once.
pub fn validate(api: &Api) -> Result<(), Vec<ValidationError>> {
    let mut c = Checker {
        api,
        errors: Vec::new(),
        call_names: api.calls.iter().map(|c| c.name.as_str()).collect(),
    };
    check_types(&mut c);
    let mut seen = HashSet::new();
    for call in &api.calls {
        if !seen.insert(call.name.as_str()) {
            c.err(
                format!("call {}", call.name),
                "name",
                "defined more than once",
            );
        }
        check_call(&mut c, call);
    }
    check_specials(&mut c);
    check_aio_pairs(&mut c);
    check_bindings(&mut c);
    if c.errors.is_empty() {
        Ok(())
    } else {
        Err(c.errors)
    }
}

fn is_ident(s: &str, upper: bool) -> bool {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|f| {
        if upper {
            f.is_ascii_uppercase()
        } else {
            f.is_ascii_lowercase()
        }
    });
    first_ok
        && s.chars().all(|ch| {
            ch == '_'
                || ch.is_ascii_digit()
                || if upper {
                    ch.is_ascii_uppercase()
                } else {
                    ch.is_ascii_lowercase()
                }
        })
}

fn check_types(c: &mut Checker) {
    let api = c.api;
    let mut names = HashSet::new();
    for e in &api.enums {
        let item = format!("enum {}", e.name);
        if !is_ident(&e.name, false) {
            c.err(&item, "name", "must be a lower-case identifier");
        }
        if !names.insert(e.name.as_str()) {
            c.err(&item, "name", "another enum or flag set has this name");
        }
        if e.values.is_empty() {
            c.err(&item, "values", "an enum needs at least one value");
        }
        let mut vn = HashSet::new();
        let mut vv = HashSet::new();
        for v in &e.values {
            if !is_ident(&v.name, true) {
                c.err(
                    &item,
                    format!("values.{}", v.name),
                    "must be an upper-case identifier",
                );
            }
            if !vn.insert(&v.name) {
                c.err(&item, format!("values.{}", v.name), "name used twice");
            }
            if !vv.insert(v.value) {
                c.err(
                    &item,
                    format!("values.{}", v.name),
                    format!("value {} used twice", v.value),
                );
            }
        }
    }
    for f in &api.flags {
        let item = format!("flags {}", f.name);
        if !is_ident(&f.name, false) {
            c.err(&item, "name", "must be a lower-case identifier");
        }
        if !names.insert(f.name.as_str()) {
            c.err(&item, "name", "another enum or flag set has this name");
        }
        let mut seen_bits = 0u32;
        let mut vn = HashSet::new();
        for v in &f.values {
            if !is_ident(&v.name, true) {
                c.err(
                    &item,
                    format!("values.{}", v.name),
                    "must be an upper-case identifier",
                );
            }
            if !vn.insert(v.name.as_str()) {
                c.err(&item, format!("values.{}", v.name), "name used twice");
            }
            if v.value == 0 || !v.value.is_power_of_two() {
                c.err(
                    &item,
                    format!("values.{}", v.name),
                    format!("{:#x} is not a single bit", v.value),
                );
            }
            if seen_bits & v.value != 0 {
                c.err(
                    &item,
                    format!("values.{}", v.name),
                    format!("bit {:#x} used twice", v.value),
                );
            }
            seen_bits |= v.value;
        }
        for d in &f.default {
            if !vn.contains(d.as_str()) {
                c.err(&item, "default", format!("`{d}` is not a flag of this set"));
            }
        }
    }
    let mut cn = HashSet::new();
    for k in &api.constants {
        let item = format!("constant {}", k.name);
        if !is_ident(&k.name, true) {
            c.err(&item, "name", "must be an upper-case identifier");
        }
        if !cn.insert(k.name.as_str()) {
            c.err(&item, "name", "defined more than once");
        }
    }
    let mut cbn = HashSet::new();
    for cb in &api.callbacks {
        let item = format!("callback {}", cb.name);
        if !cbn.insert(cb.name.as_str()) {
            c.err(&item, "name", "defined more than once");
        }
        let arg_names: Vec<&str> = cb.args.iter().map(|a| a.name.as_str()).collect();
        for (i, a) in cb.args.iter().enumerate() {
            let field = format!("args[{i}] ({})", a.name);
            if !is_ident(&a.name, false) {
                c.err(&item, &field, "must be a lower-case identifier");
            }
            if arg_names.iter().filter(|n| **n == a.name).count() > 1 {
                c.err(&item, &field, "argument name used twice");
            }
            if let Some(len) = a.kind.len() {
                if arg_names.contains(&len) {
                    c.err(
                        &item,
                        &field,
                        format!("length name `{len}` clashes with an argument"),
                    );
                }
            }
        }
    }
}

/// The newest libnbd release whose calls the description may hold.
pub const LATEST_VERSION: (u32, u32) = (1, 24);

/// A synchronous call and its `aio_` twin appeared in the same release,
/// and permit the same flags (the core's protocol machine checks a
/// command's flags against one list per command, generated from the
/// synchronous call's).
fn check_aio_pairs(c: &mut Checker) {
    let by_name: HashMap<&str, &Call> = c.api.calls.iter().map(|c| (c.name.as_str(), c)).collect();
    for call in &c.api.calls {
        let Some(sync) = call.name.strip_prefix("aio_").and_then(|s| by_name.get(s)) else {
            continue;
        };
        let item = format!("call {}", call.name);
        if version_key(&sync.first_version) != version_key(&call.first_version) {
            c.err(
                &item,
                "first_version",
                format!(
                    "{} differs from {} of its synchronous twin {}",
                    call.first_version, sync.first_version, sync.name
                ),
            );
        }
        for set in &c.api.flags {
            if let (Some(mine), Some(theirs)) = (
                permitted_flags(call, &set.name),
                permitted_flags(sync, &set.name),
            ) {
                if mine != theirs {
                    c.err(
                        &item,
                        "optargs (permitted)",
                        format!(
                            "[{}] differs from [{}] of its synchronous twin {}",
                            mine.join(", "),
                            theirs.join(", "),
                            sync.name
                        ),
                    );
                }
            }
        }
    }
}

/// The names a call's optional flags argument of set `set` permits, sorted
/// (None when it has no such argument or permits the whole set).
fn permitted_flags<'a>(call: &'a Call, set: &str) -> Option<Vec<&'a str>> {
    call.optargs.iter().find_map(|o| match &o.kind {
        OptArgKind::Flags {
            flags,
            permitted: Some(p),
        } if flags == set => {
            let mut names: Vec<&str> = p.iter().map(String::as_str).collect();
            names.sort_unstable();
            Some(names)
        }
        OptArgKind::Flags { .. } | OptArgKind::Closure { .. } => None,
    })
}

pub(crate) fn version_key(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn check_call(c: &mut Checker, call: &Call) {
    let api = c.api;
    let item = format!("call {}", call.name);
    if !is_ident(&call.name, false) {
        c.err(
            &item,
            "name",
            "must be a lower-case identifier without the nbd_ prefix",
        );
    }
    if call.name.starts_with("nbd_") {
        c.err(&item, "name", "write the name without the nbd_ prefix");
    }
    match version_key(&call.first_version) {
        None => c.err(
            &item,
            "first_version",
            format!("`{}` is not MAJOR.MINOR", call.first_version),
        ),
        Some((maj, min)) => {
            if (maj, min) > LATEST_VERSION {
                c.err(
                    &item,
                    "first_version",
                    format!(
                        "`{}` is newer than libnbd {}.{}",
                        call.first_version, LATEST_VERSION.0, LATEST_VERSION.1
                    ),
                );
            }
            if maj != 1 || min % 2 != 0 {
                c.err(
                    &item,
                    "first_version",
                    format!(
                        "`{}` is not a stable libnbd release (1.even)",
                        call.first_version
                    ),
                );
            }
        }
    }
    if call.shortdesc.trim().is_empty() {
        c.err(&item, "shortdesc", "is empty");
    } else if call.shortdesc.ends_with('.') {
        c.err(&item, "shortdesc", "must not end with a full stop");
    } else if call
        .shortdesc
        .chars()
        .next()
        .is_some_and(|ch| ch.is_uppercase())
        && !call.shortdesc.starts_with("TLS")
        && !call.shortdesc.starts_with("NBD")
    {
        c.err(&item, "shortdesc", "must start in lower case");
    }
    if call.longdesc.trim().is_empty() {
        c.err(&item, "longdesc", "is empty");
    }
    for (field, text) in [
        ("longdesc", Some(&call.longdesc)),
        ("returns", call.returns.as_ref()),
    ] {
        if let Some(text) = text {
            for r in markup::call_references(text) {
                if !c.call_names.contains(r.as_str()) {
                    c.err(
                        &item,
                        field,
                        format!("refers to nbd_{r}(3), which is not a call"),
                    );
                }
            }
        }
    }
    for s in &call.see_also {
        if !c.call_names.contains(s.as_str()) {
            c.err(&item, "see_also", format!("`{s}` is not a call"));
        }
        if *s == call.name {
            c.err(&item, "see_also", "a call cannot refer to itself");
        }
    }
    for s in &call.see_also_external {
        let ok = s.ends_with(')') && s.contains('(');
        if !ok {
            c.err(
                &item,
                "see_also_external",
                format!("`{s}` is not of the form page(section)"),
            );
        }
    }
    let mut st = HashSet::new();
    for s in &call.permitted_states {
        if !st.insert(*s) {
            c.err(
                &item,
                "permitted_states",
                format!("`{}` listed twice", s.as_str()),
            );
        }
    }

    // Argument names: unique, identifiers, length names included.
    let mut names: HashMap<&str, usize> = HashMap::new();
    for a in &call.args {
        *names.entry(a.name.as_str()).or_default() += 1;
        if let Some(len) = a.kind.len() {
            *names.entry(len).or_default() += 1;
        }
    }
    for o in &call.optargs {
        *names.entry(o.name.as_str()).or_default() += 1;
    }
    for (n, count) in &names {
        if *count > 1 {
            c.err(
                &item,
                "args",
                format!("argument name `{n}` used {count} times"),
            );
        }
        if !is_ident(n, false) {
            c.err(
                &item,
                "args",
                format!("`{n}` must be a lower-case identifier"),
            );
        }
    }

    for (i, a) in call.args.iter().enumerate() {
        let field = format!("args[{i}] ({})", a.name);
        match a.kind.role() {
            ArgRole::Closure(callback) => check_callback_name(c, &item, &field, callback),
            ArgRole::Enum(name) => {
                if !api.enums.iter().any(|e| e.name == name) {
                    c.err(&item, &field, format!("enum `{name}` is not defined"));
                }
            }
            ArgRole::Flags(flags) => {
                if !api.flags.iter().any(|f| f.name == flags) {
                    c.err(&item, &field, format!("flag set `{flags}` is not defined"));
                }
            }
            ArgRole::Buffer {
                persistent: true, ..
            } => {
                if !call.name.starts_with("aio_") {
                    c.err(&item, &field, "persistent buffers are only for aio_* calls");
                }
            }
            ArgRole::Buffer {
                persistent: false, ..
            }
            | ArgRole::Sockaddr { .. }
            | ArgRole::Plain => {}
        }
    }
    for (i, o) in call.optargs.iter().enumerate() {
        let field = format!("optargs[{i}] ({})", o.name);
        match &o.kind {
            OptArgKind::Closure { callback } => check_callback_name(c, &item, &field, callback),
            OptArgKind::Flags { flags, permitted } => {
                match api.flags.iter().find(|f| &f.name == flags) {
                    None => c.err(&item, &field, format!("flag set `{flags}` is not defined")),
                    Some(set) => {
                        for p in permitted.iter().flatten() {
                            if !set.values.iter().any(|v| &v.name == p) {
                                c.err(&item, &field, format!("`{p}` is not a flag of `{flags}`"));
                            }
                        }
                    }
                }
            }
        }
    }
    let (ret_problem, only_on_failure) = match &call.ret {
        RetKind::Enum { r#enum } => (
            (!api.enums.iter().any(|e| &e.name == r#enum))
                .then(|| format!("enum `{}` is not defined", r#enum)),
            false,
        ),
        RetKind::Flags { flags } => (
            (!api.flags.iter().any(|f| &f.name == flags))
                .then(|| format!("flag set `{flags}` is not defined")),
            false,
        ),
        RetKind::Void => (
            (call.special != Some(Special::Close)).then(|| "only close returns void".into()),
            false,
        ),
        RetKind::Handle => (
            (call.special != Some(Special::Create)).then(|| "only create returns a handle".into()),
            false,
        ),
        RetKind::Cookie => (
            (!call.name.starts_with("aio_")).then(|| "only aio_* calls return cookies".into()),
            true,
        ),
        RetKind::Error | RetKind::String => (None, true),
        RetKind::Bool
        | RetKind::Int
        | RetKind::Int64
        | RetKind::Uint
        | RetKind::Uint64
        | RetKind::SizeT
        | RetKind::StaticString
        | RetKind::Fd
        | RetKind::Uintptr => (None, false),
    };
    if let Some(problem) = ret_problem {
        c.err(&item, "ret", problem);
    }
    if !call.may_set_error {
        if !call.permitted_states.is_empty() {
            c.err(
                &item,
                "may_set_error",
                "a call that cannot fail must be permitted in every state",
            );
        }
        if call.checks_values() {
            c.err(
                &item,
                "may_set_error",
                "a call with enum or flags arguments can fail their checks",
            );
        }
        if only_on_failure {
            c.err(
                &item,
                "may_set_error",
                "this return kind only makes sense for a call that can fail",
            );
        }
    }
    if !call.locked && !call.permitted_states.is_empty() {
        c.err(
            &item,
            "locked",
            "a call without the lock cannot check the handle state",
        );
    }
    if call.special.is_some() && (!call.args.is_empty() && call.special != Some(Special::Close)) {
        c.err(&item, "special", "special calls take no arguments");
    }
}

fn check_callback_name(c: &mut Checker, item: &str, field: &str, name: &str) {
    if !c.api.callbacks.iter().any(|cb| cb.name == name) {
        c.err(item, field, format!("callback `{name}` is not defined"));
    }
}

fn check_specials(c: &mut Checker) {
    for (special, name, ret) in [
        (Special::Create, "create", RetKind::Handle),
        (Special::Close, "close", RetKind::Void),
        (Special::GetError, "get_error", RetKind::StaticString),
        (Special::GetErrno, "get_errno", RetKind::Int),
    ] {
        let found: Vec<&Call> = c
            .api
            .calls
            .iter()
            .filter(|c| c.special == Some(special))
            .collect();
        match found.as_slice() {
            [] => c.err(
                format!("call {name}"),
                "special",
                format!("no call is marked `special: {name}`"),
            ),
            [one] => {
                if one.name != name {
                    c.err(
                        format!("call {}", one.name),
                        "special",
                        format!("`special: {name}` belongs on the call `{name}`"),
                    );
                }
                if one.ret != ret {
                    c.err(
                        format!("call {}", one.name),
                        "ret",
                        format!("{name} must return {ret:?}"),
                    );
                }
            }
            _ => c.err(
                format!("call {name}"),
                "special",
                "marked on more than one call",
            ),
        }
    }
}

/// What the bindings need beyond the C API: their generated code names its
/// own locals, so an argument may not take one of those names; OCaml's
/// enum and flag modules keep `UNKNOWN` for values they do not know and
/// type constants as `int32`; the Node binding's methods and promise
/// methods need distinct names and something to wait for.
fn check_bindings(c: &mut Checker) {
    let api = c.api;
    let clash = |name: &str| {
        let bindings = [
            (
                "Python",
                names::PYTHON_RESERVED.contains(&name)
                    || names::PYTHON_RESERVED.contains(&python_ident(name).as_str()),
            ),
            (
                "Node",
                names::NODE_RESERVED.contains(&name)
                    || names::JS_RESERVED.contains(&lower_camel(name).as_str()),
            ),
            (
                "OCaml",
                names::OCAML_ML_RESERVED.contains(&name)
                    || names::OCAML_RUST_RESERVED.contains(&name),
            ),
        ];
        bindings.iter().find(|(_, hit)| *hit).map(|(lang, _)| *lang)
    };
    let mut js_methods: HashMap<String, &str> = HashMap::new();
    for call in api.calls.iter().filter(|c| c.special.is_none()) {
        let item = format!("call {}", call.name);
        let names = call
            .args
            .iter()
            .flat_map(|a| std::iter::once(a.name.as_str()).chain(a.kind.len()))
            .chain(call.optargs.iter().map(|o| o.name.as_str()));
        for name in names {
            if let Some(lang) = clash(name) {
                c.err(
                    &item,
                    "args",
                    format!(
                        "`{name}` clashes with a name the {lang} binding's generated code uses"
                    ),
                );
            }
        }
        if call.callbacks_run_during_call() && !call.may_set_error {
            c.err(
                &item,
                "may_set_error",
                "its callbacks run during the call, so it must be able to fail (bindings report a callback's exception as the call's error)",
            );
        }
        let promise = names::js_promise_method(call);
        let completes = call.optargs.iter().any(|o| match &o.kind {
            OptArgKind::Closure { callback } => callback == "completion",
            OptArgKind::Flags { .. } => false,
        });
        if promise.is_some() && !completes && call.permitted_states.is_empty() {
            c.err(
                &item,
                "permitted_states",
                "the Node promise form needs a completion callback or permitted states to wait out",
            );
        }
        for js in std::iter::once(names::js_method(&call.name)).chain(promise) {
            if let Some(other) = js_methods.insert(js.clone(), &call.name) {
                c.err(
                    &item,
                    "name",
                    format!("its Node method `{js}` is also {other}'s"),
                );
            }
        }
    }
    for cb in &api.callbacks {
        for a in &cb.args {
            if names::NODE_RESERVED.contains(&a.name.as_str()) {
                c.err(
                    format!("callback {}", cb.name),
                    "args",
                    format!(
                        "`{}` clashes with a name the Node binding's generated code uses",
                        a.name
                    ),
                );
            }
        }
    }
    let values = api
        .enums
        .iter()
        .flat_map(|e| {
            e.values
                .iter()
                .map(move |v| (format!("enum {}", e.name), &v.name))
        })
        .chain(api.flags.iter().flat_map(|f| {
            f.values
                .iter()
                .map(move |v| (format!("flags {}", f.name), &v.name))
        }));
    for (item, name) in values {
        if name == "UNKNOWN" {
            c.err(
                item,
                format!("values.{name}"),
                "`UNKNOWN` is the OCaml binding's constructor for values it does not know",
            );
        }
    }
    for k in &api.constants {
        match k.value {
            ConstValue::Int(i) => {
                if i32::try_from(i).is_err() {
                    c.err(
                        format!("constant {}", k.name),
                        "value",
                        "does not fit the OCaml binding's int32",
                    );
                }
            }
            ConstValue::Str(_) => {}
        }
    }
}

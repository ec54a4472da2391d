//! Our generated libnbd.h against the incumbent's: every constant Debian's
//! libnbd.h defines has the same value in ours, and every function it
//! declares has the same prototype. The incumbent's header comes with
//! libnbd-dev, which `cargo xtask test` installs.

mod common;

use std::collections::BTreeMap;

const SYSTEM_HEADER: &str = "/usr/include/libnbd.h";

fn system_header() -> String {
    std::fs::read_to_string(SYSTEM_HEADER).unwrap_or_else(|e| {
        panic!("{SYSTEM_HEADER} (from libnbd-dev) is needed for this test: {e}")
    })
}

fn ours() -> String {
    std::fs::read_to_string(common::root().join("bindings/c/include/libnbd.h")).unwrap()
}

/// What `parse` finds in the incumbent's header and in ours, once it is
/// seen to find more than `more_than` `what` in theirs (a parser that
/// finds nothing would compare nothing).
fn theirs_and_ours(
    parse: fn(&str) -> BTreeMap<String, String>,
    more_than: usize,
    what: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let theirs = parse(&system_header());
    assert!(
        theirs.len() > more_than,
        "parsed only {} {what} from {SYSTEM_HEADER}",
        theirs.len()
    );
    (theirs, parse(&ours()))
}

/// Our entry for one of theirs, `shown` as the failure names it.
fn our<'a>(ours: &'a BTreeMap<String, String>, name: &str, shown: &str) -> &'a String {
    ours.get(name)
        .unwrap_or_else(|| panic!("{shown} is missing from our header"))
}

/// `#define LIBNBD_X value` lines, without masks (they grow with releases).
fn defines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("#define LIBNBD_"))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?;
            let value = it.collect::<Vec<_>>().join(" ");
            let numeric_or_string = value.starts_with(|c: char| c.is_ascii_digit() || c == '"');
            (numeric_or_string && !name.ends_with("_MASK")).then(|| (name.to_string(), value))
        })
        .collect()
}

fn number(v: &str) -> Option<u64> {
    let v = v.trim_end_matches('U');
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

#[test]
fn constants_equal_the_incumbents() {
    let (theirs, ours) = theirs_and_ours(defines, 40, "constants");
    for (name, value) in &theirs {
        if name.starts_with("HAVE_") || name == "H" {
            continue;
        }
        let mine = our(&ours, name, &format!("LIBNBD_{name}"));
        match (number(value), number(mine)) {
            (Some(a), Some(b)) => assert_eq!(a, b, "LIBNBD_{name}"),
            _ => assert_eq!(value, mine, "LIBNBD_{name}"),
        }
    }
}

/// Each `extern ... nbd_NAME (...)` declaration, whitespace normalised and
/// attributes dropped.
fn prototypes(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for decl in text.split("extern ").skip(1) {
        let Some(end) = decl.find(';') else { continue };
        let decl = &decl[..end];
        let decl = decl.split("LIBNBD_ATTRIBUTE").next().unwrap_or(decl);
        let decl = decl.split("/*").next().unwrap_or(decl);
        let norm = decl.split_whitespace().collect::<Vec<_>>().join(" ");
        let norm = norm.replace("* ", "*").replace(" (", "(");
        if let Some(i) = norm.find("nbd_") {
            let name: String = norm[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.insert(name, norm.trim().to_string());
        }
    }
    out
}

#[test]
fn prototypes_equal_the_incumbents() {
    let (theirs, ours) = theirs_and_ours(prototypes, 120, "prototypes");
    for (name, proto) in &theirs {
        let mine = our(&ours, name, name);
        assert_eq!(mine, proto, "prototype of {name}");
    }
}

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
    let theirs = defines(&system_header());
    let ours = defines(&ours());
    assert!(
        theirs.len() > 40,
        "parsed only {} constants from {SYSTEM_HEADER}",
        theirs.len()
    );
    for (name, value) in &theirs {
        if name.starts_with("HAVE_") || name == "H" {
            continue;
        }
        let mine = ours
            .get(name)
            .unwrap_or_else(|| panic!("LIBNBD_{name} is missing from our header"));
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
    let theirs = prototypes(&system_header());
    let ours = prototypes(&ours());
    assert!(
        theirs.len() > 120,
        "parsed only {} prototypes from {SYSTEM_HEADER}",
        theirs.len()
    );
    for (name, proto) in &theirs {
        let mine = ours
            .get(name)
            .unwrap_or_else(|| panic!("{name} is missing from our header"));
        assert_eq!(mine, proto, "prototype of {name}");
    }
}

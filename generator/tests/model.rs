//! The real api.yaml parses, validates, round-trips through the model, and
//! holds every call libnbd has.

mod common;

#[test]
fn api_yaml_round_trips_through_the_model() {
    let api = common::api();
    let text = serde_yaml::to_string(&api).unwrap();
    let again = generator::parse(&text).unwrap();
    assert_eq!(api, again);
}

/// The in-repository list of libnbd's calls: (name, first version, listed
/// by the 1.12.5 manual).
fn libnbd_calls() -> Vec<(String, String, bool)> {
    let path = common::root().join("generator/tests/data/libnbd-calls.tsv");
    let text = std::fs::read_to_string(&path).expect("generator/tests/data/libnbd-calls.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "malformed line {l:?}");
            (cols[0].to_string(), cols[1].to_string(), cols[2] == "yes")
        })
        .collect()
}

/// Calls of libnbd 1.24 not described yet. A call on this list that
/// api.yaml gains makes the test fail, so the list only shrinks.
const NOT_YET: &[&str] = &[];

#[test]
fn api_yaml_holds_every_call_of_the_reference_list() {
    let api = common::api();
    let list = libnbd_calls();
    assert_eq!(list.len(), 162, "libnbd 1.24 has 162 calls");
    let mut missing = Vec::new();
    for (name, version, _) in &list {
        match api.calls.iter().find(|c| &c.name == name) {
            None => missing.push(name.as_str()),
            Some(c) => assert_eq!(&c.first_version, version, "first_version of {name}"),
        }
    }
    assert_eq!(missing, NOT_YET.to_vec(), "calls missing from api.yaml");
    // Every call api.yaml has beyond the list is marked as an extension.
    for c in &api.calls {
        if !list.iter().any(|(n, _, _)| *n == c.name) {
            assert!(
                c.extension
                    || matches!(
                        c.name.as_str(),
                        "create" | "close" | "get_error" | "get_errno"
                    ),
                "{} is not a libnbd call and not marked `extension: true`",
                c.name
            );
        }
    }
}

#[test]
fn api_yaml_holds_every_call_of_the_seed_manual() {
    let api = common::api();
    let seed: Vec<String> = libnbd_calls()
        .into_iter()
        .filter(|(_, _, in_seed)| *in_seed)
        .map(|(n, _, _)| n)
        .collect();
    assert!(
        seed.len() >= 120,
        "only {} calls are marked as in the seed manual",
        seed.len()
    );
    for n in seed {
        assert!(
            api.calls.iter().any(|c| c.name == n),
            "nbd_{n} from the seed manual is missing"
        );
    }
}

#[test]
fn every_template_renders_against_the_real_api() {
    let api = common::api();
    let outputs = generator::generate(&api).unwrap();
    let calls = api.calls.len();
    let pages = outputs
        .iter()
        .filter(|o| o.path.starts_with("docs/man"))
        .count();
    assert_eq!(
        pages,
        calls + 2,
        "one page per call, the overview and nbdsh(1)"
    );
    for o in &outputs {
        assert!(
            o.text.contains(generator::DO_NOT_EDIT),
            "{} lacks the do-not-edit line",
            o.path.display()
        );
    }
}

#[test]
fn committed_generated_files_are_up_to_date() {
    let api = common::api();
    let mut stale = Vec::new();
    for out in generator::generate(&api).unwrap() {
        let want = generator::finish(&out).unwrap();
        let have = std::fs::read_to_string(common::root().join(&out.path)).unwrap_or_default();
        if want != have {
            stale.push(out.path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files (run `cargo xtask generate`): {stale:?}"
    );
}

#[test]
fn extension_calls_say_so_in_every_binding() {
    let api = common::api();
    let extensions: Vec<&str> = api
        .calls
        .iter()
        .filter(|c| c.extension)
        .map(|c| c.name.as_str())
        .collect();
    assert!(!extensions.is_empty());
    let outputs = generator::generate(&api).unwrap();
    for path in [
        "core/src/generated/dispatch.rs",
        "bindings/node/index.d.ts",
        "bindings/ocaml/src/NBD.mli",
        "bindings/python/python/nbd/__init__.pyi",
    ] {
        let out = outputs
            .iter()
            .find(|o| o.path.to_str() == Some(path))
            .unwrap_or_else(|| panic!("{path} is not generated"));
        let n = out
            .text
            .matches("Extension of this library, not in libnbd.")
            .count();
        assert!(
            n >= extensions.len(),
            "{path}: {n} mentions for {} extension calls",
            extensions.len()
        );
        for name in &extensions {
            let wrong = format!("Since libnbd 1.24. C: `nbd_{name}`");
            assert!(
                !out.text.contains(&wrong),
                "{path} dates the extension {name} to libnbd"
            );
        }
    }
}

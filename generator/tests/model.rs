//! The real api.yaml parses, validates, round-trips through the model, and
//! holds every call libnbd has.

mod common;

use std::collections::BTreeSet;

#[test]
fn api_yaml_round_trips_through_the_model() {
    let api = common::api();
    let text = serde_yaml::to_string(&api).unwrap();
    let again = generator::parse(&text).unwrap();
    assert_eq!(api, again);
}

#[test]
fn api_yaml_holds_every_call_of_the_reference_list() {
    let api = common::api();
    let ours: BTreeSet<&str> = api.calls.iter().map(|c| c.name.as_str()).collect();
    let tsv_path = common::root().join("../shared/reference/api-calls.tsv");
    let tsv = std::fs::read_to_string(&tsv_path).expect("shared/reference/api-calls.tsv beside the repository");
    let mut missing = Vec::new();
    let mut count = 0;
    for line in tsv.lines().skip(1) {
        let mut cols = line.split('\t');
        let (Some(name), Some(version)) = (cols.next(), cols.next()) else { continue };
        count += 1;
        match api.calls.iter().find(|c| c.name == name) {
            None => missing.push(name.to_string()),
            Some(c) => assert_eq!(c.first_version, version, "first_version of {name}"),
        }
    }
    assert_eq!(count, 161, "the reference list has 161 calls");
    assert!(missing.is_empty(), "calls missing from api.yaml: {missing:?}");
    assert!(ours.len() >= 161);
}

#[test]
fn api_yaml_holds_every_call_of_the_seed_manual() {
    let api = common::api();
    let seed = std::fs::read_to_string(common::root().join("../shared/seeds/000_84ef07909a256937.txt"))
        .expect("the seed manual beside the repository");
    // The list under SEE ALSO, from its "C API" heading to "Servers".
    let start = seed.rfind("C API").expect("a C API section");
    let section = seed[start..].split("Servers").next().unwrap();
    let names: Vec<&str> = section
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '('))
        .filter_map(|w| w.strip_prefix("nbd_"))
        .map(|w| w.trim_end_matches("(3"))
        .map(|w| w.trim_end_matches('('))
        .collect();
    assert!(names.len() >= 120, "found only {} names in the seed", names.len());
    for n in names {
        assert!(api.calls.iter().any(|c| c.name == n), "nbd_{n} from the seed manual is missing");
    }
}

#[test]
fn every_template_renders_against_the_real_api() {
    let api = common::api();
    let outputs = generator::generate(&api).unwrap();
    let calls = api.calls.len();
    let pages = outputs.iter().filter(|o| o.path.starts_with("docs/man")).count();
    assert_eq!(pages, calls + 1, "one page per call plus the overview");
    for o in &outputs {
        assert!(o.text.contains(generator::DO_NOT_EDIT), "{} lacks the do-not-edit line", o.path.display());
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
    assert!(stale.is_empty(), "stale generated files (run `cargo xtask generate`): {stale:?}");
}

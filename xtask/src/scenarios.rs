//! The `scenarios` step of `cargo xtask test`: tests/scenarios.md is the
//! one list of behaviours every suite tests. Each language's test files
//! name the scenarios they cover (by the number of the file, and by a tag
//! line `scenarios: NNN NNN`); this step fails, naming scenario and
//! language, when a scenario has no test in a language not marked `n/a`
//! for it, when a file names a scenario the list does not have, and when
//! an `n/a` mark is contradicted by a test. `todo` marks (gaps known and
//! not yet filled) are reported as warnings, as are stale ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::root;
use crate::step::{outcome, StepResult};

/// The languages, in the order reports list them.
pub(crate) const LANGUAGES: &[&str] = &["c", "python", "ocaml", "node", "rust", "go"];

/// One scenario of tests/scenarios.md.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Scenario {
    pub number: u32,
    pub statement: String,
    pub calls: Vec<String>,
    /// Language -> why it cannot have this scenario.
    pub not_applicable: BTreeMap<String, String>,
    /// Language -> what is missing.
    pub todo: BTreeMap<String, String>,
}

/// Parse tests/scenarios.md: `- **NNN** statement` starts a scenario, and
/// its indented sub-items are `- calls: a, b`, `- n/a LANG: reason` and
/// `- todo LANG: what`. Anything else is prose.
pub(crate) fn parse(text: &str) -> Result<Vec<Scenario>, String> {
    let mut out: Vec<Scenario> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("scenarios.md:{}", i + 1);
        if let Some(rest) = line.strip_prefix("- **") {
            let (num, statement) = rest
                .split_once("** ")
                .ok_or_else(|| format!("{}: expected `- **NNN** statement`", at()))?;
            let number = three_digits(num)
                .ok_or_else(|| format!("{}: `{num}` is not a three-digit number", at()))?;
            if out.iter().any(|s| s.number == number) {
                return Err(format!("{}: scenario {number} is listed twice", at()));
            }
            out.push(Scenario {
                number,
                statement: statement.trim().to_string(),
                ..Default::default()
            });
            continue;
        }
        let Some(item) = line.strip_prefix("  - ") else {
            continue;
        };
        let Some(current) = out.last_mut() else {
            return Err(format!("{}: a sub-item before any scenario", at()));
        };
        if let Some(calls) = item.strip_prefix("calls:") {
            current.calls = calls
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
        } else if let Some(rest) = item.strip_prefix("n/a ") {
            let (lang, why) = language_mark(rest).map_err(|e| format!("{}: {e}", at()))?;
            current.not_applicable.insert(lang, why);
        } else if let Some(rest) = item.strip_prefix("todo ") {
            let (lang, why) = language_mark(rest).map_err(|e| format!("{}: {e}", at()))?;
            current.todo.insert(lang, why);
        } else {
            return Err(format!(
                "{}: unknown sub-item `{item}` (calls:, n/a LANG:, todo LANG:)",
                at()
            ));
        }
    }
    for s in &out {
        if s.calls.is_empty() {
            return Err(format!("scenario {} names no calls", s.number));
        }
        if let Some(lang) = s.todo.keys().find(|l| s.not_applicable.contains_key(*l)) {
            return Err(format!(
                "scenario {}: {lang} is marked both n/a and todo",
                s.number
            ));
        }
    }
    Ok(out)
}

/// `LANG: reason`, LANG one of [`LANGUAGES`], the reason not empty.
fn language_mark(text: &str) -> Result<(String, String), String> {
    let (lang, why) = text
        .split_once(':')
        .ok_or_else(|| format!("expected `LANG: reason` in `{text}`"))?;
    let lang = lang.trim();
    if !LANGUAGES.contains(&lang) {
        return Err(format!(
            "unknown language `{lang}` (one of {})",
            LANGUAGES.join(", ")
        ));
    }
    if why.trim().is_empty() {
        return Err(format!("{lang} is marked without a reason"));
    }
    Ok((lang.to_string(), why.trim().to_string()))
}

fn three_digits(s: &str) -> Option<u32> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The scenario numbers a tag line `scenarios: NNN NNN` names (after the
/// first `scenarios:` in the text; a comment's closing `*)`, `*/` ends it).
/// None when there is no tag; an error when the tag names nothing.
pub(crate) fn tags(text: &str) -> Result<Option<BTreeSet<u32>>, String> {
    let Some(line) = text.lines().find(|l| l.contains("scenarios:")) else {
        return Ok(None);
    };
    let rest = &line[line.find("scenarios:").unwrap_or(0) + "scenarios:".len()..];
    let mut numbers = BTreeSet::new();
    for word in rest.split_whitespace() {
        match three_digits(word) {
            Some(n) => {
                numbers.insert(n);
            }
            None if matches!(word, "*)" | "*/" | "-->") => break,
            None => return Err(format!("`{word}` in the tag line is not a scenario number")),
        }
    }
    if numbers.is_empty() {
        return Err("the tag line `scenarios:` names no scenario".into());
    }
    Ok(Some(numbers))
}

/// A test file of one language and the scenarios it names.
#[derive(Debug)]
pub(crate) struct TestFile {
    pub language: &'static str,
    pub path: PathBuf,
    pub scenarios: BTreeSet<u32>,
}

/// Where each language keeps its tests: directory, file-name prefix
/// before the number, suffix, and whether a file without number or tag is
/// an error (false for helpers that match the pattern).
struct Tree {
    language: &'static str,
    dir: &'static str,
    prefix: &'static str,
    suffix: &'static str,
    /// Files of the directory that are helpers, not tests.
    helpers: &'static [&'static str],
}

const TREES: &[Tree] = &[
    Tree {
        language: "c",
        dir: "tests/c",
        prefix: "",
        suffix: ".c",
        helpers: &[],
    },
    Tree {
        language: "python",
        dir: "bindings/python/tests",
        prefix: "test_",
        suffix: ".py",
        helpers: &[],
    },
    Tree {
        language: "ocaml",
        dir: "bindings/ocaml/tests",
        prefix: "test_",
        suffix: ".ml",
        helpers: &[],
    },
    Tree {
        language: "node",
        dir: "bindings/node/tests",
        prefix: "",
        suffix: ".test.js",
        helpers: &[],
    },
    Tree {
        language: "go",
        dir: "bindings/go",
        prefix: "libnbd_",
        suffix: "_test.go",
        helpers: &[],
    },
    Tree {
        language: "rust",
        dir: "core/tests",
        prefix: "t",
        suffix: ".rs",
        helpers: &[],
    },
    Tree {
        language: "rust",
        dir: "core/src/protocol/tests",
        prefix: "",
        suffix: ".rs",
        helpers: &["mod.rs", "peer.rs"],
    },
];

/// Every test file of every language, with the scenarios it names.
pub(crate) fn test_files(root: &Path) -> Result<Vec<TestFile>, String> {
    let mut out = Vec::new();
    for tree in TREES {
        let dir = root.join(tree.dir);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| {
                n.starts_with(tree.prefix)
                    && n.ends_with(tree.suffix)
                    && !tree.helpers.contains(&n.as_str())
            })
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let number = name
                .strip_prefix(tree.prefix)
                .and_then(|n| n.get(..3))
                .and_then(three_digits);
            let mut scenarios = tags(&text)
                .map_err(|e| format!("{}/{name}: {e}", tree.dir))?
                .unwrap_or_default();
            scenarios.extend(number);
            if scenarios.is_empty() {
                // A file that matches the pattern but is numbered nowhere:
                // the protocol's unit tests must carry a tag.
                return Err(format!(
                    "{}/{name}: no scenario number and no `scenarios:` tag line",
                    tree.dir
                ));
            }
            out.push(TestFile {
                language: tree.language,
                path: PathBuf::from(tree.dir).join(name),
                scenarios,
            });
        }
    }
    Ok(out)
}

/// What the comparison found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// Language -> (covered, n/a, todo).
    pub counts: BTreeMap<&'static str, (u32, u32, u32)>,
}

pub(crate) fn check(scenarios: &[Scenario], files: &[TestFile]) -> Report {
    let mut report = Report::default();
    let known: BTreeSet<u32> = scenarios.iter().map(|s| s.number).collect();
    for f in files {
        for n in f.scenarios.difference(&known) {
            report.errors.push(format!(
                "{} ({}) names scenario {n}, which tests/scenarios.md does not have",
                f.path.display(),
                f.language
            ));
        }
    }
    for s in scenarios {
        for &lang in LANGUAGES {
            let tests: Vec<String> = files
                .iter()
                .filter(|f| f.language == lang && f.scenarios.contains(&s.number))
                .map(|f| f.path.display().to_string())
                .collect();
            let counts = report.counts.entry(lang).or_default();
            match (
                s.not_applicable.get(lang),
                s.todo.get(lang),
                tests.is_empty(),
            ) {
                (Some(_), _, true) => counts.1 += 1,
                (Some(why), _, false) => report.errors.push(format!(
                    "scenario {} is marked n/a for {lang} ({why}) but {} tests it: remove the mark",
                    s.number,
                    tests.join(", ")
                )),
                (None, Some(what), true) => {
                    counts.2 += 1;
                    report.warnings.push(format!(
                        "scenario {} TODO in {lang}: {what} ({})",
                        s.number, s.statement
                    ));
                }
                (None, Some(_), false) => {
                    // Filled since (perhaps by work in progress elsewhere):
                    // covered, and the mark should go.
                    counts.0 += 1;
                    report.warnings.push(format!(
                        "scenario {} is marked todo for {lang} but {} tests it: remove the mark",
                        s.number,
                        tests.join(", ")
                    ));
                }
                (None, None, true) => report.errors.push(format!(
                    "scenario {} has no {lang} test: {} (calls: {})",
                    s.number,
                    s.statement,
                    s.calls.join(", ")
                )),
                (None, None, false) => counts.0 += 1,
            }
        }
    }
    report
}

pub(crate) fn step(log: &Path) -> StepResult {
    let root = root();
    let md = root.join("tests/scenarios.md");
    let text = std::fs::read_to_string(&md).map_err(|e| format!("{}: {e}", md.display()))?;
    let scenarios = parse(&text)?;
    let files = test_files(&root)?;
    let report = check(&scenarios, &files);
    let mut text = format!(
        "{} scenarios, {} test files\n",
        scenarios.len(),
        files.len()
    );
    for (lang, (covered, na, todo)) in &report.counts {
        text.push_str(&format!(
            "{lang}: {covered} covered, {na} n/a, {todo} todo\n"
        ));
    }
    for w in &report.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    for e in &report.errors {
        text.push_str(&format!("error: {e}\n"));
    }
    std::fs::write(log, &text).map_err(|e| format!("{}: {e}", log.display()))?;
    if !report.warnings.is_empty() {
        println!(
            "    {} scenario gaps marked todo (warnings in {})",
            report.warnings.len(),
            log.display()
        );
    }
    // Each error is one failure; the check as a whole is one pass.
    outcome(
        u64::from(report.errors.is_empty()),
        report.errors.len() as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "\
# Scenarios

Prose that is not a scenario.

- **100** Handles are made and closed.
  - calls: create, close
- **210** Opt mode aborts.
  - calls: opt_abort
  - n/a c: a reason
  - todo node: not yet
";

    /// Whether one of the messages contains `part`.
    fn mentions(messages: &[String], part: &str) -> bool {
        messages.iter().any(|m| m.contains(part))
    }

    fn file(language: &'static str, name: &str, scenarios: &[u32]) -> TestFile {
        TestFile {
            language,
            path: PathBuf::from(name),
            scenarios: scenarios.iter().copied().collect(),
        }
    }

    #[test]
    fn parses_scenarios_and_marks() {
        let s = parse(LIST).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].number, 100);
        assert_eq!(s[0].statement, "Handles are made and closed.");
        assert_eq!(s[0].calls, ["create", "close"]);
        assert_eq!(
            s[1].not_applicable.get("c").map(String::as_str),
            Some("a reason")
        );
        assert_eq!(s[1].todo.get("node").map(String::as_str), Some("not yet"));
    }

    #[test]
    fn refuses_malformed_lists() {
        assert!(parse("- **10** short\n  - calls: x\n")
            .unwrap_err()
            .contains("three-digit"));
        assert!(
            parse("- **100** a\n  - calls: x\n- **100** b\n  - calls: y\n")
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse("- **100** a\n").unwrap_err().contains("no calls"));
        assert!(parse("- **100** a\n  - calls: x\n  - n/a java: no\n")
            .unwrap_err()
            .contains("unknown language"));
        assert!(parse("- **100** a\n  - calls: x\n  - n/a c:\n")
            .unwrap_err()
            .contains("without a reason"));
        assert!(parse("- **100** a\n  - calls: x\n  - maybe c: so\n")
            .unwrap_err()
            .contains("unknown sub-item"));
    }

    #[test]
    fn reads_tag_lines() {
        assert_eq!(tags("no tag here").unwrap(), None);
        assert_eq!(
            tags("// scenarios: 210 220\nmore").unwrap(),
            Some([210, 220].into())
        );
        assert_eq!(tags("(* scenarios: 600 *)").unwrap(), Some([600].into()));
        assert_eq!(
            tags("/* scenarios: 700 701 */").unwrap(),
            Some([700, 701].into())
        );
        assert!(tags("# scenarios:").is_err());
        assert!(tags("# scenarios: 70x").is_err());
    }

    #[test]
    fn reports_gaps_unknown_numbers_and_stale_marks() {
        let s = parse(LIST).unwrap();
        let files = vec![
            file("c", "tests/c/100-create.c", &[100]),
            file("python", "test_100.py", &[100, 210, 999]),
            file("ocaml", "test_100.ml", &[100, 210]),
            file("node", "100-handle.test.js", &[100]),
            file("rust", "t100.rs", &[100, 210]),
            file("go", "libnbd_100_handle_test.go", &[100, 210]),
        ];
        let r = check(&s, &files);
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert!(r.errors[0].contains("scenario 999"), "{:?}", r.errors);
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].contains("210 TODO in node"));
        assert_eq!(r.counts["c"], (1, 1, 0));
        assert_eq!(r.counts["node"], (1, 0, 1));

        // No OCaml test of 210: an error naming both.
        let r = check(
            &s,
            &files[..2]
                .iter()
                .map(|f| {
                    file(
                        f.language,
                        "x",
                        &f.scenarios.iter().copied().collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>(),
        );
        assert!(
            mentions(&r.errors, "scenario 210 has no ocaml test"),
            "{:?}",
            r.errors
        );
        assert!(
            mentions(&r.errors, "scenario 100 has no rust test"),
            "{:?}",
            r.errors
        );

        // A test where the list says n/a is an error; where it says todo,
        // a warning that the mark is stale.
        let stale = vec![
            file("c", "210.c", &[210]),
            file("node", "210.test.js", &[210]),
        ];
        let r = check(&s, &stale);
        assert!(mentions(&r.errors, "marked n/a for c"), "{:?}", r.errors);
        assert!(!mentions(&r.errors, "todo for node"), "{:?}", r.errors);
        assert!(
            mentions(&r.warnings, "marked todo for node"),
            "{:?}",
            r.warnings
        );
    }
}

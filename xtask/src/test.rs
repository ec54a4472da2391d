//! `cargo xtask test`: install what the tests need, then run every suite
//! and end with one line `N passed, M failed`.

use std::path::Path;
use std::time::Instant;

use crate::deps;
use crate::root;
use crate::step::{cmd_cargo, outcome, run_logged, single, StepResult};

/// Tallies of the whole run.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    failed_steps: Vec<String>,
}

/// One step: its name, and the function running it with its log file.
type Step = (&'static str, Box<dyn Fn(&Path) -> StepResult>);

pub fn run(args: &[String]) -> Result<(), String> {
    let mut skip_install = false;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-install" => skip_install = true,
            "--only" => only = Some(it.next().cloned().ok_or("test: --only needs a step name")?),
            other => return Err(format!("test: unknown option `{other}`")),
        }
    }
    let root = root();
    let logs = root.join("target/xtask-logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

    let mut tally = Tally::default();
    let steps: Vec<Step> = vec![
        (
            "generate-check",
            Box::new(|log| single(cmd_cargo(&["xtask", "generate", "--check"]), log)),
        ),
        ("scenarios", Box::new(crate::scenarios::step)),
        ("fmt", Box::new(fmt_check)),
        (
            "cargo-build",
            Box::new(|log| single(cmd_cargo(&["build", "--workspace", "--all-targets"]), log)),
        ),
        (
            "clippy",
            Box::new(|log| {
                // The OCaml stubs crate is outside the workspace (it needs
                // OCaml to build), and so outside this step. The workspace
                // run builds the core with its tokio API (nbd-bench
                // enables the feature); a second run checks the core
                // without it, as the C library and the bindings build it.
                let clippy = |what: &[&str]| {
                    let args = [
                        &["clippy"],
                        what,
                        &["--all-targets", "--", "-D", "warnings"],
                    ];
                    single(cmd_cargo(&args.concat()), log)
                };
                let workspace = clippy(&["--workspace"])?;
                let plain = clippy(&["-p", "nbd-core"])?;
                outcome(
                    workspace.passed + plain.passed,
                    workspace.failed + plain.failed,
                )
            }),
        ),
        ("cargo-test", Box::new(cargo_tests)),
        (
            "rust-doc",
            Box::new(|log| {
                // The Rust API's documentation builds without warnings: every
                // nbd_NAME(3) of api.yaml became a working link.
                let mut c =
                    cmd_cargo(&["doc", "-p", "nbd-core", "--features", "tokio", "--no-deps"]);
                c.env("RUSTDOCFLAGS", "-D warnings");
                single(c, log)
            }),
        ),
        ("c-header", Box::new(crate::checks::header)),
        ("man-lint", Box::new(crate::checks::man_pages)),
        ("python-tests", Box::new(crate::python::tests)),
        ("ocaml-tests", Box::new(crate::ocaml::tests)),
        ("node-tests", Box::new(crate::node::tests)),
        ("c-tests", Box::new(crate::ctests::c_tests)),
        ("c-dropin", Box::new(crate::ctests::c_dropin)),
        ("c-diff", Box::new(crate::ctests::c_diff)),
        ("go-tests", Box::new(crate::go::tests)),
        ("fuzz", Box::new(crate::fuzz::step)),
    ];
    if let Some(o) = only.as_deref() {
        if !steps.iter().any(|(name, _)| *name == o) {
            let names: Vec<&str> = steps.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "test: no step named `{o}`; the steps are: {}",
                names.join(", ")
            ));
        }
    }
    if !skip_install {
        deps::ensure_test_deps()?;
    }
    for (name, step) in steps {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let log = logs.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&log);
        println!("==> {name}");
        let start = Instant::now();
        let result = step(&log);
        let secs = start.elapsed().as_secs_f64();
        match result {
            Ok(o) if o.failed == 0 => {
                println!("    ok: {} passed ({secs:.1} s)", o.passed);
                tally.passed += o.passed;
            }
            Ok(o) => {
                println!(
                    "    FAILED: {} passed, {} failed ({secs:.1} s)",
                    o.passed, o.failed
                );
                tally.passed += o.passed;
                tally.failed += o.failed;
                tally.failed_steps.push(name.to_string());
                show_tail(&log);
            }
            Err(e) => {
                println!("    FAILED: {e} ({secs:.1} s)");
                tally.failed += 1;
                tally.failed_steps.push(name.to_string());
                show_tail(&log);
            }
        }
    }
    if !tally.failed_steps.is_empty() {
        println!("failed steps: {}", tally.failed_steps.join(", "));
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed == 0 {
        Ok(())
    } else {
        Err("some tests failed".into())
    }
}

fn show_tail(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    println!("    --- last lines of {} ---", log.display());
    for l in &lines[from..] {
        println!("    | {l}");
    }
}

/// The workspace's cargo tests, counted test by test. They include the
/// core's tokio API (nbd-bench enables the feature for the whole
/// workspace): its unit tests, t850, t861 with the example it runs (cargo
/// test builds the examples first) and the doctest; the step fails if
/// they did not run.
fn cargo_tests(log: &Path) -> StepResult {
    let ok = run_logged(cmd_cargo(&["test", "--workspace", "--no-fail-fast"]), log)?;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let (mut passed, mut failed) = (0, 0);
    for line in text.lines() {
        // "test result: ok. 12 passed; 0 failed; 0 ignored; ..."
        if let Some(rest) = line.strip_prefix("test result: ") {
            for part in rest.split(';') {
                let words: Vec<&str> = part.split_whitespace().collect();
                if let [.., n, what] = words.as_slice() {
                    let n: u64 = n.parse().unwrap_or(0);
                    match *what {
                        "passed" => passed += n,
                        "failed" => failed += n,
                        _ => {}
                    }
                }
            }
        }
    }
    if !ok && failed == 0 {
        failed = 1; // a build failure or a crash outside any test
    }
    for suite in ["tests/t850_async.rs", "tests/t861_async_copy.rs"] {
        if !text.contains(suite) {
            println!(
                "    {suite} did not run: is the tokio feature still enabled for the workspace?"
            );
            failed += 1;
        }
    }
    outcome(passed, failed)
}

/// Every Rust crate of the repository is formatted as rustfmt would: the
/// workspace, and the two crates outside it (the OCaml stubs, the fuzz
/// targets). One test: all three must pass.
fn fmt_check(log: &Path) -> StepResult {
    let mut ok = run_logged(cmd_cargo(&["fmt", "--all", "--check"]), log)?;
    for manifest in ["bindings/ocaml/rust/Cargo.toml", "fuzz/Cargo.toml"] {
        ok &= run_logged(
            cmd_cargo(&["fmt", "--manifest-path", manifest, "--check"]),
            log,
        )?;
    }
    outcome(ok as u64, !ok as u64)
}

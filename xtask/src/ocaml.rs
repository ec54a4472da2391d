//! The `ocaml-tests` step of `cargo xtask test`, and building OCaml
//! programs against the installed `nbd` package (also used by the demo).
//!
//! In bindings/ocaml: `dune build @install` (which runs cargo for the Rust
//! stubs), `dune test --force` (each numbered test executable prints
//! `PASS name`; every executable without that line failed), `opam lint
//! nbd.opam`, then `dune install` into target/ocaml-install and the demo
//! program compiled against that with ocamlfind, native and bytecode, and
//! run. Each of these is one test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::deps;
use crate::root;
use crate::step::{outcome, run_logged, StepResult};

/// Debian packages of the OCaml toolchain, and the server the tests use.
pub(crate) const PACKAGES: &[&str] =
    &["ocaml-nox", "ocaml-dune", "ocaml-findlib", "opam", "nbdkit"];

/// Seconds the whole `dune test` may take.
const TIMEOUT_SECS: &str = "900";

/// The cargo profile of the Rust stubs in the tests: `dev` reuses the
/// dependencies `cargo build --workspace` built. (nbd-core itself is
/// compiled again: cargo hashes a path dependency relative to the
/// workspace root, and the stubs' crate is a workspace of its own.)
const TEST_PROFILE: &str = "dev";

fn project() -> PathBuf {
    root().join("bindings/ocaml")
}

/// A dune command in bindings/ocaml, building the stubs with this cargo
/// profile (see src/build-stubs.sh).
fn dune(args: &[&str], profile: &str) -> Command {
    let mut c = Command::new("dune");
    c.args(args)
        .args(["--root", "."])
        .current_dir(project())
        .env("NBD_CARGO_PROFILE", profile);
    c
}

pub(crate) fn tests(log: &Path) -> StepResult {
    deps::ensure_packages(PACKAGES)?;
    let mut results: Vec<bool> = Vec::new();
    let built = run_logged(dune(&["build", "@install"], TEST_PROFILE), log)?;
    results.push(built);
    let (mut passed, mut failed) = if built {
        dune_tests(log)?
    } else {
        (0, test_names()?.len() as u64)
    };

    let mut lint = Command::new("opam");
    lint.args(["lint", "nbd.opam"]).current_dir(project());
    results.push(run_logged(lint, log)?);

    if built {
        let prefix = root().join("target/ocaml-install");
        let installed = install(&prefix, TEST_PROFILE, log).is_ok();
        results.push(installed);
        for bytecode in [false, true] {
            results.push(installed && installed_demo_runs(&prefix, bytecode, log)?);
        }
    }
    passed += results.iter().filter(|&&ok| ok).count() as u64;
    failed += results.iter().filter(|&&ok| !ok).count() as u64;
    outcome(passed, failed)
}

/// The test executables: tests/test_*.ml.
fn test_names() -> Result<Vec<String>, String> {
    let dir = project().join("tests");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with("test_") && n.ends_with(".ml"))
        .map(|n| n.trim_end_matches(".ml").to_string())
        .collect();
    names.sort();
    Ok(names)
}

/// Run every test (again, even if dune has them cached) and count the
/// `PASS name` lines.
fn dune_tests(log: &Path) -> Result<(u64, u64), String> {
    let before = std::fs::read_to_string(log).map(|t| t.len()).unwrap_or(0);
    let mut c = Command::new("timeout");
    c.args([TIMEOUT_SECS, "dune", "test", "--force", "--root", "."])
        .current_dir(project())
        .env("NBD_CARGO_PROFILE", TEST_PROFILE)
        // nbd+ssh URIs: the ssh stand-in first on PATH, and its log.
        .env(
            "PATH",
            format!(
                "{}:{}",
                crate::root().join("tests/ssh-stand-in").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env(
            "NBD_TEST_SSH_LOG",
            crate::root().join("target/ocaml-ssh.log"),
        )
        .env(
            "NBD_TEST_HOSTILE",
            crate::root().join("tests/hostile/nbd-hostile-server.py"),
        )
        .env_remove("LIBNBD_DEBUG");
    run_logged(c, log)?;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let output = text.get(before..).unwrap_or("");
    let names = test_names()?;
    let passed = names
        .iter()
        .filter(|n| output.lines().any(|l| l.trim() == format!("PASS {n}")))
        .count() as u64;
    Ok((passed, names.len() as u64 - passed))
}

/// `dune build @install` and `dune install` into `prefix`: the package as
/// opam would install it (lib/nbd, lib/stublibs), its Rust part built
/// with this cargo profile.
pub(crate) fn install(prefix: &Path, profile: &str, log: &Path) -> Result<(), String> {
    if !run_logged(dune(&["build", "@install"], profile), log)? {
        return Err("dune build @install failed".into());
    }
    let mut c = Command::new("dune");
    c.args(["install", "--prefix"])
        .arg(prefix)
        .args(["--root", "."])
        .current_dir(project());
    if !run_logged(c, log)? {
        return Err("dune install failed".into());
    }
    Ok(())
}

/// Compile one OCaml program against the package installed in `prefix`
/// with ocamlfind, in a directory of its own under target/; returns the
/// program and the environment it runs with.
pub(crate) fn compile(
    prefix: &Path,
    source: &Path,
    bytecode: bool,
    log: &Path,
) -> Result<(Command, bool), String> {
    let stem = source
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("prog");
    let dir = root()
        .join("target/ocaml-programs")
        .join(if bytecode { "byte" } else { "native" });
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join(format!("{stem}.ml"));
    std::fs::copy(source, &copy).map_err(|e| format!("{}: {e}", source.display()))?;
    let exe = dir.join(stem);
    let mut c = Command::new("ocamlfind");
    c.arg(if bytecode { "ocamlc" } else { "ocamlopt" })
        .args(["-package", "nbd", "-linkpkg", "-o"])
        .arg(&exe)
        .arg(&copy)
        .current_dir(&dir)
        .env("OCAMLPATH", prefix.join("lib"))
        // ocamlc checks at link time that the stub library can be loaded.
        .env("CAML_LD_LIBRARY_PATH", prefix.join("lib/stublibs"));
    let ok = run_logged(c, log)?;
    let mut run = Command::new(&exe);
    run.env("CAML_LD_LIBRARY_PATH", prefix.join("lib/stublibs"));
    Ok((run, ok))
}

/// The demo, built against the installed package, prints a JSON object
/// whose write-and-read-back pattern is "ok".
fn installed_demo_runs(prefix: &Path, bytecode: bool, log: &Path) -> Result<bool, String> {
    let (mut run, ok) = compile(prefix, &root().join("tests/demo/demo.ml"), bytecode, log)?;
    if !ok {
        return Ok(false);
    }
    let out = run
        .output()
        .map_err(|e| format!("cannot run the OCaml demo: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log)
            .map_err(|e| e.to_string())?;
        let _ = writeln!(
            f,
            "$ demo ({}): {}{}",
            if bytecode { "bytecode" } else { "native" },
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.status.success() && text.contains("\"pattern\": \"ok\""))
}

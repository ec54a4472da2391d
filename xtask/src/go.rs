//! The `go-tests` step of `cargo xtask test`, and the Go toolchain's
//! environment (also used by the demo).
//!
//! The Go package (bindings/go, module `libguestfs.org/libnbd`) builds
//! with cgo against the C library installed into target/c-install, found
//! through its libnbd.pc as libnbd's own package finds libnbd. The tests:
//! `gofmt -l` finds nothing to reformat (the generated files included),
//! `go vet ./...`, every `TestNNN...` of `go test -v ./...` (each one
//! test), and tests/go/aio_copy, a program written as for libnbd's own
//! binding (an aio copy loop with completion callbacks and its own poll
//! loop), built against the package by a `replace` line and run; and the
//! demo's Go program (tests/demo/go) builds.
//!
//! Nothing is fetched: the package has no dependencies, GOPROXY is off,
//! and GOPATH and GOCACHE are under target/.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::deps;
use crate::root;
use crate::step::{append_log, outcome, run_logged, run_status, StepResult};

/// Debian's Go (1.19 on bookworm), and what the tests use.
pub(crate) const PACKAGES: &[&str] = &["golang-go", "pkg-config", "nbdkit", "libssl-dev"];

/// How long `go test` may take (it panics the test binary after that).
const TEST_TIMEOUT: &str = "-timeout=600s";

pub(crate) fn package_dir() -> PathBuf {
    root().join("bindings/go")
}

/// The library the package links: where the C tests install it.
pub(crate) fn prefix() -> PathBuf {
    crate::ctests::prefix()
}

/// A Go command in `dir`, building against our installed library and
/// fetching nothing.
pub(crate) fn go(dir: &Path, args: &[&str]) -> Command {
    let t = root().join("target");
    let mut c = Command::new("go");
    c.args(args)
        .current_dir(dir)
        .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig"))
        .env("LD_LIBRARY_PATH", prefix().join("lib"))
        .env("GOPATH", t.join("go-path"))
        .env("GOCACHE", t.join("go-cache"))
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GO111MODULE", "on")
        .env("CGO_ENABLED", "1")
        // nbd+ssh URIs: the ssh stand-in first on PATH, and its log; the
        // hostile server's script.
        .env(
            "PATH",
            format!(
                "{}:{}",
                root().join("tests/ssh-stand-in").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("NBD_TEST_SSH_LOG", t.join("go-ssh.log"))
        .env(
            "NBD_TEST_HOSTILE",
            root().join("tests/hostile/nbd-hostile-server.py"),
        )
        .env_remove("LIBNBD_DEBUG");
    c
}

/// Install the C library into target/c-install (a build that is already
/// there costs only the copy).
pub(crate) fn install_library(log: &Path) -> Result<(), String> {
    crate::ctests::install(log)
}

pub(crate) fn tests(log: &Path) -> StepResult {
    deps::ensure_packages(PACKAGES)?;
    install_library(log)?;
    let dir = package_dir();
    // The single tests' results; go test's are counted from its output.
    let mut results: Vec<bool> = Vec::new();

    // gofmt: the package (generated files too) and the programs.
    let mut fmt = Command::new("gofmt");
    fmt.args(["-l", "bindings/go", "tests/go", "tests/demo/go"])
        .current_dir(root());
    let unformatted = fmt.output().map_err(|e| format!("cannot run gofmt: {e}"))?;
    let listed = String::from_utf8_lossy(&unformatted.stdout)
        .trim()
        .to_string();
    append_log(
        log,
        &format!("$ gofmt -l bindings/go tests/go tests/demo/go\n{listed}"),
    );
    results.push(unformatted.status.success() && listed.is_empty());

    results.push(run_logged(go(&dir, &["vet", "./..."]), log)?);

    // go test: each TestXxx is one test. The servers' messages share the
    // output and may split a line, so the tests are listed first; a run
    // that succeeds passed them all, and a failed one failed those named
    // on `--- FAIL` lines (at least one).
    let listed = go(&dir, &["test", "-list", "^Test", "."])
        .output()
        .map_err(|e| format!("cannot run go test -list: {e}"))?;
    let names = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| l.starts_with("Test"))
        .count() as u64;
    append_log(log, &format!("$ go test -list ^Test .: {names} tests"));
    let before = std::fs::read_to_string(log).map(|t| t.len()).unwrap_or(0);
    let status = run_status(
        go(&dir, &["test", "-count=1", "-v", TEST_TIMEOUT, "./..."]),
        log,
    )?;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let output = text.get(before..).unwrap_or("");
    let failing = output.matches("--- FAIL: Test").count() as u64;
    let (ok, bad) = if status == Some(0) && listed.status.success() && names > 0 {
        (names, 0)
    } else {
        // It did not build, was killed, or failed tests.
        let bad = failing.max(1);
        (names.saturating_sub(bad), bad)
    };

    // The program written for libnbd's binding, unchanged.
    let example = root().join("tests/go/aio_copy");
    let exe = root().join("target/go-aio-copy");
    let built = run_logged(
        go(&example, &["build", "-o", &exe.to_string_lossy(), "."]),
        log,
    )?;
    let ran = built && {
        let mut run = Command::new("timeout");
        run.args(["120"])
            .arg(&exe)
            .env("LD_LIBRARY_PATH", prefix().join("lib"));
        run_logged(run, log)?
    };
    results.push(ran);

    // The demo's Go program builds (`cargo xtask demo` runs it).
    let demo = root().join("target/demo-go");
    results.push(run_logged(
        go(
            &root().join("tests/demo/go"),
            &["build", "-o", &demo.to_string_lossy(), "."],
        ),
        log,
    )?);
    let passed = ok + results.iter().filter(|&&r| r).count() as u64;
    let failed = bad + results.iter().filter(|&&r| !r).count() as u64;
    outcome(passed, failed)
}

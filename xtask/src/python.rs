//! The `python-tests` step of `cargo xtask test`: install the Python
//! package with pip into a venv under target/, run its pytest suite, then
//! run the same suite against Debian's python3-libnbd (libnbd 1.14's
//! module) with /usr/bin/python3, so both modules are seen to behave the
//! same, and once more with Debian's module loading our libnbd.so.0 (its
//! aio paths free their buffers in the closures' free functions). Tests of
//! what libnbd 1.14 lacks skip themselves there.

use std::path::Path;
use std::process::Command;

use crate::deps;
use crate::root;
use crate::step::{outcome, run_logged, StepResult};

/// Debian packages the suite uses: the servers, and the reference module
/// with a pytest for /usr/bin/python3.
const PACKAGES: &[&str] = &["nbdkit", "qemu-utils", "python3-libnbd", "python3-pytest"];

/// The interpreter of the reference module.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

pub(crate) fn tests(log: &Path) -> StepResult {
    deps::ensure_packages(PACKAGES)?;
    let root = root();
    let venv = root.join("target/python-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let mut c = Command::new("python3");
        c.args(["-m", "venv"]).arg(&venv);
        if !run_logged(c, log)? {
            return Err("python3 -m venv failed".into());
        }
    }
    let pip = |args: &[&str]| {
        let mut c = Command::new(&python);
        c.args(["-m", "pip", "install", "-q"]).args(args);
        c
    };
    if !run_logged(pip(&["pytest"]), log)? {
        return Err("pip install pytest failed".into());
    }
    // Always rebuild: the version does not change with the sources.
    let package = root.join("bindings/python");
    let mut install = pip(&["--force-reinstall", "--no-deps"]);
    install.arg(&package);
    if !run_logged(install, log)? {
        return Err("pip install ./bindings/python failed".into());
    }

    let (mut passed, mut failed) = pytest(&python, log, None)?;
    if Path::new(SYSTEM_PYTHON).exists() {
        let (p, f) = pytest(Path::new(SYSTEM_PYTHON), log, None)?;
        passed += p;
        failed += f;
        // Debian's module (a C extension over libnbd.so.0) on our C
        // library: it releases its buffers in the closures' free
        // functions, so its aio paths check our closure lifetimes.
        let prefix = root.join("target/c-install");
        let mut install = crate::step::cmd_cargo(&["xtask", "install", "--prefix"]);
        install.arg(&prefix);
        if !run_logged(install, log)? {
            return Err("cargo xtask install failed".into());
        }
        let (p, f) = pytest(Path::new(SYSTEM_PYTHON), log, Some(&prefix.join("lib")))?;
        passed += p;
        failed += f;
    }
    outcome(passed, failed)
}

/// Run the suite with one interpreter; count pytest's passed and failed
/// (errors count as failed, and a run that ends without a summary as one
/// failure).
fn pytest(python: &Path, log: &Path, libdir: Option<&Path>) -> Result<(u64, u64), String> {
    let before = std::fs::read_to_string(log).map(|t| t.len()).unwrap_or(0);
    let mut c = Command::new(python);
    c.args([
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rs",
        "tests",
    ])
    .current_dir(root().join("bindings/python"))
    .env("PYTHONDONTWRITEBYTECODE", "1")
    .env_remove("LIBNBD_DEBUG");
    match libdir {
        Some(dir) => c.env("LD_LIBRARY_PATH", dir).env("NBD_TEST_LIBDIR", dir),
        None => c.env_remove("LD_LIBRARY_PATH"),
    };
    let ok = run_logged(c, log)?;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let (passed, failed) = summary(text.get(before..).unwrap_or(""));
    if !ok && failed == 0 {
        return Ok((passed, 1));
    }
    Ok((passed, failed))
}

/// Counts from pytest's last line, "3 failed, 137 passed, 23 skipped in 44.56s".
fn summary(output: &str) -> (u64, u64) {
    let Some(line) = output
        .lines()
        .rev()
        .find(|l| l.contains(" passed") || l.contains(" failed"))
    else {
        return (0, 0);
    };
    let (mut passed, mut failed) = (0, 0);
    let words: Vec<&str> = line
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    for pair in words.windows(2) {
        let Ok(n) = pair[0].parse::<u64>() else {
            continue;
        };
        match pair[1] {
            "passed" => passed += n,
            "failed" | "error" | "errors" => failed += n,
            _ => {}
        }
    }
    (passed, failed)
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn pytest_summaries() {
        assert_eq!(summary("...\n164 passed in 45.42s\n"), (164, 0));
        assert_eq!(
            summary("3 failed, 137 passed, 23 skipped in 44.56s"),
            (137, 3)
        );
        assert_eq!(summary("= 1 failed, 2 passed, 1 error in 3.00s ="), (2, 2));
        assert_eq!(summary("no summary"), (0, 0));
    }
}

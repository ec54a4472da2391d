//! The `node-tests` step of `cargo xtask test`, and the Node.js part of
//! `cargo xtask demo`: build the napi addon (crate `nbd-node`, a workspace
//! member built by plain cargo), copy it into the package as `nbd.node`,
//! install the package's development dependencies (TypeScript) with npm
//! when they are missing, then run the `node --test` suites, counting
//! their results, and `tsc --noEmit` over the TypeScript example.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::deps;
use crate::root;
use crate::step::{append_log, cmd_cargo, outcome, run_logged, StepResult};

/// How long one test may run.
const TEST_TIMEOUT_MS: &str = "--test-timeout=120000";

/// The package directory.
pub(crate) fn package_dir() -> PathBuf {
    root().join("bindings/node")
}

fn have_node() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("npm")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Build the addon (`release` or debug) and put it in the package.
pub(crate) fn build_addon(release: bool, log: &Path) -> Result<(), String> {
    if !have_node() {
        deps::ensure_packages(&["nodejs", "npm"])?;
    }
    let mut args = vec!["build", "-p", "nbd-node"];
    if release {
        args.push("--release");
    }
    if !run_logged(cmd_cargo(&args), log)? {
        return Err("cargo build -p nbd-node failed".into());
    }
    let built = root()
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join("libnbd_node.so");
    let dest = package_dir().join("nbd.node");
    // Replace rather than overwrite: a running node may have the old
    // file mapped.
    let _ = std::fs::remove_file(&dest);
    std::fs::copy(&built, &dest)
        .map_err(|e| format!("copy {} to {}: {e}", built.display(), dest.display()))?;
    Ok(())
}

/// `npm install` in the package when TypeScript is not there yet.
fn npm_install(log: &Path) -> Result<(), String> {
    let dir = package_dir();
    if dir.join("node_modules/.bin/tsc").exists() && dir.join("node_modules/@types/node").exists() {
        return Ok(());
    }
    let mut c = Command::new("npm");
    c.args(["install", "--no-audit", "--no-fund"])
        .current_dir(&dir);
    if !run_logged(c, log)? {
        return Err("npm install failed".into());
    }
    Ok(())
}

pub(crate) fn tests(log: &Path) -> StepResult {
    deps::ensure_packages(&["nbdkit"])?;
    // Debug: the cargo-build step has built it already.
    build_addon(false, log)?;
    npm_install(log)?;
    let dir = package_dir();

    let before = std::fs::read_to_string(log).map(|t| t.len()).unwrap_or(0);
    let mut c = Command::new("node");
    // Every test is bounded in time: a hung one fails (as cancelled)
    // instead of holding the step.
    c.args(["--test", TEST_TIMEOUT_MS, "--test-reporter=tap", "tests/"])
        .current_dir(&dir)
        .env_remove("LIBNBD_DEBUG");
    let ok = run_logged(c, log)?;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let (mut passed, mut failed) = tap_summary(text.get(before..).unwrap_or(""));
    if !ok && failed == 0 {
        failed += 1; // node failed outside any test
    }

    let mut tsc = Command::new(dir.join("node_modules/.bin/tsc"));
    tsc.args(["-p", "tests/tsconfig.json"]).current_dir(&dir);
    if run_logged(tsc, log)? {
        passed += 1;
    } else {
        failed += 1;
    }

    // Installed from the checkout into a new project, the package builds
    // its addon itself (and says what is missing when it cannot).
    let (p, f) = consumer_install(log)?;
    passed += p;
    failed += f;

    // The package as npm would publish it must hold the addon and the types.
    let mut pack = Command::new("npm");
    pack.args(["pack", "--dry-run", "--json"]).current_dir(&dir);
    let packed = pack.output().map_err(|e| format!("cannot run npm: {e}"))?;
    let listing = String::from_utf8_lossy(&packed.stdout);
    if packed.status.success()
        && ["nbd.node", "index.js", "index.d.ts", "install.js"]
            .iter()
            .all(|f| listing.contains(&format!("\"{f}\"")))
    {
        passed += 1;
    } else {
        std::fs::write(log.with_extension("pack.log"), listing.as_bytes()).ok();
        failed += 1;
    }
    outcome(passed, failed)
}

/// `npm install ./bindings/node` in a new project builds the addon from
/// the checkout (the package's install script), and the script says what
/// is missing when it cannot build. Returns (passed, failed).
fn consumer_install(log: &Path) -> Result<(u64, u64), String> {
    let dir = package_dir();
    let addon = dir.join("nbd.node");
    let (mut passed, mut failed) = (0, 0);
    // Without the addon, and without cargo or a C compiler: a clear error.
    let _ = std::fs::remove_file(&addon);
    for (var, want) in [("CARGO", "needs cargo"), ("CC", "needs a C compiler")] {
        let mut c = Command::new("node");
        c.arg("install.js")
            .current_dir(&dir)
            .env(var, "/nonexistent/tool");
        let out = c.output().map_err(|e| format!("cannot run node: {e}"))?;
        let text = String::from_utf8_lossy(&out.stderr);
        append_log(
            log,
            &format!("$ {var}=/nonexistent/tool node install.js\n{text}"),
        );
        if !out.status.success() && text.contains(want) {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    // A new project installs the package from the checkout: the install
    // script builds the addon (a debug build, already made by the
    // cargo-build step) and the package works.
    let project = root().join("target/node-consumer");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&project).map_err(|e| format!("{}: {e}", project.display()))?;
    std::fs::write(
        project.join("package.json"),
        "{\"name\": \"consumer\", \"version\": \"1.0.0\", \"private\": true}\n",
    )
    .map_err(|e| e.to_string())?;
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--foreground-scripts"])
        .arg(&dir)
        .current_dir(&project)
        .env("NBD_NODE_PROFILE", "debug");
    let installed = run_logged(npm, log)?;
    let mut use_it = Command::new("node");
    use_it
        .args(["-e", "const n = require('libnbd'); const h = new n.NBD(); \
                      if (!(h.getHandleSize() > 0)) throw new Error('no size'); h.close(); console.log('ok')"])
        .current_dir(&project);
    if installed && run_logged(use_it, log)? && addon.exists() {
        passed += 1;
    } else {
        failed += 1;
    }
    Ok((passed, failed))
}

/// Counts from node's TAP summary: the last `# pass N` and `# fail N`.
fn tap_summary(output: &str) -> (u64, u64) {
    let count = |key: &str| {
        output
            .lines()
            .rev()
            .find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    (count("# pass "), count("# fail ") + count("# cancelled "))
}

#[cfg(test)]
mod tests {
    use super::tap_summary;

    #[test]
    fn tap_summaries() {
        assert_eq!(
            tap_summary("ok 1 - a\n# tests 3\n# pass 2\n# fail 1\n# cancelled 0\n"),
            (2, 1)
        );
        assert_eq!(tap_summary("# pass 59\n# fail 0\n# cancelled 1\n"), (59, 1));
        assert_eq!(tap_summary("nothing"), (0, 0));
    }
}

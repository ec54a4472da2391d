//! The C library's test steps.
//!
//! `c-tests`: install the library into target/c-install, check the
//! installed layout (pkg-config, man), then compile every tests/c/*.c
//! through `pkg-config --cflags --libs libnbd` and run it under valgrind
//! (`--leak-check=full --errors-for-leak-kinds=definite,possible
//! --error-exitcode=99`, no suppressions); each program is one test.
//!
//! `c-dropin`: run Debian's own libnbd programs (nbdinfo, nbdcopy,
//! nbdsh) on our library, one script per check under tests/dropin/.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::root;
use crate::step::{append_log, outcome, run_logged, run_status, StepResult};

/// Seconds one test program may run (under valgrind) before it fails.
const TIMEOUT_SECS: &str = "900";

/// Where the C test steps (and the Go package's tests) install the library.
pub(crate) fn prefix() -> PathBuf {
    root().join("target/c-install")
}

/// Build and install, with the build's output in the step log.
pub(crate) fn install(log: &Path) -> Result<(), String> {
    let mut cmd = crate::step::cmd_cargo(&["xtask", "install", "--prefix"]);
    cmd.arg(prefix());
    if run_logged(cmd, log)? {
        Ok(())
    } else {
        Err("cargo xtask install failed".into())
    }
}

fn pkg_config(args: &[&str]) -> Result<String, String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libnbd")
        .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig"))
        .output()
        .map_err(|e| format!("cannot run pkg-config: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pkg-config {args:?} libnbd: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Files in `dir` with extension `ext`, sorted (their numbers order them).
fn sources(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    Ok(v)
}

/// A file's name without its extension (a test program's name).
fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `cc` compiling the test program `src` into `exe`, every warning an
/// error; `extra` flags go before `-o`.
fn compile_command(extra: &[&str], exe: &Path, src: &Path) -> Command {
    let mut cc = Command::new("cc");
    cc.args(["-std=gnu11", "-g", "-O1", "-Wall", "-Wextra", "-Werror"])
        .args(extra)
        .arg("-o")
        .arg(exe)
        .arg(src);
    cc
}

/// Link a test program against our installed library (`flags` from
/// pkg-config), found again at run time in `libdir`.
fn link_ours(cc: &mut Command, flags: &str, libdir: &str) {
    cc.args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{libdir}"));
}

/// pkg-config finds the installed tree, and `man` finds our pages there.
fn check_layout(log: &Path) -> Result<bool, String> {
    let libdir = pkg_config(&["--variable=libdir"])?;
    let version = pkg_config(&["--modversion"])?;
    let p = prefix();
    let mut ok = libdir == p.join("lib").display().to_string() && version.starts_with("1.");
    for f in [
        "lib/libnbd.so.0",
        "lib/libnbd.so",
        "lib/libnbd.a",
        "include/libnbd.h",
        "share/man/man3/nbd_pread.3",
        "share/man/man1/nbdsh.1",
    ] {
        if !p.join(f).exists() {
            append_log(log, &format!("layout: {f} is missing"));
            ok = false;
        }
    }
    let mut man = Command::new("man");
    man.args(["-w", "nbd_pread"])
        .env("MANPATH", p.join("share/man"));
    let found = man
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if !found.starts_with(&p.display().to_string()) {
        append_log(
            log,
            &format!("layout: `man -w nbd_pread` with MANPATH found {found:?}"),
        );
        ok = false;
    }
    append_log(
        log,
        &format!(
            "layout: libdir {libdir}, version {version}, man page {found}: {}",
            if ok { "ok" } else { "FAILED" }
        ),
    );
    Ok(ok)
}

pub fn c_tests(log: &Path) -> StepResult {
    install(log)?;
    let (mut passed, mut failed) = (0, 0);
    if check_layout(log)? {
        passed += 1;
    } else {
        failed += 1;
    }
    let flags = pkg_config(&["--cflags", "--libs"])?;
    let libdir = pkg_config(&["--variable=libdir"])?;
    let out_dir = root().join("target/c-tests");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let valgrind = std::env::var_os("NBD_TEST_NO_VALGRIND").is_none();
    for src in sources(&root().join("tests/c"), "c")? {
        let name = stem(&src);
        let exe = out_dir.join(&name);
        let mut cc = compile_command(&["-pthread"], &exe, &src);
        link_ours(&mut cc, &flags, &libdir);
        if !run_logged(cc, log)? {
            append_log(log, &format!("{name}: FAILED to compile"));
            failed += 1;
            continue;
        }
        let mut run = Command::new("timeout");
        run.arg(TIMEOUT_SECS);
        if valgrind {
            // No suppressions: every definite or possible leak fails.
            run.args([
                "valgrind",
                "--quiet",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,possible",
                "--error-exitcode=99",
                "--track-fds=no",
            ]);
        }
        // NBD_LIBDIR: each program checks in /proc/self/maps that it
        // loaded the library from there.
        run.arg(&exe)
            .env("LD_LIBRARY_PATH", &libdir)
            .env("NBD_LIBDIR", &libdir)
            .env(
                "NBD_TEST_HOSTILE",
                root().join("tests/hostile/nbd-hostile-server.py"),
            )
            .env_remove("LIBNBD_DEBUG");
        if run_logged(run, log)? {
            passed += 1;
        } else {
            append_log(log, &format!("{name}: FAILED"));
            failed += 1;
        }
    }
    outcome(passed, failed)
}

pub fn c_dropin(log: &Path) -> StepResult {
    install(log)?;
    let (mut passed, mut failed) = (0, 0);
    let libdir = prefix().join("lib");
    // Debian's nbdsh runs the system python3, whose nbd module we replace
    // the library of; put /usr/bin first in case another python3 leads.
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    for script in sources(&root().join("tests/dropin"), "sh")? {
        let name = stem(&script);
        let mut run = Command::new("timeout");
        run.arg(TIMEOUT_SECS)
            .arg("bash")
            .arg(&script)
            .env("NBD_LIBDIR", &libdir)
            .env("PATH", &path)
            .env_remove("LIBNBD_DEBUG")
            .current_dir(root());
        match run_status(run, log)? {
            Some(0) => passed += 1,
            Some(SKIPPED) => append_log(log, &format!("{name}: skipped")),
            _ => {
                append_log(log, &format!("{name}: FAILED"));
                failed += 1;
            }
        }
    }
    outcome(passed, failed)
}

/// The exit status a drop-in script uses when the machine lacks what it
/// needs (as automake's test driver does); it counts as neither.
const SKIPPED: i32 = 77;

/// `c-diff`: every tests/diff/*.c program is compiled against Debian's
/// libnbd (the system libnbd.h and libnbd.so.0) and against ours, both
/// run, and their traces (return values, errno names, callback and free
/// order) must be identical. Each program is one test.
pub fn c_diff(log: &Path) -> StepResult {
    install(log)?;
    let (mut passed, mut failed) = (0, 0);
    let flags = pkg_config(&["--cflags", "--libs"])?;
    let libdir = pkg_config(&["--variable=libdir"])?;
    let out_dir = root().join("target/c-diff");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    for src in sources(&root().join("tests/diff"), "c")? {
        let name = stem(&src);
        let mut traces = Vec::new();
        for which in ["libnbd", "ours"] {
            let exe = out_dir.join(format!("{name}-{which}"));
            let mut cc = compile_command(&[], &exe, &src);
            if which == "ours" {
                link_ours(&mut cc, &flags, &libdir);
            } else {
                cc.arg("-lnbd");
            }
            if !run_logged(cc, log)? {
                append_log(log, &format!("{name}: FAILED to compile against {which}"));
                traces.clear();
                break;
            }
            let mut run = Command::new("timeout");
            run.arg("120").arg(&exe).env_remove("LIBNBD_DEBUG").env(
                "NBD_TEST_HOSTILE",
                root().join("tests/hostile/nbd-hostile-server.py"),
            );
            if which == "ours" {
                run.env("LD_LIBRARY_PATH", &libdir);
            } else {
                run.env_remove("LD_LIBRARY_PATH");
            }
            append_log(log, &format!("$ {run:?}"));
            let out = run
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
            append_log(log, &String::from_utf8_lossy(&out.stderr));
            let trace = String::from_utf8_lossy(&out.stdout).into_owned();
            if !out.status.success() {
                append_log(
                    log,
                    &format!("{name} on {which} exited with {}:\n{trace}", out.status),
                );
                traces.clear();
                break;
            }
            traces.push(trace);
        }
        match traces.as_slice() {
            [theirs, ours] if theirs == ours => {
                append_log(
                    log,
                    &format!("{name}: same trace ({} lines)", ours.lines().count()),
                );
                passed += 1;
            }
            [theirs, ours] => {
                append_log(log, &format!("{name}: FAILED, the traces differ"));
                append_log(log, &trace_diff(theirs, ours));
                failed += 1;
            }
            _ => failed += 1,
        }
    }
    outcome(passed, failed)
}

/// The two traces side by side from the first differing line.
fn trace_diff(theirs: &str, ours: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (theirs.lines().collect(), ours.lines().collect());
    let first = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = format!("first difference at line {}:\n", first + 1);
    for i in first..a.len().max(b.len()).min(first + 20) {
        out.push_str(&format!(
            "  libnbd: {}\n  ours:   {}\n",
            a.get(i).unwrap_or(&"<end>"),
            b.get(i).unwrap_or(&"<end>")
        ));
    }
    out
}

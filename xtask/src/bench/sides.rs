//! Building the programs of each side: bench.c against Debian's libnbd and
//! against ours, the Rust harness (one program, two sides: `Handle` and,
//! with `--async`, `AsyncHandle`), bench.py under each module, the floor.
//! A side that cannot be built carries the reason instead of a program,
//! and its column says so.

use std::path::Path;
use std::process::Command;

use crate::root;
use crate::step::{cmd_cargo, run_logged};

/// The sides compared in every row.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    /// Debian's libnbd: bench.c linked to it, or python3-libnbd.
    Libnbd,
    /// Ours: bench.c linked to our libnbd.so.0, or our Python module.
    Ours,
    /// Ours through the Rust API (C workloads only).
    Rust,
    /// Ours through the Rust tokio API, `AsyncHandle` (the C workloads
    /// marked `rust_async`).
    RustAsync,
}

impl Side {
    pub fn key(self) -> &'static str {
        match self {
            Side::Libnbd => "libnbd",
            Side::Ours => "ours",
            Side::Rust => "rust",
            Side::RustAsync => "rust-async",
        }
    }
}

/// A program ready to run one workload: `argv WORKLOAD URI AMOUNT`.
#[derive(Clone, Debug)]
pub struct Program {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The library path the program reports must contain this ...
    pub lib_must_contain: Option<String>,
    /// ... and must not contain this: a program that loaded the other
    /// side's library would otherwise produce plausible, wrong numbers.
    pub lib_must_not_contain: Option<String>,
}

/// A side's program, or why it was not built; the empty reason is
/// [`NOT_APPLICABLE`].
pub type Built = Result<Program, String>;

pub struct Programs {
    pub c_libnbd: Built,
    pub c_ours: Built,
    pub rust: Built,
    pub rust_async: Built,
    pub py_libnbd: Built,
    pub py_ours: Built,
    pub fio_libnbd: Built,
    pub fio_ours: Built,
    pub floor: Built,
}

impl Programs {
    /// The program of `side` for workload `w`; `Err("")` when the side
    /// does not run it (its cells show "—").
    pub fn get(&self, w: &super::plan::Workload, side: Side) -> &Built {
        use super::plan::Lang;
        match (w.lang, side) {
            (Lang::C, Side::Libnbd) => &self.c_libnbd,
            (Lang::C, Side::Ours) => &self.c_ours,
            (Lang::C, Side::Rust) => &self.rust,
            (Lang::C, Side::RustAsync) if w.rust_async => &self.rust_async,
            (Lang::C, Side::RustAsync) => &NOT_APPLICABLE,
            (Lang::Python, Side::Libnbd) => &self.py_libnbd,
            (Lang::Python, Side::Ours) => &self.py_ours,
            (Lang::Python, Side::Rust | Side::RustAsync) => &NOT_APPLICABLE,
            (Lang::Fio, Side::Libnbd) => &self.fio_libnbd,
            (Lang::Fio, Side::Ours) => &self.fio_ours,
            (Lang::Fio, Side::Rust | Side::RustAsync) => &NOT_APPLICABLE,
        }
    }
}

/// A side that does not run a workload at all.
pub static NOT_APPLICABLE: Built = Err(String::new());

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The last meaningful line a failed build left in its log.
fn last_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with("error") || l.starts_with("xtask:") || l.contains("error:"))
        .or_else(|| text.lines().rev().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("failed");
    format!("{line} (log: {})", log.display())
}

fn cc(out: &Path, source: &Path, flags: &[String], log: &Path) -> Result<(), String> {
    let mut c = Command::new("cc");
    c.args(["-O2", "-g", "-Wall", "-o"])
        .arg(out)
        .arg(source)
        .args(flags);
    if run_logged(c, log)? {
        Ok(())
    } else {
        Err(last_error(log))
    }
}

fn pkg_config(libdir: Option<&Path>) -> Result<Vec<String>, String> {
    let mut c = Command::new("pkg-config");
    c.args(["--cflags", "--libs", "libnbd"]);
    if let Some(d) = libdir {
        // Only our .pc file: never fall back to the system's.
        c.env("PKG_CONFIG_LIBDIR", d);
    }
    Ok(stdout_of(c, "pkg-config", "pkg-config")?
        .split_whitespace()
        .map(String::from)
        .collect())
}

/// What a command that must succeed prints: an error names `program`
/// when it cannot run and `what` with its stderr when it fails.
fn stdout_of(mut cmd: Command, program: &str, what: &str) -> Result<String, String> {
    let o = cmd
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

pub fn build(dir: &Path, logs: &Path, step: &dyn Fn(&str)) -> Programs {
    let bin = dir.join("bin");
    let _ = std::fs::create_dir_all(&bin);
    let bench_c = root().join("bench/c/bench.c");
    let ours_prefix = dir.join("ours");

    step("building bench/c/bench.c against Debian's libnbd");
    let c_libnbd = (|| {
        let exe = bin.join("bench-libnbd");
        let mut flags = pkg_config(None)?;
        flags.push("-lpthread".into());
        cc(&exe, &bench_c, &flags, &logs.join("build-c-libnbd.log"))?;
        Ok(Program {
            argv: vec![s(&exe)],
            env: vec![],
            lib_must_contain: Some("libnbd.so".into()),
            lib_must_not_contain: Some(s(&root())),
        })
    })();

    step("building our libnbd.so.0 (cargo xtask install) and bench.c against it");
    let c_ours = (|| {
        let log = logs.join("build-c-ours.log");
        let _ = std::fs::remove_file(&log);
        if !root().join("bindings/c/Cargo.toml").exists() {
            return Err("the C library (bindings/c) does not exist yet".to_string());
        }
        let install = cmd_cargo(&["xtask", "install", "--prefix", &s(&ours_prefix)]);
        if !run_logged(install, &log)? {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("unknown command `install`") {
                return Err("`cargo xtask install` does not exist yet".into());
            }
            return Err(last_error(&log));
        }
        let libdir = ours_prefix.join("lib");
        if !libdir.join("libnbd.so.0").exists() {
            return Err(format!(
                "`cargo xtask install` made no {}",
                libdir.join("libnbd.so.0").display()
            ));
        }
        let mut flags = pkg_config(Some(&libdir.join("pkgconfig"))).unwrap_or_else(|_| {
            vec![
                format!("-I{}", s(&ours_prefix.join("include"))),
                format!("-L{}", s(&libdir)),
                "-lnbd".into(),
            ]
        });
        flags.push(format!("-Wl,-rpath,{}", s(&libdir)));
        flags.push("-lpthread".into());
        let exe = bin.join("bench-ours");
        cc(&exe, &bench_c, &flags, &log)?;
        Ok(Program {
            argv: vec![s(&exe)],
            env: vec![("LD_LIBRARY_PATH".into(), s(&libdir))],
            lib_must_contain: Some(s(&libdir)),
            lib_must_not_contain: None,
        })
    })();

    step("building the Rust harness (cargo build --release -p nbd-bench), both Rust sides");
    let rust = (|| {
        let log = logs.join("build-rust.log");
        let _ = std::fs::remove_file(&log);
        if !run_logged(cmd_cargo(&["build", "--release", "-p", "nbd-bench"]), &log)? {
            return Err(last_error(&log));
        }
        Ok(Program {
            argv: vec![s(&root().join("target/release/nbd-bench"))],
            env: vec![],
            lib_must_contain: None,
            lib_must_not_contain: None,
        })
    })();
    // The same program: `--async` before the workload runs it through
    // AsyncHandle.
    let rust_async = rust.clone().map(|mut p| {
        p.argv.push("--async".into());
        p
    });

    let bench_py = s(&root().join("bench/python/bench.py"));
    step("checking python3-libnbd under /usr/bin/python3");
    let py_libnbd = (|| {
        let mut c = Command::new("/usr/bin/python3");
        c.args(["-c", "import nbd; print(nbd.__file__)"]);
        stdout_of(c, "/usr/bin/python3", "python3-libnbd")?;
        Ok(Program {
            argv: vec!["/usr/bin/python3".into(), bench_py.clone()],
            env: vec![],
            lib_must_contain: Some("/usr/lib/python3".into()),
            lib_must_not_contain: None,
        })
    })();

    step("installing our Python module into target/bench/venv (pip install ./bindings/python)");
    let py_ours = (|| {
        let log = logs.join("build-python-ours.log");
        let _ = std::fs::remove_file(&log);
        if !root().join("bindings/python/pyproject.toml").exists() {
            return Err("bindings/python has no pyproject.toml yet".to_string());
        }
        let venv = dir.join("venv");
        let py = venv.join("bin/python");
        if !py.exists() {
            let mut c = Command::new("/usr/bin/python3");
            c.args(["-m", "venv"]).arg(&venv);
            if !run_logged(c, &log)? {
                return Err(last_error(&log));
            }
        }
        let mut pip = Command::new(&py);
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(root().join("bindings/python"));
        if !run_logged(pip, &log)? {
            return Err(last_error(&log));
        }
        Ok(Program {
            argv: vec![s(&py), bench_py.clone()],
            env: vec![],
            lib_must_contain: Some(s(&venv)),
            lib_must_not_contain: None,
        })
    })();

    step("checking Debian's fio (its nbd engine links libnbd.so.0)");
    let fio_bench = s(&root().join("bench/fio/fio_bench.py"));
    let fio_libnbd = (|| {
        let mut version = Command::new("fio");
        version.arg("--version");
        stdout_of(version, "fio", "fio")?;
        Ok(Program {
            argv: vec!["/usr/bin/python3".into(), fio_bench.clone()],
            env: vec![],
            lib_must_contain: Some("libnbd.so".into()),
            lib_must_not_contain: Some(s(&root())),
        })
    })();
    // The same fio on our library, as any program linked to libnbd runs
    // on it: through the loader's search path.
    let fio_ours = match (&fio_libnbd, &c_ours) {
        (Ok(p), Ok(ours)) => {
            let libdir = ours_prefix.join("lib");
            Ok(Program {
                argv: p.argv.clone(),
                env: ours.env.clone(),
                lib_must_contain: Some(s(&libdir)),
                lib_must_not_contain: None,
            })
        }
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
    };

    step("building bench/floor.c");
    let floor = (|| {
        let exe = bin.join("floor");
        cc(
            &exe,
            &root().join("bench/floor.c"),
            &[],
            &logs.join("build-floor.log"),
        )?;
        Ok(Program {
            argv: vec![s(&exe)],
            env: vec![],
            lib_must_contain: None,
            lib_must_not_contain: None,
        })
    })();

    Programs {
        c_libnbd,
        c_ours,
        rust,
        rust_async,
        py_libnbd,
        py_ours,
        fio_libnbd,
        fio_ours,
        floor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::plan::WORKLOADS;

    #[test]
    fn the_async_side_runs_the_c_workloads_but_the_aio_one() {
        let prog = |argv: &[&str]| -> Built {
            Ok(Program {
                argv: argv.iter().map(|s| s.to_string()).collect(),
                env: vec![],
                lib_must_contain: None,
                lib_must_not_contain: None,
            })
        };
        let programs = Programs {
            c_libnbd: prog(&["bench-libnbd"]),
            c_ours: prog(&["bench-ours"]),
            rust: prog(&["nbd-bench"]),
            rust_async: prog(&["nbd-bench", "--async"]),
            py_libnbd: prog(&["python3", "bench.py"]),
            py_ours: prog(&["venv/python", "bench.py"]),
            fio_libnbd: prog(&["python3", "fio_bench.py"]),
            fio_ours: prog(&["python3", "fio_bench.py", "ours"]),
            floor: prog(&["floor"]),
        };
        let argv = |arg: &str, side: Side| {
            let w = WORKLOADS.iter().find(|w| w.arg == arg).expect(arg);
            programs
                .get(w, side)
                .as_ref()
                .map(|p| p.argv.join(" "))
                .map_err(Clone::clone)
        };
        for arg in [
            "seq-read",
            "rand-read-qd1",
            "rand-read-qd64",
            "seq-write",
            "multi-conn-read",
            "one-handle-seq-read",
            "one-handle-rand-read",
        ] {
            assert_eq!(argv(arg, Side::RustAsync), Ok("nbd-bench --async".into()));
            assert_eq!(argv(arg, Side::Rust), Ok("nbd-bench".into()));
        }
        for arg in [
            "rand-read-qd1-aio",
            "multi-conn-rand-read",
            "py-pread-qd1",
            "py-aio-read",
        ] {
            assert_eq!(argv(arg, Side::RustAsync), Err(String::new()), "{arg}");
        }
        assert_eq!(
            argv("rand-read-qd1-aio", Side::Rust),
            Ok("nbd-bench".into())
        );
        assert_eq!(
            argv("py-aio-read", Side::Ours),
            Ok("venv/python bench.py".into())
        );
        assert_eq!(
            argv("fio-randread-qd64", Side::Ours),
            Ok("python3 fio_bench.py ours".into())
        );
        assert_eq!(argv("fio-randread-qd64", Side::Rust), Err(String::new()));
    }
}

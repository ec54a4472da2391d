//! `cargo xtask fuzz [--seconds N] [--runs N] [TARGET...]`: build the
//! fuzz targets of `fuzz/` with libFuzzer's coverage instrumentation and
//! run each one, starting from its committed seed corpus
//! (`fuzz/corpus/TARGET`, read only) and a working corpus under
//! `target/fuzz/corpus/TARGET`. A crash leaves its input in
//! `target/fuzz/artifacts/TARGET/` and fails the run. The `fuzz` step of
//! `cargo xtask test` runs every target for about 20 seconds.
//!
//! The instrumentation needs no nightly: `-Cpasses=sancov-module` and the
//! `-sanitizer-coverage-*` LLVM options are stable rustc flags, and the
//! RUSTFLAGS apply only to the target (the explicit `--target` keeps them
//! away from build scripts). No sanitizer runs (those would need
//! `RUSTC_BOOTSTRAP=1`); the invariants are checked by the targets
//! themselves.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::root;
use crate::step::{outcome, run_logged, StepResult};

pub const TARGETS: &[&str] = &["handshake", "options", "transmission"];

const RUSTFLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing";

/// What one target's run reported.
pub struct Stats {
    pub executions: u64,
    pub coverage: u64,
    pub crashed: bool,
}

fn host() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .ok_or_else(|| "rustc -vV names no host".into())
}

fn target_dir() -> PathBuf {
    root().join("target/fuzz")
}

/// Build every target, instrumented, into target/fuzz.
pub fn build(log: &Path) -> Result<PathBuf, String> {
    let host = host()?;
    let mut c = crate::step::cmd_cargo(&["build", "--release", "--target", &host]);
    c.current_dir(root().join("fuzz"))
        .env("RUSTFLAGS", RUSTFLAGS)
        .env("CARGO_TARGET_DIR", target_dir());
    if !run_logged(c, log)? {
        return Err("building the fuzz targets failed".into());
    }
    Ok(target_dir().join(host).join("release"))
}

/// Run `target` for `seconds` (or `runs` executions).
pub fn run_target(
    bin: &Path,
    target: &str,
    seconds: u64,
    runs: Option<u64>,
    log: &Path,
) -> Result<Stats, String> {
    let work = target_dir().join("corpus").join(target);
    let seeds = root().join("fuzz/corpus").join(target);
    let artifacts = target_dir().join("artifacts").join(target);
    for d in [&work, &artifacts] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let mut c = Command::new(bin.join(target));
    c.arg(&work);
    if seeds.is_dir() {
        c.arg(&seeds);
    }
    c.arg(format!("-max_total_time={seconds}"))
        .arg("-rss_limit_mb=2048")
        .arg("-timeout=10")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()));
    if let Some(n) = runs {
        c.arg(format!("-runs={n}"));
    }
    let out = c
        .output()
        .map_err(|e| format!("cannot run the {target} fuzzer: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let tail: Vec<&str> = text.lines().rev().take(40).collect();
    let mut summary = format!("$ {c:?}\n");
    for l in tail.iter().rev() {
        summary.push_str(l);
        summary.push('\n');
    }
    crate::step::append_log(log, &summary);
    let executions = text
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let coverage = text
        .lines()
        .rev()
        .find_map(|l| l.split(" cov: ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok(Stats {
        executions,
        coverage,
        crashed: !out.status.success(),
    })
}

/// The `fuzz` step: every target for 20 seconds.
pub fn step(log: &Path) -> StepResult {
    let bin = build(log)?;
    let (mut passed, mut failed) = (0, 0);
    for t in TARGETS {
        let s = run_target(&bin, t, 20, None, log)?;
        crate::step::append_log(
            log,
            &format!("{t}: {} executions, coverage {}", s.executions, s.coverage),
        );
        if s.crashed || s.executions == 0 {
            failed += 1;
        } else {
            passed += 1;
        }
    }
    outcome(passed, failed)
}

/// `cargo xtask fuzz`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = 60;
    let mut runs = None;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("fuzz: --seconds needs a number")?
            }
            "--runs" => {
                runs = Some(
                    it.next()
                        .and_then(|s| s.parse().ok())
                        .ok_or("fuzz: --runs needs a number")?,
                )
            }
            t if TARGETS.contains(&t) => targets.push(t.to_string()),
            other => {
                return Err(format!(
                    "fuzz: unknown target or option `{other}`; the targets are: {}",
                    TARGETS.join(", ")
                ))
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    let log = root().join("target/xtask-logs/fuzz.log");
    std::fs::create_dir_all(log.parent().unwrap()).map_err(|e| e.to_string())?;
    let bin = build(&log)?;
    let mut crashed = Vec::new();
    for t in &targets {
        let s = run_target(&bin, t, seconds, runs, &log)?;
        println!(
            "{t}: {} executions, coverage {}{}",
            s.executions,
            s.coverage,
            if s.crashed { ", CRASHED" } else { "" }
        );
        if s.crashed {
            crashed.push(t.clone());
        }
    }
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz: crashes in {} (inputs in target/fuzz/artifacts/, log {})",
            crashed.join(", "),
            log.display()
        ))
    }
}

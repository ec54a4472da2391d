//! Running a benchmark program once, and counting its system calls in a
//! separate pass under `strace -c -f`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::sides::Program;

/// What one run of a program reported.
#[derive(Clone, Debug)]
pub struct Sample {
    pub ops: u64,
    pub bytes: u64,
    pub secs: f64,
    pub user: f64,
    pub sys: f64,
    pub lat_us: f64,
    pub lib: String,
    pub version: String,
    pub multi_conn: Option<bool>,
}

impl Sample {
    pub fn gib_per_sec(&self) -> f64 {
        self.bytes as f64 / self.secs / (1u64 << 30) as f64
    }
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.secs
    }
    /// Client CPU seconds (user + system) per GiB moved.
    pub fn cpu_per_gib(&self) -> f64 {
        (self.user + self.sys) / (self.bytes as f64 / (1u64 << 30) as f64)
    }
    pub fn json(&self) -> Value {
        serde_json::json!({
            "ops": self.ops, "bytes": self.bytes, "secs": self.secs,
            "user": self.user, "sys": self.sys, "lat_us": self.lat_us,
            "gib_per_sec": self.gib_per_sec(), "ops_per_sec": self.ops_per_sec(),
            "cpu_per_gib": self.cpu_per_gib(),
        })
    }
}

/// Longest a single run may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(180);

fn command(prefix: &[&str], prog: &Program, workload: &str, uri: &str, amount: u64) -> Command {
    let mut argv: Vec<&str> = prefix.to_vec();
    argv.extend(prog.argv.iter().map(String::as_str));
    let mut c = Command::new(argv[0]);
    c.args(&argv[1..])
        .arg(workload)
        .arg(uri)
        .arg(amount.to_string());
    c.envs(prog.env.iter().map(|(k, v)| (k, v)));
    c
}

/// Run a command to its end (or kill it after TIMEOUT) and return its
/// stdout, or an error quoting its stderr.
fn finish(mut c: Command) -> Result<String, String> {
    let dir = std::env::temp_dir();
    let tag = format!(
        "nbd-bench-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    );
    let (out_p, err_p) = (
        dir.join(format!("{tag}.out")),
        dir.join(format!("{tag}.err")),
    );
    let out = std::fs::File::create(&out_p).map_err(|e| e.to_string())?;
    let err = std::fs::File::create(&err_p).map_err(|e| e.to_string())?;
    let mut child = c
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", c.get_program()))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(st) => break Some(st),
            None if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let stdout = std::fs::read_to_string(&out_p).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_p).unwrap_or_default();
    let _ = std::fs::remove_file(&out_p);
    let _ = std::fs::remove_file(&err_p);
    match status {
        None => Err(format!("timed out after {} s", TIMEOUT.as_secs())),
        Some(st) if !st.success() => {
            let msg = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            Err(format!(
                "exit {}: {msg}",
                st.code().map_or("signal".into(), |c| c.to_string())
            ))
        }
        Some(_) => Ok(stdout),
    }
}

pub fn parse_output(stdout: &str, prog: &Program) -> Result<Sample, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or("no JSON line in output")?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("bad JSON ({e}): {line}"))?;
    let num = |k: &str| v[k].as_f64().ok_or_else(|| format!("no `{k}` in {line}"));
    let sample = Sample {
        ops: num("ops")? as u64,
        bytes: num("bytes")? as u64,
        secs: num("secs")?,
        user: num("user")?,
        sys: num("sys")?,
        lat_us: num("lat_us")?,
        lib: v["lib"].as_str().unwrap_or("").to_string(),
        version: v["version"].as_str().unwrap_or("").to_string(),
        multi_conn: v["multi_conn"].as_bool(),
    };
    if let Some(want) = &prog.lib_must_contain {
        if !sample.lib.contains(want.as_str()) {
            return Err(format!(
                "loaded the wrong library: {} (wanted {want})",
                sample.lib
            ));
        }
    }
    if let Some(not) = &prog.lib_must_not_contain {
        if sample.lib.contains(not.as_str()) {
            return Err(format!("loaded the wrong library: {}", sample.lib));
        }
    }
    Ok(sample)
}

/// One timed run.
pub fn run_once(prog: &Program, workload: &str, uri: &str, amount: u64) -> Result<Sample, String> {
    let out = finish(command(&[], prog, workload, uri, amount))?;
    parse_output(&out, prog)
}

/// System calls of a workload, from `strace -c -f` runs with `amount` and
/// with 0 (connect and disconnect only), the second subtracted.
#[derive(Clone, Debug)]
pub struct Syscalls {
    pub requests: u64,
    /// Under strace, which slows the client down and so lets more replies
    /// pile up per read: a count below the untraced one.
    pub per_request: f64,
    /// Counted by `perf stat -e raw_syscalls:sys_enter` when perf works
    /// here: the program runs at nearly full speed.
    pub untraced_per_request: Option<f64>,
    /// Calls per request, by system call, largest first.
    pub by_name: Vec<(String, f64)>,
}

impl Syscalls {
    pub fn json(&self) -> Value {
        let by: serde_json::Map<String, Value> = self
            .by_name
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        serde_json::json!({
            "requests": self.requests,
            "per_request_strace": self.per_request,
            "per_request_perf": self.untraced_per_request,
            "strace_by_name": by,
        })
    }

    /// The count to judge by: untraced when there is one.
    pub fn best(&self) -> f64 {
        self.untraced_per_request.unwrap_or(self.per_request)
    }
}

/// Whether `perf stat` can count the syscall tracepoint on this machine.
pub fn perf_counts_syscalls() -> bool {
    Command::new("perf")
        .args(["stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"])
        .stdout(Stdio::null())
        .output()
        .map(|o| o.status.success() && perf_count(&String::from_utf8_lossy(&o.stderr)).is_some())
        .unwrap_or(false)
}

/// The count from `perf stat -x,` output: "12345,,raw_syscalls:sys_enter,...".
fn perf_count(text: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.contains("raw_syscalls:sys_enter"))
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.trim().parse().ok())
}

/// Requests done and syscalls made by one run under `perf stat`.
fn perf_pass(
    prog: &Program,
    workload: &str,
    uri: &str,
    amount: u64,
    dir: &Path,
) -> Result<(u64, u64), String> {
    let file = dir.join(format!("perf-{}.txt", std::process::id()));
    let file_s = file.to_string_lossy().into_owned();
    let prefix = [
        "perf",
        "stat",
        "-x,",
        "-o",
        &file_s,
        "-e",
        "raw_syscalls:sys_enter",
        "--",
    ];
    let out = finish(command(&prefix, prog, workload, uri, amount))?;
    let sample = parse_output(&out, prog)?;
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    let calls =
        perf_count(&text).ok_or_else(|| format!("no syscall count from perf: {}", text.trim()))?;
    Ok((sample.ops, calls))
}

fn strace_counts(out_file: &Path) -> Result<BTreeMap<String, u64>, String> {
    let text =
        std::fs::read_to_string(out_file).map_err(|e| format!("{}: {e}", out_file.display()))?;
    parse_strace(&text).ok_or_else(|| format!("no total in {}", out_file.display()))
}

/// Calls by system call name, and "total", from `strace -c` output.
fn parse_strace(text: &str) -> Option<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    // % time  seconds  usecs/call  calls  [errors]  syscall
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[0].starts_with('%') || f[0].starts_with('-') {
            continue;
        }
        let (Ok(calls), Some(name)) = (f[3].parse::<u64>(), f.last()) else {
            continue;
        };
        counts.insert(name.to_string(), calls);
    }
    counts.contains_key("total").then_some(counts)
}

pub fn count_syscalls(
    prog: &Program,
    workload: &str,
    uri: &str,
    amount: u64,
    dir: &Path,
    use_perf: bool,
) -> Result<Syscalls, String> {
    let mut counted = Vec::new();
    let mut requests = 0;
    for (i, amt) in [amount, 0].into_iter().enumerate() {
        let file = dir.join(format!("strace-{}-{i}.txt", std::process::id()));
        let file_s = file.to_string_lossy().into_owned();
        let out = finish(command(
            &["strace", "-c", "-f", "-o", &file_s],
            prog,
            workload,
            uri,
            amt,
        ))?;
        let sample = parse_output(&out, prog)?;
        if i == 0 {
            requests = sample.ops;
        }
        counted.push(strace_counts(&file)?);
        let _ = std::fs::remove_file(&file);
    }
    if requests == 0 {
        return Err("no requests counted".into());
    }
    let (with, without) = (&counted[0], &counted[1]);
    let mut by_name: Vec<(String, f64)> = with
        .iter()
        .filter(|(k, _)| k.as_str() != "total")
        .map(|(k, &n)| {
            (
                k.clone(),
                (n as f64 - *without.get(k).unwrap_or(&0) as f64) / requests as f64,
            )
        })
        .filter(|(_, per)| *per >= 0.005)
        .collect();
    by_name.sort_by(|a, b| b.1.total_cmp(&a.1));
    let per_request = (with["total"] as f64 - without["total"] as f64) / requests as f64;
    let untraced_per_request = if use_perf {
        let (ops, with) = perf_pass(prog, workload, uri, amount, dir)?;
        let (_, without) = perf_pass(prog, workload, uri, 0, dir)?;
        (ops > 0).then(|| (with as f64 - without as f64) / ops as f64)
    } else {
        None
    };
    Ok(Syscalls {
        requests,
        per_request,
        untraced_per_request,
        by_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strace_summary_with_and_without_errors_column() {
        let text = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 60.00    0.000600           6       100           recvfrom
 30.00    0.000300           3       100        12 sendmsg
 10.00    0.000100           1        50           poll
------ ----------- ----------- --------- --------- ----------------
100.00    0.001000           4       250        12 total
";
        let c = parse_strace(text).expect("parsed");
        assert_eq!(c["recvfrom"], 100);
        assert_eq!(c["sendmsg"], 100);
        assert_eq!(c["poll"], 50);
        assert_eq!(c["total"], 250);
        assert!(parse_strace("no summary here").is_none());
    }

    #[test]
    fn program_loading_the_wrong_library_is_refused() {
        let prog = Program {
            argv: vec![],
            env: vec![],
            lib_must_contain: Some("/target/bench/ours/lib".into()),
            lib_must_not_contain: None,
        };
        let line = r#"{"ops": 1, "bytes": 4096, "secs": 0.001, "user": 0, "sys": 0, "lat_us": 0, "lib": "/lib/x86_64-linux-gnu/libnbd.so.0"}"#;
        let err = parse_output(line, &prog).unwrap_err();
        assert!(err.contains("wrong library"), "{err}");
    }
}

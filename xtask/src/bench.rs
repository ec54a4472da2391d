//! `cargo xtask bench [--quick]`: the same workloads through Debian's
//! libnbd and through ours, against the same servers, runs alternating,
//! then a table of medians, min–max and ours/libnbd, saved as JSON and
//! markdown under target/bench/.
//!
//! The C side of every workload is bench/c/bench.c compiled twice (libnbd,
//! our libnbd.so.0); the Rust API runs the same workloads in bench/rust,
//! through `Handle` and (`--async`) through the tokio `AsyncHandle`;
//! Python runs bench/python/bench.py under each module. bench/floor.c
//! measures what the machine can do with no NBD at all.

mod measure;
mod plan;
mod report;
mod servers;
mod sides;

use std::io::Write;
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::root;
use measure::Sample;
use plan::{Metric, Mode, Workload};
use report::{FloorRow, Row, SIDES};
use servers::ServerKind;
use sides::Programs;

/// Debian packages the bench needs.
const PACKAGES: &[&str] = &[
    "gcc",
    "pkg-config",
    "libnbd-dev",
    "python3-libnbd",
    "python3-venv",
    "nbdkit",
    "qemu-utils",
    "nbd-server",
    "strace",
    "fio",
];

struct Options {
    mode: Mode,
    install: bool,
    count_syscalls: bool,
    only: Vec<String>,
    servers: Vec<ServerKind>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        mode: plan::FULL,
        install: true,
        count_syscalls: true,
        only: Vec::new(),
        servers: servers::ALL.to_vec(),
    };
    let mut runs = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("bench: {a} needs a value"))
        };
        match a.as_str() {
            "--quick" => o.mode = plan::QUICK,
            "--no-install" => o.install = false,
            "--no-syscalls" => o.count_syscalls = false,
            "--runs" => {
                runs = Some(
                    value()?
                        .parse::<usize>()
                        .map_err(|e| format!("bench: --runs: {e}"))?,
                )
            }
            "--only" => o.only = value()?.split(',').map(String::from).collect(),
            "--servers" => {
                let v = value()?;
                o.servers = Vec::new();
                for key in v.split(',') {
                    let s = servers::ALL
                        .iter()
                        .find(|s| s.key() == key)
                        .ok_or_else(|| {
                            let all: Vec<_> = servers::ALL.iter().map(|s| s.key()).collect();
                            format!("bench: unknown server `{key}` (one of {})", all.join(", "))
                        })?;
                    o.servers.push(*s);
                }
            }
            other => return Err(format!("bench: unknown option `{other}`")),
        }
    }
    if let Some(n) = runs {
        o.mode.runs = n.max(1);
    }
    Ok(o)
}

fn selected(o: &Options, w: &Workload) -> bool {
    o.only.is_empty()
        || o.only
            .iter()
            .any(|x| x.eq_ignore_ascii_case(w.id) || x == w.arg)
}

/// Progress lines: `[ n/N] what`.
struct Progress {
    done: usize,
    total: usize,
}

impl Progress {
    fn line(&mut self, what: &str) {
        self.done += 1;
        let w = self.total.to_string().len();
        println!("[{:>w$}/{}] {what}", self.done, self.total);
        let _ = std::io::stdout().flush();
    }
}

fn step(what: &str) {
    println!("==> {what}");
    let _ = std::io::stdout().flush();
}

fn result_text(r: &Result<Sample, String>, metrics: &[Metric]) -> String {
    match r {
        Ok(s) => metrics
            .iter()
            .map(|&m| match m {
                Metric::GibPerSec => format!("{:.2} GiB/s", s.gib_per_sec()),
                Metric::OpsPerSec => format!("{:.0} ops/s", s.ops_per_sec()),
                Metric::LatencyUs => format!("{:.1} µs", s.lat_us),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("FAILED: {e}"),
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let started = Instant::now();
    let dir = root().join("target/bench");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let run_dir = std::env::temp_dir().join(format!("nbd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;

    if o.install {
        crate::deps::ensure_packages(PACKAGES)?;
    }
    let programs = sides::build(&dir, &logs, &step);
    let side_names: [(&str, &sides::Built); 7] = [
        ("C against libnbd", &programs.c_libnbd),
        ("C against ours", &programs.c_ours),
        ("Rust API", &programs.rust),
        ("Rust async API (tokio)", &programs.rust_async),
        ("Python, python3-libnbd", &programs.py_libnbd),
        ("Python, ours", &programs.py_ours),
        ("floor", &programs.floor),
    ];
    for (name, b) in &side_names {
        match b {
            Ok(p) => println!("    {name}: {}", p.argv.join(" ")),
            Err(e) => println!("    {name}: not built: {e}"),
        }
    }
    let c_libnbd = programs
        .c_libnbd
        .clone()
        .map_err(|e| format!("the libnbd side must build: {e}"))?;

    let mode = o.mode;
    let plan: Vec<(ServerKind, Vec<&'static Workload>)> = o
        .servers
        .iter()
        .map(|&s| {
            (
                s,
                plan::WORKLOADS
                    .iter()
                    .filter(|w| selected(&o, w) && w.servers.contains(&s))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, ws)| !ws.is_empty())
        .collect();
    let built = |w: &Workload| {
        SIDES
            .iter()
            .filter(|&&s| programs.get(w, s).is_ok())
            .count()
    };
    let counted = |s: ServerKind| o.count_syscalls && s == ServerKind::NbdkitMemory;
    let floor_runs = if o.only.is_empty() { 3 * mode.runs } else { 0 };
    let total: usize = floor_runs
        + plan
            .iter()
            .map(|(s, ws)| {
                let prefill = usize::from(s.stores_data());
                prefill
                    + ws.iter()
                        .map(|w| built(w) * (mode.runs + usize::from(counted(*s))))
                        .sum::<usize>()
            })
            .sum::<usize>();
    let mut progress = Progress { done: 0, total };
    let use_perf = o.count_syscalls && measure::perf_counts_syscalls();
    println!(
        "==> {} bench: {} runs per side, alternating; {} server(s); syscalls counted: {}",
        mode.name,
        mode.runs,
        plan.len(),
        match (o.count_syscalls, use_perf) {
            (false, _) => "no",
            (true, true) => "yes (separate passes: strace -c -f, and perf stat untraced)",
            (true, false) => "yes (separate pass: strace -c -f; perf cannot count syscalls here)",
        }
    );

    // The floor first, with nothing else running.
    let mut floor = Vec::new();
    if floor_runs > 0 {
        floor = run_floor(&programs, &mode, &mut progress);
    }

    let mut rows: Vec<Row> = Vec::new();
    for (kind, workloads) in &plan {
        let log = logs.join(format!("server-{}.log", kind.key()));
        step(&format!(
            "starting {} ({} byte export)",
            kind.title(),
            mode.export_size
        ));
        let server = match servers::start(*kind, &run_dir, mode.export_size, &log) {
            Ok(s) => s,
            Err(e) => {
                println!("    cannot start {}: {e}", kind.title());
                for w in workloads {
                    let mut row = Row::new(w, *kind, SIDES.map(|s| programs.get(w, s)));
                    for c in &mut row.cells {
                        c.errors.push(format!("server did not start: {e}"));
                    }
                    rows.push(row);
                }
                continue;
            }
        };
        if kind.stores_data() {
            // Fill the export once, so reads meet allocated blocks on every
            // side alike and no run pays for the server's first touch.
            let r = measure::run_once(&c_libnbd, "seq-write", &server.uri, mode.export_size);
            progress.line(&format!(
                "{:<22} prefill {} MiB: {}",
                kind.title(),
                mode.export_size >> 20,
                result_text(&r, &[Metric::GibPerSec])
            ));
        }
        for w in workloads {
            let mut row = Row::new(w, *kind, SIDES.map(|s| programs.get(w, s)));
            let amount = mode.timed.of(w.size);
            for run in 0..mode.runs {
                // A B C D, then D C B A: neither side always goes first.
                let order: Vec<usize> = if run % 2 == 0 {
                    (0..SIDES.len()).collect()
                } else {
                    (0..SIDES.len()).rev().collect()
                };
                for i in order {
                    let Ok(prog) = programs.get(w, SIDES[i]) else {
                        continue;
                    };
                    let r = measure::run_once(prog, w.arg, &server.uri, amount);
                    progress.line(&format!(
                        "{:<22} {} {:<18} {:<10} run {}/{}: {}",
                        kind.title(),
                        w.id,
                        w.arg,
                        SIDES[i].key(),
                        run + 1,
                        mode.runs,
                        result_text(&r, w.metrics)
                    ));
                    match r {
                        Ok(s) => row.cells[i].samples.push(s),
                        Err(e) => row.cells[i].errors.push(e),
                    }
                }
            }
            if counted(*kind) {
                for (i, side) in SIDES.iter().enumerate() {
                    let Ok(prog) = programs.get(w, *side) else {
                        continue;
                    };
                    let r = measure::count_syscalls(
                        prog,
                        w.arg,
                        &server.uri,
                        mode.counted.of(w.size),
                        &run_dir,
                        use_perf,
                    );
                    progress.line(&format!(
                        "{:<22} {} {:<18} {:<10} syscalls: {}",
                        kind.title(),
                        w.id,
                        w.arg,
                        side.key(),
                        match &r {
                            Ok(s) => match s.untraced_per_request {
                                Some(u) =>
                                    format!("{u:.2}/request (under strace {:.2})", s.per_request),
                                None => format!("{:.2}/request under strace", s.per_request),
                            },
                            Err(e) => format!("FAILED: {e}"),
                        }
                    ));
                    row.cells[i].syscalls = Some(r);
                }
            }
            rows.push(row);
        }
        drop(server);
    }
    let _ = std::fs::remove_dir_all(&run_dir);

    let targets = report::targets(&rows, &floor);
    let notes = report::notes(&side_names);
    let secs = started.elapsed().as_secs_f64();
    let machine = machine();
    let markdown = format!(
        "Measured by `cargo xtask bench{}` on {} ({} runs per side, alternating; medians, min–max in brackets; {:.0} s).\n\n\
         {}\n{}\nClient CPU (user+sys of the benchmark process, getrusage) per GiB moved, and system calls per request \
         (separate passes, connection setup subtracted: untraced count from `perf stat -e raw_syscalls:sys_enter`, \
         in brackets the count under `strace -c -f`, which slows the client and so lets more replies pile up per read), \
         nbdkit memory:\n\n{}\n{}\n{}",
        if mode.name == "quick" { " --quick" } else { "" },
        machine["summary"].as_str().unwrap_or("?"),
        mode.runs,
        secs,
        report::main_table(&rows),
        if notes.is_empty() { String::new() } else { format!("\n{notes}") },
        report::cost_table(&rows),
        report::floor_table(&floor),
        report::targets_table(&targets),
    );
    println!("\n{markdown}");

    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let record = json!({
        "mode": mode.name,
        "runs": mode.runs,
        "started_unix": stamp.saturating_sub(secs as u64),
        "duration_secs": secs,
        "machine": machine,
        "amounts": {
            "export_size": mode.export_size,
            "timed": format!("{:?}", mode.timed),
            "counted": format!("{:?}", mode.counted),
        },
        "sides": side_names.iter().map(|(n, b)| json!({"side": n, "built": b.is_ok(), "program": b.as_ref().ok().map(|p| p.argv.clone()), "reason": b.as_ref().err()})).collect::<Vec<_>>(),
        "rows": report::rows_json(&rows),
        "floor": report::floor_json(&floor),
        "targets": report::targets_json(&targets),
    });
    let text = serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?;
    let json_path = dir.join(format!("bench-{}-{stamp}.json", mode.name));
    for p in [
        json_path.clone(),
        dir.join(format!("latest-{}.json", mode.name)),
    ] {
        std::fs::write(&p, &text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let md_path = dir.join(format!("latest-{}.md", mode.name));
    std::fs::write(&md_path, &markdown).map_err(|e| format!("{}: {e}", md_path.display()))?;
    println!("wrote {} and {}", json_path.display(), md_path.display());
    Ok(())
}

/// The machine's own limits: a raw Unix-socket stream and NBD-shaped
/// ping-pong round trips between two processes.
fn run_floor(programs: &Programs, mode: &Mode, progress: &mut Progress) -> Vec<FloorRow> {
    let mut rows = vec![
        FloorRow {
            name: "Unix stream, 256 KiB writes",
            metrics: &[Metric::GibPerSec],
            samples: vec![],
            errors: vec![],
        },
        FloorRow {
            name: "ping-pong, 28 B out / 4 KiB + 16 B back",
            metrics: &[Metric::OpsPerSec, Metric::LatencyUs],
            samples: vec![],
            errors: vec![],
        },
        FloorRow {
            name: "ping-pong, both processes on CPU 0",
            metrics: &[Metric::OpsPerSec, Metric::LatencyUs],
            samples: vec![],
            errors: vec![],
        },
    ];
    let jobs: [(&[&str], &str, u64); 3] = [
        (&[], "stream", mode.floor_stream_bytes),
        (&[], "pingpong", mode.floor_pingpong_ops),
        (&["taskset", "-c", "0"], "pingpong", mode.floor_pingpong_ops),
    ];
    for run in 0..mode.runs {
        for (i, (prefix, what, amount)) in jobs.iter().enumerate() {
            let r = match &programs.floor {
                Ok(p) => {
                    let mut argv: Vec<&str> = prefix.to_vec();
                    argv.extend(p.argv.iter().map(String::as_str));
                    floor_once(&argv, what, *amount)
                }
                Err(e) => Err(format!("not built: {e}")),
            };
            progress.line(&format!(
                "floor {:<40} run {}/{}: {}",
                rows[i].name,
                run + 1,
                mode.runs,
                result_text(&r, rows[i].metrics)
            ));
            match r {
                Ok(s) => rows[i].samples.push(s),
                Err(e) => rows[i].errors.push(e),
            }
        }
    }
    rows
}

fn floor_once(argv: &[&str], what: &str, amount: u64) -> Result<Sample, String> {
    let o = Command::new(argv[0])
        .args(&argv[1..])
        .arg(what)
        .arg(amount.to_string())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).trim().to_string());
    }
    let prog = sides::Program {
        argv: vec![],
        env: vec![],
        lib_must_contain: None,
        lib_must_not_contain: None,
    };
    measure::parse_output(&String::from_utf8_lossy(&o.stdout), &prog)
}

/// What the numbers were measured on.
fn machine() -> serde_json::Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let version = |cmd: &[&str]| {
        Command::new(cmd[0])
            .args(&cmd[1..])
            .output()
            .ok()
            .map(|o| {
                let t = if o.stdout.is_empty() {
                    o.stderr
                } else {
                    o.stdout
                };
                String::from_utf8_lossy(&t)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default()
    };
    let libnbd = version(&["dpkg-query", "-W", "-f=${Version}", "libnbd0"]);
    json!({
        "summary": format!("{cpus} × {model}, Linux {kernel}, libnbd {libnbd}"),
        "cpus": cpus,
        "cpu_model": model,
        "kernel": kernel,
        "libnbd": libnbd,
        "nbdkit": version(&["nbdkit", "--version"]),
        "qemu_nbd": version(&["qemu-nbd", "--version"]),
        "nbd_server": version(&["nbd-server", "-V"]),
        "python3": version(&["/usr/bin/python3", "--version"]),
    })
}

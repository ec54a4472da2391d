//! Turning samples into the tables (markdown, printed and saved) and the
//! JSON record under target/bench/.

use serde_json::{json, Value};

use super::measure::{Sample, Syscalls};
use super::plan::{Metric, Workload};
use super::servers::ServerKind;
use super::sides::{Built, Side};

pub const SIDES: [Side; 4] = [Side::Libnbd, Side::Ours, Side::Rust, Side::RustAsync];

/// One side's results for one workload on one server.
#[derive(Default)]
pub struct Cell {
    /// `Err(reason)` when the side's program could not be built.
    pub built: Option<Result<(), String>>,
    pub samples: Vec<Sample>,
    pub errors: Vec<String>,
    pub syscalls: Option<Result<Syscalls, String>>,
}

pub struct Row {
    pub workload: &'static Workload,
    pub server: ServerKind,
    /// Indexed like SIDES.
    pub cells: [Cell; SIDES.len()],
}

impl Row {
    pub fn new(
        workload: &'static Workload,
        server: ServerKind,
        built: [&Built; SIDES.len()],
    ) -> Row {
        let cell = |b: &Built| Cell {
            built: Some(b.as_ref().map(|_| ()).map_err(Clone::clone)),
            ..Cell::default()
        };
        Row {
            workload,
            server,
            cells: built.map(cell),
        }
    }

    pub fn cell(&self, side: Side) -> &Cell {
        &self.cells[SIDES.iter().position(|s| *s == side).unwrap_or(0)]
    }
}

pub struct FloorRow {
    pub name: &'static str,
    pub metrics: &'static [Metric],
    pub samples: Vec<Sample>,
    pub errors: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn stat(values: &[f64]) -> Option<Stat> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stat {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

pub fn value(s: &Sample, m: Metric) -> f64 {
    match m {
        Metric::GibPerSec => s.gib_per_sec(),
        Metric::OpsPerSec => s.ops_per_sec(),
        Metric::LatencyUs => s.lat_us,
    }
}

impl Cell {
    /// Whether the side runs this workload at all (see `NOT_APPLICABLE`).
    pub fn applies(&self) -> bool {
        !matches!(&self.built, Some(Err(r)) if r.is_empty())
    }
    pub fn stat(&self, m: Metric) -> Option<Stat> {
        stat(&self.samples.iter().map(|s| value(s, m)).collect::<Vec<_>>())
    }
    pub fn cpu(&self) -> Option<Stat> {
        stat(
            &self
                .samples
                .iter()
                .map(Sample::cpu_per_gib)
                // Workloads that move no data have no CPU per GiB.
                .filter(|v| v.is_finite())
                .collect::<Vec<_>>(),
        )
    }
    pub fn syscalls_per_request(&self) -> Option<f64> {
        self.syscalls
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .map(|s| s.best())
    }
}

fn num(m: Metric, v: f64) -> String {
    match m {
        Metric::GibPerSec => format!("{v:.2}"),
        Metric::OpsPerSec => format!("{v:.0}"),
        Metric::LatencyUs => format!("{v:.1}"),
    }
}

fn short(reason: &str) -> String {
    let first = reason.lines().next().unwrap_or("");
    let first = first.split(" (log: ").next().unwrap_or(first);
    if first.chars().count() > 70 {
        format!("{}...", first.chars().take(67).collect::<String>())
    } else {
        first.to_string()
    }
}

/// What a cell shows when it has no numbers.
fn missing(cell: &Cell) -> Option<String> {
    match &cell.built {
        Some(Err(r)) if r.is_empty() => Some("—".into()),
        Some(Err(r)) => Some(format!("not built: {}", short(r))),
        _ if cell.samples.is_empty() => Some(
            cell.errors
                .first()
                .map_or("not run".into(), |e| format!("failed: {}", short(e))),
        ),
        _ => None,
    }
}

fn shown(cell: &Cell, m: Metric) -> String {
    if let Some(text) = missing(cell) {
        return text;
    }
    match cell.stat(m) {
        Some(s) if cell.samples.len() > 1 => {
            format!("{} ({}–{})", num(m, s.median), num(m, s.min), num(m, s.max))
        }
        Some(s) => num(m, s.median),
        None => "—".into(),
    }
}

fn ratio(a: Option<Stat>, b: Option<Stat>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => Some(a.median / b.median),
        _ => None,
    }
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{r:.2}x"))
}

fn row_label(w: &Workload) -> String {
    format!("{} {}", w.id, w.title)
}

/// The main table: every workload on every server, every metric.
pub fn main_table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| Workload | Server | Metric | libnbd 1.14 | ours | ours/libnbd | ours, Rust API | Rust/libnbd \
         | ours, Rust async | async/libnbd |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        for &m in r.workload.metrics {
            let lib = r.cell(Side::Libnbd);
            let (ours, rust, asynch) = (
                r.cell(Side::Ours),
                r.cell(Side::Rust),
                r.cell(Side::RustAsync),
            );
            t += &format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                row_label(r.workload),
                r.server.title(),
                m.unit(),
                shown(lib, m),
                shown(ours, m),
                ratio_text(ratio(ours.stat(m), lib.stat(m))),
                shown(rust, m),
                ratio_text(ratio(rust.stat(m), lib.stat(m))),
                shown(asynch, m),
                ratio_text(ratio(asynch.stat(m), lib.stat(m))),
            );
        }
    }
    t
}

fn cpu_text(cell: &Cell) -> String {
    missing(cell).map(|_| "—".into()).unwrap_or_else(|| {
        cell.cpu()
            .map_or("—".into(), |s| format!("{:.3}", s.median))
    })
}

fn sys_text(cell: &Cell) -> String {
    match &cell.syscalls {
        Some(Ok(s)) => match s.untraced_per_request {
            Some(u) => format!("{u:.2} ({:.2})", s.per_request),
            None => format!("({:.2})", s.per_request),
        },
        Some(Err(e)) => format!("failed: {}", short(e)),
        None => "—".into(),
    }
}

/// Client CPU and system calls per request, nbdkit memory only.
pub fn cost_table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| Workload | CPU s/GiB libnbd | CPU ours | ours/libnbd | CPU Rust | CPU Rust async \
         | syscalls/req libnbd | ours | Rust | Rust async |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows.iter().filter(|r| r.server == ServerKind::NbdkitMemory) {
        let lib = r.cell(Side::Libnbd);
        let (ours, rust, asynch) = (
            r.cell(Side::Ours),
            r.cell(Side::Rust),
            r.cell(Side::RustAsync),
        );
        t += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row_label(r.workload),
            cpu_text(lib),
            cpu_text(ours),
            ratio_text(ratio(ours.cpu(), lib.cpu())),
            cpu_text(rust),
            cpu_text(asynch),
            sys_text(lib),
            sys_text(ours),
            sys_text(rust),
            sys_text(asynch),
        );
    }
    t
}

pub fn floor_table(floor: &[FloorRow]) -> String {
    let mut t = String::from(
        "| Floor (two processes, no NBD) | Metric | median (min–max) |\n| --- | --- | --- |\n",
    );
    for f in floor {
        for &m in f.metrics {
            let text = match stat(&f.samples.iter().map(|s| value(s, m)).collect::<Vec<_>>()) {
                Some(s) => format!("{} ({}–{})", num(m, s.median), num(m, s.min), num(m, s.max)),
                None => f
                    .errors
                    .first()
                    .map_or("not run".into(), |e| format!("failed: {}", short(e))),
            };
            t += &format!("| {} | {} | {} |\n", f.name, m.unit(), text);
        }
    }
    t
}

/// One target of the issue, judged on medians of this run.
pub struct Target {
    pub what: &'static str,
    pub wanted: String,
    /// The value for ours through C (or Python), the Rust API and the
    /// Rust async API.
    pub ours: Option<f64>,
    pub rust: Option<f64>,
    pub rust_async: Option<f64>,
    /// The side whose value `met` judges: ours, or the Rust async side
    /// for the targets set on it.
    pub judged: Side,
    pub met: Option<bool>,
}

fn find<'a>(rows: &'a [Row], arg: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.workload.arg == arg && r.server == ServerKind::NbdkitMemory)
}

/// Which way a target points.
#[derive(Clone, Copy)]
enum Want {
    AtLeast(f64),
    AtMost(f64),
}

impl Want {
    fn met(self, v: Option<f64>) -> Option<bool> {
        v.map(|v| match self {
            Want::AtLeast(t) => v >= t,
            Want::AtMost(t) => v <= t,
        })
    }
    fn text(self) -> String {
        match self {
            Want::AtLeast(t) => format!(">= {t:.2}"),
            Want::AtMost(t) => format!("<= {t:.2}"),
        }
    }
}

pub fn targets(rows: &[Row], floor: &[FloorRow]) -> Vec<Target> {
    let vs_libnbd = |arg: &str, m: Metric, side: Side| {
        find(rows, arg).and_then(|r| ratio(r.cell(side).stat(m), r.cell(Side::Libnbd).stat(m)))
    };
    let cpu_vs_libnbd = |arg: &str, side: Side| {
        find(rows, arg).and_then(|r| ratio(r.cell(side).cpu(), r.cell(Side::Libnbd).cpu()))
    };
    let floor_stream = floor
        .iter()
        .find(|f| f.name.starts_with("Unix stream"))
        .and_then(|f| {
            stat(
                &f.samples
                    .iter()
                    .map(Sample::gib_per_sec)
                    .collect::<Vec<_>>(),
            )
        });
    let vs_floor = |side: Side| {
        find(rows, "seq-read")
            .and_then(|r| ratio(r.cell(side).stat(Metric::GibPerSec), floor_stream))
    };
    let syscalls =
        |side: Side| find(rows, "rand-read-qd64").and_then(|r| r.cell(side).syscalls_per_request());

    let qd64_async_vs = |other: Side| {
        find(rows, "rand-read-qd64").and_then(|r| {
            ratio(
                r.cell(Side::RustAsync).stat(Metric::OpsPerSec),
                r.cell(other).stat(Metric::OpsPerSec),
            )
        })
    };

    // W7: one handle with four connections against libnbd's four
    // handles in four threads (the W6 shape).
    let one_handle_vs_four = |ours: &str, libnbd: &str, m: Metric, side: Side| {
        let a = find(rows, ours)?.cell(side).stat(m);
        let b = find(rows, libnbd)?.cell(Side::Libnbd).stat(m);
        ratio(a, b)
    };

    let all = |f: &dyn Fn(Side) -> Option<f64>| (f(Side::Ours), f(Side::Rust), f(Side::RustAsync));
    let only_ours = |v: Option<f64>| (v, None, None);
    let only_async = |v: Option<f64>| (None, None, v);
    // (what, wanted, judged side, (ours, Rust API, Rust async API))
    type Values = (Option<f64>, Option<f64>, Option<f64>);
    type Line = (&'static str, Want, Side, Values);
    let list: Vec<Line> =
        vec![
        (
            "W1 sequential read GiB/s, ours/libnbd",
            Want::AtLeast(1.15),
            Side::Ours,
            all(&|s| vs_libnbd("seq-read", Metric::GibPerSec, s)),
        ),
        (
            "W1 sequential read, ours/Unix-socket floor",
            Want::AtLeast(0.9),
            Side::Ours,
            all(&vs_floor),
        ),
        (
            "W3 4 KiB QD64 ops/s, ours/libnbd",
            Want::AtLeast(1.5),
            Side::Ours,
            all(&|s| vs_libnbd("rand-read-qd64", Metric::OpsPerSec, s)),
        ),
        (
            "W3 system calls per request",
            Want::AtMost(1.5),
            Side::Ours,
            all(&syscalls),
        ),
        (
            "W2 sync mean latency, ours/libnbd",
            Want::AtMost(0.9),
            Side::Ours,
            all(&|s| vs_libnbd("rand-read-qd1", Metric::LatencyUs, s)),
        ),
        (
            "W2 aio mean latency, ours/libnbd",
            Want::AtMost(0.9),
            Side::Ours,
            all(&|s| vs_libnbd("rand-read-qd1-aio", Metric::LatencyUs, s)),
        ),
        (
            "client CPU per GiB, 4 KiB QD64 (W3), ours/libnbd",
            Want::AtMost(0.6),
            Side::Ours,
            all(&|s| cpu_vs_libnbd("rand-read-qd64", s)),
        ),
        (
            "client CPU per GiB, 4 KiB QD1 (W2 sync), ours/libnbd",
            Want::AtMost(0.6),
            Side::Ours,
            all(&|s| cpu_vs_libnbd("rand-read-qd1", s)),
        ),
        (
            "W5 Python pread QD1 ops/s, ours/libnbd",
            Want::AtLeast(1.2),
            Side::Ours,
            only_ours(vs_libnbd("py-pread-qd1", Metric::OpsPerSec, Side::Ours)),
        ),
        (
            "W5 Python per-call cost (h.get_size()), ours/libnbd",
            Want::AtMost(0.7),
            Side::Ours,
            only_ours(vs_libnbd("py-get-size", Metric::LatencyUs, Side::Ours)),
        ),
        (
            "W5 Python aio 256 KiB x64 GiB/s, ours/libnbd",
            Want::AtLeast(1.0),
            Side::Ours,
            only_ours(vs_libnbd("py-aio-read", Metric::GibPerSec, Side::Ours)),
        ),
        (
            "W7 4 KiB x64 ops/s, one handle with 4 connections / libnbd one handle",
            Want::AtLeast(1.3),
            Side::Ours,
            all(&|s| vs_libnbd("one-handle-rand-read", Metric::OpsPerSec, s)),
        ),
        (
            "W7 256 KiB x64 GiB/s, one handle with 4 connections / libnbd 4 handles in 4 threads",
            Want::AtLeast(1.0),
            Side::Ours,
            all(&|s| {
                one_handle_vs_four("one-handle-seq-read", "multi-conn-read", Metric::GibPerSec, s)
            }),
        ),
        (
            "W7 4 KiB x64 ops/s, one handle with 4 connections / libnbd 4 handles in 4 threads",
            Want::AtLeast(1.0),
            Side::Ours,
            all(&|s| {
                one_handle_vs_four(
                    "one-handle-rand-read",
                    "multi-conn-rand-read",
                    Metric::OpsPerSec,
                    s,
                )
            }),
        ),
        (
            "W8 fio randread 4 KiB QD1 ops/s, ours/libnbd",
            Want::AtLeast(1.1),
            Side::Ours,
            only_ours(vs_libnbd("fio-randread-qd1", Metric::OpsPerSec, Side::Ours)),
        ),
        (
            "W8 fio randread 4 KiB QD64 ops/s, ours/libnbd",
            Want::AtLeast(1.3),
            Side::Ours,
            only_ours(vs_libnbd("fio-randread-qd64", Metric::OpsPerSec, Side::Ours)),
        ),
        (
            "W8 fio read 256 KiB QD64 GiB/s, ours/libnbd",
            Want::AtLeast(1.3),
            Side::Ours,
            only_ours(vs_libnbd("fio-read-256k-qd64", Metric::GibPerSec, Side::Ours)),
        ),
        (
            "W8 fio randwrite 4 KiB QD64 ops/s, ours/libnbd",
            Want::AtLeast(1.3),
            Side::Ours,
            only_ours(vs_libnbd("fio-randwrite-qd64", Metric::OpsPerSec, Side::Ours)),
        ),
        (
            "W3 4 KiB QD64 ops/s, Rust async / our aio (Rust API)",
            Want::AtLeast(1.0),
            Side::RustAsync,
            only_async(qd64_async_vs(Side::Rust)),
        ),
        (
            "W3 4 KiB QD64 ops/s, Rust async / libnbd",
            Want::AtLeast(1.3),
            Side::RustAsync,
            only_async(qd64_async_vs(Side::Libnbd)),
        ),
    ];
    list.into_iter()
        .map(|(what, want, judged, (ours, rust, rust_async))| Target {
            what,
            wanted: want.text(),
            ours,
            rust,
            rust_async,
            judged,
            met: want.met(match judged {
                Side::RustAsync => rust_async,
                Side::Rust => rust,
                Side::Ours | Side::Libnbd => ours,
            }),
        })
        .collect()
}

/// The targets; `met` judges the `ours` column, and says so when it
/// judges another side's.
pub fn targets_table(targets: &[Target]) -> String {
    let mut t = String::from(
        "| Target (nbdkit memory, medians) | Wanted | ours | met | ours, Rust API | ours, Rust async |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.3}"));
    for x in targets {
        let met = match x.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let met = match x.judged {
            Side::RustAsync => format!("{met} (Rust async)"),
            Side::Rust => format!("{met} (Rust API)"),
            Side::Ours | Side::Libnbd => met.to_string(),
        };
        t += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            x.what,
            x.wanted,
            f(x.ours),
            met,
            f(x.rust),
            f(x.rust_async)
        );
    }
    t
}

/// Which side could not be built, and why, in full.
pub fn notes(built: &[(&str, &Built)]) -> String {
    let mut t = String::new();
    for (name, b) in built {
        if let Err(r) = b {
            t += &format!("- {name}: not built: {r}\n");
        }
    }
    t
}

fn stat_json(s: Option<Stat>) -> Value {
    s.map_or(
        Value::Null,
        |s| json!({"median": s.median, "min": s.min, "max": s.max}),
    )
}

pub fn rows_json(rows: &[Row]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut sides = serde_json::Map::new();
            for (side, cell) in SIDES.iter().zip(&r.cells) {
                if !cell.applies() {
                    continue;
                }
                let mut metrics = serde_json::Map::new();
                for &m in r.workload.metrics {
                    metrics.insert(m.key().into(), stat_json(cell.stat(m)));
                }
                sides.insert(
                    side.key().into(),
                    json!({
                        "built": match &cell.built { Some(Err(e)) => json!({"error": e}), _ => json!(true) },
                        "lib": cell.samples.first().map(|s| s.lib.clone()),
                        "version": cell.samples.first().map(|s| s.version.clone()),
                        "multi_conn": cell.samples.first().and_then(|s| s.multi_conn),
                        "metrics": metrics,
                        "cpu_per_gib": stat_json(cell.cpu()),
                        "syscalls": match &cell.syscalls {
                            Some(Ok(s)) => s.json(),
                            Some(Err(e)) => json!({"error": e}),
                            None => Value::Null,
                        },
                        "samples": cell.samples.iter().map(Sample::json).collect::<Vec<_>>(),
                        "errors": cell.errors,
                    }),
                );
            }
            json!({
                "workload": r.workload.id,
                "program_arg": r.workload.arg,
                "title": r.workload.title,
                "server": r.server.key(),
                "sides": sides,
            })
        })
        .collect();
    Value::Array(rows)
}

pub fn floor_json(floor: &[FloorRow]) -> Value {
    Value::Array(
        floor
            .iter()
            .map(|f| {
                let mut metrics = serde_json::Map::new();
                for &m in f.metrics {
                    metrics.insert(m.key().into(), stat_json(stat(&f.samples.iter().map(|s| value(s, m)).collect::<Vec<_>>())));
                }
                json!({"name": f.name, "metrics": metrics, "samples": f.samples.iter().map(Sample::json).collect::<Vec<_>>(), "errors": f.errors})
            })
            .collect(),
    )
}

pub fn targets_json(targets: &[Target]) -> Value {
    Value::Array(
        targets
            .iter()
            .map(|t| json!({"target": t.what, "wanted": t.wanted, "ours": t.ours, "rust": t.rust, "rust_async": t.rust_async, "judged_on": t.judged.key(), "met": t.met}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::plan::WORKLOADS;
    use crate::bench::sides::NOT_APPLICABLE;

    fn sample(secs: f64) -> Sample {
        Sample {
            ops: 4096,
            bytes: 1 << 30,
            secs,
            user: 0.1,
            sys: 0.2,
            lat_us: 0.0,
            lib: String::new(),
            version: String::new(),
            multi_conn: None,
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = stat(&[3.0, 1.0, 2.0]).expect("stat");
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(stat(&[1.0, 2.0, 3.0, 10.0]).expect("stat").median, 2.5);
        assert!(stat(&[]).is_none());
    }

    fn ok() -> Built {
        Ok(super::super::sides::Program {
            argv: vec![],
            env: vec![],
            lib_must_contain: None,
            lib_must_not_contain: None,
        })
    }

    fn workload(arg: &str) -> &'static Workload {
        WORKLOADS.iter().find(|w| w.arg == arg).expect("workload")
    }

    #[test]
    fn a_side_that_did_not_build_says_why_and_gets_no_numbers() {
        let w = &WORKLOADS[0];
        let missing: Built = Err("`cargo xtask install` does not exist yet".into());
        let mut row = Row::new(w, ServerKind::NbdkitMemory, [&ok(), &missing, &ok(), &ok()]);
        row.cells[0].samples = vec![sample(0.5), sample(0.25), sample(1.0)];
        row.cells[2].samples = vec![sample(0.25)];
        row.cells[3].samples = vec![sample(0.5)];
        let table = main_table(&[row]);
        assert!(table.contains("| 2.00 (1.00–4.00) | not built: `cargo xtask install` does not exist yet | — | 4.00 | 2.00x | 2.00 | 1.00x |"), "{table}");
        assert!(table.starts_with("| Workload | Server | Metric | libnbd 1.14 | ours | ours/libnbd | ours, Rust API | Rust/libnbd | ours, Rust async | async/libnbd |\n"), "{table}");
    }

    #[test]
    fn a_workload_the_async_side_does_not_run_shows_a_dash_everywhere() {
        let w = workload("rand-read-qd1-aio");
        let mut row = Row::new(
            w,
            ServerKind::NbdkitMemory,
            [&ok(), &ok(), &ok(), &NOT_APPLICABLE],
        );
        for c in &mut row.cells[..3] {
            c.samples = vec![sample(0.5)];
        }
        assert!(!row.cells[3].applies());
        let rows = [row];
        let table = main_table(&rows);
        assert!(
            table.contains("| 8192 | 1.00x | 8192 | 1.00x | — | — |\n"),
            "{table}"
        );
        let cost = cost_table(&rows);
        assert!(cost.contains("| — | — | — | — | — |\n"), "{cost}");
        let json = rows_json(&rows);
        let sides = json[0]["sides"].as_object().expect("sides");
        assert!(sides.contains_key("rust") && !sides.contains_key("rust-async"));
    }

    #[test]
    fn the_async_targets_are_judged_on_the_async_side() {
        let w = workload("rand-read-qd64");
        let missing: Built = Err("`cargo xtask install` does not exist yet".into());
        let row = |rust: f64, asynch: f64| {
            let mut row = Row::new(w, ServerKind::NbdkitMemory, [&ok(), &missing, &ok(), &ok()]);
            row.cells[0].samples = vec![sample(1.0)];
            row.cells[2].samples = vec![sample(rust)];
            row.cells[3].samples = vec![sample(asynch)];
            row
        };
        let pick = |targets: &[Target],
                    what: &str|
         -> (Option<f64>, Option<f64>, Option<f64>, Option<bool>) {
            let t = targets.iter().find(|t| t.what == what).expect(what);
            assert_eq!(t.judged, Side::RustAsync);
            (t.ours, t.rust, t.rust_async, t.met)
        };
        let vs_aio = "W3 4 KiB QD64 ops/s, Rust async / our aio (Rust API)";
        let vs_libnbd = "W3 4 KiB QD64 ops/s, Rust async / libnbd";

        // Async 2.5x libnbd and 1.25x the Rust API's aio window: both met,
        // though ours (C) was not built.
        let t = targets(&[row(0.5, 0.4)], &[]);
        assert_eq!(pick(&t, vs_aio), (None, None, Some(1.25), Some(true)));
        assert_eq!(pick(&t, vs_libnbd), (None, None, Some(2.5), Some(true)));
        let table = targets_table(&t);
        assert!(
            table.contains(&format!(
                "| {vs_aio} | >= 1.00 | — | yes (Rust async) | — | 1.250 |"
            )),
            "{table}"
        );
        assert!(
            table.contains(&format!(
                "| {vs_libnbd} | >= 1.30 | — | yes (Rust async) | — | 2.500 |"
            )),
            "{table}"
        );
        let json = targets_json(&t);
        let j = json
            .as_array()
            .expect("array")
            .iter()
            .find(|j| j["target"] == vs_libnbd)
            .expect("target");
        assert_eq!(
            (j["judged_on"].as_str(), j["met"].as_bool()),
            (Some("rust-async"), Some(true))
        );

        // Async slower than the aio window and only 1.25x libnbd: neither.
        let t = targets(&[row(0.5, 0.8)], &[]);
        assert_eq!(pick(&t, vs_aio), (None, None, Some(0.625), Some(false)));
        assert_eq!(pick(&t, vs_libnbd), (None, None, Some(1.25), Some(false)));
        assert!(targets_table(&t).contains("| **no** (Rust async) |"));

        // The W3 target on ours stays judged on ours: not measured here.
        let w3 = t
            .iter()
            .find(|t| t.what == "W3 4 KiB QD64 ops/s, ours/libnbd")
            .expect("W3");
        assert_eq!(
            (w3.judged, w3.met, w3.rust_async),
            (Side::Ours, None, Some(1.25))
        );
    }
}

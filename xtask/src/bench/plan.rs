//! What the bench runs: the workloads, which servers each one meets, and
//! how much work one run does in each mode.

use super::servers::ServerKind;

/// Which benchmark programs run a workload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    /// bench/c/bench.c (twice: libnbd, ours) and the Rust harness (its
    /// `Handle` side, and its `AsyncHandle` side where `rust_async`).
    C,
    /// bench/python/bench.py under each module.
    Python,
    /// Debian's fio (ioengine=nbd) through bench/fio/fio_bench.py, on
    /// Debian's libnbd.so.0 and on ours.
    Fio,
}

/// One number derived from a run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Metric {
    GibPerSec,
    OpsPerSec,
    /// Mean request latency at queue depth 1; lower is better.
    LatencyUs,
}

impl Metric {
    pub fn unit(self) -> &'static str {
        match self {
            Metric::GibPerSec => "GiB/s",
            Metric::OpsPerSec => "ops/s",
            Metric::LatencyUs => "mean µs (lower is better)",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Metric::GibPerSec => "gib_per_sec",
            Metric::OpsPerSec => "ops_per_sec",
            Metric::LatencyUs => "latency_us",
        }
    }
}

/// How a workload's AMOUNT argument is sized.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Size {
    /// Bytes of a sequential or multi-connection transfer.
    Stream,
    /// Random requests one at a time (C, Rust).
    Qd1,
    /// Random requests 64 at a time.
    Qd64,
    /// Random `h.pread` calls one at a time from Python.
    PyQd1,
    /// Python calls that do not touch the server (`h.get_size()`).
    PyCalls,
}

pub struct Workload {
    /// The name: W1 ... W8.
    pub id: &'static str,
    /// The workload argument of the programs.
    pub arg: &'static str,
    pub title: &'static str,
    pub lang: Lang,
    pub size: Size,
    pub metrics: &'static [Metric],
    pub servers: &'static [ServerKind],
    /// Whether the Rust harness runs it through `AsyncHandle` too
    /// (`nbd-bench --async`): not the aio-and-poll workload, which
    /// measures those calls, nor the Python ones.
    pub rust_async: bool,
}

use ServerKind::*;

const ALL_SERVERS: &[ServerKind] = &[NbdkitMemory, NbdkitNull, QemuNbd, NbdServer];
const MEMORY: &[ServerKind] = &[NbdkitMemory];

pub const WORKLOADS: &[Workload] = &[
    Workload {
        id: "W1",
        arg: "seq-read",
        title: "sequential read, 256 KiB x 64 in flight",
        lang: Lang::C,
        size: Size::Stream,
        metrics: &[Metric::GibPerSec],
        servers: ALL_SERVERS,
        rust_async: true,
    },
    Workload {
        id: "W2",
        arg: "rand-read-qd1",
        title: "random 4 KiB reads, QD1, sync nbd_pread",
        lang: Lang::C,
        size: Size::Qd1,
        metrics: &[Metric::OpsPerSec, Metric::LatencyUs],
        servers: ALL_SERVERS,
        rust_async: true,
    },
    Workload {
        id: "W2",
        arg: "rand-read-qd1-aio",
        title: "random 4 KiB reads, QD1, aio_pread + poll",
        lang: Lang::C,
        size: Size::Qd1,
        metrics: &[Metric::OpsPerSec, Metric::LatencyUs],
        servers: MEMORY,
        rust_async: false,
    },
    Workload {
        id: "W3",
        arg: "rand-read-qd64",
        title: "random 4 KiB reads, 64 in flight",
        lang: Lang::C,
        size: Size::Qd64,
        metrics: &[Metric::OpsPerSec],
        servers: ALL_SERVERS,
        rust_async: true,
    },
    Workload {
        id: "W4",
        arg: "seq-write",
        title: "sequential write, 256 KiB x 64 in flight",
        lang: Lang::C,
        size: Size::Stream,
        metrics: &[Metric::GibPerSec],
        servers: ALL_SERVERS,
        rust_async: true,
    },
    Workload {
        id: "W6",
        arg: "multi-conn-read",
        title: "4 connections x 16 in flight, 256 KiB reads, one thread each",
        lang: Lang::C,
        size: Size::Stream,
        metrics: &[Metric::GibPerSec],
        servers: MEMORY,
        rust_async: true,
    },
    Workload {
        id: "W7",
        arg: "one-handle-seq-read",
        title: "one handle, 4 connections (libnbd: 1), 256 KiB reads x 64 in flight",
        lang: Lang::C,
        size: Size::Stream,
        metrics: &[Metric::GibPerSec],
        servers: MEMORY,
        rust_async: true,
    },
    Workload {
        id: "W7",
        arg: "one-handle-rand-read",
        title: "one handle, 4 connections (libnbd: 1), random 4 KiB reads x 64 in flight",
        lang: Lang::C,
        size: Size::Qd64,
        metrics: &[Metric::OpsPerSec],
        servers: MEMORY,
        rust_async: true,
    },
    Workload {
        id: "W7",
        arg: "multi-conn-rand-read",
        title: "4 handles x 16 in flight, random 4 KiB reads, one thread each (W6 shape)",
        lang: Lang::C,
        size: Size::Qd64,
        metrics: &[Metric::OpsPerSec],
        servers: MEMORY,
        rust_async: false,
    },
    Workload {
        id: "W8",
        arg: "fio-randread-qd1",
        title: "fio randread 4 KiB, QD1",
        lang: Lang::Fio,
        size: Size::Qd1,
        metrics: &[Metric::OpsPerSec, Metric::LatencyUs],
        servers: MEMORY,
        rust_async: false,
    },
    Workload {
        id: "W8",
        arg: "fio-randread-qd64",
        title: "fio randread 4 KiB, QD64",
        lang: Lang::Fio,
        size: Size::Qd64,
        metrics: &[Metric::OpsPerSec],
        servers: MEMORY,
        rust_async: false,
    },
    Workload {
        id: "W8",
        arg: "fio-read-256k-qd64",
        title: "fio read 256 KiB, QD64",
        lang: Lang::Fio,
        size: Size::Stream,
        metrics: &[Metric::GibPerSec],
        servers: MEMORY,
        rust_async: false,
    },
    Workload {
        id: "W8",
        arg: "fio-randwrite-qd64",
        title: "fio randwrite 4 KiB, QD64",
        lang: Lang::Fio,
        size: Size::Qd64,
        metrics: &[Metric::OpsPerSec],
        servers: MEMORY,
        rust_async: false,
    },
    Workload {
        id: "W5",
        arg: "py-pread-qd1",
        title: "Python h.pread(4096, off) loop, QD1",
        lang: Lang::Python,
        size: Size::PyQd1,
        metrics: &[Metric::OpsPerSec, Metric::LatencyUs],
        servers: MEMORY,
        rust_async: false,
    },
    Workload {
        id: "W5",
        arg: "py-get-size",
        title: "Python h.get_size() loop: the binding's cost per call",
        lang: Lang::Python,
        size: Size::PyCalls,
        metrics: &[Metric::OpsPerSec, Metric::LatencyUs],
        servers: MEMORY,
        rust_async: false,
    },
    Workload {
        id: "W5",
        arg: "py-aio-read",
        title: "Python aio_pread, nbd.Buffer 256 KiB x 64 in flight",
        lang: Lang::Python,
        size: Size::Stream,
        metrics: &[Metric::GibPerSec],
        servers: MEMORY,
        rust_async: false,
    },
];

/// How much one run does.
#[derive(Clone, Copy, Debug)]
pub struct Amounts {
    pub stream_bytes: u64,
    pub qd1_ops: u64,
    pub qd64_ops: u64,
    pub py_qd1_ops: u64,
    pub py_calls: u64,
}

impl Amounts {
    pub fn of(&self, size: Size) -> u64 {
        match size {
            Size::Stream => self.stream_bytes,
            Size::Qd1 => self.qd1_ops,
            Size::Qd64 => self.qd64_ops,
            Size::PyQd1 => self.py_qd1_ops,
            Size::PyCalls => self.py_calls,
        }
    }
}

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The sizes of one mode of the bench.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    pub name: &'static str,
    pub runs: usize,
    pub export_size: u64,
    /// The timed runs.
    pub timed: Amounts,
    /// The separate pass under `strace -c -f` (smaller: tracing is slow).
    pub counted: Amounts,
    pub floor_stream_bytes: u64,
    pub floor_pingpong_ops: u64,
}

pub const FULL: Mode = Mode {
    name: "full",
    runs: 5,
    export_size: GIB,
    timed: Amounts {
        stream_bytes: GIB,
        qd1_ops: 10_000,
        qd64_ops: 50_000,
        py_qd1_ops: 10_000,
        py_calls: 1_000_000,
    },
    counted: Amounts {
        stream_bytes: 256 * MIB,
        qd1_ops: 2_000,
        qd64_ops: 10_000,
        py_qd1_ops: 2_000,
        py_calls: 100_000,
    },
    floor_stream_bytes: GIB,
    floor_pingpong_ops: 10_000,
};

pub const QUICK: Mode = Mode {
    name: "quick",
    runs: 1,
    export_size: 64 * MIB,
    timed: Amounts {
        stream_bytes: 32 * MIB,
        qd1_ops: 500,
        qd64_ops: 2_000,
        py_qd1_ops: 500,
        py_calls: 100_000,
    },
    counted: Amounts {
        stream_bytes: 16 * MIB,
        qd1_ops: 200,
        qd64_ops: 1_000,
        py_qd1_ops: 200,
        py_calls: 50_000,
    },
    floor_stream_bytes: 32 * MIB,
    floor_pingpong_ops: 500,
};

//! The Rust sides of `cargo xtask bench`: the workloads of bench/c/bench.c,
//! step for step, through the `nbd` crate's `Handle` API, or with `--async`
//! through its tokio API `AsyncHandle` (async_side.rs), printed as the same
//! JSON line.
//!
//! Usage: nbd-bench [--async] WORKLOAD URI AMOUNT   (workloads as in
//! bench/c/bench.c; `--async` runs all but rand-read-qd1-aio and
//! multi-conn-rand-read)

mod async_side;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use nbd::{AioBuffer, Handle};

const KIB: usize = 1024;
const STREAM_REQUEST: usize = 256 * KIB;
const STREAM_QD: usize = 64;
const RANDOM_REQUEST: usize = 4 * KIB;
const RANDOM_QD: usize = 64;
const CONNS: usize = 4;

type Res<T> = Result<T, String>;

fn ctx<T>(what: &str, r: nbd::Result<T>) -> Res<T> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// CPU seconds (user, system) of this process, every thread included.
fn cpu() -> (f64, f64) {
    // SAFETY: getrusage writes one rusage struct, which we own.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

/// bench.c's generator: xorshift64 with the same seed, so the same offsets.
struct Xorshift(u64);

impl Xorshift {
    fn new() -> Xorshift {
        Xorshift(0x9E37_79B9_7F4A_7C15)
    }
    /// The generator of bench.c's thread `i` in multi-conn-rand-read.
    fn for_thread(i: usize) -> Xorshift {
        Xorshift(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn offset(&mut self, size: u64) -> u64 {
        (self.next() % (size / RANDOM_REQUEST as u64)) * RANDOM_REQUEST as u64
    }
}

fn open(uri: &str, conns: i32) -> Res<Handle> {
    let h = ctx("Handle::new", Handle::new())?;
    ctx("set_connections", h.set_connections(conns))?;
    ctx("connect_uri", h.connect_uri(uri))?;
    Ok(h)
}

/// bench.c's one-handle workloads: seq-read and rand-read-qd64 on one
/// handle asking for CONNS connections. Returns the workload to run and
/// the connections to ask for.
fn one_handle(workload: &str) -> (&str, i32) {
    match workload {
        "one-handle-seq-read" => ("seq-read", CONNS as i32),
        "one-handle-rand-read" => ("rand-read-qd64", CONNS as i32),
        w => (w, 1),
    }
}

/// Slots of a fixed window of requests in flight. Completion callbacks run
/// inside `poll`, and must be `Send`, so the free set is an atomic bitmask
/// rather than bench.c's plain stack; an uncontended atomic costs about as
/// much as the stack push.
struct Window {
    bufs: Vec<AioBuffer>,
    state: Arc<WindowState>,
}

/// What completion callbacks update: one `Arc` clone per request.
struct WindowState {
    free: AtomicU64,
    completed: AtomicU64,
    errors: AtomicU64,
}

impl Window {
    fn new(qd: usize, request: usize) -> Window {
        assert!(qd <= 64);
        let bufs = (0..qd)
            .map(|i| AioBuffer::from_vec(vec![0x55u8.wrapping_add(i as u8); request]))
            .collect();
        let mask = if qd == 64 { u64::MAX } else { (1u64 << qd) - 1 };
        let state = WindowState {
            free: AtomicU64::new(mask),
            completed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        };
        Window {
            bufs,
            state: Arc::new(state),
        }
    }

    /// `nreq` requests of `request` bytes; request i at `start + i *
    /// request`, or at a random offset when `rng` is given.
    fn run(
        &self,
        h: &Handle,
        nreq: u64,
        request: usize,
        start: u64,
        write: bool,
        mut rng: Option<(&mut Xorshift, u64)>,
    ) -> Res<()> {
        let mut issued = 0u64;
        while self.state.completed.load(Ordering::Relaxed) < nreq {
            while issued < nreq {
                let free = self.state.free.load(Ordering::Acquire);
                if free == 0 {
                    break;
                }
                let slot = free.trailing_zeros() as usize;
                self.state.free.fetch_and(!(1u64 << slot), Ordering::AcqRel);
                let offset = match rng.as_mut() {
                    Some((r, size)) => r.offset(*size),
                    None => start + issued * request as u64,
                };
                let state = self.state.clone();
                let done: nbd::CompletionCallback = Box::new(move |error: &mut i32| {
                    if *error != 0 {
                        state.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    state.free.fetch_or(1u64 << slot, Ordering::AcqRel);
                    state.completed.fetch_add(1, Ordering::Relaxed);
                    1 // retire the command
                });
                let buf = self.bufs[slot].clone();
                let r = if write {
                    h.aio_pwrite(buf, offset, Some(done), None)
                } else {
                    h.aio_pread(buf, offset, Some(done), None)
                };
                ctx(if write { "aio_pwrite" } else { "aio_pread" }, r)?;
                issued += 1;
            }
            if self.state.completed.load(Ordering::Relaxed) < nreq {
                ctx("poll", h.poll(-1))?;
            }
        }
        match self.state.errors.load(Ordering::Relaxed) {
            0 => Ok(()),
            n => Err(format!("{n} requests failed")),
        }
    }
}

struct Outcome {
    ops: u64,
    bytes: u64,
    secs: f64,
    user: f64,
    sys: f64,
    lat_us: f64,
}

impl Outcome {
    /// What a timed section did: `ops` requests moving `bytes`, from the
    /// start time and CPU times `t0`/`c0` until now, with `lat` seconds
    /// of summed request latency (QD1 only, else 0).
    fn since(ops: u64, bytes: u64, lat: f64, t0: Instant, c0: (f64, f64)) -> Outcome {
        let secs = t0.elapsed().as_secs_f64();
        let c1 = cpu();
        let lat_us = if ops > 0 && lat > 0.0 {
            lat / ops as f64 * 1e6
        } else {
            0.0
        };
        Outcome {
            ops,
            bytes,
            secs,
            user: c1.0 - c0.0,
            sys: c1.1 - c0.1,
            lat_us,
        }
    }
}

fn run(workload: &str, uri: &str, amount: u64) -> Res<(Outcome, bool, String)> {
    let (workload, conns) = one_handle(workload);
    let multi = matches!(workload, "multi-conn-read" | "multi-conn-rand-read");
    let nconn = if multi { CONNS } else { 1 };
    let handles: Vec<Handle> = (0..nconn).map(|_| open(uri, conns)).collect::<Res<_>>()?;
    let h = &handles[0];
    let size = ctx("get_size", h.get_size())? as u64;
    let multi_conn = ctx("can_multi_conn", h.can_multi_conn())?;
    let version = h.get_version().to_string();

    let (mut ops, mut bytes, mut lat) = (0u64, 0u64, 0f64);
    let mut t0 = Instant::now();
    let mut c0 = cpu();
    match workload {
        _ if amount == 0 => {}
        "seq-read" | "seq-write" => {
            let w = Window::new(STREAM_QD, STREAM_REQUEST);
            t0 = Instant::now();
            c0 = cpu();
            ops = amount / STREAM_REQUEST as u64;
            w.run(h, ops, STREAM_REQUEST, 0, workload == "seq-write", None)?;
            bytes = ops * STREAM_REQUEST as u64;
        }
        "rand-read-qd1" => {
            let mut rng = Xorshift::new();
            let mut buf = vec![0u8; RANDOM_REQUEST];
            for _ in 0..amount {
                let a = Instant::now();
                ctx("pread", h.pread(&mut buf, rng.offset(size), None))?;
                lat += a.elapsed().as_secs_f64();
            }
            ops = amount;
            bytes = ops * RANDOM_REQUEST as u64;
        }
        "rand-read-qd1-aio" => {
            let mut rng = Xorshift::new();
            let buf = AioBuffer::new(RANDOM_REQUEST);
            for _ in 0..amount {
                let a = Instant::now();
                let cookie = ctx(
                    "aio_pread",
                    h.aio_pread(buf.clone(), rng.offset(size), None, None),
                )?;
                while !ctx("aio_command_completed", h.aio_command_completed(cookie))? {
                    ctx("poll", h.poll(-1))?;
                }
                lat += a.elapsed().as_secs_f64();
            }
            ops = amount;
            bytes = ops * RANDOM_REQUEST as u64;
        }
        "rand-read-qd64" => {
            let w = Window::new(RANDOM_QD, RANDOM_REQUEST);
            let mut rng = Xorshift::new();
            t0 = Instant::now();
            c0 = cpu();
            ops = amount;
            w.run(h, ops, RANDOM_REQUEST, 0, false, Some((&mut rng, size)))?;
            bytes = ops * RANDOM_REQUEST as u64;
        }
        "multi-conn-read" | "multi-conn-rand-read" => {
            let random = workload == "multi-conn-rand-read";
            let (qd, request) = if random {
                (RANDOM_QD / CONNS, RANDOM_REQUEST)
            } else {
                (STREAM_QD / CONNS, STREAM_REQUEST)
            };
            let per = if random {
                amount / CONNS as u64
            } else {
                amount / CONNS as u64 / STREAM_REQUEST as u64 * STREAM_REQUEST as u64
            };
            let go = Barrier::new(CONNS + 1);
            let result: Res<()> = std::thread::scope(|s| {
                let threads: Vec<_> = handles
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        let go = &go;
                        s.spawn(move || {
                            let w = Window::new(qd, request);
                            let mut rng = Xorshift::for_thread(i);
                            go.wait();
                            if random {
                                w.run(h, per, request, 0, false, Some((&mut rng, size)))
                            } else {
                                w.run(
                                    h,
                                    per / request as u64,
                                    request,
                                    i as u64 * per,
                                    false,
                                    None,
                                )
                            }
                        })
                    })
                    .collect();
                go.wait();
                t0 = Instant::now();
                c0 = cpu();
                threads
                    .into_iter()
                    .try_for_each(|t| t.join().unwrap_or_else(|_| Err("thread panicked".into())))
            });
            result?;
            if random {
                ops = per * CONNS as u64;
                bytes = ops * RANDOM_REQUEST as u64;
            } else {
                ops = per / STREAM_REQUEST as u64 * CONNS as u64;
                bytes = per * CONNS as u64;
            }
        }
        other => return Err(format!("unknown workload {other}")),
    }
    let outcome = Outcome::since(ops, bytes, lat, t0, c0);
    for h in &handles {
        ctx("shutdown", h.shutdown(None))?;
    }
    drop(handles);
    Ok((outcome, multi_conn, version))
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let asynch = args.first().is_some_and(|a| a == "--async");
    if asynch {
        args.remove(0);
    }
    let [workload, uri, amount] = args.as_slice() else {
        eprintln!("usage: nbd-bench [--async] WORKLOAD URI AMOUNT");
        std::process::exit(2);
    };
    let Ok(amount) = amount.parse::<u64>() else {
        eprintln!("nbd-bench: AMOUNT must be a number");
        std::process::exit(2);
    };
    let (result, side, lib) = if asynch {
        (
            async_side::run(workload, uri, amount),
            "rust-async",
            "nbd-core (Rust, static, tokio AsyncHandle)",
        )
    } else {
        (
            run(workload, uri, amount),
            "rust",
            "nbd-core (Rust, static)",
        )
    };
    match result {
        Ok((o, multi_conn, version)) => println!(
            "{{\"workload\": \"{workload}\", \"side\": \"{side}\", \"lib\": \"{lib}\", \
             \"version\": \"{version}\", \"ops\": {}, \"bytes\": {}, \"secs\": {:.6}, \"user\": {:.6}, \
             \"sys\": {:.6}, \"lat_us\": {:.3}, \"multi_conn\": {multi_conn}}}",
            o.ops, o.bytes, o.secs, o.user, o.sys, o.lat_us
        ),
        Err(e) => {
            eprintln!("nbd-bench: {workload}: {e}");
            std::process::exit(1);
        }
    }
}

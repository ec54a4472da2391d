//! `nbd-bench --async`: the same workloads through `nbd::AsyncHandle` on a
//! current-thread tokio runtime (one thread, like bench.c's event loop;
//! W6, whose C side gives each connection a thread, on a runtime with a
//! worker per connection).
//!
//! A window of `qd` requests in flight is `qd` tasks, each with a buffer
//! of its own, each awaiting one `pread`/`pwrite` after another until no
//! request is left; the requests (their offsets, in bench.c's order, from
//! the same xorshift generator for the random workloads) are handed out
//! one at a time to whichever task is free, so the set of requests is the
//! sync side's and `qd` commands are in flight while any remain. The
//! 4 KiB workloads use `pread`, the calls of `Handle` (one copy through
//! the handle's own buffers); the 256 KiB streams use `pread_owned` and
//! `pwrite_owned`, the bulk path that lends the vector to the engine.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use nbd::AsyncHandle;
use tokio::task::JoinHandle;

use crate::{
    cpu, ctx, Outcome, Res, Xorshift, CONNS, RANDOM_QD, RANDOM_REQUEST, STREAM_QD, STREAM_REQUEST,
};

async fn open(uri: &str, conns: i32) -> Res<AsyncHandle> {
    let h = ctx("AsyncHandle::new", AsyncHandle::new())?;
    ctx("set_connections", h.set_connections(conns))?;
    ctx("connect_uri", h.connect_uri(uri).await)?;
    Ok(h)
}

/// The requests of one window: `nreq` of `request` bytes, request i at
/// `start + i * request`, or at the generator's next offset.
struct Requests {
    nreq: u64,
    request: u64,
    start: u64,
    /// Requests handed out so far, and the generator with the export size.
    next: Mutex<(u64, Option<(Xorshift, u64)>)>,
}

impl Requests {
    fn new(nreq: u64, request: usize, start: u64, rng: Option<(Xorshift, u64)>) -> Arc<Requests> {
        Arc::new(Requests {
            nreq,
            request: request as u64,
            start,
            next: Mutex::new((0, rng)),
        })
    }

    /// The offset of the next request, or None when all were handed out.
    fn take(&self) -> Option<u64> {
        let mut g = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let (issued, rng) = &mut *g;
        if *issued >= self.nreq {
            return None;
        }
        let offset = match rng {
            Some((r, size)) => r.offset(*size),
            None => self.start + *issued * self.request,
        };
        *issued += 1;
        Some(offset)
    }
}

/// What a window's task saw go wrong: how many requests failed, and the
/// first failure's message.
#[derive(Default)]
struct Failures {
    count: u64,
    first: Option<String>,
}

/// How a window's tasks hand their buffers to the handle.
#[derive(Clone, Copy)]
enum Buffers {
    /// `pread(&mut buf)` / `pwrite(&buf)`: the calls of `Handle`, one
    /// copy each through the handle's own buffers (4 KiB requests).
    Borrowed,
    /// `pread_owned` / `pwrite_owned`: the vector goes to the engine and
    /// comes back, no copy (the bulk path, for 256 KiB requests).
    Owned,
}

/// Spawn the `qd` tasks of a window. They start running when the caller
/// first awaits (the runtime has one thread), so the caller starts its
/// clock after this.
fn spawn_window(
    h: &AsyncHandle,
    qd: usize,
    request: usize,
    write: bool,
    buffers: Buffers,
    reqs: &Arc<Requests>,
) -> Vec<JoinHandle<Failures>> {
    (0..qd)
        .map(|i| {
            let h = h.clone();
            let reqs = reqs.clone();
            // bench.c's slot buffers: slot i filled with 0x55 + i.
            let fill = 0x55u8.wrapping_add(i as u8);
            let mut buf = vec![fill; request];
            tokio::spawn(async move {
                let mut f = Failures::default();
                while let Some(offset) = reqs.take() {
                    let what = if write { "pwrite" } else { "pread" };
                    let r = match (buffers, write) {
                        (Buffers::Borrowed, true) => h.pwrite(&buf, offset, None).await,
                        (Buffers::Borrowed, false) => h.pread(&mut buf, offset, None).await,
                        (Buffers::Owned, _) => {
                            let lent = std::mem::take(&mut buf);
                            let (r, back) = if write {
                                h.pwrite_owned(lent, offset, None).await
                            } else {
                                h.pread_owned(lent, offset, None).await
                            };
                            // Empty only after an error, which fails the
                            // run anyway; keep the sizes right meanwhile.
                            buf = if back.len() == request {
                                back
                            } else {
                                vec![fill; request]
                            };
                            r
                        }
                    };
                    if let Err(e) = r {
                        f.count += 1;
                        f.first
                            .get_or_insert_with(|| format!("{what} at {offset}: {e}"));
                    }
                }
                f
            })
        })
        .collect()
}

/// Wait for every task; any failed request fails the run.
async fn join(tasks: Vec<JoinHandle<Failures>>) -> Res<()> {
    let mut all = Failures::default();
    for t in tasks {
        let f = t.await.map_err(|e| format!("task: {e}"))?;
        all.count += f.count;
        if all.first.is_none() {
            all.first = f.first;
        }
    }
    match all.count {
        0 => Ok(()),
        n => Err(format!(
            "{n} requests failed, the first: {}",
            all.first.unwrap_or_default()
        )),
    }
}

async fn workloads(workload: &str, uri: &str, amount: u64) -> Res<(Outcome, bool, String)> {
    if workload == "rand-read-qd1-aio" {
        return Err("measures the aio calls with nbd_poll, so it has no AsyncHandle form".into());
    }
    if workload == "multi-conn-rand-read" {
        return Err("the W6 shape of W7 is measured on the C and Rust API sides only".into());
    }
    let (workload, conns) = crate::one_handle(workload);
    let multi = workload == "multi-conn-read";
    let nconn = if multi { CONNS } else { 1 };
    let mut handles = Vec::with_capacity(nconn);
    for _ in 0..nconn {
        handles.push(open(uri, conns).await?);
    }
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
            ops = amount / STREAM_REQUEST as u64;
            let reqs = Requests::new(ops, STREAM_REQUEST, 0, None);
            let tasks = spawn_window(
                h,
                STREAM_QD,
                STREAM_REQUEST,
                workload == "seq-write",
                Buffers::Owned,
                &reqs,
            );
            t0 = Instant::now();
            c0 = cpu();
            join(tasks).await?;
            bytes = ops * STREAM_REQUEST as u64;
        }
        "rand-read-qd1" => {
            let mut rng = Xorshift::new();
            let mut buf = vec![0u8; RANDOM_REQUEST];
            for _ in 0..amount {
                let a = Instant::now();
                ctx("pread", h.pread(&mut buf, rng.offset(size), None).await)?;
                lat += a.elapsed().as_secs_f64();
            }
            ops = amount;
            bytes = ops * RANDOM_REQUEST as u64;
        }
        "rand-read-qd64" => {
            ops = amount;
            let reqs = Requests::new(ops, RANDOM_REQUEST, 0, Some((Xorshift::new(), size)));
            let tasks = spawn_window(
                h,
                RANDOM_QD,
                RANDOM_REQUEST,
                false,
                Buffers::Borrowed,
                &reqs,
            );
            t0 = Instant::now();
            c0 = cpu();
            join(tasks).await?;
            bytes = ops * RANDOM_REQUEST as u64;
        }
        "multi-conn-read" => {
            // bench.c's split: connection i reads its own `per` bytes,
            // STREAM_QD / CONNS in flight on each, on the runtime's
            // CONNS worker threads.
            let per = amount / CONNS as u64 / STREAM_REQUEST as u64 * STREAM_REQUEST as u64;
            let mut tasks = Vec::new();
            for (i, h) in handles.iter().enumerate() {
                let reqs = Requests::new(
                    per / STREAM_REQUEST as u64,
                    STREAM_REQUEST,
                    i as u64 * per,
                    None,
                );
                tasks.extend(spawn_window(
                    h,
                    STREAM_QD / CONNS,
                    STREAM_REQUEST,
                    false,
                    Buffers::Owned,
                    &reqs,
                ));
            }
            t0 = Instant::now();
            c0 = cpu();
            join(tasks).await?;
            ops = per / STREAM_REQUEST as u64 * CONNS as u64;
            bytes = per * CONNS as u64;
        }
        other => return Err(format!("unknown workload {other}")),
    }
    let outcome = Outcome::since(ops, bytes, lat, t0, c0);
    for h in &handles {
        ctx("shutdown", h.shutdown(None).await)?;
    }
    drop(handles);
    Ok((outcome, multi_conn, version))
}

/// Run one workload through `AsyncHandle` on a fresh runtime.
pub fn run(workload: &str, uri: &str, amount: u64) -> Res<(Outcome, bool, String)> {
    // W6 gives each connection a thread of its own, as bench.c does: a
    // runtime with that many workers. The others run on one thread.
    let rt = if workload == "multi-conn-read" {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(CONNS)
            .enable_io()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
    }
    .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(workloads(workload, uri, amount))
}

//! scenarios: 850
//!
//! The tokio API, `nbd::AsyncHandle`, against nbdkit: many commands in
//! flight from many tasks, futures dropped mid-flight, a server killed
//! under load, timeouts, opt mode, TLS, TCP and subprocess connects,
//! server errors and their messages, a thousand handles on one
//! current-thread runtime, no CPU spent while waiting, every option
//! request of opt mode, and qemu-nbd.

#![cfg(feature = "tokio")]

mod common;
mod tls_fixtures;

use std::time::Duration;

use common::*;
use nbd::{AsyncHandle, PublicState, Tls};

#[allow(unused_imports)]
use tls_fixtures::*;
use tokio::task::JoinSet;

const BLOCK: usize = 65536;

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Block `i`'s contents: distinct per block and per byte.
fn pattern(i: usize) -> Vec<u8> {
    (0..BLOCK)
        .map(|j| (i * 31 + j * 7 + j / 251) as u8)
        .collect()
}

async fn connected(srv: &Server) -> AsyncHandle {
    let h = AsyncHandle::new().unwrap();
    h.add_meta_context(nbd::CONTEXT_BASE_ALLOCATION).unwrap();
    h.connect_uri(&srv.uri("")).await.unwrap();
    h
}

/// Write blocks `0..n` from `n` tasks at once.
async fn write_blocks(h: &AsyncHandle, n: usize) {
    let mut set = JoinSet::new();
    for i in 0..n {
        let h = h.clone();
        set.spawn(async move { h.pwrite(&pattern(i), (i * BLOCK) as u64, None).await });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
}

/// Read blocks 0..n back concurrently (one task each), checking each.
async fn read_blocks(h: &AsyncHandle, n: usize) {
    let mut set = JoinSet::new();
    for i in 0..n {
        let h = h.clone();
        set.spawn(async move {
            let mut buf = vec![0u8; BLOCK];
            h.pread(&mut buf, (i * BLOCK) as u64, None).await.unwrap();
            assert_eq!(buf, pattern(i), "block {i}");
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
}

#[test]
fn t851_concurrent_reads_and_writes() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "8M"]);
        multi_thread().block_on(async {
            let h = connected(&srv).await;
            assert_eq!(h.get_size().unwrap(), 8 << 20);
            write_blocks(&h, 64).await;
            h.flush(None).await.unwrap();
            read_blocks(&h, 64).await;
            // Other commands, and a callback of the caller's.
            h.zero(BLOCK as u64, 0, None).await.unwrap();
            h.trim(BLOCK as u64, BLOCK as u64, None).await.unwrap();
            let mut buf = vec![1u8; BLOCK];
            h.pread(&mut buf, 0, None).await.unwrap();
            assert!(buf.iter().all(|&b| b == 0));
            let len = h.get_size().unwrap() as u64;
            let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let s2 = seen.clone();
            h.block_status_64(
                len,
                0,
                Box::new(move |_ctx, _off, entries, _err| {
                    s2.fetch_add(entries.len(), std::sync::atomic::Ordering::Relaxed);
                    0
                }),
                None,
            )
            .await
            .unwrap();
            assert!(seen.load(std::sync::atomic::Ordering::Relaxed) > 0);
            assert_eq!(h.aio_in_flight_for_test(), 0);
            h.shutdown(None).await.unwrap();
            assert_eq!(h.handle().public_state(), PublicState::Closed);
        });
    });
}

/// Read blocks 0..64 from 64 tasks, checking each; after `meanwhile`,
/// abort the odd ones (their futures are dropped wherever they are) and
/// wait for the even ones.
async fn read_dropping_half<F: std::future::Future<Output = ()>>(
    h: &AsyncHandle,
    meanwhile: impl FnOnce() -> F,
) {
    let mut kept = JoinSet::new();
    let mut dropped = Vec::new();
    for i in 0..64 {
        let h = h.clone();
        let task = async move {
            let mut buf = vec![0u8; BLOCK];
            h.pread(&mut buf, (i * BLOCK) as u64, None).await.unwrap();
            assert_eq!(buf, pattern(i), "block {i}");
        };
        if i % 2 == 0 {
            kept.spawn(task);
        } else {
            dropped.push(tokio::spawn(task));
        }
    }
    meanwhile().await;
    for t in &dropped {
        t.abort();
    }
    for t in dropped {
        // Cancelled (or, if the server was quick, already done).
        if let Err(e) = t.await {
            assert!(e.is_cancelled(), "{e}");
        }
    }
    while let Some(r) = kept.join_next().await {
        r.unwrap();
    }
}

/// Drive the connection (with flushes) until the commands whose futures
/// were dropped have been answered and retired.
async fn until_retired(h: &AsyncHandle) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while h.aio_in_flight_for_test() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "commands never retired"
        );
        h.flush(None).await.unwrap();
    }
}

/// The commands in flight, through the underlying handle.
trait InFlight {
    fn aio_in_flight_for_test(&self) -> i32;
}

impl InFlight for AsyncHandle {
    fn aio_in_flight_for_test(&self) -> i32 {
        self.handle().aio_in_flight().unwrap()
    }
}

#[test]
fn t852_dropped_futures() {
    with_timeout(60, || {
        // Each read takes 200 ms in the server: the futures are dropped
        // while their commands are surely in flight.
        let srv = nbdkit(&["--filter=delay", "memory", "8M", "rdelay=200ms"]);
        multi_thread().block_on(async {
            let h = connected(&srv).await;
            write_blocks(&h, 64).await;
            read_dropping_half(&h, || async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                assert!(h.aio_in_flight_for_test() > 0);
            })
            .await;
            // A future dropped before its first poll, and one dropped by a
            // timeout: the handle keeps working.
            let mut buf = vec![0u8; BLOCK];
            drop(h.pread(&mut buf, 0, None));
            assert!(
                tokio::time::timeout(Duration::from_millis(10), h.pread(&mut buf, 0, None))
                    .await
                    .is_err()
            );
            h.pwrite(&pattern(99), 0, None).await.unwrap();
            let mut buf = vec![0u8; BLOCK];
            h.pread(&mut buf, 0, None).await.unwrap();
            assert_eq!(buf, pattern(99));
            until_retired(&h).await;
            h.shutdown(None).await.unwrap();
        });
    });
}

#[test]
fn t853_server_killed_under_load() {
    with_timeout(60, || {
        let mut srv = nbdkit(&["--filter=delay", "memory", "8M", "rdelay=2"]);
        let rt = multi_thread();
        let h = rt.block_on(connected(&srv));
        let mut set = JoinSet::new();
        for i in 0..64 {
            let h = h.clone();
            set.spawn_on(
                async move {
                    let mut buf = vec![0u8; BLOCK];
                    h.pread(&mut buf, (i * BLOCK) as u64, None).await
                },
                rt.handle(),
            );
        }
        rt.block_on(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(h.aio_in_flight_for_test(), 64);
        });
        srv.kill(libc::SIGKILL);
        rt.block_on(async {
            let mut failed = 0;
            while let Some(r) = set.join_next().await {
                let e = r.unwrap().unwrap_err();
                assert_ne!(e.errno(), 0, "{e}");
                failed += 1;
            }
            assert_eq!(failed, 64);
            assert_eq!(h.handle().public_state(), PublicState::Dead);
            let mut buf = vec![0u8; 512];
            let e = h.pread(&mut buf, 0, None).await.unwrap_err();
            assert_eq!(e.errno(), libc::EINVAL, "{e}");
        });
    });
}

#[test]
fn t854_timeout_then_more_commands() {
    with_timeout(60, || {
        let srv = nbdkit(&["--filter=delay", "memory", "1M", "rdelay=1"]);
        current_thread().block_on(async {
            let h = connected(&srv).await;
            let mut buf = vec![0u8; 4096];
            let r =
                tokio::time::timeout(Duration::from_millis(100), h.pread(&mut buf, 0, None)).await;
            assert!(r.is_err(), "the read should time out");
            // Writes are not delayed; the timed-out read is still answered.
            h.pwrite(&[7u8; 4096], 8192, None).await.unwrap();
            h.pread(&mut buf, 8192, None).await.unwrap();
            assert_eq!(buf, [7u8; 4096]);
            until_retired(&h).await;
        });
    });
}

#[test]
fn t855_errors_and_opt_mode() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        current_thread().block_on(async {
            // Before connecting.
            let h = AsyncHandle::new().unwrap();
            let mut buf = vec![0u8; 512];
            let e = h.pread(&mut buf, 0, None).await.unwrap_err();
            assert_eq!(e.errno(), libc::ENOTCONN, "{e}");
            let missing = srv.dir.join("missing.sock");
            let e = h.connect_unix(&missing).await.unwrap_err();
            assert_ne!(e.errno(), 0, "{e}");
            assert!(e.to_string().contains("nbd_connect_unix"), "{e}");

            // Opt mode: info, then go.
            let h = AsyncHandle::new().unwrap();
            h.set_opt_mode(true).unwrap();
            h.connect_unix(srv.sock()).await.unwrap();
            assert_eq!(h.handle().public_state(), PublicState::Negotiating);
            h.opt_info().await.unwrap();
            assert_eq!(h.get_size().unwrap(), 1 << 20);
            h.opt_go().await.unwrap();
            assert_eq!(h.handle().public_state(), PublicState::Connected);
            h.pwrite(&[3u8; 512], 0, None).await.unwrap();
            h.pread(&mut buf, 0, None).await.unwrap();
            assert_eq!(buf, [3u8; 512]);
            h.shutdown(None).await.unwrap();
            let e = h.flush(None).await.unwrap_err();
            assert_eq!(e.errno(), libc::EINVAL, "{e}");

            // TCP (a connect in progress) and a subprocess.
            let tcp = nbdkit_tcp(&["memory", "1M"]);
            let h = AsyncHandle::new().unwrap();
            h.connect_tcp("127.0.0.1", &tcp.port().to_string())
                .await
                .unwrap();
            h.pwrite(&[5u8; 512], 512, None).await.unwrap();
            h.pread(&mut buf, 512, None).await.unwrap();
            assert_eq!(buf, [5u8; 512]);
            let h = AsyncHandle::new().unwrap();
            h.connect_command(&["nbdkit", "-s", "--exit-with-parent", "memory", "1M"])
                .await
                .unwrap();
            assert_eq!(h.get_size().unwrap(), 1 << 20);
            h.shutdown(None).await.unwrap();

            // Shutting down in opt mode ends the negotiation.
            let h = AsyncHandle::new().unwrap();
            h.set_opt_mode(true).unwrap();
            h.connect_uri(&srv.uri("")).await.unwrap();
            h.shutdown(None).await.unwrap();
            assert_eq!(h.handle().public_state(), PublicState::Closed);
        });
    });
}

/// Make room for `n` more descriptors in this process (and the servers
/// it starts, which inherit the limit): raise the soft limit to the hard
/// one.
fn room_for_descriptors(n: u64) {
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = lim.rlim_max;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    assert!(
        lim.rlim_cur >= n,
        "this test needs {n} descriptors; the hard limit is {}",
        lim.rlim_max
    );
}

#[test]
fn t856_many_handles_one_thread() {
    const HANDLES: usize = 1000;
    with_timeout(180, || {
        // Each handle holds its socket and the reactor's duplicate; the
        // server one socket per connection.
        room_for_descriptors(3 * HANDLES as u64 + 200);
        let srv = nbdkit(&["memory", "64M"]);
        current_thread().block_on(async {
            let mut set = JoinSet::new();
            for i in 0..HANDLES {
                let uri = srv.uri("");
                set.spawn(async move {
                    let h = AsyncHandle::new().unwrap();
                    h.connect_uri(&uri).await.unwrap();
                    let data = vec![i as u8; 4096];
                    h.pwrite(&data, (i * 4096) as u64, None).await.unwrap();
                    let mut back = vec![0u8; 4096];
                    h.pread(&mut back, (i * 4096) as u64, None).await.unwrap();
                    assert_eq!(back, data);
                    h
                });
            }
            // All connected at once, then all shut down.
            let mut handles = Vec::new();
            while let Some(r) = set.join_next().await {
                handles.push(r.unwrap());
            }
            assert_eq!(handles.len(), HANDLES);
            let mut set = JoinSet::new();
            for h in handles {
                set.spawn(async move { h.shutdown(None).await });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap().unwrap();
            }
        });
    });
}

#[test]
fn t857_tls_psk() {
    with_timeout(60, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let psk_arg = format!("--tls-psk={}", psk.display());
        let srv = nbdkit_tls("require", &[&psk_arg, "memory", "8M"]);
        multi_thread().block_on(async {
            let h = AsyncHandle::new().unwrap();
            h.set_tls(Tls::REQUIRE).unwrap();
            h.set_tls_psk_file(&psk).unwrap();
            h.set_tls_username(USER).unwrap();
            h.connect_unix(srv.sock()).await.unwrap();
            assert!(h.get_tls_negotiated().unwrap());
            write_blocks(&h, 64).await;
            read_blocks(&h, 64).await;
            // Many small replies: several arrive in one TLS record, and
            // the plaintext left over must reach the machine without the
            // socket becoming readable again.
            let mut set = JoinSet::new();
            for i in 0..256usize {
                let h = h.clone();
                set.spawn(async move {
                    let off = (i % 64) * BLOCK + (i / 64) * 512;
                    let mut buf = vec![0u8; 512];
                    h.pread(&mut buf, off as u64, None).await.unwrap();
                    assert_eq!(
                        buf[..],
                        pattern(i % 64)[(i / 64) * 512..][..512],
                        "read {i}"
                    );
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
            h.shutdown(None).await.unwrap();
        });
    });
}

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[test]
fn t858_waiting_costs_no_cpu() {
    with_timeout(60, || {
        // 64 reads that the server answers after a second: the runtime
        // (on this thread) sleeps in the reactor meanwhile, no polling.
        let srv = nbdkit(&["--filter=delay", "memory", "8M", "rdelay=1"]);
        current_thread().block_on(async {
            let h = connected(&srv).await;
            write_blocks(&h, 64).await;
            let before = thread_cpu();
            let start = std::time::Instant::now();
            read_blocks(&h, 64).await;
            let (cpu, wall) = (thread_cpu() - before, start.elapsed());
            eprintln!("64 delayed reads: {wall:?} wall, {cpu:?} CPU");
            assert!(wall >= Duration::from_secs(1));
            assert!(
                cpu < Duration::from_millis(300),
                "{cpu:?} of CPU while waiting"
            );
        });
    });
}

#[test]
fn t859_server_errors() {
    with_timeout(60, || {
        // Every read fails in the server; writes succeed.
        let srv = nbdkit(&[
            "--filter=error",
            "memory",
            "1M",
            "error-pread=EIO",
            "error-pread-rate=1",
        ]);
        current_thread().block_on(async {
            let h = connected(&srv).await;
            let mut buf = vec![9u8; 4096];
            h.set_pread_initialize(true).unwrap();
            let e = h.pread(&mut buf, 0, None).await.unwrap_err();
            assert_eq!(e.errno(), libc::EIO, "{e}");
            assert!(e.to_string().contains("nbd_pread"), "{e}");
            // The same error, message included, as the blocking call's.
            let sync = nbd::Handle::new().unwrap();
            sync.connect_uri(&srv.uri("")).unwrap();
            let mut other = vec![0u8; 4096];
            let want = sync.pread(&mut other, 0, None).unwrap_err();
            assert_eq!(e.to_string(), want.to_string());
            assert_eq!(e.errno(), want.errno());
            sync.shutdown(None).unwrap();
            // Cleared first, as the blocking call does.
            assert!(buf.iter().all(|&b| b == 0));
            h.pwrite(&buf, 0, None).await.unwrap();
            assert_eq!(h.aio_in_flight_for_test(), 0);
            h.shutdown(None).await.unwrap();
        });
    });
}

#[test]
fn t860_driver_dropped() {
    with_timeout(60, || {
        // On one thread the first task to wait is the one waiting on the
        // socket for everybody; dropping it hands that over.
        let srv = nbdkit(&["--filter=delay", "memory", "8M", "rdelay=200ms"]);
        current_thread().block_on(async {
            let h = connected(&srv).await;
            write_blocks(&h, 9).await;
            let read = |i: usize| {
                let h = h.clone();
                async move {
                    let mut buf = vec![0u8; BLOCK];
                    h.pread(&mut buf, (i * BLOCK) as u64, None).await.unwrap();
                    assert_eq!(buf, pattern(i), "block {i}");
                }
            };
            let first = tokio::spawn(read(0));
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut rest = JoinSet::new();
            for i in 1..9 {
                rest.spawn(read(i));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            first.abort();
            if let Err(e) = first.await {
                assert!(e.is_cancelled(), "{e}");
            }
            while let Some(r) = rest.join_next().await {
                r.unwrap();
            }
            until_retired(&h).await;
        });
    });
}

/// Every option request through the tokio API answers what the blocking
/// call answers on the same server: counts, names, refusals and the
/// server's messages.
#[test]
fn t862_every_option_request() {
    with_timeout(60, || {
        let srv = qemu_nbd(1 << 20, 0x42, &["-x", "disk"]);
        let uri = srv.uri("disk");
        // The blocking answers, from a handle of their own.
        let sync = nbd::Handle::new().unwrap();
        sync.set_opt_mode(true).unwrap();
        sync.connect_uri(&uri).unwrap();
        let names = |out: std::sync::Arc<std::sync::Mutex<Vec<String>>>| -> nbd::ListCallback {
            Box::new(move |name: &str, _desc: &str| {
                out.lock().unwrap().push(name.to_string());
                0
            })
        };
        let contexts =
            |out: std::sync::Arc<std::sync::Mutex<Vec<String>>>| -> nbd::ContextCallback {
                Box::new(move |name: &str| {
                    out.lock().unwrap().push(name.to_string());
                    0
                })
            };
        type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
        let (sync_list, sync_meta): (Seen, Seen) = Default::default();
        let want_list = sync.opt_list(names(sync_list.clone())).unwrap();
        let want_meta = sync
            .opt_list_meta_context_queries(&["base:"], contexts(sync_meta.clone()))
            .unwrap();
        let want_sr = sync.opt_structured_reply().unwrap();
        let want_eh = sync.opt_extended_headers().unwrap();
        let want_tls = sync.opt_starttls().unwrap();
        sync.set_export_name("missing").unwrap();
        let want_info = sync.opt_info().unwrap_err();
        sync.opt_abort().unwrap();

        current_thread().block_on(async {
            let h = AsyncHandle::new().unwrap();
            h.set_opt_mode(true).unwrap();
            h.connect_uri(&uri).await.unwrap();
            let (list, meta): (Seen, Seen) = Default::default();
            assert_eq!(h.opt_list(names(list.clone())).await.unwrap(), want_list);
            assert_eq!(*list.lock().unwrap(), *sync_list.lock().unwrap());
            assert!(list.lock().unwrap().contains(&"disk".to_string()));
            let n = h
                .opt_list_meta_context_queries(&["base:"], contexts(meta.clone()))
                .await
                .unwrap();
            assert_eq!(n, want_meta);
            assert_eq!(*meta.lock().unwrap(), *sync_meta.lock().unwrap());
            assert_eq!(h.opt_structured_reply().await.unwrap(), want_sr);
            assert_eq!(h.opt_extended_headers().await.unwrap(), want_eh);
            // No TLS on this server: refused, and negotiation goes on.
            assert_eq!(h.opt_starttls().await.unwrap(), want_tls);
            assert!(!want_tls);
            // A missing export: the server's refusal, as the blocking
            // call reports it.
            h.set_export_name("missing").unwrap();
            let e = h.opt_info().await.unwrap_err();
            assert_eq!(e.to_string(), want_info.to_string());
            assert!(e.to_string().contains("nbd_opt_info"), "{e}");
            assert_eq!(h.handle().public_state(), PublicState::Negotiating);
            // The right one: info, the contexts to use, then go.
            h.set_export_name("disk").unwrap();
            h.opt_info().await.unwrap();
            assert_eq!(h.get_size().unwrap(), 1 << 20);
            h.add_meta_context(nbd::CONTEXT_BASE_ALLOCATION).unwrap();
            let chosen: Seen = Default::default();
            let n = h
                .opt_set_meta_context(contexts(chosen.clone()))
                .await
                .unwrap();
            assert_eq!(n, 1);
            assert_eq!(*chosen.lock().unwrap(), [nbd::CONTEXT_BASE_ALLOCATION]);
            let all: Seen = Default::default();
            assert!(
                h.opt_list_meta_context(contexts(all.clone()))
                    .await
                    .unwrap()
                    >= 1
            );
            h.opt_go().await.unwrap();
            assert!(h.can_meta_context(nbd::CONTEXT_BASE_ALLOCATION).unwrap());
            let mut buf = vec![0u8; 4096];
            h.pread(&mut buf, 0, None).await.unwrap();
            assert!(buf.iter().all(|&b| b == 0x42));
            // Not negotiating any more: option requests are refused.
            let e = h.opt_structured_reply().await.unwrap_err();
            assert_eq!(e.errno(), libc::EINVAL, "{e}");
            h.shutdown(None).await.unwrap();

            // opt_abort ends a negotiation and closes the handle.
            let h = AsyncHandle::new().unwrap();
            h.set_opt_mode(true).unwrap();
            h.connect_uri(&uri).await.unwrap();
            h.opt_abort().await.unwrap();
            assert_eq!(h.handle().public_state(), PublicState::Closed);
        });
    });
}

/// Against qemu-nbd: 64 concurrent writes and reads with the data
/// checked, block status, half of a second round of reads dropped
/// mid-flight, and the handle working on afterwards.
#[test]
fn t863_qemu_nbd() {
    with_timeout(60, || {
        let srv = qemu_nbd(8 << 20, 0, &[]);
        multi_thread().block_on(async {
            let h = connected(&srv).await;
            assert_eq!(h.get_size().unwrap(), 8 << 20);
            write_blocks(&h, 64).await;
            h.flush(None).await.unwrap();
            read_blocks(&h, 64).await;
            let extents = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let seen = extents.clone();
            h.block_status_64(
                8 << 20,
                0,
                Box::new(move |ctx, _off, entries, _err| {
                    assert_eq!(ctx, nbd::CONTEXT_BASE_ALLOCATION);
                    seen.fetch_add(entries.len(), std::sync::atomic::Ordering::Relaxed);
                    0
                }),
                None,
            )
            .await
            .unwrap();
            assert!(extents.load(std::sync::atomic::Ordering::Relaxed) > 0);

            read_dropping_half(&h, tokio::task::yield_now).await;
            until_retired(&h).await;
            h.pwrite(&pattern(7), 0, None).await.unwrap();
            let mut buf = vec![0u8; BLOCK];
            h.pread(&mut buf, 0, None).await.unwrap();
            assert_eq!(buf, pattern(7));
            h.shutdown(None).await.unwrap();
        });
    });
}

/// The transports t855 does not cover: an existing socket, systemd socket
/// activation, and TLS with X.509 certificates through an nbds URI.
#[test]
fn t864_more_transports() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let pki = Pki::new();
        let certs = pki.server_dir(Validity::Valid);
        let cert_arg = format!("--tls-certificates={}", certs.display());
        let tls = nbdkit_tls_tcp("require", &[&cert_arg, "memory", "1M"]);
        let dir = TempDir::new();
        let img = image(&dir, "disk.img", 1 << 20, 0xab);
        current_thread().block_on(async {
            // A socket the caller connected.
            let stream = std::os::unix::net::UnixStream::connect(srv.sock()).unwrap();
            let h = AsyncHandle::new().unwrap();
            use std::os::fd::IntoRawFd;
            h.connect_socket(stream.into_raw_fd()).await.unwrap();
            h.pwrite(&[1u8; 4096], 0, None).await.unwrap();
            let mut buf = vec![0u8; 4096];
            h.pread(&mut buf, 0, None).await.unwrap();
            assert_eq!(buf, [1u8; 4096]);
            h.shutdown(None).await.unwrap();
            let e = AsyncHandle::new()
                .unwrap()
                .connect_socket(-1)
                .await
                .unwrap_err();
            assert_eq!(e.errno(), libc::EBADF, "{e}");

            // A server started with a listening socket of ours.
            let h = AsyncHandle::new().unwrap();
            h.connect_systemd_socket_activation(&["qemu-nbd", "-f", "raw", img.to_str().unwrap()])
                .await
                .unwrap();
            assert_eq!(h.get_size().unwrap(), 1 << 20);
            h.pread(&mut buf, 4096, None).await.unwrap();
            assert!(buf.iter().all(|&b| b == 0xab));
            h.shutdown(None).await.unwrap();

            // X.509: the server's certificate checked against our CA.
            let h = AsyncHandle::new().unwrap();
            h.set_tls_certificates(&pki.client_dir(false)).unwrap();
            h.connect_uri(&format!("nbds://localhost:{}/", tls.port()))
                .await
                .unwrap();
            assert!(h.get_tls_negotiated().unwrap());
            h.pwrite(&[2u8; 4096], 0, None).await.unwrap();
            h.pread(&mut buf, 0, None).await.unwrap();
            assert_eq!(buf, [2u8; 4096]);
            h.shutdown(None).await.unwrap();
            // A CA that did not sign it: refused during the handshake.
            let h = AsyncHandle::new().unwrap();
            h.set_tls_certificates(&pki.rogue_server_dir()).unwrap();
            let e = h
                .connect_uri(&format!("nbds://localhost:{}/", tls.port()))
                .await
                .unwrap_err();
            assert_ne!(e.errno(), 0, "{e}");
            assert!(e.to_string().contains("nbd_connect_uri"), "{e}");
            assert!(e.to_string().contains("certificate"), "{e}");
        });
    });
}

/// The owned-buffer forms: data straight into and out of the caller's
/// vector, given back; dropped mid-flight (the vector stays with the
/// command); errors give the buffer back too.
#[test]
fn t865_owned_buffers() {
    with_timeout(60, || {
        let srv = nbdkit(&["--filter=delay", "memory", "8M", "rdelay=200ms"]);
        let fast_srv = nbdkit(&["memory", "1M"]);
        multi_thread().block_on(async {
            let h = connected(&srv).await;
            let mut set = JoinSet::new();
            for i in 0..32usize {
                let h = h.clone();
                set.spawn(async move {
                    let (r, back) = h.pwrite_owned(pattern(i), (i * BLOCK) as u64, None).await;
                    r.unwrap();
                    assert_eq!(back, pattern(i));
                    let (r, data) = h
                        .pread_owned(vec![0xeeu8; BLOCK], (i * BLOCK) as u64, None)
                        .await;
                    r.unwrap();
                    assert_eq!(data, pattern(i), "block {i}");
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
            // On worker threads, a task may wake before the engine has let
            // go of the vector: it must still come back whole, every time.
            let fast = connected(&fast_srv).await;
            let mut set = JoinSet::new();
            for t in 0..8usize {
                let h = fast.clone();
                set.spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    for i in 0..300usize {
                        let (r, back) = h
                            .pread_owned(buf, ((t * 300 + i) % 256 * 4096) as u64, None)
                            .await;
                        r.unwrap();
                        assert_eq!(
                            back.len(),
                            4096,
                            "task {t} read {i}: the buffer came back short"
                        );
                        buf = back;
                    }
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
            // Dropped while the server sits on the reads.
            for i in 0..8usize {
                let r = tokio::time::timeout(
                    Duration::from_millis(20),
                    h.pread_owned(vec![0u8; BLOCK], (i * BLOCK) as u64, None),
                )
                .await;
                assert!(r.is_err(), "read {i} should have timed out");
            }
            assert!(h.aio_in_flight_for_test() > 0);
            until_retired(&h).await;
            let (r, data) = h.pread_owned(vec![0u8; BLOCK], 0, None).await;
            r.unwrap();
            assert_eq!(data, pattern(0));
            // Beyond the end: refused, the buffer comes back.
            let (r, back) = h.pwrite_owned(vec![1u8; 512], 8 << 20, None).await;
            assert_ne!(r.unwrap_err().errno(), 0);
            assert_eq!(back, [1u8; 512]);
            h.shutdown(None).await.unwrap();
            // Not connected any more: the buffer comes back with the error.
            let (r, back) = h.pread_owned(vec![3u8; 512], 0, None).await;
            assert!(r.is_err());
            assert_eq!(back.len(), 512);
        });
    });
}

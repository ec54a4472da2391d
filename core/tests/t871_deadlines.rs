//! 871: deadlines (nbd_set_connect_timeout, nbd_set_request_timeout):
//! a handshake or a command that overruns fails with ETIMEDOUT within
//! 20 % of the deadline, whichever way the handle is driven (blocking
//! calls, nbd_poll, the caller's own loop with nbd_aio_get_timeout_ms),
//! the connection it was on is closed and its other commands fail with
//! ENOTCONN; without deadlines nothing changes.
//!
//! scenarios: 874

mod common;
use common::*;

use std::time::{Duration, Instant};

const DEADLINE_MS: u64 = 1000;

/// `elapsed` is the deadline give or take: not before it, and less than
/// 20 % after it.
fn on_time(elapsed: Duration) {
    let ms = elapsed.as_millis() as u64;
    assert!(
        ms + 20 >= DEADLINE_MS && ms <= DEADLINE_MS * 6 / 5,
        "took {ms} ms for a {DEADLINE_MS} ms deadline"
    );
}

#[test]
fn t871_a_slow_read_times_out_and_closes_the_connection() {
    with_timeout(60, || {
        let srv = nbdkit(&["--filter=delay", "memory", "1M", "rdelay=5"]);
        let h = Handle::new().unwrap();
        assert_eq!(h.get_request_timeout(), 0);
        assert_eq!(h.aio_get_timeout_ms(), -1, "no deadline, no connection");
        h.set_request_timeout(DEADLINE_MS).unwrap();
        assert_eq!(h.get_request_timeout(), DEADLINE_MS);
        srv.connect_handle(&h);
        // Writes are not delayed: answered in time.
        h.pwrite(&[7u8; 4096], 0, None).unwrap();
        assert_eq!(h.aio_get_timeout_ms(), -1, "nothing in flight");
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        let e = expect_errno(h.pread(&mut buf, 0, None), libc::ETIMEDOUT);
        on_time(start.elapsed());
        assert!(
            e.to_string().contains("did not answer within 1000 ms"),
            "{e}"
        );
        assert!(h.aio_is_dead(), "the connection was closed");
        expect_errno(h.pread(&mut buf, 0, None), libc::EINVAL);
    });
}

#[test]
fn t872_aio_commands_time_out_with_nbd_poll_and_with_the_callers_loop() {
    with_timeout(60, || {
        for own_loop in [false, true] {
            let srv = nbdkit(&["--filter=delay", "memory", "1M", "rdelay=5"]);
            let h = Handle::new().unwrap();
            h.set_request_timeout(DEADLINE_MS).unwrap();
            srv.connect_handle(&h);
            let start = Instant::now();
            let (_bufs, cookies) = aio_pread_blocks(&h, 8, 4096);
            let t = h.aio_get_timeout_ms();
            assert!(t > 900 && t <= 1000, "{t} ms to the deadline");
            while h.aio_in_flight().unwrap() > 0 {
                if own_loop {
                    // As an application passes the deadline to poll(2):
                    // asking for it fails what overran.
                    let timeout = h.aio_get_timeout_ms();
                    if h.aio_in_flight().unwrap() == 0 {
                        break;
                    }
                    let mut pfd = libc::pollfd {
                        fd: h.aio_get_fd().unwrap(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    let r = unsafe { libc::poll(&mut pfd, 1, timeout) };
                    assert!(r >= 0);
                    if r > 0 {
                        h.aio_notify_read().unwrap();
                    }
                } else if let Err(e) = h.poll(-1) {
                    // The deadline ended the connection.
                    assert_eq!(e.errno(), libc::ETIMEDOUT, "{e}");
                }
            }
            on_time(start.elapsed());
            // The first command overran; the others went with the
            // connection.
            expect_errno(h.aio_command_completed(cookies[0]), libc::ETIMEDOUT);
            for &c in &cookies[1..] {
                expect_errno(h.aio_command_completed(c), libc::ENOTCONN);
            }
            assert!(h.aio_is_dead());
        }
    });
}

#[test]
fn t873_a_slow_handshake_times_out() {
    with_timeout(60, || {
        // nbdkit opens the export slowly: the handshake overruns.
        let srv = nbdkit(&["--filter=delay", "memory", "1M", "delay-open=5"]);
        let h = Handle::new().unwrap();
        h.set_connect_timeout(DEADLINE_MS).unwrap();
        assert_eq!(h.get_connect_timeout(), DEADLINE_MS);
        let start = Instant::now();
        let e = match &srv.listen {
            Listen::Unix(p) => expect_errno(h.connect_unix(p), libc::ETIMEDOUT),
            Listen::Tcp(_) => unreachable!(),
        };
        on_time(start.elapsed());
        assert!(e.to_string().contains("handshake did not finish"), "{e}");
        assert!(h.aio_is_dead());
        expect_errno(h.set_connect_timeout(5), libc::EINVAL);

        // In opt mode the deadline covers negotiation: an option still
        // unanswered at the deadline fails, and the connection with it.
        let h = Handle::new().unwrap();
        h.set_connect_timeout(DEADLINE_MS).unwrap();
        h.set_opt_mode(true).unwrap();
        let start = Instant::now();
        srv.connect_handle(&h);
        assert!(h.aio_is_negotiating());
        expect_errno(h.opt_go(), libc::ETIMEDOUT);
        // Counted from the connect, not from opt_go.
        on_time(start.elapsed());
        assert!(h.aio_is_dead());

        // A server that is quick enough: the deadline never matters.
        let quick = nbdkit(&["memory", "1M"]);
        let h = Handle::new().unwrap();
        h.set_connect_timeout(DEADLINE_MS).unwrap();
        h.set_request_timeout(DEADLINE_MS).unwrap();
        quick.connect_handle(&h);
        std::thread::sleep(Duration::from_millis(DEADLINE_MS + 200));
        let mut buf = [0u8; 512];
        h.pread(&mut buf, 0, None).unwrap();
        assert!(h.aio_is_ready());
        h.shutdown(None).unwrap();
    });
}

#[cfg(feature = "tokio")]
#[test]
fn t874_async_handle_meets_deadlines() {
    with_timeout(60, || {
        let srv = nbdkit(&["--filter=delay", "memory", "1M", "rdelay=5"]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let h = nbd::AsyncHandle::new().unwrap();
            h.set_request_timeout(DEADLINE_MS).unwrap();
            h.connect_uri(&srv.uri("")).await.unwrap();
            h.pwrite(&[1u8; 512], 0, None).await.unwrap();
            let start = Instant::now();
            let reads = (0..4).map(|i| {
                let h = h.clone();
                async move {
                    let mut buf = vec![0u8; 512];
                    h.pread(&mut buf, i * 512, None).await
                }
            });
            let results = futures_join(reads).await;
            on_time(start.elapsed());
            let errnos: Vec<i32> = results
                .iter()
                .map(|r| r.as_ref().unwrap_err().errno())
                .collect();
            assert_eq!(
                errnos.iter().filter(|&&e| e == libc::ETIMEDOUT).count(),
                1,
                "{errnos:?}"
            );
            assert_eq!(
                errnos.iter().filter(|&&e| e == libc::ENOTCONN).count(),
                3,
                "{errnos:?}"
            );
        });
    });
}

/// Await every future (spawned on the current-thread runtime).
#[cfg(feature = "tokio")]
async fn futures_join<F>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    let local = tokio::task::LocalSet::new();
    let handles: Vec<_> = futs.map(|f| local.spawn_local(f)).collect();
    local.await;
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

//! 875: reconnect (nbd_set_reconnect_delay): a file-backed nbdkit killed
//! with 64 commands in flight and started again on the same socket: with
//! reconnect every command completes and the data read back is what was
//! written; without it every command fails and none hangs; a server that
//! comes back with another size is refused; the tokio API too.
//!
//! scenarios: 878

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BLOCK: usize = 65536;
const BLOCKS: usize = 64;

/// nbdkit serving `file` on the Unix socket `sock` (filters and their
/// parameters in `extra`), ready once its PID file exists.
fn serve_file(sock: &Path, file: &Path, extra: &[&str]) -> Child {
    let pidfile = sock.with_extension("pid");
    let _ = std::fs::remove_file(&pidfile);
    let _ = std::fs::remove_file(sock);
    let mut args: Vec<String> = vec![
        "-f".into(),
        "--exit-with-parent".into(),
        "-U".into(),
        sock.display().to_string(),
        "-P".into(),
        pidfile.display().to_string(),
    ];
    let (filters, params): (Vec<&str>, Vec<&str>) =
        extra.iter().partition(|a| a.starts_with("--filter="));
    args.extend(filters.iter().map(|s| s.to_string()));
    args.push("file".into());
    args.push(file.display().to_string());
    args.extend(params.iter().map(|s| s.to_string()));
    let mut cmd = Command::new("nbdkit");
    cmd.args(&args).stdin(Stdio::null());
    if std::env::var_os("NBD_TEST_VERBOSE").is_none() {
        cmd.stderr(Stdio::null()).stdout(Stdio::null());
    }
    let mut child = cmd.spawn().expect("nbdkit");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&pidfile).is_ok_and(|s| !s.trim().is_empty()) {
        assert!(child.try_wait().unwrap().is_none(), "nbdkit exited");
        assert!(Instant::now() < deadline, "nbdkit did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn stop(mut child: Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
}

fn pattern(i: usize) -> Vec<u8> {
    (0..BLOCK).map(|j| (i * 3 + j / 1000) as u8).collect()
}

struct Stand {
    _dir: TempDir,
    sock: PathBuf,
    file: PathBuf,
}

fn stand(size: usize) -> Stand {
    let dir = TempDir::new();
    let sock = dir.join("sock");
    let file = dir.join("disk");
    std::fs::write(&file, vec![0u8; size]).unwrap();
    Stand {
        _dir: dir,
        sock,
        file,
    }
}

/// Issue 64 writes of block patterns and 64 reads of other blocks, slow
/// at the server, kill it, start it again (fast) after `pause`, and drive
/// the handle until nothing is in flight. Returns each command's errno,
/// and the restarted server (killed when dropped).
fn kill_and_restart(
    h: &Handle,
    s: &Stand,
    first: Child,
    restart: Option<usize>,
) -> (Vec<i32>, Option<ChildGuard>) {
    let errs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut bufs = Vec::new();
    for i in 0..BLOCKS {
        let e = errs.clone();
        let done: nbd::CompletionCallback = Box::new(move |err: &mut i32| {
            e.lock().unwrap().push(*err);
            1
        });
        if i % 2 == 0 {
            let b = AioBuffer::from_vec(pattern(i));
            h.aio_pwrite(b.clone(), (i * BLOCK) as u64, Some(done), None)
                .unwrap();
            bufs.push(b);
        } else {
            let b = AioBuffer::new(BLOCK);
            h.aio_pread(b.clone(), (i * BLOCK) as u64, Some(done), None)
                .unwrap();
            bufs.push(b);
        }
    }
    // Let the requests reach the slow server, then kill it.
    for _ in 0..5 {
        h.poll(50).unwrap();
    }
    assert_eq!(h.aio_in_flight().unwrap() as usize, BLOCKS);
    stop(first);
    // Started from this thread: nbdkit's --exit-with-parent follows the
    // thread that started it.
    let killed = Instant::now();
    let mut restart = restart;
    let mut restarted = None;
    let deadline = killed + Duration::from_secs(20);
    while h.aio_in_flight().unwrap_or(0) > 0 {
        assert!(Instant::now() < deadline, "commands hang");
        if killed.elapsed() >= Duration::from_millis(300) {
            if let Some(size) = restart.take() {
                if size != 0 {
                    std::fs::write(&s.file, vec![0u8; size]).unwrap();
                }
                restarted = Some(serve_file(&s.sock, &s.file, &[]));
            }
        }
        let _ = h.poll(50);
    }
    let e = errs.lock().unwrap().clone();
    assert_eq!(e.len(), BLOCKS, "every completion callback ran");
    (e, restarted.map(ChildGuard))
}

/// Kills its server when dropped.
struct ChildGuard(Child);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// A file of 64 blocks behind an nbdkit whose reads and writes take 2 s.
fn slow_stand() -> (Stand, Child) {
    let s = stand(BLOCKS * BLOCK);
    let first = serve_file(
        &s.sock,
        &s.file,
        &["--filter=delay", "rdelay=2", "wdelay=2"],
    );
    (s, first)
}

#[test]
fn t875_commands_in_flight_survive_a_server_restart() {
    with_timeout(90, || {
        let (s, first) = slow_stand();
        let h = Handle::new().unwrap();
        assert_eq!(h.get_reconnect_delay(), 0);
        h.set_reconnect_delay(10_000).unwrap();
        assert_eq!(h.get_reconnect_delay(), 10_000);
        h.connect_unix(&s.sock).unwrap();
        let (errs, _server) = kill_and_restart(&h, &s, first, Some(0));
        assert!(errs.iter().all(|&e| e == 0), "{errs:?}");
        assert_eq!(h.stats_reconnects(), 1);
        assert!(h.aio_is_ready() || h.aio_is_processing());
        // What the writes wrote is there, through a fresh handle too.
        h.flush(None).unwrap();
        let other = Handle::new().unwrap();
        other.connect_unix(&s.sock).unwrap();
        for i in (0..BLOCKS).step_by(2) {
            let mut back = vec![0u8; BLOCK];
            other.pread(&mut back, (i * BLOCK) as u64, None).unwrap();
            assert!(back == pattern(i), "block {i}");
        }
        h.shutdown(None).unwrap();
        other.shutdown(None).unwrap();
    });
}

#[test]
fn t876_without_reconnect_every_command_fails() {
    with_timeout(60, || {
        let (s, first) = slow_stand();
        let h = Handle::new().unwrap();
        h.connect_unix(&s.sock).unwrap();
        let (errs, _server) = kill_and_restart(&h, &s, first, None);
        assert!(errs.iter().all(|&e| e == libc::ENOTCONN), "{errs:?}");
        assert!(h.aio_is_dead());
        assert_eq!(h.stats_reconnects(), 0);
    });
}

#[test]
fn t877_a_server_back_with_another_size_is_refused() {
    with_timeout(60, || {
        let (s, first) = slow_stand();
        let h = Handle::new().unwrap();
        h.set_reconnect_delay(3_000).unwrap();
        let msgs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let m = msgs.clone();
        h.set_debug_callback(Box::new(move |_c: &str, msg: &str| {
            m.lock().unwrap().push(msg.to_string());
            0
        }))
        .unwrap();
        h.set_debug(true).unwrap();
        h.connect_unix(&s.sock).unwrap();
        let (errs, _server) = kill_and_restart(&h, &s, first, Some(2 * BLOCKS * BLOCK));
        assert!(errs.iter().all(|&e| e != 0), "{errs:?}");
        assert_eq!(h.stats_reconnects(), 0);
        let text = msgs.lock().unwrap().join("\n");
        assert!(text.contains("export changed"), "{text}");
        assert!(text.contains("broke"), "{text}");
    });
}

#[cfg(feature = "tokio")]
#[test]
fn t878_async_handle_commands_survive_a_server_restart() {
    with_timeout(60, || {
        let s = stand(BLOCKS * BLOCK);
        let first = serve_file(&s.sock, &s.file, &["--filter=delay", "wdelay=2"]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // The runtime runs on this thread, which also starts the servers.
        rt.block_on(async {
            let h = nbd::AsyncHandle::new().unwrap();
            h.set_reconnect_delay(10_000).unwrap();
            h.connect_unix(&s.sock).await.unwrap();
            let mut set = tokio::task::JoinSet::new();
            for i in 0..16 {
                let h = h.clone();
                set.spawn(async move { h.pwrite(&pattern(i), (i * BLOCK) as u64, None).await });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(h.handle().aio_in_flight().unwrap(), 16);
            stop(first);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let restarted = ChildGuard(serve_file(&s.sock, &s.file, &[]));
            while let Some(r) = set.join_next().await {
                r.unwrap().unwrap();
            }
            assert_eq!(h.stats_reconnects(), 1);
            h.flush(None).await.unwrap();
            for i in 0..16 {
                let mut back = vec![0u8; BLOCK];
                h.pread(&mut back, (i * BLOCK) as u64, None).await.unwrap();
                assert!(back == pattern(i), "block {i}");
            }
            h.shutdown(None).await.unwrap();
            drop(restarted);
        });
    });
}

#[test]
fn t879_a_subprocess_server_is_not_reconnected_and_the_error_says_so() {
    with_timeout(60, || {
        let h = Handle::new().unwrap();
        h.set_reconnect_delay(5_000).unwrap();
        h.connect_command(&["nbdkit", "-s", "--exit-with-parent", "memory", "1M"])
            .unwrap();
        h.kill_subprocess(libc::SIGKILL).unwrap();
        let mut buf = [0u8; 512];
        let e = h.pread(&mut buf, 0, None).unwrap_err();
        assert!(e.to_string().contains("cannot be dialled again"), "{e}");
        assert!(h.aio_is_dead());
    });
}

#[test]
fn t875_a_timed_out_request_fails_and_the_others_are_sent_again() {
    with_timeout(60, || {
        // Every read takes 2 s at the server; each has 500 ms.
        let s = stand(BLOCKS * BLOCK);
        let _srv = ChildGuard(serve_file(
            &s.sock,
            &s.file,
            &["--filter=delay", "rdelay=2"],
        ));
        let h = Handle::new().unwrap();
        h.set_request_timeout(500).unwrap();
        h.set_reconnect_delay(10_000).unwrap();
        h.connect_unix(&s.sock).unwrap();
        let (_bufs, cookies) = aio_pread_blocks(&h, 3, 4096);
        let start = Instant::now();
        // The first overruns: it fails, the connection is dialled again,
        // and the other two are sent again with new deadlines. (What
        // follows is not waited for: nbdkit may reset new connections
        // while the reads of closed ones still sleep in its delay filter.)
        while h.aio_in_flight().unwrap() == 3 {
            h.poll(-1).unwrap();
        }
        let first = start.elapsed();
        assert!(first >= Duration::from_millis(480), "{first:?}");
        expect_errno(h.aio_command_completed(cookies[0]), libc::ETIMEDOUT);
        assert_eq!(
            h.aio_in_flight().unwrap(),
            2,
            "the others are still in flight"
        );
        assert!(!h.aio_command_completed(cookies[1]).unwrap());
        // The connection comes back, and the two are sent again on it.
        while h.stats_reconnects() == 0 {
            h.poll(-1).unwrap();
        }
        assert_eq!(h.aio_in_flight().unwrap(), 2);
        // The handle is usable: writes are not slow at this server, so
        // this one is answered long before the reads overrun again.
        h.pwrite(&[5u8; 4096], 0, None).unwrap();
    });
}

//! 500: the asynchronous API: many commands in flight with completion
//! callbacks, an application's own poll loop, a server dying under load,
//! and many threads sharing one handle.
//!
//! scenarios: 400 410 430 700 701 702 705 810

mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn t500_sixty_four_in_flight_with_completion_callbacks() {
    with_timeout(120, || {
        let srv = nbdkit(&["memory", "4M"]);
        let h = srv.connect();
        // Write 64 distinct blocks, all in flight at once.
        let completed = Arc::new(AtomicUsize::new(0));
        let mut cookies = Vec::new();
        for i in 0..64u64 {
            let c2 = completed.clone();
            let buf = AioBuffer::from_vec(vec![i as u8; 65536]);
            let cookie = h
                .aio_pwrite(
                    buf,
                    i * 65536,
                    Some(Box::new(move |err| {
                        assert_eq!(*err, 0);
                        c2.fetch_add(1, Ordering::SeqCst);
                        1 // auto-retire
                    })),
                    None,
                )
                .unwrap();
            cookies.push(cookie);
        }
        let mut sorted = cookies.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 64, "cookies are unique");
        assert!(cookies.iter().all(|&c| c >= 1));
        while completed.load(Ordering::SeqCst) < 64 {
            h.poll(-1).unwrap();
        }
        assert_eq!(h.aio_in_flight().unwrap(), 0);

        // Read them back, 64 in flight, retired by aio_command_completed.
        let (bufs, cookies) = aio_pread_blocks(&h, 64, 65536);
        assert!(h.aio_in_flight().unwrap() > 0);
        let mut pending: Vec<u64> = cookies.clone();
        while !pending.is_empty() {
            let peek = h.aio_peek_command_completed().unwrap();
            if peek == 0 {
                h.poll(-1).unwrap();
                continue;
            }
            assert!(pending.contains(&(peek as u64)));
            assert!(h.aio_command_completed(peek as u64).unwrap());
            pending.retain(|&c| c != peek as u64);
        }
        for (i, b) in bufs.iter().enumerate() {
            assert!(b.to_vec().iter().all(|&x| x == i as u8), "block {i}");
        }
        expect_errno(h.aio_peek_command_completed(), libc::EINVAL);
    });
}

#[test]
fn t501_own_poll_loop_with_notify() {
    with_timeout(60, || {
        let srv = nbdkit(&["pattern", "8M"]);
        let h = srv.connect();
        let (bufs, cookies) = aio_pread_blocks(&h, 32, 256 * 1024);
        drive_until_retired(&h, &cookies);
        for (i, b) in bufs.iter().enumerate() {
            let v = b.to_vec();
            assert_eq!(
                u64::from_be_bytes(v[..8].try_into().unwrap()),
                i as u64 * 262144
            );
        }
    });
}

#[test]
fn t502_server_killed_with_64_in_flight() {
    with_timeout(60, || {
        // Each read takes a while, so all 64 are still in flight when the
        // server dies.
        let mut srv = nbdkit(&["--filter=delay", "memory", "4M", "rdelay=2"]);
        let h = srv.connect();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut bufs = Vec::new();
        for i in 0..64u64 {
            let e2 = errors.clone();
            let b = AioBuffer::new(4096);
            bufs.push(b.clone());
            h.aio_pread(
                b,
                i * 4096,
                Some(Box::new(move |err| {
                    e2.lock().unwrap().push(*err);
                    1
                })),
                None,
            )
            .unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        srv.kill(libc::SIGKILL);
        // Poll until every command has failed; none may hang.
        while errors.lock().unwrap().len() < 64 {
            if h.poll(1000).is_err() {
                break;
            }
        }
        let errors = errors.lock().unwrap();
        assert_eq!(errors.len(), 64, "every completion callback ran");
        assert!(
            errors.iter().all(|&e| e != 0),
            "every command failed: {errors:?}"
        );
        assert!(h.aio_is_dead() || h.aio_is_closed());
        assert_eq!(h.aio_in_flight().unwrap(), 0);
        let mut buf = [0u8; 512];
        assert!(h.pread(&mut buf, 0, None).is_err());
    });
}

#[test]
fn t503_sync_call_when_server_dies() {
    with_timeout(60, || {
        let mut srv = nbdkit(&["--filter=delay", "memory", "4M", "rdelay=2"]);
        let h = Arc::new(srv.connect());
        let h2 = h.clone();
        let t = std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            h2.pread(&mut buf, 0, None)
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        srv.kill(libc::SIGKILL);
        let r = t.join().unwrap();
        assert!(r.is_err(), "the read must fail, not hang");
        assert!(h.aio_is_dead() || h.aio_is_closed());
    });
}

#[test]
fn t504_many_threads_one_handle() {
    with_timeout(120, || {
        let srv = nbdkit(&["memory", "8M"]);
        let h = Arc::new(srv.connect());
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || {
                    let base = t * (1 << 20);
                    for i in 0..50u64 {
                        let data = vec![(t * 50 + i) as u8; 4096];
                        let off = base + (i % 16) * 4096;
                        if i % 2 == 0 {
                            h.pwrite(&data, off, None).unwrap();
                        } else {
                            let c = h
                                .aio_pwrite(AioBuffer::from_vec(data.clone()), off, None, None)
                                .unwrap();
                            // Other threads may drive the handle too; wait for ours.
                            loop {
                                if h.aio_command_completed(c).unwrap() {
                                    break;
                                }
                                let _ = h.poll(10);
                            }
                        }
                        let mut back = vec![0u8; 4096];
                        h.pread(&mut back, off, None).unwrap();
                        assert_eq!(back, data);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Lock-free calls work while another thread is inside the handle.
        assert!(h.aio_is_ready() || h.aio_is_processing());
    });
}

#[test]
fn t505_disconnect_and_shutdown() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let h = srv.connect();
        let c = h
            .aio_pwrite(AioBuffer::from_vec(vec![3u8; 4096]), 0, None, None)
            .unwrap();
        h.aio_disconnect(None).unwrap();
        // Commands issued before the disconnect still complete: with the
        // server's answer, which may be ESHUTDOWN when nbdkit's reader
        // saw NBD_CMD_DISC before its worker finished the write (a race
        // in the server), but never abandoned with ENOTCONN.
        while !h.aio_is_closed() && !h.aio_is_dead() {
            h.poll(-1).unwrap();
        }
        match h.aio_command_completed(c) {
            Ok(done) => assert!(done),
            Err(e) => assert_eq!(e.errno(), libc::ESHUTDOWN, "{e}"),
        }
        assert!(h.aio_is_closed());

        let h = srv.connect();
        for i in 0..16u64 {
            h.aio_pwrite(AioBuffer::from_vec(vec![1u8; 4096]), i * 4096, None, None)
                .unwrap();
        }
        h.shutdown(None).unwrap();
        assert!(h.aio_is_closed());
        let h = srv.connect();
        h.shutdown(Some(nbd::Shutdown::ABANDON_PENDING)).unwrap();
        assert!(h.aio_is_closed());
    });
}

#[test]
fn t506_poll2_wakes_on_the_extra_fd() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let h = srv.connect();
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // Nothing to read: times out.
        assert_eq!(h.poll2(fds[0], 10).unwrap(), 0);
        assert_eq!(h.poll(10).unwrap(), 0);
        // The extra fd becomes readable: poll2 returns although the socket is idle.
        assert_eq!(unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) }, 1);
        assert_eq!(h.poll2(fds[0], -1).unwrap(), 1);
        assert!(h.aio_is_ready());
        // The socket is close-on-exec and non-blocking.
        let fd = h.aio_get_fd().unwrap();
        assert_ne!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC,
            0
        );
        assert_ne!(
            unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK,
            0
        );
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    });
}

#[test]
fn t507_command_socket_is_cloexec() {
    with_timeout(60, || {
        let h = Handle::new().unwrap();
        h.connect_command(&["nbdkit", "-s", "--exit-with-parent", "memory", "1M"])
            .unwrap();
        let fd = h.aio_get_fd().unwrap();
        assert_ne!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC,
            0
        );
        assert_ne!(
            unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK,
            0
        );
    });
}

#[test]
fn t508_completion_queries_before_connecting() {
    // No connection yet, so no command: answered as an empty command
    // table is (libnbd: an unknown cookie is not completed; peeking with
    // nothing in flight is EINVAL).
    let h = Handle::new().unwrap();
    assert!(!h.aio_command_completed(5).unwrap());
    expect_errno(h.aio_command_completed(0), libc::EINVAL);
    expect_errno(h.aio_peek_command_completed(), libc::EINVAL);
}

/// nbd_aio_notify_read reads one reply, as libnbd's does: callers' loops
/// may count on one completion per notification (libnbd's own Go test of
/// an aio copy frees a buffer twice otherwise). The replies behind it stay
/// in the socket, which stays readable; nbd_poll still takes all of them.
#[test]
fn t509_notify_read_reads_one_reply() {
    with_timeout(60, || {
        let srv = nbdkit(&["pattern", "8M"]);
        let h = srv.connect();
        let completed = Arc::new(AtomicUsize::new(0));
        let fd = h.aio_get_fd().unwrap();
        // The bytes of one reply: nbdkit answers a read with one chunk
        // (20-byte header, 8-byte offset, the data) or a simple reply.
        let reply = if h.get_structured_replies_negotiated().unwrap() {
            20 + 8 + 4096
        } else {
            16 + 4096
        };
        let waiting_bytes = || {
            let mut n: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int.
            assert_eq!(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) }, 0);
            n as usize
        };
        // Eight reads, sent, and every reply in the socket.
        let eight_replies_waiting = || {
            for i in 0..8u64 {
                let c = completed.clone();
                h.aio_pread(
                    AioBuffer::new(4096),
                    i * 4096,
                    Some(Box::new(move |err| {
                        assert_eq!(*err, 0);
                        c.fetch_add(1, Ordering::SeqCst);
                        1
                    })),
                    None,
                )
                .unwrap();
            }
            while h.aio_get_direction() & 2 != 0 {
                h.aio_notify_write().unwrap();
            }
            let start = std::time::Instant::now();
            while waiting_bytes() < 8 * reply {
                assert!(start.elapsed().as_secs() < 30, "the replies never came");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        eight_replies_waiting();
        let readable = || {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
        };
        for n in 1..=8 {
            assert!(readable(), "replies are waiting in the socket");
            h.aio_notify_read().unwrap();
            assert_eq!(completed.load(Ordering::SeqCst), n, "one per notification");
        }
        assert!(!readable());
        assert_eq!(h.aio_in_flight().unwrap(), 0);

        // nbd_poll takes every reply that is there.
        eight_replies_waiting();
        h.poll(1000).unwrap();
        assert_eq!(
            completed.load(Ordering::SeqCst),
            16,
            "nbd_poll took them all"
        );
    });
}

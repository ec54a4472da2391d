//! 830: one handle, many connections (nbd_set_connections): the extra
//! connections are opened only when the server advertises multi-conn,
//! commands are spread over them (nbdkit's log filter shows which
//! connection carried what), cookies, completion and the caller's own
//! event loop work as with one connection, and what was written on all
//! of them is seen through another handle.

mod common;
mod tls_fixtures;
use common::*;
use tls_fixtures::*;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

const BLOCK: usize = 64 * 1024;

/// The connections of nbdkit's log filter that carried each command
/// kind ("Read", "Write", ...).
fn connections_by_command(log: &std::path::Path) -> BTreeMap<String, BTreeSet<u32>> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut out: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.split(" connection=").nth(1) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(id), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        if what.starts_with("...") {
            continue;
        }
        out.entry(what.to_string())
            .or_default()
            .insert(id.parse().unwrap());
    }
    out
}

/// A handle asking for `n` connections, with its debug messages kept.
fn handle_with(n: i32) -> (Handle, Arc<Mutex<Vec<String>>>) {
    let h = Handle::new().unwrap();
    h.set_connections(n).unwrap();
    let msgs = Arc::new(Mutex::new(Vec::new()));
    let m = msgs.clone();
    h.set_debug_callback(Box::new(move |_ctx: &str, msg: &str| {
        m.lock().unwrap().push(msg.to_string());
        0
    }))
    .unwrap();
    h.set_debug(true).unwrap();
    (h, msgs)
}

fn pattern(i: usize) -> Vec<u8> {
    (0..BLOCK).map(|j| (i * 7 + j / 512) as u8).collect()
}

/// Start writes of `pattern(i)` to blocks `0..n`; their cookies.
fn aio_write_patterns(h: &Handle, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| {
            h.aio_pwrite(
                AioBuffer::from_vec(pattern(i)),
                (i * BLOCK) as u64,
                None,
                None,
            )
            .unwrap()
        })
        .collect()
}

/// Read blocks `0..n` with `n` commands in flight and check each holds
/// `pattern(i)`.
fn read_patterns_back(h: &Handle, n: usize) {
    let (bufs, cookies) = aio_pread_blocks(h, n, BLOCK);
    drive_until_retired(h, &cookies);
    for (i, b) in bufs.iter().enumerate() {
        assert!(b.to_vec() == pattern(i), "block {i}");
    }
}

#[test]
fn t831_four_connections_carry_the_commands_and_agree() {
    with_timeout(120, || {
        let dir = TempDir::new();
        let log = dir.join("log");
        let logfile = format!("logfile={}", log.display());
        let srv = nbdkit(&["--filter=log", "memory", "8M", &logfile]);
        let (h, msgs) = handle_with(4);
        assert_eq!(
            h.get_connections().unwrap(),
            4,
            "before connecting: the request"
        );
        srv.connect_handle(&h);
        assert_eq!(
            h.get_connections().unwrap(),
            4,
            "{:?}",
            msgs.lock().unwrap()
        );
        assert!(h.aio_is_ready());

        // 64 writes in flight at once, spread over the connections.
        let bufs: Vec<AioBuffer> = (0..64).map(|i| AioBuffer::from_vec(pattern(i))).collect();
        let cookies: Vec<u64> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| {
                h.aio_pwrite(b.clone(), (i * BLOCK) as u64, None, None)
                    .unwrap()
            })
            .collect();
        let unique: BTreeSet<u64> = cookies.iter().copied().collect();
        assert_eq!(unique.len(), 64, "cookies are unique per handle");
        assert_eq!(h.aio_in_flight().unwrap(), 64);
        drive_until_retired(&h, &cookies);
        assert_eq!(h.aio_in_flight().unwrap(), 0);
        h.flush(None).unwrap();

        // Read back on the same handle (with completion callbacks) ...
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reads: Vec<(AioBuffer, u64)> = (0..64)
            .map(|i| {
                let b = AioBuffer::new(BLOCK);
                let s = seen.clone();
                let c = h
                    .aio_pread(
                        b.clone(),
                        (i * BLOCK) as u64,
                        Some(Box::new(move |err: &mut i32| {
                            s.lock().unwrap().push((i, *err));
                            1
                        })),
                        None,
                    )
                    .unwrap();
                (b, c)
            })
            .collect();
        while h.aio_in_flight().unwrap() > 0 {
            h.poll(10_000).unwrap();
        }
        assert_eq!(seen.lock().unwrap().len(), 64);
        assert!(seen.lock().unwrap().iter().all(|&(_, e)| e == 0));
        for (i, (b, _)) in reads.iter().enumerate() {
            assert!(b.to_vec() == pattern(i), "block {i} on the same handle");
        }
        // ... and through another handle with one connection.
        let other = srv.connect();
        assert_eq!(other.get_connections().unwrap(), 1);
        for i in 0..64 {
            let mut back = vec![0u8; BLOCK];
            other.pread(&mut back, (i * BLOCK) as u64, None).unwrap();
            assert!(back == pattern(i), "block {i} through another handle");
        }
        other.shutdown(None).unwrap();

        let sent = h.stats_bytes_sent();
        assert!(
            sent > 64 * BLOCK as u64,
            "stats cover every connection: {sent}"
        );
        h.shutdown(None).unwrap();
        assert!(h.aio_is_closed());
        assert_eq!(h.get_connections().unwrap(), 0);
        drop(srv);

        let by = connections_by_command(&log);
        let writers = by.get("Write").cloned().unwrap_or_default();
        let readers = by.get("Read").cloned().unwrap_or_default();
        // The first handle's four connections, and the other handle's one.
        assert_eq!(by["Connect"].len(), 5, "{by:?}");
        assert_eq!(
            writers.len(),
            4,
            "writes went over four connections: {by:?}"
        );
        assert!(
            readers.len() >= 4,
            "reads went over every connection: {by:?}"
        );
        assert_eq!(by["Disconnect"].len(), 5, "every connection said goodbye");
        let text = msgs.lock().unwrap().join("\n");
        assert!(text.contains("using 4 connections"), "{text}");
    });
}

#[test]
fn t832_one_connection_without_multi_conn() {
    with_timeout(60, || {
        // nbdkit with the multi-conn filter turning the flag off.
        let srv = nbdkit(&[
            "--filter=multi-conn",
            "memory",
            "1M",
            "multi-conn-mode=disable",
        ]);
        let (h, msgs) = handle_with(4);
        srv.connect_handle(&h);
        assert!(!h.can_multi_conn().unwrap());
        assert_eq!(h.get_connections().unwrap(), 1);
        let text = msgs.lock().unwrap().join("\n");
        assert!(
            text.contains("does not advertise multi-conn"),
            "a debug message says why: {text}"
        );
        h.pwrite(&[1u8; 4096], 0, None).unwrap();
        let mut back = [0u8; 4096];
        h.pread(&mut back, 0, None).unwrap();
        assert_eq!(back, [1u8; 4096]);
        h.shutdown(None).unwrap();

        // qemu-nbd serving one client at a time advertises no multi-conn.
        let q = qemu_nbd(1 << 20, 0x5a, &["-e", "1"]);
        let (h, _) = handle_with(3);
        q.connect_handle(&h);
        assert!(!h.can_multi_conn().unwrap());
        assert_eq!(h.get_connections().unwrap(), 1, "qemu-nbd -e 1: one");
        h.shutdown(None).unwrap();
        // With more clients allowed it does (writable exports too, in
        // the qemu of Debian 12's backports).
        for extra in [&["-r"][..], &[][..]] {
            let q = qemu_nbd(1 << 20, 0x5a, extra);
            let (h, _) = handle_with(3);
            q.connect_handle(&h);
            assert!(h.can_multi_conn().unwrap());
            assert_eq!(h.get_connections().unwrap(), 3, "qemu-nbd {extra:?}: three");
            if extra.is_empty() {
                let cookies = aio_write_patterns(&h, 16);
                drive_until_retired(&h, &cookies);
                h.flush(None).unwrap();
                read_patterns_back(&h, 16);
            } else {
                let (bufs, cookies) = aio_pread_blocks(&h, 16, BLOCK);
                drive_until_retired(&h, &cookies);
                assert!(bufs.iter().all(|b| b.to_vec() == vec![0x5a; BLOCK]));
            }
            h.shutdown(None).unwrap();
        }
    });
}

#[test]
fn t833_set_connections_checks_its_argument_and_state() {
    with_timeout(60, || {
        let h = Handle::new().unwrap();
        assert_eq!(h.get_connections().unwrap(), 1, "the default");
        for bad in [0, -1, 65] {
            let e = expect_errno(h.set_connections(bad), libc::EINVAL);
            assert!(e.to_string().contains("1 to 64"), "{e}");
        }
        h.set_connections(64).unwrap();
        assert_eq!(h.get_connections().unwrap(), 64);
        h.set_connections(2).unwrap();
        let srv = nbdkit(&["memory", "1M"]);
        srv.connect_handle(&h);
        assert_eq!(h.get_connections().unwrap(), 2);
        expect_errno(h.set_connections(3), libc::EINVAL);
        h.shutdown(None).unwrap();

        // A subprocess server cannot be dialled again: one connection.
        let (h, msgs) = handle_with(4);
        h.connect_command(&["nbdkit", "-s", "--exit-with-parent", "memory", "1M"])
            .unwrap();
        assert!(h.can_multi_conn().unwrap());
        assert_eq!(h.get_connections().unwrap(), 1);
        assert!(h.get_subprocess_pid().unwrap() > 0);
        let text = msgs.lock().unwrap().join("\n");
        assert!(text.contains("cannot be dialled again"), "{text}");
        h.shutdown(None).unwrap();
    });
}

#[test]
fn t834_the_callers_own_event_loop_drives_every_connection() {
    with_timeout(60, || {
        let srv = nbdkit_tcp(&["memory", "4M"]);
        let h = Handle::new().unwrap();
        h.set_connections(3).unwrap();
        h.aio_connect_tcp("127.0.0.1", &srv.port().to_string())
            .unwrap();
        // One descriptor from the start, the same all along.
        let fd = h.aio_get_fd().unwrap();
        while h.aio_is_connecting() {
            assert_eq!(h.aio_get_direction(), 1, "the epoll descriptor is read");
            assert!(drive_once(&h, 10_000) != 0, "stuck connecting");
        }
        assert!(h.aio_is_ready(), "{}", h.connection_state().unwrap());
        assert_eq!(h.get_connections().unwrap(), 3);
        assert_eq!(h.aio_get_fd().unwrap(), fd);
        assert!(h.get_uri().unwrap().starts_with("nbd://127.0.0.1:"));

        let cookies = aio_write_patterns(&h, 30);
        drive_until_retired(&h, &cookies);
        // Completed commands are found by peeking, whichever connection
        // they came back on.
        let (rbufs, rcookies) = aio_pread_blocks(&h, 30, BLOCK);
        let mut found = BTreeSet::new();
        while found.len() < rcookies.len() {
            match h.aio_peek_command_completed().unwrap() {
                0 => {
                    assert!(drive_once(&h, 10_000) != 0, "stuck");
                }
                c => {
                    assert!(h.aio_command_completed(c as u64).unwrap());
                    found.insert(c as u64);
                }
            }
        }
        assert_eq!(found, rcookies.iter().copied().collect());
        expect_errno(h.aio_peek_command_completed(), libc::EINVAL);
        for (i, b) in rbufs.iter().enumerate() {
            assert!(b.to_vec() == pattern(i));
        }

        // nbd_poll2 wakes for the caller's descriptor too.
        let mut pipe = [0; 2];
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        assert_eq!(unsafe { libc::write(pipe[1], b"x".as_ptr().cast(), 1) }, 1);
        assert_eq!(h.poll2(pipe[0], 10_000).unwrap(), 1);
        unsafe {
            libc::close(pipe[0]);
            libc::close(pipe[1]);
        }

        h.aio_disconnect(None).unwrap();
        while !h.aio_is_closed() && !h.aio_is_dead() {
            assert!(drive_once(&h, 10_000) != 0, "stuck disconnecting");
        }
        assert!(h.aio_is_closed(), "{}", h.connection_state().unwrap());
    });
}

#[test]
fn t835_opt_mode_and_meta_contexts_are_repeated_on_every_connection() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "2M"]);
        let h = Handle::new().unwrap();
        h.set_connections(2).unwrap();
        h.set_opt_mode(true).unwrap();
        h.add_meta_context("base:allocation").unwrap();
        srv.connect_handle(&h);
        assert!(h.aio_is_negotiating());
        assert_eq!(h.get_connections().unwrap(), 0, "none open yet");
        h.set_export_name("a").unwrap();
        h.opt_go().unwrap();
        assert!(h.aio_is_ready());
        assert_eq!(h.get_connections().unwrap(), 2);
        assert!(h.can_meta_context("base:allocation").unwrap());
        h.pwrite(&[9u8; 65536], 0, None).unwrap();
        // Block status on every connection (two at once, one on each).
        let extents = Arc::new(Mutex::new(0usize));
        let mut cookies = Vec::new();
        for _ in 0..2 {
            let e = extents.clone();
            cookies.push(
                h.aio_block_status(
                    1 << 20,
                    0,
                    Box::new(
                        move |ctx: &str, _off: u64, entries: &[u32], _err: &mut i32| {
                            assert_eq!(ctx, "base:allocation");
                            *e.lock().unwrap() += entries.len();
                            0
                        },
                    ),
                    None,
                    None,
                )
                .unwrap(),
            );
        }
        assert_eq!(
            cookies[0].abs_diff(cookies[1]) % 2,
            1,
            "different connections"
        );
        drive_until_retired(&h, &cookies);
        assert!(*extents.lock().unwrap() >= 4);
        h.shutdown(None).unwrap();
    });
}

/// A small NBD server on a Unix socket (fixed newstyle, NBD_OPT_GO only,
/// simple replies, multi-conn advertised) whose connection number
/// `dies` (counted from 0 in the order accepted) closes its socket at
/// its first command. Reads answer with the byte `offset / 4096`.
fn dying_server(dir: &TempDir, dies: usize) -> std::path::PathBuf {
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    fn serve(mut s: UnixStream, die: bool) -> std::io::Result<()> {
        let u32_ = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
        s.write_all(b"NBDMAGICIHAVEOPT\x00\x03")?;
        let mut flags = [0u8; 4];
        s.read_exact(&mut flags)?;
        loop {
            let mut hdr = [0u8; 16];
            s.read_exact(&mut hdr)?;
            let (opt, len) = (u32_(&hdr[8..12]), u32_(&hdr[12..16]) as usize);
            let mut data = vec![0u8; len];
            s.read_exact(&mut data)?;
            let reply = |s: &mut UnixStream, typ: u32, payload: &[u8]| {
                let mut r = 0x3e889045565a9u64.to_be_bytes().to_vec();
                r.extend(opt.to_be_bytes());
                r.extend(typ.to_be_bytes());
                r.extend((payload.len() as u32).to_be_bytes());
                r.extend(payload);
                s.write_all(&r)
            };
            if opt == 7 {
                // NBD_INFO_EXPORT: 1 MiB, HAS_FLAGS | SEND_FLUSH | CAN_MULTI_CONN.
                let mut info = 0u16.to_be_bytes().to_vec();
                info.extend((1u64 << 20).to_be_bytes());
                info.extend((1u16 | 4 | 256).to_be_bytes());
                reply(&mut s, 3, &info)?;
                reply(&mut s, 1, &[])?;
                break;
            }
            reply(&mut s, 0x8000_0001, &[])?;
        }
        loop {
            let mut req = [0u8; 28];
            s.read_exact(&mut req)?;
            if die {
                return Ok(());
            }
            let typ = u16::from_be_bytes([req[6], req[7]]);
            let cookie = &req[8..16];
            let offset = u64::from_be_bytes(req[16..24].try_into().unwrap());
            let len = u32_(&req[24..28]) as usize;
            let mut r = 0x67446698u32.to_be_bytes().to_vec();
            r.extend(0u32.to_be_bytes());
            r.extend(cookie);
            match typ {
                0 => r.extend(vec![(offset / 4096) as u8; len]),
                2 => return Ok(()),
                _ => {}
            }
            s.write_all(&r)?;
        }
    }
    let path = dir.join("dying.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for (n, s) in listener.incoming().enumerate() {
            let Ok(s) = s else { return };
            std::thread::spawn(move || serve(s, n == dies));
        }
    });
    path
}

#[test]
fn t836_a_connection_that_dies_fails_only_its_own_commands() {
    with_timeout(60, || {
        let dir = TempDir::new();
        let sock = dying_server(&dir, 1);
        let (h, msgs) = handle_with(3);
        h.connect_unix(&sock).unwrap();
        assert_eq!(
            h.get_connections().unwrap(),
            3,
            "{:?}",
            msgs.lock().unwrap()
        );
        let results = Arc::new(Mutex::new(Vec::new()));
        let bufs: Vec<(u64, AioBuffer)> = (0..30u64)
            .map(|i| {
                let b = AioBuffer::new(4096);
                let r = results.clone();
                let c = h
                    .aio_pread(
                        b.clone(),
                        i * 4096,
                        Some(Box::new(move |err: &mut i32| {
                            r.lock().unwrap().push((i, *err));
                            1
                        })),
                        None,
                    )
                    .unwrap();
                (c, b)
            })
            .collect();
        while h.aio_in_flight().unwrap() > 0 {
            h.poll(10_000).unwrap();
        }
        let results = results.lock().unwrap().clone();
        assert_eq!(results.len(), 30);
        let failed: Vec<u64> = results.iter().filter(|r| r.1 != 0).map(|r| r.0).collect();
        assert_eq!(failed.len(), 10, "the dead connection's third: {results:?}");
        for (i, (cookie, b)) in bufs.iter().enumerate() {
            // Connection 2 (cookies 2, 5, 8, ...) died.
            let dead = (cookie - 1) % 3 == 1;
            assert_eq!(failed.contains(&(i as u64)), dead, "cookie {cookie}");
            if !dead {
                assert!(b.to_vec().iter().all(|&x| x == i as u8), "read {i}");
            }
        }
        // The others go on, and the handle is still connected.
        assert!(h.aio_is_ready() || h.aio_is_processing());
        assert_eq!(h.get_connections().unwrap(), 2);
        for i in 0..8u64 {
            let mut buf = [0u8; 512];
            h.pread(&mut buf, i * 4096, None).unwrap();
            assert_eq!(buf, [i as u8; 512]);
        }
        h.shutdown(None).unwrap();
        assert!(h.aio_is_closed());
    });
}

#[test]
fn t837_a_connection_refused_while_opening_leaves_one() {
    with_timeout(60, || {
        // The server's limit filter turns away a third client.
        let srv = nbdkit(&["--filter=limit", "memory", "1M", "limit=2"]);
        let (h, msgs) = handle_with(4);
        srv.connect_handle(&h);
        assert_eq!(h.get_connections().unwrap(), 1);
        let text = msgs.lock().unwrap().join("\n");
        assert!(
            text.contains("failed") && text.contains("using one connection"),
            "{text}"
        );
        h.pwrite(&[3u8; 4096], 0, None).unwrap();
        let mut back = [0u8; 4096];
        h.pread(&mut back, 0, None).unwrap();
        assert_eq!(back, [3u8; 4096]);
        h.shutdown(None).unwrap();
        // The dying server's second connection dies only when used, so
        // the handshake succeeds on all: cookies decide where it failed.
        let dir = TempDir::new();
        let sock = dying_server(&dir, 5);
        let (h, _) = handle_with(2);
        h.connect_unix(&sock).unwrap();
        assert_eq!(h.get_connections().unwrap(), 2);
        h.shutdown(None).unwrap();
    });
}

#[test]
fn t838_every_connection_negotiates_tls() {
    with_timeout(60, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let dir = TempDir::new();
        let log = dir.join("log");
        let creds = format!("--tls-psk={}", psk.display());
        let logfile = format!("logfile={}", log.display());
        let srv = nbdkit_tls_tcp(
            "require",
            &[&creds, "--filter=log", "memory", "4M", &logfile],
        );
        let h = Handle::new().unwrap();
        h.set_connections(3).unwrap();
        h.set_tls(nbd::Tls::REQUIRE).unwrap();
        h.set_tls_psk_file(&psk).unwrap();
        h.set_tls_username(USER).unwrap();
        srv.connect_handle(&h);
        assert!(h.get_tls_negotiated().unwrap());
        assert_eq!(h.get_connections().unwrap(), 3);
        let cookies = aio_write_patterns(&h, 24);
        drive_until_retired(&h, &cookies);
        read_patterns_back(&h, 24);
        h.shutdown(None).unwrap();
        drop(srv);
        let text = std::fs::read_to_string(&log).unwrap();
        let connects: Vec<&str> = text.lines().filter(|l| l.contains(" Connect ")).collect();
        assert_eq!(connects.len(), 3, "{text}");
        assert!(connects.iter().all(|l| l.contains("tls=1")), "{text}");
        assert_eq!(connections_by_command(&log)["Write"].len(), 3);
    });
}

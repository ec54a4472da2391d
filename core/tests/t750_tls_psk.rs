//! 700: TLS with pre-shared keys against nbdkit (--tls=require and
//! --tls=on) and qemu-nbd (tls-creds-psk): the blocking, aio and poll
//! paths over TLS, nbds URIs, opt mode STARTTLS, failures that say what
//! went wrong, and a 1 GiB read with 64 commands in flight.
//!
//! scenarios: 751 753

mod common;
mod tls_fixtures;

use std::sync::{Arc, Mutex};

use common::*;
use nbd::Tls;
use tls_fixtures::*;

fn psk_handle(tls: Tls, psk_file: &std::path::Path) -> Handle {
    let h = Handle::new().unwrap();
    h.set_tls(tls).unwrap();
    h.set_tls_psk_file(psk_file).unwrap();
    h.set_tls_username(USER).unwrap();
    h
}

fn psk_server(tls: &str, psk: &std::path::Path, plugin: &[&str]) -> Server {
    let mut args = vec![format!("--tls-psk={}", psk.display())];
    args.extend(plugin.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    nbdkit_tls(tls, &args)
}

/// Write, read back, compare.
fn round_trip(h: &Handle) {
    let data: Vec<u8> = (0..65536u32).map(|i| (i * 7) as u8).collect();
    h.pwrite(&data, 4096, None).unwrap();
    let mut back = vec![0u8; data.len()];
    h.pread(&mut back, 4096, None).unwrap();
    assert_eq!(back, data);
}

/// The key of `USER` in a psktool file, in hexadecimal.
fn key_hex(psk: &std::path::Path) -> String {
    std::fs::read_to_string(psk)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{USER}:")).map(str::to_string))
        .unwrap()
}

#[test]
fn t701_psk_nbdkit_require() {
    with_timeout(60, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let srv = psk_server("require", &psk, &["memory", "1M"]);
        let h = psk_handle(Tls::REQUIRE, &psk);
        // Debug output goes to a callback: the key must never be in it.
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let l2 = log.clone();
        h.set_debug(true).unwrap();
        h.set_debug_callback(Box::new(move |ctx, msg| {
            l2.lock().unwrap().push(format!("{ctx}: {msg}"));
            0
        }))
        .unwrap();
        h.connect_unix(srv.sock()).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        assert_eq!(h.get_tls(), Tls::REQUIRE);
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        round_trip(&h);
        h.shutdown(None).unwrap();

        let log = log.lock().unwrap();
        let all = log.join("\n");
        assert!(
            all.contains("connection is using TLS")
                && all.contains("pre-shared key of user 'alice'"),
            "{all}"
        );
        let key = key_hex(&psk);
        assert!(
            !all.to_lowercase().contains(&key.to_lowercase()),
            "key leaked"
        );
        // STARTTLS was the first option, before anything else.
        let first_opt = log.iter().find(|m| m.contains("sent option")).unwrap();
        assert!(first_opt.contains("NBD_OPT_STARTTLS"), "{first_opt}");
    });
}

#[test]
fn t702_psk_nbdkit_tls_on() {
    with_timeout(60, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let srv = psk_server("on", &psk, &["memory", "1M"]);
        for tls in [Tls::ALLOW, Tls::REQUIRE] {
            let h = psk_handle(tls, &psk);
            h.connect_unix(srv.sock()).unwrap();
            assert!(h.get_tls_negotiated().unwrap(), "{tls:?}");
            round_trip(&h);
        }
        // TLS disabled: --tls=on lets plaintext clients in too.
        let h = Handle::new().unwrap();
        h.connect_unix(srv.sock()).unwrap();
        assert!(!h.get_tls_negotiated().unwrap());
        round_trip(&h);
    });
}

#[test]
fn t703_psk_allow_falls_back_to_plaintext() {
    with_timeout(60, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let srv = nbdkit(&["memory", "1M"]);
        let h = psk_handle(Tls::ALLOW, &psk);
        h.connect_unix(srv.sock()).unwrap();
        assert!(!h.get_tls_negotiated().unwrap(), "the fallback is visible");
        round_trip(&h);

        let h = psk_handle(Tls::REQUIRE, &psk);
        let e = expect_errno(h.connect_unix(srv.sock()), libc::ENOTSUP);
        assert!(e.message().contains("refused TLS"), "{e}");
        assert!(h.aio_is_dead());
    });
}

#[test]
fn t704_psk_failures_say_why() {
    with_timeout(60, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let srv = psk_server("require", &psk, &["memory", "1M"]);
        let key = key_hex(&psk);

        // The wrong key.
        let wrong = pki.wrong_psk_file(&psk, USER);
        let h = psk_handle(Tls::REQUIRE, &wrong);
        let e = expect_errno(h.connect_unix(srv.sock()), libc::EACCES);
        assert!(
            e.message()
                .contains("rejected the pre-shared key of user 'alice'"),
            "{e}"
        );
        assert!(!e.message().contains(&key));
        assert!(h.aio_is_dead());

        // A user the server does not know.
        let bob = pki.psk_dir("bob").join("keys.psk");
        let h = Handle::new().unwrap();
        h.set_tls(Tls::REQUIRE).unwrap();
        h.set_tls_psk_file(&bob).unwrap();
        h.set_tls_username("bob").unwrap();
        let e = expect_errno(h.connect_unix(srv.sock()), libc::EACCES);
        assert!(e.message().contains("user 'bob'"), "{e}");

        // A user missing from our own file.
        let h = psk_handle(Tls::REQUIRE, &bob);
        let e = expect_errno(h.connect_unix(srv.sock()), libc::EINVAL);
        assert!(e.message().contains("'alice' was not found"), "{e}");

        // No such file.
        let h = psk_handle(Tls::REQUIRE, &pki.dir.join("missing.psk"));
        let e = expect_errno(h.connect_unix(srv.sock()), libc::ENOENT);
        assert!(e.message().contains("PSK file"), "{e}");

        // X.509 credentials against a PSK-only server.
        let h = Handle::new().unwrap();
        h.set_tls(Tls::REQUIRE).unwrap();
        h.set_tls_certificates(&pki.client_dir(false)).unwrap();
        let e = h.connect_unix(srv.sock()).unwrap_err();
        assert!(e.message().starts_with("TLS handshake failed"), "{e}");

        // A server that requires TLS, and a client that has it disabled.
        let h = Handle::new().unwrap();
        let e = expect_errno(h.connect_unix(srv.sock()), libc::ENOTSUP);
        assert!(e.message().contains("TLS"), "{e}");
    });
}

#[test]
fn t705_psk_qemu_nbd() {
    with_timeout(60, || {
        let pki = Pki::new();
        let dir = pki.psk_dir(USER);
        let srv = qemu_nbd_tls(1 << 20, 0x5a, "psk", &dir, "");
        let h = psk_handle(Tls::REQUIRE, &dir.join("keys.psk"));
        h.connect_unix(srv.sock()).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        assert!(h.get_extended_headers_negotiated().unwrap());
        let mut buf = vec![0u8; 1 << 20];
        h.pread(&mut buf, 0, None).unwrap();
        assert!(buf.iter().all(|&b| b == 0x5a));
        round_trip(&h);

        let wrong = pki.wrong_psk_file(&dir.join("keys.psk"), USER);
        let h = psk_handle(Tls::REQUIRE, &wrong);
        expect_errno(h.connect_unix(srv.sock()), libc::EACCES);
    });
}

#[test]
fn t706_nbds_uris() {
    with_timeout(60, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let srv = psk_server("require", &psk, &["memory", "1M"]);
        let uri = format!(
            "nbds+unix://{USER}@/?socket={}&tls-psk-file={}",
            srv.sock().display(),
            psk.display()
        );
        // Reading a local file needs permission.
        let h = Handle::new().unwrap();
        let e = expect_errno(h.connect_uri(&uri), libc::EPERM);
        assert!(e.message().contains("tls-psk-file"), "{e}");
        // TLS URIs can be forbidden.
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        h.set_uri_allow_tls(Tls::DISABLE).unwrap();
        expect_errno(h.connect_uri(&uri), libc::EPERM);

        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        h.set_uri_allow_tls(Tls::REQUIRE).unwrap();
        h.connect_uri(&uri).unwrap();
        assert_eq!(h.get_tls(), Tls::REQUIRE);
        assert!(h.get_tls_negotiated().unwrap());
        assert_eq!(h.get_tls_username().unwrap(), USER);
        round_trip(&h);
        let got = h.get_uri().unwrap();
        assert!(got.starts_with(&format!("nbds+unix://{USER}@/?")), "{got}");
        assert!(
            got.contains(&format!("tls-psk-file={}", psk.display())),
            "{got}"
        );
        // The URI we get back connects again.
        let h2 = Handle::new().unwrap();
        h2.set_uri_allow_local_file(true).unwrap();
        h2.connect_uri(&got).unwrap();
        assert!(h2.get_tls_negotiated().unwrap());

        // tls-username in the query, over TCP.
        let tcp = nbdkit_tls_tcp(
            "require",
            &[&format!("--tls-psk={}", psk.display()), "memory", "1M"],
        );
        let uri = format!(
            "nbds://127.0.0.1:{}/?tls-psk-file={}&tls-username={USER}",
            tcp.port(),
            psk.display()
        );
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        h.connect_uri(&uri).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        let got = h.get_uri().unwrap();
        assert!(
            got.starts_with(&format!("nbds://{USER}@127.0.0.1:{}/", tcp.port())),
            "{got}"
        );

        // nbds+vsock asks for TLS too (no vsock peer here: the connect
        // itself fails, after the settings were taken from the URI).
        let h = Handle::new().unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        let _ = h.connect_uri(&format!(
            "nbds+vsock://1:12345/?tls-psk-file={}&tls-username=bob",
            psk.display()
        ));
        assert_eq!(h.get_tls(), Tls::REQUIRE);
        assert_eq!(h.get_tls_username().unwrap(), "bob");

        // nbd:// (no s) to a TLS-only server fails, as the server insists.
        let h = Handle::new().unwrap();
        let e = expect_errno(
            h.connect_uri(&format!("nbd+unix:///?socket={}", srv.sock().display())),
            libc::ENOTSUP,
        );
        assert!(e.message().contains("TLS"), "{e}");
    });
}

#[test]
fn t707_default_username_is_the_login_name() {
    with_timeout(60, || {
        let h = Handle::new().unwrap();
        let Ok(me) = h.get_tls_username() else {
            eprintln!("no login name here; skipping");
            return;
        };
        let pki = Pki::new();
        let psk = pki.psk_dir(&me).join("keys.psk");
        let srv = psk_server("require", &psk, &["memory", "1M"]);
        h.set_tls(Tls::REQUIRE).unwrap();
        h.set_tls_psk_file(&psk).unwrap();
        h.connect_unix(srv.sock()).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
    });
}

#[test]
fn t708_opt_mode_starttls() {
    with_timeout(60, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let srv = psk_server("require", &psk, &["memory", "1M"]);

        // TLS disabled: the caller upgrades by hand.
        let h = psk_handle(Tls::DISABLE, &psk);
        h.set_opt_mode(true).unwrap();
        h.set_request_structured_replies(false).unwrap();
        h.set_request_extended_headers(false).unwrap();
        h.connect_unix(srv.sock()).unwrap();
        assert!(h.aio_is_negotiating());
        assert!(!h.get_tls_negotiated().unwrap());
        // The server wants TLS first.
        expect_errno(h.opt_list(Box::new(|_, _| 0)), libc::ENOTSUP);
        assert!(h.opt_starttls().unwrap());
        assert!(h.get_tls_negotiated().unwrap());
        // Again: refused, and still encrypted.
        assert!(!h.opt_starttls().unwrap());
        assert!(h.get_tls_negotiated().unwrap());
        assert!(h.opt_structured_reply().unwrap());
        assert_eq!(h.opt_list(Box::new(|_, _| 0)).unwrap(), 1);
        h.opt_go().unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        round_trip(&h);

        // The asynchronous variant, driven by nbd_poll.
        let h = psk_handle(Tls::DISABLE, &psk);
        h.set_opt_mode(true).unwrap();
        h.connect_unix(srv.sock()).unwrap();
        let seen = Arc::new(Mutex::new(None));
        let s2 = seen.clone();
        h.aio_opt_starttls(Some(Box::new(move |err| {
            *s2.lock().unwrap() = Some(*err);
            0
        })))
        .unwrap();
        while seen.lock().unwrap().is_none() {
            h.poll(-1).unwrap();
        }
        assert_eq!(*seen.lock().unwrap(), Some(0));
        assert!(h.aio_is_negotiating());
        assert!(h.get_tls_negotiated().unwrap());
        h.opt_go().unwrap();
        round_trip(&h);

        // TLS required: STARTTLS already happened before negotiating.
        let h = psk_handle(Tls::REQUIRE, &psk);
        h.set_opt_mode(true).unwrap();
        h.connect_unix(srv.sock()).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        h.opt_abort().unwrap();
        assert!(h.aio_is_closed());

        // A failed handshake by hand kills the handle.
        let wrong = pki.wrong_psk_file(&psk, USER);
        let h = psk_handle(Tls::DISABLE, &wrong);
        h.set_opt_mode(true).unwrap();
        h.connect_unix(srv.sock()).unwrap();
        expect_errno(h.opt_starttls(), libc::EACCES);
        assert!(h.aio_is_dead());
    });
}

#[test]
fn t709_aio_and_own_poll_loop_over_tls() {
    with_timeout(60, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let srv = psk_server("require", &psk, &["pattern", "8M"]);
        let h = psk_handle(Tls::REQUIRE, &psk);
        // Connect asynchronously, notifying by hand.
        h.aio_connect_unix(srv.sock()).unwrap();
        let drive = |h: &Handle| {
            assert_ne!(
                h.aio_get_direction(),
                0,
                "nothing to wait for in {}",
                h.connection_state().unwrap()
            );
            assert!(drive_once(h, 10_000) != 0, "stuck");
        };
        while h.aio_is_connecting() {
            drive(&h);
        }
        assert!(h.aio_is_ready(), "{:?}", h.connection_state());
        assert!(h.get_tls_negotiated().unwrap());

        let (bufs, cookies) = aio_pread_blocks(&h, 32, 256 * 1024);
        drive_until_retired(&h, &cookies);
        for (i, b) in bufs.iter().enumerate() {
            let v = b.to_vec();
            for (j, word) in v.chunks(8).enumerate() {
                let want = i as u64 * 262144 + j as u64 * 8;
                assert_eq!(u64::from_be_bytes(word.try_into().unwrap()), want);
            }
        }
        // Writes with payloads larger than a TLS record, through nbd_poll.
        let srv = psk_server("require", &psk, &["memory", "64M"]);
        let h = psk_handle(Tls::REQUIRE, &psk);
        h.connect_unix(srv.sock()).unwrap();
        let cookies: Vec<u64> = (0..16u64)
            .map(|i| {
                let buf = AioBuffer::from_vec(vec![i as u8 + 1; 1 << 20]);
                h.aio_pwrite(buf, i << 20, None, None).unwrap()
            })
            .collect();
        for c in cookies {
            wait_cookie(&h, c).unwrap();
        }
        let mut back = vec![0u8; 16 << 20];
        h.pread(&mut back, 0, None).unwrap();
        for i in 0..16usize {
            assert!(back[i << 20..(i + 1) << 20]
                .iter()
                .all(|&b| b == i as u8 + 1));
        }
        h.shutdown(None).unwrap();
        assert!(h.aio_is_closed());
    });
}

#[test]
fn t710_one_gib_read_64_in_flight_over_tls() {
    with_timeout(300, || {
        let pki = Pki::new();
        let psk = pki.psk_dir(USER).join("keys.psk");
        let srv = psk_server("require", &psk, &["pattern", "1G"]);
        let h = psk_handle(Tls::REQUIRE, &psk);
        h.connect_unix(srv.sock()).unwrap();
        assert!(h.get_tls_negotiated().unwrap());
        const TOTAL: u64 = 1 << 30;
        const CHUNK: u64 = 1 << 20;
        const IN_FLIGHT: usize = 64;
        let mut next = 0u64;
        let mut inflight: std::collections::VecDeque<(u64, u64, AioBuffer)> = Default::default();
        let mut checked = 0u64;
        while checked < TOTAL {
            while inflight.len() < IN_FLIGHT && next < TOTAL {
                let b = AioBuffer::new(CHUNK as usize);
                let c = h.aio_pread(b.clone(), next, None, None).unwrap();
                inflight.push_back((c, next, b));
                next += CHUNK;
            }
            assert!(h.aio_in_flight().unwrap() as usize <= IN_FLIGHT);
            let (c, off, b) = inflight.pop_front().unwrap();
            wait_cookie(&h, c).unwrap();
            let v = b.to_vec();
            for (j, word) in v.chunks_exact(8).enumerate() {
                let want = off + j as u64 * 8;
                if u64::from_be_bytes(word.try_into().unwrap()) != want {
                    panic!("wrong data at offset {}", want);
                }
            }
            checked += CHUNK;
        }
        assert!(h.stats_bytes_received() > TOTAL);
        h.shutdown(None).unwrap();
    });
}

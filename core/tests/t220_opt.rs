//! 300: opt mode: listing exports and meta contexts, info, go, abort,
//! recovering from a refused export, and the aio variants.
//!
//! scenarios: 210 230 240 250

mod common;
use common::*;
use std::sync::{Arc, Mutex};

fn multi_export_server() -> Server {
    nbdkit(&[
        "--filter=exportname",
        "memory",
        "1M",
        "exportname=alpha",
        "exportname=beta",
        "exportname-strict=true",
        "exportname-list=explicit",
        "exportdesc=fixed:a test export",
    ])
}

fn opt_handle(srv: &Server) -> Handle {
    let h = Handle::new().unwrap();
    h.set_opt_mode(true).unwrap();
    srv.connect_handle(&h);
    assert!(h.aio_is_negotiating());
    h
}

#[test]
fn t300_list_info_go() {
    with_timeout(60, || {
        let srv = multi_export_server();
        let h = opt_handle(&srv);
        let names = Arc::new(Mutex::new(Vec::new()));
        let n2 = names.clone();
        let count = h
            .opt_list(Box::new(move |name, _desc| {
                n2.lock().unwrap().push(name.to_string());
                0
            }))
            .unwrap();
        assert_eq!(count, 2);
        assert_eq!(*names.lock().unwrap(), vec!["alpha", "beta"]);
        assert!(h.aio_is_negotiating());
        // nbdkit answers one list per connection: a second one is refused
        // (NBD_REP_ERR_INVALID), which libnbd reports as ENOTSUP, and the
        // handle goes on negotiating.
        let e = h.opt_list(Box::new(|_, _| 0)).unwrap_err();
        assert_eq!(e.errno(), libc::ENOTSUP, "{e}");
        assert!(h.aio_is_negotiating());

        h.set_export_name("beta").unwrap();
        h.opt_info().unwrap();
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        assert!(h.aio_is_negotiating());

        h.opt_go().unwrap();
        assert!(h.aio_is_ready());
        assert_eq!(h.get_export_name().unwrap(), "beta");
        let mut buf = vec![0u8; 512];
        h.pread(&mut buf, 0, None).unwrap();
    });
}

#[test]
fn t301_refused_export_then_retry() {
    with_timeout(60, || {
        let srv = multi_export_server();
        let h = opt_handle(&srv);
        h.set_export_name("gamma").unwrap();
        assert!(h.opt_go().is_err());
        assert!(
            h.aio_is_negotiating(),
            "a refused export leaves the handle negotiating"
        );
        h.set_export_name("alpha").unwrap();
        h.opt_go().unwrap();
        assert!(h.aio_is_ready());
    });
}

#[test]
fn t302_abort() {
    with_timeout(60, || {
        let srv = multi_export_server();
        let h = opt_handle(&srv);
        h.opt_abort().unwrap();
        assert!(h.aio_is_closed());
        expect_errno(h.opt_go(), libc::EINVAL);
    });
}

#[test]
fn t303_meta_contexts() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let h = opt_handle(&srv);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        h.add_meta_context("base:allocation").unwrap();
        let n = h
            .opt_list_meta_context(Box::new(move |name| {
                s2.lock().unwrap().push(name.to_string());
                0
            }))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(*seen.lock().unwrap(), vec!["base:allocation"]);
        let n = h
            .opt_set_meta_context_queries(&["base:allocation"], Box::new(|_| 0))
            .unwrap();
        assert_eq!(n, 1);
        assert!(h.can_meta_context("base:allocation").unwrap());
        h.opt_go().unwrap();
        assert!(h.can_meta_context("base:allocation").unwrap());
        assert!(!h.can_meta_context("qemu:nope").unwrap());
    });
}

#[test]
fn t304_full_info() {
    with_timeout(60, || {
        let srv = multi_export_server();
        let h = Handle::new().unwrap();
        h.set_full_info(true).unwrap();
        h.set_export_name("alpha").unwrap();
        srv.connect_handle(&h);
        assert_eq!(h.get_export_description().unwrap(), "a test export");
        assert_eq!(h.get_canonical_export_name().unwrap(), "alpha");

        // Not asked for: the server sends neither, and libnbd says so
        // with ENOTSUP (not that the call was wrong).
        let h = Handle::new().unwrap();
        h.set_export_name("alpha").unwrap();
        srv.connect_handle(&h);
        expect_errno(h.get_export_description(), libc::ENOTSUP);
        expect_errno(h.get_canonical_export_name(), libc::ENOTSUP);

        // Before the export is described: EINVAL.
        let h = opt_handle(&srv);
        expect_errno(h.get_canonical_export_name(), libc::EINVAL);
    });
}

#[test]
fn t305_aio_opt_with_completion() {
    with_timeout(60, || {
        let srv = multi_export_server();
        let h = opt_handle(&srv);
        let done = Arc::new(Mutex::new(None));
        let d2 = done.clone();
        let names = Arc::new(Mutex::new(0));
        let n2 = names.clone();
        h.aio_opt_list(
            Box::new(move |_, _| {
                *n2.lock().unwrap() += 1;
                0
            }),
            Some(Box::new(move |err| {
                *d2.lock().unwrap() = Some(*err);
                1
            })),
        )
        .unwrap();
        while done.lock().unwrap().is_none() {
            h.poll(-1).unwrap();
        }
        assert_eq!(*done.lock().unwrap(), Some(0));
        assert_eq!(*names.lock().unwrap(), 2);
        assert!(h.aio_is_negotiating());

        h.set_export_name("alpha").unwrap();
        let done = Arc::new(Mutex::new(None));
        let d2 = done.clone();
        h.aio_opt_go(Some(Box::new(move |err| {
            *d2.lock().unwrap() = Some(*err);
            1
        })))
        .unwrap();
        while !h.aio_is_ready() {
            h.poll(-1).unwrap();
        }
        assert_eq!(*done.lock().unwrap(), Some(0));
    });
}

#[test]
fn t306_structured_reply_by_hand() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let h = Handle::new().unwrap();
        h.set_opt_mode(true).unwrap();
        h.set_request_structured_replies(false).unwrap();
        h.set_request_extended_headers(false).unwrap();
        srv.connect_handle(&h);
        assert!(!h.get_structured_replies_negotiated().unwrap());
        assert!(h.opt_structured_reply().unwrap());
        assert!(h.get_structured_replies_negotiated().unwrap());
        h.opt_go().unwrap();
        let mut buf = vec![0u8; 4096];
        let chunks = Arc::new(Mutex::new(0));
        let c2 = chunks.clone();
        h.pread_structured(
            &mut buf,
            0,
            Box::new(move |_, _, _, _| {
                *c2.lock().unwrap() += 1;
                0
            }),
            None,
        )
        .unwrap();
        assert!(*chunks.lock().unwrap() >= 1);
    });
}

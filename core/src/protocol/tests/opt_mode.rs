//! Opt mode: the caller issues options one at a time.
//!
//! scenarios: 210 220 230 240 250

use std::sync::{Arc, Mutex};

use super::peer::*;
use crate::generated::types::PublicState;
use crate::protocol::wire;
use crate::protocol::{Config, OptOutcome, OptRequest};

/// A list callback that only logs being dropped.
fn logged_list(log: &Log) -> crate::ListCallback {
    let g = log.guard("list");
    Box::new(move |_: &str, _: &str| {
        let _ = &g;
        0
    })
}

/// Start an option, answer it as `srv` would, return its result.
fn run(p: &mut Peer, srv: &Server, opt: OptRequest) -> Result<OptOutcome, crate::Error> {
    p.m.start_option(opt, None)?;
    assert!(p.m.option_result().is_none());
    assert_eq!(p.state(), PublicState::Connecting);
    p.serve_options(srv);
    p.m.option_result().expect("option finished")
}

#[test]
fn structured_replies_negotiated_before_stopping() {
    let p = negotiating(&Server::default());
    assert!(p.m.info().structured_replies);
    assert_eq!(p.m.direction().bits(), 0);
}

#[test]
fn list_exports() {
    let srv = Server {
        exports: vec![("a".into(), "first".into()), ("b".into(), "".into())],
        ..Server::default()
    };
    let mut p = negotiating(&srv);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let cb = Box::new(move |n: &str, d: &str| {
        s2.lock().unwrap().push((n.to_string(), d.to_string()));
        0
    });
    let r = run(&mut p, &srv, OptRequest::List(cb)).unwrap();
    assert_eq!(r, OptOutcome::Count(2));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("a".to_string(), "first".to_string()),
            ("b".to_string(), String::new())
        ]
    );
    assert_eq!(p.state(), PublicState::Negotiating);
}

#[test]
fn list_refused_for_any_reason_is_enotsup() {
    for reply in [
        wire::REP_ERR_POLICY,
        wire::REP_ERR_INVALID,
        wire::REP_ERR_UNSUP,
    ] {
        let mut p = negotiating(&Server::default());
        p.start_option(OptRequest::List(Box::new(|_, _| 0)), None);
        let (code, _) = p.expect_option();
        assert_eq!(code, wire::OPT_LIST);
        p.send(&opt_reply(code, reply, b"not allowed")).unwrap();
        let e = p.m.option_result().unwrap().unwrap_err();
        assert_eq!(e.errno(), libc::ENOTSUP, "reply {reply:#x}: {e}");
        assert_eq!(p.state(), PublicState::Negotiating);
    }
}

#[test]
fn info_then_go() {
    let srv = Server {
        size: 12345 * 512,
        ..Server::default()
    };
    let mut p = negotiating(&srv);
    let r = run(&mut p, &srv, OptRequest::Info).unwrap();
    assert_eq!(r, OptOutcome::Done);
    assert_eq!(p.state(), PublicState::Negotiating);
    assert!(p.m.info().export_valid);
    assert_eq!(p.m.info().size, 12345 * 512);
    let r = run(&mut p, &srv, OptRequest::Go).unwrap();
    assert_eq!(r, OptOutcome::Done);
    assert_eq!(p.state(), PublicState::Connected);
}

#[test]
fn go_unknown_export_then_retry() {
    let srv = Server {
        known: Some(vec!["good".into()]),
        ..Server::default()
    };
    let mut p = negotiating(&srv);
    p.m.config_mut().export_name = "bad".into();
    let e = run(&mut p, &srv, OptRequest::Go).unwrap_err();
    assert_eq!(e.errno(), libc::ENOENT);
    assert_eq!(p.state(), PublicState::Negotiating);
    assert!(!p.m.info().export_valid);
    p.m.config_mut().export_name = "good".into();
    run(&mut p, &srv, OptRequest::Go).unwrap();
    assert_eq!(p.state(), PublicState::Connected);
}

#[test]
fn go_fallback_completes_user_option() {
    let srv = Server {
        go: false,
        ..Server::default()
    };
    let mut p = negotiating(&srv);
    p.m.start_option(OptRequest::Go, None).unwrap();
    let (code, data) = p.expect_option();
    assert_eq!(code, wire::OPT_GO);
    p.send(&answer_option(&srv, code, &data, false)).unwrap();
    let (code, _) = p.expect_option();
    assert_eq!(code, wire::OPT_EXPORT_NAME);
    assert!(p.m.option_result().is_none());
    p.send(&export_name_reply(4096, wire::FLAG_HAS_FLAGS, false))
        .unwrap();
    assert_eq!(p.m.option_result().unwrap().unwrap(), OptOutcome::Done);
    assert_eq!(p.state(), PublicState::Connected);
}

#[test]
fn abort_closes() {
    let mut p = negotiating(&Server::default());
    let log = Log::default();
    p.m.start_option(OptRequest::Abort, Some(completion(&log, 0)))
        .unwrap();
    assert_eq!(p.state(), PublicState::Connecting);
    let (code, _) = p.expect_option();
    assert_eq!(code, wire::OPT_ABORT);
    assert_eq!(p.state(), PublicState::Closed);
    assert_eq!(p.m.option_result().unwrap().unwrap(), OptOutcome::Done);
    assert_eq!(log.events(), vec!["completion 0", "drop completion"]);
}

#[test]
fn disconnect_while_negotiating_aborts() {
    let mut p = negotiating(&Server::default());
    p.m.disconnect(false).unwrap();
    let (code, _) = p.expect_option();
    assert_eq!(code, wire::OPT_ABORT);
    assert_eq!(p.state(), PublicState::Closed);
}

#[test]
fn meta_context_list_and_set() {
    let srv = Server {
        contexts: vec![
            (5, "base:allocation".into()),
            (9, "qemu:dirty-bitmap:b".into()),
        ],
        ..Server::default()
    };
    let mut p = negotiating(&srv);
    let names = Arc::new(Mutex::new(Vec::new()));
    let n2 = names.clone();
    let cb = Box::new(move |n: &str| {
        n2.lock().unwrap().push(n.to_string());
        0
    });
    let r = run(
        &mut p,
        &srv,
        OptRequest::ListMetaContext {
            queries: Some(vec![]),
            callback: cb,
        },
    )
    .unwrap();
    assert_eq!(r, OptOutcome::Count(2));
    assert_eq!(names.lock().unwrap().len(), 2);
    assert!(!p.m.info().meta_valid);

    let r = run(
        &mut p,
        &srv,
        OptRequest::SetMetaContext {
            queries: Some(vec!["qemu:".into()]),
            callback: Box::new(|_| 0),
        },
    )
    .unwrap();
    assert_eq!(r, OptOutcome::Count(1));
    assert!(p.m.info().meta_valid);
    assert_eq!(p.m.info().meta_context_id("qemu:dirty-bitmap:b"), Some(9));

    // GO does not repeat SET_META_CONTEXT for the same export.
    p.m.config_mut().meta_contexts = vec!["base:allocation".into()];
    p.m.start_option(OptRequest::Go, None).unwrap();
    let (code, data) = p.expect_option();
    assert_eq!(code, wire::OPT_GO);
    p.send(&answer_option(&srv, code, &data, false)).unwrap();
    assert_eq!(p.state(), PublicState::Connected);
    assert!(p.m.info().can_meta_context("qemu:dirty-bitmap:b"));
}

#[test]
fn go_sets_configured_meta_contexts_first() {
    let srv = Server::default();
    let mut p = Peer::new(Config {
        opt_mode: true,
        meta_contexts: vec!["base:allocation".into()],
        ..Config::default()
    });
    p.handshake(&srv);
    p.m.start_option(OptRequest::Go, None).unwrap();
    let (code, data) = p.expect_option();
    assert_eq!(code, wire::OPT_SET_META_CONTEXT);
    p.send(&answer_option(&srv, code, &data, false)).unwrap();
    let (code, data) = p.expect_option();
    assert_eq!(code, wire::OPT_GO);
    p.send(&answer_option(&srv, code, &data, false)).unwrap();
    assert_eq!(p.m.option_result().unwrap().unwrap(), OptOutcome::Done);
    assert!(p.m.info().can_meta_context("base:allocation"));
}

#[test]
fn meta_context_needs_structured_replies() {
    let mut p = Peer::new(Config {
        opt_mode: true,
        request_structured_replies: false,
        request_extended_headers: false,
        ..Config::default()
    });
    p.handshake(&Server::default());
    let log = Log::default();
    let g = log.guard("context");
    let cb = Box::new(move |_: &str| {
        let _ = &g;
        0
    });
    let e =
        p.m.start_option(
            OptRequest::SetMetaContext {
                queries: None,
                callback: cb,
            },
            Some(completion(&log, 0)),
        )
        .unwrap_err();
    assert_eq!(e.errno(), libc::ENOTSUP);
    assert_eq!(log.events(), vec!["drop context", "drop completion"]);
    assert_eq!(p.state(), PublicState::Negotiating);
}

#[test]
fn structured_reply_and_extended_headers_options() {
    let srv = Server {
        structured: false,
        extended: true,
        ..Server::default()
    };
    let mut p = Peer::new(Config {
        opt_mode: true,
        request_structured_replies: false,
        request_extended_headers: false,
        ..Config::default()
    });
    p.handshake(&srv);
    assert!(!p.m.info().structured_replies);
    assert_eq!(
        run(&mut p, &srv, OptRequest::StructuredReply).unwrap(),
        OptOutcome::Accepted(false)
    );
    assert!(!p.m.info().structured_replies);
    assert_eq!(
        run(&mut p, &srv, OptRequest::ExtendedHeaders).unwrap(),
        OptOutcome::Accepted(true)
    );
    assert!(p.m.info().extended_headers && p.m.info().structured_replies);
}

#[test]
fn option_in_wrong_state_drops_callbacks() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    let cb = logged_list(&log);
    let e =
        p.m.start_option(OptRequest::List(cb), Some(completion(&log, 0)))
            .unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    assert_eq!(log.events(), vec!["drop list", "drop completion"]);
}

#[test]
fn option_completion_sees_error_and_order() {
    let srv = Server {
        known: Some(vec![]),
        ..Server::default()
    };
    let mut p = negotiating(&srv);
    let log = Log::default();
    p.m.start_option(OptRequest::Info, Some(completion(&log, 0)))
        .unwrap();
    p.serve_options(&srv);
    let e = p.m.option_result().unwrap().unwrap_err();
    assert_eq!(e.errno(), libc::ENOENT);
    log.assert_completed_once(libc::ENOENT);
}

#[test]
fn list_callbacks_dropped_after_completion() {
    let srv = Server {
        exports: vec![("e".into(), "".into())],
        ..Server::default()
    };
    let mut p = negotiating(&srv);
    let log = Log::default();
    let g = log.guard("list");
    let l2 = log.clone();
    let cb = Box::new(move |n: &str, _: &str| {
        let _ = &g;
        l2.push(format!("list {n}"));
        0
    });
    p.m.start_option(OptRequest::List(cb), Some(completion(&log, 0)))
        .unwrap();
    p.serve_options(&srv);
    assert_eq!(
        log.events(),
        vec!["list e", "completion 0", "drop list", "drop completion"]
    );
}

#[test]
fn death_during_option_reports_error() {
    let mut p = negotiating(&Server::default());
    let log = Log::default();
    p.start_option(OptRequest::Info, Some(completion(&log, 0)));
    p.m.input_eof();
    assert_eq!(p.state(), PublicState::Dead);
    assert!(p.m.option_result().unwrap().is_err());
    log.assert_completed_once(libc::ENOTCONN);
}

#[test]
fn oversized_export_name_in_list_is_skipped() {
    let mut p = negotiating(&Server::default());
    p.start_option(OptRequest::List(Box::new(|_, _| 0)), None);
    let (code, _) = p.expect_option();
    // A 100 KiB "export name": skipped without being buffered whole.
    let mut big = Vec::new();
    let name = vec![b'x'; 100 * 1024];
    big.extend_from_slice(&(name.len() as u32).to_be_bytes());
    big.extend_from_slice(&name);
    let mut bytes = opt_reply(code, wire::REP_SERVER, &big);
    let mut ok = Vec::new();
    ok.extend_from_slice(&1u32.to_be_bytes());
    ok.extend_from_slice(b"a");
    bytes.extend(opt_reply(code, wire::REP_SERVER, &ok));
    bytes.extend(opt_reply(code, wire::REP_ACK, &[]));
    p.send_in_pieces(&bytes, 7000).unwrap();
    assert_eq!(p.m.option_result().unwrap().unwrap(), OptOutcome::Count(1));
}

#[test]
fn export_name_change_between_options() {
    let srv = Server::default();
    let mut p = negotiating(&srv);
    p.m.config_mut().export_name = "second".into();
    p.m.start_option(OptRequest::Info, None).unwrap();
    let (code, data) = p.expect_option();
    assert_eq!(code, wire::OPT_INFO);
    assert_eq!(&data[4..10], b"second");
}

/// A server that is newstyle but not fixed newstyle.
fn plain_newstyle() -> Server {
    Server {
        gflags: wire::FLAG_NO_ZEROES,
        ..Server::default()
    }
}

#[test]
fn plain_newstyle_stops_negotiating_and_refuses_other_options() {
    let srv = plain_newstyle();
    let mut p = negotiating(&srv);
    assert_eq!(p.m.info().protocol, Some("newstyle"));
    assert!(p.rx.is_empty(), "nothing but the client flags was sent");
    // Options the server cannot understand: ENOTSUP, closures freed,
    // nothing sent, still negotiating.
    let log = Log::default();
    let list = logged_list(&log);
    let e =
        p.m.start_option(OptRequest::List(list), Some(completion(&log, 0)))
            .unwrap_err();
    assert_eq!(e.errno(), libc::ENOTSUP);
    assert_eq!(log.events(), vec!["drop list", "drop completion"]);
    for opt in [OptRequest::Info, OptRequest::StructuredReply] {
        assert_eq!(
            p.m.start_option(opt, None).unwrap_err().errno(),
            libc::ENOTSUP
        );
    }
    p.flush();
    assert!(p.rx.is_empty());
    assert_eq!(p.state(), PublicState::Negotiating);
    // opt_go selects the export with NBD_OPT_EXPORT_NAME.
    p.m.start_option(OptRequest::Go, None).unwrap();
    p.answer_export_name(4096, false);
    assert_eq!(p.m.option_result().unwrap().unwrap(), OptOutcome::Done);
}

#[test]
fn plain_newstyle_abort_is_dead_and_wrong_name_kills() {
    let srv = plain_newstyle();
    let mut p = negotiating(&srv);
    p.m.start_option(OptRequest::Abort, None).unwrap();
    assert_eq!(p.m.option_result().unwrap().unwrap(), OptOutcome::Done);
    assert_eq!(p.state(), PublicState::Dead);
    p.flush();
    assert!(
        p.rx.is_empty(),
        "no NBD_OPT_ABORT for a plain newstyle server"
    );

    // A wrong export name: the server hangs up.
    let mut p = negotiating(&srv);
    p.m.config_mut().export_name = "nope".into();
    p.m.start_option(OptRequest::Go, None).unwrap();
    let (code, data) = p.expect_option();
    assert_eq!((code, &data[..]), (wire::OPT_EXPORT_NAME, &b"nope"[..]));
    p.m.input_eof();
    assert_eq!(p.state(), PublicState::Dead);
    assert!(p.m.option_result().unwrap().is_err());
}

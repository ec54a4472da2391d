//! Handshake variants and automatic negotiation.
//!
//! scenarios: 200 620

use super::peer::*;
use crate::generated::types::{HandshakeFlag, PublicState, Size};
use crate::protocol::wire::{self, PutBe};
use crate::protocol::{Config, Direction};

#[test]
fn oldstyle() {
    let mut p = Peer::new(Config::default());
    assert_eq!(p.state(), PublicState::Connecting);
    assert_eq!(p.m.direction(), Direction::READ);
    p.send(&oldstyle_greeting(
        4096,
        wire::FLAG_HAS_FLAGS | wire::FLAG_READ_ONLY,
    ))
    .unwrap();
    assert_eq!(p.state(), PublicState::Connected);
    let info = p.m.info();
    assert_eq!(info.protocol, Some("oldstyle"));
    assert_eq!(info.size, 4096);
    assert!(info.is_read_only());
    assert!(!info.structured_replies);
    // The client says nothing in an oldstyle handshake.
    p.flush();
    assert!(p.rx.is_empty());
}

#[test]
fn oldstyle_in_opt_mode_goes_straight_to_ready() {
    let mut p = Peer::new(Config {
        opt_mode: true,
        ..Config::default()
    });
    p.send(&oldstyle_greeting(512, wire::FLAG_HAS_FLAGS))
        .unwrap();
    assert_eq!(p.state(), PublicState::Connected);
}

#[test]
fn oldstyle_greeting_byte_by_byte() {
    let mut p = Peer::new(Config::default());
    p.send_in_pieces(&oldstyle_greeting(4096, wire::FLAG_HAS_FLAGS), 1)
        .unwrap();
    assert_eq!(p.state(), PublicState::Connected);
}

#[test]
fn plain_newstyle_uses_export_name_with_zeroes() {
    let mut p = Peer::new(Config {
        export_name: "disk".into(),
        ..Config::default()
    });
    p.send(&newstyle_greeting(0)).unwrap();
    assert_eq!(p.expect_cflags(), 0);
    let (code, data) = p.expect_option();
    assert_eq!(code, wire::OPT_EXPORT_NAME);
    assert_eq!(data, b"disk");
    assert_eq!(p.state(), PublicState::Connecting);
    p.send(&export_name_reply(
        1 << 30,
        wire::FLAG_HAS_FLAGS | wire::FLAG_SEND_FLUSH,
        true,
    ))
    .unwrap();
    assert_eq!(p.state(), PublicState::Connected);
    assert_eq!(p.m.info().protocol, Some("newstyle"));
    assert_eq!(p.m.info().size, 1 << 30);
    assert!(p.m.info().can_flush());
}

#[test]
fn fixed_newstyle_without_no_zeroes() {
    let srv = Server {
        gflags: wire::FLAG_FIXED_NEWSTYLE,
        go: false,
        ..Server::default()
    };
    let mut p = Peer::new(Config::default());
    p.send(&newstyle_greeting(srv.gflags)).unwrap();
    assert_eq!(p.expect_cflags(), wire::FLAG_C_FIXED_NEWSTYLE);
    p.serve_options(&srv);
    // GO is unsupported: the client falls back to EXPORT_NAME and the
    // server then sends 124 zeroes.
    p.answer_export_name(8192, true);
    assert_eq!(p.m.info().protocol, Some("newstyle-fixed"));
    assert!(p.m.info().structured_replies);
}

#[test]
fn fixed_newstyle_no_zeroes_export_name_fallback() {
    let srv = Server {
        go: false,
        ..Server::default()
    };
    let mut p = Peer::new(Config::default());
    p.send(&newstyle_greeting(srv.gflags)).unwrap();
    assert_eq!(
        p.expect_cflags(),
        wire::FLAG_C_FIXED_NEWSTYLE | wire::FLAG_C_NO_ZEROES
    );
    p.serve_options(&srv);
    p.answer_export_name(8192, false);
    assert_eq!(p.m.info().size, 8192);
}

#[test]
fn client_flags_limited_by_configuration() {
    let cfg = Config {
        handshake_flags: HandshakeFlag::FIXED_NEWSTYLE,
        ..Config::default()
    };
    let mut p = Peer::new(cfg);
    p.send(&newstyle_greeting(
        wire::FLAG_FIXED_NEWSTYLE | wire::FLAG_NO_ZEROES,
    ))
    .unwrap();
    assert_eq!(p.expect_cflags(), wire::FLAG_C_FIXED_NEWSTYLE);
}

#[test]
fn fixed_newstyle_auto_negotiation_order() {
    let srv = Server {
        extended: true,
        ..Server::default()
    };
    let cfg = meta_config();
    let mut p = Peer::new(cfg);
    p.send(&newstyle_greeting(srv.gflags)).unwrap();
    p.expect_cflags();
    let mut order = Vec::new();
    loop {
        p.flush();
        if p.rx.is_empty() {
            break;
        }
        let (code, data) = p.expect_option();
        order.push(code);
        let r = answer_option(&srv, code, &data, p.m.info().extended_headers);
        p.send(&r).unwrap();
    }
    // Extended headers make structured replies unnecessary.
    assert_eq!(
        order,
        vec![
            wire::OPT_EXTENDED_HEADERS,
            wire::OPT_SET_META_CONTEXT,
            wire::OPT_GO
        ]
    );
    assert_eq!(p.state(), PublicState::Connected);
    let info = p.m.info();
    assert!(info.extended_headers && info.structured_replies);
    assert!(info.can_meta_context("base:allocation"));
    assert_eq!(info.meta_context_id("base:allocation"), Some(1));
}

#[test]
fn structured_replies_when_extended_headers_refused() {
    let srv = Server::default();
    let p = connected(Config::default(), &srv);
    assert!(p.m.info().structured_replies);
    assert!(!p.m.info().extended_headers);
    assert_eq!(p.m.info().protocol, Some("newstyle-fixed"));
}

#[test]
fn nothing_requested_when_disabled() {
    let cfg = Config {
        request_structured_replies: false,
        request_extended_headers: false,
        meta_contexts: vec!["base:allocation".into()],
        ..Config::default()
    };
    let mut p = Peer::new(cfg);
    p.send(&newstyle_greeting(Server::default().gflags))
        .unwrap();
    p.expect_cflags();
    let (code, _) = p.expect_option();
    // No structured replies, so no meta contexts either: straight to GO.
    assert_eq!(code, wire::OPT_GO);
}

#[test]
fn go_sends_info_requests() {
    let cfg = Config {
        export_name: "x".into(),
        full_info: true,
        ..Config::default()
    };
    let srv = Server {
        block: Some((512, 4096, 1 << 25)),
        name: Some("canonical".into()),
        description: Some("a disk".into()),
        ..Server::default()
    };
    let mut p = Peer::new(cfg);
    p.send(&newstyle_greeting(srv.gflags)).unwrap();
    p.expect_cflags();
    let data = p.options_until(&srv, wire::OPT_GO);
    let code = wire::OPT_GO;
    // name length, name, 3 info requests: block size, name, description
    let mut want = Vec::new();
    want.put32(1);
    want.extend_from_slice(b"x");
    want.put16(3);
    want.put16(wire::INFO_BLOCK_SIZE);
    want.put16(wire::INFO_NAME);
    want.put16(wire::INFO_DESCRIPTION);
    assert_eq!(data, want);
    p.send(&answer_option(&srv, code, &data, false)).unwrap();
    assert_eq!(p.state(), PublicState::Connected);
    let info = p.m.info();
    assert_eq!(info.block_size(Size::MINIMUM), 512);
    assert_eq!(info.block_size(Size::PREFERRED), 4096);
    assert_eq!(info.block_size(Size::MAXIMUM), 1 << 25);
    assert_eq!(info.block_size(Size::PAYLOAD), 1 << 25);
    assert_eq!(info.canonical_name.as_deref(), Some("canonical"));
    assert_eq!(info.description.as_deref(), Some("a disk"));
}

#[test]
fn no_info_requests_when_not_configured() {
    let cfg = Config {
        request_block_size: false,
        ..Config::default()
    };
    let srv = Server::default();
    let mut p = Peer::new(cfg);
    p.send(&newstyle_greeting(srv.gflags)).unwrap();
    p.expect_cflags();
    let data = p.options_until(&srv, wire::OPT_GO);
    // Name length 0, empty name, no info requests.
    assert_eq!(data, vec![0, 0, 0, 0, 0, 0]);
}

#[test]
fn invalid_block_sizes_are_ignored() {
    let srv = Server {
        block: Some((3, 4096, 1 << 20)),
        ..Server::default()
    };
    let p = connected(Config::default(), &srv);
    assert_eq!(p.m.info().block_minimum, 0);
    assert_eq!(p.m.info().block_size(Size::PAYLOAD), 32 << 20);
}

#[test]
fn go_unknown_export_fails_connection() {
    let srv = Server {
        known: Some(vec!["a".into()]),
        ..Server::default()
    };
    let mut p = Peer::new(Config {
        export_name: "nope".into(),
        ..Config::default()
    });
    p.send(&newstyle_greeting(srv.gflags)).unwrap();
    p.expect_cflags();
    let data = p.options_until(&srv, wire::OPT_GO);
    p.send(&answer_option(&srv, wire::OPT_GO, &data, false))
        .unwrap();
    // libnbd says goodbye with NBD_OPT_ABORT before giving up.
    assert_eq!(p.expect_option().0, wire::OPT_ABORT);
    assert_eq!(p.state(), PublicState::Dead);
    let e = p.m.error().unwrap();
    assert_eq!(e.errno(), libc::ENOENT);
    assert!(e.message().contains("nope"), "{e}");
}

#[test]
fn go_without_info_export_is_a_protocol_error() {
    let mut p = Peer::new(Config {
        request_structured_replies: false,
        request_extended_headers: false,
        ..Config::default()
    });
    p.send(&newstyle_greeting(wire::FLAG_FIXED_NEWSTYLE))
        .unwrap();
    p.expect_cflags();
    let (code, _) = p.expect_option();
    assert_eq!(code, wire::OPT_GO);
    let _ = p.send(&opt_reply(wire::OPT_GO, wire::REP_ACK, &[]));
    assert_eq!(p.state(), PublicState::Dead);
    assert_eq!(p.m.error().unwrap().errno(), libc::EPROTO);
}

#[test]
fn failure_while_aborting_keeps_the_reason() {
    let srv = Server {
        known: Some(vec![]),
        ..Server::default()
    };
    let mut p = Peer::new(Config::default());
    p.send(&newstyle_greeting(srv.gflags)).unwrap();
    p.expect_cflags();
    let data = p.options_until(&srv, wire::OPT_GO);
    // Deliver the refusal without letting the abort go out.
    let reply = answer_option(&srv, wire::OPT_GO, &data, false);
    let buf = p.m.input_buffer();
    buf[..reply.len()].copy_from_slice(&reply);
    p.m.input_received(reply.len()).unwrap();
    assert_eq!(p.state(), PublicState::Connecting);
    p.m.transport_failed(crate::Error::new(libc::EPIPE, "send: broken pipe"));
    assert_eq!(p.m.error().unwrap().errno(), libc::ENOENT);
}

#[test]
fn bad_magic_kills() {
    let mut p = Peer::new(Config::default());
    let err = p.send(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap_err();
    assert_eq!(err.errno(), libc::EPROTO);
    assert_eq!(p.state(), PublicState::Dead);
    assert_eq!(p.m.direction(), Direction::NONE);
}

#[test]
fn eof_during_handshake_kills() {
    let mut p = Peer::new(Config::default());
    p.send(&newstyle_greeting(3)[..10]).unwrap();
    p.m.input_eof();
    assert_eq!(p.state(), PublicState::Dead);
    assert_eq!(p.m.error().unwrap().errno(), libc::EPROTO);
}

#[test]
fn eflags_without_has_flags_rejected() {
    let mut p = Peer::new(Config::default());
    let err = p.send(&oldstyle_greeting(1, 0)).unwrap_err();
    assert_eq!(err.errno(), libc::EINVAL);
}

#[test]
fn df_dropped_without_structured_replies() {
    let mut p = Peer::new(Config::default());
    p.send(&oldstyle_greeting(
        1,
        wire::FLAG_HAS_FLAGS | wire::FLAG_SEND_DF,
    ))
    .unwrap();
    assert!(!p.m.info().can_df());
}

#[test]
fn option_reply_for_wrong_option_kills() {
    let mut p = Peer::new(Config::default());
    p.send(&newstyle_greeting(3)).unwrap();
    p.expect_cflags();
    let (code, _) = p.expect_option();
    assert_eq!(code, wire::OPT_EXTENDED_HEADERS);
    let err = p
        .send(&opt_reply(wire::OPT_LIST, wire::REP_ACK, &[]))
        .unwrap_err();
    assert_eq!(err.errno(), libc::EPROTO);
}

#[test]
fn stats_count_handshake() {
    let p = connected(Config::default(), &Server::default());
    let s = p.m.stats();
    // cflags + EH + SR + GO sent; greeting + 3 option answers (EH, SR)
    // and INFO_EXPORT + ACK received.
    assert_eq!(s.chunks_sent, 4);
    assert_eq!(s.chunks_received, 1 + 1 + 1 + 2);
    assert!(s.bytes_sent > 0 && s.bytes_received > 0);
}

#[test]
fn state_names() {
    let mut p = Peer::new(Config::default());
    assert_eq!(p.m.state_name(), "MAGIC.RECV_MAGIC");
    p.handshake(&Server::default());
    assert_eq!(p.m.state_name(), "READY");
}

//! NBD_OPT_STARTTLS in the machine: the order of options, what each
//! answer leads to, and the downgrade and injection cases a man in the
//! middle could try. The TLS session itself is the driver's (the machine
//! only waits in its handshake state until told `tls_established`).
//!
//! scenarios: 751 754

use super::peer::*;
use crate::generated::types::{PublicState, Tls};
use crate::protocol::wire::{self, PutBe};
use crate::protocol::{Config, Direction, OptOutcome, OptRequest};

fn config(tls: Tls) -> Config {
    Config {
        tls,
        ..Config::default()
    }
}

/// Greet, read the client flags, and return the first option.
fn first_option(p: &mut Peer, gflags: u16) -> (u32, Vec<u8>) {
    p.send(&newstyle_greeting(gflags)).unwrap();
    p.expect_cflags();
    p.expect_option()
}

/// Deliver bytes in one input_received call, whatever the direction.
fn deliver(p: &mut Peer, bytes: &[u8]) -> Result<(), crate::Error> {
    let buf = p.m.input_buffer();
    buf[..bytes.len()].copy_from_slice(bytes);
    let r = p.m.input_received(bytes.len());
    p.flush();
    r
}

/// The client asked for STARTTLS first and the server accepted: the
/// machine waits for the driver's TLS handshake.
fn accepted(tls: Tls, opt_mode: bool) -> Peer {
    let mut p = Peer::new(Config {
        opt_mode,
        ..config(tls)
    });
    let srv = Server::default();
    let (code, data) = first_option(&mut p, srv.gflags);
    assert_eq!(code, wire::OPT_STARTTLS);
    assert!(data.is_empty());
    p.send(&opt_reply(wire::OPT_STARTTLS, wire::REP_ACK, &[]))
        .unwrap();
    assert!(p.m.tls_handshake_pending());
    p
}

#[test]
fn starttls_is_the_first_option_and_waits_for_the_driver() {
    for tls in [Tls::ALLOW, Tls::REQUIRE] {
        let mut p = accepted(tls, false);
        assert_eq!(p.state(), PublicState::Connecting);
        assert_eq!(p.m.state_name(), "NEWSTYLE.OPT_STARTTLS.TLS_HANDSHAKE");
        // No NBD byte moves while TLS is being set up.
        assert_eq!(p.m.direction(), Direction::NONE);
        p.flush();
        assert!(p.rx.is_empty());

        p.m.tls_established("test session").unwrap();
        assert!(!p.m.tls_handshake_pending());
        assert!(p.m.info().tls);
        p.serve_options(&Server::default());
        assert_eq!(p.state(), PublicState::Connected, "{:?}", p.m.error());
        assert!(p.m.info().tls);
        assert!(p.m.info().structured_replies);
    }
}

#[test]
fn disable_never_sends_starttls() {
    let mut p = Peer::new(config(Tls::DISABLE));
    let (code, _) = first_option(&mut p, Server::default().gflags);
    assert_ne!(code, wire::OPT_STARTTLS);
}

#[test]
pub(super) fn require_refused_dies_without_sending_anything_more() {
    for reply in [
        wire::REP_ERR_UNSUP,
        wire::REP_ERR_POLICY,
        wire::REP_ERR_INVALID,
        wire::REP_ERR_PLATFORM,
        wire::REP_ERR_TLS_REQD,
    ] {
        let mut p = Peer::new(config(Tls::REQUIRE));
        let (code, _) = first_option(&mut p, Server::default().gflags);
        assert_eq!(code, wire::OPT_STARTTLS);
        let err = p
            .send(&opt_reply(wire::OPT_STARTTLS, reply, b"no TLS here"))
            .unwrap_err();
        assert_eq!(err.errno(), libc::ENOTSUP, "{err}");
        assert!(err.message().contains("refused TLS"), "{err}");
        assert!(err.message().contains("required"), "{err}");
        assert_eq!(p.state(), PublicState::Dead);
        // Not even NBD_OPT_ABORT goes out in plaintext.
        p.flush();
        assert!(p.rx.is_empty(), "client sent {:?}", p.rx);
    }
}

#[test]
fn allow_refused_falls_back_visibly() {
    let mut p = Peer::new(config(Tls::ALLOW));
    let srv = Server::default();
    let (code, _) = first_option(&mut p, srv.gflags);
    assert_eq!(code, wire::OPT_STARTTLS);
    p.send(&opt_reply(wire::OPT_STARTTLS, wire::REP_ERR_POLICY, &[]))
        .unwrap();
    p.serve_options(&srv);
    assert_eq!(p.state(), PublicState::Connected);
    assert!(!p.m.info().tls, "the fallback shows in get_tls_negotiated");
}

#[test]
pub(super) fn plaintext_injected_after_the_ack_is_refused() {
    for tls in [Tls::ALLOW, Tls::REQUIRE] {
        let mut p = Peer::new(config(tls));
        first_option(&mut p, Server::default().gflags);
        // A man in the middle answers for the server and appends a
        // forged option reply, hoping it is read as if it were protected.
        let mut forged = opt_reply(wire::OPT_STARTTLS, wire::REP_ACK, &[]);
        forged.extend(opt_reply(wire::OPT_GO, wire::REP_ACK, &[]));
        let err = deliver(&mut p, &forged).unwrap_err();
        assert_eq!(err.errno(), libc::EPROTO);
        assert!(err.message().contains("plaintext"), "{err}");
        assert_eq!(p.state(), PublicState::Dead);
        assert!(!p.m.tls_handshake_pending());
        assert!(p.rx.is_empty());
    }
}

#[test]
fn odd_answers_to_starttls_are_protocol_errors() {
    let answers = [
        // An ACK with a payload.
        opt_reply(wire::OPT_STARTTLS, wire::REP_ACK, b"x"),
        // A reply type that makes no sense for STARTTLS.
        opt_reply(wire::OPT_STARTTLS, wire::REP_SERVER, &[0, 0, 0, 0]),
        // A reply to another option.
        opt_reply(wire::OPT_GO, wire::REP_ACK, &[]),
    ];
    for tls in [Tls::ALLOW, Tls::REQUIRE] {
        for answer in &answers {
            let mut p = Peer::new(config(tls));
            first_option(&mut p, Server::default().gflags);
            let err = p.send(answer).unwrap_err();
            assert_eq!(err.errno(), libc::EPROTO, "{err}");
            assert_eq!(p.state(), PublicState::Dead);
            assert!(!p.m.info().tls);
            assert!(p.rx.is_empty());
        }
    }
}

#[test]
fn servers_that_cannot_do_tls() {
    // Plain newstyle: REQUIRE dies before any option; ALLOW goes on.
    let mut p = Peer::new(config(Tls::REQUIRE));
    let err = p.send(&newstyle_greeting(0)).unwrap_err();
    assert_eq!(err.errno(), libc::ENOTSUP);
    assert!(err.message().contains("fixed newstyle"), "{err}");
    p.flush();
    assert_eq!(p.rx.len(), 0, "not even the client flags need to go");

    let mut p = Peer::new(config(Tls::ALLOW));
    p.send(&newstyle_greeting(0)).unwrap();
    p.expect_cflags();
    assert_eq!(p.expect_option().0, wire::OPT_EXPORT_NAME);

    // Oldstyle.
    let mut p = Peer::new(config(Tls::REQUIRE));
    let err = p
        .send(&oldstyle_greeting(1, wire::FLAG_HAS_FLAGS))
        .unwrap_err();
    assert_eq!(err.errno(), libc::ENOTSUP);
    let mut p = Peer::new(config(Tls::ALLOW));
    p.send(&oldstyle_greeting(1, wire::FLAG_HAS_FLAGS)).unwrap();
    assert_eq!(p.state(), PublicState::Connected);
    assert!(!p.m.info().tls);
}

#[test]
fn handshake_failure_and_eof_kill_the_connection() {
    let mut p = accepted(Tls::REQUIRE, false);
    p.m.transport_failed(crate::Error::new(
        libc::EACCES,
        "TLS handshake failed: test",
    ));
    assert_eq!(p.state(), PublicState::Dead);
    assert_eq!(p.m.error().unwrap().errno(), libc::EACCES);
    // Too late to matter.
    p.m.tls_established("late").unwrap();
    assert!(!p.m.info().tls);

    let mut p = accepted(Tls::REQUIRE, false);
    p.m.input_eof();
    assert_eq!(p.state(), PublicState::Dead);
    assert_eq!(p.m.error().unwrap().errno(), libc::EPROTO);

    let mut p = accepted(Tls::REQUIRE, true);
    assert_eq!(p.m.disconnect(false).unwrap_err().errno(), libc::EINVAL);
}

#[test]
fn opt_mode_negotiates_tls_before_stopping() {
    let mut p = accepted(Tls::REQUIRE, true);
    p.m.tls_established("test").unwrap();
    p.serve_options(&Server::default());
    assert_eq!(p.state(), PublicState::Negotiating);
    assert!(p.m.info().tls && p.m.info().structured_replies);
}

/// Start opt_starttls with a logging completion callback.
fn start_starttls(p: &mut Peer, log: &Log) {
    p.m.start_option(OptRequest::StartTls, Some(completion(log, 0)))
        .unwrap();
    assert_eq!(p.state(), PublicState::Connecting);
    assert_eq!(p.m.state_name(), "NEWSTYLE.OPT_STARTTLS.RECV_REPLY");
    let (code, data) = p.expect_option();
    assert_eq!(code, wire::OPT_STARTTLS);
    assert!(data.is_empty());
}

/// Start STARTTLS and have the server accept it.
fn accept_starttls(p: &mut Peer, log: &Log) {
    start_starttls(p, log);
    p.send(&opt_reply(wire::OPT_STARTTLS, wire::REP_ACK, &[]))
        .unwrap();
}

#[test]
fn opt_starttls_refused_keeps_negotiating() {
    let mut p = negotiating(&Server::default());
    let log = Log::default();
    start_starttls(&mut p, &log);
    p.send(&opt_reply(wire::OPT_STARTTLS, wire::REP_ERR_POLICY, &[]))
        .unwrap();
    assert_eq!(p.m.option_result(), Some(Ok(OptOutcome::Accepted(false))));
    assert_eq!(p.state(), PublicState::Negotiating);
    log.assert_completed_once(libc::ENOTSUP);
    assert!(!p.m.info().tls);
}

#[test]
fn opt_starttls_accepted_resets_what_plaintext_said() {
    let mut p = negotiating(&Server::default());
    assert!(p.m.info().structured_replies);
    let log = Log::default();
    accept_starttls(&mut p, &log);
    assert!(p.m.tls_handshake_pending());
    assert!(p.m.option_result().is_none());
    assert!(log.events().is_empty(), "completes only once TLS is up");
    // What was negotiated in plaintext is forgotten.
    assert!(!p.m.info().structured_replies);
    assert!(!p.m.info().meta_valid);

    p.m.tls_established("test").unwrap();
    assert_eq!(p.m.option_result(), Some(Ok(OptOutcome::Accepted(true))));
    assert_eq!(p.state(), PublicState::Negotiating);
    assert!(p.m.info().tls);
    assert_eq!(log.events(), vec!["completion 0", "drop completion"]);

    // Asking again inside TLS: the server refuses, TLS stays.
    let log = Log::default();
    start_starttls(&mut p, &log);
    p.send(&opt_reply(wire::OPT_STARTTLS, wire::REP_ERR_INVALID, &[]))
        .unwrap();
    assert_eq!(p.m.option_result(), Some(Ok(OptOutcome::Accepted(false))));
    assert_eq!(log.events()[0], format!("completion {}", libc::EINVAL));
    assert!(p.m.info().tls);

    // A server that accepts twice is broken (or not the server).
    let log = Log::default();
    start_starttls(&mut p, &log);
    let err = p
        .send(&opt_reply(wire::OPT_STARTTLS, wire::REP_ACK, &[]))
        .unwrap_err();
    assert_eq!(err.errno(), libc::EPROTO);
    assert!(matches!(p.m.option_result(), Some(Err(e)) if e.errno() == libc::EPROTO));
    assert_eq!(p.state(), PublicState::Dead);
}

#[test]
fn opt_starttls_then_go() {
    let mut p = negotiating(&Server::default());
    let log = Log::default();
    accept_starttls(&mut p, &log);
    p.m.tls_established("test").unwrap();
    p.m.option_result().unwrap().unwrap();
    p.m.start_option(OptRequest::StructuredReply, None).unwrap();
    p.serve_options(&Server::default());
    assert_eq!(p.m.option_result(), Some(Ok(OptOutcome::Accepted(true))));
    p.m.start_option(OptRequest::Go, None).unwrap();
    p.serve_options(&Server::default());
    assert_eq!(p.m.option_result(), Some(Ok(OptOutcome::Done)));
    assert_eq!(p.state(), PublicState::Connected);
    assert!(p.m.info().tls);
}

#[test]
fn starttls_reply_split_across_reads() {
    let mut p = Peer::new(config(Tls::REQUIRE));
    first_option(&mut p, Server::default().gflags);
    let mut ack = Vec::new();
    ack.put64(wire::REPLY_MAGIC_OPT);
    ack.put32(wire::OPT_STARTTLS);
    ack.put32(wire::REP_ACK);
    ack.put32(0);
    p.send_in_pieces(&ack, 3).unwrap();
    assert!(p.m.tls_handshake_pending());
}

#[test]
fn an_uncollected_result_does_not_answer_the_next_option() {
    // aio_opt_starttls with only a completion callback never collects
    // its result; the next option must wait for its own.
    let mut p = negotiating(&Server::default());
    let log = Log::default();
    accept_starttls(&mut p, &log);
    p.m.tls_established("test").unwrap();
    p.m.start_option(OptRequest::Go, None).unwrap();
    assert!(p.m.option_result().is_none());
    p.serve_options(&Server::default());
    assert_eq!(p.m.option_result(), Some(Ok(OptOutcome::Done)));
}

//! The states as types: a dead machine always has its error and only a
//! dead one has one, and what a finished connection still answers for
//! (uncollected commands, a disconnect already asked for) outlives the
//! transmission phase it came from.
//!
//! scenarios: 702 703 705

use super::peer::*;
use crate::generated::types::PublicState;
use crate::protocol::{Config, Machine, OptRequest};
use crate::Error;

/// Dead if and only if there is an error to tell.
fn assert_consistent(m: &Machine) {
    assert_eq!(
        m.public_state() == PublicState::Dead,
        m.error().is_some(),
        "state {} with error {:?}",
        m.state_name(),
        m.error()
    );
}

#[test]
fn only_a_dead_machine_has_an_error() {
    // Every prefix of a whole conversation, then the server hanging up
    // there: each step is checked.
    let mut script = newstyle_greeting(Server::default().gflags);
    let mut p = Peer::new(Config::default());
    p.send(&script).unwrap();
    p.expect_cflags();
    // The options' answers, as a server gives them.
    let mut answers = Vec::new();
    while p.state() == PublicState::Connecting {
        let (code, data) = p.expect_option();
        let ext = p.m.info().extended_headers;
        let reply = answer_option(&Server::default(), code, &data, ext);
        answers.extend_from_slice(&reply);
        p.send(&reply).unwrap();
        assert_consistent(&p.m);
    }
    assert_eq!(p.state(), PublicState::Connected);
    script.extend(answers);
    for cut in 0..=script.len() {
        let mut p = Peer::new(Config::default());
        assert_consistent(&p.m);
        let _ = p.send(&script[..cut]);
        assert_consistent(&p.m);
        p.m.input_eof();
        assert_consistent(&p.m);
        assert!(matches!(p.state(), PublicState::Dead | PublicState::Closed));
    }
}

#[test]
fn created_and_closed_have_no_error() {
    let m = Machine::new(Config::default());
    assert_eq!(m.public_state(), PublicState::Created);
    assert!(m.error().is_none());

    let mut p = connected(Config::default(), &Server::default());
    p.m.input_eof();
    assert_eq!(p.state(), PublicState::Closed);
    assert_consistent(&p.m);
}

#[test]
fn the_first_failure_is_the_one_kept() {
    let mut p = connected(Config::default(), &Server::default());
    p.m.transport_failed(Error::new(libc::ECONNRESET, "reset"));
    p.m.transport_failed(Error::new(libc::EPIPE, "later"));
    p.m.input_eof();
    assert_eq!(p.m.error().unwrap().errno(), libc::ECONNRESET);
    assert_consistent(&p.m);
}

#[test]
fn an_ended_connection_keeps_its_commands_and_disconnect() {
    let mut p = connected(Config::default(), &Server::default());
    let (c, _) = p.read(512, 0);
    p.m.disconnect(false).unwrap();
    p.flush();
    p.m.transport_failed(Error::new(libc::ECONNRESET, "reset"));
    assert_consistent(&p.m);
    // The command failed with the connection and waits to be collected.
    assert_eq!(p.m.in_flight(), 0);
    assert_eq!(p.m.peek_command_completed().unwrap(), c);
    assert_eq!(p.command_errno(c), libc::ENOTCONN);
    // The disconnect asked for before the end is remembered.
    assert!(p.m.disconnecting());
    assert_eq!(p.m.disconnect(false).unwrap_err().errno(), libc::EINVAL);
}

#[test]
fn an_option_in_progress_fails_with_the_connection() {
    let mut p = negotiating(&Server::default());
    let log = Log::default();
    p.start_option(OptRequest::Info, Some(completion(&log, 1)));
    p.m.transport_failed(Error::new(libc::ECONNRESET, "reset"));
    assert_consistent(&p.m);
    assert_eq!(
        log.events(),
        vec![
            format!("completion {}", libc::ENOTCONN),
            "drop completion".to_string()
        ]
    );
    assert_eq!(
        p.m.option_result().unwrap().unwrap_err().errno(),
        libc::ECONNRESET
    );
}

#[test]
fn before_transmission_there_are_no_commands() {
    let mut m = Machine::new(Config::default());
    assert_eq!(m.in_flight(), 0);
    assert_eq!(m.command_completed(0).unwrap_err().errno(), libc::EINVAL);
    assert!(!m.command_completed(7).unwrap());
    assert_eq!(
        m.peek_command_completed().unwrap_err().errno(),
        libc::EINVAL
    );
    assert!(!m.disconnecting());
}

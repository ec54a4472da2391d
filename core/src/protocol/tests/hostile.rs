//! A hostile or broken server: every case ends in a clean error (and
//! usually a dead machine), never a panic, a hang or a stray write.
//!
//! scenarios: 740

use super::peer::*;
use crate::generated::types::PublicState;
use crate::protocol::wire::{self, PutBe};
use crate::protocol::{CommandKind, Config, Direction, OptRequest};
use crate::AioBuffer;

fn structured() -> Peer {
    connected(Config::default(), &Server::default())
}

/// The server sending `bytes` is a protocol error that kills the
/// connection.
fn assert_kills(p: &mut Peer, bytes: &[u8]) {
    p.send(bytes).unwrap_err();
    assert_dead(p, libc::EPROTO);
}

fn assert_dead(p: &Peer, errno: i32) {
    assert_eq!(p.state(), PublicState::Dead);
    assert_eq!(p.m.error().expect("an error").errno(), errno);
    assert_eq!(p.m.direction(), Direction::NONE);
    assert_eq!(p.m.in_flight(), 0);
}

#[test]
fn unknown_non_error_chunk_type_disconnects() {
    // The protocol: a type without the error bit that the client does not
    // know MUST end the connection; every command fails with ENOTCONN and
    // keeps the cause in its message.
    let mut p = structured();
    let (c, _) = p.read(512, 0);
    let (d, _) = p.read(512, 0);
    let mut bytes = chunk(0, 77, c, &[1, 2, 3, 4, 5]);
    bytes.extend(data_chunk(wire::REPLY_FLAG_DONE, d, 0, &[1; 512]));
    let e = p.send(&bytes).unwrap_err();
    assert_eq!(e.errno(), libc::EPROTO);
    assert_dead(&p, libc::EPROTO);
    for cookie in [c, d] {
        let e = p.m.command_completed(cookie).unwrap_err();
        assert_eq!(e.errno(), libc::ENOTCONN);
        assert!(
            e.message()
                .contains("unknown structured reply chunk type 77"),
            "{e}"
        );
    }
}

#[test]
pub(super) fn read_succeeds_only_when_fully_covered() {
    // Half the data and a DONE flag: EIO, never success.
    let mut p = structured();
    let (c, _) = p.read(1024, 0);
    p.send(&data_chunk(wire::REPLY_FLAG_DONE, c, 0, &[1; 512]))
        .unwrap();
    let e = p.m.command_completed(c).unwrap_err();
    assert_eq!(e.errno(), libc::EIO);
    assert!(e.message().contains("512 of the 1024 bytes"), "{e}");
    // Only a NONE chunk: nothing covered.
    let (c, _) = p.read(1024, 0);
    p.send(&chunk(wire::REPLY_FLAG_DONE, wire::REPLY_TYPE_NONE, c, &[]))
        .unwrap();
    assert_eq!(p.command_errno(c), libc::EIO);
    // Data and holes that together cover the request: success.
    let (c, buf) = p.read(1024, 4096);
    let mut bytes = hole_chunk(0, c, 4096 + 512, 512);
    bytes.extend(data_chunk(wire::REPLY_FLAG_DONE, c, 4096, &[3; 512]));
    p.send(&bytes).unwrap();
    assert!(p.m.command_completed(c).unwrap());
    let v = buf.to_vec();
    assert_eq!((&v[..512], &v[512..]), (&[3u8; 512][..], &[0u8; 512][..]));
    assert_eq!(p.state(), PublicState::Connected);
}

#[test]
pub(super) fn read_not_covered_with_pread_initialize_off_fails() {
    // The caller's old bytes must never come back as data.
    let mut p = connected(without_pread_initialize(), &Server::default());
    let buf = AioBuffer::from_vec(vec![0xaa; 1024]);
    let c = p
        .submit(CommandKind::read(buf.clone(), 0, None), 0)
        .unwrap();
    p.send(&data_chunk(wire::REPLY_FLAG_DONE, c, 512, &[1; 512]))
        .unwrap();
    assert_eq!(p.command_errno(c), libc::EIO);
}

fn bs_peer(size: u64) -> Peer {
    let cfg = meta_config();
    connected(
        cfg,
        &Server {
            size,
            ..Server::default()
        },
    )
}

/// Block status of 512 bytes at `offset` with a recording callback; the
/// server answers with `reply` (whole reply chunks). Returns the
/// command's result and what the callback saw.
fn bs_reply(
    p: &mut Peer,
    offset: u64,
    reply: impl FnOnce(u64) -> Vec<u8>,
) -> (Result<bool, crate::Error>, Vec<String>) {
    use crate::protocol::ExtentSink;
    let log = Log::default();
    let l2 = log.clone();
    let cb = Box::new(move |ctx: &str, off: u64, e: &[u32], _: &mut i32| {
        l2.push(format!("{ctx} {off} {e:?}"));
        0
    });
    let c = p
        .submit(
            CommandKind::block_status(512, offset, ExtentSink::Narrow(cb), None),
            0,
        )
        .unwrap();
    p.send(&reply(c)).unwrap();
    (p.m.command_completed(c), log.events())
}

/// The same, answered with one final block status chunk of `payload`.
fn bs_exchange(
    p: &mut Peer,
    offset: u64,
    payload: &[u8],
) -> (Result<bool, crate::Error>, Vec<String>) {
    bs_reply(p, offset, |c| {
        chunk(
            wire::REPLY_FLAG_DONE,
            wire::REPLY_TYPE_BLOCK_STATUS,
            c,
            payload,
        )
    })
}

#[test]
fn block_status_insane_extents_fail_with_eproto_and_connection_lives() {
    let mut p = bs_peer(1 << 20);
    // A zero-length extent.
    let (r, seen) = bs_exchange(&mut p, 0, &bs_payload(1, &[(512, 0), (0, 1)]));
    let e = r.unwrap_err();
    assert_eq!(e.errno(), libc::EPROTO);
    assert!(e.message().contains("zero-length extent"), "{e}");
    assert!(seen.is_empty());
    // An extent starting at the end of the export.
    let (r, seen) = bs_exchange(
        &mut p,
        (1 << 20) - 512,
        &bs_payload(1, &[(512, 0), (512, 0)]),
    );
    let e = r.unwrap_err();
    assert_eq!(e.errno(), libc::EPROTO);
    assert!(e.message().contains("past the end of the export"), "{e}");
    assert!(seen.is_empty());
    // A context that was never negotiated.
    let (r, seen) = bs_exchange(&mut p, 0, &bs_payload(9, &[(512, 0)]));
    assert_eq!(r.unwrap_err().errno(), libc::EPROTO);
    assert!(seen.is_empty());
    // Still connected, and a sane answer is delivered.
    assert_eq!(p.state(), PublicState::Connected);
    let (r, seen) = bs_exchange(&mut p, 0, &bs_payload(1, &[(4096, 3)]));
    assert!(r.unwrap());
    assert_eq!(seen, vec!["base:allocation 0 [4096, 3]"]);
}

#[test]
fn extended_reply_offset_must_match_the_request() {
    let srv = Server {
        extended: true,
        ..Server::default()
    };
    let mut p = connected(Config::default(), &srv);
    assert!(p.m.info().extended_headers);
    let (c, _) = p.read(512, 4096);
    let e = p
        .send(&ext_chunk(
            wire::REPLY_FLAG_DONE,
            wire::REPLY_TYPE_OFFSET_DATA,
            c,
            0,
            &data_payload(4096, &[1; 512]),
        ))
        .unwrap_err();
    assert_eq!(e.errno(), libc::EPROTO);
    assert!(e.message().contains("offset"), "{e}");
    assert_dead(&p, libc::EPROTO);
    let e = p.m.command_completed(c).unwrap_err();
    assert_eq!(e.errno(), libc::ENOTCONN);
}

#[test]
fn unknown_error_chunk_type_fails_the_command() {
    let mut p = structured();
    let c = p.submit(CommandKind::Flush, 0).unwrap();
    let mut payload = error_payload(wire::NBD_ENOSPC, "full", None);
    payload.extend_from_slice(&[9; 40]); // a tail we do not understand
    p.send(&chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_ERROR_BIT | 99,
        c,
        &payload,
    ))
    .unwrap();
    assert_eq!(p.command_errno(c), libc::ENOSPC);
    assert_eq!(p.state(), PublicState::Connected);
}

#[test]
fn reply_to_unknown_cookie_kills() {
    let mut p = structured();
    let (c, _) = p.read(512, 0);
    let err = p.send(&simple_reply(c + 100, 0, &[])).unwrap_err();
    assert_eq!(err.errno(), libc::EPROTO);
    assert_dead(&p, libc::EPROTO);
    assert_eq!(p.command_errno(c), libc::ENOTCONN);

    let mut p = structured();
    p.read(512, 0);
    assert_kills(
        &mut p,
        &chunk(wire::REPLY_FLAG_DONE, wire::REPLY_TYPE_NONE, 4242, &[]),
    );
}

#[test]
fn reply_to_retired_cookie_kills() {
    let mut p = structured();
    let c = p.submit(CommandKind::Flush, 0).unwrap();
    p.send(&simple_reply(c, 0, &[])).unwrap();
    assert!(p.m.command_completed(c).unwrap());
    assert_kills(&mut p, &simple_reply(c, 0, &[]));
}

#[test]
fn reply_to_completed_uncollected_cookie_kills() {
    // Completed is not in flight: a second reply for it is as unknown as
    // any other cookie, and the command keeps the result it had.
    let mut p = structured();
    let c = p.submit(CommandKind::Flush, 0).unwrap();
    let (d, _) = p.read(512, 0);
    p.send(&simple_reply(c, 0, &[])).unwrap();
    let err = p.send(&simple_reply(c, 0, &[])).unwrap_err();
    assert_eq!(err.errno(), libc::EPROTO);
    assert!(err.message().contains("no matching cookie"), "{err}");
    assert_dead(&p, libc::EPROTO);
    assert!(p.m.command_completed(c).unwrap());
    let e = p.m.command_completed(d).unwrap_err();
    assert_eq!(e.errno(), libc::ENOTCONN);
    assert!(e.message().contains("no matching cookie"), "{e}");
}

#[test]
fn reply_to_a_request_not_yet_sent_is_matched() {
    // Known means submitted and not completed, whether or not the request
    // has been written yet.
    let mut p = structured();
    let c =
        p.m.start_command(crate::protocol::Command {
            kind: CommandKind::Flush,
            flags: crate::generated::types::CmdFlag(0),
            completion: None,
        })
        .unwrap();
    p.send(&simple_reply(c, 0, &[])).unwrap();
    assert_eq!(p.state(), PublicState::Connected);
    assert!(p.m.command_completed(c).unwrap());
}

#[test]
fn reply_naming_the_disconnect_cookie_completes_it() {
    // NBD_CMD_DISC gets no reply, but its cookie is in flight until the
    // connection ends: a reply naming it is matched, not a protocol error.
    let mut p = structured();
    p.m.disconnect(false).unwrap();
    let disc = p.expect_request(false);
    assert_eq!(disc.typ, wire::CMD_DISC);
    assert_eq!(p.m.in_flight(), 1);
    p.send(&simple_reply(disc.cookie, 0, &[])).unwrap();
    assert_eq!(p.state(), PublicState::Connected);
    assert_eq!(p.m.in_flight(), 0);
}

#[test]
fn data_past_the_buffer_kills() {
    for (off, len) in [(0u64, 513usize), (256, 512), (1 << 40, 1)] {
        let mut p = structured();
        let (c, buf) = p.read(512, 0);
        assert_kills(
            &mut p,
            &data_chunk(wire::REPLY_FLAG_DONE, c, off, &vec![7; len]),
        );
        assert_eq!(buf.to_vec(), vec![0; 512]);
    }
    // Below the request's offset.
    let mut p = structured();
    let (c, _) = p.read(512, 4096);
    assert_kills(&mut p, &data_chunk(0, c, 0, &[7; 16]));
}

#[test]
fn hole_past_the_buffer_kills() {
    let mut p = structured();
    let (c, _) = p.read(512, 0);
    assert_kills(&mut p, &hole_chunk(wire::REPLY_FLAG_DONE, c, 0, u32::MAX));
}

#[test]
fn overlapping_chunks_kill() {
    let mut p = structured();
    let (c, _) = p.read(1024, 0);
    let mut bytes = data_chunk(0, c, 0, &[1; 600]);
    bytes.extend(hole_chunk(wire::REPLY_FLAG_DONE, c, 500, 524));
    assert_kills(&mut p, &bytes);
}

#[test]
fn zero_length_chunks_kill() {
    let mut p = structured();
    let (c, _) = p.read(512, 0);
    assert_kills(&mut p, &data_chunk(0, c, 0, &[]));

    let mut p = structured();
    let (c, _) = p.read(512, 0);
    assert_kills(&mut p, &hole_chunk(0, c, 0, 0));
}

#[test]
fn structured_reply_without_negotiation_kills() {
    let mut p = connected(Config::default(), &simple_srv());
    let (c, _) = p.read(512, 0);
    assert_kills(
        &mut p,
        &chunk(wire::REPLY_FLAG_DONE, wire::REPLY_TYPE_NONE, c, &[]),
    );
}

#[test]
fn simple_read_data_on_structured_connection_kills() {
    let mut p = structured();
    let (c, _) = p.read(512, 0);
    assert_kills(&mut p, &simple_reply(c, 0, &[0; 512]));
}

#[test]
fn compact_reply_on_extended_connection_kills() {
    let mut p = connected(
        Config::default(),
        &Server {
            extended: true,
            ..Server::default()
        },
    );
    let c = p.submit(CommandKind::Flush, 0).unwrap();
    assert_kills(&mut p, &simple_reply(c, 0, &[]));
}

#[test]
fn wrong_chunk_for_command_kills() {
    let mut p = structured();
    let c = p.submit(CommandKind::Flush, 0).unwrap();
    assert_kills(&mut p, &data_chunk(wire::REPLY_FLAG_DONE, c, 0, &[1; 8]));

    let mut p = structured();
    let (c, _) = p.read(512, 0);
    assert_kills(
        &mut p,
        &chunk(
            wire::REPLY_FLAG_DONE,
            wire::REPLY_TYPE_BLOCK_STATUS,
            c,
            &bs_payload(1, &[(512, 0)]),
        ),
    );
}

#[test]
fn bad_lengths_kill() {
    let cases: Vec<(u16, Vec<u8>)> = vec![
        (wire::REPLY_TYPE_NONE, vec![0; 4]),
        (wire::REPLY_TYPE_OFFSET_HOLE, vec![0; 13]),
        (wire::REPLY_TYPE_ERROR, vec![0; 5]),
        (
            wire::REPLY_TYPE_ERROR,
            error_payload(wire::NBD_EIO, "x", Some(0)),
        ),
        (
            wire::REPLY_TYPE_ERROR_OFFSET,
            error_payload(wire::NBD_EIO, "x", None),
        ),
    ];
    for (typ, payload) in cases {
        let mut p = structured();
        let (c, _) = p.read(512, 0);
        assert_kills(&mut p, &chunk(wire::REPLY_FLAG_DONE, typ, c, &payload));
    }
    // Error message longer than the chunk.
    let mut p = structured();
    let (c, _) = p.read(512, 0);
    let mut payload = Vec::new();
    payload.put32(wire::NBD_EIO);
    payload.put16(500);
    payload.extend_from_slice(b"short");
    assert_kills(
        &mut p,
        &chunk(wire::REPLY_FLAG_DONE, wire::REPLY_TYPE_ERROR, c, &payload),
    );
    // NONE without DONE.
    let mut p = structured();
    let (c, _) = p.read(512, 0);
    assert_kills(&mut p, &chunk(0, wire::REPLY_TYPE_NONE, c, &[]));
}

#[test]
fn bad_block_status_lengths_kill() {
    let cfg = meta_config();
    for payload in [vec![0u8; 8], vec![0u8; 13]] {
        let mut p = connected(cfg.clone(), &Server::default());
        let cb = Box::new(|_: &str, _: u64, _: &[u32], _: &mut i32| 0);
        let c = p
            .submit(
                CommandKind::block_status(512, 0, crate::protocol::ExtentSink::Narrow(cb), None),
                0,
            )
            .unwrap();
        assert_kills(
            &mut p,
            &chunk(
                wire::REPLY_FLAG_DONE,
                wire::REPLY_TYPE_BLOCK_STATUS,
                c,
                &payload,
            ),
        );
    }
}

#[test]
fn huge_chunk_length_kills_without_allocating() {
    let mut p = structured();
    let (c, _) = p.read(512, 0);
    let mut hdr = Vec::new();
    hdr.put32(wire::STRUCTURED_REPLY_MAGIC);
    hdr.put16(0);
    hdr.put16(wire::REPLY_TYPE_ERROR);
    hdr.put64(c);
    hdr.put32(u32::MAX);
    assert_kills(&mut p, &hdr);
}

#[test]
fn bad_reply_magic_kills() {
    let mut p = structured();
    p.read(512, 0);
    assert_kills(&mut p, &[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]);
}

#[test]
fn early_eof_mid_payload_fails_everything() {
    let mut p = connected(Config::default(), &simple_srv());
    let (a, _) = p.read(4096, 0);
    let b = p.submit(CommandKind::Flush, 0).unwrap();
    p.send(&simple_reply(a, 0, &[1; 100])).unwrap();
    p.m.input_eof();
    assert_dead(&p, libc::EPROTO);
    assert_eq!(p.command_errno(a), libc::ENOTCONN);
    assert_eq!(p.command_errno(b), libc::ENOTCONN);
}

#[test]
fn early_eof_mid_header() {
    let mut p = structured();
    let (c, _) = p.read(512, 0);
    p.send(&chunk(wire::REPLY_FLAG_DONE, wire::REPLY_TYPE_NONE, c, &[])[..7])
        .unwrap();
    p.m.input_eof();
    assert_dead(&p, libc::EPROTO);
}

#[test]
fn bytes_after_death_are_ignored() {
    let mut p = structured();
    p.read(512, 0);
    p.send(&[0; 16]).unwrap_err();
    assert!(p.m.input_received(0).is_ok());
    p.m.input_eof();
    assert_dead(&p, libc::EPROTO);
}

#[test]
fn option_reply_too_long_kills() {
    let mut p = negotiating(&Server::default());
    p.start_option(OptRequest::Info, None);
    let mut hdr = Vec::new();
    hdr.put64(wire::REPLY_MAGIC_OPT);
    hdr.put32(wire::OPT_INFO);
    hdr.put32(wire::REP_ERR_UNKNOWN);
    hdr.put32(1 << 30);
    assert_kills(&mut p, &hdr);
    assert!(p.m.option_result().unwrap().is_err());
}

#[test]
fn bad_option_replies_kill() {
    let long_name = {
        let mut v = Vec::new();
        v.put32(1000);
        v.extend_from_slice(b"abc");
        v
    };
    let cases: Vec<(u32, Vec<u8>)> = vec![
        (wire::REP_SERVER, long_name),
        (wire::REP_SERVER, vec![0, 0]),
        (wire::REP_META_CONTEXT, vec![0; 4]),
        (77, vec![]),
        (wire::REP_ACK, vec![1]),
    ];
    for (typ, payload) in cases {
        let mut p = negotiating(&Server::default());
        p.start_option(OptRequest::List(Box::new(|_, _| 0)), None);
        assert_kills(&mut p, &opt_reply(wire::OPT_LIST, typ, &payload));
    }
}

#[test]
fn bad_info_replies_kill() {
    for payload in [vec![0u8, 0, 1], vec![0u8, 3, 0, 0]] {
        let mut p = negotiating(&Server::default());
        p.start_option(OptRequest::Info, None);
        assert_kills(&mut p, &opt_reply(wire::OPT_INFO, wire::REP_INFO, &payload));
    }
}

#[test]
fn block_status_count_mismatch_kills() {
    let cfg = meta_config();
    let mut p = connected(
        cfg,
        &Server {
            extended: true,
            ..Server::default()
        },
    );
    let cb = Box::new(|_: &str, _: u64, _: &[crate::Extent], _: &mut i32| 0);
    let c = p
        .submit(
            CommandKind::block_status(512, 0, crate::protocol::ExtentSink::Wide(cb), None),
            0,
        )
        .unwrap();
    let mut payload = bs_ext_payload(1, &[(512, 0)]);
    payload[7] = 5; // claims 5 descriptors
    assert_kills(
        &mut p,
        &ext_chunk(
            wire::REPLY_FLAG_DONE,
            wire::REPLY_TYPE_BLOCK_STATUS_EXT,
            c,
            0,
            &payload,
        ),
    );
}

/// A small deterministic generator for the random tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_replies_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for round in 0..300 {
        let ext = round % 3 == 0;
        let srv = Server {
            extended: ext,
            ..Server::default()
        };
        let cfg = meta_config();
        let mut p = connected(cfg, &srv);
        let mut cookies = Vec::new();
        for i in 0..4 {
            let (c, _) = p.read(64 + i * 100, 0);
            cookies.push(c);
        }
        // Plausible headers with random types, lengths and contents.
        let mut bytes = Vec::new();
        for _ in 0..(rng.next() % 6) {
            let cookie = if rng.next() % 5 < 1 {
                rng.next()
            } else {
                cookies[(rng.next() % 4) as usize]
            };
            let typ = [0u16, 1, 2, 5, 6, 0x8001, 0x8002, 3, 0x8005][(rng.next() % 9) as usize];
            let len = (rng.next() % 64) as usize;
            let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let flags = (rng.next() % 2) as u16;
            if ext {
                bytes.extend(ext_chunk(flags, typ, cookie, 0, &payload));
            } else {
                bytes.extend(chunk(flags, typ, cookie, &payload));
            }
        }
        // And sometimes plain garbage.
        if rng.next() & 3 == 0 {
            bytes.extend((0..(rng.next() % 100)).map(|_| rng.next() as u8));
        }
        let piece = 1 + (rng.next() % 50) as usize;
        let _ = p.send_in_pieces(&bytes, piece);
        if rng.next() & 1 == 0 {
            p.m.input_eof();
            assert!(matches!(p.state(), PublicState::Closed | PublicState::Dead));
            assert_eq!(p.m.in_flight(), 0);
        }
        for c in cookies {
            let _ = p.m.command_completed(c);
        }
    }
}

#[test]
fn random_handshake_bytes_never_panic() {
    let mut rng = Rng(0xfeed_beef_cafe_f00d);
    for _ in 0..300 {
        let mut p = Peer::new(Config {
            opt_mode: rng.next() & 1 == 0,
            ..Config::default()
        });
        let mut bytes = newstyle_greeting((rng.next() % 4) as u16);
        for _ in 0..(rng.next() % 4) {
            let opt = [
                wire::OPT_EXTENDED_HEADERS,
                wire::OPT_STRUCTURED_REPLY,
                wire::OPT_GO,
                0,
            ][(rng.next() % 4) as usize];
            let typ = [
                wire::REP_ACK,
                wire::REP_INFO,
                wire::REP_ERR_UNSUP,
                wire::REP_SERVER,
            ][(rng.next() % 4) as usize];
            let len = (rng.next() % 20) as usize;
            let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            bytes.extend(opt_reply(opt, typ, &payload));
        }
        let _ = p.send_in_pieces(&bytes, 1 + (rng.next() % 30) as usize);
        p.m.input_eof();
        assert!(matches!(
            p.state(),
            PublicState::Closed | PublicState::Dead | PublicState::Negotiating
        ));
    }
}

#[test]
fn write_buffer_is_only_read() {
    // A write's buffer is shared with the send queue; replies can never
    // write into it, even from a confused server.
    let mut p = structured();
    let buf = AioBuffer::from_vec(vec![5; 512]);
    let c = p.submit(CommandKind::write(buf.clone(), 0), 0).unwrap();
    p.send(&data_chunk(wire::REPLY_FLAG_DONE, c, 0, &[9; 512]))
        .unwrap_err();
    assert_eq!(buf.to_vec(), vec![5; 512]);
}

#[test]
fn meta_context_not_requested_is_never_negotiated() {
    let cfg = meta_config();
    let srv = Server::default();
    let mut p = Peer::new(cfg);
    p.send(&newstyle_greeting(srv.gflags)).unwrap();
    p.expect_cflags();
    let _ = p.options_until(&srv, wire::OPT_SET_META_CONTEXT);
    let ctx = |id: u32, name: &str| {
        let mut b = Vec::new();
        b.put32(id);
        b.extend_from_slice(name.as_bytes());
        opt_reply(wire::OPT_SET_META_CONTEXT, wire::REP_META_CONTEXT, &b)
    };
    let mut bytes = ctx(7, "qemu:evil");
    bytes.extend(ctx(1, "base:allocation"));
    bytes.extend(ctx(1, "base:allocation")); // a repeat is ignored too
    bytes.extend(opt_reply(wire::OPT_SET_META_CONTEXT, wire::REP_ACK, &[]));
    p.send(&bytes).unwrap();
    p.serve_options(&srv);
    assert_eq!(p.state(), PublicState::Connected);
    let info = p.m.info();
    assert!(info.can_meta_context("base:allocation"));
    assert!(!info.can_meta_context("qemu:evil"));
    assert_eq!(info.meta_contexts.len(), 1);
}

#[test]
pub(super) fn option_reply_flood_ends_with_eproto() {
    use crate::protocol::options::MAX_OPT_REPLIES;
    let srv = Server::default();
    let mut p = negotiating(&srv);
    p.m.start_option(OptRequest::List(Box::new(|_: &str, _: &str| 0)), None)
        .unwrap();
    let (code, _) = p.expect_option();
    assert_eq!(code, wire::OPT_LIST);
    let mut one = Vec::new();
    one.put32(1);
    one.extend_from_slice(b"x");
    let reply = opt_reply(wire::OPT_LIST, wire::REP_SERVER, &one);
    // Endless NBD_REP_SERVER: fed in slices, the machine's buffer stays
    // small, and it gives up once the bound is passed.
    let mut sent = 0u32;
    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend_from_slice(&reply);
    }
    let err = loop {
        match p.send(&batch) {
            Ok(()) => sent += 1000,
            Err(e) => break e,
        }
        assert!(sent <= MAX_OPT_REPLIES + 1000, "no bound");
        assert!(p.m.cx.inbuf.capacity() <= 1 << 20, "input buffer grew");
    };
    assert_eq!(err.errno(), libc::EPROTO);
    assert!(err.message().contains("more than"), "{err}");
    assert_dead(&p, libc::EPROTO);
    let r = p.m.option_result().expect("the option finished");
    assert!(r.is_err());
}

#[test]
fn block_status_without_extents_fails() {
    // The protocol: at least one descriptor per context on success.
    let mut p = bs_peer(1 << 20);
    let (r, seen) = bs_reply(&mut p, 0, |c| {
        chunk(wire::REPLY_FLAG_DONE, wire::REPLY_TYPE_NONE, c, &[])
    });
    let e = r.unwrap_err();
    assert_eq!(e.errno(), libc::EPROTO);
    assert!(e.message().contains("did not return any extents"), "{e}");
    assert!(seen.is_empty());
    assert_eq!(p.state(), PublicState::Connected);
    // An error reply is the server's answer, not a protocol violation.
    let (r, _) = bs_reply(&mut p, 0, |c| simple_reply(c, wire::NBD_EIO, &[]));
    assert_eq!(r.unwrap_err().errno(), libc::EIO);
}

//! Data commands: requests on the wire and replies of every shape.
//!
//! scenarios: 300 320 330 340 420 460 465 600 620 700 701 705

use std::sync::{Arc, Mutex};

use super::peer::*;
use crate::generated::types::{Extent, PublicState, READ_DATA, READ_HOLE};
use crate::protocol::wire;
use crate::protocol::{Command, CommandKind, Config, ExtentSink};
use crate::{AioBuffer, CmdFlag};

fn ext_srv() -> Server {
    Server {
        extended: true,
        eflags: EFLAGS_ALL | wire::FLAG_BLOCK_STATUS_PAYLOAD,
        ..Server::default()
    }
}

#[test]
fn read_simple_reply() {
    let mut p = connected(Config::default(), &simple_srv());
    let (cookie, buf) = p.read(512, 4096);
    assert!(cookie >= 1);
    let req = p.expect_request(false);
    assert_eq!(
        (req.typ, req.offset, req.length, req.flags),
        (wire::CMD_READ, 4096, 512, 0)
    );
    assert_eq!(req.cookie, cookie);
    assert!(!p.m.command_completed(cookie).unwrap());
    p.send(&simple_reply(cookie, 0, &[7u8; 512])).unwrap();
    assert!(p.m.command_completed(cookie).unwrap());
    assert_eq!(buf.to_vec(), vec![7u8; 512]);
    assert_eq!(p.m.in_flight(), 0);
}

#[test]
fn read_large_goes_straight_into_buffer() {
    let mut p = connected(Config::default(), &simple_srv());
    let len = 1 << 20;
    let (cookie, buf) = p.read(len, 0);
    p.expect_request(false);
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let bytes = simple_reply(cookie, 0, &data);
    // First piece lands in the internal buffer; then the machine offers
    // the caller's buffer directly.
    p.send(&bytes[..1000]).unwrap();
    let direct = p.m.input_buffer().len();
    assert_eq!(direct, len - (1000 - 16));
    p.send(&bytes[1000..]).unwrap();
    assert!(p.m.command_completed(cookie).unwrap());
    assert_eq!(buf.to_vec(), data);
}

#[test]
pub(super) fn read_error_simple() {
    let mut p = connected(Config::default(), &simple_srv());
    let (cookie, _) = p.read(512, 0);
    p.send(&simple_reply(cookie, wire::NBD_EIO, &[])).unwrap();
    let e = p.m.command_completed(cookie).unwrap_err();
    assert_eq!(e.errno(), libc::EIO);
    // Retired: the cookie is gone, so it is "not completed" from now on.
    assert!(!p.m.command_completed(cookie).unwrap());
    assert_eq!(p.state(), PublicState::Connected);
}

#[test]
fn server_errors_map_to_errno() {
    let mut p = connected(Config::default(), &simple_srv());
    for (nbd, errno) in [
        (wire::NBD_EPERM, libc::EPERM),
        (wire::NBD_ENOMEM, libc::ENOMEM),
        (wire::NBD_EINVAL, libc::EINVAL),
        (wire::NBD_ENOSPC, libc::ENOSPC),
        (wire::NBD_EOVERFLOW, libc::EOVERFLOW),
        (wire::NBD_ENOTSUP, libc::ENOTSUP),
        (wire::NBD_ESHUTDOWN, libc::ESHUTDOWN),
        (12345, libc::EINVAL),
    ] {
        let c = p.submit(CommandKind::Flush, 0).unwrap();
        p.send(&simple_reply(c, nbd, &[])).unwrap();
        assert_eq!(p.command_errno(c), errno);
    }
}

#[test]
fn write_header_and_payload_in_one_output() {
    let mut p = connected(Config::default(), &simple_srv());
    let data: Vec<u8> = (0..1024).map(|i| i as u8).collect();
    let buf = AioBuffer::from_vec(data.clone());
    let cookie =
        p.m.start_command(Command {
            kind: CommandKind::write(buf, 512),
            flags: CmdFlag::FUA,
            completion: None,
        })
        .unwrap();
    let mut slices = Vec::new();
    p.m.pending_output(&mut slices);
    assert_eq!(slices.len(), 2);
    assert_eq!(slices[0].len() + slices[1].len(), 28 + 1024);
    drop(slices);
    let req = p.expect_request(false);
    assert_eq!(req.typ, wire::CMD_WRITE);
    assert_eq!(req.flags, wire::CMD_FLAG_FUA);
    assert_eq!(req.payload, data);
    p.send(&simple_reply(cookie, 0, &[])).unwrap();
    assert!(p.m.command_completed(cookie).unwrap());
}

#[test]
fn partial_writes_are_resumed() {
    let mut p = connected(Config::default(), &simple_srv());
    let buf = AioBuffer::from_vec(vec![9; 100]);
    p.m.start_command(Command {
        kind: CommandKind::write(buf, 0),
        flags: CmdFlag(0),
        completion: None,
    })
    .unwrap();
    let mut got = Vec::new();
    loop {
        let mut slices = Vec::new();
        p.m.pending_output(&mut slices);
        if slices.is_empty() {
            break;
        }
        let first = slices[0][..slices[0].len().min(5)].to_vec();
        drop(slices);
        got.extend_from_slice(&first);
        p.m.output_written(first.len());
    }
    assert_eq!(got.len(), 128);
    assert_eq!(&got[28..], &[9; 100][..]);
    assert_eq!(p.m.stats().chunks_sent, 5);
}

#[test]
fn every_command_on_the_wire() {
    let mut p = connected(Config::default(), &simple_srv());
    let cases: Vec<(CommandKind, u32, u16, u16)> = vec![
        (CommandKind::Flush, 0, wire::CMD_FLUSH, 0),
        (
            CommandKind::trim(4096, 8192),
            CmdFlag::FUA.bits(),
            wire::CMD_TRIM,
            1,
        ),
        (CommandKind::cache(4096, 0), 0, wire::CMD_CACHE, 0),
        (
            CommandKind::zero(65536, 0),
            (CmdFlag::NO_HOLE | CmdFlag::FAST_ZERO).bits(),
            wire::CMD_WRITE_ZEROES,
            wire::CMD_FLAG_NO_HOLE | wire::CMD_FLAG_FAST_ZERO,
        ),
    ];
    for (kind, flags, typ, wire_flags) in cases {
        let c = p.submit(kind, flags).unwrap();
        let req = p.expect_request(false);
        assert_eq!((req.typ, req.flags, req.cookie), (typ, wire_flags, c));
        p.send(&simple_reply(c, 0, &[])).unwrap();
        assert!(p.m.command_completed(c).unwrap());
    }
}

#[test]
fn disconnect_then_close() {
    let mut p = connected(Config::default(), &simple_srv());
    let (c, _) = p.read(512, 0);
    p.m.disconnect(false).unwrap();
    p.expect_request(false);
    let disc = p.expect_request(false);
    assert_eq!(disc.typ, wire::CMD_DISC);
    // No more commands after NBD_CMD_DISC.
    assert_eq!(
        p.submit(CommandKind::Flush, 0).unwrap_err().errno(),
        libc::EINVAL
    );
    p.send(&simple_reply(c, 0, &[1; 512])).unwrap();
    assert!(p.m.command_completed(c).unwrap());
    p.m.input_eof();
    assert_eq!(p.state(), PublicState::Closed);
    assert_eq!(p.m.in_flight(), 0);
}

#[test]
fn shutdown_abandon_pending() {
    let mut p = connected(Config::default(), &simple_srv());
    let (sent, _) = p.read(512, 0);
    p.flush();
    // Queued but not written:
    let log = Log::default();
    let queued =
        p.m.start_command(Command {
            kind: CommandKind::read(AioBuffer::new(512), 0, None),
            flags: CmdFlag(0),
            completion: Some(completion(&log, 0)),
        })
        .unwrap();
    p.m.disconnect(true).unwrap();
    assert_eq!(log.events(), vec![format!("completion {}", libc::ENOTCONN)]);
    assert_eq!(p.command_errno(queued), libc::ENOTCONN);
    let r1 = p.expect_request(false);
    assert_eq!(r1.cookie, sent);
    let disc = p.expect_request(false);
    assert_eq!(disc.typ, wire::CMD_DISC);
    assert!(p.rx.is_empty());
}

#[test]
fn structured_read_chunks_and_holes() {
    let mut p = connected(Config::default(), &Server::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let chunk_cb = Box::new(move |b: &[u8], off: u64, status: u32, _e: &mut i32| {
        s2.lock().unwrap().push((b.to_vec(), off, status));
        0
    });
    let buf = AioBuffer::from_vec(vec![0xff; 3000]);
    let cookie =
        p.m.start_command(Command {
            kind: CommandKind::read(buf.clone(), 1000, Some(chunk_cb)),
            flags: CmdFlag(0),
            completion: None,
        })
        .unwrap();
    // pread_initialize is the dispatch layer's (before any check); the
    // machine leaves the buffer alone until replies arrive.
    assert_eq!(buf.to_vec(), vec![0xff; 3000]);
    p.expect_request(false);
    let mut bytes = data_chunk(0, cookie, 2000, &[5; 2000]);
    bytes.extend(hole_chunk(0, cookie, 1000, 1000));
    bytes.extend(chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_NONE,
        cookie,
        &[],
    ));
    p.send_in_pieces(&bytes, 13).unwrap();
    assert!(p.m.command_completed(cookie).unwrap());
    let v = buf.to_vec();
    assert_eq!(&v[..1000], &[0; 1000][..]);
    assert_eq!(&v[1000..], &[5; 2000][..]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].1, seen[0].2, seen[0].0.len()),
        (2000, READ_DATA, 2000)
    );
    assert_eq!(
        (seen[1].1, seen[1].2, seen[1].0.len()),
        (1000, READ_HOLE, 1000)
    );
}

#[test]
pub(super) fn structured_read_error_chunk() {
    let mut p = connected(Config::default(), &Server::default());
    let (c, _) = p.read(4096, 0);
    let mut bytes = chunk(
        0,
        wire::REPLY_TYPE_ERROR_OFFSET,
        c,
        &error_payload(wire::NBD_EIO, "bad sector", Some(512)),
    );
    bytes.extend(chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_ERROR,
        c,
        &error_payload(wire::NBD_ENOSPC, "", None),
    ));
    p.send(&bytes).unwrap();
    // The first error wins.
    assert_eq!(p.command_errno(c), libc::EIO);
    assert_eq!(p.state(), PublicState::Connected);
}

#[test]
fn structured_simple_reply_for_non_read() {
    let mut p = connected(Config::default(), &Server::default());
    let c = p.submit(CommandKind::Flush, 0).unwrap();
    p.send(&simple_reply(c, 0, &[])).unwrap();
    assert!(p.m.command_completed(c).unwrap());
}

#[test]
fn read_with_only_none_chunk_is_eio() {
    let mut p = connected(Config::default(), &Server::default());
    let (c, _) = p.read(512, 0);
    p.send(&chunk(wire::REPLY_FLAG_DONE, wire::REPLY_TYPE_NONE, c, &[]))
        .unwrap();
    assert_eq!(p.command_errno(c), libc::EIO);
}

#[test]
fn out_of_order_replies() {
    let mut p = connected(Config::default(), &simple_srv());
    let (a, ba) = p.read(16, 0);
    let (b, bb) = p.read(16, 16);
    let c = p.submit(CommandKind::Flush, 0).unwrap();
    let mut bytes = simple_reply(c, 0, &[]);
    bytes.extend(simple_reply(b, 0, &[2; 16]));
    bytes.extend(simple_reply(a, 0, &[1; 16]));
    p.send(&bytes).unwrap();
    assert_eq!(p.m.peek_command_completed().unwrap(), c);
    assert!(p.m.command_completed(a).unwrap());
    assert!(p.m.command_completed(b).unwrap());
    assert!(p.m.command_completed(c).unwrap());
    assert_eq!(ba.to_vec(), vec![1; 16]);
    assert_eq!(bb.to_vec(), vec![2; 16]);
}

#[test]
fn sixty_four_in_flight() {
    let mut p = connected(Config::default(), &Server::default());
    let mut cmds = Vec::new();
    for i in 0..64u64 {
        cmds.push(p.read(4096, i * 4096));
    }
    assert_eq!(p.m.in_flight(), 64);
    let mut reqs = Vec::new();
    for _ in 0..64 {
        reqs.push(p.expect_request(false));
    }
    // Cookies are unique.
    let mut cookies: Vec<u64> = reqs.iter().map(|r| r.cookie).collect();
    cookies.sort();
    cookies.dedup();
    assert_eq!(cookies.len(), 64);
    // Reply in reverse order, all in one read.
    let mut bytes = Vec::new();
    for r in reqs.iter().rev() {
        let fill = (r.offset / 4096) as u8;
        bytes.extend(data_chunk(
            wire::REPLY_FLAG_DONE,
            r.cookie,
            r.offset,
            &[fill; 4096],
        ));
    }
    let before = p.m.stats().chunks_received;
    p.send(&bytes).unwrap();
    assert_eq!(p.m.stats().chunks_received - before, 64);
    for (i, (c, buf)) in cmds.iter().enumerate() {
        assert!(p.m.command_completed(*c).unwrap());
        assert_eq!(buf.to_vec(), vec![i as u8; 4096]);
    }
    assert_eq!(p.m.in_flight(), 0);
    assert_eq!(
        p.m.peek_command_completed().unwrap_err().errno(),
        libc::EINVAL
    );
}

#[test]
fn block_status_narrow() {
    let mut p = connected(meta_config(), &Server::default());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let cb = Box::new(move |ctx: &str, off: u64, e: &[u32], _err: &mut i32| {
        g2.lock().unwrap().push((ctx.to_string(), off, e.to_vec()));
        0
    });
    let c = p
        .submit(
            CommandKind::block_status(65536, 0, ExtentSink::Narrow(cb), None),
            0,
        )
        .unwrap();
    let req = p.expect_request(false);
    assert_eq!((req.typ, req.length), (wire::CMD_BLOCK_STATUS, 65536));
    let bytes = chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_BLOCK_STATUS,
        c,
        &bs_payload(1, &[(4096, 3), (61440, 0)]),
    );
    p.send(&bytes).unwrap();
    assert!(p.m.command_completed(c).unwrap());
    assert_eq!(
        *got.lock().unwrap(),
        vec![("base:allocation".to_string(), 0, vec![4096, 3, 61440, 0])]
    );
}

#[test]
fn block_status_wide_on_compact_connection() {
    let mut p = connected(meta_config(), &Server::default());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let cb = Box::new(move |_: &str, _: u64, e: &[Extent], _err: &mut i32| {
        g2.lock().unwrap().extend_from_slice(e);
        0
    });
    let c = p
        .submit(
            CommandKind::block_status(8192, 0, ExtentSink::Wide(cb), None),
            CmdFlag::REQ_ONE.bits(),
        )
        .unwrap();
    let req = p.expect_request(false);
    assert_eq!(req.flags, wire::CMD_FLAG_REQ_ONE);
    // A server ignoring REQ_ONE: only the first extent is passed on.
    let bytes = chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_BLOCK_STATUS,
        c,
        &bs_payload(1, &[(4096, 1), (4096, 2)]),
    );
    p.send(&bytes).unwrap();
    assert!(p.m.command_completed(c).unwrap());
    assert_eq!(
        *got.lock().unwrap(),
        vec![Extent {
            length: 4096,
            flags: 1
        }]
    );
}

#[test]
fn block_status_unknown_context_id_fails_the_command_only() {
    let mut p = connected(meta_config(), &Server::default());
    let log = Log::default();
    let l2 = log.clone();
    let cb = Box::new(move |_: &str, _: u64, _: &[u32], _: &mut i32| {
        l2.push("extent");
        0
    });
    let c = p
        .submit(
            CommandKind::block_status(512, 0, ExtentSink::Narrow(cb), None),
            0,
        )
        .unwrap();
    p.send(&chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_BLOCK_STATUS,
        c,
        &bs_payload(77, &[(512, 0)]),
    ))
    .unwrap();
    let e = p.m.command_completed(c).unwrap_err();
    assert_eq!(e.errno(), libc::EPROTO);
    assert!(e.message().contains("meta context ID 77"), "{e}");
    assert!(log.events().is_empty());
    // The connection is still usable.
    let (c2, _buf) = p.read(512, 0);
    p.send(&data_chunk(wire::REPLY_FLAG_DONE, c2, 0, &[7; 512]))
        .unwrap();
    assert!(p.m.command_completed(c2).unwrap());
}

#[test]
fn extended_headers_requests_and_replies() {
    let mut p = connected(meta_config(), &ext_srv());
    assert!(p.m.info().extended_headers);
    assert!(p.m.info().can_block_status_payload());
    // Read: 32-byte request, extended reply chunks.
    let (c, buf) = p.read(1024, 512);
    let req = p.expect_request(true);
    assert_eq!(
        (req.typ, req.offset, req.length, req.flags),
        (wire::CMD_READ, 512, 1024, 0)
    );
    let mut bytes = ext_chunk(
        0,
        wire::REPLY_TYPE_OFFSET_DATA,
        c,
        512,
        &data_payload(512, &[3; 1024]),
    );
    bytes.extend(ext_chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_NONE,
        c,
        512,
        &[],
    ));
    p.send(&bytes).unwrap();
    assert!(p.m.command_completed(c).unwrap());
    assert_eq!(buf.to_vec(), vec![3; 1024]);

    // Write: PAYLOAD_LEN is set automatically.
    let w = p
        .submit(CommandKind::write(AioBuffer::from_vec(vec![1; 100]), 0), 0)
        .unwrap();
    let req = p.expect_request(true);
    assert_eq!(req.flags, wire::CMD_FLAG_PAYLOAD_LEN);
    assert_eq!(req.payload, vec![1; 100]);
    p.send(&ext_chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_NONE,
        w,
        0,
        &[],
    ))
    .unwrap();
    assert!(p.m.command_completed(w).unwrap());

    // 64-bit trim beyond 4 GiB is fine with extended headers (strict
    // bounds off here because the export is small).
    p.m.config_mut().strict = crate::Strict(0);
    let t = p.submit(CommandKind::trim(1 << 33, 0), 0).unwrap();
    let req = p.expect_request(true);
    assert_eq!(req.length, 1 << 33);
    p.send(&ext_chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_NONE,
        t,
        0,
        &[],
    ))
    .unwrap();
    assert!(p.m.command_completed(t).unwrap());
}

#[test]
fn extended_block_status_64_and_filter() {
    let mut p = connected(meta_config(), &ext_srv());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let cb = Box::new(move |ctx: &str, _: u64, e: &[Extent], _: &mut i32| {
        g2.lock().unwrap().push((ctx.to_string(), e.to_vec()));
        0
    });
    let c = p
        .submit(
            CommandKind::block_status(
                1 << 20,
                0,
                ExtentSink::Wide(cb),
                Some(vec!["base:allocation".into()]),
            ),
            0,
        )
        .unwrap();
    let req = p.expect_request(true);
    assert_eq!(req.flags, wire::CMD_FLAG_PAYLOAD_LEN);
    assert_eq!(req.length, 12);
    assert_eq!(wire::be64(&req.payload, 0), 1 << 20);
    assert_eq!(wire::be32(&req.payload, 8), 1);
    let bytes = ext_chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_BLOCK_STATUS_EXT,
        c,
        0,
        &bs_ext_payload(1, &[(1 << 19, 0), (1 << 19, 3)]),
    );
    p.send(&bytes).unwrap();
    assert!(p.m.command_completed(c).unwrap());
    assert_eq!(
        *got.lock().unwrap(),
        vec![(
            "base:allocation".to_string(),
            vec![
                Extent {
                    length: 1 << 19,
                    flags: 0
                },
                Extent {
                    length: 1 << 19,
                    flags: 3
                }
            ]
        )]
    );
}

#[test]
pub(super) fn extended_block_status_to_narrow_callback() {
    let srv = Server {
        size: 1 << 34,
        ..ext_srv()
    };
    let mut p = connected(meta_config(), &srv);
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let cb = Box::new(move |_: &str, _: u64, e: &[u32], _: &mut i32| {
        g2.lock().unwrap().extend_from_slice(e);
        0
    });
    p.m.config_mut().strict = crate::Strict(0);
    let c = p
        .submit(
            CommandKind::block_status(1 << 33, 0, ExtentSink::Narrow(cb), None),
            0,
        )
        .unwrap();
    let big = bs_ext_payload(1, &[(4096, 1), (1 << 33, 0), (4096, 2)]);
    p.send(&ext_chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_BLOCK_STATUS_EXT,
        c,
        0,
        &big,
    ))
    .unwrap();
    assert!(p.m.command_completed(c).unwrap());
    // The 8 GiB extent is narrowed to 4 GiB - 64 MiB (what 32 bits hold,
    // kept a multiple of any block size), and the list stops there.
    assert_eq!(*got.lock().unwrap(), vec![4096, 1, 0xfc00_0000, 0]);

    // Status flags beyond 32 bits cannot be reported narrowly.
    let cb = Box::new(|_: &str, _: u64, _: &[u32], _: &mut i32| 0);
    let c = p
        .submit(
            CommandKind::block_status(4096, 0, ExtentSink::Narrow(cb), None),
            0,
        )
        .unwrap();
    let wide = bs_ext_payload(1, &[(4096, 1 << 40)]);
    p.send(&ext_chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_BLOCK_STATUS_EXT,
        c,
        0,
        &wide,
    ))
    .unwrap();
    assert_eq!(p.command_errno(c), libc::EOVERFLOW);
}

#[test]
fn pread_initialize_off_leaves_buffer() {
    let mut p = connected(without_pread_initialize(), &Server::default());
    let buf = AioBuffer::from_vec(vec![0xaa; 64]);
    let c = p
        .submit(CommandKind::read(buf.clone(), 0, None), 0)
        .unwrap();
    assert_eq!(buf.to_vec(), vec![0xaa; 64]);
    // A hole is still zeroed as it arrives.
    let mut bytes = hole_chunk(0, c, 0, 32);
    bytes.extend(data_chunk(wire::REPLY_FLAG_DONE, c, 32, &[0x55; 32]));
    p.send(&bytes).unwrap();
    assert!(p.m.command_completed(c).unwrap());
    let v = buf.to_vec();
    assert_eq!(&v[..32], &[0; 32][..]);
    assert_eq!(&v[32..], &[0x55; 32][..]);
}

#[test]
fn stats_count_requests_and_replies() {
    let mut p = connected(Config::default(), &simple_srv());
    let s0 = p.m.stats();
    let (c, _) = p.read(512, 0);
    p.send(&simple_reply(c, 0, &[0; 512])).unwrap();
    let s1 = p.m.stats();
    assert_eq!(s1.chunks_sent - s0.chunks_sent, 1);
    assert_eq!(s1.bytes_sent - s0.bytes_sent, 28);
    assert_eq!(s1.chunks_received - s0.chunks_received, 1);
    assert_eq!(s1.bytes_received - s0.bytes_received, 16 + 512);
}

#[test]
fn debug_messages_when_enabled() {
    let mut p = connected(
        Config {
            debug: true,
            ..Config::default()
        },
        &simple_srv(),
    );
    p.m.take_debug();
    let (c, _) = p.read(512, 0);
    let msgs = p.m.take_debug();
    assert!(
        msgs.iter()
            .any(|m| m == &format!("sent request: cookie={c} cmd=read offset=0 count=512")),
        "{msgs:?}"
    );
    let mut q = connected(Config::default(), &simple_srv());
    q.read(512, 0);
    assert!(q.m.take_debug().is_empty());
}

#[test]
fn eof_between_replies_closes_and_fails_in_flight() {
    let mut p = connected(Config::default(), &simple_srv());
    let log = Log::default();
    let c = p
        .submit_with(CommandKind::Flush, 0, Some(completion(&log, 0)))
        .unwrap();
    p.m.input_eof();
    assert_eq!(p.state(), PublicState::Closed);
    assert_eq!(log.events(), vec![format!("completion {}", libc::ENOTCONN)]);
    assert_eq!(p.command_errno(c), libc::ENOTCONN);
    log.assert_completed_once(libc::ENOTCONN);
}

#[test]
fn transport_failure_fails_everything() {
    let mut p = connected(Config::default(), &simple_srv());
    let (a, _) = p.read(512, 0);
    let b = p.submit(CommandKind::Flush, 0).unwrap();
    p.m.transport_failed(crate::Error::new(
        libc::ECONNRESET,
        "recv: connection reset",
    ));
    assert_eq!(p.state(), PublicState::Dead);
    assert_eq!(p.m.error().unwrap().errno(), libc::ECONNRESET);
    assert_eq!(p.command_errno(a), libc::ENOTCONN);
    assert_eq!(p.command_errno(b), libc::ENOTCONN);
    assert_eq!(
        p.submit(CommandKind::Flush, 0).unwrap_err().errno(),
        libc::ENOTCONN
    );
}

#[test]
fn large_block_status_reply_in_pieces() {
    let mut p = connected(
        meta_config(),
        &Server {
            size: 1 << 40,
            ..Server::default()
        },
    );
    let total = Arc::new(Mutex::new(0usize));
    let t2 = total.clone();
    let cb = Box::new(move |_: &str, _: u64, e: &[u32], _: &mut i32| {
        *t2.lock().unwrap() += e.len() / 2;
        0
    });
    let c = p
        .submit(
            CommandKind::block_status(1 << 31, 0, ExtentSink::Narrow(cb), None),
            0,
        )
        .unwrap();
    let extents: Vec<(u32, u32)> = (0..150_000).map(|i| (4096, i % 3)).collect();
    let bytes = chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_BLOCK_STATUS,
        c,
        &bs_payload(1, &extents),
    );
    assert!(bytes.len() > 1024 * 1024);
    p.send_in_pieces(&bytes, 100_000).unwrap();
    assert!(p.m.command_completed(c).unwrap());
    assert_eq!(*total.lock().unwrap(), 150_000);
    // The grown input buffer went back to its usual size.
    assert_eq!(p.m.input_buffer().len(), 64 * 1024);
}

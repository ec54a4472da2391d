//! Strict mode: each check at submit time, with libnbd's errno, and the
//! callbacks of a rejected command dropped before the call returns.
//!
//! scenarios: 510 520

use super::peer::*;
use crate::protocol::wire;
use crate::protocol::{Command, CommandKind, Config, ExtentSink};
use crate::{AioBuffer, CmdFlag, Strict};

fn strict_all() -> Strict {
    Config::default().strict
}

fn without(bit: Strict) -> Strict {
    Strict(strict_all().bits() & !bit.bits())
}

fn errno(p: &mut Peer, kind: CommandKind, flags: u32) -> i32 {
    p.submit(kind, flags).unwrap_err().errno()
}

fn read(len: usize, offset: u64) -> CommandKind {
    CommandKind::read(AioBuffer::new(len), offset, None)
}

fn write(len: usize, offset: u64) -> CommandKind {
    CommandKind::write(AioBuffer::new(len), offset)
}

/// Connected to an export that advertises no optional command or flag.
fn connected_advertising_nothing() -> Peer {
    let srv = Server {
        eflags: wire::FLAG_HAS_FLAGS,
        ..Server::default()
    };
    connected(Config::default(), &srv)
}

#[test]
fn commands_not_advertised() {
    let mut p = connected_advertising_nothing();
    assert_eq!(errno(&mut p, CommandKind::Flush, 0), libc::EINVAL);
    assert_eq!(errno(&mut p, CommandKind::trim(512, 0), 0), libc::EINVAL);
    assert_eq!(errno(&mut p, CommandKind::zero(512, 0), 0), libc::EINVAL);
    assert_eq!(errno(&mut p, CommandKind::cache(512, 0), 0), libc::EINVAL);
    assert_eq!(
        errno(&mut p, write(512, 0), CmdFlag::FUA.bits()),
        libc::EINVAL
    );
    assert_eq!(
        errno(&mut p, read(512, 0), CmdFlag::DF.bits()),
        libc::EINVAL
    );
    // Nothing went out.
    p.flush();
    assert!(p.rx.is_empty());
    // Without STRICT_COMMANDS they are sent.
    p.m.config_mut().strict = without(Strict::COMMANDS);
    p.submit(CommandKind::Flush, 0).unwrap();
    assert_eq!(p.expect_request(false).typ, wire::CMD_FLUSH);
}

#[test]
fn read_only_export_gives_eperm() {
    let srv = Server {
        eflags: EFLAGS_ALL | wire::FLAG_READ_ONLY,
        ..Server::default()
    };
    let mut p = connected(Config::default(), &srv);
    assert_eq!(errno(&mut p, write(512, 0), 0), libc::EPERM);
    assert_eq!(errno(&mut p, CommandKind::trim(512, 0), 0), libc::EPERM);
    assert_eq!(errno(&mut p, CommandKind::zero(512, 0), 0), libc::EPERM);
    p.submit(read(512, 0), 0).unwrap();
}

#[test]
fn fast_zero_needs_advertising() {
    let srv = Server {
        eflags: EFLAGS_ALL & !wire::FLAG_SEND_FAST_ZERO,
        ..Server::default()
    };
    let mut p = connected(Config::default(), &srv);
    let z = || CommandKind::zero(512, 0);
    assert_eq!(errno(&mut p, z(), CmdFlag::FAST_ZERO.bits()), libc::EINVAL);
    p.submit(z(), CmdFlag::NO_HOLE.bits()).unwrap();
}

#[test]
fn flags_not_permitted() {
    let mut p = connected(Config::default(), &Server::default());
    assert_eq!(
        errno(&mut p, read(512, 0), CmdFlag::FUA.bits()),
        libc::EINVAL
    );
    assert_eq!(
        errno(&mut p, CommandKind::Flush, CmdFlag::NO_HOLE.bits()),
        libc::EINVAL
    );
    assert_eq!(
        errno(&mut p, CommandKind::cache(512, 0), 0x40),
        libc::EINVAL
    );
    // Beyond 16 bits is always an error.
    p.m.config_mut().strict = Strict(0);
    assert_eq!(errno(&mut p, CommandKind::Flush, 0x10000), libc::EINVAL);
    // Without STRICT_FLAGS unknown bits reach the server.
    p.submit(CommandKind::Flush, 0x40).unwrap();
    assert_eq!(p.expect_request(false).flags, 0x40);
}

#[test]
fn bounds() {
    let srv = Server {
        size: 1 << 20,
        ..Server::default()
    };
    let mut p = connected(Config::default(), &srv);
    assert_eq!(errno(&mut p, read(512, (1 << 20) - 256), 0), libc::EINVAL);
    assert_eq!(errno(&mut p, write(512, 1 << 20), 0), libc::ENOSPC);
    assert_eq!(
        errno(&mut p, CommandKind::trim(1 << 21, 0), 0),
        libc::ENOSPC
    );
    assert_eq!(
        errno(&mut p, CommandKind::zero(1, u64::MAX), 0),
        libc::ENOSPC
    );
    assert_eq!(
        errno(&mut p, CommandKind::cache(2 << 20, 0), 0),
        libc::EINVAL
    );
    p.submit(read(512, (1 << 20) - 512), 0).unwrap();
    p.m.config_mut().strict = without(Strict::BOUNDS);
    p.submit(read(512, 1 << 20), 0).unwrap();
}

#[test]
fn zero_size() {
    let mut p = connected(Config::default(), &Server::default());
    assert_eq!(errno(&mut p, read(0, 0), 0), libc::EINVAL);
    assert_eq!(errno(&mut p, CommandKind::trim(0, 0), 0), libc::EINVAL);
    // Flush has no size.
    p.submit(CommandKind::Flush, 0).unwrap();
    p.m.config_mut().strict = without(Strict::ZERO_SIZE);
    p.submit(read(0, 0), 0).unwrap();
}

#[test]
fn alignment() {
    let srv = Server {
        block: Some((4096, 4096, 1 << 20)),
        ..Server::default()
    };
    let mut p = connected(Config::default(), &srv);
    assert_eq!(errno(&mut p, read(512, 0), 0), libc::EINVAL);
    assert_eq!(errno(&mut p, read(4096, 512), 0), libc::EINVAL);
    p.submit(read(8192, 4096), 0).unwrap();
    p.m.config_mut().strict = without(Strict::ALIGN);
    p.submit(read(512, 0), 0).unwrap();
}

#[test]
fn payload_limits() {
    // A 64 KiB maximum still allows 1 MiB (LIBNBD_SIZE_PAYLOAD's floor).
    let srv = Server {
        size: 1 << 30,
        block: Some((1, 4096, 1 << 16)),
        ..Server::default()
    };
    let mut p = connected(Config::default(), &srv);
    // Above the server's maximum payload.
    assert_eq!(errno(&mut p, write((1 << 20) + 1, 0), 0), libc::ERANGE);
    p.m.config_mut().strict = without(Strict::PAYLOAD);
    p.submit(write((1 << 20) + 1, 0), 0).unwrap();
    // Above libnbd's 64 MiB request limit, whatever the mode.
    p.m.config_mut().strict = Strict(0);
    assert_eq!(errno(&mut p, read((64 << 20) + 1, 0), 0), libc::ERANGE);
    assert_eq!(errno(&mut p, write((64 << 20) + 1, 0), 0), libc::ERANGE);
    // Non-data commands are limited by the 32-bit length field.
    assert_eq!(
        errno(&mut p, CommandKind::trim(1 << 32, 0), 0),
        libc::ERANGE
    );
    // Without an advertised maximum the payload limit is 32 MiB.
    let mut p = connected(
        Config::default(),
        &Server {
            size: 1 << 30,
            ..Server::default()
        },
    );
    assert_eq!(errno(&mut p, write((32 << 20) + 1, 0), 0), libc::ERANGE);
    p.submit(write(32 << 20, 0), 0).unwrap();
    p.m.config_mut().strict = Strict(0);
    assert_eq!(
        errno(&mut p, CommandKind::trim(1 << 32, 0), 0),
        libc::ERANGE
    );
}

#[test]
fn payload_len_flag() {
    let mut p = connected(Config::default(), &Server::default());
    // AUTO_FLAG clears it on a compact connection.
    p.submit(write(512, 0), CmdFlag::PAYLOAD_LEN.bits())
        .unwrap();
    assert_eq!(p.expect_request(false).flags, 0);
    // Without AUTO_FLAG, STRICT_COMMANDS refuses it.
    p.m.config_mut().strict = without(Strict::AUTO_FLAG);
    assert_eq!(
        errno(&mut p, write(512, 0), CmdFlag::PAYLOAD_LEN.bits()),
        libc::EINVAL
    );
    p.submit(write(512, 0), 0).unwrap();
    assert_eq!(p.expect_request(false).flags, 0);
}

#[test]
fn block_status_needs_meta_contexts() {
    let mut p = connected(Config::default(), &Server::default());
    let cb = Box::new(|_: &str, _: u64, _: &[u32], _: &mut i32| 0);
    let kind = CommandKind::block_status(512, 0, ExtentSink::Narrow(cb), None);
    assert_eq!(errno(&mut p, kind, 0), libc::ENOTSUP);

    let cfg = Config {
        meta_contexts: vec!["base:allocation".into()],
        request_structured_replies: false,
        request_extended_headers: false,
        ..Config::default()
    };
    let mut p = connected(cfg, &Server::default());
    let cb = Box::new(|_: &str, _: u64, _: &[u32], _: &mut i32| 0);
    let kind = CommandKind::block_status(512, 0, ExtentSink::Narrow(cb), None);
    assert_eq!(errno(&mut p, kind, 0), libc::ENOTSUP);
}

#[test]
fn block_status_filter_checks() {
    let cfg = meta_config();
    // Compact headers: the filter cannot be expressed.
    let mut p = connected(cfg.clone(), &Server::default());
    let cb = Box::new(|_: &str, _: u64, _: &[crate::Extent], _: &mut i32| 0);
    let kind = CommandKind::block_status(
        512,
        0,
        ExtentSink::Wide(cb),
        Some(vec!["base:allocation".into()]),
    );
    assert_eq!(errno(&mut p, kind, 0), libc::ENOTSUP);
    // Extended headers, but a context that was not negotiated.
    let srv = Server {
        extended: true,
        eflags: EFLAGS_ALL | wire::FLAG_BLOCK_STATUS_PAYLOAD,
        ..Server::default()
    };
    let mut p = connected(cfg, &srv);
    let cb = Box::new(|_: &str, _: u64, _: &[crate::Extent], _: &mut i32| 0);
    let kind =
        CommandKind::block_status(512, 0, ExtentSink::Wide(cb), Some(vec!["qemu:nope".into()]));
    assert_eq!(errno(&mut p, kind, 0), libc::EINVAL);
}

#[test]
fn rejected_command_drops_callbacks_first_mid_then_completion() {
    let mut p = connected_advertising_nothing();
    let log = Log::default();
    let g = log.guard("chunk");
    let chunk = Box::new(move |_: &[u8], _: u64, _: u32, _: &mut i32| {
        let _ = &g;
        0
    });
    let e =
        p.m.start_command(Command {
            kind: CommandKind::read(AioBuffer::new(512), 0, Some(chunk)),
            flags: CmdFlag::DF,
            completion: Some(completion(&log, 0)),
        })
        .unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    assert_eq!(log.events(), vec!["drop chunk", "drop completion"]);
    assert_eq!(p.m.in_flight(), 0);
}

#[test]
fn commands_before_connecting_are_refused() {
    let mut p = Peer::new(Config::default());
    let log = Log::default();
    let e =
        p.m.start_command(Command {
            kind: CommandKind::Flush,
            flags: CmdFlag(0),
            completion: Some(completion(&log, 0)),
        })
        .unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    assert_eq!(log.events(), vec!["drop completion"]);
}

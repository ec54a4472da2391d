//! libnbd(3) CALLBACKS: order of calls and frees, the `error` argument,
//! auto-retirement, and aio bookkeeping.
//!
//! scenarios: 410 610 630

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::peer::*;
use crate::generated::types::READ_ERROR;
use crate::protocol::wire;
use crate::protocol::{CommandKind, Config, ExtentSink};
use crate::AioBuffer;

fn chunk_cb(log: &Log, ret: i32, set_err: i32) -> crate::ChunkCallback {
    let g = log.guard("chunk");
    let log = log.clone();
    Box::new(move |b: &[u8], off: u64, status: u32, err: &mut i32| {
        let _ = &g;
        log.push(format!("chunk {off} {} {status} {}", b.len(), *err));
        if set_err != 0 {
            *err = set_err;
        }
        ret
    })
}

/// Dropping the machine frees nothing more: each callback was freed
/// exactly once.
fn assert_freed_once_with(p: Peer, log: &Log) {
    drop(p);
    assert_eq!(log.count("drop chunk"), 1);
    assert_eq!(log.count("drop completion"), 1);
}

fn pread_structured(p: &mut Peer, log: &Log, ret: i32, set_err: i32, cret: i32) -> u64 {
    let kind = CommandKind::read(AioBuffer::new(1024), 0, Some(chunk_cb(log, ret, set_err)));
    p.submit_with(kind, 0, Some(completion(log, cret))).unwrap()
}

#[test]
fn order_mid_completion_then_drops() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    let c = pread_structured(&mut p, &log, 0, 0, 0);
    let mut bytes = data_chunk(0, c, 0, &[1; 512]);
    bytes.extend(data_chunk(wire::REPLY_FLAG_DONE, c, 512, &[2; 512]));
    p.send(&bytes).unwrap();
    // Completed, not retired: the callbacks (and the C free functions
    // behind them) stay until the command retires.
    assert_eq!(
        log.events(),
        vec!["chunk 0 512 1 0", "chunk 512 512 1 0", "completion 0"]
    );
    assert!(p.m.command_completed(c).unwrap());
    assert_eq!(
        log.events(),
        vec![
            "chunk 0 512 1 0",
            "chunk 512 512 1 0",
            "completion 0",
            "drop chunk",
            "drop completion"
        ]
    );
    // Exactly once each.
    assert_freed_once_with(p, &log);
}

#[test]
fn chunk_callback_error_changes_command_error() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    let c = pread_structured(&mut p, &log, -1, libc::EBADMSG, 0);
    let mut bytes = data_chunk(0, c, 0, &[1; 512]);
    bytes.extend(data_chunk(wire::REPLY_FLAG_DONE, c, 512, &[2; 512]));
    p.send(&bytes).unwrap();
    assert_eq!(p.command_errno(c), libc::EBADMSG);
    // The second chunk callback and the completion see the error so far.
    assert_eq!(
        log.events(),
        vec![
            "chunk 0 512 1 0".to_string(),
            format!("chunk 512 512 1 {}", libc::EBADMSG),
            format!("completion {}", libc::EBADMSG),
            "drop chunk".into(),
            "drop completion".into(),
        ]
    );
}

#[test]
fn chunk_callback_failing_without_errno_gives_eproto() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    let c = pread_structured(&mut p, &log, -1, 0, 0);
    p.send(&data_chunk(wire::REPLY_FLAG_DONE, c, 0, &[1; 1024]))
        .unwrap();
    assert_eq!(p.command_errno(c), libc::EPROTO);
}

#[test]
fn error_assignment_ignored_unless_minus_one() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    let c = pread_structured(&mut p, &log, 0, libc::EBADMSG, 0);
    p.send(&data_chunk(wire::REPLY_FLAG_DONE, c, 0, &[1; 1024]))
        .unwrap();
    assert!(p.m.command_completed(c).unwrap());
}

#[test]
fn read_error_chunk_reaches_callback() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    let c = pread_structured(&mut p, &log, 0, 0, 0);
    p.send(&chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_ERROR_OFFSET,
        c,
        &error_payload(wire::NBD_EIO, "oops", Some(100)),
    ))
    .unwrap();
    assert_eq!(
        log.events()[0],
        format!("chunk 100 0 {READ_ERROR} {}", libc::EIO)
    );
    assert_eq!(log.events()[1], format!("completion {}", libc::EIO));
    assert_eq!(p.command_errno(c), libc::EIO);
}

#[test]
fn completion_can_replace_error() {
    let mut p = connected(Config::default(), &Server::default());
    let changed = Box::new(|err: &mut i32| {
        *err = libc::EXDEV;
        -1
    });
    let c = p.submit_with(CommandKind::Flush, 0, Some(changed)).unwrap();
    p.send(&simple_reply(c, wire::NBD_EIO, &[])).unwrap();
    assert_eq!(p.command_errno(c), libc::EXDEV);
}

#[test]
fn completion_returning_one_auto_retires() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    let c = p
        .submit_with(CommandKind::Flush, 0, Some(completion(&log, 1)))
        .unwrap();
    assert_eq!(p.m.peek_command_completed().unwrap(), 0);
    p.send(&simple_reply(c, 0, &[])).unwrap();
    assert_eq!(log.events(), vec!["completion 0", "drop completion"]);
    // Auto-retired: the cookie names no completed command any more.
    assert!(!p.m.command_completed(c).unwrap());
    assert_eq!(
        p.m.peek_command_completed().unwrap_err().errno(),
        libc::EINVAL
    );
    assert_eq!(p.m.in_flight(), 0);
}

#[test]
fn extent_callback_order_and_count() {
    let cfg = meta_config();
    let mut p = connected(cfg, &Server::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (c2, d2) = (calls.clone(), Counted(drops.clone()));
    let cb = Box::new(move |_: &str, _: u64, _: &[u32], _: &mut i32| {
        let _ = &d2;
        c2.fetch_add(1, Ordering::SeqCst);
        0
    });
    let c = p
        .submit(
            CommandKind::block_status(1024, 0, ExtentSink::Narrow(cb), None),
            0,
        )
        .unwrap();
    let mut bytes = chunk(
        0,
        wire::REPLY_TYPE_BLOCK_STATUS,
        c,
        &bs_payload(1, &[(512, 0)]),
    );
    bytes.extend(chunk(
        wire::REPLY_FLAG_DONE,
        wire::REPLY_TYPE_BLOCK_STATUS,
        c,
        &bs_payload(1, &[(512, 1)]),
    ));
    p.send(&bytes).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    assert!(p.m.command_completed(c).unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(p);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn callbacks_dropped_once_when_connection_dies() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    let c = pread_structured(&mut p, &log, 0, 0, 0);
    p.m.transport_failed(crate::Error::new(libc::EPIPE, "send: broken pipe"));
    assert_eq!(log.events(), vec![format!("completion {}", libc::ENOTCONN)]);
    let e = p.m.command_completed(c).unwrap_err();
    assert_eq!(e.errno(), libc::ENOTCONN);
    // The message keeps the cause.
    assert!(e.message().contains("broken pipe"), "{e}");
    assert_eq!(
        log.events(),
        vec![
            format!("completion {}", libc::ENOTCONN),
            "drop chunk".into(),
            "drop completion".into()
        ]
    );
    assert_freed_once_with(p, &log);
}

#[test]
fn dropping_the_machine_frees_pending_callbacks() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    pread_structured(&mut p, &log, 0, 0, 0);
    assert_freed_once_with(p, &log);
    assert_eq!(log.count("completion 0"), 0);
}

#[test]
fn command_completed_bookkeeping() {
    let mut p = connected(Config::default(), &Server::default());
    assert_eq!(
        p.m.peek_command_completed().unwrap_err().errno(),
        libc::EINVAL
    );
    assert_eq!(p.command_errno(0), libc::EINVAL);
    // libnbd answers "not completed" for a cookie it does not know,
    // including one already retired.
    assert!(!p.m.command_completed(999).unwrap());
    let a = p.submit(CommandKind::Flush, 0).unwrap();
    let b = p.submit(CommandKind::Flush, 0).unwrap();
    assert!(b > a && a >= 1);
    assert_eq!(p.m.in_flight(), 2);
    assert!(!p.m.command_completed(a).unwrap());
    assert_eq!(p.m.peek_command_completed().unwrap(), 0);
    p.send(&simple_reply(b, 0, &[])).unwrap();
    assert_eq!(p.m.in_flight(), 1);
    assert_eq!(p.m.peek_command_completed().unwrap(), b);
    assert!(p.m.command_completed(b).unwrap());
    assert_eq!(p.m.peek_command_completed().unwrap(), 0);
}

#[test]
fn completed_but_unretired_callbacks_are_freed_by_close() {
    let mut p = connected(Config::default(), &Server::default());
    let log = Log::default();
    let c = pread_structured(&mut p, &log, 0, 0, 0);
    p.send(&data_chunk(wire::REPLY_FLAG_DONE, c, 0, &[1; 1024]))
        .unwrap();
    assert_eq!(log.events(), vec!["chunk 0 1024 1 0", "completion 0"]);
    drop(p);
    assert_eq!(
        log.events(),
        vec![
            "chunk 0 1024 1 0",
            "completion 0",
            "drop chunk",
            "drop completion"
        ]
    );
}

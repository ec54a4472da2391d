//! 400: data commands against nbdkit and qemu-nbd, each scenario through
//! both the synchronous calls and the aio calls, plus strict mode and
//! server errors.
//!
//! scenarios: 208 310 320 330 460 465 510 520 530

mod common;
use common::*;
use nbd::{Extent, Size};
use std::sync::{Arc, Mutex};

/// The same scenario through the sync API or the aio API + nbd_poll.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Sync,
    Aio,
}

const MODES: [Mode; 2] = [Mode::Sync, Mode::Aio];

fn pread(h: &Handle, m: Mode, buf: &mut [u8], off: u64, flags: Option<CmdFlag>) -> nbd::Result<()> {
    match m {
        Mode::Sync => h.pread(buf, off, flags),
        Mode::Aio => {
            let abuf = AioBuffer::new(buf.len());
            let c = h.aio_pread(abuf.clone(), off, None, flags)?;
            wait_cookie(h, c)?;
            buf.copy_from_slice(&abuf.to_vec());
            Ok(())
        }
    }
}

fn pwrite(h: &Handle, m: Mode, buf: &[u8], off: u64, flags: Option<CmdFlag>) -> nbd::Result<()> {
    match m {
        Mode::Sync => h.pwrite(buf, off, flags),
        Mode::Aio => {
            let c = h.aio_pwrite(AioBuffer::from_vec(buf.to_vec()), off, None, flags)?;
            wait_cookie(h, c).map(drop)
        }
    }
}

fn simple(
    h: &Handle,
    m: Mode,
    what: &str,
    count: u64,
    off: u64,
    flags: Option<CmdFlag>,
) -> nbd::Result<()> {
    match (m, what) {
        (Mode::Sync, "flush") => h.flush(flags),
        (Mode::Sync, "trim") => h.trim(count, off, flags),
        (Mode::Sync, "zero") => h.zero(count, off, flags),
        (Mode::Sync, "cache") => h.cache(count, off, flags),
        (Mode::Aio, "flush") => wait_cookie(h, h.aio_flush(None, flags)?).map(drop),
        (Mode::Aio, "trim") => wait_cookie(h, h.aio_trim(count, off, None, flags)?).map(drop),
        (Mode::Aio, "zero") => wait_cookie(h, h.aio_zero(count, off, None, flags)?).map(drop),
        (Mode::Aio, "cache") => wait_cookie(h, h.aio_cache(count, off, None, flags)?).map(drop),
        _ => unreachable!(),
    }
}

#[test]
fn t400_write_read_flush_trim_zero_cache() {
    with_timeout(120, || {
        let srv = nbdkit(&["memory", "1M"]);
        for m in MODES {
            let h = srv.connect();
            assert!(h.can_flush().unwrap() && h.can_trim().unwrap() && h.can_zero().unwrap());
            let data: Vec<u8> = (0..65536u32).map(|i| (i * 7 + 3) as u8).collect();
            pwrite(&h, m, &data, 4096, None).unwrap();
            if h.can_fua().unwrap() {
                pwrite(&h, m, &data[..512], 0, Some(CmdFlag::FUA)).unwrap();
            }
            let mut back = vec![0u8; data.len()];
            pread(&h, m, &mut back, 4096, None).unwrap();
            assert_eq!(back, data, "{m:?}");
            simple(&h, m, "flush", 0, 0, None).unwrap();
            simple(&h, m, "zero", 4096, 4096, None).unwrap();
            simple(&h, m, "trim", 4096, 8192, None).unwrap();
            pread(&h, m, &mut back[..12288], 4096, None).unwrap();
            assert!(back[..8192].iter().all(|&b| b == 0), "{m:?}: zero/trim");
            assert_eq!(&back[8192..12288], &data[8192..12288]);
            if h.can_cache().unwrap() {
                simple(&h, m, "cache", 4096, 0, None).unwrap();
            }
            h.shutdown(None).unwrap();
        }
    });
}

#[test]
fn t401_pattern_and_large_reads() {
    with_timeout(120, || {
        let srv = nbdkit(&["pattern", "64M"]);
        let h = srv.connect();
        for m in MODES {
            // 8 MiB: large enough to exercise receiving straight into the buffer.
            let mut buf = vec![0u8; 8 << 20];
            let off = (3 << 20) + 8;
            pread(&h, m, &mut buf, off, None).unwrap();
            for (i, word) in buf.chunks(8).enumerate().step_by(997) {
                let expect = off + i as u64 * 8;
                assert_eq!(
                    u64::from_be_bytes(word.try_into().unwrap()),
                    expect,
                    "{m:?}"
                );
            }
        }
    });
}

#[test]
fn t402_pread_structured_chunks_cover_the_buffer() {
    with_timeout(60, || {
        let srv = nbdkit(&["--filter=blocksize", "pattern", "1M", "maxlen=4096"]);
        let h = srv.connect();
        assert!(h.get_structured_replies_negotiated().unwrap());
        let covered = Arc::new(Mutex::new(Vec::new()));
        let c2 = covered.clone();
        let mut buf = vec![0u8; 16384];
        h.pread_structured(
            &mut buf,
            8192,
            Box::new(move |sub, off, status, _err| {
                c2.lock().unwrap().push((off, sub.len(), status));
                0
            }),
            None,
        )
        .unwrap();
        let mut covered = covered.lock().unwrap().clone();
        covered.sort();
        let total: usize = covered.iter().map(|c| c.1).sum();
        assert_eq!(total, 16384, "{covered:?}");
        assert_eq!(u64::from_be_bytes(buf[..8].try_into().unwrap()), 8192);

        // A chunk callback error fails the read with that errno.
        let mut buf = vec![0u8; 512];
        let e = h
            .pread_structured(
                &mut buf,
                0,
                Box::new(|_, _, _, err| {
                    *err = libc::EPROTO;
                    -1
                }),
                None,
            )
            .unwrap_err();
        assert_eq!(e.errno(), libc::EPROTO, "{e}");
        // The connection survives.
        h.pread(&mut buf, 0, None).unwrap();
    });
}

#[test]
fn t403_block_status() {
    with_timeout(60, || {
        // 64K of data, then a 960K hole.
        let srv = nbdkit(&["data", "data=@0 1 @65535 1", "size=1M"]);
        for m in MODES {
            let h = Handle::new().unwrap();
            h.add_meta_context("base:allocation").unwrap();
            srv.connect_handle(&h);
            assert!(h.can_meta_context("base:allocation").unwrap());
            let got = Arc::new(Mutex::new(Vec::new()));
            let g2 = got.clone();
            let cb: nbd::ExtentCallback = Box::new(move |ctx, off, entries, _err| {
                g2.lock()
                    .unwrap()
                    .push((ctx.to_string(), off, entries.to_vec()));
                0
            });
            match m {
                Mode::Sync => h.block_status(1 << 20, 0, cb, None).unwrap(),
                Mode::Aio => {
                    let c = h.aio_block_status(1 << 20, 0, cb, None, None).unwrap();
                    wait_cookie(&h, c).unwrap();
                }
            }
            let got = got.lock().unwrap();
            assert_eq!(got.len(), 1, "{got:?}");
            let (ctx, off, entries) = &got[0];
            assert_eq!(ctx, "base:allocation");
            assert_eq!(*off, 0);
            assert_eq!(entries.len() % 2, 0);
            let total: u64 = entries.chunks(2).map(|e| e[0] as u64).sum();
            assert!(total > 0 && total <= 1 << 20);
            // Somewhere past the data there is a hole that reads as zero.
            assert!(
                entries.chunks(2).any(|e| e[1] & nbd::STATE_HOLE != 0),
                "{entries:?}"
            );
        }
    });
}

#[test]
fn t404_block_status_64_with_qemu() {
    with_timeout(60, || {
        let srv = qemu_nbd(1 << 20, 0x11, &[]);
        let h = Handle::new().unwrap();
        h.add_meta_context("base:allocation").unwrap();
        srv.connect_handle(&h);
        let got = Arc::new(Mutex::new(Vec::<Extent>::new()));
        let g2 = got.clone();
        h.block_status_64(
            1 << 20,
            0,
            Box::new(move |_ctx, _off, entries, _err| {
                g2.lock().unwrap().extend_from_slice(entries);
                0
            }),
            None,
        )
        .unwrap();
        let total: u64 = got.lock().unwrap().iter().map(|e| e.length).sum();
        assert_eq!(total, 1 << 20);
        if h.get_extended_headers_negotiated().unwrap() {
            let n = Arc::new(Mutex::new(0));
            let n2 = n.clone();
            h.block_status_filter(
                65536,
                0,
                &["base:allocation"],
                Box::new(move |_, _, _, _| {
                    *n2.lock().unwrap() += 1;
                    0
                }),
                None,
            )
            .unwrap();
            assert_eq!(*n.lock().unwrap(), 1);
        }
    });
}

#[test]
fn t405_read_only_export() {
    with_timeout(60, || {
        let srv = nbdkit(&["-r", "memory", "1M"]);
        for m in MODES {
            let h = srv.connect();
            assert!(h.is_read_only().unwrap());
            expect_errno(pwrite(&h, m, &[1u8; 512], 0, None), libc::EPERM);
            // libnbd checks that the server offers trim/zero (EINVAL)
            // before it checks for a read-only export (EPERM).
            for what in ["trim", "zero"] {
                let e = simple(&h, m, what, 512, 0, None).unwrap_err();
                assert!(
                    [libc::EINVAL, libc::EPERM].contains(&e.errno()),
                    "{what}: {e}"
                );
            }
            let mut buf = [0u8; 512];
            pread(&h, m, &mut buf, 0, None).unwrap();
        }
        // qemu-nbd -r and nbd-server readonly behave the same.
        let q = qemu_nbd(1 << 20, 0, &["-r"]);
        let h = q.connect();
        expect_errno(h.pwrite(&[1u8; 512], 0, None), libc::EPERM);
    });
}

#[test]
fn t406_strict_mode() {
    with_timeout(60, || {
        let srv = nbdkit(&[
            "--filter=blocksize-policy",
            "memory",
            "1M",
            "blocksize-minimum=512",
            "blocksize-error-policy=error",
        ]);
        let h = srv.connect();
        assert_eq!(h.get_block_size(Size::MINIMUM).unwrap(), 512);
        let mut buf = vec![0u8; 512];
        // Out of bounds, zero length, unaligned, unknown flags, too large.
        expect_errno(h.pread(&mut buf, 1 << 20, None), libc::EINVAL);
        expect_errno(h.pread(&mut buf[..0], 0, None), libc::EINVAL);
        expect_errno(h.pread(&mut buf[..100], 0, None), libc::EINVAL);
        expect_errno(h.pread(&mut buf, 1, None), libc::EINVAL);
        expect_errno(h.pwrite(&buf, 0, Some(CmdFlag(0x40))), libc::EINVAL);
        // Bounds are checked before size, as in libnbd.
        let mut big = vec![0u8; (64 << 20) + 512];
        expect_errno(h.pread(&mut big, 0, None), libc::EINVAL);
        let null = nbdkit(&["null", "128M"]);
        let hn = null.connect();
        expect_errno(hn.pread(&mut big, 0, None), libc::ERANGE);
        expect_errno(hn.pwrite(&big, 0, None), libc::ERANGE);
        // The same through aio: refused before a cookie is handed out.
        expect_errno(
            h.aio_pread(AioBuffer::new(512), 1 << 20, None, None),
            libc::EINVAL,
        );
        assert_eq!(h.aio_in_flight().unwrap(), 0);
        // Still connected and usable.
        h.pread(&mut buf, 0, None).unwrap();

        // With strict mode off, the server is the judge.
        h.set_strict_mode(Strict(0)).unwrap();
        let e = h.pread(&mut buf[..100], 0, None).unwrap_err();
        assert_ne!(e.errno(), 0);
        assert!(
            h.aio_is_ready(),
            "a server error does not kill the connection"
        );
    });
}

#[test]
fn t407_server_errors() {
    with_timeout(60, || {
        let srv = nbdkit(&[
            "--filter=error",
            "memory",
            "1M",
            "error-pread=EIO",
            "error-pread-rate=100%",
        ]);
        for m in MODES {
            let h = srv.connect();
            let mut buf = vec![0xffu8; 4096];
            expect_errno(pread(&h, m, &mut buf, 0, None), libc::EIO);
            if let Mode::Sync = m {
                // pread_initialize: no stale bytes survive a failed read.
                assert!(buf.iter().all(|&b| b == 0));
            }
            pwrite(&h, m, &buf, 0, None).unwrap();
        }
        let srv = nbdkit(&[
            "eval",
            "get_size=echo 1M",
            "pread=echo ENOSPC full >&2; exit 1",
            "pwrite=cat >/dev/null; echo ENOSPC full >&2; exit 1",
            "can_write=exit 0",
        ]);
        let h = srv.connect();
        expect_errno(h.pwrite(&[0u8; 512], 0, None), libc::ENOSPC);
    });
}

#[test]
fn t408_qemu_nbd_named_export() {
    with_timeout(60, || {
        let srv = qemu_nbd(2 << 20, 0x5a, &["-x", "disk"]);
        let h = Handle::new().unwrap();
        h.set_export_name("disk").unwrap();
        srv.connect_handle(&h);
        assert_eq!(h.get_size().unwrap(), 2 << 20);
        for m in MODES {
            let mut buf = vec![0u8; 65536];
            pread(&h, m, &mut buf, 65536, None).unwrap();
            assert!(buf.iter().all(|&b| b == 0x5a));
            pwrite(&h, m, &[1u8; 4096], 0, Some(CmdFlag::FUA)).unwrap();
            simple(&h, m, "zero", 4096, 4096, Some(CmdFlag::NO_HOLE)).unwrap();
            simple(&h, m, "flush", 0, 0, None).unwrap();
        }
        assert_eq!(h.get_block_size(Size::MINIMUM).unwrap(), 1);
        let h = Handle::new().unwrap();
        h.set_export_name("wrong").unwrap();
        assert!(h.connect_unix(srv.sock()).is_err());
    });
}

#[test]
fn t409_nbd_server_exports() {
    with_timeout(60, || {
        let srv = nbd_server(&[("one", 1 << 20, false), ("two", 2 << 20, true)]);
        let h = Handle::new().unwrap();
        h.connect_uri(&srv.uri("one")).unwrap();
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        let mut buf = vec![0u8; 4096];
        h.pread(&mut buf, 0, None).unwrap();
        assert!(buf.iter().all(|&b| b == 1));
        h.pwrite(&[9u8; 4096], 0, None).unwrap();
        h.pread(&mut buf, 0, None).unwrap();
        assert!(buf.iter().all(|&b| b == 9));
        h.shutdown(None).unwrap();

        let h = Handle::new().unwrap();
        h.connect_uri(&srv.uri("two")).unwrap();
        assert_eq!(h.get_size().unwrap(), 2 << 20);
        assert!(h.is_read_only().unwrap());
        expect_errno(h.pwrite(&buf, 0, None), libc::EPERM);
        h.pread(&mut buf, 4096, None).unwrap();
        assert!(buf.iter().all(|&b| b == 2));

        let h = Handle::new().unwrap();
        h.set_opt_mode(true).unwrap();
        h.connect_tcp("127.0.0.1", &srv.port.to_string()).unwrap();
        let names = Arc::new(Mutex::new(Vec::new()));
        let n2 = names.clone();
        h.opt_list(Box::new(move |n, _| {
            n2.lock().unwrap().push(n.to_string());
            0
        }))
        .unwrap();
        let mut names = names.lock().unwrap().clone();
        names.sort();
        assert_eq!(names, vec!["one", "two"]);
        h.opt_abort().unwrap();
    });
}

#[test]
fn t410_sparse_random_block_status() {
    with_timeout(60, || {
        let srv = nbdkit(&[
            "sparse-random",
            "16M",
            "runlength=65536",
            "percent=30",
            "seed=42",
        ]);
        let h = Handle::new().unwrap();
        h.add_meta_context(nbd::CONTEXT_BASE_ALLOCATION).unwrap();
        srv.connect_handle(&h);
        // Walk the whole export; the server may answer each request with
        // only a prefix of the range.
        let extents = Arc::new(Mutex::new(Vec::new()));
        let size = 16u64 << 20;
        let mut off = 0u64;
        while off < size {
            let e2 = extents.clone();
            let end = Arc::new(Mutex::new(off));
            let end2 = end.clone();
            h.block_status(
                size - off,
                off,
                Box::new(move |_, o, entries, _| {
                    let mut at = o;
                    for pair in entries.chunks(2) {
                        e2.lock().unwrap().push((at, pair[0] as u64, pair[1]));
                        at += pair[0] as u64;
                    }
                    *end2.lock().unwrap() = at;
                    0
                }),
                None,
            )
            .unwrap();
            let next = *end.lock().unwrap();
            assert!(next > off, "block status made progress");
            off = next;
        }
        let v = extents.lock().unwrap();
        assert!(v.len() > 2, "sparse-random has data and holes: {}", v.len());
        assert!(v.iter().any(|e| e.2 & nbd::STATE_HOLE != 0));
        assert!(v.iter().any(|e| e.2 & nbd::STATE_HOLE == 0));
        // Data extents really hold data; holes read as zeroes.
        let (o, len, flags) = v
            .iter()
            .copied()
            .find(|e| e.2 & nbd::STATE_ZERO != 0)
            .unwrap();
        let mut buf = vec![1u8; len.min(65536) as usize];
        h.pread(&mut buf, o, None).unwrap();
        assert!(buf.iter().all(|&b| b == 0), "flags {flags}");
    });
}

#[test]
fn t411_aio_structured_read_and_block_status_64() {
    with_timeout(60, || {
        let srv = nbdkit(&["pattern", "1M"]);
        let h = Handle::new().unwrap();
        h.add_meta_context("base:allocation").unwrap();
        srv.connect_handle(&h);
        let buf = AioBuffer::new(8192);
        let seen = Arc::new(Mutex::new(0usize));
        let s2 = seen.clone();
        let done = Arc::new(Mutex::new(None));
        let d2 = done.clone();
        let c = h
            .aio_pread_structured(
                buf.clone(),
                4096,
                Box::new(move |sub, _, status, _| {
                    assert_eq!(status, nbd::READ_DATA);
                    *s2.lock().unwrap() += sub.len();
                    0
                }),
                Some(Box::new(move |err| {
                    *d2.lock().unwrap() = Some(*err);
                    0 // retire by hand
                })),
                Some(CmdFlag::DF),
            )
            .unwrap();
        wait_cookie(&h, c).unwrap();
        assert_eq!(*seen.lock().unwrap(), 8192);
        assert_eq!(*done.lock().unwrap(), Some(0));
        assert_eq!(
            u64::from_be_bytes(buf.to_vec()[..8].try_into().unwrap()),
            4096
        );

        let total = Arc::new(Mutex::new(0u64));
        let t2 = total.clone();
        let c = h
            .aio_block_status_64(
                1 << 20,
                0,
                Box::new(move |ctx, _, entries, _| {
                    assert_eq!(ctx, "base:allocation");
                    *t2.lock().unwrap() += entries.iter().map(|e| e.length).sum::<u64>();
                    0
                }),
                None,
                None,
            )
            .unwrap();
        wait_cookie(&h, c).unwrap();
        assert_eq!(*total.lock().unwrap(), 1 << 20);
    });
}

#[test]
fn t412_flags_checked_against_the_server() {
    with_timeout(60, || {
        let srv = nbdkit(&[
            "eval",
            "get_size=echo 1048576",
            "pread=dd if=/dev/zero count=$3 iflag=count_bytes status=none",
            "pwrite=cat >/dev/null",
            "can_write=exit 0",
            "can_fua=echo none",
        ]);
        let h = srv.connect();
        assert!(!h.can_fua().unwrap());
        expect_errno(h.pwrite(&[0u8; 512], 0, Some(CmdFlag::FUA)), libc::EINVAL);
        expect_errno(
            h.aio_pwrite(AioBuffer::new(512), 0, None, Some(CmdFlag::FUA)),
            libc::EINVAL,
        );
        // Without strict flag checks the request goes to the server.
        h.set_strict_mode(Strict(Strict::MASK.bits() & !Strict::FLAGS.bits()))
            .unwrap();
        let _ = h.pwrite(&[0u8; 512], 0, Some(CmdFlag::FUA));
        assert!(h.aio_is_ready());
        let srv = nbdkit(&["memory", "1M"]);
        let h = srv.connect();
        if h.can_fast_zero().unwrap() {
            h.zero(4096, 0, Some(CmdFlag::FAST_ZERO)).unwrap();
        }
        h.set_pread_initialize(false).unwrap();
        let mut buf = vec![7u8; 512];
        h.pread(&mut buf, 0, None).unwrap();
        assert!(buf.iter().all(|&b| b == 0));
    });
}

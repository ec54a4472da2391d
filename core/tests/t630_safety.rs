//! 600: memory safety at the edges: a panicking callback during a
//! synchronous read, callbacks freed exactly once when a command is
//! refused or the handle closes with commands in flight.
//!
//! scenarios: 610 703

mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts drops, standing for a C callback's free function.
struct Freed(Arc<AtomicUsize>);
impl Drop for Freed {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn t600_panic_in_sync_read_callback() {
    with_timeout(60, || {
        let srv = nbdkit(&["pattern", "1M"]);
        let h = srv.connect();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut buf = vec![0u8; 4096];
            let _ = h.pread_structured(
                &mut buf,
                0,
                Box::new(|_, _, _, _| panic!("callback failed")),
                None,
            );
        }));
        assert!(r.is_err(), "the panic reaches the caller");
        // The buffer the machine was lent is gone with the stack frame:
        // the machine must no longer hold it, so the handle is dead.
        assert!(h.aio_is_dead());
        let mut buf = vec![0u8; 512];
        assert!(h.pread(&mut buf, 0, None).is_err());
    });
}

#[test]
fn t601_refused_command_frees_callbacks() {
    with_timeout(60, || {
        let srv = nbdkit(&["-r", "memory", "1M"]);
        let h = srv.connect();
        let freed = Arc::new(AtomicUsize::new(0));
        let f = Freed(freed.clone());
        let r = h.aio_pwrite(
            AioBuffer::new(512),
            0,
            Some(Box::new(move |_| {
                let _ = &f;
                1
            })),
            None,
        );
        assert_eq!(r.unwrap_err().errno(), libc::EPERM);
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn t602_close_with_commands_in_flight() {
    with_timeout(60, || {
        let srv = nbdkit(&["--filter=delay", "memory", "1M", "rdelay=1"]);
        let freed = Arc::new(AtomicUsize::new(0));
        let called = Arc::new(AtomicUsize::new(0));
        {
            let h = srv.connect();
            for i in 0..8u64 {
                let f = Freed(freed.clone());
                let c = called.clone();
                h.aio_pread(
                    AioBuffer::new(512),
                    i * 512,
                    Some(Box::new(move |_| {
                        let _ = &f;
                        c.fetch_add(1, Ordering::SeqCst);
                        1
                    })),
                    None,
                )
                .unwrap();
            }
        }
        assert_eq!(freed.load(Ordering::SeqCst), 8, "each callback freed once");
    });
}

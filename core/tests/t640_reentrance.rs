//! A callback that calls a locked method of its own handle gets EDEADLK
//! (libnbd would deadlock); the non-failing getters answer from the copy
//! taken when the lock was last released; other handles stay usable.

mod common;
use common::*;
use std::sync::{Arc, Mutex, Weak};

use nbd::{AioBuffer, Handle, PublicState};

/// Results the callbacks saw, in order.
type Seen = Arc<Mutex<Vec<String>>>;

fn describe<T: std::fmt::Debug>(r: nbd::Result<T>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => format!("errno {} {:?}", e.errno(), e.context()),
    }
}

#[test]
fn t640_debug_callback_calling_its_handle_gets_edeadlk() {
    with_timeout(30, || {
        let h = Arc::new(Handle::new().unwrap());
        let seen: Seen = Arc::default();
        let (weak, s) = (Arc::downgrade(&h), seen.clone());
        let other = Handle::new().unwrap();
        h.set_debug_callback(Box::new(move |ctx, msg| {
            if ctx == "nbd_set_export_name" && msg.starts_with("enter") {
                let h = Weak::upgrade(&weak).unwrap();
                let mut s = s.lock().unwrap();
                s.push(describe(h.get_export_name()));
                s.push(describe(h.set_handle_name("x")));
                // Non-failing getters and the unlocked calls still answer.
                s.push(format!("debug {}", h.get_debug()));
                s.push(format!("state {:?}", h.public_state()));
                s.push(format!("created {}", h.aio_is_created()));
                // Another handle is not locked.
                s.push(describe(
                    other.get_handle_name().map(|n| n.starts_with("nbd")),
                ));
            }
            0
        }))
        .unwrap();
        h.set_debug(true).unwrap();
        h.set_export_name("e").unwrap();
        h.set_debug(false).unwrap();
        let seen = seen.lock().unwrap().clone();
        let deadlk = libc::EDEADLK;
        assert_eq!(
            seen,
            vec![
                format!("errno {deadlk} Some(\"nbd_get_export_name\")"),
                format!("errno {deadlk} Some(\"nbd_set_handle_name\")"),
                "debug true".to_string(),
                format!("state {:?}", PublicState::Created),
                "created true".to_string(),
                "ok true".to_string(),
            ]
        );
        // After the call the handle works again, and the refused setter
        // changed nothing.
        assert_eq!(h.get_export_name().unwrap(), "e");
        assert!(h.get_handle_name().unwrap().starts_with("nbd"));
        h.clear_debug_callback().unwrap();
    });
}

#[test]
fn t641_completion_callback_calling_its_handle_gets_edeadlk() {
    with_timeout(60, || {
        let srv = nbdkit(&["memory", "1M"]);
        let h = Arc::new(srv.connect());
        let seen: Seen = Arc::default();
        let (weak, s) = (Arc::downgrade(&h), seen.clone());
        let buf = AioBuffer::from_vec(vec![0u8; 4096]);
        let cookie = h
            .aio_pread(
                buf,
                0,
                Some(Box::new(move |err| {
                    let h = Weak::upgrade(&weak).unwrap();
                    let mut s = s.lock().unwrap();
                    s.push(format!("err {}", *err));
                    s.push(describe(h.get_size()));
                    let mut b = [0u8; 512];
                    s.push(describe(h.pread(&mut b, 0, None)));
                    s.push(format!("sent>0 {}", h.stats_bytes_sent() > 0));
                    1
                })),
                None,
            )
            .unwrap();
        assert!(cookie >= 1);
        while h.aio_in_flight().unwrap() > 0 {
            h.poll(5000).unwrap();
        }
        let deadlk = libc::EDEADLK;
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                "err 0".to_string(),
                format!("errno {deadlk} Some(\"nbd_get_size\")"),
                format!("errno {deadlk} Some(\"nbd_pread\")"),
                "sent>0 true".to_string(),
            ]
        );
        // The handle is still connected and usable.
        assert_eq!(h.get_size().unwrap(), 1 << 20);
        let mut b = [1u8; 512];
        h.pread(&mut b, 0, None).unwrap();
        assert_eq!(b, [0u8; 512]);
        h.shutdown(None).unwrap();
    });
}

//! 480: get_handle_size estimates the memory a handle holds, in any
//! state: it grows when the handle connects (the connection's buffers)
//! and while commands are in flight.

mod common;
use common::*;

#[test]
fn t480_handle_size_follows_the_connection_and_commands() {
    with_timeout(60, || {
        let h = Handle::new().unwrap();
        let created = h.get_handle_size().unwrap();
        assert!(created > 0, "a new handle holds something: {created}");

        let srv = nbdkit(&["--filter=delay", "memory", "1M", "rdelay=300ms"]);
        srv.connect_handle(&h);
        let connected = h.get_handle_size().unwrap();
        assert!(
            connected > created,
            "connecting adds buffers: {created} -> {connected}"
        );

        let cookies: Vec<u64> = (0..16u64)
            .map(|i| {
                h.aio_pread(AioBuffer::new(65536), i * 65536, None, None)
                    .unwrap()
            })
            .collect();
        let busy = h.get_handle_size().unwrap();
        assert!(
            busy > connected,
            "16 reads of 64 KiB in flight: {connected} -> {busy}"
        );

        for c in cookies {
            assert!(wait_cookie(&h, c).unwrap());
        }
        assert!(h.get_handle_size().unwrap() >= created);
        h.shutdown(None).unwrap();
    });
}

//! 820: multi-conn: four handles to one server, each driven by its own
//! thread at the same time; after every thread's flush, each handle sees
//! every thread's data.

mod common;
use common::*;

const SLICE: usize = 64 * 1024;

#[test]
fn t820_four_connections_in_four_threads_see_each_others_writes() {
    with_timeout(120, || {
        let srv = nbdkit(&["memory", "1M"]);
        let handles: Vec<Handle> = (0..4).map(|_| srv.connect()).collect();
        assert!(handles.iter().all(|h| h.can_multi_conn().unwrap()));
        std::thread::scope(|s| {
            for (id, h) in handles.iter().enumerate() {
                s.spawn(move || {
                    let offset = (id * SLICE) as u64;
                    for round in 0..10u8 {
                        let byte = id as u8 * 16 + round;
                        h.pwrite(&vec![byte; SLICE], offset, None).unwrap();
                        let mut back = vec![0u8; SLICE];
                        h.pread(&mut back, offset, None).unwrap();
                        assert!(back.iter().all(|&b| b == byte), "thread {id} round {round}");
                    }
                    h.flush(None).unwrap();
                });
            }
        });
        for (reader, h) in handles.iter().enumerate() {
            for id in 0..4 {
                let mut back = vec![0u8; SLICE];
                h.pread(&mut back, (id * SLICE) as u64, None).unwrap();
                let want = id as u8 * 16 + 9;
                assert!(
                    back.iter().all(|&b| b == want),
                    "handle {reader} sees thread {id}'s last write"
                );
            }
        }
        for h in &handles {
            h.shutdown(None).unwrap();
        }
    });
}

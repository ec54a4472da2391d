//! scenarios: 839
//!
//! The tokio API with several connections (nbd_set_connections): the
//! driver waits on the handle's one epoll descriptor and serves every
//! connection; 64 tasks' writes and reads are spread over four
//! connections (nbdkit's log filter shows them), and in opt mode
//! `opt_go` resolves once every connection is open.

#![cfg(feature = "tokio")]

mod common;

use std::collections::BTreeSet;

use common::*;
use nbd::AsyncHandle;
use tokio::task::JoinSet;

const BLOCK: usize = 65536;
const OPT_ROUNDS: usize = 25;

fn pattern(i: usize) -> Vec<u8> {
    (0..BLOCK).map(|j| (i * 13 + j / 97) as u8).collect()
}

/// The connection numbers nbdkit's log filter shows carrying `what`.
fn connections(log: &std::path::Path, what: &str) -> BTreeSet<u32> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let rest = l.split(" connection=").nth(1)?;
            let mut w = rest.split_whitespace();
            let id = w.next()?;
            (w.next()? == what).then(|| id.parse().unwrap())
        })
        .collect()
}

#[test]
fn t839_async_handle_spreads_tasks_over_four_connections() {
    with_timeout(120, || {
        let dir = TempDir::new();
        let log = dir.join("log");
        let logfile = format!("logfile={}", log.display());
        let srv = nbdkit_tcp(&["--filter=log", "memory", "8M", &logfile]);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let h = AsyncHandle::new().unwrap();
            h.set_connections(4).unwrap();
            h.connect_uri(&srv.uri("")).await.unwrap();
            assert_eq!(h.get_connections().unwrap(), 4);
            let mut set = JoinSet::new();
            for i in 0..64 {
                let h = h.clone();
                set.spawn(async move { h.pwrite(&pattern(i), (i * BLOCK) as u64, None).await });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap().unwrap();
            }
            h.flush(None).await.unwrap();
            let mut set = JoinSet::new();
            for i in 0..64 {
                let h = h.clone();
                set.spawn(async move {
                    let mut buf = vec![0u8; BLOCK];
                    h.pread(&mut buf, (i * BLOCK) as u64, None)
                        .await
                        .map(|()| (i, buf))
                });
            }
            while let Some(r) = set.join_next().await {
                let (i, buf) = r.unwrap().unwrap();
                assert!(buf == pattern(i), "block {i}");
            }
            h.shutdown(None).await.unwrap();
            assert_eq!(h.get_connections().unwrap(), 0);

            // Opt mode: opt_go resolves with every connection open. Done
            // many times over: each connect and each opt_go changes what
            // the epoll set watches a socket for while the server's bytes
            // may already be there (a wake-up once got lost that way).
            for _ in 0..OPT_ROUNDS {
                let h = AsyncHandle::new().unwrap();
                h.set_connections(2).unwrap();
                h.set_opt_mode(true).unwrap();
                h.connect_uri(&srv.uri("")).await.unwrap();
                assert!(h.handle().aio_is_negotiating());
                h.opt_go().await.unwrap();
                assert!(h.handle().aio_is_ready());
                assert_eq!(h.get_connections().unwrap(), 2);
                let mut buf = vec![0u8; BLOCK];
                h.pread(&mut buf, 5 * BLOCK as u64, None).await.unwrap();
                assert!(buf == pattern(5));
                h.shutdown(None).await.unwrap();
            }
        });
        drop(srv);
        assert_eq!(connections(&log, "Connect").len(), 4 + 2 * OPT_ROUNDS);
        assert_eq!(
            connections(&log, "Write").len(),
            4,
            "writes on four connections"
        );
        assert!(connections(&log, "Read").len() >= 4);
    });
}

//! The example core/examples/async_copy.rs, run as the program it is:
//! it copies one nbdkit memory export to another through `AsyncHandle`
//! with reads in flight, leaves the destination's bytes beyond the source
//! alone, refuses a smaller or read-only destination, and reports bad
//! arguments and unreachable servers with status 1, never a panic.
//!
//! The program is the one cargo builds next to this test
//! (target/<profile>/examples/async_copy): `cargo test -p nbd-core
//! --features tokio` builds the examples; for `--test t861_async_copy`
//! alone build it first (`cargo build -p nbd-core --features tokio
//! --example async_copy`), as the cargo-test step of `cargo xtask test`
//! does.

#![cfg(feature = "tokio")]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const MIB: usize = 1 << 20;
/// Not a multiple of the example's 256 KiB chunks: the last one is short.
const SOURCE_SIZE: usize = 3 * MIB + 4097;

/// The example's binary; fails when it is missing or older than its
/// source.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/t861_async_copy-HASH
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let bin = profile_dir.join("examples").join("async_copy");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/async_copy.rs");
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build it first: cargo build -p nbd-core --features tokio --example async_copy",
                bin.display()
            )
        });
    let edited = std::fs::metadata(&source)
        .and_then(|m| m.modified())
        .expect("the example's source");
    assert!(
        built >= edited,
        "{} is older than {}; rebuild it: cargo build -p nbd-core --features tokio --example async_copy",
        bin.display(),
        source.display()
    );
    bin
}

/// What a run of the example left.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run the example with `args`, killed if it takes longer than 60 s.
fn copy(args: &[&str]) -> Run {
    let mut child = Command::new(example())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the example");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for the example") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("async_copy {args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Its output is a line or two: the pipes never filled while it ran.
    let mut stdout = String::new();
    let mut stderr = String::new();
    let _ = child
        .stdout
        .take()
        .map(|mut o| o.read_to_string(&mut stdout));
    let _ = child
        .stderr
        .take()
        .map(|mut e| e.read_to_string(&mut stderr));
    Run {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// The source's contents: every byte depends on its offset.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 4099) as u8).collect()
}

fn write_all(h: &Handle, data: &[u8]) {
    for (i, piece) in data.chunks(MIB).enumerate() {
        h.pwrite(piece, (i * MIB) as u64, None).expect("pwrite");
    }
}

fn read_all(h: &Handle, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for (i, piece) in out.chunks_mut(MIB).enumerate() {
        h.pread(piece, (i * MIB) as u64, None).expect("pread");
    }
    out
}

#[test]
fn t861_copies_an_export_with_reads_in_flight() {
    with_timeout(180, || {
        let size = SOURCE_SIZE.to_string();
        let src = nbdkit(&["memory", &size]);
        let dst = nbdkit(&["memory", "4M"]);
        let want = pattern(SOURCE_SIZE);
        let hs = src.connect();
        write_all(&hs, &want);
        hs.shutdown(None).unwrap();
        let hd = dst.connect();
        for in_flight in [None, Some("1"), Some("3")] {
            // What the destination held before, beyond the source too.
            write_all(&hd, &vec![0xAA; 4 * MIB]);
            let (s, d) = (src.uri(""), dst.uri(""));
            let mut args = vec![s.as_str(), d.as_str()];
            args.extend(in_flight);
            let r = copy(&args);
            assert_eq!(r.code, Some(0), "{args:?}: {}", r.stderr);
            assert!(
                r.stdout
                    .starts_with(&format!("copied {SOURCE_SIZE} bytes in ")),
                "{args:?}: {}",
                r.stdout
            );
            assert!(
                r.stdout
                    .contains(&format!("MiB/s, {} in flight", in_flight.unwrap_or("16"))),
                "{}",
                r.stdout
            );
            let got = read_all(&hd, 4 * MIB);
            assert!(got[..SOURCE_SIZE] == want[..], "{args:?}: copy differs");
            assert!(
                got[SOURCE_SIZE..].iter().all(|&b| b == 0xAA),
                "{args:?}: bytes beyond the source changed"
            );
        }
        hd.shutdown(None).unwrap();
    });
}

#[test]
fn t861_refuses_a_destination_it_cannot_fill() {
    with_timeout(60, || {
        let src = nbdkit(&["memory", "2M"]);
        let small = nbdkit(&["memory", "1M"]);
        let read_only = nbdkit(&["-r", "memory", "2M"]);
        let h = src.connect();
        write_all(&h, &pattern(2 * MIB));

        let r = copy(&[&src.uri(""), &small.uri("")]);
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(
            r.stderr.contains(
                "the destination (1048576 bytes) is smaller than the source (2097152 bytes)"
            ),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        let hs = small.connect();
        assert!(read_all(&hs, MIB).iter().all(|&b| b == 0), "written to");

        let r = copy(&[&src.uri(""), &read_only.uri("")]);
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(
            r.stderr.contains("the destination is read-only"),
            "{}",
            r.stderr
        );
    });
}

#[test]
fn t861_reports_bad_arguments_and_unreachable_servers() {
    with_timeout(60, || {
        let src = nbdkit(&["memory", "1M"]);
        let dir = TempDir::new();
        let nowhere = format!("nbd+unix:///?socket={}", dir.join("nobody.sock").display());
        let s = src.uri("");
        for (args, says) in [
            (vec![], "usage: async_copy SRC_URI DST_URI [IN_FLIGHT]"),
            (vec![s.as_str()], "usage: async_copy"),
            (
                vec![s.as_str(), s.as_str(), "0"],
                "IN_FLIGHT must be a positive number, not `0`",
            ),
            (
                vec![s.as_str(), s.as_str(), "many"],
                "IN_FLIGHT must be a positive number, not `many`",
            ),
            (vec![nowhere.as_str(), s.as_str()], "source nbd+unix:///"),
            (
                vec![s.as_str(), nowhere.as_str()],
                "destination nbd+unix:///",
            ),
            (vec![s.as_str(), "not a uri"], "destination not a uri: "),
        ] {
            let r = copy(&args);
            assert_eq!(r.code, Some(1), "{args:?}: {}", r.stderr);
            assert!(
                r.stderr.starts_with("async_copy: ") && r.stderr.contains(says),
                "{args:?}: {}",
                r.stderr
            );
            assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
            assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        }
    });
}

//! Copy one NBD export to another with `nbd::AsyncHandle`: IN_FLIGHT tasks
//! (default 16) on one tokio runtime thread, each reading a 256 KiB chunk
//! of the source (the last one shorter) and writing it to the same offset
//! of the destination, then taking the next chunk, so IN_FLIGHT reads or
//! writes are in flight at once. Each chunk's vector is lent to the
//! read and then to the write (`pread_owned`, `pwrite_owned`), so the
//! data is not copied in memory on the way.
//!
//! Usage: async_copy SRC_URI DST_URI [IN_FLIGHT]
//!
//! ```sh
//! cargo run -p nbd-core --features tokio --example async_copy -- \
//!     'nbd+unix:///?socket=/tmp/src.sock' 'nbd+unix:///?socket=/tmp/dst.sock' 32
//! ```
//!
//! The destination must be at least as large as the source; what lies
//! beyond the source's size is left as it is. Prints the bytes copied and
//! the rate; on any error prints it and exits with status 1.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use nbd::AsyncHandle;

const CHUNK: u64 = 256 * 1024;
const DEFAULT_IN_FLIGHT: usize = 16;
const USAGE: &str = "usage: async_copy SRC_URI DST_URI [IN_FLIGHT]";

async fn connect(uri: &str, what: &str) -> Result<AsyncHandle, String> {
    let h = AsyncHandle::new().map_err(|e| format!("{what}: {e}"))?;
    h.connect_uri(uri)
        .await
        .map_err(|e| format!("{what} {uri}: {e}"))?;
    Ok(h)
}

/// One task's share of the copy: take the next chunk, read it from `src`,
/// write it to `dst`, until no chunk is left or another task failed. The
/// chunk's vector is lent to the read and then to the write
/// (`pread_owned`, `pwrite_owned`): the data is never copied in memory.
async fn worker(
    src: AsyncHandle,
    dst: AsyncHandle,
    size: u64,
    next: Arc<AtomicU64>,
    failed: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut buf = Vec::with_capacity(CHUNK as usize);
    while !failed.load(Ordering::Relaxed) {
        let offset = next.fetch_add(1, Ordering::Relaxed) * CHUNK;
        if offset >= size {
            break;
        }
        let len = CHUNK.min(size - offset) as usize;
        buf.resize(len, 0);
        let (r, data) = src.pread_owned(buf, offset, None).await;
        if let Err(e) = r {
            failed.store(true, Ordering::Relaxed);
            return Err(format!("reading {len} bytes at {offset}: {e}"));
        }
        let (r, back) = dst.pwrite_owned(data, offset, None).await;
        if let Err(e) = r {
            failed.store(true, Ordering::Relaxed);
            return Err(format!("writing {len} bytes at {offset}: {e}"));
        }
        buf = back;
    }
    Ok(())
}

/// Copy `src_uri` to `dst_uri` with `in_flight` tasks: the bytes copied
/// and the seconds from the first read to the destination's flush.
async fn copy(src_uri: &str, dst_uri: &str, in_flight: usize) -> Result<(u64, f64), String> {
    let src = connect(src_uri, "source").await?;
    let dst = connect(dst_uri, "destination").await?;
    let size = src.get_size().map_err(|e| format!("source: {e}"))? as u64;
    let dst_size = dst.get_size().map_err(|e| format!("destination: {e}"))? as u64;
    if dst_size < size {
        return Err(format!(
            "the destination ({dst_size} bytes) is smaller than the source ({size} bytes)"
        ));
    }
    if dst
        .is_read_only()
        .map_err(|e| format!("destination: {e}"))?
    {
        return Err("the destination is read-only".into());
    }

    let start = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            tokio::spawn(worker(
                src.clone(),
                dst.clone(),
                size,
                next.clone(),
                failed.clone(),
            ))
        })
        .collect();
    let mut first_error = None;
    for t in tasks {
        let r = t
            .await
            .map_err(|e| format!("copy task: {e}"))
            .and_then(|r| r);
        if let Err(e) = r {
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }

    if dst.can_flush().map_err(|e| format!("destination: {e}"))? {
        dst.flush(None)
            .await
            .map_err(|e| format!("flushing the destination: {e}"))?;
    }
    let secs = start.elapsed().as_secs_f64();
    src.shutdown(None)
        .await
        .map_err(|e| format!("source: {e}"))?;
    dst.shutdown(None)
        .await
        .map_err(|e| format!("destination: {e}"))?;
    Ok((size, secs))
}

fn run(args: &[String]) -> Result<(), String> {
    let (src, dst, in_flight) = match args {
        [src, dst] => (src, dst, DEFAULT_IN_FLIGHT),
        [src, dst, n] => match n.parse::<usize>() {
            Ok(n) if n > 0 => (src, dst, n),
            _ => return Err(format!("IN_FLIGHT must be a positive number, not `{n}`")),
        },
        _ => return Err(USAGE.into()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let (bytes, secs) = rt.block_on(copy(src, dst, in_flight))?;
    println!(
        "copied {bytes} bytes in {secs:.3} s ({:.1} MiB/s, {in_flight} in flight)",
        bytes as f64 / (1 << 20) as f64 / secs
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("async_copy: {e}");
            ExitCode::FAILURE
        }
    }
}

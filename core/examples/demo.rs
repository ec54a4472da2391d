//! The demo program, Rust edition: the same steps as tests/demo/demo.c and
//! demo.py, printing what it saw as one JSON object for `cargo xtask demo`.
//!
//! Usage: demo [URI]   (without a URI it runs `nbdkit memory 1M` itself)

use nbd::{CmdFlag, Handle, CONTEXT_BASE_ALLOCATION};

const PATTERN_LEN: usize = 65536;

fn pattern() -> Vec<u8> {
    (0..PATTERN_LEN).map(|i| (i % 251) as u8).collect()
}

fn connect(h: &Handle, uri: Option<&str>) -> nbd::Result<()> {
    match uri {
        Some(u) => h.connect_uri(u),
        None => h.connect_command(&["nbdkit", "-s", "--exit-with-parent", "memory", "1M"]),
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn run(uri: Option<&str>) -> nbd::Result<String> {
    let h = Handle::new()?;
    h.add_meta_context(CONTEXT_BASE_ALLOCATION)?;
    connect(&h, uri)?;

    let size = h.get_size()?;
    let read_only = h.is_read_only()?;
    let pattern_result = if read_only {
        "skipped (read-only)".to_string()
    } else {
        let want = pattern();
        h.pwrite(&want, 0, None)?;
        let mut got = vec![0u8; PATTERN_LEN];
        h.pread(&mut got, 0, None)?;
        if got == want {
            "ok".to_string()
        } else {
            "MISMATCH".to_string()
        }
    };

    let flags = [
        ("read_only", read_only),
        ("can_flush", h.can_flush()?),
        ("can_fua", h.can_fua()?),
        ("can_trim", h.can_trim()?),
        ("can_zero", h.can_zero()?),
        ("can_multi_conn", h.can_multi_conn()?),
    ];

    let mut extents: Vec<(u64, u64)> = Vec::new();
    if h.can_meta_context(CONTEXT_BASE_ALLOCATION)? {
        let collected = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = collected.clone();
        let len = size.min(1 << 20) as u64;
        h.block_status(
            len,
            0,
            Box::new(
                move |ctx: &str, _off: u64, entries: &[u32], _err: &mut i32| {
                    if ctx == CONTEXT_BASE_ALLOCATION {
                        let mut v = sink.lock().unwrap_or_else(|p| p.into_inner());
                        v.extend(entries.chunks_exact(2).map(|p| (p[0] as u64, p[1] as u64)));
                    }
                    0
                },
            ),
            Some(CmdFlag::empty()),
        )?;
        extents = collected.lock().unwrap_or_else(|p| p.into_inner()).clone();
    }
    h.shutdown(None)?;

    // The export list, from a second handle in opt mode.
    let exports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let lh = Handle::new()?;
    lh.set_opt_mode(true)?;
    connect(&lh, uri)?;
    let sink = exports.clone();
    let listed = lh.opt_list(Box::new(move |name: &str, _desc: &str| {
        sink.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(name.to_string());
        0
    }));
    let exports: Vec<String> = match listed {
        Ok(_) => exports.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        Err(e) => vec![format!("(not listed: {})", e.message())],
    };
    let _ = lh.opt_abort();

    let flags_json: Vec<String> = flags
        .iter()
        .map(|(k, v)| format!("{}: {v}", json_str(k)))
        .collect();
    let extents_json: Vec<String> = extents.iter().map(|(l, f)| format!("[{l}, {f}]")).collect();
    let exports_json: Vec<String> = exports.iter().map(|e| json_str(e)).collect();
    Ok(format!(
        "{{\"language\": \"Rust\", \"size\": {size}, \"pattern\": {}, \"flags\": {{{}}}, \"extents\": [{}], \"exports\": [{}]}}",
        json_str(&pattern_result),
        flags_json.join(", "),
        extents_json.join(", "),
        exports_json.join(", ")
    ))
}

fn main() {
    let uri = std::env::args().nth(1);
    match run(uri.as_deref()) {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(1);
        }
    }
}

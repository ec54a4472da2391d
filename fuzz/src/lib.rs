//! Fuzz drivers for the sans-IO protocol machine (`nbd::protocol`).
//!
//! Each target reads the fuzzer's input as a small program: a first byte
//! of configuration, then operations, among them "feed the next N bytes
//! to the machine as if received from the server" (so the split points
//! of the server's byte stream are the fuzzer's choice), "drain what the
//! machine wants to send", start commands or options, EOF, disconnect.
//! After every operation the invariants are checked, and a violation
//! panics (libFuzzer reports it as a crash):
//!
//! - a command completes at most once, and an option reports its result
//!   at most once;
//! - a read that succeeds was covered exactly by its data and hole
//!   chunks (no gap, no overlap);
//! - every extent delivered is non-empty and starts inside the export;
//! - the machine's memory stays under a bound;
//! - after a fatal error the machine produces no more request bytes.
//!
//! The targets: `handshake` (greeting and automatic negotiation, with
//! STARTTLS whose TLS handshake the input decides), `options` (opt mode:
//! the caller's options against fuzzed replies) and `transmission`
//! (a valid handshake with a built-in server, then commands in flight
//! and fuzzed replies, with or without structured replies and extended
//! headers).

use std::collections::HashMap;
use std::io::IoSlice;
use std::sync::{Arc, Mutex};

use nbd::protocol::wire;
use nbd::protocol::{Command, CommandKind, Config, ExtentSink, Machine, OptRequest};
use nbd::{AioBuffer, CmdFlag, PublicState, Strict, Tls};

/// The most memory the machine may hold: its input buffer may grow to a
/// whole maximal reply chunk (64 MiB), plus bookkeeping.
const MEMORY_BOUND: usize = 80 << 20;

/// The fuzzer's input, read from the front.
pub struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from(self.byte()?) << 8 | u16::from(self.byte()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from(self.u16()?) << 16 | u32::from(self.u16()?))
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

/// What the callbacks saw, shared with them.
#[derive(Default)]
struct Seen {
    /// Completion callback calls per command.
    completions: HashMap<u64, u32>,
    /// Data and hole ranges delivered per read: (offset, length).
    chunks: HashMap<u64, Vec<(u64, u64)>>,
    /// Option results reported through completion callbacks.
    option_completions: u64,
}

/// The machine, what its callbacks saw, and whether it has died.
pub struct Harness {
    m: Machine,
    seen: Arc<Mutex<Seen>>,
    dead: bool,
    next_id: u64,
}

impl Harness {
    fn new(config: Config) -> Harness {
        let mut m = Machine::new(config);
        m.start_handshake();
        Harness {
            m,
            seen: Arc::default(),
            dead: false,
            next_id: 1,
        }
    }

    /// Deliver `bytes` as received from the server, in the pieces the
    /// machine's input buffer allows.
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.m.direction().reads() {
            let buf = self.m.input_buffer();
            assert!(
                !buf.is_empty(),
                "input_buffer is empty while the machine reads"
            );
            let n = buf.len().min(bytes.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.m.input_received(n).is_err() {
                self.dead = true;
            }
            self.check();
        }
    }

    /// Take everything the machine wants to send, as a socket would.
    fn drain(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut slices: Vec<IoSlice<'_>> = Vec::new();
            self.m.pending_output(&mut slices);
            let n: usize = slices.iter().map(|s| s.len()).sum();
            if n == 0 {
                break;
            }
            assert!(
                !self.dead,
                "the machine produced {n} request bytes after a fatal error"
            );
            for s in &slices {
                out.extend_from_slice(s);
            }
            drop(slices);
            self.m.output_written(n);
            self.check();
        }
        out
    }

    fn check(&mut self) {
        if matches!(self.m.public_state(), PublicState::Dead) {
            self.dead = true;
        }
        let mem = self.m.memory();
        assert!(mem <= MEMORY_BOUND, "the machine holds {mem} bytes");
        if self.dead {
            let mut slices = Vec::new();
            self.m.pending_output(&mut slices);
            assert!(
                slices.iter().all(|s| s.is_empty()),
                "request bytes queued after a fatal error"
            );
        }
    }

    /// A completion callback that counts its calls for `id`, and for a
    /// tracked read checks that success means exact coverage.
    fn completion(&self, id: u64, read: Option<(u64, u64)>) -> nbd::CompletionCallback {
        let seen = self.seen.clone();
        Box::new(move |err: &mut i32| {
            let mut s = seen.lock().unwrap();
            let n = s.completions.entry(id).or_insert(0);
            *n += 1;
            assert_eq!(*n, 1, "command {id} completed twice");
            if let (0, Some((offset, count))) = (*err, read) {
                let mut ranges = s.chunks.remove(&id).unwrap_or_default();
                ranges.sort_unstable();
                let mut at = offset;
                for (o, l) in ranges {
                    assert_eq!(o, at, "read {id}: gap or overlap at {o} (expected {at})");
                    at = o + l;
                }
                assert_eq!(
                    at,
                    offset + count,
                    "read {id} succeeded without all its data"
                );
            }
            0
        })
    }

    fn chunk(&self, id: u64) -> nbd::ChunkCallback {
        let seen = self.seen.clone();
        Box::new(
            move |sub: &[u8], offset: u64, status: u32, _err: &mut i32| {
                if status != nbd::READ_ERROR {
                    seen.lock()
                        .unwrap()
                        .chunks
                        .entry(id)
                        .or_default()
                        .push((offset, sub.len() as u64));
                }
                0
            },
        )
    }

    fn extent_check(size: u64) -> impl Fn(u64, &[(u64, u64)]) {
        move |offset, entries| {
            let mut at = offset;
            for &(len, _) in entries {
                assert!(len > 0, "a zero-length extent was delivered");
                assert!(
                    at < size,
                    "an extent at {at} was delivered, the export has {size} bytes"
                );
                at = at.saturating_add(len);
            }
        }
    }

    /// Start a command described by the input; None when the input ran out.
    fn command(&mut self, op: u8, input: &mut Input<'_>) -> Option<()> {
        let flags = CmdFlag(u32::from(input.byte()?));
        let count = u64::from(input.u16()?) * (1 + u64::from(input.byte()? % 16));
        let offset = u64::from(input.u32()?);
        let id = self.next_id;
        self.next_id += 1;
        let size = self.m.info().size;
        let (kind, read) = match op % 6 {
            0 => {
                let chunk = Some(self.chunk(id));
                let buf = AioBuffer::new(count as usize);
                (CommandKind::read(buf, offset, chunk), Some((offset, count)))
            }
            1 => (
                CommandKind::write(AioBuffer::new(count as usize), offset),
                None,
            ),
            2 => {
                let check = Self::extent_check(size);
                let sink = ExtentSink::Narrow(Box::new(
                    move |_: &str, off: u64, e: &[u32], _: &mut i32| {
                        let pairs: Vec<(u64, u64)> = e
                            .chunks(2)
                            .map(|p| (u64::from(p[0]), u64::from(p.get(1).copied().unwrap_or(0))))
                            .collect();
                        check(off, &pairs);
                        0
                    },
                ));
                (CommandKind::block_status(count, offset, sink, None), None)
            }
            3 => {
                let check = Self::extent_check(size);
                let sink = ExtentSink::Wide(Box::new(
                    move |_: &str, off: u64, e: &[nbd::Extent], _: &mut i32| {
                        let pairs: Vec<(u64, u64)> =
                            e.iter().map(|x| (x.length, x.flags)).collect();
                        check(off, &pairs);
                        0
                    },
                ));
                (CommandKind::block_status(count, offset, sink, None), None)
            }
            4 => (CommandKind::Flush, None),
            _ => (CommandKind::zero(count, offset), None),
        };
        let completion =
            Some(self.completion(id, read.filter(|_| self.m.info().structured_replies)));
        if self
            .m
            .start_command(Command {
                kind,
                flags,
                completion,
            })
            .is_ok()
        {
            assert!(!self.dead, "a command was accepted after a fatal error");
        }
        self.check();
        Some(())
    }

    /// Collect results of completed commands.
    fn retire_all(&mut self) {
        while let Ok(cookie) = self.m.peek_command_completed() {
            if cookie == 0 {
                break;
            }
            let _ = self.m.command_completed(cookie);
            self.check();
        }
    }

    /// Operations common to every target. Returns false when the input
    /// is used up.
    fn step(
        &mut self,
        input: &mut Input<'_>,
        extra: &mut dyn FnMut(&mut Harness, u8, &mut Input<'_>) -> Option<()>,
    ) -> bool {
        let Some(op) = input.byte() else { return false };
        match op {
            // Feed the next 1..=256 or a long run of bytes.
            0..=0x7f => {
                let n = usize::from(op) + 1;
                let bytes = input.take(n);
                self.feed(bytes);
            }
            0x80..=0x8f => {
                let Some(n) = input.u16() else { return false };
                let bytes = input.take(usize::from(n));
                self.feed(bytes);
            }
            0x90 => {
                self.drain();
            }
            0x91 => {
                self.m.input_eof();
                self.check();
            }
            0x92 => {
                let _ = self.m.disconnect(op & 1 == 1);
                self.check();
            }
            0x93 => self.retire_all(),
            0x94 => {
                // The TLS layer's verdict on a pending TLS handshake.
                if self.m.tls_handshake_pending() {
                    if input.byte().unwrap_or(0) & 1 == 0 {
                        let _ = self.m.tls_established("fuzz");
                    } else {
                        self.m
                            .transport_failed(nbd::Error::new(EIO, "fuzz: TLS failed"));
                    }
                    self.check();
                }
            }
            _ => {
                if extra(self, op, input).is_none() {
                    return false;
                }
            }
        }
        true
    }
}

/// EIO (Linux's errno 5), for the simulated TLS failure.
const EIO: i32 = 5;

/// The configuration byte: which features the client asks for.
fn config(bits: u8, opt_mode: bool) -> Config {
    let mut c = Config {
        request_structured_replies: bits & 1 != 0,
        request_extended_headers: bits & 2 != 0,
        request_meta_context: true,
        full_info: bits & 8 != 0,
        request_block_size: bits & 16 != 0,
        opt_mode,
        tls: match bits >> 5 & 3 {
            1 => Tls::ALLOW,
            2 => Tls::REQUIRE,
            _ => Tls::DISABLE,
        },
        ..Config::default()
    };
    if bits & 4 != 0 {
        c.meta_contexts = vec!["base:allocation".into(), "qemu:dirty-bitmap:b".into()];
    }
    if bits & 0x80 != 0 {
        // Without client-side checks, more reaches the wire.
        c.strict = Strict(0);
    }
    c
}

/// Target `handshake`: the greeting, automatic negotiation and the
/// transmission phase, all from fuzzed server bytes.
pub fn handshake(data: &[u8]) {
    let mut input = Input(data);
    let Some(bits) = input.byte() else { return };
    let mut h = Harness::new(config(bits, false));
    let mut extra = |h: &mut Harness, op: u8, input: &mut Input<'_>| h.command(op, input);
    while h.step(&mut input, &mut extra) {}
    h.retire_all();
}

/// Target `options`: opt mode, the caller's options (list, info, go,
/// meta contexts, STARTTLS, ...) against fuzzed replies.
pub fn options(data: &[u8]) {
    let mut input = Input(data);
    let Some(bits) = input.byte() else { return };
    let mut h = Harness::new(config(bits, true));
    let mut started = 0u64;
    let mut extra = |h: &mut Harness, op: u8, input: &mut Input<'_>| -> Option<()> {
        if op < 0xa0 {
            return h.command(op, input);
        }
        let seen = h.seen.clone();
        let completion: nbd::CompletionCallback = Box::new(move |_err: &mut i32| {
            seen.lock().unwrap().option_completions += 1;
            0
        });
        let queries = if input.byte()? & 1 == 0 {
            None
        } else {
            Some(vec!["base:allocation".to_string(), "qemu:".to_string()])
        };
        let req = match op % 9 {
            0 => OptRequest::Go,
            1 => OptRequest::Info,
            2 => OptRequest::List(Box::new(|_: &str, _: &str| 0)),
            3 => OptRequest::Abort,
            4 => OptRequest::StartTls,
            5 => OptRequest::StructuredReply,
            6 => OptRequest::ExtendedHeaders,
            7 => OptRequest::ListMetaContext {
                queries,
                callback: Box::new(|_: &str| 0),
            },
            _ => OptRequest::SetMetaContext {
                queries,
                callback: Box::new(|_: &str| 0),
            },
        };
        let before = h.seen.lock().unwrap().option_completions;
        match h.m.start_option(req, Some(completion)) {
            Ok(()) => {
                assert!(!h.dead, "an option was started after a fatal error");
                started += 1;
            }
            Err(_) => {
                // Refused at once: the completion callback was dropped
                // unused.
                assert_eq!(h.seen.lock().unwrap().option_completions, before);
            }
        }
        let done = h.seen.lock().unwrap().option_completions;
        assert!(
            done <= started,
            "{done} option completions for {started} options"
        );
        h.check();
        Some(())
    };
    while h.step(&mut input, &mut extra) {
        // A result is reported once, and then no more.
        if h.m.option_result().is_some() {
            assert!(
                h.m.option_result().is_none(),
                "an option result was reported twice"
            );
        }
    }
}

/// Answer the client's options as a plain, valid server would, until the
/// machine is in the transmission phase (or gave up).
fn serve_handshake(h: &mut Harness, size: u64, eflags: u16, extended: bool) {
    let mut greeting = Vec::new();
    greeting.extend_from_slice(&wire::NBDMAGIC.to_be_bytes());
    greeting.extend_from_slice(&wire::IHAVEOPT.to_be_bytes());
    greeting.extend_from_slice(&(wire::FLAG_FIXED_NEWSTYLE | wire::FLAG_NO_ZEROES).to_be_bytes());
    h.feed(&greeting);
    let mut pending = h.drain();
    // The client flags.
    if pending.len() < 4 {
        return;
    }
    pending.drain(..4);
    for _ in 0..16 {
        while pending.len() >= 16 {
            let code = u32::from_be_bytes(pending[8..12].try_into().unwrap());
            let len = u32::from_be_bytes(pending[12..16].try_into().unwrap()) as usize;
            if pending.len() < 16 + len {
                break;
            }
            let data: Vec<u8> = pending[16..16 + len].to_vec();
            pending.drain(..16 + len);
            let mut out = Vec::new();
            let mut reply = |typ: u32, payload: &[u8]| {
                out.extend_from_slice(&wire::REPLY_MAGIC_OPT.to_be_bytes());
                out.extend_from_slice(&code.to_be_bytes());
                out.extend_from_slice(&typ.to_be_bytes());
                out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
                out.extend_from_slice(payload);
            };
            match code {
                wire::OPT_STRUCTURED_REPLY => reply(wire::REP_ACK, &[]),
                wire::OPT_EXTENDED_HEADERS if extended => reply(wire::REP_ACK, &[]),
                wire::OPT_SET_META_CONTEXT => {
                    let mut p = 1u32.to_be_bytes().to_vec();
                    p.extend_from_slice(b"base:allocation");
                    if data.windows(15).any(|w| w == b"base:allocation") {
                        reply(wire::REP_META_CONTEXT, &p);
                    }
                    reply(wire::REP_ACK, &[]);
                }
                wire::OPT_GO | wire::OPT_INFO => {
                    let mut p = wire::INFO_EXPORT.to_be_bytes().to_vec();
                    p.extend_from_slice(&size.to_be_bytes());
                    p.extend_from_slice(&eflags.to_be_bytes());
                    reply(wire::REP_INFO, &p);
                    reply(wire::REP_ACK, &[]);
                }
                _ => reply(wire::REP_ERR_UNSUP, &[]),
            }
            h.feed(&out);
        }
        if h.dead || matches!(h.m.public_state(), PublicState::Connected) {
            return;
        }
        pending.extend(h.drain());
    }
}

/// Target `transmission`: a valid handshake, then commands in flight and
/// fuzzed replies (simple, structured or extended; block status 32- and
/// 64-bit).
pub fn transmission(data: &[u8]) {
    let mut input = Input(data);
    let Some(bits) = input.byte() else { return };
    let Some(size_sel) = input.u32() else { return };
    let mut cfg = config(bits & !0x60, false);
    cfg.meta_contexts = vec!["base:allocation".into()];
    let mut h = Harness::new(cfg);
    let size = u64::from(size_sel) << (bits >> 5 & 3) * 4;
    let eflags = 0xffffu16 & !(1 << 1); // every flag but read-only
    serve_handshake(&mut h, size, eflags, bits & 2 != 0);
    if h.dead || !matches!(h.m.public_state(), PublicState::Connected) {
        return;
    }
    let mut extra = |h: &mut Harness, op: u8, input: &mut Input<'_>| h.command(op, input);
    while h.step(&mut input, &mut extra) {}
    h.retire_all();
}

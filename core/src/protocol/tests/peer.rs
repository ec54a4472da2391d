//! A scripted in-memory NBD server: it reads what the machine writes and
//! answers with real NBD bytes built by the helpers below.

use std::sync::{Arc, Mutex};

use crate::generated::types::PublicState;
use crate::protocol::wire::{self, PutBe};
use crate::protocol::{Command, CommandKind, Config, Machine, OptRequest};
use crate::{AioBuffer, CmdFlag, Error};

pub const EFLAGS_ALL: u16 = wire::FLAG_HAS_FLAGS
    | wire::FLAG_SEND_FLUSH
    | wire::FLAG_SEND_FUA
    | wire::FLAG_SEND_TRIM
    | wire::FLAG_SEND_WRITE_ZEROES
    | wire::FLAG_SEND_DF
    | wire::FLAG_CAN_MULTI_CONN
    | wire::FLAG_SEND_CACHE
    | wire::FLAG_SEND_FAST_ZERO;

/// What the scripted server offers during negotiation.
#[derive(Clone)]
pub struct Server {
    pub gflags: u16,
    pub structured: bool,
    pub extended: bool,
    pub go: bool,
    pub size: u64,
    pub eflags: u16,
    pub block: Option<(u32, u32, u32)>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Meta contexts the server knows, with their ids.
    pub contexts: Vec<(u32, String)>,
    /// Exports for NBD_OPT_LIST: (name, description).
    pub exports: Vec<(String, String)>,
    /// Export names that exist (None: any).
    pub known: Option<Vec<String>>,
}

impl Default for Server {
    fn default() -> Server {
        Server {
            gflags: wire::FLAG_FIXED_NEWSTYLE | wire::FLAG_NO_ZEROES,
            structured: true,
            extended: false,
            go: true,
            size: 1 << 20,
            eflags: EFLAGS_ALL,
            block: None,
            name: None,
            description: None,
            contexts: vec![(1, "base:allocation".into())],
            exports: vec![],
            known: None,
        }
    }
}

/// A machine and the server end of its connection.
pub struct Peer {
    pub m: Machine,
    /// Bytes the client sent that the server has not parsed yet.
    pub rx: Vec<u8>,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Req {
    pub flags: u16,
    pub typ: u16,
    pub cookie: u64,
    pub offset: u64,
    pub length: u64,
    pub payload: Vec<u8>,
}

impl Peer {
    pub fn new(config: Config) -> Peer {
        let mut m = Machine::new(config);
        m.start_handshake();
        Peer { m, rx: Vec::new() }
    }

    /// Move everything the client wants to send to the server side,
    /// as one vectored write would.
    pub fn flush(&mut self) {
        let mut total = 0;
        {
            let mut slices = Vec::new();
            self.m.pending_output(&mut slices);
            for s in &slices {
                self.rx.extend_from_slice(s);
                total += s.len();
            }
        }
        if total > 0 {
            self.m.output_written(total);
        }
    }

    /// Deliver server bytes to the machine through its input buffer.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.send_in_pieces(bytes, usize::MAX)
    }

    /// Deliver server bytes at most `piece` at a time.
    pub fn send_in_pieces(&mut self, mut bytes: &[u8], piece: usize) -> Result<(), Error> {
        let mut result = Ok(());
        while !bytes.is_empty() {
            if !self.m.direction().reads() {
                break;
            }
            let buf = self.m.input_buffer();
            assert!(
                !buf.is_empty(),
                "input_buffer must not be empty while reading"
            );
            let n = buf.len().min(bytes.len()).min(piece);
            buf[..n].copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if let Err(e) = self.m.input_received(n) {
                result = Err(e);
            }
        }
        self.flush();
        result
    }

    pub fn state(&self) -> PublicState {
        self.m.public_state()
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        assert!(
            self.rx.len() >= n,
            "client sent {} bytes, expected at least {n}",
            self.rx.len()
        );
        self.rx.drain(..n).collect()
    }

    /// The 4-byte client flags.
    pub fn expect_cflags(&mut self) -> u32 {
        self.flush();
        let b = self.take(4);
        wire::be32(&b, 0)
    }

    /// The next option: (code, data).
    pub fn expect_option(&mut self) -> (u32, Vec<u8>) {
        self.flush();
        let h = self.take(16);
        assert_eq!(wire::be64(&h, 0), wire::IHAVEOPT, "option magic");
        let len = wire::be32(&h, 12) as usize;
        (wire::be32(&h, 8), self.take(len))
    }

    /// The next request (extended or compact per `ext`).
    pub fn expect_request(&mut self, ext: bool) -> Req {
        self.flush();
        let hl = if ext { 32 } else { 28 };
        let h = self.take(hl);
        let magic = wire::be32(&h, 0);
        let length = if ext {
            wire::be64(&h, 24)
        } else {
            wire::be32(&h, 24) as u64
        };
        assert_eq!(
            magic,
            if ext {
                wire::EXTENDED_REQUEST_MAGIC
            } else {
                wire::REQUEST_MAGIC
            }
        );
        let flags = wire::be16(&h, 4);
        let typ = wire::be16(&h, 6);
        let has_payload = if ext {
            flags & wire::CMD_FLAG_PAYLOAD_LEN != 0
        } else {
            typ == wire::CMD_WRITE
        };
        let payload = if has_payload {
            self.take(length as usize)
        } else {
            Vec::new()
        };
        Req {
            flags,
            typ,
            cookie: wire::be64(&h, 8),
            offset: wire::be64(&h, 16),
            length,
            payload,
        }
    }

    /// Start an option (it must be accepted) and send it.
    pub fn start_option(&mut self, opt: OptRequest, completion: Option<crate::CompletionCallback>) {
        self.m.start_option(opt, completion).unwrap();
        self.flush();
    }

    /// Answer options the way `srv` says until the machine stops
    /// negotiating (ready, negotiating in opt mode, or dead).
    pub fn serve_options(&mut self, srv: &Server) {
        loop {
            self.flush();
            if self.rx.len() < 16 || wire::be32(&self.rx, 8) == wire::OPT_EXPORT_NAME {
                return;
            }
            let (code, data) = self.expect_option();
            let reply = answer_option(srv, code, &data, self.m.info().extended_headers);
            let _ = self.send(&reply);
        }
    }

    /// Answer options until the client sends `code`; return its data
    /// (unanswered).
    pub fn options_until(&mut self, srv: &Server, code: u32) -> Vec<u8> {
        loop {
            let (c, data) = self.expect_option();
            if c == code {
                return data;
            }
            let reply = answer_option(srv, c, &data, self.m.info().extended_headers);
            self.send(&reply).unwrap();
        }
    }

    /// Answer the NBD_OPT_EXPORT_NAME the client sends next (the reply
    /// padded with 124 zeroes when `zeroes`), which ends the handshake.
    pub fn answer_export_name(&mut self, size: u64, zeroes: bool) {
        let (code, _) = self.expect_option();
        assert_eq!(code, wire::OPT_EXPORT_NAME);
        self.send(&export_name_reply(size, wire::FLAG_HAS_FLAGS, zeroes))
            .unwrap();
        assert_eq!(self.state(), PublicState::Connected);
    }

    /// Greet as a newstyle server, read the client flags, answer options.
    pub fn handshake(&mut self, srv: &Server) {
        self.send(&newstyle_greeting(srv.gflags)).unwrap();
        self.expect_cflags();
        self.serve_options(srv);
    }

    /// Submit a read into a fresh buffer of `len` bytes.
    pub fn read(&mut self, len: usize, offset: u64) -> (u64, AioBuffer) {
        let buf = AioBuffer::new(len);
        let cookie = self
            .m
            .start_command(Command {
                kind: CommandKind::Read {
                    buf: buf.clone(),
                    offset,
                    chunk: None,
                },
                flags: CmdFlag(0),
                completion: None,
            })
            .expect("read submitted");
        self.flush();
        (cookie, buf)
    }

    /// The errno of a command that completed with an error.
    pub fn command_errno(&mut self, cookie: u64) -> i32 {
        self.m.command_completed(cookie).unwrap_err().errno()
    }

    pub fn submit(&mut self, kind: CommandKind, flags: u32) -> Result<u64, Error> {
        self.submit_with(kind, flags, None)
    }

    /// Submit a command with a completion callback, and send it.
    pub fn submit_with(
        &mut self,
        kind: CommandKind,
        flags: u32,
        completion: Option<crate::CompletionCallback>,
    ) -> Result<u64, Error> {
        let r = self.m.start_command(Command {
            kind,
            flags: CmdFlag(flags),
            completion,
        });
        self.flush();
        r
    }
}

/// Connect in opt mode to `srv`, stopping at the Negotiating state.
pub fn negotiating(srv: &Server) -> Peer {
    let mut p = Peer::new(Config {
        opt_mode: true,
        ..Config::default()
    });
    p.handshake(srv);
    assert_eq!(p.state(), PublicState::Negotiating, "{:?}", p.m.error());
    p
}

/// Settings that ask for base:allocation.
pub fn meta_config() -> Config {
    Config {
        meta_contexts: vec!["base:allocation".into()],
        ..Config::default()
    }
}

/// A server without structured replies.
pub fn simple_srv() -> Server {
    Server {
        structured: false,
        ..Server::default()
    }
}

/// Settings that leave a read buffer's old bytes in place.
pub fn without_pread_initialize() -> Config {
    Config {
        pread_initialize: false,
        ..Config::default()
    }
}

/// Connect with default settings to a default server.
pub fn connected(config: Config, srv: &Server) -> Peer {
    let mut p = Peer::new(config);
    p.handshake(srv);
    assert_eq!(
        p.state(),
        PublicState::Connected,
        "error: {:?}",
        p.m.error()
    );
    p
}

// ---- server message builders ----

pub fn newstyle_greeting(gflags: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.put64(wire::NBDMAGIC);
    v.put64(wire::IHAVEOPT);
    v.put16(gflags);
    v
}

pub fn oldstyle_greeting(size: u64, eflags: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.put64(wire::NBDMAGIC);
    v.put64(wire::OLDSTYLE_MAGIC);
    v.put64(size);
    v.put16(0);
    v.put16(eflags);
    v.extend_from_slice(&[0; 124]);
    v
}

pub fn opt_reply(opt: u32, typ: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.put64(wire::REPLY_MAGIC_OPT);
    v.put32(opt);
    v.put32(typ);
    v.put32(payload.len() as u32);
    v.extend_from_slice(payload);
    v
}

pub fn info_export(opt: u32, size: u64, eflags: u16) -> Vec<u8> {
    let mut p = Vec::new();
    p.put16(wire::INFO_EXPORT);
    p.put64(size);
    p.put16(eflags);
    opt_reply(opt, wire::REP_INFO, &p)
}

pub fn export_name_reply(size: u64, eflags: u16, zeroes: bool) -> Vec<u8> {
    let mut v = Vec::new();
    v.put64(size);
    v.put16(eflags);
    if zeroes {
        v.extend_from_slice(&[0; 124]);
    }
    v
}

pub fn simple_reply(cookie: u64, error: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.put32(wire::SIMPLE_REPLY_MAGIC);
    v.put32(error);
    v.put64(cookie);
    v.extend_from_slice(data);
    v
}

pub fn chunk(flags: u16, typ: u16, cookie: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.put32(wire::STRUCTURED_REPLY_MAGIC);
    v.put16(flags);
    v.put16(typ);
    v.put64(cookie);
    v.put32(payload.len() as u32);
    v.extend_from_slice(payload);
    v
}

pub fn ext_chunk(flags: u16, typ: u16, cookie: u64, offset: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.put32(wire::EXTENDED_REPLY_MAGIC);
    v.put16(flags);
    v.put16(typ);
    v.put64(cookie);
    v.put64(offset);
    v.put64(payload.len() as u64);
    v.extend_from_slice(payload);
    v
}

/// An offset-data chunk carrying `data` at `offset`.
pub fn data_chunk(flags: u16, cookie: u64, offset: u64, data: &[u8]) -> Vec<u8> {
    chunk(
        flags,
        wire::REPLY_TYPE_OFFSET_DATA,
        cookie,
        &data_payload(offset, data),
    )
}

/// An offset-hole chunk of `len` bytes at `offset`.
pub fn hole_chunk(flags: u16, cookie: u64, offset: u64, len: u32) -> Vec<u8> {
    chunk(
        flags,
        wire::REPLY_TYPE_OFFSET_HOLE,
        cookie,
        &hole_payload(offset, len),
    )
}

pub fn data_payload(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.put64(offset);
    v.extend_from_slice(data);
    v
}

pub fn hole_payload(offset: u64, len: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.put64(offset);
    v.put32(len);
    v
}

pub fn error_payload(error: u32, msg: &str, offset: Option<u64>) -> Vec<u8> {
    let mut v = Vec::new();
    v.put32(error);
    v.put16(msg.len() as u16);
    v.extend_from_slice(msg.as_bytes());
    if let Some(o) = offset {
        v.put64(o);
    }
    v
}

pub fn bs_payload(id: u32, extents: &[(u32, u32)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.put32(id);
    for &(l, f) in extents {
        v.put32(l);
        v.put32(f);
    }
    v
}

pub fn bs_ext_payload(id: u32, extents: &[(u64, u64)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.put32(id);
    v.put32(extents.len() as u32);
    for &(l, f) in extents {
        v.put64(l);
        v.put64(f);
    }
    v
}

/// The replies a well-behaved server gives to one option.
pub fn answer_option(srv: &Server, code: u32, data: &[u8], extended: bool) -> Vec<u8> {
    let mut out = Vec::new();
    match code {
        wire::OPT_STRUCTURED_REPLY => {
            let t = if srv.structured {
                wire::REP_ACK
            } else {
                wire::REP_ERR_UNSUP
            };
            out.extend(opt_reply(code, t, &[]));
        }
        wire::OPT_EXTENDED_HEADERS => {
            let t = if srv.extended {
                wire::REP_ACK
            } else {
                wire::REP_ERR_UNSUP
            };
            out.extend(opt_reply(code, t, &[]));
        }
        wire::OPT_GO | wire::OPT_INFO => {
            if !srv.go {
                return opt_reply(code, wire::REP_ERR_UNSUP, &[]);
            }
            let nlen = wire::be32(data, 0) as usize;
            let name = String::from_utf8(data[4..4 + nlen].to_vec()).unwrap();
            if srv.known.as_ref().is_some_and(|k| !k.contains(&name)) {
                return opt_reply(code, wire::REP_ERR_UNKNOWN, b"no such export");
            }
            let ninfo = wire::be16(data, 4 + nlen) as usize;
            let infos: Vec<u16> = (0..ninfo)
                .map(|i| wire::be16(data, 6 + nlen + 2 * i))
                .collect();
            let mut eflags = srv.eflags;
            if !extended {
                eflags &= !wire::FLAG_BLOCK_STATUS_PAYLOAD;
            }
            out.extend(info_export(code, srv.size, eflags));
            if let (Some((a, b, c)), true) = (srv.block, infos.contains(&wire::INFO_BLOCK_SIZE)) {
                let mut p = Vec::new();
                p.put16(wire::INFO_BLOCK_SIZE);
                p.put32(a);
                p.put32(b);
                p.put32(c);
                out.extend(opt_reply(code, wire::REP_INFO, &p));
            }
            if let (Some(n), true) = (&srv.name, infos.contains(&wire::INFO_NAME)) {
                let mut p = Vec::new();
                p.put16(wire::INFO_NAME);
                p.extend_from_slice(n.as_bytes());
                out.extend(opt_reply(code, wire::REP_INFO, &p));
            }
            if let (Some(d), true) = (&srv.description, infos.contains(&wire::INFO_DESCRIPTION)) {
                let mut p = Vec::new();
                p.put16(wire::INFO_DESCRIPTION);
                p.extend_from_slice(d.as_bytes());
                out.extend(opt_reply(code, wire::REP_INFO, &p));
            }
            out.extend(opt_reply(code, wire::REP_ACK, &[]));
        }
        wire::OPT_LIST => {
            for (n, d) in &srv.exports {
                let mut p = Vec::new();
                p.put32(n.len() as u32);
                p.extend_from_slice(n.as_bytes());
                p.extend_from_slice(d.as_bytes());
                out.extend(opt_reply(code, wire::REP_SERVER, &p));
            }
            out.extend(opt_reply(code, wire::REP_ACK, &[]));
        }
        wire::OPT_LIST_META_CONTEXT | wire::OPT_SET_META_CONTEXT => {
            if !srv.structured && !srv.extended {
                return opt_reply(code, wire::REP_ERR_INVALID, &[]);
            }
            let nlen = wire::be32(data, 0) as usize;
            let nq = wire::be32(data, 4 + nlen) as usize;
            let mut at = 8 + nlen;
            let mut queries = Vec::new();
            for _ in 0..nq {
                let l = wire::be32(data, at) as usize;
                queries.push(String::from_utf8(data[at + 4..at + 4 + l].to_vec()).unwrap());
                at += 4 + l;
            }
            for (id, name) in &srv.contexts {
                let wanted = if code == wire::OPT_LIST_META_CONTEXT && queries.is_empty() {
                    true
                } else {
                    queries
                        .iter()
                        .any(|q| q == name || (q.ends_with(':') && name.starts_with(q.as_str())))
                };
                if wanted {
                    let mut p = Vec::new();
                    p.put32(if code == wire::OPT_LIST_META_CONTEXT {
                        0
                    } else {
                        *id
                    });
                    p.extend_from_slice(name.as_bytes());
                    out.extend(opt_reply(code, wire::REP_META_CONTEXT, &p));
                }
            }
            out.extend(opt_reply(code, wire::REP_ACK, &[]));
        }
        wire::OPT_ABORT => out.extend(opt_reply(code, wire::REP_ACK, &[])),
        _ => out.extend(opt_reply(code, wire::REP_ERR_UNSUP, &[])),
    }
    out
}

// ---- callback instrumentation ----

/// A shared log of callback events.
#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    /// The completion ran once, seeing `err`, and was then freed.
    pub fn assert_completed_once(&self, err: i32) {
        assert_eq!(
            self.events(),
            vec![format!("completion {err}"), "drop completion".to_string()]
        );
    }
    pub fn count(&self, s: &str) -> usize {
        self.0.lock().unwrap().iter().filter(|e| *e == s).count()
    }
    /// A value that logs `what` when dropped; move it into a closure to
    /// observe the closure being freed.
    pub fn guard(&self, what: &str) -> Guard {
        Guard(self.clone(), what.to_string())
    }
}

pub struct Guard(Log, String);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.push(format!("drop {}", self.1));
    }
}

/// A completion callback that logs its call (with the error it sees) and
/// its drop, returning `ret`.
pub fn completion(log: &Log, ret: i32) -> crate::CompletionCallback {
    let g = log.guard("completion");
    let log = log.clone();
    Box::new(move |err: &mut i32| {
        let _ = &g;
        log.push(format!("completion {}", *err));
        ret
    })
}

//! Parsing replies in the transmission phase: simple replies, structured
//! reply chunks and extended reply chunks, for any command in flight, in
//! any order. Read data goes straight into the caller's buffer; anything
//! malformed kills the connection with EPROTO rather than guessing.

use super::errors::protocol_error;
use super::machine::Context;
use super::state::{AfterData, ChunkHdr, ReplyState, Transmission};
use super::types::{ExtentSink, MAX_REQUEST_SIZE};
use super::wire;
use crate::generated::types::{Extent, READ_DATA, READ_ERROR, READ_HOLE};
use crate::Error;

/// Longest reply chunk accepted: a whole maximal read plus its offset, or
/// block status for about 2^22 extents.
const MAX_CHUNK_LEN: u64 = MAX_REQUEST_SIZE + 64;

/// The longest extent a 32-bit extent callback is given when a 64-bit
/// extent is narrowed: 4 GiB - 64 MiB, a multiple of every block size up
/// to the largest request, so the caller's next request stays aligned.
const NARROW_EXTENT_MAX: u32 = 0xfc00_0000;

/// Error chunks are parsed from at most this many bytes: error, message
/// length, a maximal message and an offset.
const MAX_ERROR_PREFIX: usize = 6 + wire::MAX_STRING + 8;

/// Keep the first error a command meets.
fn set_first(error: &mut i32, errno: i32) {
    if *error == 0 {
        *error = errno;
    }
}

fn no_cookie(cookie: u64) -> Error {
    protocol_error(format!(
        "no matching cookie {cookie} found for server reply, this is probably a server bug"
    ))
}

/// A block-status chunk: the 64-bit form goes with extended headers and
/// the 32-bit form without, and its length is a header (the context id,
/// padded to 8 bytes in the 64-bit form) and one or more descriptors.
fn check_block_status_len(wide: bool, ext: bool, len: usize) -> Result<(), Error> {
    let (name, head, desc) = if wide {
        ("NBD_REPLY_TYPE_BLOCK_STATUS_EXT", 8, 16)
    } else {
        ("NBD_REPLY_TYPE_BLOCK_STATUS", 4, 8)
    };
    if wide != ext {
        return Err(protocol_error(if wide {
            "server sent 64-bit block status without extended headers"
        } else {
            "server sent 32-bit block status with extended headers"
        }));
    }
    if len < head + desc || !(len - head).is_multiple_of(desc) {
        return Err(protocol_error(format!("invalid length in {name}")));
    }
    Ok(())
}

impl Transmission {
    pub(super) fn step_reply(&mut self, cx: &mut Context) -> Result<bool, Error> {
        match self.reply {
            ReplyState::Header => self.recv_reply_header(cx),
            ReplyState::Payload { hdr, need } => {
                if !cx.have(need) {
                    return Ok(false);
                }
                self.chunk_payload(cx, hdr, need)?;
                Ok(true)
            }
            ReplyState::Data {
                cookie,
                pos,
                remaining,
                then,
            } => {
                if remaining == 0 {
                    self.reply = ReplyState::Header;
                    self.data_done(cx, cookie, then);
                    return Ok(true);
                }
                let n = cx.inbuf.len().min(remaining);
                if n == 0 {
                    return Ok(false);
                }
                if let Some(buf) = self.cmds.get(cookie).and_then(|c| c.buf.as_ref()) {
                    if pos + n <= buf.len() {
                        // SAFETY: in bounds (checked); the command owns a
                        // clone of the buffer and the caller keeps off it
                        // while the read is in flight.
                        let dst =
                            unsafe { std::slice::from_raw_parts_mut(buf.as_ptr().add(pos), n) };
                        dst.copy_from_slice(&cx.inbuf.avail()[..n]);
                    }
                }
                cx.inbuf.consume(n);
                self.reply = ReplyState::Data {
                    cookie,
                    pos: pos + n,
                    remaining: remaining - n,
                    then,
                };
                Ok(true)
            }
            ReplyState::Skip { hdr, remaining } => {
                if remaining == 0 {
                    self.reply = ReplyState::Header;
                    if hdr.done() {
                        self.finish_command(cx, hdr.cookie);
                    }
                    return Ok(true);
                }
                let n = (cx.inbuf.len() as u64).min(remaining) as usize;
                if n == 0 {
                    return Ok(false);
                }
                cx.inbuf.consume(n);
                self.reply = ReplyState::Skip {
                    hdr,
                    remaining: remaining - n as u64,
                };
                Ok(true)
            }
        }
    }

    fn recv_reply_header(&mut self, cx: &mut Context) -> Result<bool, Error> {
        if !cx.have(4) {
            return Ok(false);
        }
        if cx.info.extended_headers {
            // Check the magic first: a wrong one must not wait for bytes
            // that may never come.
            let magic = wire::be32(cx.inbuf.avail(), 0);
            if magic != wire::EXTENDED_REPLY_MAGIC {
                return Err(protocol_error(format!(
                    "invalid reply magic 0x{magic:08x} (extended headers were negotiated)"
                )));
            }
            if !cx.have(wire::EXTENDED_REPLY_LEN) {
                return Ok(false);
            }
            let b = cx.inbuf.avail();
            let hdr = ChunkHdr::parse(b, wire::be64(b, 24));
            let offset = wire::be64(b, 16);
            cx.inbuf.consume(wire::EXTENDED_REPLY_LEN);
            cx.stats.chunks_received += 1;
            // Every extended reply header repeats the request's offset
            // (the protocol's MUST), whatever its payload says.
            let cmd = self
                .cmds
                .active_mut(hdr.cookie)
                .ok_or_else(|| no_cookie(hdr.cookie))?;
            if offset != cmd.offset {
                return Err(protocol_error(format!(
                    "extended reply header has offset {offset} but the {} request had offset {}",
                    wire::cmd_name(cmd.typ),
                    cmd.offset
                )));
            }
            self.chunk_header(cx, hdr)?;
            return Ok(true);
        }
        match wire::be32(cx.inbuf.avail(), 0) {
            wire::SIMPLE_REPLY_MAGIC => {
                if !cx.have(wire::SIMPLE_REPLY_LEN) {
                    return Ok(false);
                }
                let b = cx.inbuf.avail();
                let (error, cookie) = (wire::be32(b, 4), wire::be64(b, 8));
                cx.inbuf.consume(wire::SIMPLE_REPLY_LEN);
                cx.stats.chunks_received += 1;
                self.simple_reply(cx, cookie, error)?;
            }
            wire::STRUCTURED_REPLY_MAGIC => {
                if !cx.info.structured_replies {
                    return Err(protocol_error(
                        "server sent a structured reply, which was not negotiated",
                    ));
                }
                if !cx.have(wire::STRUCTURED_REPLY_LEN) {
                    return Ok(false);
                }
                let b = cx.inbuf.avail();
                let hdr = ChunkHdr::parse(b, wire::be32(b, 16) as u64);
                cx.inbuf.consume(wire::STRUCTURED_REPLY_LEN);
                cx.stats.chunks_received += 1;
                self.chunk_header(cx, hdr)?;
            }
            wire::EXTENDED_REPLY_MAGIC => {
                return Err(protocol_error(
                    "server sent an extended reply, which was not negotiated",
                ));
            }
            magic => return Err(protocol_error(format!("invalid reply magic 0x{magic:08x}"))),
        }
        Ok(true)
    }

    fn simple_reply(&mut self, cx: &mut Context, cookie: u64, error: u32) -> Result<(), Error> {
        let structured = cx.info.structured_replies;
        let cmd = self
            .cmds
            .active_mut(cookie)
            .ok_or_else(|| no_cookie(cookie))?;
        if error != 0 {
            cmd.set_error(wire::errno_of_nbd_error(error));
            self.finish_command(cx, cookie);
        } else if cmd.typ == wire::CMD_READ {
            if structured {
                return Err(protocol_error(
                    "server sent a simple reply with data to a read, but structured replies were negotiated",
                ));
            }
            let remaining = cmd.count as usize;
            self.reply = ReplyState::Data {
                cookie,
                pos: 0,
                remaining,
                then: AfterData::SimpleReply,
            };
        } else {
            self.finish_command(cx, cookie);
        }
        Ok(())
    }

    /// Check a chunk header against its command and decide how to read
    /// the payload.
    fn chunk_header(&mut self, cx: &mut Context, hdr: ChunkHdr) -> Result<(), Error> {
        let ext = cx.info.extended_headers;
        let cmd_typ = self
            .cmds
            .active_mut(hdr.cookie)
            .ok_or_else(|| no_cookie(hdr.cookie))?
            .typ;
        if hdr.length > MAX_CHUNK_LEN {
            return Err(protocol_error(format!(
                "reply chunk of {} bytes is too long",
                hdr.length
            )));
        }
        let len = hdr.length as usize;
        let is_read = cmd_typ == wire::CMD_READ;
        let is_bs = cmd_typ == wire::CMD_BLOCK_STATUS;
        let wrong_cmd = |what: &str| {
            protocol_error(format!(
                "server sent {what} chunk in reply to {}, this is likely to be a server bug",
                wire::cmd_name(cmd_typ)
            ))
        };
        self.reply = match hdr.typ {
            wire::REPLY_TYPE_NONE => {
                if len != 0 {
                    return Err(protocol_error("invalid length in NBD_REPLY_TYPE_NONE"));
                }
                if !hdr.done() {
                    return Err(protocol_error(
                        "NBD_REPLY_FLAG_DONE must be set in NBD_REPLY_TYPE_NONE",
                    ));
                }
                self.finish_command(cx, hdr.cookie);
                return Ok(());
            }
            wire::REPLY_TYPE_OFFSET_DATA => {
                if !is_read {
                    return Err(wrong_cmd("an offset-data"));
                }
                if len <= 8 {
                    return Err(protocol_error(
                        "too short length in NBD_REPLY_TYPE_OFFSET_DATA",
                    ));
                }
                ReplyState::Payload { hdr, need: 8 }
            }
            wire::REPLY_TYPE_OFFSET_HOLE => {
                if !is_read {
                    return Err(wrong_cmd("an offset-hole"));
                }
                if len != 12 {
                    return Err(protocol_error(
                        "invalid length in NBD_REPLY_TYPE_OFFSET_HOLE",
                    ));
                }
                ReplyState::Payload { hdr, need: 12 }
            }
            wire::REPLY_TYPE_BLOCK_STATUS | wire::REPLY_TYPE_BLOCK_STATUS_EXT => {
                if !is_bs {
                    return Err(wrong_cmd("a block-status"));
                }
                check_block_status_len(hdr.typ == wire::REPLY_TYPE_BLOCK_STATUS_EXT, ext, len)?;
                ReplyState::Payload { hdr, need: len }
            }
            t if t & wire::REPLY_TYPE_ERROR_BIT != 0 => {
                if len < 6 {
                    return Err(protocol_error("too short length in structured reply error"));
                }
                ReplyState::Payload {
                    hdr,
                    need: len.min(MAX_ERROR_PREFIX),
                }
            }
            t => {
                // The protocol: an unknown type without the error bit
                // MUST end the connection (its meaning, and so whether
                // the command succeeded, cannot be known).
                return Err(protocol_error(format!(
                    "server sent unknown structured reply chunk type {t} to {}",
                    wire::cmd_name(cmd_typ)
                )));
            }
        };
        Ok(())
    }

    /// The first `need` payload bytes of `hdr` are buffered.
    fn chunk_payload(&mut self, cx: &mut Context, hdr: ChunkHdr, need: usize) -> Result<(), Error> {
        self.reply = ReplyState::Header;
        match hdr.typ {
            wire::REPLY_TYPE_OFFSET_DATA => self.offset_data(cx, hdr),
            wire::REPLY_TYPE_OFFSET_HOLE => self.offset_hole(cx, hdr),
            wire::REPLY_TYPE_BLOCK_STATUS | wire::REPLY_TYPE_BLOCK_STATUS_EXT => {
                self.block_status(cx, hdr)?;
                cx.inbuf.consume(need);
                if hdr.done() {
                    self.finish_command(cx, hdr.cookie);
                }
                Ok(())
            }
            _ => self.error_chunk(cx, hdr, need),
        }
    }

    /// Check that `[abs, abs+len)` lies inside the read's range and no
    /// earlier chunk; returns the position in the buffer.
    fn claim_range(&mut self, cookie: u64, abs: u64, len: u64) -> Result<usize, Error> {
        let cmd = self
            .cmds
            .active_mut(cookie)
            .ok_or_else(|| no_cookie(cookie))?;
        let rel = abs
            .checked_sub(cmd.offset)
            .filter(|rel| rel.checked_add(len).is_some_and(|end| end <= cmd.count));
        let Some(rel) = rel else {
            return Err(protocol_error(format!(
                "offset/length of reply is out of bounds, offset={abs} length={len} \
                 cmd->offset={} cmd->count={}, this is likely to be a bug in the NBD server",
                cmd.offset, cmd.count
            )));
        };
        if !cmd.coverage.insert(rel, rel + len) {
            return Err(protocol_error(format!(
                "server sent overlapping read chunks (offset={abs} length={len})"
            )));
        }
        Ok(rel as usize)
    }

    fn offset_data(&mut self, cx: &mut Context, hdr: ChunkHdr) -> Result<(), Error> {
        let abs = wire::be64(cx.inbuf.avail(), 0);
        cx.inbuf.consume(8);
        let len = hdr.length - 8;
        let start = self.claim_range(hdr.cookie, abs, len)?;
        let len = len as usize;
        self.reply = ReplyState::Data {
            cookie: hdr.cookie,
            pos: start,
            remaining: len,
            then: AfterData::Chunk {
                hdr,
                start,
                len,
                abs,
            },
        };
        Ok(())
    }

    fn offset_hole(&mut self, cx: &mut Context, hdr: ChunkHdr) -> Result<(), Error> {
        let b = cx.inbuf.avail();
        let (abs, len) = (wire::be64(b, 0), wire::be32(b, 8) as u64);
        cx.inbuf.consume(12);
        if len == 0 {
            return Err(protocol_error("zero-length NBD_REPLY_TYPE_OFFSET_HOLE"));
        }
        let start = self.claim_range(hdr.cookie, abs, len)?;
        let len = len as usize;
        if let Some(cmd) = self.cmds.active_mut(hdr.cookie) {
            if let Some(buf) = cmd.buf.as_ref() {
                // SAFETY: claim_range proved start+len <= count == buf.len();
                // the buffer belongs to this in-flight read.
                let hole = unsafe { std::slice::from_raw_parts_mut(buf.as_ptr().add(start), len) };
                hole.fill(0);
                if let Some(cb) = cmd.chunk.as_mut() {
                    let mut err = cmd.error;
                    if cb(hole, abs, READ_HOLE, &mut err) == -1 {
                        set_first(&mut cmd.error, if err != 0 { err } else { libc::EPROTO });
                    }
                }
            }
        }
        if hdr.done() {
            self.finish_command(cx, hdr.cookie);
        }
        Ok(())
    }

    fn data_done(&mut self, cx: &mut Context, cookie: u64, then: AfterData) {
        match then {
            AfterData::SimpleReply => {
                if let Some(cmd) = self.cmds.active_mut(cookie) {
                    let count = cmd.count;
                    cmd.coverage.insert(0, count);
                }
                self.finish_command(cx, cookie);
            }
            AfterData::Chunk {
                hdr,
                start,
                len,
                abs,
            } => {
                if let Some(cmd) = self.cmds.active_mut(cookie) {
                    if let (Some(buf), Some(cb)) = (cmd.buf.as_ref(), cmd.chunk.as_mut()) {
                        if start + len <= buf.len() {
                            // SAFETY: in bounds; the data was just received
                            // into this in-flight read's buffer.
                            let data =
                                unsafe { std::slice::from_raw_parts(buf.as_ptr().add(start), len) };
                            let mut err = cmd.error;
                            if cb(data, abs, READ_DATA, &mut err) == -1 {
                                set_first(
                                    &mut cmd.error,
                                    if err != 0 { err } else { libc::EPROTO },
                                );
                            }
                        }
                    }
                }
                if hdr.done() {
                    self.finish_command(cx, cookie);
                }
            }
        }
    }

    /// An error chunk (known or not): record the error, tell a read's
    /// chunk callback about an error at an offset.
    fn error_chunk(&mut self, cx: &mut Context, hdr: ChunkHdr, have: usize) -> Result<(), Error> {
        let b = cx.inbuf.avail();
        let error = wire::be32(b, 0);
        let msglen = wire::be16(b, 4) as usize;
        let len = hdr.length as usize;
        if msglen > len - 6 || msglen > wire::MAX_STRING {
            return Err(protocol_error("error message length too large"));
        }
        let msg = if msglen > 0 && cx.config.debug {
            Some(String::from_utf8_lossy(&b[6..6 + msglen]).into_owned())
        } else {
            None
        };
        let tail = len - 6 - msglen;
        let mut error_offset = None;
        match hdr.typ {
            wire::REPLY_TYPE_ERROR if tail != 0 => {
                return Err(protocol_error("error payload length too large"));
            }
            wire::REPLY_TYPE_ERROR_OFFSET if tail != 8 => {
                return Err(protocol_error("invalid error payload length"));
            }
            wire::REPLY_TYPE_ERROR_OFFSET => error_offset = Some(wire::be64(b, 6 + msglen)),
            _ => {}
        }
        cx.inbuf.consume(have);
        if let Some(msg) = msg {
            cx.debug_msg(|| format!("structured error server message: {msg}"));
        }
        let errno = if error == 0 {
            cx.debug_msg(|| "server forgot to set error; using EINVAL".into());
            libc::EINVAL
        } else {
            wire::errno_of_nbd_error(error)
        };
        let cmd = self
            .cmds
            .active_mut(hdr.cookie)
            .ok_or_else(|| no_cookie(hdr.cookie))?;
        if let Some(off) = error_offset {
            let in_range = off
                .checked_sub(cmd.offset)
                .is_some_and(|rel| rel < cmd.count);
            if !in_range {
                return Err(protocol_error(format!(
                    "offset of error reply is out of bounds, offset={off} cmd->offset={} cmd->count={}",
                    cmd.offset, cmd.count
                )));
            }
            if cmd.typ == wire::CMD_READ {
                if let Some(cb) = cmd.chunk.as_mut() {
                    // The failing position comes with no data.
                    let mut scratch = errno;
                    if cb(&[], off, READ_ERROR, &mut scratch) == -1 {
                        set_first(&mut cmd.error, scratch);
                    }
                }
            }
        }
        cmd.set_error(errno);
        if len > have {
            // An unknown error type with a tail we do not parse.
            self.reply = ReplyState::Skip {
                hdr,
                remaining: (len - have) as u64,
            };
        } else if hdr.done() {
            self.finish_command(cx, hdr.cookie);
        }
        Ok(())
    }

    /// Deliver one block status chunk (buffered whole) to the command's
    /// extent callback, converting to the width the caller asked for.
    ///
    /// Only sane extents reach the caller: a chunk for a context the
    /// command did not ask for, a zero-length extent, or an extent starting
    /// at or past the end of the export fails the command with EPROTO and
    /// is not delivered; the connection goes on (the chunk's framing was
    /// fine).
    fn block_status(&mut self, cx: &mut Context, hdr: ChunkHdr) -> Result<(), Error> {
        let ext = hdr.typ == wire::REPLY_TYPE_BLOCK_STATUS_EXT;
        let len = hdr.length as usize;
        let export_size = cx.info.size;
        let payload = &cx.inbuf.avail()[..len];
        let id = wire::be32(payload, 0);
        let (entries, mut n) = if ext {
            let n = (len - 8) / 16;
            if wire::be32(payload, 4) as usize != n {
                return Err(protocol_error(
                    "block status descriptor count does not match the length",
                ));
            }
            (&payload[8..], n)
        } else {
            (&payload[4..], (len - 4) / 8)
        };
        let cmd = self
            .cmds
            .active_mut(hdr.cookie)
            .ok_or_else(|| no_cookie(hdr.cookie))?;
        let requested = cmd.bs_filter.as_ref().is_none_or(|ids| ids.contains(&id));
        let meta = cx
            .info
            .meta_contexts
            .iter()
            .find(|m| m.id == id)
            .filter(|_| requested);
        let Some(meta) = meta else {
            cmd.fail(
                libc::EPROTO,
                format!("server sent block status for meta context ID {id}, which this command did not request"),
            );
            if cx.config.debug {
                cx.debug
                    .push(format!("server sent unexpected meta context ID {id}"));
            }
            return Ok(());
        };
        let mut truncated = false;
        if cmd.flags & wire::CMD_FLAG_REQ_ONE != 0 && n > 1 {
            n = 1;
            truncated = true;
        }
        let entry = |i: usize| -> (u64, u64) {
            if ext {
                (wire::be64(entries, 16 * i), wire::be64(entries, 16 * i + 8))
            } else {
                (
                    wire::be32(entries, 8 * i) as u64,
                    wire::be32(entries, 8 * i + 4) as u64,
                )
            }
        };
        // Every extent must be non-empty and start inside the export.
        let mut start = cmd.offset;
        for i in 0..n {
            let (length, _) = entry(i);
            let bad = if length == 0 {
                Some(format!(
                    "server sent a zero-length extent at offset {start}"
                ))
            } else if start >= export_size {
                Some(format!(
                    "server sent an extent at offset {start}, at or past the end of the export ({export_size} bytes)"
                ))
            } else {
                None
            };
            if let Some(why) = bad {
                cmd.fail(libc::EPROTO, why);
                return Ok(());
            }
            start = start.saturating_add(length);
        }
        if !cmd.bs_seen.contains(&id) {
            cmd.bs_seen.push(id);
        }
        let mut err = cmd.error;
        let r = match cmd.sink.as_mut() {
            Some(ExtentSink::Narrow(cb)) => {
                let v = &mut self.scratch32;
                v.clear();
                let mut overflow = false;
                for i in 0..n {
                    let (length, flags) = entry(i);
                    if flags > u32::MAX as u64 {
                        overflow = true;
                        break;
                    }
                    if length > u32::MAX as u64 {
                        // Too long for the 32-bit callback: report as much
                        // as fits while staying a multiple of any block
                        // size (4 GiB - 64 MiB, as libnbd), and stop there.
                        v.push(NARROW_EXTENT_MAX);
                        v.push(flags as u32);
                        break;
                    }
                    v.push(length as u32);
                    v.push(flags as u32);
                }
                if overflow {
                    cmd.fail(
                        libc::EOVERFLOW,
                        "server sent extent flags that do not fit the 32-bit callback",
                    );
                    0
                } else {
                    cb(&meta.name, cmd.offset, v, &mut err)
                }
            }
            Some(ExtentSink::Wide(cb)) => {
                let v = &mut self.scratch64;
                v.clear();
                v.extend((0..n).map(|i| {
                    let (length, flags) = entry(i);
                    Extent { length, flags }
                }));
                cb(&meta.name, cmd.offset, v, &mut err)
            }
            None => 0,
        };
        if r == -1 {
            set_first(&mut cmd.error, if err != 0 { err } else { libc::EPROTO });
        }
        if truncated {
            cx.debug_msg(|| {
                "server sent more than one extent despite REQ_ONE; ignoring the rest".into()
            });
        }
        Ok(())
    }

    fn finish_command(&mut self, cx: &mut Context, cookie: u64) {
        // A successful block status reply has extents for every context
        // the command asked for (the protocol's MUST): without them a
        // caller walking the export could never make progress.
        if let Some(c) = self.cmds.active_mut(cookie) {
            if c.typ == wire::CMD_BLOCK_STATUS && c.error == 0 {
                let missing = cx
                    .info
                    .meta_contexts
                    .iter()
                    .filter(|m| c.bs_filter.as_ref().is_none_or(|ids| ids.contains(&m.id)))
                    .find(|m| !c.bs_seen.contains(&m.id));
                if let Some(m) = missing {
                    let why = format!(
                        "server did not return any extents for meta context {}",
                        m.name
                    );
                    c.fail(libc::EPROTO, why);
                }
            }
        }
        if cx.config.debug {
            if let Some(c) = self.cmds.get(cookie) {
                let (typ, error) = (c.typ, c.error);
                cx.debug.push(format!(
                    "command complete: cookie={cookie} cmd={} error={error}",
                    wire::cmd_name(typ)
                ));
            }
        }
        self.cmds.complete(cookie);
    }
}

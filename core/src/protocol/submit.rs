//! Submitting transmission-phase commands: the client-side checks that
//! libnbd's strict mode makes (each with libnbd's errno), then encoding
//! the request into the send queue.

use super::commands::Cmd;
use super::machine::{Context, Machine};
use super::outqueue::{Payload, Tag};
use super::state::{AbortCause, State, Transmission};
use super::types::{Command, CommandKind, Negotiated, MAX_REQUEST_SIZE};
use super::wire::{self, PutBe};
use crate::generated::types::{CmdFlag, Strict};
use crate::{AioBuffer, Error};

fn einval(msg: impl Into<String>) -> Error {
    Error::new(libc::EINVAL, msg)
}

/// EINVAL unless the server supports `what` (a command or a flag).
fn supports(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(einval(format!("server does not support {what}")))
    }
}

/// A command that passed the checks, ready to encode.
struct Checked {
    typ: u16,
    flags: u16,
    offset: u64,
    count: u64,
    payload: Option<Payload>,
    /// Block status with a filter: the context IDs asked for.
    filter_ids: Option<Vec<u32>>,
}

/// Commands and NBD_CMD_DISC need a live transmission phase.
fn not_transmitting(state: &State) -> Error {
    if state.is_over() {
        Error::new(libc::ENOTCONN, "the connection is not connected")
    } else {
        einval("commands need a connected handle")
    }
}

impl Machine {
    pub(super) fn submit(&mut self, cmd: Command) -> Result<u64, Error> {
        let Command {
            kind,
            flags,
            completion,
        } = cmd;
        let cx = &mut self.cx;
        // A broken connection being replaced takes commands too: they are
        // sent once the new connection adopts them.
        let checked = match &mut self.state {
            State::Ready(t) => t.check(cx, &kind, flags).map(|c| (&mut t.cmds, true, c)),
            State::Dead { ended, .. } if ended.broken => Transmission::new()
                .check(cx, &kind, flags)
                .map(|c| (&mut ended.cmds, false, c)),
            other => Err(not_transmitting(other)),
        };
        let (cmds, send, mut checked) = match checked {
            Ok(c) => c,
            Err(e) => {
                // The callbacks can never be called: drop them now, the
                // mid-command one first.
                drop(kind);
                drop(completion);
                return Err(e);
            }
        };
        let mut c = Cmd::new(checked.typ, checked.flags, checked.offset, checked.count);
        match kind {
            CommandKind::Read { buf, chunk, .. } => {
                // nbd_set_pread_initialize is applied by the dispatch layer,
                // before any check; the machine only fills holes.
                c.buf = Some(buf);
                c.chunk = chunk;
            }
            // The payload's clone leaves the send queue once sent; this
            // one keeps the caller's buffer lent until the write retires,
            // as for reads (bindings pin the memory until then).
            CommandKind::Write { buf, .. } => c.buf = Some(buf),
            CommandKind::BlockStatus { sink, .. } => {
                c.sink = Some(sink);
                c.bs_filter = checked.filter_ids.take();
            }
            _ => {}
        }
        c.completion = completion;
        let cookie = cmds.insert(c);
        if !send {
            cx.debug_msg(|| format!("kept request: cookie={cookie} until the connection is back"));
            return Ok(cookie);
        }
        let fields = checked.header_fields();
        cx.queue_request(cookie, &fields, checked.payload);
        let (typ, offset, count) = (checked.typ, checked.offset, checked.count);
        cx.debug_msg(|| {
            format!(
                "sent request: cookie={cookie} cmd={} offset={offset} count={count}",
                wire::cmd_name(typ)
            )
        });
        Ok(cookie)
    }

    /// See [`Machine::adopt`].
    pub(super) fn adopt_commands(&mut self, old: &mut Machine) -> Result<Vec<u64>, Error> {
        let State::Dead { ended, .. } = &mut old.state else {
            return Err(einval("the old connection did not break"));
        };
        let State::Ready(t) = &mut self.state else {
            return Err(einval(
                "the new connection is not in the transmission phase",
            ));
        };
        if !ended.broken || t.cmds.in_flight() > 0 {
            return Err(einval("no commands to adopt, or commands already issued"));
        }
        ended.broken = false;
        t.cmds = std::mem::replace(&mut ended.cmds, super::commands::Commands::new());
        let cookies = t.cmds.requeue_all();
        let (old_info, cx) = (&old.cx.info, &mut self.cx);
        for &cookie in &cookies {
            let Some(cmd) = t.cmds.queued(cookie) else {
                continue;
            };
            let mut length = cmd.count;
            let mut payload = None;
            if cmd.typ == wire::CMD_WRITE {
                payload = cmd.buf.clone().map(Payload::Buffer);
            }
            if let Some(ids) = cmd.bs_filter.as_mut() {
                // Context IDs are per connection: the same names, anew.
                let mut p = Vec::with_capacity(8 + 4 * ids.len());
                p.put64(cmd.count);
                for id in ids.iter_mut() {
                    let name = old_info
                        .meta_contexts
                        .iter()
                        .find(|m| m.id == *id)
                        .map(|m| m.name.as_str());
                    let new = name.and_then(|n| cx.info.meta_context_id(n));
                    *id = new.ok_or_else(|| {
                        einval("a meta context of the old connection was not negotiated again")
                    })?;
                    p.put32(*id);
                }
                length = p.len() as u64;
                payload = Some(Payload::Owned(p));
            }
            let fields = HeaderFields {
                flags: cmd.flags,
                typ: cmd.typ,
                offset: cmd.offset,
                length,
            };
            cx.queue_request(cookie, &fields, payload);
        }
        cx.debug_msg(|| format!("sent {} kept requests again", cookies.len()));
        Ok(cookies)
    }

    /// Queue NBD_CMD_DISC (or NBD_OPT_ABORT while negotiating).
    pub(super) fn request_disconnect(&mut self, abandon_pending: bool) -> Result<(), Error> {
        if self.disconnecting() {
            return Err(einval(
                "the handle is disconnecting: a disconnect request is already pending",
            ));
        }
        let t = match &mut self.state {
            State::Ready(t) => t,
            State::Negotiating => {
                self.cx.queue_option(wire::OPT_ABORT, &[], Tag::OptAbort);
                self.state = State::SendAbort(AbortCause::Disconnect);
                return Ok(());
            }
            State::Closed(_) | State::Dead { .. } => return Err(not_transmitting(&self.state)),
            _ => {
                return Err(einval(
                    "cannot disconnect: the handshake is still in progress",
                ))
            }
        };
        if abandon_pending {
            let mut abandoned = Vec::new();
            self.cx.out.abandon_unsent(|cookie| abandoned.push(cookie));
            for cookie in abandoned {
                t.cmds.abort(
                    cookie,
                    "the request was abandoned by a disconnect before it was sent",
                );
            }
        }
        t.disconnect_requested = true;
        let cookie = t.cmds.insert(Cmd::new(wire::CMD_DISC, 0, 0, 0));
        let fields = HeaderFields {
            flags: 0,
            typ: wire::CMD_DISC,
            offset: 0,
            length: 0,
        };
        self.cx.queue_request(cookie, &fields, None);
        self.cx.debug_msg(|| "sent NBD_CMD_DISC".to_string());
        Ok(())
    }
}

impl Context {
    fn queue_request(&mut self, cookie: u64, f: &HeaderFields, payload: Option<Payload>) {
        let mut hdr = [0u8; 32];
        let len = if self.info.extended_headers {
            hdr[0..4].copy_from_slice(&wire::EXTENDED_REQUEST_MAGIC.to_be_bytes());
            hdr[24..32].copy_from_slice(&f.length.to_be_bytes());
            wire::EXTENDED_REQUEST_LEN
        } else {
            hdr[0..4].copy_from_slice(&wire::REQUEST_MAGIC.to_be_bytes());
            hdr[24..28].copy_from_slice(&(f.length as u32).to_be_bytes());
            wire::REQUEST_LEN
        };
        hdr[4..6].copy_from_slice(&f.flags.to_be_bytes());
        hdr[6..8].copy_from_slice(&f.typ.to_be_bytes());
        hdr[8..16].copy_from_slice(&cookie.to_be_bytes());
        hdr[16..24].copy_from_slice(&f.offset.to_be_bytes());
        self.out
            .push_request(&hdr[..len], payload, Tag::Request(cookie));
    }
}

impl Transmission {
    /// libnbd's checks, in libnbd's order, with its errnos (the state was
    /// checked first: this is the transmission phase).
    fn check(&self, cx: &Context, kind: &CommandKind, flags: CmdFlag) -> Result<Checked, Error> {
        if self.disconnect_requested {
            return Err(einval(
                "the handle is disconnecting: cannot request more commands after NBD_CMD_DISC",
            ));
        }
        if flags.bits() > 0xffff {
            return Err(einval(format!("invalid flag: {}", flags.bits())));
        }
        let strict = cx.config.strict;
        let strict_on = |bit: Strict| strict.bits() & bit.bits() != 0;
        let info = &cx.info;
        let ext = info.extended_headers;
        let mut wire_flags = flags.bits() as u16;
        let has = |f: CmdFlag| flags.bits() & f.bits() != 0;

        // (type, offset, count, permitted flags, errno for out of bounds;
        // 0 = no size checks at all, as for flush)
        let (typ, offset, count, permitted, bounds_errno) = match kind {
            CommandKind::Read { buf, offset, .. } => (
                wire::CMD_READ,
                *offset,
                buf.len() as u64,
                CmdFlag::PERMITTED_PREAD_STRUCTURED.bits(),
                libc::EINVAL,
            ),
            CommandKind::Write { buf, offset } => (
                wire::CMD_WRITE,
                *offset,
                buf.len() as u64,
                CmdFlag::PERMITTED_PWRITE.bits(),
                libc::ENOSPC,
            ),
            CommandKind::Flush => (wire::CMD_FLUSH, 0, 0, CmdFlag::PERMITTED_FLUSH.bits(), 0),
            CommandKind::Trim { count, offset } => (
                wire::CMD_TRIM,
                *offset,
                *count,
                CmdFlag::PERMITTED_TRIM.bits(),
                libc::ENOSPC,
            ),
            CommandKind::Cache { count, offset } => (
                wire::CMD_CACHE,
                *offset,
                *count,
                CmdFlag::PERMITTED_CACHE.bits(),
                libc::EINVAL,
            ),
            CommandKind::Zero { count, offset } => (
                wire::CMD_WRITE_ZEROES,
                *offset,
                *count,
                CmdFlag::PERMITTED_ZERO.bits(),
                libc::ENOSPC,
            ),
            CommandKind::BlockStatus {
                count,
                offset,
                filter,
                ..
            } => {
                let permitted = if filter.is_some() {
                    CmdFlag::PERMITTED_BLOCK_STATUS_FILTER.bits()
                } else {
                    CmdFlag::PERMITTED_BLOCK_STATUS.bits()
                };
                (
                    wire::CMD_BLOCK_STATUS,
                    *offset,
                    *count,
                    permitted,
                    libc::EINVAL,
                )
            }
        };

        if strict_on(Strict::FLAGS) && flags.bits() & !permitted != 0 {
            return Err(einval(format!("invalid flag: {}", flags.bits())));
        }

        let strict_cmds = strict_on(Strict::COMMANDS);
        let auto_flag = strict_on(Strict::AUTO_FLAG);
        let payload_len = CmdFlag::PAYLOAD_LEN.bits() as u16;
        let mut payload = None;
        let mut filter_ids = None;
        match kind {
            CommandKind::Read { .. } => {
                if strict_cmds && has(CmdFlag::DF) {
                    supports(info.can_df(), "the DF flag")?;
                }
            }
            CommandKind::Write { buf, .. } => {
                if strict_cmds {
                    check_writable(info, has(CmdFlag::FUA))?;
                }
                // With extended headers a write must say that a payload
                // follows; without them it must not.
                if auto_flag {
                    if ext {
                        wire_flags |= payload_len;
                    } else {
                        wire_flags &= !payload_len;
                    }
                } else if strict_cmds && (wire_flags & payload_len != 0) != ext {
                    return Err(einval(if ext {
                        "extended headers require the PAYLOAD_LEN flag on writes"
                    } else {
                        "the PAYLOAD_LEN flag needs extended headers"
                    }));
                }
                payload = Some(Payload::Buffer(AioBuffer::clone(buf)));
            }
            CommandKind::Flush => {
                if strict_cmds {
                    supports(info.can_flush(), "flush operations")?;
                }
            }
            CommandKind::Trim { .. } => {
                if strict_cmds {
                    supports(info.can_trim(), "trim operations")?;
                    check_writable(info, has(CmdFlag::FUA))?;
                }
            }
            CommandKind::Cache { .. } => {
                if strict_cmds {
                    supports(info.can_cache(), "cache operations")?;
                }
            }
            CommandKind::Zero { .. } => {
                if strict_cmds {
                    supports(info.can_zero(), "zero operations")?;
                    check_writable(info, has(CmdFlag::FUA))?;
                    if has(CmdFlag::FAST_ZERO) {
                        supports(info.can_fast_zero(), "the fast zero flag")?;
                    }
                }
            }
            CommandKind::BlockStatus { filter, .. } => {
                if strict_cmds {
                    if !info.structured_replies {
                        return Err(Error::new(
                            libc::ENOTSUP,
                            "server does not support structured replies",
                        ));
                    }
                    if !info.meta_valid || info.meta_contexts.is_empty() {
                        return Err(Error::new(
                            libc::ENOTSUP,
                            "did not negotiate any metadata contexts, either you did not call \
                             nbd_add_meta_context before connecting or the server does not support it",
                        ));
                    }
                }
                if let Some(names) = filter {
                    if !ext {
                        return Err(Error::new(
                            libc::ENOTSUP,
                            "server did not negotiate extended headers",
                        ));
                    }
                    if strict_cmds && !info.can_block_status_payload() {
                        return Err(Error::new(
                            libc::ENOTSUP,
                            "server does not support filtering block status",
                        ));
                    }
                    if names.is_empty() {
                        return Err(einval("the block status filter names no meta context"));
                    }
                    let mut p = Vec::with_capacity(8 + 4 * names.len());
                    let mut ids = Vec::with_capacity(names.len());
                    p.put64(count);
                    for name in names {
                        match info.meta_context_id(name) {
                            Some(id) if info.meta_valid => {
                                p.put32(id);
                                ids.push(id);
                            }
                            _ => {
                                return Err(einval(format!(
                                    "meta context {name} was not negotiated"
                                )))
                            }
                        }
                    }
                    if auto_flag {
                        wire_flags |= payload_len;
                    } else if strict_cmds && wire_flags & payload_len == 0 {
                        return Err(einval("filtering block status needs the PAYLOAD_LEN flag"));
                    }
                    payload = Some(Payload::Owned(p));
                    filter_ids = Some(ids);
                }
            }
        }

        if bounds_errno != 0 {
            if strict_on(Strict::ZERO_SIZE) && count == 0 {
                return Err(einval("count cannot be 0"));
            }
            if strict_on(Strict::BOUNDS) && (offset > info.size || count > info.size - offset) {
                return Err(Error::new(bounds_errno, "request out of bounds"));
            }
            let min = info.block_minimum as u64;
            if min > 1 && strict_on(Strict::ALIGN) && (offset | count) & (min - 1) != 0 {
                return Err(einval("request is unaligned"));
            }
        }
        match typ {
            wire::CMD_READ | wire::CMD_WRITE => {
                if typ == wire::CMD_WRITE
                    && strict_on(Strict::PAYLOAD)
                    && count > info.payload_maximum()
                {
                    return Err(Error::new(
                        libc::ERANGE,
                        format!(
                            "request too large: maximum payload size is {}",
                            info.payload_maximum()
                        ),
                    ));
                }
                if count > MAX_REQUEST_SIZE {
                    return Err(Error::new(
                        libc::ERANGE,
                        format!("request too large: maximum request size is {MAX_REQUEST_SIZE}"),
                    ));
                }
            }
            _ => {
                if !ext && count > u32::MAX as u64 {
                    return Err(Error::new(
                        libc::ERANGE,
                        format!("request too large: maximum request size is {}", u32::MAX),
                    ));
                }
            }
        }
        Ok(Checked {
            typ,
            flags: wire_flags,
            offset,
            count,
            payload,
            filter_ids,
        })
    }
}

/// The fields of a request header besides magic and cookie.
struct HeaderFields {
    flags: u16,
    typ: u16,
    offset: u64,
    /// Effect length, or payload length when PAYLOAD_LEN is set.
    length: u64,
}

impl Checked {
    fn header_fields(&self) -> HeaderFields {
        let length = match &self.payload {
            Some(Payload::Owned(p)) if self.typ == wire::CMD_BLOCK_STATUS => p.len() as u64,
            _ => self.count,
        };
        HeaderFields {
            flags: self.flags,
            typ: self.typ,
            offset: self.offset,
            length,
        }
    }
}

/// What every command that changes data needs from the export, checked in
/// libnbd's order: a writable export (EPERM), then FUA if asked for.
fn check_writable(info: &Negotiated, fua: bool) -> Result<(), Error> {
    if info.is_read_only() {
        return Err(Error::new(
            libc::EPERM,
            "server does not support write operations",
        ));
    }
    if fua {
        supports(info.can_fua(), "the FUA flag")?;
    }
    Ok(())
}

//! Option haggling (fixed newstyle): sending one option, reading its
//! replies, and what each answer means, for options started by automatic
//! negotiation and by the caller in opt mode alike.

use super::errors::protocol_error;
use super::machine::{Context, Machine};
use super::outqueue::Tag;
use super::state::{AbortCause, AutoStep, OptInProgress, OptKind, Purpose, State, Transmission};
use super::types::{MetaContext, OptOutcome, OptRequest};
use super::wire::{self, PutBe};
use crate::generated::types::CompletionCallback;
use crate::Error;

/// The largest option reply payload kept in memory: an NBD_REP_SERVER
/// with a maximal name and description and some slack. Larger replies of
/// a kind that may be ignored are skipped; others are errors.
const MAX_OPT_PAYLOAD: usize = 4 + 2 * wire::MAX_STRING + 64;

/// The most replies one option may get (NBD_REP_SERVER, meta context or
/// info replies before the final one). A server that sends more is
/// flooding the client: the connection fails with EPROTO.
pub const MAX_OPT_REPLIES: u32 = 65_536;

/// The most reply bytes (headers and payloads, skipped ones included) one
/// option may get before the connection fails with EPROTO.
pub const MAX_OPT_REPLY_BYTES: u64 = 64 << 20;

/// The errno and message for an error reply to an option. Any refusal of
/// NBD_OPT_LIST is ENOTSUP, whatever the server's reason (libnbd's
/// answer: the list is simply not available, as with nbdkit's refusal of
/// a second list on one connection).
fn option_errno(code: u32, reply: u32, export: &str) -> (i32, String) {
    let (errno, msg) = option_errno_by_reply(code, reply, export);
    match code {
        wire::OPT_LIST => (libc::ENOTSUP, msg),
        _ => (errno, msg),
    }
}

fn option_errno_by_reply(code: u32, reply: u32, export: &str) -> (i32, String) {
    let opt = wire::opt_name(code);
    match reply {
        wire::REP_ERR_UNSUP => (libc::ENOTSUP, format!("server does not support {opt}")),
        wire::REP_ERR_POLICY | wire::REP_ERR_PLATFORM => {
            (libc::ENOTSUP, format!("server policy prevents {opt}"))
        }
        wire::REP_ERR_INVALID | wire::REP_ERR_TOO_BIG => {
            (libc::EINVAL, format!("server rejected {opt} as invalid"))
        }
        wire::REP_ERR_TLS_REQD => (libc::ENOTSUP, "server requires TLS encryption first".into()),
        wire::REP_ERR_UNKNOWN => (
            libc::ENOENT,
            format!("server has no export named '{export}'"),
        ),
        wire::REP_ERR_SHUTDOWN => (libc::ESHUTDOWN, "server is shutting down".into()),
        wire::REP_ERR_BLOCK_SIZE_REQD => {
            (libc::EINVAL, "server requires specific block sizes".into())
        }
        wire::REP_ERR_EXT_HEADER_REQD => (
            libc::ENOTSUP,
            format!("server requires extended headers for {opt}"),
        ),
        _ => (
            libc::ENOTSUP,
            format!("unknown error reply 0x{reply:x} to {opt}"),
        ),
    }
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl Machine {
    // ---- starting options ----

    /// An option from the caller (opt mode).
    pub(super) fn begin_user_option(
        &mut self,
        opt: OptRequest,
        completion: Option<CompletionCallback>,
    ) -> Result<(), Error> {
        // The result of an earlier option nobody collected (an aio_opt_*
        // whose completion callback was enough) must not pass for this
        // one's.
        if matches!(self.state, State::Negotiating) {
            self.cx.opt_result = None;
        }
        if !matches!(self.state, State::Negotiating) {
            let errno = if self.state.is_over() {
                libc::ENOTCONN
            } else {
                libc::EINVAL
            };
            // The request's own callbacks are mid-option callbacks.
            drop(opt);
            drop(completion);
            return Err(Error::new(errno, "the connection is not negotiating"));
        }
        if self.cx.gflags & wire::FLAG_FIXED_NEWSTYLE == 0 {
            return self.plain_newstyle_option(opt, completion);
        }
        let user = |kind| OptInProgress::new(kind, Purpose::User, completion);
        // On failure nothing was sent and the option never started (its
        // callbacks went with it): the state is still Negotiating.
        match opt {
            OptRequest::Go => self.start_go(user(OptKind::go(false))),
            OptRequest::Info => self.start_go(user(OptKind::go(true))),
            OptRequest::List(cb) => self.send_option(
                &[],
                user(OptKind::List {
                    callback: Some(cb),
                    count: 0,
                }),
            ),
            OptRequest::Abort => {
                self.cx.queue_option(wire::OPT_ABORT, &[], Tag::OptAbort);
                self.state = State::SendAbort(AbortCause::User(user(OptKind::Abort)));
                Ok(())
            }
            // Sent even when TLS is already up: the server refuses it
            // (NBD_REP_ERR_INVALID) and the session stays encrypted.
            OptRequest::StartTls => self.send_option(&[], user(OptKind::StartTls)),
            OptRequest::StructuredReply => self.send_option(&[], user(OptKind::StructuredReply)),
            OptRequest::ExtendedHeaders => self.send_option(&[], user(OptKind::ExtendedHeaders)),
            OptRequest::ListMetaContext { queries, callback } => {
                let kind = OptKind::ListMeta {
                    callback: Some(callback),
                    count: 0,
                };
                self.start_meta(queries, user(kind))
            }
            OptRequest::SetMetaContext { queries, callback } => {
                let kind = OptKind::set_meta(None, Some(callback));
                self.start_meta(queries, user(kind))
            }
        }
    }

    /// Opt mode with a server that is not fixed newstyle: it understands
    /// NBD_OPT_EXPORT_NAME only, which stands in for opt_go (a wrong
    /// export name makes the server hang up). There is no option reply to
    /// ask it for anything else, and no NBD_OPT_ABORT it would
    /// acknowledge: opt_abort just ends the connection.
    fn plain_newstyle_option(
        &mut self,
        opt: OptRequest,
        completion: Option<CompletionCallback>,
    ) -> Result<(), Error> {
        let user = |kind| OptInProgress::new(kind, Purpose::User, completion);
        match opt {
            OptRequest::Go => self.send_export_name(Some(user(OptKind::ExportName))),
            OptRequest::Abort => {
                let ctx = user(OptKind::Abort);
                self.finish_option_with(ctx, Ok(OptOutcome::Done), 0);
                self.cx.debug_msg(|| {
                    "server is not fixed newstyle: no NBD_OPT_ABORT to send, closing".to_string()
                });
                self.die(Error::new(
                    libc::ENOTCONN,
                    "negotiation was aborted (the server is not fixed newstyle, so the \
                     connection was simply closed)",
                ));
                Ok(())
            }
            other => {
                // Mid-option callbacks first, then the completion one.
                drop(other);
                drop(user);
                Err(Error::new(
                    libc::ENOTSUP,
                    "server is not using the fixed newstyle protocol, so it supports no options \
                     besides selecting the export (nbd_opt_go) or nbd_opt_abort",
                ))
            }
        }
    }

    /// The caller's NBD_OPT_LIST/SET_META_CONTEXT (`ctx`), with `queries`
    /// or the configured contexts.
    fn start_meta(
        &mut self,
        queries: Option<Vec<String>>,
        ctx: OptInProgress,
    ) -> Result<(), Error> {
        if !self.cx.info.structured_replies {
            ctx.drop_callbacks();
            return Err(Error::new(libc::ENOTSUP, "server lacks structured replies"));
        }
        let queries = queries.unwrap_or_else(|| self.cx.config.meta_contexts.clone());
        self.send_meta(&queries, ctx)
    }

    /// An option without data (STARTTLS, structured replies, extended
    /// headers) during automatic negotiation.
    pub(super) fn send_auto_option(&mut self, kind: OptKind) -> Result<(), Error> {
        self.send_option(&[], OptInProgress::new(kind, Purpose::Auto, None))
    }

    /// NBD_OPT_GO or NBD_OPT_INFO (`ctx`), preceded by
    /// NBD_OPT_SET_META_CONTEXT when meta contexts are wanted and not yet
    /// negotiated for this export.
    pub(super) fn start_go(&mut self, mut ctx: OptInProgress) -> Result<(), Error> {
        let export = &self.cx.config.export_name;
        let meta_current = self.cx.info.meta_valid && self.cx.meta_export.as_ref() == Some(export);
        if self.cx.config.request_meta_context
            && self.cx.info.structured_replies
            && !self.cx.config.meta_contexts.is_empty()
            && !meta_current
        {
            ctx.kind = OptKind::set_meta(Some(ctx.kind.code()), None);
            let queries = self.cx.config.meta_contexts.clone();
            return self.send_meta(&queries, ctx);
        }
        self.send_go_info(ctx)
    }

    /// Send NBD_OPT_GO or NBD_OPT_INFO for `ctx`.
    fn send_go_info(&mut self, mut ctx: OptInProgress) -> Result<(), Error> {
        let name = self.cx.config.export_name.clone();
        if name.len() > wire::MAX_STRING {
            ctx.drop_callbacks();
            return Err(Error::new(
                libc::EINVAL,
                "export name is longer than 4096 bytes",
            ));
        }
        let mut infos: Vec<u16> = Vec::with_capacity(3);
        if self.cx.config.request_block_size {
            infos.push(wire::INFO_BLOCK_SIZE);
        }
        if self.cx.config.full_info {
            infos.push(wire::INFO_NAME);
            infos.push(wire::INFO_DESCRIPTION);
        }
        let mut data = Vec::with_capacity(4 + name.len() + 2 + 2 * infos.len());
        data.put32(name.len() as u32);
        data.extend_from_slice(name.as_bytes());
        data.put16(infos.len() as u16);
        for i in infos {
            data.put16(i);
        }
        self.reset_export_info();
        ctx.kind = OptKind::go(ctx.kind.code() == wire::OPT_INFO);
        self.send_option(&data, ctx)
    }

    /// Send the meta context option of `ctx` with `queries`.
    fn send_meta(&mut self, queries: &[String], mut ctx: OptInProgress) -> Result<(), Error> {
        let name = self.cx.config.export_name.clone();
        if name.len() > wire::MAX_STRING || queries.iter().any(|q| q.len() > wire::MAX_STRING) {
            ctx.drop_callbacks();
            return Err(Error::new(
                libc::EINVAL,
                "export name or meta context query is too long",
            ));
        }
        let mut data =
            Vec::with_capacity(8 + name.len() + queries.iter().map(|q| 4 + q.len()).sum::<usize>());
        data.put32(name.len() as u32);
        data.extend_from_slice(name.as_bytes());
        data.put32(queries.len() as u32);
        for q in queries {
            data.put32(q.len() as u32);
            data.extend_from_slice(q.as_bytes());
        }
        if let OptKind::SetMeta {
            export_name,
            queries: asked,
            ..
        } = &mut ctx.kind
        {
            // Setting replaces the previous selection, even on failure.
            self.cx.info.meta_valid = false;
            self.cx.info.meta_contexts.clear();
            self.cx.meta_export = None;
            *export_name = name;
            *asked = queries.to_vec();
        }
        self.send_option(&data, ctx)
    }

    /// Queue the option `ctx` with `data` and wait for its reply.
    fn send_option(&mut self, data: &[u8], mut ctx: OptInProgress) -> Result<(), Error> {
        let code = ctx.kind.code();
        ctx.replies = 0;
        ctx.reply_bytes = 0;
        self.cx.queue_option(code, data, Tag::Handshake);
        let what = wire::opt_name(code);
        self.cx.debug_msg(|| format!("sent option {what}"));
        self.state = State::RecvOptReply { opt: ctx, skip: 0 };
        Ok(())
    }

    // ---- finishing options ----

    /// Report a caller's option result; automatic options just end.
    pub(super) fn finish_option(&mut self, ctx: OptInProgress, result: Result<OptOutcome, Error>) {
        let cb_errno = match &result {
            Ok(_) => 0,
            Err(e) if e.errno() != 0 => e.errno(),
            Err(_) => libc::ENOTSUP,
        };
        self.finish_option_with(ctx, result, cb_errno);
    }

    pub(super) fn finish_option_with(
        &mut self,
        ctx: OptInProgress,
        result: Result<OptOutcome, Error>,
        cb_errno: i32,
    ) {
        if ctx.purpose != Purpose::User {
            ctx.drop_callbacks();
            return;
        }
        let OptInProgress {
            kind,
            mut completion,
            ..
        } = ctx;
        if let Some(cb) = completion.as_mut() {
            let mut err = cb_errno;
            cb(&mut err);
        }
        // The mid-option callbacks (in `kind`) are dropped first.
        drop(kind);
        drop(completion);
        self.cx.opt_result = Some(result);
    }

    /// Automatic negotiation cannot go on: end the session politely with
    /// NBD_OPT_ABORT, then die with `err`.
    fn fail_gracefully(&mut self, ctx: OptInProgress, err: Error) {
        self.cx
            .debug_msg(|| format!("{err}; sending NBD_OPT_ABORT"));
        ctx.drop_callbacks();
        self.cx.queue_option(wire::OPT_ABORT, &[], Tag::OptAbort);
        self.state = State::SendAbort(AbortCause::Failed(err));
    }

    /// NBD_OPT_ABORT has been sent: the session is over.
    pub(super) fn abort_sent(&mut self) {
        if let State::SendAbort(AbortCause::Failed(err)) = &self.state {
            // die() takes the failure the abort carried.
            let err = err.clone();
            self.die(err);
            return;
        }
        self.cx
            .debug_msg(|| "sent NBD_OPT_ABORT, closing".to_string());
        // The caller's opt_abort completes; nothing can be in flight
        // while negotiating.
        self.close();
    }

    /// An option was refused: the caller's option reports it and
    /// negotiation goes on; automatic negotiation ends the session.
    fn user_option_failed(&mut self, ctx: OptInProgress, err: Error) -> Result<(), Error> {
        if ctx.purpose == Purpose::User {
            self.state = State::Negotiating;
            self.finish_option(ctx, Err(err));
        } else {
            self.fail_gracefully(ctx, err);
        }
        Ok(())
    }

    /// Structured replies or extended headers answered.
    fn simple_option_done(&mut self, ctx: OptInProgress, accepted: bool) -> Result<(), Error> {
        if ctx.purpose == Purpose::User {
            self.state = State::Negotiating;
            self.finish_option(ctx, Ok(OptOutcome::Accepted(accepted)));
            return Ok(());
        }
        let step = if matches!(ctx.kind, OptKind::ExtendedHeaders) {
            AutoStep::AfterExtendedHeaders
        } else {
            AutoStep::AfterStructuredReply
        };
        ctx.drop_callbacks();
        self.auto_next(step)
    }

    /// The meta context prelude to GO/INFO is over, whatever its result.
    fn continue_after_meta(&mut self, mut ctx: OptInProgress) -> Result<(), Error> {
        let info = matches!(
            ctx.kind,
            OptKind::SetMeta {
                then: Some(wire::OPT_INFO),
                ..
            }
        );
        ctx.kind = OptKind::go(info);
        self.send_go_info(ctx)
    }

    /// The option whose replies are being read.
    fn opt_mut(&mut self) -> Option<&mut OptInProgress> {
        match &mut self.state {
            State::RecvOptReply { opt, .. } => Some(opt),
            _ => None,
        }
    }

    /// Take the option whose final reply arrived, by value, to decide the
    /// next state. Everything that can fail about the reply is checked
    /// before, while the state still holds the option, so that a
    /// connection dying on it still completes the caller's option.
    pub(super) fn take_option(&mut self) -> Result<OptInProgress, Error> {
        match self.take_state() {
            State::RecvOptReply { opt, .. } => Ok(opt),
            other => {
                self.state = other;
                Err(protocol_error("internal error: no option in progress"))
            }
        }
    }

    // ---- replies ----

    pub(super) fn recv_option_reply(&mut self) -> Result<bool, Error> {
        let State::RecvOptReply { opt, skip } = &mut self.state else {
            return Ok(false);
        };
        let inbuf = &mut self.cx.inbuf;
        if *skip > 0 {
            let n = (inbuf.len() as u64).min(*skip) as usize;
            if n == 0 {
                return Ok(false);
            }
            inbuf.consume(n);
            *skip -= n as u64;
            return Ok(true);
        }
        let n = self.cx.inbuf.len().min(8);
        if self.cx.inbuf.avail()[..n] != wire::REPLY_MAGIC_OPT.to_be_bytes()[..n] {
            return Err(protocol_error("handshake: invalid option reply magic"));
        }
        if !self.cx.have(20) {
            return Ok(false);
        }
        let b = self.cx.inbuf.avail();
        let (magic, option, reply, len) = (
            wire::be64(b, 0),
            wire::be32(b, 8),
            wire::be32(b, 12),
            wire::be32(b, 16) as usize,
        );
        let code = opt.kind.code();
        if magic != wire::REPLY_MAGIC_OPT {
            return Err(protocol_error("handshake: invalid option reply magic"));
        }
        if option != code {
            return Err(protocol_error(format!(
                "handshake: reply to option {option} while waiting for {}",
                wire::opt_name(code)
            )));
        }
        opt.replies += 1;
        opt.reply_bytes += 20 + len as u64;
        if opt.replies > MAX_OPT_REPLIES || opt.reply_bytes > MAX_OPT_REPLY_BYTES {
            return Err(protocol_error(format!(
                "handshake: server sent more than {MAX_OPT_REPLIES} replies or \
                 {MAX_OPT_REPLY_BYTES} bytes to {}, giving up",
                wire::opt_name(code)
            )));
        }
        if len > MAX_OPT_PAYLOAD {
            if matches!(
                reply,
                wire::REP_SERVER | wire::REP_META_CONTEXT | wire::REP_INFO
            ) {
                self.cx.inbuf.consume(20);
                self.cx.stats.chunks_received += 1;
                *skip = len as u64;
                self.cx
                    .debug_msg(|| format!("skipping an option reply of {len} bytes"));
                return Ok(true);
            }
            return Err(protocol_error(format!(
                "handshake: option reply of {len} bytes is too long"
            )));
        }
        if !self.cx.have(20 + len) {
            return Ok(false);
        }
        let payload = self.cx.inbuf.avail()[20..20 + len].to_vec();
        self.cx.inbuf.consume(20 + len);
        self.cx.stats.chunks_received += 1;
        self.handle_opt_reply(code, reply, &payload)?;
        Ok(true)
    }

    fn handle_opt_reply(&mut self, code: u32, reply: u32, payload: &[u8]) -> Result<(), Error> {
        if reply & wire::REP_FLAG_ERROR != 0 {
            if payload.len() > wire::MAX_STRING {
                return Err(protocol_error(
                    "handshake: option error message is too long",
                ));
            }
            let ctx = self.take_option()?;
            return self.opt_error(ctx, reply, payload);
        }
        match (reply, code) {
            (wire::REP_ACK, _) => {
                if !payload.is_empty() {
                    return Err(protocol_error("handshake: NBD_REP_ACK with a payload"));
                }
                self.opt_ack(code)
            }
            (wire::REP_SERVER, wire::OPT_LIST) => self.opt_server(payload),
            (wire::REP_INFO, wire::OPT_GO | wire::OPT_INFO) => self.opt_info(payload),
            (wire::REP_META_CONTEXT, wire::OPT_LIST_META_CONTEXT | wire::OPT_SET_META_CONTEXT) => {
                self.opt_meta_context(code, payload)
            }
            _ => Err(protocol_error(format!(
                "handshake: unexpected reply type {reply} to {}",
                wire::opt_name(code)
            ))),
        }
    }

    /// An error reply ends the option `ctx`.
    fn opt_error(&mut self, ctx: OptInProgress, reply: u32, payload: &[u8]) -> Result<(), Error> {
        let code = ctx.kind.code();
        if !payload.is_empty() {
            let msg = lossy(payload).into_owned();
            self.cx.debug_msg(|| format!("server error message: {msg}"));
        }
        let (errno, msg) = option_errno(code, reply, &self.cx.config.export_name);
        let is_prelude = matches!(ctx.kind, OptKind::SetMeta { then: Some(_), .. });
        match code {
            wire::OPT_STARTTLS => self.starttls_refused(ctx, reply, &msg),
            wire::OPT_STRUCTURED_REPLY | wire::OPT_EXTENDED_HEADERS => {
                self.cx.debug_msg(|| msg.clone());
                self.simple_option_done(ctx, false)
            }
            wire::OPT_SET_META_CONTEXT if is_prelude => {
                self.cx.debug_msg(|| format!("ignoring: {msg}"));
                self.continue_after_meta(ctx)
            }
            wire::OPT_GO if reply == wire::REP_ERR_UNSUP && !self.cx.info.extended_headers => {
                self.cx.debug_msg(|| {
                    "server does not know NBD_OPT_GO; using NBD_OPT_EXPORT_NAME".into()
                });
                let mut ctx = ctx;
                ctx.kind = OptKind::ExportName;
                self.send_export_name(Some(ctx).filter(|o| o.purpose == Purpose::User))
            }
            wire::OPT_GO | wire::OPT_INFO => {
                self.reset_export_info();
                self.cx.info.meta_valid = false;
                self.user_option_failed(ctx, Error::new(errno, format!("handshake: {msg}")))
            }
            _ => self.user_option_failed(ctx, Error::new(errno, format!("handshake: {msg}"))),
        }
    }

    /// NBD_REP_ACK ends the option in progress (`code`). What can be
    /// wrong with it is checked before the option is taken.
    fn opt_ack(&mut self, code: u32) -> Result<(), Error> {
        match self.opt_mut().map(|o| &o.kind) {
            Some(OptKind::StartTls) => return self.starttls_accepted(),
            Some(OptKind::Go {
                export_seen: false, ..
            }) => {
                return Err(protocol_error(format!(
                    "handshake: server omitted NBD_INFO_EXPORT in its reply to {}",
                    wire::opt_name(code)
                )))
            }
            Some(OptKind::ExportName | OptKind::Abort) | None => {
                return Err(protocol_error("handshake: unexpected NBD_REP_ACK"))
            }
            Some(_) => {}
        }
        let mut ctx = self.take_option()?;
        match &mut ctx.kind {
            OptKind::StructuredReply => {
                self.cx.info.structured_replies = true;
                self.cx.debug_msg(|| "negotiated structured replies".into());
                self.simple_option_done(ctx, true)
            }
            OptKind::ExtendedHeaders => {
                self.cx.info.extended_headers = true;
                self.cx.info.structured_replies = true;
                self.cx.debug_msg(|| "negotiated extended headers".into());
                self.simple_option_done(ctx, true)
            }
            OptKind::List { count, .. } | OptKind::ListMeta { count, .. } => {
                let count = *count;
                self.state = State::Negotiating;
                self.finish_option(ctx, Ok(OptOutcome::Count(count)));
                Ok(())
            }
            OptKind::SetMeta {
                count,
                export_name,
                then,
                ..
            } => {
                let (count, prelude) = (*count, then.is_some());
                self.cx.info.meta_valid = true;
                self.cx.meta_export = Some(std::mem::take(export_name));
                if prelude {
                    return self.continue_after_meta(ctx);
                }
                self.state = State::Negotiating;
                self.finish_option(ctx, Ok(OptOutcome::Count(count)));
                Ok(())
            }
            OptKind::Go { info, .. } => {
                if *info {
                    self.state = State::Negotiating;
                } else {
                    self.cx
                        .debug_msg(|| "export selected, entering transmission".into());
                    self.state = State::Ready(Transmission::new());
                }
                self.finish_option(ctx, Ok(OptOutcome::Done));
                Ok(())
            }
            // Checked above.
            OptKind::StartTls | OptKind::ExportName | OptKind::Abort => {
                Err(protocol_error("handshake: unexpected NBD_REP_ACK"))
            }
        }
    }

    fn opt_server(&mut self, payload: &[u8]) -> Result<(), Error> {
        if payload.len() < 4 {
            return Err(protocol_error(
                "handshake: NBD_REP_SERVER reply is too short",
            ));
        }
        let namelen = wire::be32(payload, 0) as usize;
        if namelen > payload.len() - 4 {
            return Err(protocol_error(
                "handshake: invalid name length in NBD_REP_SERVER",
            ));
        }
        let (name, desc) = payload[4..].split_at(namelen);
        if name.len() > wire::MAX_STRING || desc.len() > wire::MAX_STRING {
            self.cx
                .debug_msg(|| "skipping an export whose name or description is too long".into());
            return Ok(());
        }
        if let Some(OptKind::List { callback, count }) = self.opt_mut().map(|o| &mut o.kind) {
            *count = count.saturating_add(1);
            if let Some(cb) = callback.as_mut() {
                cb(&lossy(name), &lossy(desc));
            }
        }
        Ok(())
    }

    fn opt_info(&mut self, payload: &[u8]) -> Result<(), Error> {
        if payload.len() < 2 {
            return Err(protocol_error("handshake: NBD_REP_INFO reply is too short"));
        }
        let kind = wire::be16(payload, 0);
        let body = &payload[2..];
        match kind {
            wire::INFO_EXPORT => {
                if body.len() != 10 {
                    return Err(protocol_error("handshake: invalid NBD_INFO_EXPORT length"));
                }
                let (size, eflags) = (wire::be64(body, 0), wire::be16(body, 8));
                self.set_size_and_flags(size, eflags)?;
                self.cx
                    .debug_msg(|| format!("export size={size} eflags=0x{eflags:x}"));
                if let Some(OptKind::Go { export_seen, .. }) = self.opt_mut().map(|o| &mut o.kind) {
                    *export_seen = true;
                }
            }
            wire::INFO_NAME | wire::INFO_DESCRIPTION => {
                if body.len() > wire::MAX_STRING {
                    self.cx
                        .debug_msg(|| "skipping a too long export name or description".into());
                } else if kind == wire::INFO_NAME {
                    self.cx.info.canonical_name = Some(lossy(body).into_owned());
                } else {
                    self.cx.info.description = Some(lossy(body).into_owned());
                }
            }
            wire::INFO_BLOCK_SIZE => {
                if body.len() != 12 {
                    return Err(protocol_error(
                        "handshake: invalid NBD_INFO_BLOCK_SIZE length",
                    ));
                }
                let (min, pref, max) = (
                    wire::be32(body, 0),
                    wire::be32(body, 4),
                    wire::be32(body, 8),
                );
                if block_sizes_valid(min, pref, max) {
                    self.cx.info.block_minimum = min;
                    self.cx.info.block_preferred = pref;
                    self.cx.info.block_maximum = max;
                    self.cx
                        .debug_msg(|| format!("block sizes: min={min} pref={pref} max={max}"));
                } else {
                    self.cx
                        .debug_msg(|| format!("ignoring invalid block sizes {min}/{pref}/{max}"));
                }
            }
            _ => self
                .cx
                .debug_msg(|| format!("ignoring unknown NBD_INFO type {kind}")),
        }
        Ok(())
    }

    fn opt_meta_context(&mut self, code: u32, payload: &[u8]) -> Result<(), Error> {
        if payload.len() < 5 {
            return Err(protocol_error(
                "handshake: NBD_REP_META_CONTEXT reply is too short",
            ));
        }
        let id = wire::be32(payload, 0);
        let name = &payload[4..];
        if name.len() > wire::MAX_STRING {
            self.cx
                .debug_msg(|| "skipping a too long meta context name".into());
            return Ok(());
        }
        let name = lossy(name).into_owned();
        if code == wire::OPT_SET_META_CONTEXT {
            // Accept only a context the client asked for, once: named
            // exactly by a query, or inside a namespace query ending in
            // ':' (query syntax is the server's, and such wildcards exist).
            let asked = match self.opt_mut().map(|o| &o.kind) {
                Some(OptKind::SetMeta { queries, .. }) => queries
                    .iter()
                    .any(|q| *q == name || (q.ends_with(':') && name.starts_with(q.as_str()))),
                _ => false,
            };
            let repeated = self
                .cx
                .info
                .meta_contexts
                .iter()
                .any(|m| m.name == name || m.id == id);
            if !asked || repeated {
                self.cx.debug_msg(|| {
                    format!(
                        "ignoring meta context {name} (ID {id}): {}",
                        if asked {
                            "already negotiated"
                        } else {
                            "not requested"
                        }
                    )
                });
                return Ok(());
            }
            self.cx
                .debug_msg(|| format!("negotiated {name} with context ID {id}"));
            self.cx.info.meta_contexts.push(MetaContext {
                name: name.clone(),
                id,
            });
        }
        if let Some(
            OptKind::ListMeta { callback, count }
            | OptKind::SetMeta {
                callback, count, ..
            },
        ) = self.opt_mut().map(|o| &mut o.kind)
        {
            *count = count.saturating_add(1);
            if let Some(cb) = callback.as_mut() {
                cb(&name);
            }
        }
        Ok(())
    }
}

impl Context {
    /// Encode an option message into the send queue.
    pub(super) fn queue_option(&mut self, code: u32, data: &[u8], tag: Tag) {
        let mut msg = Vec::with_capacity(16 + data.len());
        msg.put64(wire::IHAVEOPT);
        msg.put32(code);
        msg.put32(data.len() as u32);
        msg.extend_from_slice(data);
        self.out.push_owned(msg, tag);
    }
}

/// The NBD_INFO_BLOCK_SIZE rules of the protocol: minimum a power of two
/// up to 64 KiB, preferred a power of two at least max(minimum, 512),
/// maximum a multiple of the minimum (or 2^32-1) and not below it.
fn block_sizes_valid(min: u32, pref: u32, max: u32) -> bool {
    min.is_power_of_two()
        && min <= 65536
        && pref.is_power_of_two()
        && pref >= min.max(512)
        && max >= min
        && (max == u32::MAX || max & (min - 1) == 0)
}

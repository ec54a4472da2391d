//! The handshake up to option haggling: the greeting (oldstyle or
//! newstyle), the client flags, NBD_OPT_EXPORT_NAME, and the order in
//! which automatic negotiation asks for things.

use super::errors::protocol_error;
use super::machine::Machine;
use super::outqueue::Tag;
use super::state::{AutoStep, OptInProgress, OptKind, Purpose, State, Transmission};
use super::types::OptOutcome;
use super::wire::{self, PutBe};
use crate::generated::types::{HandshakeFlag, Tls};
use crate::Error;

/// Oldstyle greeting after the 16 magic bytes: size, flags, 124 zeroes.
const OLDSTYLE_REST: usize = 8 + 4 + 124;

impl Machine {
    pub(super) fn step_handshake(&mut self) -> Result<bool, Error> {
        match self.state {
            State::RecvMagic => self.recv_magic(),
            State::RecvOldstyle => self.recv_oldstyle(),
            State::RecvGflags => self.recv_gflags(),
            State::RecvOptReply { .. } => self.recv_option_reply(),
            State::RecvExportName { .. } => self.recv_export_name(),
            _ => Ok(false),
        }
    }

    fn recv_magic(&mut self) -> Result<bool, Error> {
        // Judge the first bytes as soon as they arrive: a server that is
        // not an NBD server may never send sixteen.
        let n = self.cx.inbuf.len().min(8);
        if self.cx.inbuf.avail()[..n] != wire::NBDMAGIC.to_be_bytes()[..n] {
            return Err(protocol_error(
                "handshake: server did not send the NBD magic (not an NBD server?)",
            ));
        }
        if !self.cx.have(16) {
            return Ok(false);
        }
        let version = wire::be64(self.cx.inbuf.avail(), 8);
        self.cx.inbuf.consume(16);
        self.state = match version {
            wire::IHAVEOPT => State::RecvGflags,
            wire::OLDSTYLE_MAGIC => State::RecvOldstyle,
            _ => {
                return Err(protocol_error(format!(
                    "handshake: unknown protocol version magic 0x{version:x}"
                )))
            }
        };
        Ok(true)
    }

    fn recv_oldstyle(&mut self) -> Result<bool, Error> {
        if !self.cx.have(OLDSTYLE_REST) {
            return Ok(false);
        }
        let b = self.cx.inbuf.avail();
        let (size, gflags, eflags) = (wire::be64(b, 0), wire::be16(b, 8), wire::be16(b, 10));
        self.cx.inbuf.consume(OLDSTYLE_REST);
        self.cx.stats.chunks_received += 1;
        self.cx.info.protocol = Some("oldstyle");
        if self.cx.config.tls.0 == Tls::REQUIRE.0 {
            return Err(Error::new(
                libc::ENOTSUP,
                "handshake: server is oldstyle, which cannot do TLS, but TLS is required",
            ));
        }
        if self.cx.config.tls.0 == Tls::ALLOW.0 {
            self.cx
                .debug_msg(|| "oldstyle server cannot do TLS; continuing without it".to_string());
        }
        if gflags != 0 {
            return Err(protocol_error(
                "handshake: oldstyle server set handshake flags",
            ));
        }
        self.set_size_and_flags(size, eflags)?;
        self.cx
            .debug_msg(|| format!("oldstyle handshake: size={size} eflags=0x{eflags:x}"));
        self.state = State::Ready(Transmission::new());
        Ok(true)
    }

    fn recv_gflags(&mut self) -> Result<bool, Error> {
        if !self.cx.have(2) {
            return Ok(false);
        }
        let server = wire::be16(self.cx.inbuf.avail(), 0);
        self.cx.inbuf.consume(2);
        self.cx.stats.chunks_received += 1;
        let wanted = (self.cx.config.handshake_flags.bits() & HandshakeFlag::MASK.bits()) as u16;
        self.cx.gflags = server & wanted;
        let fixed = self.cx.gflags & wire::FLAG_FIXED_NEWSTYLE != 0;
        self.cx.info.protocol = Some(if fixed { "newstyle-fixed" } else { "newstyle" });
        let sent = self.cx.gflags;
        self.cx.debug_msg(|| {
            format!("newstyle handshake: server flags=0x{server:x}, client flags sent=0x{sent:x}")
        });

        let mut cflags = Vec::with_capacity(4);
        cflags.put32(self.cx.gflags as u32);
        self.cx.out.push_owned(cflags, Tag::Handshake);

        if !fixed && self.cx.config.tls.0 == Tls::REQUIRE.0 {
            // NBD_OPT_STARTTLS needs fixed newstyle; with nothing else
            // allowed in plaintext, there is nothing polite left to say.
            return Err(Error::new(
                libc::ENOTSUP,
                "handshake: server is not using fixed newstyle, so it cannot do TLS, but TLS is required",
            ));
        }
        if fixed {
            self.auto_next(AutoStep::Start)?;
        } else {
            // Plain newstyle knows one option only (NBD_OPT_EXPORT_NAME).
            if self.cx.config.tls.0 == Tls::ALLOW.0 {
                self.cx.debug_msg(|| {
                    "server is not using fixed newstyle, so it cannot do TLS; continuing without it"
                        .to_string()
                });
            }
            if self.cx.config.opt_mode {
                // The caller still decides: opt_go sends the export name,
                // opt_abort ends it; other options are ENOTSUP.
                self.state = State::Negotiating;
            } else {
                self.send_export_name(None)?;
            }
        }
        Ok(true)
    }

    /// Automatic negotiation: ask for whatever the configuration wants
    /// next, then stop in opt mode or go on to select the export.
    pub(super) fn auto_next(&mut self, from: AutoStep) -> Result<(), Error> {
        if from == AutoStep::Start && self.cx.config.tls.0 != Tls::DISABLE.0 {
            // STARTTLS goes first, so that no other option (export
            // names above all) is ever sent in plaintext.
            return self.send_auto_option(OptKind::StartTls);
        }
        if matches!(from, AutoStep::Start | AutoStep::AfterStartTls)
            && self.cx.config.request_extended_headers
        {
            return self.send_auto_option(OptKind::ExtendedHeaders);
        }
        if from != AutoStep::AfterStructuredReply
            && self.cx.config.request_structured_replies
            && !self.cx.info.extended_headers
        {
            return self.send_auto_option(OptKind::StructuredReply);
        }
        if self.cx.config.opt_mode {
            self.state = State::Negotiating;
            return Ok(());
        }
        self.start_go(OptInProgress::new(OptKind::go(false), Purpose::Auto, None))
    }

    /// Send NBD_OPT_EXPORT_NAME (no fixed newstyle, or a server that does
    /// not know NBD_OPT_GO). `user` is the opt-mode opt_go it stands in for.
    pub(super) fn send_export_name(&mut self, user: Option<OptInProgress>) -> Result<(), Error> {
        let name = self.cx.config.export_name.clone();
        if name.len() > wire::MAX_STRING {
            if let Some(ctx) = user {
                ctx.drop_callbacks();
            }
            return Err(Error::new(
                libc::EINVAL,
                "export name is longer than 4096 bytes",
            ));
        }
        self.cx
            .queue_option(wire::OPT_EXPORT_NAME, name.as_bytes(), Tag::Handshake);
        self.state = State::RecvExportName { user };
        Ok(())
    }

    fn recv_export_name(&mut self) -> Result<bool, Error> {
        let no_zeroes = self.cx.gflags & wire::FLAG_NO_ZEROES != 0;
        let len = if no_zeroes { 10 } else { 10 + 124 };
        if !self.cx.have(len) {
            return Ok(false);
        }
        let b = self.cx.inbuf.avail();
        let (size, eflags) = (wire::be64(b, 0), wire::be16(b, 8));
        self.cx.inbuf.consume(len);
        self.cx.stats.chunks_received += 1;
        self.set_size_and_flags(size, eflags)?;
        self.cx
            .debug_msg(|| format!("export name accepted: size={size} eflags=0x{eflags:x}"));
        let waited = std::mem::replace(&mut self.state, State::Ready(Transmission::new()));
        if let State::RecvExportName { user: Some(ctx) } = waited {
            self.finish_option(ctx, Ok(OptOutcome::Done));
        }
        Ok(true)
    }

    /// Record an export's size and transmission flags, dropping flags
    /// that contradict what was negotiated (as libnbd does).
    pub(super) fn set_size_and_flags(&mut self, size: u64, mut eflags: u16) -> Result<(), Error> {
        if eflags & wire::FLAG_HAS_FLAGS == 0 {
            return Err(Error::new(
                libc::EINVAL,
                "handshake: server did not set NBD_FLAG_HAS_FLAGS",
            ));
        }
        if size > i64::MAX as u64 {
            return Err(Error::new(
                libc::EOVERFLOW,
                "handshake: export size is too large",
            ));
        }
        if eflags & wire::FLAG_SEND_DF != 0 && !self.cx.info.structured_replies {
            self.cx.debug_msg(|| {
                "server lacks structured replies, ignoring its claim of DF".to_string()
            });
            eflags &= !wire::FLAG_SEND_DF;
        }
        if eflags & wire::FLAG_SEND_FAST_ZERO != 0 && eflags & wire::FLAG_SEND_WRITE_ZEROES == 0 {
            self.cx.debug_msg(|| {
                "server lacks write zeroes, ignoring its claim of fast zero".to_string()
            });
            eflags &= !wire::FLAG_SEND_FAST_ZERO;
        }
        if eflags & wire::FLAG_BLOCK_STATUS_PAYLOAD != 0 && !self.cx.info.extended_headers {
            self.cx.debug_msg(|| {
                "server lacks extended headers, ignoring block status payload".to_string()
            });
            eflags &= !wire::FLAG_BLOCK_STATUS_PAYLOAD;
        }
        self.cx.info.size = size;
        self.cx.info.eflags = eflags;
        self.cx.info.export_valid = true;
        Ok(())
    }

    /// Forget the export's details (a failed NBD_OPT_GO/INFO).
    pub(super) fn reset_export_info(&mut self) {
        self.cx.info.export_valid = false;
        self.cx.info.size = 0;
        self.cx.info.eflags = 0;
        self.cx.info.block_minimum = 0;
        self.cx.info.block_preferred = 0;
        self.cx.info.block_maximum = 0;
        self.cx.info.canonical_name = None;
        self.cx.info.description = None;
    }
}

//! NBD_OPT_STARTTLS: what the answer means, and what changes once TLS is
//! up. The TLS session itself is not here (the machine does no I/O and
//! no cryptography): on NBD_REP_ACK the machine stops in `TlsHandshake`
//! and the driver wraps the byte stream in TLS (`crate::tls`), then calls
//! `Machine::tls_established`.
//!
//! Downgrade rules: with `Tls::REQUIRE` a refusal ends the connection
//! with nothing more sent (not even NBD_OPT_ABORT: no option but STARTTLS
//! ever travels in plaintext), and bytes that arrive in plaintext after
//! the ACK are an attack, not data.

use super::errors::protocol_error;
use super::machine::Machine;
use super::state::{AutoStep, OptInProgress, Purpose, State};
use super::types::OptOutcome;
use super::wire;
use crate::generated::types::Tls;
use crate::Error;

impl Machine {
    /// NBD_REP_ACK to NBD_OPT_STARTTLS: checked while the option is still
    /// in the state, then the option waits in `TlsHandshake`.
    pub(super) fn starttls_accepted(&mut self) -> Result<(), Error> {
        if self.cx.info.tls {
            return Err(protocol_error(
                "handshake: server accepted NBD_OPT_STARTTLS although TLS is already in use",
            ));
        }
        let injected = self.cx.inbuf.len();
        if injected > 0 {
            // The server cannot speak before our ClientHello: whoever
            // sent these bytes wants them taken for protected data.
            return Err(protocol_error(format!(
                "handshake: {injected} bytes arrived in plaintext right after the server \
                 accepted NBD_OPT_STARTTLS (injected by a man in the middle?)"
            )));
        }
        // Anything learnt in plaintext could have been forged on the way:
        // forget it and ask again inside TLS.
        self.reset_export_info();
        self.cx.info.structured_replies = false;
        self.cx.info.extended_headers = false;
        self.cx.info.meta_valid = false;
        self.cx.info.meta_contexts.clear();
        self.cx.meta_export = None;
        let opt = self.take_option()?;
        self.state = State::TlsHandshake(opt);
        self.cx
            .debug_msg(|| "server accepted NBD_OPT_STARTTLS; starting the TLS handshake".into());
        Ok(())
    }

    /// An error reply to NBD_OPT_STARTTLS (`msg` says which).
    pub(super) fn starttls_refused(
        &mut self,
        ctx: OptInProgress,
        reply: u32,
        msg: &str,
    ) -> Result<(), Error> {
        if ctx.purpose == Purpose::User {
            // opt_starttls returns false; the completion callback hears
            // why (EINVAL: TLS was already on, or the request was bad).
            let errno = if reply == wire::REP_ERR_INVALID {
                libc::EINVAL
            } else {
                libc::ENOTSUP
            };
            self.cx
                .debug_msg(|| format!("{msg}; the connection is unchanged"));
            self.state = State::Negotiating;
            self.finish_option_with(ctx, Ok(OptOutcome::Accepted(false)), errno);
            return Ok(());
        }
        ctx.drop_callbacks();
        if self.cx.config.tls.0 == Tls::REQUIRE.0 {
            return Err(Error::new(
                libc::ENOTSUP,
                format!("handshake: server refused TLS ({msg}), but TLS is required"),
            ));
        }
        self.cx
            .debug_msg(|| format!("server refused TLS ({msg}); continuing without TLS"));
        self.auto_next(AutoStep::AfterStartTls)
    }

    /// The driver finished the TLS handshake.
    pub(super) fn starttls_done(&mut self, summary: &str) -> Result<(), Error> {
        let ctx = match self.take_state() {
            State::TlsHandshake(ctx) => ctx,
            other => {
                self.state = other;
                return Ok(());
            }
        };
        self.cx.info.tls = true;
        self.cx
            .debug_msg(|| format!("connection is using TLS: {summary}"));
        if ctx.purpose == Purpose::User {
            self.state = State::Negotiating;
            self.finish_option(ctx, Ok(OptOutcome::Accepted(true)));
            return Ok(());
        }
        ctx.drop_callbacks();
        self.auto_next(AutoStep::AfterStartTls).inspect_err(|e| {
            self.die(e.clone());
        })
    }
}

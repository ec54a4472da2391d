//! What negotiation learned about the export: flags, size, block sizes,
//! names, and the URI describing the connection.

use crate::generated::types::Size;
use crate::handle::Inner;
use crate::protocol::Negotiated;
use crate::{Error, Result};

impl Inner {
    /// The negotiated facts, once the server has described the export
    /// (after the handshake, or after opt_info in opt mode).
    fn export_info(&self) -> Result<&Negotiated> {
        let info = self.conn()?.first().machine.info();
        if !info.export_valid {
            return Err(Error::new(
                libc::EINVAL,
                "the server has not yet described the export (use nbd_opt_info or nbd_opt_go first)",
            ));
        }
        Ok(info)
    }

    /// The export's facts, for a name or description the server sends
    /// only when nbd_set_full_info asked for it before connecting.
    fn negotiated(&self) -> Result<&Negotiated> {
        Ok(self.conn()?.first().machine.info())
    }

    pub(crate) fn do_get_size(&mut self) -> Result<i64> {
        let size = self.export_info()?.size;
        i64::try_from(size).map_err(|_| {
            Error::new(
                libc::EOVERFLOW,
                format!("export size {size} does not fit in int64"),
            )
        })
    }

    pub(crate) fn do_is_read_only(&mut self) -> Result<bool> {
        Ok(self.export_info()?.is_read_only())
    }

    pub(crate) fn do_can_flush(&mut self) -> Result<bool> {
        Ok(self.export_info()?.can_flush())
    }

    pub(crate) fn do_can_fua(&mut self) -> Result<bool> {
        Ok(self.export_info()?.can_fua())
    }

    pub(crate) fn do_is_rotational(&mut self) -> Result<bool> {
        Ok(self.export_info()?.is_rotational())
    }

    pub(crate) fn do_can_trim(&mut self) -> Result<bool> {
        Ok(self.export_info()?.can_trim())
    }

    pub(crate) fn do_can_zero(&mut self) -> Result<bool> {
        Ok(self.export_info()?.can_zero())
    }

    pub(crate) fn do_can_fast_zero(&mut self) -> Result<bool> {
        Ok(self.export_info()?.can_fast_zero())
    }

    pub(crate) fn do_can_df(&mut self) -> Result<bool> {
        Ok(self.export_info()?.can_df())
    }

    pub(crate) fn do_can_multi_conn(&mut self) -> Result<bool> {
        Ok(self.export_info()?.can_multi_conn())
    }

    pub(crate) fn do_can_cache(&mut self) -> Result<bool> {
        Ok(self.export_info()?.can_cache())
    }

    pub(crate) fn do_can_block_status_payload(&mut self) -> Result<bool> {
        Ok(self.export_info()?.can_block_status_payload())
    }

    pub(crate) fn do_can_meta_context(&mut self, metacontext: &str) -> Result<bool> {
        let machine = &self.conn()?.first().machine;
        let info = machine.info();
        if info.meta_valid {
            return Ok(info.can_meta_context(metacontext));
        }
        // Nothing was asked for, or the server cannot negotiate contexts
        // at all (oldstyle, plain newstyle, no structured replies): the
        // answer is simply no.
        let requested = !machine.config().meta_contexts.is_empty();
        if !requested || !info.structured_replies {
            return Ok(false);
        }
        Err(Error::new(
            libc::EINVAL,
            "need a successful server meta context request before checking for support",
        ))
    }

    pub(crate) fn do_get_block_size(&mut self, size_type: Size) -> Result<i64> {
        Ok(self.export_info()?.block_size(size_type))
    }

    pub(crate) fn do_get_protocol(&mut self) -> Result<&'static str> {
        self.negotiated()?
            .protocol
            .ok_or_else(|| Error::new(libc::EINVAL, "the protocol version is not known yet"))
    }

    pub(crate) fn do_get_structured_replies_negotiated(&mut self) -> Result<bool> {
        Ok(self.negotiated()?.structured_replies)
    }

    pub(crate) fn do_get_extended_headers_negotiated(&mut self) -> Result<bool> {
        Ok(self.negotiated()?.extended_headers)
    }

    pub(crate) fn do_get_tls_negotiated(&mut self) -> Result<bool> {
        Ok(self.negotiated()?.tls)
    }

    pub(crate) fn do_get_canonical_export_name(&mut self) -> Result<String> {
        let info = self.export_info()?;
        match &info.canonical_name {
            Some(name) => Ok(name.clone()),
            // Asked for and not sent: by the protocol, the export's name
            // is the one the client asked for.
            None if self.settings.config.full_info => Ok(self.settings.config.export_name.clone()),
            None => Err(Error::new(
                libc::ENOTSUP,
                "the server did not report a canonical name (nbd_set_full_info asks for it)",
            )),
        }
    }

    pub(crate) fn do_get_export_description(&mut self) -> Result<String> {
        let info = self.export_info()?;
        info.description.clone().ok_or_else(|| {
            Error::new(
                libc::ENOTSUP,
                "the server did not send an export description (nbd_set_full_info asks for it)",
            )
        })
    }

    pub(crate) fn do_connection_state(&mut self) -> Result<&'static str> {
        Ok(match &self.conn {
            None => "START: Handle after being initially created",
            Some(c) if c.first().is_connecting_socket() => {
                "CONNECT.CONNECTING: Connecting to the remote server"
            }
            Some(c) => c.first().machine.state_name(),
        })
    }
}

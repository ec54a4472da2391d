//! Settings: the `set_*` / `get_*` calls that configure a handle, and
//! the meta context list. Settings the protocol machine uses live in its
//! `Config`; while a connection exists (opt mode), changes reach the
//! machine's copy too.

use std::path::Path;

use crate::generated::types::{AllowTransport, DebugCallback, HandshakeFlag, Strict, Tls};
use crate::handle::Inner;
use crate::protocol::Config;
use crate::settings::{check_socket_activation_name, default_username, MAX_EXPORT_NAME};
use crate::{Error, Result};

impl Inner {
    /// Change the protocol configuration, in the settings and in the
    /// running machine alike.
    fn update_config(&mut self, f: impl Fn(&mut Config)) {
        f(&mut self.settings.config);
        if let Some(conn) = self.conn.as_mut() {
            conn.configs_mut().for_each(&f);
        }
    }

    // ---- how many connections ----

    pub(crate) fn do_set_connections(&mut self, connections: i32) -> Result<()> {
        let max = crate::driver::group::MAX_CONNECTIONS;
        match u32::try_from(connections) {
            Ok(n) if (1..=max).contains(&n) => {
                self.settings.connections = n;
                Ok(())
            }
            _ => Err(Error::new(
                libc::EINVAL,
                format!("invalid number of connections {connections}: it must be from 1 to {max}"),
            )),
        }
    }

    pub(crate) fn do_get_connections(&mut self) -> Result<i32> {
        let n = match &self.conn {
            None => self.settings.connections as usize,
            Some(g) => g.open_count(),
        };
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    // ---- deadlines ----

    pub(crate) fn do_set_connect_timeout(&mut self, ms: u64) -> Result<()> {
        let t = (ms > 0).then(|| std::time::Duration::from_millis(ms));
        self.update_config(|c| c.connect_timeout = t);
        Ok(())
    }

    pub(crate) fn do_get_connect_timeout(&mut self) -> u64 {
        millis(self.settings.config.connect_timeout)
    }

    pub(crate) fn do_set_request_timeout(&mut self, ms: u64) -> Result<()> {
        let t = (ms > 0).then(|| std::time::Duration::from_millis(ms));
        self.update_config(|c| c.request_timeout = t);
        Ok(())
    }

    pub(crate) fn do_get_request_timeout(&mut self) -> u64 {
        millis(self.settings.config.request_timeout)
    }

    pub(crate) fn do_set_reconnect_delay(&mut self, ms: u64) -> Result<()> {
        self.settings.reconnect_delay = (ms > 0).then(|| std::time::Duration::from_millis(ms));
        Ok(())
    }

    pub(crate) fn do_get_reconnect_delay(&mut self) -> u64 {
        millis(self.settings.reconnect_delay)
    }

    // ---- export name and negotiation requests ----

    pub(crate) fn do_set_export_name(&mut self, export_name: &str) -> Result<()> {
        if export_name.len() > MAX_EXPORT_NAME {
            return Err(Error::new(
                libc::ENAMETOOLONG,
                "export name too long for NBD protocol",
            ));
        }
        self.update_config(|c| c.export_name = export_name.to_string());
        Ok(())
    }

    pub(crate) fn do_get_export_name(&mut self) -> Result<String> {
        Ok(self.settings.config.export_name.clone())
    }

    pub(crate) fn do_set_request_block_size(&mut self, request: bool) -> Result<()> {
        self.update_config(|c| c.request_block_size = request);
        Ok(())
    }

    pub(crate) fn do_get_request_block_size(&mut self) -> Result<bool> {
        Ok(self.settings.config.request_block_size)
    }

    pub(crate) fn do_set_full_info(&mut self, request: bool) -> Result<()> {
        self.update_config(|c| c.full_info = request);
        Ok(())
    }

    pub(crate) fn do_get_full_info(&mut self) -> Result<bool> {
        Ok(self.settings.config.full_info)
    }

    pub(crate) fn do_set_request_structured_replies(&mut self, request: bool) -> Result<()> {
        self.update_config(|c| c.request_structured_replies = request);
        Ok(())
    }

    pub(crate) fn do_get_request_structured_replies(&mut self) -> bool {
        self.settings.config.request_structured_replies
    }

    pub(crate) fn do_set_request_extended_headers(&mut self, request: bool) -> Result<()> {
        self.update_config(|c| c.request_extended_headers = request);
        Ok(())
    }

    pub(crate) fn do_get_request_extended_headers(&mut self) -> bool {
        self.settings.config.request_extended_headers
    }

    pub(crate) fn do_set_request_meta_context(&mut self, request: bool) -> Result<()> {
        self.update_config(|c| c.request_meta_context = request);
        Ok(())
    }

    pub(crate) fn do_get_request_meta_context(&mut self) -> Result<bool> {
        Ok(self.settings.config.request_meta_context)
    }

    pub(crate) fn do_set_handshake_flags(&mut self, flags: HandshakeFlag) -> Result<()> {
        self.update_config(|c| c.handshake_flags = flags);
        Ok(())
    }

    pub(crate) fn do_get_handshake_flags(&mut self) -> HandshakeFlag {
        self.settings.config.handshake_flags
    }

    pub(crate) fn do_set_pread_initialize(&mut self, request: bool) -> Result<()> {
        self.update_config(|c| c.pread_initialize = request);
        Ok(())
    }

    pub(crate) fn do_get_pread_initialize(&mut self) -> bool {
        self.settings.config.pread_initialize
    }

    pub(crate) fn do_set_strict_mode(&mut self, flags: Strict) -> Result<()> {
        self.update_config(|c| c.strict = flags);
        Ok(())
    }

    pub(crate) fn do_get_strict_mode(&mut self) -> Strict {
        self.settings.config.strict
    }

    pub(crate) fn do_set_opt_mode(&mut self, enable: bool) -> Result<()> {
        self.update_config(|c| c.opt_mode = enable);
        Ok(())
    }

    pub(crate) fn do_get_opt_mode(&mut self) -> bool {
        self.settings.config.opt_mode
    }

    // ---- meta contexts ----

    pub(crate) fn do_add_meta_context(&mut self, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::new(
                libc::EINVAL,
                "meta context name must not be empty",
            ));
        }
        if name.len() > MAX_EXPORT_NAME {
            return Err(Error::new(
                libc::ENAMETOOLONG,
                "meta context name too long for NBD protocol",
            ));
        }
        self.update_config(|c| c.meta_contexts.push(name.to_string()));
        Ok(())
    }

    pub(crate) fn do_get_nr_meta_contexts(&mut self) -> Result<usize> {
        Ok(self.settings.config.meta_contexts.len())
    }

    pub(crate) fn do_get_meta_context(&mut self, i: usize) -> Result<String> {
        self.settings
            .config
            .meta_contexts
            .get(i)
            .cloned()
            .ok_or_else(|| Error::new(libc::EINVAL, "meta context request out of range"))
    }

    pub(crate) fn do_clear_meta_contexts(&mut self) -> Result<()> {
        self.update_config(|c| c.meta_contexts.clear());
        Ok(())
    }

    // ---- TLS settings (read when a TLS session starts: crate::tls) ----

    pub(crate) fn do_set_tls(&mut self, tls: Tls) -> Result<()> {
        if tls != Tls::DISABLE && !crate::calls::misc::TLS_SUPPORTED {
            return Err(Error::new(
                libc::ENOTSUP,
                "TLS is not supported yet by this library",
            ));
        }
        self.update_config(|c| c.tls = tls);
        Ok(())
    }

    pub(crate) fn do_get_tls(&mut self) -> Tls {
        self.settings.config.tls
    }

    pub(crate) fn do_set_tls_certificates(&mut self, dir: &Path) -> Result<()> {
        let dir = dir
            .to_str()
            .ok_or_else(|| Error::new(libc::EINVAL, "certificates directory is not valid UTF-8"))?;
        self.settings.tls.certificates = Some(dir.to_string());
        Ok(())
    }

    pub(crate) fn do_set_tls_verify_peer(&mut self, verify: bool) -> Result<()> {
        self.settings.tls.verify_peer = verify;
        Ok(())
    }

    pub(crate) fn do_get_tls_verify_peer(&mut self) -> bool {
        self.settings.tls.verify_peer
    }

    pub(crate) fn do_set_tls_username(&mut self, username: &str) -> Result<()> {
        self.settings.tls.username = Some(username.to_string());
        Ok(())
    }

    pub(crate) fn do_get_tls_username(&mut self) -> Result<String> {
        match &self.settings.tls.username {
            Some(u) => Ok(u.clone()),
            None => default_username(),
        }
    }

    pub(crate) fn do_set_tls_psk_file(&mut self, filename: &Path) -> Result<()> {
        let f = filename
            .to_str()
            .ok_or_else(|| Error::new(libc::EINVAL, "PSK file name is not valid UTF-8"))?;
        self.settings.tls.psk_file = Some(f.to_string());
        Ok(())
    }

    /// An extension: the directory set, or "" when none was.
    pub(crate) fn do_get_tls_certificates(&mut self) -> Result<String> {
        Ok(self.settings.tls.certificates.clone().unwrap_or_default())
    }

    /// An extension: the key file's name set, or "" when none was. Never
    /// the keys.
    pub(crate) fn do_get_tls_psk_file(&mut self) -> Result<String> {
        Ok(self.settings.tls.psk_file.clone().unwrap_or_default())
    }

    pub(crate) fn do_set_tls_hostname(&mut self, hostname: &str) -> Result<()> {
        self.settings.tls.hostname = Some(hostname.to_string());
        Ok(())
    }

    /// The name checked against the server's certificate: the one set, or
    /// else the host given to connect_tcp / the URI.
    pub(crate) fn do_get_tls_hostname(&mut self) -> Result<String> {
        if let Some(h) = &self.settings.tls.hostname {
            return Ok(h.clone());
        }
        if let Some(crate::driver::Peer::Tcp { host, .. }) =
            self.conn.as_ref().map(|c| &c.first().peer)
        {
            return Ok(host.clone());
        }
        Ok(String::new())
    }

    // ---- URI policy ----

    pub(crate) fn do_set_uri_allow_transports(&mut self, mask: AllowTransport) -> Result<()> {
        self.settings.uri_allow_transports = mask;
        Ok(())
    }

    pub(crate) fn do_set_uri_allow_tls(&mut self, tls: Tls) -> Result<()> {
        self.settings.uri_allow_tls = tls;
        Ok(())
    }

    pub(crate) fn do_set_uri_allow_local_file(&mut self, allow: bool) -> Result<()> {
        self.settings.uri_allow_local_file = allow;
        Ok(())
    }

    // ---- socket activation ----

    pub(crate) fn do_set_socket_activation_name(&mut self, socket_name: &str) -> Result<()> {
        check_socket_activation_name(socket_name)?;
        self.settings.socket_activation_name = socket_name.to_string();
        Ok(())
    }

    pub(crate) fn do_get_socket_activation_name(&mut self) -> Result<String> {
        Ok(self.settings.socket_activation_name.clone())
    }

    // ---- debugging and naming ----

    pub(crate) fn do_set_debug(&mut self, debug: bool) -> Result<()> {
        self.settings.debug = debug;
        self.update_config(|c| c.debug = debug);
        Ok(())
    }

    pub(crate) fn do_get_debug(&mut self) -> bool {
        self.settings.debug
    }

    pub(crate) fn do_set_debug_callback(&mut self, debug: DebugCallback) -> Result<()> {
        // The old callback, if any, is dropped (freed) here.
        self.settings.debug_callback = Some(debug);
        Ok(())
    }

    pub(crate) fn do_clear_debug_callback(&mut self) -> Result<()> {
        self.settings.debug_callback = None;
        Ok(())
    }

    pub(crate) fn do_set_handle_name(&mut self, handle_name: &str) -> Result<()> {
        self.settings.handle_name = handle_name.to_string();
        Ok(())
    }

    pub(crate) fn do_get_handle_name(&mut self) -> Result<String> {
        Ok(self.settings.handle_name.clone())
    }
}

/// A timeout setting in milliseconds (0: none).
fn millis(t: Option<std::time::Duration>) -> u64 {
    t.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

//! Calls about the library itself, the application's private data, the
//! server subprocess, and the traffic counters.

use std::sync::atomic::Ordering;

use crate::handle::{Handle, Inner};
use crate::{Error, Result};

/// Whether this build can use TLS (always: OpenSSL is linked in).
pub(crate) const TLS_SUPPORTED: bool = true;

/// The libnbd release whose API and behaviour this library follows.
const COMPATIBLE_VERSION: &str = "1.24.0";

impl Handle {
    pub(crate) fn do_get_package_name(&self) -> &'static str {
        "libnbd"
    }

    pub(crate) fn do_get_version(&self) -> &'static str {
        COMPATIBLE_VERSION
    }

    pub(crate) fn do_get_version_extra(&self) -> &'static str {
        concat!("nbd-rs ", env!("CARGO_PKG_VERSION"))
    }

    pub(crate) fn do_supports_tls(&self) -> bool {
        TLS_SUPPORTED
    }

    pub(crate) fn do_supports_uri(&self) -> bool {
        true
    }

    pub(crate) fn do_supports_vsock(&self) -> bool {
        crate::transport::vsock_supported()
    }

    pub(crate) fn do_is_uri(&self, uri: &str) -> Result<bool> {
        Ok(crate::uri::is_uri(uri))
    }

    pub(crate) fn do_set_private_data(&self, private_data: usize) -> usize {
        self.private_data().swap(private_data, Ordering::AcqRel)
    }

    pub(crate) fn do_get_private_data(&self) -> usize {
        self.private_data().load(Ordering::Acquire)
    }
}

impl Inner {
    /// nbd_get_handle_size: the handle, its settings, and the connection.
    pub(crate) fn do_get_handle_size(&mut self) -> Result<usize> {
        let s = &self.settings;
        let opt = |o: &Option<String>| o.as_ref().map_or(0, |s| s.capacity());
        let settings = s.handle_name.capacity()
            + s.config.export_name.capacity()
            + s.config
                .meta_contexts
                .iter()
                .map(|m| m.capacity())
                .sum::<usize>()
            + s.socket_activation_name.capacity()
            + opt(&s.tls.certificates)
            + opt(&s.tls.username)
            + opt(&s.tls.psk_file)
            + opt(&s.tls.hostname);
        Ok(std::mem::size_of::<Handle>()
            + std::mem::size_of::<Inner>()
            + settings
            + self.conn.as_ref().map_or(0, |c| c.memory()))
    }

    pub(crate) fn do_kill_subprocess(&mut self, signum: i32) -> Result<()> {
        if signum < 0 {
            return Err(Error::new(
                libc::EINVAL,
                format!("invalid signal number {signum}"),
            ));
        }
        let child = self
            .conn
            .as_mut()
            .and_then(|c| c.first_mut().child.as_mut());
        let Some(child) = child else {
            return Err(Error::new(libc::ESRCH, "no subprocess exists"));
        };
        child.kill(signum)
    }

    pub(crate) fn do_get_subprocess_pid(&mut self) -> Result<i64> {
        self.conn
            .as_ref()
            .and_then(|c| c.first().child.as_ref())
            .and_then(|c| c.pid())
            .map(i64::from)
            .ok_or_else(|| Error::new(libc::ESRCH, "no subprocess exists"))
    }

    fn stats(&self) -> crate::protocol::Stats {
        self.conn.as_ref().map(|c| c.stats()).unwrap_or_default()
    }

    pub(crate) fn do_stats_reconnects(&mut self) -> u64 {
        self.conn.as_ref().map_or(0, |g| g.reconnects())
    }

    pub(crate) fn do_stats_bytes_sent(&mut self) -> u64 {
        self.stats().bytes_sent
    }

    pub(crate) fn do_stats_chunks_sent(&mut self) -> u64 {
        self.stats().chunks_sent
    }

    pub(crate) fn do_stats_bytes_received(&mut self) -> u64 {
        self.stats().bytes_received
    }

    pub(crate) fn do_stats_chunks_received(&mut self) -> u64 {
        self.stats().chunks_received
    }
}

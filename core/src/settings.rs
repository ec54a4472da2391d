//! Everything a handle remembers between calls that is not the connection
//! itself, with libnbd's defaults.

use crate::generated::types::{AllowTransport, DebugCallback, Tls};
use crate::protocol::Config;

/// The longest export name the NBD protocol allows.
pub(crate) const MAX_EXPORT_NAME: usize = 4096;

/// The handle's settings. The part the protocol machine needs is
/// [`Config`], copied into the machine when a connection starts (and kept
/// in step with it while negotiating in opt mode).
pub(crate) struct Settings {
    /// Name used in debug messages ("nbd1", ...).
    pub(crate) handle_name: String,
    pub(crate) debug: bool,
    pub(crate) debug_callback: Option<DebugCallback>,
    /// What the protocol machine is configured with.
    pub(crate) config: Config,
    pub(crate) tls: TlsSettings,
    pub(crate) uri_allow_transports: AllowTransport,
    pub(crate) uri_allow_tls: Tls,
    pub(crate) uri_allow_local_file: bool,
    /// LISTEN_FDNAMES for socket activation; empty means unset.
    pub(crate) socket_activation_name: String,
    /// How many connections to open when the server allows multi-conn
    /// (nbd_set_connections).
    pub(crate) connections: u32,
    /// How long a broken connection may take to come back
    /// (nbd_set_reconnect_delay; None: it does not).
    pub(crate) reconnect_delay: Option<std::time::Duration>,
}

/// TLS credentials and checks, copied into each connection's
/// `tls::TlsParams`.
#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    pub(crate) certificates: Option<String>,
    pub(crate) verify_peer: bool,
    pub(crate) username: Option<String>,
    pub(crate) psk_file: Option<String>,
    pub(crate) hostname: Option<String>,
}

impl Settings {
    /// libnbd's defaults for a handle called `handle_name`.
    pub(crate) fn new(handle_name: String, debug: bool) -> Settings {
        let config = Config {
            debug,
            ..Config::default()
        };
        Settings {
            handle_name,
            debug,
            debug_callback: None,
            config,
            tls: TlsSettings {
                certificates: None,
                verify_peer: true,
                username: None,
                psk_file: None,
                hostname: None,
            },
            // api.yaml's default: every transport, ssh included.
            uri_allow_transports: AllowTransport::DEFAULT,
            uri_allow_tls: Tls::ALLOW,
            uri_allow_local_file: false,
            socket_activation_name: String::new(),
            connections: 1,
            reconnect_delay: None,
        }
    }
}

/// The login name used for TLS when none was set: `$LOGNAME`, else the
/// name of the effective user.
pub(crate) fn default_username() -> crate::Result<String> {
    if let Some(name) = std::env::var_os("LOGNAME").and_then(|n| n.into_string().ok()) {
        if !name.is_empty() {
            return Ok(name);
        }
    }
    // SAFETY: getpwuid_r with a buffer we own; the result points into it.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if r == 0 && !result.is_null() && !pwd.pw_name.is_null() {
            return Ok(std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .into_owned());
        }
        let errno = if r != 0 { r } else { libc::ENOENT };
        Err(crate::Error::new(
            errno,
            "cannot find the name of the current user",
        ))
    }
}

/// Check a socket activation name: systemd passes names joined by ':',
/// so a name must be short printable text without ':'.
pub(crate) fn check_socket_activation_name(name: &str) -> crate::Result<()> {
    if name.len() > 255 {
        return Err(crate::Error::new(
            libc::EINVAL,
            "socket activation name is longer than 255 bytes",
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return Err(crate::Error::new(
            libc::EINVAL,
            format!("socket activation name may only contain letters, digits, '-', '_' and '.', not {c:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_libnbd() {
        let s = Settings::new("nbd1".into(), false);
        assert!(s.tls.verify_peer);
        assert_eq!(s.uri_allow_tls.0, Tls::ALLOW.0);
        assert!(!s.uri_allow_local_file);
        assert!(s.config.request_structured_replies);
        assert!(s.config.pread_initialize);
        assert_eq!(s.config.handshake_flags.bits(), 3);
    }

    #[test]
    fn activation_names() {
        assert!(check_socket_activation_name("").is_ok());
        assert!(check_socket_activation_name("nbd-0.sock_x").is_ok());
        assert_eq!(
            check_socket_activation_name("a:b").unwrap_err().errno(),
            libc::EINVAL
        );
        assert!(check_socket_activation_name(&"x".repeat(300)).is_err());
    }
}

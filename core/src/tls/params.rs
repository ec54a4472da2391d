//! What a connection asks of TLS, copied from the handle's settings when
//! the connection starts.

use crate::settings::TlsSettings;

/// The TLS parameters of one connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsParams {
    /// `nbd_set_tls_certificates`: a directory with ca-cert.pem and
    /// optionally client-cert.pem, client-key.pem and ca-crl.pem. None:
    /// the default directories, then the system's CAs.
    pub(crate) certificates: Option<String>,
    /// `nbd_set_tls_psk_file`: use a pre-shared key instead of X.509.
    pub(crate) psk_file: Option<String>,
    /// `nbd_set_tls_username`; None: the login name.
    pub(crate) username: Option<String>,
    /// Check the server's certificate (chain, dates, revocation, name).
    pub(crate) verify_peer: bool,
    /// The name the certificate must carry: `nbd_set_tls_hostname`, or
    /// the host given to connect_tcp / the URI. None (e.g. a Unix socket
    /// with no explicit name): only the chain is checked.
    pub(crate) hostname: Option<String>,
}

impl TlsParams {
    /// The parameters for a connection made with `settings` to a peer
    /// reached by the host name `connect_host` (TCP connects only).
    pub(crate) fn new(settings: &TlsSettings, connect_host: Option<&str>) -> TlsParams {
        let hostname = settings
            .hostname
            .clone()
            .or_else(|| connect_host.map(str::to_string))
            .filter(|h| !h.is_empty());
        TlsParams {
            certificates: settings.certificates.clone(),
            psk_file: settings.psk_file.clone(),
            username: settings.username.clone(),
            verify_peer: settings.verify_peer,
            hostname,
        }
    }
}

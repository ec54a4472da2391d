//! Turning [`TlsParams`] into an OpenSSL client: either a pre-shared key
//! (when a PSK file is set) or X.509 certificates, with the checks the
//! handle asks for. The files are read here, when the TLS session
//! starts, so that their problems are reported then (as libnbd does).

use std::ffi::{c_char, c_uchar, c_uint, c_void};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use foreign_types_shared::ForeignType;
use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::ssl::{
    Ssl, SslContextBuilder, SslMethod, SslMode, SslOptions, SslVerifyMode, SslVersion,
};
use openssl::x509::store::X509Lookup;
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::X509;

use super::params::TlsParams;
use super::psk::{self, MAX_IDENTITY_LEN};
use crate::{Error, Result};

/// How the client proves and checks identities, for messages and the
/// debug log (never holds key material).
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// A pre-shared key for this user.
    Psk { user: String },
    /// X.509 certificates.
    X509 {
        /// The directory the CA came from, or None for the system's CAs.
        ca_dir: Option<PathBuf>,
        client_cert: bool,
        crl: bool,
        verify_peer: bool,
        /// The host name checked against the certificate, if any.
        hostname: Option<String>,
    },
}

impl Auth {
    pub(crate) fn describe(&self) -> String {
        match self {
            Auth::Psk { user } => format!("pre-shared key of user '{user}'"),
            Auth::X509 {
                ca_dir,
                client_cert,
                crl,
                verify_peer,
                hostname,
            } => {
                let mut s = match ca_dir {
                    Some(d) => format!("X.509, CA from {}", d.display()),
                    None => "X.509, system CAs".to_string(),
                };
                if *client_cert {
                    s.push_str(", client certificate");
                }
                if *crl {
                    s.push_str(", CRL");
                }
                match (verify_peer, hostname) {
                    (false, _) => s.push_str(", server NOT verified"),
                    (true, Some(h)) => s.push_str(&format!(", server verified as '{h}'")),
                    (true, None) => s.push_str(", server chain verified (no host name)"),
                }
                s
            }
        }
    }
}

/// An OpenSSL error while configuring the session.
fn setup_error(what: &str) -> impl FnOnce(ErrorStack) -> Error + '_ {
    move |e| {
        Error::new(
            libc::EIO,
            format!("TLS: {what}: {}", super::errors::stack_text(&e)),
        )
    }
}

/// The identity and key a PSK session answers the server with. The TLS
/// session owns it and keeps it alive (and at one address) for as long as
/// the OpenSSL session may call [`psk_client_cb`]; the key is wiped when
/// it is dropped.
pub(crate) struct PskCredentials {
    identity: Vec<u8>,
    key: psk::Secret,
}

/// The ex_data slot OpenSSL reserves for an application's own pointer
/// (what `SSL_set_app_data` uses). Using it, rather than a slot allocated
/// at run time, leaves no process-wide cache behind: with the openssl
/// crate's closure-based PSK callback, a map of slots lives until exit and
/// shows up in leak checkers.
const APP_DATA_SLOT: i32 = 0;

/// OpenSSL's PSK client callback: copy the session's identity (NUL
/// terminated) and key into OpenSSL's buffers; 0 refuses the handshake.
extern "C" fn psk_client_cb(
    ssl: *mut openssl_sys::SSL,
    _hint: *const c_char,
    identity: *mut c_char,
    max_identity_len: c_uint,
    psk: *mut c_uchar,
    max_psk_len: c_uint,
) -> c_uint {
    // SAFETY: OpenSSL passes the session the callback was installed for;
    // its app data is the PskCredentials that TlsSession keeps alive while
    // the session exists (or NULL when none was set).
    let creds =
        unsafe { openssl_sys::SSL_get_ex_data(ssl, APP_DATA_SLOT) } as *const PskCredentials;
    if creds.is_null() || identity.is_null() || psk.is_null() {
        return 0;
    }
    // SAFETY: non-null and alive, see above; only read here.
    let creds = unsafe { &*creds };
    let id = &creds.identity;
    let key = creds.key.bytes();
    if id.len() >= max_identity_len as usize
        || id.len() > MAX_IDENTITY_LEN
        || key.len() > max_psk_len as usize
    {
        return 0;
    }
    // SAFETY: OpenSSL's buffers hold max_identity_len and max_psk_len
    // bytes; both copies fit (checked above).
    unsafe {
        std::ptr::copy_nonoverlapping(id.as_ptr(), identity.cast::<u8>(), id.len());
        *identity.add(id.len()) = 0;
        std::ptr::copy_nonoverlapping(key.as_ptr(), psk, key.len());
    }
    key.len() as c_uint
}

/// A client session object configured from `params`, a description of
/// what it will do, and (for PSK) the credentials the caller must keep
/// alive, at the same address, for as long as the session exists.
pub(crate) fn client(params: &TlsParams) -> Result<(Ssl, Auth, Option<Box<PskCredentials>>)> {
    let mut ctx = SslContextBuilder::new(SslMethod::tls_client())
        .map_err(setup_error("cannot create a TLS context"))?;
    ctx.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(setup_error("cannot require TLS 1.2"))?;
    ctx.set_options(SslOptions::NO_COMPRESSION | SslOptions::NO_RENEGOTIATION);
    // The send side hands OpenSSL slices of the machine's queue, which
    // may move between attempts.
    ctx.set_mode(SslMode::ENABLE_PARTIAL_WRITE | SslMode::ACCEPT_MOVING_WRITE_BUFFER);

    let mut psk_creds: Option<Box<PskCredentials>> = None;
    let auth = match &params.psk_file {
        Some(file) => {
            let user = match &params.username {
                Some(u) => u.clone(),
                None => crate::settings::default_username()?,
            };
            let key = psk::lookup(file, &user)?;
            psk_creds = Some(Box::new(PskCredentials {
                identity: user.clone().into_bytes(),
                key,
            }));
            // SAFETY: installs a plain function; the context is valid.
            unsafe {
                openssl_sys::SSL_CTX_set_psk_client_callback(ctx.as_ptr(), Some(psk_client_cb))
            };
            // The shared key is the only proof of identity accepted: a
            // server that answers with a certificate instead is checked
            // against an empty trust store, and so refused.
            ctx.set_verify(SslVerifyMode::PEER);
            Auth::Psk { user }
        }
        None => x509(&mut ctx, params)?,
    };
    let ctx = ctx.build();
    let mut ssl = Ssl::new(&ctx).map_err(setup_error("cannot create a TLS session"))?;
    if let Some(creds) = &psk_creds {
        let ptr: *const PskCredentials = &**creds;
        // SAFETY: the session is valid; the pointer stays valid because
        // the caller keeps the box until the session is gone.
        unsafe { openssl_sys::SSL_set_ex_data(ssl.as_ptr(), APP_DATA_SLOT, ptr as *mut c_void) };
    }
    if let Some(host) = &params.hostname {
        let ip = host.parse::<IpAddr>().ok();
        if ip.is_none() {
            // Server Name Indication; IP literals are not allowed there.
            ssl.set_hostname(host)
                .map_err(setup_error("invalid TLS host name"))?;
        }
        if let Auth::X509 {
            verify_peer: true, ..
        } = auth
        {
            let param = ssl.param_mut();
            match ip {
                Some(ip) => param.set_ip(ip),
                None => param.set_host(host),
            }
            .map_err(setup_error("cannot set the host name to verify"))?;
        }
    }
    Ok((ssl, auth, psk_creds))
}

/// Where certificates are looked for when none were set.
fn default_dirs() -> Vec<PathBuf> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return vec![PathBuf::from("/etc/pki/libnbd")];
    }
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => {
            let home = PathBuf::from(home);
            vec![home.join(".pki/libnbd"), home.join(".config/pki/libnbd")]
        }
        _ => Vec::new(),
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::from_io(
            &e,
            format_args!("TLS: cannot read the {what} {}", path.display()),
        )
    })
}

fn x509(ctx: &mut SslContextBuilder, params: &TlsParams) -> Result<Auth> {
    let candidates = match &params.certificates {
        Some(d) => vec![PathBuf::from(d)],
        None => default_dirs(),
    };
    // As libnbd: the first directory holding ca-cert.pem is used;
    // without one, the system's CAs.
    let dir = candidates
        .into_iter()
        .find(|d| d.join("ca-cert.pem").exists());
    let mut client_cert = false;
    let mut crl = false;
    match &dir {
        Some(dir) => {
            let ca_path = dir.join("ca-cert.pem");
            let cas = X509::stack_from_pem(&read(&ca_path, "CA certificate")?)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Error::new(
                        libc::EINVAL,
                        format!("TLS: {} holds no PEM certificate", ca_path.display()),
                    )
                })?;
            for ca in cas {
                ctx.cert_store_mut()
                    .add_cert(ca)
                    .map_err(setup_error("cannot add the CA certificate"))?;
            }
            let cert_path = dir.join("client-cert.pem");
            let key_path = dir.join("client-key.pem");
            if cert_path.exists() && key_path.exists() {
                load_client_certificate(ctx, &cert_path, &key_path)?;
                client_cert = true;
            }
            let crl_path = dir.join("ca-crl.pem");
            if crl_path.exists() {
                // Read it first for a clear error, then let OpenSSL load it.
                read(&crl_path, "certificate revocation list")?;
                let path = crl_path
                    .to_str()
                    .filter(|p| !p.contains('\0'))
                    .ok_or_else(|| {
                        Error::new(libc::EINVAL, "TLS: the CRL path is not valid UTF-8")
                    })?;
                let lookup = ctx
                    .cert_store_mut()
                    .add_lookup(X509Lookup::file())
                    .map_err(setup_error("cannot load the CRL"))?;
                lookup
                    .load_crl_file(path, openssl::ssl::SslFiletype::PEM)
                    .map_err(setup_error(&format!("cannot load the CRL {path}")))?;
                ctx.cert_store_mut()
                    .set_flags(X509VerifyFlags::CRL_CHECK)
                    .map_err(setup_error("cannot enable CRL checks"))?;
                crl = true;
            }
        }
        None => ctx
            .set_default_verify_paths()
            .map_err(setup_error("cannot load the system's CA certificates"))?,
    }
    ctx.set_verify(if params.verify_peer {
        SslVerifyMode::PEER
    } else {
        SslVerifyMode::NONE
    });
    Ok(Auth::X509 {
        ca_dir: dir,
        client_cert,
        crl,
        verify_peer: params.verify_peer,
        hostname: params.hostname.clone().filter(|_| params.verify_peer),
    })
}

fn load_client_certificate(
    ctx: &mut SslContextBuilder,
    cert_path: &Path,
    key_path: &Path,
) -> Result<()> {
    let invalid = |p: &Path, what: &str| {
        Error::new(
            libc::EINVAL,
            format!("TLS: {} is not a PEM {what}", p.display()),
        )
    };
    let mut chain = X509::stack_from_pem(&read(cert_path, "client certificate")?)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid(cert_path, "certificate"))?
        .into_iter();
    let leaf = chain
        .next()
        .ok_or_else(|| invalid(cert_path, "certificate"))?;
    ctx.set_certificate(&leaf)
        .map_err(setup_error("cannot use the client certificate"))?;
    for extra in chain {
        ctx.add_extra_chain_cert(extra)
            .map_err(setup_error("cannot use the client certificate chain"))?;
    }
    // An empty passphrase: an encrypted key fails instead of OpenSSL
    // prompting on the terminal.
    let pem = super::psk::Secret::from(read(key_path, "client key")?);
    let key = PKey::private_key_from_pem_passphrase(pem.bytes(), b"")
        .map_err(|_| invalid(key_path, "private key (without passphrase)"))?;
    let mismatch = |_| {
        Error::new(
            libc::EINVAL,
            format!(
                "TLS: the client key {} does not match the certificate {}",
                key_path.display(),
                cert_path.display()
            ),
        )
    };
    ctx.set_private_key(&key).map_err(mismatch)?;
    ctx.check_private_key().map_err(mismatch)
}

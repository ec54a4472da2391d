//! OpenSSL's failures as messages that say what went wrong: which check
//! refused the server's certificate, whether the server refused our key,
//! or whether what came back was not TLS at all.

use openssl::error::ErrorStack;
use openssl::ssl::{self, SslRef};
use openssl::x509::X509VerifyResult;

use super::credentials::Auth;
use crate::Error;

/// The reasons in an OpenSSL error stack, most specific first, without
/// OpenSSL's internal codes and function names.
pub(crate) fn stack_text(e: &ErrorStack) -> String {
    let reasons: Vec<&str> = e.errors().iter().filter_map(|e| e.reason()).collect();
    if reasons.is_empty() {
        e.to_string()
    } else {
        reasons.join("; ")
    }
}

fn reasons(e: &ssl::Error) -> String {
    match (e.ssl_error(), e.io_error()) {
        (Some(stack), _) if !stack.errors().is_empty() => stack_text(stack),
        (_, Some(io)) => io.to_string(),
        _ => format!("OpenSSL error code {}", e.code().as_raw()),
    }
}

// X509_V_ERR_* (x509_vfy.h); stable numbers of OpenSSL's ABI.
const UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
const UNABLE_TO_GET_CRL: i32 = 3;
const CERT_NOT_YET_VALID: i32 = 9;
const CERT_HAS_EXPIRED: i32 = 10;
const CRL_NOT_YET_VALID: i32 = 11;
const CRL_HAS_EXPIRED: i32 = 12;
const DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
const SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
const UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
const UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
const CERT_REVOKED: i32 = 23;
const INVALID_PURPOSE: i32 = 26;
const CERT_UNTRUSTED: i32 = 27;
const HOSTNAME_MISMATCH: i32 = 62;
const IP_ADDRESS_MISMATCH: i32 = 64;

/// Why the server's certificate was refused.
fn verify_message(v: X509VerifyResult, auth: &Auth) -> String {
    let host = match auth {
        Auth::X509 {
            hostname: Some(h), ..
        } => h.as_str(),
        _ => "",
    };
    let detail = v.error_string();
    match v.as_raw() {
        CERT_HAS_EXPIRED => format!("the server's certificate has expired ({detail})"),
        CERT_NOT_YET_VALID => format!("the server's certificate is not yet valid ({detail})"),
        CERT_REVOKED => format!("the server's certificate has been revoked ({detail})"),
        HOSTNAME_MISMATCH | IP_ADDRESS_MISMATCH => format!(
            "the server's certificate was not issued for the host name '{host}' ({detail}); \
             nbd_set_tls_hostname can name the host the certificate belongs to"
        ),
        UNABLE_TO_GET_ISSUER_CERT
        | UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | DEPTH_ZERO_SELF_SIGNED_CERT
        | SELF_SIGNED_CERT_IN_CHAIN
        | CERT_UNTRUSTED => format!(
            "the server's certificate is not signed by a trusted certificate authority \
             (unknown CA: {detail})"
        ),
        UNABLE_TO_GET_CRL | CRL_NOT_YET_VALID | CRL_HAS_EXPIRED => format!(
            "the certificate revocation list (ca-crl.pem) cannot be used to check the \
             server's certificate ({detail})"
        ),
        INVALID_PURPOSE => {
            format!("the server's certificate is not meant for a TLS server ({detail})")
        }
        _ => format!("the server's certificate could not be verified ({detail})"),
    }
}

/// The TLS handshake failed. `eof`: the server closed the connection.
pub(crate) fn handshake_error(e: &ssl::Error, ssl: &SslRef, auth: &Auth, eof: bool) -> Error {
    let why = reasons(e);
    let has = |s: &str| why.contains(s);
    let (errno, msg) = if has("certificate verify failed") {
        match auth {
            Auth::Psk { .. } => (
                libc::EACCES,
                "the server presented a certificate instead of using the pre-shared key \
                 (is it set up for X.509 only?)"
                    .to_string(),
            ),
            Auth::X509 { .. } => (libc::EACCES, verify_message(ssl.verify_result(), auth)),
        }
    } else if not_tls(&why) {
        (
            libc::EPROTO,
            format!(
                "what the server sent is not TLS (a server that does not really do TLS, \
                 or a man in the middle?): {why}"
            ),
        )
    } else if let Auth::Psk { user } = auth {
        if has("alert") || has("decrypt") || has("bad record mac") || eof {
            (
                libc::EACCES,
                format!(
                    "the server rejected the pre-shared key of user '{user}' (wrong key, or a \
                     user it does not know): {}",
                    if eof {
                        "it closed the connection"
                    } else {
                        &why
                    }
                ),
            )
        } else {
            (libc::EPROTO, why)
        }
    } else if has("certificate required") {
        (
            libc::EACCES,
            "the server requires a client certificate, and none was found \
             (client-cert.pem and client-key.pem in the certificates directory)"
                .to_string(),
        )
    } else if matches!(
        auth,
        Auth::X509 {
            client_cert: true,
            ..
        }
    ) && (has("unknown ca")
        || has("bad certificate")
        || has("certificate unknown")
        || has("certificate expired")
        || has("certificate revoked")
        || has("access denied"))
    {
        (
            libc::EACCES,
            format!("the server rejected the client certificate: {why}"),
        )
    } else if eof {
        (
            libc::ECONNRESET,
            "the server closed the connection during the handshake (did it refuse the \
             client's credentials?)"
                .to_string(),
        )
    } else {
        (libc::EPROTO, why)
    };
    Error::new(errno, format!("TLS handshake failed: {msg}"))
}

/// The server dropped the connection after a successful handshake and
/// before answering anything: with TLS 1.3 this is how a server refuses
/// the client's certificate (its alert is often lost with the
/// connection). `cause` is what the socket said.
pub(crate) fn dropped_after_handshake(cause: &Error, auth: &Auth) -> Error {
    let hint = match auth {
        Auth::X509 {
            client_cert: false, ..
        } => {
            "does it require a client certificate? (client-cert.pem and client-key.pem in \
              the certificates directory)"
        }
        Auth::X509 { .. } => "did it refuse the client certificate?",
        Auth::Psk { .. } => "did it refuse the client's credentials?",
    };
    Error::new(
        if cause.errno() == 0 {
            libc::ECONNRESET
        } else {
            cause.errno()
        },
        format!(
            "TLS: the server ended the connection right after the TLS handshake ({}); {hint}",
            cause.message()
        ),
    )
}

/// A TLS failure after the handshake (a corrupted or forged record, an
/// alert from the server).
pub(crate) fn session_error(e: &ssl::Error) -> Error {
    let why = reasons(e);
    if not_tls(&why) {
        return Error::new(
            libc::EPROTO,
            format!("TLS: the server sent data that is not TLS (injected plaintext?): {why}"),
        );
    }
    Error::new(libc::EPROTO, format!("TLS: {why}"))
}

/// OpenSSL's ways of saying that the bytes were not a TLS record.
fn not_tls(why: &str) -> bool {
    [
        "wrong version number",
        "packet length too long",
        "record layer failure",
        "unexpected message",
        "http request",
        "bad record type",
    ]
    .iter()
    .any(|s| why.contains(s))
}

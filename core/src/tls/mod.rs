//! TLS for NBD connections (NBD_OPT_STARTTLS), with OpenSSL.
//!
//! The protocol machine decides *when* the byte stream becomes TLS: it
//! accepts the server's NBD_REP_ACK and then waits in its TLS handshake
//! state. This module is *the TLS*: a client session whose ciphertext
//! goes to and comes from memory buffers, so that, like the machine, it
//! never touches a socket. The driver (`driver/tls_wire.rs`) stacks it
//! between the socket and the machine:
//!
//! ```text
//! socket ⇄ ciphertext buffers ⇄ TlsSession (OpenSSL) ⇄ plaintext ⇄ Machine
//! ```
//!
//! Files: `params` (what the handle asks for: certificates directory, PSK
//! file, user name, peer verification, host name), `psk` (psktool's key
//! files, and keys that are wiped when dropped), `credentials` (turning
//! the parameters into an OpenSSL client configuration; this is where
//! files are read), `session` (the in-memory TLS session), `errors`
//! (OpenSSL's failures as messages that say what went wrong).

mod credentials;
mod errors;
mod params;
mod psk;
mod session;

pub(crate) use params::TlsParams;
pub(crate) use session::{Plain, TlsSession};

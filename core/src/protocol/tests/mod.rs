//! Tests of the protocol machine against a scripted in-memory NBD server
//! that speaks real NBD bytes (see `peer`).

mod peer;

mod callbacks;
mod cve;
mod data;
mod handshake;
mod hostile;
mod opt_mode;
mod starttls;
mod states;
mod strict;

//! Drivers: the code that does the I/O around the sans-IO protocol
//! machine.
//!
//! - [`io`]: moving bytes between a machine and a non-blocking socket.
//! - [`connection`]: a machine plus its socket and subprocess.
//! - [`group`]: the connections of one handle (one, or several with
//!   multi-conn), presented to the drivers as one.
//! - [`poll`]: one poll(2) round, for `nbd_poll`, `nbd_poll2` and the
//!   blocking calls.
//! - [`blocking`]: run until a command, option or handshake is finished.
//! - [`tls_wire`]: the TLS layer between the socket and the machine,
//!   after NBD_OPT_STARTTLS (the session itself is `crate::tls`).
//!
//! The machine knows nothing of these. The tokio driver
//! (`crate::asynch`, feature `tokio`) uses [`connection`] and [`io`] the
//! same way, waiting on tokio's reactor instead of poll(2).

pub(crate) mod blocking;
pub(crate) mod connection;
pub(crate) mod group;
pub(crate) mod io;
pub(crate) mod poll;
pub(crate) mod tls_wire;

pub(crate) use connection::{Connection, Peer};
pub(crate) use group::Group;

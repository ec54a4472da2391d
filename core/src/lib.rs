//! A memory-safe NBD client library with libnbd's API.
//!
//! A [`Handle`] is one connection to an NBD server and its settings;
//! each of its methods is one call of libnbd(3), named without the
//! `nbd_` prefix. Failures are [`Error`]s (an errno and a message). The
//! enums, flag sets and constants are those of libnbd, and [`AioBuffer`]
//! is the memory of asynchronous reads and writes.
//!
//! ```no_run
//! let h = nbd::Handle::new()?;
//! h.connect_uri("nbd+unix:///?socket=/tmp/nbd.sock")?;
//! let mut buf = vec![0u8; 512];
//! h.pread(&mut buf, 0, None)?;
//! # Ok::<(), nbd::Error>(())
//! ```

#[cfg(feature = "tokio")]
mod asynch;
mod buffer;
#[doc(hidden)]
pub mod callback;
mod calls;
mod driver;
mod error;
// The modules below are public for the bindings and the fuzz targets of
// this repository, not for users: their contents are reachable (and
// documented) through the re-exports at the root.
#[doc(hidden)]
pub mod generated;
mod handle;
#[doc(hidden)]
pub mod last_error;
#[doc(hidden)]
pub mod protocol;
mod settings;
mod tls;
mod transport;
mod uri;

#[cfg(feature = "tokio")]
pub use asynch::AsyncHandle;
pub use buffer::AioBuffer;
pub use error::{Error, Result};
pub use generated::types::*;
pub use handle::Handle;
pub use socket2::SockAddr;

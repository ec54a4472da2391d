//! A memory-safe NBD client engine.
//!
//! The protocol lives in [`protocol`], a sans-IO state machine; the
//! drivers around it (blocking calls, aio/poll integration, in
//! `driver`) do the I/O. The public API is [`Handle`], whose methods are
//! generated from `api.yaml` into `generated/dispatch.rs` and call the
//! hand-written `do_*` functions in `calls`.

mod buffer;
mod calls;
mod driver;
mod error;
pub mod generated;
mod handle;
pub mod last_error;
pub mod protocol;
mod settings;
mod tls;
mod transport;
mod uri;

pub use buffer::AioBuffer;
pub use error::{Error, Result};
pub use generated::types::*;
pub use handle::Handle;
pub use socket2::SockAddr;

//! Errors every phase of the protocol machine reports, shared by the
//! handler files so that none of them imports another.

use crate::Error;

/// The peer broke the protocol (EPROTO); `msg` says how.
pub(super) fn protocol_error(msg: impl Into<String>) -> Error {
    Error::new(libc::EPROTO, msg)
}

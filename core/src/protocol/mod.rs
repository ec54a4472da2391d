//! The sans-IO NBD protocol machine.
//!
//! [`Machine`] holds the whole client side of one NBD connection: the
//! handshake, option negotiation, and the transmission phase with many
//! commands in flight. It never touches a socket, a clock or a thread;
//! drivers move bytes between it and the transport (see
//! docs/protocol-machine.md).
//!
//! Files: `machine` (state and entry points), `handshake` (greeting,
//! flags, export name, automatic negotiation order), `options` (option
//! haggling), `submit` (strict checks and request encoding), `reply`
//! (reply parsing), `commands` (the command table and callback order),
//! `starttls` (NBD_OPT_STARTTLS and the rules against downgrades),
//! `inbuf`/`outqueue` (byte buffers), `wire` (protocol numbers).

mod commands;
mod errors;
mod handshake;
mod inbuf;
mod machine;
mod options;
mod outqueue;
mod reply;
mod starttls;
mod submit;
mod types;
pub mod wire;

#[cfg(test)]
mod tests;

pub use machine::Machine;
pub use types::{
    Command, CommandKind, Config, Direction, ExtentSink, MetaContext, Negotiated, OptOutcome,
    OptRequest, Stats, MAX_REQUEST_SIZE,
};

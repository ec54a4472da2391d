//! The sans-IO NBD protocol machine.
//!
//! [`Machine`] holds the whole client side of one NBD connection: the
//! handshake, option negotiation, and the transmission phase with many
//! commands in flight. It never touches a socket, a clock or a thread;
//! drivers move bytes between it and the transport (see
//! docs/protocol-machine.md).
//!
//! Files: `state` (the states as types, each holding the data its step
//! needs), `machine` (what every phase uses, and the entry points),
//! `handshake` (greeting, flags, export name, automatic negotiation
//! order), `options` (option haggling), `starttls` (NBD_OPT_STARTTLS and
//! the rules against downgrades), `submit` (strict checks and request
//! encoding), `reply` (reply parsing), `commands` (the command table and
//! callback order), `errors` (errors shared by the phases),
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
mod state;
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

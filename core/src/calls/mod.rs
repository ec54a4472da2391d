//! The hand-written `do_*` side of every call in api.yaml, grouped by
//! topic. The generated dispatch (`generated/dispatch.rs`) has already
//! taken the lock and checked the state, enums and flags.

mod aio;
mod connect;
mod data;
mod info;
pub(crate) mod misc;
mod opt;
mod settings;

//! The public vocabulary of the protocol machine: its configuration, the
//! commands and options a driver hands it, and what it reports back.

use crate::generated::types::{
    ChunkCallback, CmdFlag, CompletionCallback, ContextCallback, Extent64Callback, ExtentCallback,
    HandshakeFlag, ListCallback, Size, Strict, Tls,
};
use crate::AioBuffer;

/// What a connection asks of the server, copied from the handle's settings
/// when the connection starts. During opt mode the driver may change it
/// between options through [`super::Machine::config_mut`] (libnbd lets
/// `nbd_set_export_name` and friends run while negotiating).
#[derive(Debug, Clone)]
pub struct Config {
    /// The export to select (`nbd_set_export_name`).
    pub export_name: String,
    /// Ask for structured replies during automatic negotiation.
    pub request_structured_replies: bool,
    /// Ask for extended headers during automatic negotiation.
    pub request_extended_headers: bool,
    /// Negotiate `meta_contexts` with NBD_OPT_SET_META_CONTEXT before GO
    /// (`nbd_set_request_meta_context`).
    pub request_meta_context: bool,
    /// The meta contexts added with `nbd_add_meta_context`.
    pub meta_contexts: Vec<String>,
    /// Handshake flags the client is willing to use.
    pub handshake_flags: HandshakeFlag,
    /// Ask for NBD_INFO_NAME and NBD_INFO_DESCRIPTION (`nbd_set_full_info`).
    pub full_info: bool,
    /// Ask for NBD_INFO_BLOCK_SIZE (`nbd_set_request_block_size`).
    pub request_block_size: bool,
    /// Stop in the Negotiating state and let the caller issue options.
    pub opt_mode: bool,
    /// The TLS policy.
    pub tls: Tls,
    /// Client-side checks done when a command is submitted.
    pub strict: Strict,
    /// The handle's nbd_set_pread_initialize: read buffers are zeroed by
    /// the dispatch layer before any check (the machine only zeroes the
    /// holes a server reports).
    pub pread_initialize: bool,
    /// Produce debug messages for [`super::Machine::take_debug`]. Off by
    /// default so that the hot path formats nothing.
    pub debug: bool,
    /// Connecting and the whole handshake must end within this
    /// (`nbd_set_connect_timeout`); counted from [`super::Machine::start_clock`].
    pub connect_timeout: Option<std::time::Duration>,
    /// Every command must be answered within this
    /// (`nbd_set_request_timeout`); counted from
    /// [`super::Machine::command_started_at`].
    pub request_timeout: Option<std::time::Duration>,
    /// When the connection breaks in the transmission phase, keep the
    /// commands not yet answered (and accept new ones) for another
    /// machine to send again ([`super::Machine::adopt`]) instead of
    /// failing them: the handle is reconnecting.
    pub keep_on_break: bool,
    /// Reconnecting was asked for but the transport cannot be dialled
    /// again: a break says so.
    pub cannot_redial: bool,
}

impl Default for Config {
    /// libnbd's defaults for a new handle.
    fn default() -> Config {
        Config {
            export_name: String::new(),
            request_structured_replies: true,
            request_extended_headers: true,
            request_meta_context: true,
            meta_contexts: Vec::new(),
            handshake_flags: HandshakeFlag(
                HandshakeFlag::FIXED_NEWSTYLE.bits() | HandshakeFlag::NO_ZEROES.bits(),
            ),
            full_info: false,
            request_block_size: true,
            opt_mode: false,
            tls: Tls::DISABLE,
            strict: Strict(
                Strict::COMMANDS.bits()
                    | Strict::FLAGS.bits()
                    | Strict::BOUNDS.bits()
                    | Strict::ZERO_SIZE.bits()
                    | Strict::ALIGN.bits()
                    | Strict::PAYLOAD.bits()
                    | Strict::AUTO_FLAG.bits(),
            ),
            pread_initialize: true,
            debug: false,
            connect_timeout: None,
            request_timeout: None,
            keep_on_break: false,
            cannot_redial: false,
        }
    }
}

/// Whether the machine wants the socket to be read, written, both or
/// neither; the numeric values are `LIBNBD_AIO_DIRECTION_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Direction(pub u32);

impl Direction {
    pub const NONE: Direction = Direction(0);
    pub const READ: Direction = Direction(1);
    pub const WRITE: Direction = Direction(2);
    pub const BOTH: Direction = Direction(3);

    pub fn bits(self) -> u32 {
        self.0
    }
    /// The machine wants to read.
    pub fn reads(self) -> bool {
        self.0 & 1 != 0
    }
    /// The machine has bytes to write.
    pub fn writes(self) -> bool {
        self.0 & 2 != 0
    }
}

/// One option for opt mode (`nbd_opt_*` / `nbd_aio_opt_*`).
pub enum OptRequest {
    /// NBD_OPT_GO with the configured export name, info requests and (when
    /// not yet set) meta contexts; success enters transmission.
    Go,
    /// NBD_OPT_INFO: as Go but stays negotiating, updating `info()`.
    Info,
    /// NBD_OPT_LIST; the callback receives each export name and description.
    List(ListCallback),
    /// NBD_OPT_ABORT: end the connection cleanly.
    Abort,
    /// NBD_OPT_STARTTLS.
    StartTls,
    /// NBD_OPT_STRUCTURED_REPLY.
    StructuredReply,
    /// NBD_OPT_EXTENDED_HEADERS.
    ExtendedHeaders,
    /// NBD_OPT_LIST_META_CONTEXT with these queries, or the configured
    /// meta contexts when `None`.
    ListMetaContext {
        queries: Option<Vec<String>>,
        callback: ContextCallback,
    },
    /// NBD_OPT_SET_META_CONTEXT with these queries, or the configured meta
    /// contexts when `None`.
    SetMetaContext {
        queries: Option<Vec<String>>,
        callback: ContextCallback,
    },
}

/// What a finished option returns to its `nbd_opt_*` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOutcome {
    /// The option succeeded with nothing to report (go, info, abort).
    Done,
    /// A count: exports for List, contexts for the meta context options.
    Count(i32),
    /// Whether the server accepted the request (structured replies,
    /// extended headers, STARTTLS).
    Accepted(bool),
}

impl OptOutcome {
    /// The value the C API returns for this outcome.
    pub fn as_i64(self) -> i64 {
        match self {
            OptOutcome::Done => 0,
            OptOutcome::Count(n) => n as i64,
            OptOutcome::Accepted(b) => b as i64,
        }
    }
}

/// The callback receiving block status extents, in the width the caller
/// asked for; the machine converts between wire width and callback width.
pub enum ExtentSink {
    /// `nbd_block_status`: 32-bit (length, flags) pairs.
    Narrow(ExtentCallback),
    /// `nbd_block_status_64` / `_filter`: 64-bit extents.
    Wide(Extent64Callback),
}

/// A transmission-phase command.
pub enum CommandKind {
    /// NBD_CMD_READ into `buf` (its whole length). With a chunk callback
    /// this is `pread_structured`.
    Read {
        buf: AioBuffer,
        offset: u64,
        chunk: Option<ChunkCallback>,
    },
    /// NBD_CMD_WRITE of `buf` (its whole length).
    Write { buf: AioBuffer, offset: u64 },
    /// NBD_CMD_FLUSH.
    Flush,
    /// NBD_CMD_TRIM.
    Trim { count: u64, offset: u64 },
    /// NBD_CMD_CACHE.
    Cache { count: u64, offset: u64 },
    /// NBD_CMD_WRITE_ZEROES.
    Zero { count: u64, offset: u64 },
    /// NBD_CMD_BLOCK_STATUS. With `filter`, only those meta contexts are
    /// asked for (extended headers' payload form, `block_status_filter`).
    BlockStatus {
        count: u64,
        offset: u64,
        sink: ExtentSink,
        filter: Option<Vec<String>>,
    },
}

impl CommandKind {
    pub fn read(buf: AioBuffer, offset: u64, chunk: Option<ChunkCallback>) -> CommandKind {
        CommandKind::Read { buf, offset, chunk }
    }

    pub fn write(buf: AioBuffer, offset: u64) -> CommandKind {
        CommandKind::Write { buf, offset }
    }

    pub fn trim(count: u64, offset: u64) -> CommandKind {
        CommandKind::Trim { count, offset }
    }

    pub fn cache(count: u64, offset: u64) -> CommandKind {
        CommandKind::Cache { count, offset }
    }

    pub fn zero(count: u64, offset: u64) -> CommandKind {
        CommandKind::Zero { count, offset }
    }

    pub fn block_status(
        count: u64,
        offset: u64,
        sink: ExtentSink,
        filter: Option<Vec<String>>,
    ) -> CommandKind {
        CommandKind::BlockStatus {
            count,
            offset,
            sink,
            filter,
        }
    }
}

/// A command as submitted by `nbd_aio_*`: what to do, its flags and its
/// optional completion callback.
pub struct Command {
    pub kind: CommandKind,
    pub flags: CmdFlag,
    pub completion: Option<CompletionCallback>,
}

/// A meta context the server agreed to, with the id it gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaContext {
    pub name: String,
    pub id: u32,
}

/// Everything learned during negotiation.
#[derive(Debug, Clone, Default)]
pub struct Negotiated {
    /// "oldstyle", "newstyle" or "newstyle-fixed" once known.
    pub protocol: Option<&'static str>,
    /// Whether `size` and `eflags` hold a server's answer (after
    /// EXPORT_NAME, a successful GO or INFO, or oldstyle).
    pub export_valid: bool,
    pub size: u64,
    /// Transmission flags (NBD_FLAG_*).
    pub eflags: u16,
    /// Block size constraints; 0 when the server did not send them.
    pub block_minimum: u32,
    pub block_preferred: u32,
    pub block_maximum: u32,
    pub structured_replies: bool,
    pub extended_headers: bool,
    /// Whether `meta_contexts` is the answer to a SET_META_CONTEXT for the
    /// current export (libnbd's `meta_valid`).
    pub meta_valid: bool,
    pub meta_contexts: Vec<MetaContext>,
    pub canonical_name: Option<String>,
    pub description: Option<String>,
    pub tls: bool,
}

/// Counters of traffic as libnbd counts it (`nbd_stats_*`): a chunk is a
/// request or reply header, or a handshake message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub bytes_sent: u64,
    pub chunks_sent: u64,
    pub bytes_received: u64,
    pub chunks_received: u64,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, t: Stats) {
        self.bytes_sent += t.bytes_sent;
        self.chunks_sent += t.chunks_sent;
        self.bytes_received += t.bytes_received;
        self.chunks_received += t.chunks_received;
    }
}

/// Largest read or write payload libnbd allows in one request.
pub const MAX_REQUEST_SIZE: u64 = 64 * 1024 * 1024;

/// The payload every server must accept when it advertises no maximum.
const DEFAULT_PAYLOAD_MAXIMUM: u64 = 32 * 1024 * 1024;

impl Negotiated {
    fn flag(&self, bit: u16) -> bool {
        self.eflags & bit != 0
    }
    pub fn is_read_only(&self) -> bool {
        self.flag(super::wire::FLAG_READ_ONLY)
    }
    pub fn can_flush(&self) -> bool {
        self.flag(super::wire::FLAG_SEND_FLUSH)
    }
    pub fn can_fua(&self) -> bool {
        self.flag(super::wire::FLAG_SEND_FUA)
    }
    pub fn is_rotational(&self) -> bool {
        self.flag(super::wire::FLAG_ROTATIONAL)
    }
    pub fn can_trim(&self) -> bool {
        self.flag(super::wire::FLAG_SEND_TRIM)
    }
    pub fn can_zero(&self) -> bool {
        self.flag(super::wire::FLAG_SEND_WRITE_ZEROES)
    }
    pub fn can_df(&self) -> bool {
        self.flag(super::wire::FLAG_SEND_DF)
    }
    pub fn can_multi_conn(&self) -> bool {
        self.flag(super::wire::FLAG_CAN_MULTI_CONN)
    }
    pub fn can_cache(&self) -> bool {
        self.flag(super::wire::FLAG_SEND_CACHE)
    }
    pub fn can_fast_zero(&self) -> bool {
        self.flag(super::wire::FLAG_SEND_FAST_ZERO)
    }
    pub fn can_block_status_payload(&self) -> bool {
        self.flag(super::wire::FLAG_BLOCK_STATUS_PAYLOAD)
    }
    /// Whether the named meta context was negotiated.
    pub fn can_meta_context(&self, name: &str) -> bool {
        self.meta_valid && self.meta_contexts.iter().any(|m| m.name == name)
    }
    /// The id the server gave a negotiated meta context.
    pub fn meta_context_id(&self, name: &str) -> Option<u32> {
        self.meta_contexts
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.id)
    }
    /// `nbd_get_block_size`: the constraint, 0 when unknown (except the
    /// payload size, see [`Negotiated::payload_maximum`]).
    pub fn block_size(&self, which: Size) -> i64 {
        if which.0 == Size::MINIMUM.0 {
            self.block_minimum as i64
        } else if which.0 == Size::PREFERRED.0 {
            self.block_preferred as i64
        } else if which.0 == Size::MAXIMUM.0 {
            self.block_maximum as i64
        } else if which.0 == Size::PAYLOAD.0 {
            self.payload_maximum() as i64
        } else {
            0
        }
    }
    /// The largest write payload sent under STRICT_PAYLOAD (libnbd's
    /// LIBNBD_SIZE_PAYLOAD): the server's maximum kept between 1 MiB and
    /// 64 MiB, or the protocol's default of 32 MiB when none was sent.
    pub fn payload_maximum(&self) -> u64 {
        if self.block_maximum != 0 {
            (self.block_maximum as u64).clamp(1 << 20, MAX_REQUEST_SIZE)
        } else {
            DEFAULT_PAYLOAD_MAXIMUM
        }
    }
}

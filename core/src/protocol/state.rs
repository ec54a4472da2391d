//! Where the connection stands, as types: each state is named after what
//! it waits for and holds the data that step needs, so data of one phase
//! does not exist in the others. The handlers live in the phase files
//! (handshake.rs, options.rs, starttls.rs, submit.rs, reply.rs); what
//! every phase uses is `machine::Context`.

use super::commands::Commands;
use super::wire;
use crate::generated::types::{CompletionCallback, ContextCallback, Extent, ListCallback};
use crate::Error;

pub(super) enum State {
    /// Not started.
    Created,
    /// Waiting for NBDMAGIC and the oldstyle/newstyle magic (16 bytes).
    RecvMagic,
    /// Waiting for the rest of an oldstyle greeting.
    RecvOldstyle,
    /// Waiting for the newstyle handshake flags.
    RecvGflags,
    /// An option is out; waiting for its replies.
    RecvOptReply {
        opt: OptInProgress,
        /// Bytes of an oversized option reply still to discard.
        skip: u64,
    },
    /// NBD_OPT_EXPORT_NAME is out; waiting for size and flags. `user` is
    /// the caller's opt_go it stands in for (opt mode).
    RecvExportName { user: Option<OptInProgress> },
    /// The server accepted NBD_OPT_STARTTLS (the option held here):
    /// waiting for the driver to run the TLS handshake
    /// (`Machine::tls_established`). No NBD byte moves in either
    /// direction meanwhile.
    TlsHandshake(OptInProgress),
    /// Opt mode: waiting for the caller's next option.
    Negotiating,
    /// NBD_OPT_ABORT is queued; the connection ends once it is sent.
    SendAbort(AbortCause),
    /// Transmission phase.
    Ready(Transmission),
    /// Shut down cleanly.
    Closed(Ended),
    /// Failed, and why.
    Dead { error: Error, ended: Ended },
}

/// What a connection that is over still answers for.
pub(super) struct Ended {
    /// Commands that completed (with ENOTCONN if the end came first) and
    /// that the caller has not collected yet.
    pub cmds: Commands,
    /// NBD_CMD_DISC had been queued: a second disconnect stays EINVAL.
    pub disconnect_requested: bool,
    /// The connection broke with `keep_on_break`: the commands not
    /// answered are kept, unsent, for a new connection to adopt.
    pub broken: bool,
}

impl Ended {
    pub(super) fn nothing() -> Ended {
        Ended {
            cmds: Commands::new(),
            disconnect_requested: false,
            broken: false,
        }
    }
}

/// What leaving a live state leaves behind: the option it was
/// negotiating, its commands, and the failure an NBD_OPT_ABORT carried.
pub(super) struct WindDown {
    pub opt: Option<OptInProgress>,
    pub ended: Ended,
    pub failure: Option<Error>,
}

impl State {
    /// Take apart a live state as the connection ends.
    pub(super) fn wind_down(self) -> WindDown {
        let mut w = WindDown {
            opt: None,
            ended: Ended::nothing(),
            failure: None,
        };
        match self {
            State::RecvOptReply { opt, .. } | State::TlsHandshake(opt) => w.opt = Some(opt),
            State::RecvExportName { user } => w.opt = user,
            State::SendAbort(AbortCause::User(opt)) => w.opt = Some(opt),
            State::SendAbort(AbortCause::Failed(err)) => w.failure = Some(err),
            State::Ready(t) => {
                w.ended = Ended {
                    cmds: t.cmds,
                    disconnect_requested: t.disconnect_requested,
                    broken: false,
                }
            }
            State::Closed(ended) | State::Dead { ended, .. } => w.ended = ended,
            State::Created
            | State::RecvMagic
            | State::RecvOldstyle
            | State::RecvGflags
            | State::Negotiating
            | State::SendAbort(AbortCause::Disconnect) => {}
        }
        w
    }

    /// The command table, in the states that have one.
    pub(super) fn commands(&self) -> Option<&Commands> {
        match self {
            State::Ready(t) => Some(&t.cmds),
            State::Closed(e) | State::Dead { ended: e, .. } => Some(&e.cmds),
            _ => None,
        }
    }

    pub(super) fn commands_mut(&mut self) -> Option<&mut Commands> {
        match self {
            State::Ready(t) => Some(&mut t.cmds),
            State::Closed(e) | State::Dead { ended: e, .. } => Some(&mut e.cmds),
            _ => None,
        }
    }

    pub(super) fn is_over(&self) -> bool {
        matches!(self, State::Closed(_) | State::Dead { .. })
    }
}

/// Why NBD_OPT_ABORT is on its way out.
pub(super) enum AbortCause {
    /// The caller's opt_abort, which completes once it is sent.
    User(OptInProgress),
    /// nbd_aio_disconnect or nbd_shutdown while negotiating.
    Disconnect,
    /// Automatic negotiation failed: the machine dies with this error
    /// once the abort is sent (or the server hangs up first).
    Failed(Error),
}

/// Where automatic negotiation goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AutoStep {
    /// Right after the client flags.
    Start,
    /// NBD_OPT_STARTTLS has been answered (and TLS is up, or was refused
    /// under `Tls::ALLOW`).
    AfterStartTls,
    /// NBD_OPT_EXTENDED_HEADERS has been answered.
    AfterExtendedHeaders,
    /// NBD_OPT_STRUCTURED_REPLY has been answered.
    AfterStructuredReply,
}

/// Who asked for an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Automatic negotiation: failures of GO end the connection, others
    /// are noted and skipped; nobody collects a result.
    Auto,
    /// The caller, in opt mode: the result goes to `option_result()` and
    /// the completion callback, and negotiation continues.
    User,
}

/// The option being negotiated.
pub(super) struct OptInProgress {
    /// Which option is out, with what its replies need.
    pub kind: OptKind,
    pub purpose: Purpose,
    pub completion: Option<CompletionCallback>,
    /// Replies and reply bytes received for this option so far (the
    /// flood bounds).
    pub replies: u32,
    pub reply_bytes: u64,
}

/// One variant per option, holding what that option's replies use.
pub(super) enum OptKind {
    /// NBD_OPT_GO, or NBD_OPT_INFO when `info`; `export_seen`:
    /// NBD_INFO_EXPORT arrived (required before either succeeds).
    Go {
        info: bool,
        export_seen: bool,
    },
    /// NBD_OPT_LIST: exports reported so far, and the caller's callback.
    List {
        callback: Option<ListCallback>,
        count: i32,
    },
    /// NBD_OPT_LIST_META_CONTEXT: contexts reported so far.
    ListMeta {
        callback: Option<ContextCallback>,
        count: i32,
    },
    /// NBD_OPT_SET_META_CONTEXT for `export_name`: only contexts named
    /// by one of `queries` are accepted. `then` is NBD_OPT_GO or
    /// NBD_OPT_INFO when this is the prelude to one of them.
    SetMeta {
        callback: Option<ContextCallback>,
        count: i32,
        export_name: String,
        queries: Vec<String>,
        then: Option<u32>,
    },
    StartTls,
    StructuredReply,
    ExtendedHeaders,
    /// NBD_OPT_EXPORT_NAME standing in for the caller's opt_go.
    ExportName,
    /// The caller's opt_abort.
    Abort,
}

impl OptKind {
    /// The NBD_OPT_* on the wire.
    pub(super) fn code(&self) -> u32 {
        self.code_and_state_name().0
    }

    /// The NBD_OPT_* on the wire, and the fine state name (libnbd's)
    /// while its reply is awaited.
    fn code_and_state_name(&self) -> (u32, &'static str) {
        match self {
            OptKind::Go { info: false, .. } => (wire::OPT_GO, "NEWSTYLE.OPT_GO.RECV_REPLY"),
            OptKind::Go { info: true, .. } => (wire::OPT_INFO, "NEWSTYLE.OPT_INFO.RECV_REPLY"),
            OptKind::List { .. } => (wire::OPT_LIST, "NEWSTYLE.OPT_LIST.RECV_REPLY"),
            OptKind::ListMeta { .. } => (
                wire::OPT_LIST_META_CONTEXT,
                "NEWSTYLE.OPT_LIST_META_CONTEXT.RECV_REPLY",
            ),
            OptKind::SetMeta { .. } => (
                wire::OPT_SET_META_CONTEXT,
                "NEWSTYLE.OPT_SET_META_CONTEXT.RECV_REPLY",
            ),
            OptKind::StartTls => (wire::OPT_STARTTLS, "NEWSTYLE.OPT_STARTTLS.RECV_REPLY"),
            OptKind::StructuredReply => (
                wire::OPT_STRUCTURED_REPLY,
                "NEWSTYLE.OPT_STRUCTURED_REPLY.RECV_REPLY",
            ),
            OptKind::ExtendedHeaders => (
                wire::OPT_EXTENDED_HEADERS,
                "NEWSTYLE.OPT_EXTENDED_HEADERS.RECV_REPLY",
            ),
            OptKind::ExportName => (wire::OPT_EXPORT_NAME, "NEWSTYLE.OPT_EXPORT_NAME.RECV_REPLY"),
            OptKind::Abort => (wire::OPT_ABORT, "NEWSTYLE.RECV_REPLY"),
        }
    }

    /// NBD_OPT_GO, or NBD_OPT_INFO when `info`, before any reply.
    pub(super) fn go(info: bool) -> OptKind {
        OptKind::Go {
            info,
            export_seen: false,
        }
    }

    /// NBD_OPT_SET_META_CONTEXT before it is sent (sending fills in the
    /// export name and queries), as the prelude to `then` if any.
    pub(super) fn set_meta(then: Option<u32>, callback: Option<ContextCallback>) -> OptKind {
        OptKind::SetMeta {
            callback,
            count: 0,
            export_name: String::new(),
            queries: Vec::new(),
            then,
        }
    }
}

impl OptInProgress {
    pub(super) fn new(
        kind: OptKind,
        purpose: Purpose,
        completion: Option<CompletionCallback>,
    ) -> OptInProgress {
        OptInProgress {
            kind,
            purpose,
            completion,
            replies: 0,
            reply_bytes: 0,
        }
    }

    pub(super) fn state_name(&self) -> &'static str {
        self.kind.code_and_state_name().1
    }

    /// Drop the callbacks in libnbd's order: mid-option first.
    pub(super) fn drop_callbacks(self) {
        let OptInProgress {
            kind, completion, ..
        } = self;
        drop(kind);
        drop(completion);
    }
}

/// The transmission phase.
///
/// It keeps a table of commands because NBD replies arrive in any order
/// and name their command only by cookie; a command's buffer and
/// callbacks must stay with it until it retires (completion callback
/// returned 1 or the caller collected it); and with structured or
/// extended replies one command gets several chunks, each matched to it
/// by cookie, the last one flagged DONE.
pub(super) struct Transmission {
    pub cmds: Commands,
    pub reply: ReplyState,
    /// NBD_CMD_DISC is queued: no more commands or disconnects.
    pub disconnect_requested: bool,
    /// The last `input_buffer` was a command's buffer, not `inbuf`.
    pub direct: bool,
    /// Reused buffers for converting block status entries.
    pub scratch32: Vec<u32>,
    pub scratch64: Vec<Extent>,
    /// When each command must be answered by (with a request timeout),
    /// in the order they were issued; entries of commands that completed
    /// are dropped when they reach the front.
    pub deadlines: std::collections::VecDeque<(std::time::Instant, u64)>,
}

impl Transmission {
    pub(super) fn new() -> Transmission {
        Transmission {
            cmds: Commands::new(),
            reply: ReplyState::Header,
            disconnect_requested: false,
            direct: false,
            scratch32: Vec::new(),
            scratch64: Vec::new(),
            deadlines: std::collections::VecDeque::new(),
        }
    }
}

/// A structured or extended reply chunk header.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChunkHdr {
    pub flags: u16,
    pub typ: u16,
    pub cookie: u64,
    pub length: u64,
}

impl ChunkHdr {
    /// A header from its bytes `b` (magic first): flags, type and cookie
    /// stand at the same places in both forms; the payload `length` does
    /// not.
    pub(super) fn parse(b: &[u8], length: u64) -> ChunkHdr {
        ChunkHdr {
            flags: wire::be16(b, 4),
            typ: wire::be16(b, 6),
            cookie: wire::be64(b, 8),
            length,
        }
    }

    pub(super) fn done(&self) -> bool {
        self.flags & wire::REPLY_FLAG_DONE != 0
    }
}

/// What to do once read data has arrived.
#[derive(Debug, Clone, Copy)]
pub(super) enum AfterData {
    /// The data of a simple reply: the command is complete.
    SimpleReply,
    /// The data of an OFFSET_DATA chunk at `start` in the buffer (`abs` in
    /// the export): tell the chunk callback, finish if it was the last.
    Chunk {
        hdr: ChunkHdr,
        start: usize,
        len: usize,
        abs: u64,
    },
}

/// Where reply parsing stands (the transmission phase's sub-state).
#[derive(Debug, Clone, Copy)]
pub(super) enum ReplyState {
    /// Waiting for a reply header.
    Header,
    /// Waiting for `need` bytes of the payload of the chunk `hdr`.
    Payload { hdr: ChunkHdr, need: usize },
    /// Receiving read data into the buffer of `cookie`.
    Data {
        cookie: u64,
        pos: usize,
        remaining: usize,
        then: AfterData,
    },
    /// Discarding the rest of a chunk that is not understood.
    Skip { hdr: ChunkHdr, remaining: u64 },
}

impl ReplyState {
    /// Between replies.
    pub(super) fn is_idle(&self) -> bool {
        matches!(self, ReplyState::Header)
    }

    /// The bytes that end the unit being read (a reply or chunk header,
    /// a chunk's payload, a read's data), `buffered` of which are already
    /// in the input buffer; `extended` says extended headers were
    /// negotiated, and `magic` is the header's magic once 4 bytes of it
    /// are buffered.
    pub(super) fn unit_remaining(
        &self,
        buffered: usize,
        extended: bool,
        magic: Option<u32>,
    ) -> usize {
        let total = match *self {
            ReplyState::Header if extended => 32,
            ReplyState::Header => match magic {
                Some(super::wire::STRUCTURED_REPLY_MAGIC) => 20,
                _ => 16,
            },
            ReplyState::Payload { need, .. } => need,
            ReplyState::Data { remaining, .. } => remaining,
            ReplyState::Skip { remaining, .. } => usize::try_from(remaining).unwrap_or(usize::MAX),
        };
        total.saturating_sub(buffered)
    }

    /// The read data still expected: (cookie, position in its buffer,
    /// bytes remaining).
    pub(super) fn data_target(&self) -> Option<(u64, usize, usize)> {
        match *self {
            ReplyState::Data {
                cookie,
                pos,
                remaining,
                ..
            } if remaining > 0 => Some((cookie, pos, remaining)),
            _ => None,
        }
    }

    /// `n` bytes were received straight into the data target.
    pub(super) fn data_received_direct(&mut self, n: usize) {
        if let ReplyState::Data { pos, remaining, .. } = self {
            let n = n.min(*remaining);
            *pos += n;
            *remaining -= n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each option's fine state name is the one of the option it sends.
    #[test]
    fn option_state_names_follow_the_option_sent() {
        let kinds = [
            OptKind::go(false),
            OptKind::go(true),
            OptKind::List {
                callback: None,
                count: 0,
            },
            OptKind::ListMeta {
                callback: None,
                count: 0,
            },
            OptKind::set_meta(Some(wire::OPT_GO), None),
            OptKind::StartTls,
            OptKind::StructuredReply,
            OptKind::ExtendedHeaders,
            OptKind::ExportName,
        ];
        for kind in kinds {
            let name = wire::opt_name(kind.code());
            let opt = OptInProgress::new(kind, Purpose::Auto, None);
            let short = name.trim_start_matches("NBD_");
            assert_eq!(
                opt.state_name(),
                format!("NEWSTYLE.{short}.RECV_REPLY"),
                "{name}"
            );
        }
    }
}

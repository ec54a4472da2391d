//! The send queue: option messages, request headers and write payloads,
//! in wire order, handed to the driver as one vectored write. Request
//! headers live inline in the queue's slots and write payloads are shared
//! with the caller's buffer, so queueing a request allocates nothing once
//! the queue has grown to its working size.

use std::collections::VecDeque;
use std::io::IoSlice;

use crate::AioBuffer;

/// Most slices offered for one write (IOV_MAX on Linux).
const MAX_SLICES: usize = 1024;

/// What a queued message is, so that the machine can react when its last
/// byte has been written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    /// Handshake traffic: client flags or an option.
    Handshake,
    /// NBD_OPT_ABORT: the connection closes once it is sent.
    OptAbort,
    /// A transmission request with its cookie.
    Request(u64),
}

enum Data {
    /// A request header (at most 32 bytes).
    Inline { bytes: [u8; 32], len: u8 },
    /// Bytes built for this message (options, block status payloads).
    Owned(Vec<u8>),
    /// A write payload straight from the caller's buffer.
    Payload(AioBuffer),
}

struct Seg {
    data: Data,
    tag: Tag,
    /// The last segment of its message.
    last: bool,
}

impl Seg {
    fn bytes(&self) -> &[u8] {
        match &self.data {
            Data::Inline { bytes, len } => &bytes[..*len as usize],
            Data::Owned(v) => v,
            // SAFETY: the queue holds a clone of the buffer, and the
            // caller promised not to modify it while the command is in
            // flight (libnbd's contract for aio write buffers).
            Data::Payload(b) => unsafe { b.as_slice() },
        }
    }
}

/// A message whose last byte was just written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sent {
    pub tag: Tag,
}

#[derive(Default)]
pub(super) struct OutQueue {
    segs: VecDeque<Seg>,
    /// Bytes of the front segment already written.
    front_written: usize,
}

impl OutQueue {
    pub(super) fn new() -> OutQueue {
        OutQueue::default()
    }

    /// Memory the queue itself holds: its slots and the bytes it owns
    /// (a payload lent by the caller is not counted).
    pub(super) fn memory(&self) -> usize {
        self.segs.capacity() * std::mem::size_of::<Seg>()
            + self
                .segs
                .iter()
                .map(|s| match &s.data {
                    Data::Owned(v) => v.capacity(),
                    _ => 0,
                })
                .sum::<usize>()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Queue a whole message built in memory.
    pub(super) fn push_owned(&mut self, bytes: Vec<u8>, tag: Tag) {
        self.segs.push_back(Seg {
            data: Data::Owned(bytes),
            tag,
            last: true,
        });
    }

    /// Queue a request header, optionally followed by a payload.
    pub(super) fn push_request(&mut self, header: &[u8], payload: Option<Payload>, tag: Tag) {
        let mut bytes = [0u8; 32];
        let len = header.len().min(32);
        bytes[..len].copy_from_slice(&header[..len]);
        self.segs.push_back(Seg {
            data: Data::Inline {
                bytes,
                len: len as u8,
            },
            tag,
            last: payload.is_none(),
        });
        match payload {
            None => {}
            Some(Payload::Buffer(b)) => self.segs.push_back(Seg {
                data: Data::Payload(b),
                tag,
                last: true,
            }),
            Some(Payload::Owned(v)) => self.segs.push_back(Seg {
                data: Data::Owned(v),
                tag,
                last: true,
            }),
        }
    }

    /// The unwritten bytes as slices, in order.
    pub(super) fn slices<'a>(&'a self, out: &mut Vec<IoSlice<'a>>) {
        for (i, seg) in self.segs.iter().enumerate() {
            if out.len() >= MAX_SLICES {
                break;
            }
            let b = seg.bytes();
            let b = if i == 0 {
                &b[self.front_written.min(b.len())..]
            } else {
                b
            };
            if !b.is_empty() {
                out.push(IoSlice::new(b));
            }
        }
    }

    /// `n` bytes were written; `on_sent` hears of each message completed.
    pub(super) fn written(&mut self, mut n: usize, mut on_sent: impl FnMut(Sent)) {
        while let Some(front) = self.segs.front() {
            let remaining = front.bytes().len() - self.front_written.min(front.bytes().len());
            if n < remaining {
                self.front_written += n;
                return;
            }
            n -= remaining;
            let seg = self.segs.pop_front().expect("front exists");
            self.front_written = 0;
            if seg.last {
                on_sent(Sent { tag: seg.tag });
            }
        }
    }

    /// Remove the requests no byte of which has been written yet and
    /// report their cookies (nbd_shutdown with ABANDON_PENDING).
    pub(super) fn abandon_unsent(&mut self, mut on_abandoned: impl FnMut(u64)) {
        // The message at the front is kept if it has started going out:
        // cutting it short would desynchronise the stream.
        let mut keep_front_msg = self.front_written > 0;
        let mut kept = VecDeque::with_capacity(self.segs.len());
        let mut in_front_msg = true;
        for seg in self.segs.drain(..) {
            let keep = match seg.tag {
                Tag::Request(cookie) => {
                    if in_front_msg && keep_front_msg {
                        true
                    } else {
                        if seg.last {
                            on_abandoned(cookie);
                        }
                        false
                    }
                }
                _ => true,
            };
            if seg.last {
                in_front_msg = false;
                keep_front_msg = false;
            }
            if keep {
                kept.push_back(seg);
            }
        }
        if kept.is_empty() {
            self.front_written = 0;
        }
        self.segs = kept;
    }

    /// Forget everything (the connection is gone).
    pub(super) fn clear(&mut self) {
        self.segs.clear();
        self.front_written = 0;
    }
}

/// A request's payload.
pub(super) enum Payload {
    Buffer(AioBuffer),
    Owned(Vec<u8>),
}

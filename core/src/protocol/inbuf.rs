//! The receive buffer: bytes read from the socket wait here until a whole
//! message (or the part of one the parser needs) has arrived. One read()
//! of up to its capacity can bring in many small replies at once.

/// Initial capacity: large enough for many replies per read().
pub(super) const INITIAL_CAPACITY: usize = 64 * 1024;

/// A buffer grown beyond this (for one very large message) goes back to
/// the initial capacity once it is empty.
const SHRINK_ABOVE: usize = 1024 * 1024;

pub(super) struct InBuf {
    buf: Vec<u8>,
    /// First unparsed byte.
    start: usize,
    /// One past the last received byte.
    end: usize,
}

impl InBuf {
    pub(super) fn new() -> InBuf {
        InBuf {
            buf: vec![0; INITIAL_CAPACITY],
            start: 0,
            end: 0,
        }
    }

    /// Bytes the buffer holds room for (its memory).
    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The received bytes not yet parsed.
    pub(super) fn avail(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(super) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Drop `n` parsed bytes from the front.
    pub(super) fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        self.start += n;
        if self.start == self.end {
            // Rewinding when empty keeps the whole capacity for the next
            // read() without any copying.
            self.start = 0;
            self.end = 0;
            if self.buf.len() > SHRINK_ABOVE {
                // A huge block status reply grew the buffer; do not keep
                // that memory for the life of the connection.
                self.buf = vec![0; INITIAL_CAPACITY];
            }
        }
    }

    /// Make sure `n` bytes counted from the first unparsed byte fit in the
    /// buffer, so that a message of that size can accumulate.
    pub(super) fn reserve_contiguous(&mut self, n: usize) {
        if self.buf.len() - self.start >= n {
            return;
        }
        self.compact();
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
    }

    /// Where the next received bytes go; never empty.
    pub(super) fn space(&mut self) -> &mut [u8] {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.compact();
            } else {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown.max(INITIAL_CAPACITY), 0);
            }
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were written into `space()`.
    pub(super) fn received(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }
}

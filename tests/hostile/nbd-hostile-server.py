#!/usr/bin/env python3
"""A small NBD server that misbehaves in scripted ways.

It exists to test NBD client libraries against protocol violations.  It
uses only the Python 3 standard library (3.9+).

By default it speaks NBD over fd 0 (read) and fd 1 (write), which is
what libnbd's nbd_connect_command() provides (both are the same
connected socket).  With --unix PATH it instead listens on a Unix
socket, serves exactly one connection and exits.  When started with
systemd socket activation (LISTEN_PID/LISTEN_FDS, as libnbd's
nbd_connect_systemd_socket_activation() and "nbdinfo [ CMD ]" do) it
accepts one connection on fd 3.

Usage:
    nbd-hostile-server.py [--scenario NAME] [--size BYTES]
                          [--unix PATH] [--verbose] [--extended-headers]

The export contents are a deterministic pattern: the byte at offset o
is (o % 251).  Writes are kept in memory; trim and write-zeroes store
zeroes.  See README.md next to this file for the list of scenarios.

The process exits by itself when the client goes away (EOF on read,
error on write), on NBD_CMD_DISC / NBD_OPT_ABORT, and in any case after
60 seconds (SIGALRM).
"""

import argparse
import bisect
import os
import signal
import socket
import struct
import sys
import time

# ---------------------------------------------------------------------------
# Protocol constants (doc/proto.md, plus the EXTENDED_HEADERS extension)

NBDMAGIC = 0x4E42444D41474943  # "NBDMAGIC"
IHAVEOPT = 0x49484156454F5054  # "IHAVEOPT"
OPT_REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
EXTENDED_REQUEST_MAGIC = 0x21E41C71
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF
EXTENDED_REPLY_MAGIC = 0x6E8A278C

# Handshake flags (server) and client flags
NBD_FLAG_FIXED_NEWSTYLE = 1 << 0
NBD_FLAG_NO_ZEROES = 1 << 1
NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0
NBD_FLAG_C_NO_ZEROES = 1 << 1

# Transmission flags
NBD_FLAG_HAS_FLAGS = 1 << 0
NBD_FLAG_READ_ONLY = 1 << 1
NBD_FLAG_SEND_FLUSH = 1 << 2
NBD_FLAG_SEND_FUA = 1 << 3
NBD_FLAG_ROTATIONAL = 1 << 4
NBD_FLAG_SEND_TRIM = 1 << 5
NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6
NBD_FLAG_SEND_DF = 1 << 7
NBD_FLAG_CAN_MULTI_CONN = 1 << 8
NBD_FLAG_SEND_CACHE = 1 << 10

# Options
NBD_OPT_EXPORT_NAME = 1
NBD_OPT_ABORT = 2
NBD_OPT_LIST = 3
NBD_OPT_STARTTLS = 5
NBD_OPT_INFO = 6
NBD_OPT_GO = 7
NBD_OPT_STRUCTURED_REPLY = 8
NBD_OPT_LIST_META_CONTEXT = 9
NBD_OPT_SET_META_CONTEXT = 10
NBD_OPT_EXTENDED_HEADERS = 11


def constant_names(prefix, but=()):
    """The constants named `prefix`... defined so far, as value -> name
    without the prefix (for logging); names starting with `but` are left
    out."""
    return {value: name[len(prefix):]
            for name, value in globals().items()
            if name.startswith(prefix) and not name.startswith(but)}


OPT_NAMES = constant_names("NBD_OPT_")
OPT_NAMES[4] = "PEEK_EXPORT"  # never sent by a client we test

# Option reply types
NBD_REP_ACK = 1
NBD_REP_SERVER = 2
NBD_REP_INFO = 3
NBD_REP_META_CONTEXT = 4
NBD_REP_ERR_UNSUP = (1 << 31) + 1
NBD_REP_ERR_POLICY = (1 << 31) + 2
NBD_REP_ERR_INVALID = (1 << 31) + 3
NBD_REP_ERR_UNKNOWN = (1 << 31) + 6

REP_NAMES = constant_names("NBD_REP_")

# Info types
NBD_INFO_EXPORT = 0

# Commands
NBD_CMD_READ = 0
NBD_CMD_WRITE = 1
NBD_CMD_DISC = 2
NBD_CMD_FLUSH = 3
NBD_CMD_TRIM = 4
NBD_CMD_CACHE = 5
NBD_CMD_WRITE_ZEROES = 6
NBD_CMD_BLOCK_STATUS = 7

CMD_NAMES = constant_names("NBD_CMD_", but=("NBD_CMD_FLAG_",))

# Command flags
NBD_CMD_FLAG_FUA = 1 << 0
NBD_CMD_FLAG_NO_HOLE = 1 << 1
NBD_CMD_FLAG_DF = 1 << 2
NBD_CMD_FLAG_REQ_ONE = 1 << 3
NBD_CMD_FLAG_FAST_ZERO = 1 << 4
NBD_CMD_FLAG_PAYLOAD_LEN = 1 << 5

# Structured / extended reply flags and types
NBD_REPLY_FLAG_DONE = 1 << 0
NBD_REPLY_TYPE_NONE = 0
NBD_REPLY_TYPE_OFFSET_DATA = 1
NBD_REPLY_TYPE_OFFSET_HOLE = 2
NBD_REPLY_TYPE_BLOCK_STATUS = 5
NBD_REPLY_TYPE_BLOCK_STATUS_EXT = 6
NBD_REPLY_TYPE_ERROR = (1 << 15) + 1
NBD_REPLY_TYPE_ERROR_OFFSET = (1 << 15) + 2
UNKNOWN_CHUNK_TYPE = 77

# Errors
NBD_EPERM = 1
NBD_EIO = 5
NBD_EINVAL = 22
NBD_ENOSPC = 28
NBD_EOVERFLOW = 75

BASE_ALLOCATION = "base:allocation"

# Sanity limits so a confused client cannot make us allocate gigabytes.
MAX_OPTION_LEN = 1 << 20
MAX_PAYLOAD = 64 << 20

SCENARIOS = {
    "normal": "well-behaved server",
    "short-read": "reads: one OFFSET_DATA+DONE chunk covering only the first half",
    "read-none": "reads: only a NONE+DONE chunk, no data",
    "overlap-read": "reads: whole-request OFFSET_DATA, then the first half again (DONE)",
    "unknown-chunk": "reads: a chunk of unknown non-error type 77, then correct data",
    "bs-zero-length": "block status: extents (512, 0) and (0, 1)",
    "bs-past-end": "block status: extent to end of export, then 512 more bytes",
    "bs-wrong-context": "block status: chunk for never-negotiated context id 99",
    "meta-unrequested": "SET_META_CONTEXT also returns unrequested id 2 'qemu:evil'",
    "list-flood": "NBD_OPT_LIST: endless NBD_REP_SERVER replies, never an ACK",
    "meta-flood": "(LIST|SET)_META_CONTEXT: endless META_CONTEXT replies, no ACK",
    "plain-newstyle": "non-fixed newstyle: only NBD_OPT_EXPORT_NAME understood",
    "extended-offset": "extended headers; every reply header offset = request offset + 1",
    "disconnect-mid-reply": "reads: header and half the data, then hang up",
    "trickle": "well-behaved, but every byte is written on its own, with pauses",
    "close-in-flight": "waits for 64 requests, answers 10, half of the 11th, hangs up",
}

VERBOSE = False


def log(msg):
    if VERBOSE:
        sys.stderr.write("nbd-hostile-server[%d]: %s\n" % (os.getpid(), msg))
        sys.stderr.flush()


class ClientGone(Exception):
    """The client closed the connection (EOF or write failure)."""


class Hangup(Exception):
    """The server decided to drop the connection."""


# ---------------------------------------------------------------------------
# The export: pattern (o % 251) with sparse in-memory overlay of writes.

PAGE = 4096
_PAT = bytes(range(251)) * (PAGE // 251 + 2)


def pattern(offset, length):
    """Pattern bytes for [offset, offset+length) with length <= PAGE."""
    s = offset % 251
    return _PAT[s:s + length]


class Disk:
    """Pattern-filled export with an in-memory overlay.

    Written pages are kept in a dict of page index -> bytearray.  Whole
    pages that were zeroed (trim / write-zeroes) are recorded as sorted,
    disjoint page ranges so that zeroing a huge area costs no memory.
    """

    def __init__(self, size):
        self.size = size
        self.pages = {}  # page index -> bytearray(PAGE)
        self.zstart = []  # sorted starts of zeroed page ranges
        self.zend = []  # matching (exclusive) ends

    def _is_zero_page(self, idx):
        i = bisect.bisect_right(self.zstart, idx) - 1
        return i >= 0 and idx < self.zend[i]

    def _base(self, off, n):
        """Contents of [off, off+n) within one page, ignoring the overlay."""
        if self._is_zero_page(off // PAGE):
            return bytes(n)
        return pattern(off, n)

    def _page(self, idx):
        p = self.pages.get(idx)
        if p is None:
            p = bytearray(self._base(idx * PAGE, PAGE))
            self.pages[idx] = p
        return p

    def _add_zero_range(self, a, b):
        """Mark pages [a, b) as zero, merging with existing ranges."""
        i = bisect.bisect_left(self.zend, a)  # first range ending >= a
        j = bisect.bisect_right(self.zstart, b)  # ranges starting <= b
        if i < j:
            a = min(a, self.zstart[i])
            b = max(b, self.zend[j - 1])
        self.zstart[i:j] = [a]
        self.zend[i:j] = [b]

    def read(self, offset, length):
        out = bytearray(length)
        pos = 0
        while pos < length:
            off = offset + pos
            idx, inpage = divmod(off, PAGE)
            n = min(PAGE - inpage, length - pos)
            p = self.pages.get(idx)
            if p is None:
                out[pos:pos + n] = self._base(off, n)
            else:
                out[pos:pos + n] = p[inpage:inpage + n]
            pos += n
        return bytes(out)

    def write(self, offset, data):
        pos = 0
        length = len(data)
        while pos < length:
            off = offset + pos
            idx, inpage = divmod(off, PAGE)
            n = min(PAGE - inpage, length - pos)
            self._page(idx)[inpage:inpage + n] = data[pos:pos + n]
            pos += n

    def zero(self, offset, length):
        if length == 0:
            return
        end = offset + length
        first = -(-offset // PAGE)  # first whole page
        last = end // PAGE  # one past the last whole page
        if first >= last:
            # No whole page inside: zero the bytes in place.
            self._zero_partial(offset, length)
            return
        if offset < first * PAGE:
            self._zero_partial(offset, first * PAGE - offset)
        if end > last * PAGE:
            self._zero_partial(last * PAGE, end - last * PAGE)
        if len(self.pages) < last - first:
            for idx in [k for k in self.pages if first <= k < last]:
                del self.pages[idx]
        else:
            for idx in range(first, last):
                self.pages.pop(idx, None)
        self._add_zero_range(first, last)

    def _zero_partial(self, offset, length):
        pos = 0
        while pos < length:
            off = offset + pos
            idx, inpage = divmod(off, PAGE)
            n = min(PAGE - inpage, length - pos)
            self._page(idx)[inpage:inpage + n] = bytes(n)
            pos += n


# ---------------------------------------------------------------------------
# Raw fd I/O


class Conn:
    def __init__(self, rfd, wfd, trickle=False):
        self.rfd = rfd
        self.wfd = wfd
        self.trickle = trickle

    def recv(self, n):
        chunks = []
        remaining = n
        while remaining > 0:
            try:
                b = os.read(self.rfd, min(remaining, 1 << 20))
            except InterruptedError:
                continue
            except OSError as e:
                raise ClientGone("read error: %s" % e)
            if not b:
                raise ClientGone("EOF from client")
            chunks.append(b)
            remaining -= len(b)
        return b"".join(chunks)

    def send(self, data):
        mv = memoryview(data)
        sent = 0
        while len(mv) > 0:
            try:
                if self.trickle:
                    # One byte a write, and a pause now and then, so the
                    # client sees its input arrive in the smallest pieces.
                    k = os.write(self.wfd, mv[:1])
                    sent += k
                    if sent % 64 == 0:
                        time.sleep(0.0005)
                else:
                    k = os.write(self.wfd, mv)
            except InterruptedError:
                continue
            except OSError as e:
                raise ClientGone("write error: %s" % e)
            mv = mv[k:]


# ---------------------------------------------------------------------------
# The server


class Server:
    def __init__(self, conn, scenario, size, allow_extended=False):
        self.c = conn
        self.scenario = scenario
        self.disk = Disk(size)
        self.size = size
        self.fixed = scenario != "plain-newstyle"
        self.no_zeroes = False
        self.structured = False
        self.extended = False
        self.contexts = {}  # id -> name, from the last SET_META_CONTEXT
        self.ext_offset_skew = 1 if scenario == "extended-offset" else 0
        self.allow_extended = allow_extended or scenario == "extended-offset"

    # -- handshake ----------------------------------------------------------

    def handshake(self):
        gflags = NBD_FLAG_NO_ZEROES
        if self.fixed:
            gflags |= NBD_FLAG_FIXED_NEWSTYLE
        log("greeting: NBDMAGIC IHAVEOPT handshake flags 0x%04x" % gflags)
        self.c.send(struct.pack(">QQH", NBDMAGIC, IHAVEOPT, gflags))
        (cflags,) = struct.unpack(">I", self.c.recv(4))
        log("client flags 0x%08x" % cflags)
        if cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES):
            raise Hangup("client set unknown flags 0x%08x" % cflags)
        if (cflags & NBD_FLAG_C_FIXED_NEWSTYLE) and not self.fixed:
            log("note: client claims fixed newstyle which we did not offer")
        self.no_zeroes = bool(cflags & NBD_FLAG_C_NO_ZEROES)

    def tflags(self):
        f = (NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA
             | NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES
             | NBD_FLAG_SEND_CACHE | NBD_FLAG_CAN_MULTI_CONN)
        # The spec requires SEND_DF to be clear unless structured replies
        # (or extended headers) were negotiated.
        if self.structured or self.extended:
            f |= NBD_FLAG_SEND_DF
        return f

    def opt_reply(self, opt, rtype, data=b""):
        log("  -> option reply opt=%s type=%s len=%d" % (
            OPT_NAMES.get(opt, opt), REP_NAMES.get(rtype, hex(rtype)),
            len(data)))
        self.c.send(struct.pack(">QIII", OPT_REPLY_MAGIC, opt, rtype,
                                len(data)) + data)

    def negotiate(self):
        """Option haggling.  Returns once transmission phase is entered."""
        while True:
            magic, opt, optlen = struct.unpack(">QII", self.c.recv(16))
            if magic != IHAVEOPT:
                raise Hangup("bad option magic 0x%x" % magic)
            log("option %s (%d) len=%d" % (OPT_NAMES.get(opt, "?"), opt,
                                          optlen))
            if optlen > MAX_OPTION_LEN:
                raise Hangup("option too long (%d)" % optlen)
            data = self.c.recv(optlen)

            if not self.fixed:
                # Plain (non-fixed) newstyle: only EXPORT_NAME exists.
                if opt != NBD_OPT_EXPORT_NAME:
                    raise Hangup("plain newstyle: unexpected option %d" % opt)
                name = data.decode("utf-8", "replace")
                if name != "":
                    raise Hangup("plain newstyle: unknown export %r" % name)
                self.send_export_name_reply()
                return

            if opt == NBD_OPT_EXPORT_NAME:
                log("  export name %r" % data.decode("utf-8", "replace"))
                self.send_export_name_reply()
                return
            elif opt == NBD_OPT_ABORT:
                self.opt_reply(opt, NBD_REP_ACK)
                raise Hangup("client sent NBD_OPT_ABORT")
            elif opt == NBD_OPT_LIST:
                self.do_list(opt, data)
            elif opt == NBD_OPT_STARTTLS:
                self.opt_reply(opt, NBD_REP_ERR_UNSUP)
            elif opt in (NBD_OPT_INFO, NBD_OPT_GO):
                if self.do_info_go(opt, data):
                    return
            elif opt == NBD_OPT_STRUCTURED_REPLY:
                if data:
                    self.opt_reply(opt, NBD_REP_ERR_INVALID)
                else:
                    self.structured = True
                    self.opt_reply(opt, NBD_REP_ACK)
            elif opt == NBD_OPT_EXTENDED_HEADERS:
                if not self.allow_extended:
                    self.opt_reply(opt, NBD_REP_ERR_UNSUP)
                elif data:
                    self.opt_reply(opt, NBD_REP_ERR_INVALID)
                else:
                    self.extended = True
                    self.opt_reply(opt, NBD_REP_ACK)
            elif opt in (NBD_OPT_LIST_META_CONTEXT, NBD_OPT_SET_META_CONTEXT):
                self.do_meta(opt, data)
            else:
                self.opt_reply(opt, NBD_REP_ERR_UNSUP)

    def send_export_name_reply(self):
        tf = self.tflags()
        log("  -> export size=%d tflags=0x%04x%s" % (
            self.size, tf, "" if self.no_zeroes else " +124 zeroes"))
        msg = struct.pack(">QH", self.size, tf)
        if not self.no_zeroes:
            msg += bytes(124)
        self.c.send(msg)

    def do_list(self, opt, data):
        if data:
            self.opt_reply(opt, NBD_REP_ERR_INVALID)
            return
        if self.scenario == "list-flood":
            n = 0
            while True:  # until the client hangs up (ClientGone)
                name = ("flood-%d" % n).encode()
                if n < 5 or n % 10000 == 0:
                    log("  -> flooding NBD_REP_SERVER #%d" % n)
                self.c.send(struct.pack(">QIIII", OPT_REPLY_MAGIC, opt,
                                        NBD_REP_SERVER, 4 + len(name),
                                        len(name)) + name)
                n += 1
        self.opt_reply(opt, NBD_REP_SERVER, struct.pack(">I", 0))
        self.opt_reply(opt, NBD_REP_ACK)

    def do_info_go(self, opt, data):
        """Returns True if transmission phase was entered."""
        if len(data) < 6:
            self.opt_reply(opt, NBD_REP_ERR_INVALID)
            return False
        (namelen,) = struct.unpack(">I", data[:4])
        if namelen > len(data) - 6:
            self.opt_reply(opt, NBD_REP_ERR_INVALID)
            return False
        name = data[4:4 + namelen].decode("utf-8", "replace")
        (ninfos,) = struct.unpack(">H", data[4 + namelen:6 + namelen])
        if len(data) != 6 + namelen + 2 * ninfos:
            self.opt_reply(opt, NBD_REP_ERR_INVALID)
            return False
        infos = struct.unpack(">%dH" % ninfos, data[6 + namelen:])
        log("  export %r, info requests %r (ignored)" % (name, list(infos)))
        tf = self.tflags()
        log("  size=%d tflags=0x%04x" % (self.size, tf))
        self.opt_reply(opt, NBD_REP_INFO,
                       struct.pack(">HQH", NBD_INFO_EXPORT, self.size, tf))
        self.opt_reply(opt, NBD_REP_ACK)
        return opt == NBD_OPT_GO

    def parse_meta(self, data):
        """Returns (export name, [queries]) or None if malformed."""
        try:
            pos = 0
            (namelen,) = struct.unpack_from(">I", data, pos)
            pos += 4
            if pos + namelen > len(data):
                return None
            name = data[pos:pos + namelen].decode("utf-8", "replace")
            pos += namelen
            (nq,) = struct.unpack_from(">I", data, pos)
            pos += 4
            queries = []
            for _ in range(nq):
                (ql,) = struct.unpack_from(">I", data, pos)
                pos += 4
                if pos + ql > len(data):
                    return None
                queries.append(data[pos:pos + ql].decode("utf-8", "replace"))
                pos += ql
            if pos != len(data):
                return None
            return name, queries
        except struct.error:
            return None

    def meta_reply(self, opt, ctx_id, name):
        log("  -> META_CONTEXT id=%d name=%r" % (ctx_id, name))
        self.opt_reply(opt, NBD_REP_META_CONTEXT,
                       struct.pack(">I", ctx_id) + name.encode())

    def do_meta(self, opt, data):
        is_set = opt == NBD_OPT_SET_META_CONTEXT
        if is_set:
            self.contexts = {}  # replaced even on failure
        if not (self.structured or self.extended):
            self.opt_reply(opt, NBD_REP_ERR_INVALID)
            return
        parsed = self.parse_meta(data)
        if parsed is None:
            self.opt_reply(opt, NBD_REP_ERR_INVALID)
            return
        name, queries = parsed
        log("  export %r queries %r" % (name, queries))

        if self.scenario == "meta-flood":
            n = 1
            while True:  # until the client hangs up (ClientGone)
                if n < 5 or n % 10000 == 0:
                    log("  -> flooding NBD_REP_META_CONTEXT #%d" % n)
                self.c.send(struct.pack(">QIIII", OPT_REPLY_MAGIC, opt,
                                        NBD_REP_META_CONTEXT,
                                        4 + len(BASE_ALLOCATION), n)
                            + BASE_ALLOCATION.encode())
                n += 1

        if is_set and self.scenario == "meta-unrequested":
            self.meta_reply(opt, 2, "qemu:evil")

        if is_set:
            if BASE_ALLOCATION in queries:
                self.meta_reply(opt, 1, BASE_ALLOCATION)
                self.contexts[1] = BASE_ALLOCATION
        else:
            # LIST with no queries lists everything available.
            if not queries or BASE_ALLOCATION in queries:
                self.meta_reply(opt, 0, BASE_ALLOCATION)
        self.opt_reply(opt, NBD_REP_ACK)

    # -- transmission -------------------------------------------------------

    def send_chunk(self, req, flags, rtype, payload=b"", log_extra="",
                   claimed_len=None):
        """Send one structured (or extended) reply chunk.

        claimed_len, if given, is put in the header instead of the real
        payload length (used to send a truncated chunk)."""
        cookie, req_offset = req["cookie"], req["offset"]
        hlen = len(payload) if claimed_len is None else claimed_len
        if self.extended:
            hoff = (req_offset + self.ext_offset_skew) & 0xFFFFFFFFFFFFFFFF
            hdr = struct.pack(">IHHQQQ", EXTENDED_REPLY_MAGIC, flags, rtype,
                              cookie, hoff, hlen)
            log("  -> extended reply flags=0x%x type=%d cookie=0x%x "
                "offset=%d len=%d%s" % (flags, rtype, cookie, hoff, hlen,
                                       log_extra))
        else:
            hdr = struct.pack(">IHHQI", STRUCTURED_REPLY_MAGIC, flags, rtype,
                              cookie, hlen)
            log("  -> structured chunk flags=0x%x type=%d cookie=0x%x "
                "len=%d%s" % (flags, rtype, cookie, hlen, log_extra))
        self.c.send(hdr + payload)

    def send_simple(self, req, error, data=b""):
        log("  -> simple reply error=%d cookie=0x%x +%d data bytes" % (
            error, req["cookie"], len(data)))
        self.c.send(struct.pack(">IIQ", SIMPLE_REPLY_MAGIC, error,
                                req["cookie"]) + data)

    def reply_ok(self, req):
        if self.extended:
            self.send_chunk(req, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE)
        else:
            self.send_simple(req, 0)

    def reply_error(self, req, error, msg=""):
        if self.extended or (self.structured and req["type"] in (
                NBD_CMD_READ, NBD_CMD_BLOCK_STATUS)):
            m = msg.encode()
            self.send_chunk(req, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR,
                            struct.pack(">IH", error, len(m)) + m,
                            " (error %d %s)" % (error, msg))
        else:
            self.send_simple(req, error)

    def offset_data(self, req, offset, length, flags):
        data = self.disk.read(offset, length)
        self.send_chunk(req, flags, NBD_REPLY_TYPE_OFFSET_DATA,
                        struct.pack(">Q", offset) + data,
                        " (OFFSET_DATA offset=%d datalen=%d)" % (offset,
                                                                 length))

    def in_range(self, offset, length):
        return offset <= self.size and length <= self.size - offset

    def read_request(self):
        if self.extended:
            hdr = self.c.recv(32)
            magic, flags, rtype, cookie, offset, length = struct.unpack(
                ">IHHQQQ", hdr)
            if magic != EXTENDED_REQUEST_MAGIC:
                raise Hangup("bad extended request magic 0x%08x" % magic)
            if flags & NBD_CMD_FLAG_PAYLOAD_LEN:
                payload_len = length
            else:
                payload_len = 0
        else:
            hdr = self.c.recv(28)
            magic, flags, rtype, cookie, offset, length = struct.unpack(
                ">IHHQQI", hdr)
            if magic != REQUEST_MAGIC:
                raise Hangup("bad request magic 0x%08x" % magic)
            payload_len = length if rtype == NBD_CMD_WRITE else 0
        return {"flags": flags, "type": rtype, "cookie": cookie,
                "offset": offset, "length": length,
                "payload_len": payload_len}

    def close_in_flight(self):
        # Take 64 requests without answering, answer the first 10 fully,
        # send half of the 11th reply's header, and hang up.
        reqs = []
        while len(reqs) < 64:
            req = self.read_request()
            if req["payload_len"]:
                self.c.recv(req["payload_len"])
            if req["type"] == NBD_CMD_DISC:
                raise Hangup("NBD_CMD_DISC before 64 requests")
            reqs.append(req)
        for req in reqs[:10]:
            if req["type"] == NBD_CMD_READ:
                self.do_read(req)
            else:
                self.reply_ok(req)
        magic = EXTENDED_REPLY_MAGIC if self.extended else (
            STRUCTURED_REPLY_MAGIC if self.structured else SIMPLE_REPLY_MAGIC)
        self.c.send(struct.pack(">I", magic) + b"\0\0")
        raise Hangup("close-in-flight: 10 of 64 answered")

    def transmission(self):
        log("entering transmission phase (structured=%s extended=%s "
            "contexts=%r)" % (self.structured, self.extended, self.contexts))
        if self.scenario == "close-in-flight":
            self.close_in_flight()
        while True:
            req = self.read_request()
            t = req["type"]
            log("request %s (%d) flags=0x%x cookie=0x%x offset=%d len=%d" % (
                CMD_NAMES.get(t, "?"), t, req["flags"], req["cookie"],
                req["offset"], req["length"]))
            payload = None
            if req["payload_len"]:
                if req["payload_len"] > MAX_PAYLOAD:
                    raise Hangup("payload too large (%d)" % req["payload_len"])
                payload = self.c.recv(req["payload_len"])

            if t == NBD_CMD_DISC:
                log("NBD_CMD_DISC: exiting")
                return
            elif t == NBD_CMD_READ:
                self.do_read(req)
            elif t == NBD_CMD_WRITE:
                self.do_write(req, payload)
            elif t == NBD_CMD_BLOCK_STATUS:
                self.do_block_status(req)
            elif t in (NBD_CMD_FLUSH, NBD_CMD_TRIM, NBD_CMD_CACHE,
                       NBD_CMD_WRITE_ZEROES):
                if payload is not None:
                    self.reply_error(req, NBD_EINVAL, "unexpected payload")
                elif t == NBD_CMD_FLUSH:
                    self.reply_ok(req)
                elif not self.in_range(req["offset"], req["length"]):
                    self.reply_error(req, NBD_EINVAL, "out of range")
                else:
                    if t in (NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES):
                        self.disk.zero(req["offset"], req["length"])
                    self.reply_ok(req)
            else:
                self.reply_error(req, NBD_EINVAL, "unknown command")

    def do_write(self, req, payload):
        if self.extended and payload is None:
            # Extended headers: a write MUST carry NBD_CMD_FLAG_PAYLOAD_LEN.
            self.reply_error(req, NBD_EINVAL, "write without PAYLOAD_LEN")
            return
        if payload is None:
            payload = b""
        if not self.in_range(req["offset"], len(payload)):
            self.reply_error(req, NBD_EINVAL, "out of range")
            return
        self.disk.write(req["offset"], payload)
        self.reply_ok(req)

    def do_read(self, req):
        offset, length = req["offset"], req["length"]
        sr = self.structured or self.extended
        if req["payload_len"]:
            self.reply_error(req, NBD_EINVAL, "unexpected payload")
            return
        if not self.in_range(offset, length):
            self.reply_error(req, NBD_EINVAL, "out of range")
            return
        if length > MAX_PAYLOAD:
            self.reply_error(req, NBD_EOVERFLOW, "request too large")
            return
        sc = self.scenario

        if sc == "disconnect-mid-reply":
            half = length // 2
            data = self.disk.read(offset, half)
            if sr:
                self.send_chunk(req, NBD_REPLY_FLAG_DONE,
                                NBD_REPLY_TYPE_OFFSET_DATA,
                                struct.pack(">Q", offset) + data,
                                " (OFFSET_DATA header claims %d data bytes, "
                                "sending only %d)" % (length, half),
                                claimed_len=8 + length)
            else:
                self.send_simple(req, 0, data)
            raise Hangup("disconnect-mid-reply: sent %d of %d bytes" % (
                half, length))

        if not sr:
            self.send_simple(req, 0, self.disk.read(offset, length))
            return

        if length == 0:
            self.send_chunk(req, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE)
            return

        if sc == "short-read":
            half = length // 2
            if half == 0:
                self.send_chunk(req, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE)
            else:
                self.offset_data(req, offset, half, NBD_REPLY_FLAG_DONE)
        elif sc == "read-none":
            self.send_chunk(req, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE)
        elif sc == "overlap-read":
            half = length // 2
            if half == 0:
                # A 1-byte request cannot be half-overlapped; repeat it all.
                half = length
            self.offset_data(req, offset, length, 0)
            self.offset_data(req, offset, half, NBD_REPLY_FLAG_DONE)
        elif sc == "unknown-chunk":
            self.send_chunk(req, 0, UNKNOWN_CHUNK_TYPE, b"\xde\xad\xbe\xef",
                            " (unknown type)")
            self.offset_data(req, offset, length, NBD_REPLY_FLAG_DONE)
        else:
            self.offset_data(req, offset, length, NBD_REPLY_FLAG_DONE)

    def block_status_chunk(self, req, ctx_id, extents, flags):
        desc = " (ctx %d extents %r)" % (ctx_id, extents)
        if self.extended:
            payload = struct.pack(">II", ctx_id, len(extents))
            for ln, st in extents:
                payload += struct.pack(">QQ", ln, st)
            self.send_chunk(req, flags, NBD_REPLY_TYPE_BLOCK_STATUS_EXT,
                            payload, desc)
        else:
            payload = struct.pack(">I", ctx_id)
            for ln, st in extents:
                payload += struct.pack(">II", ln & 0xFFFFFFFF, st)
            self.send_chunk(req, flags, NBD_REPLY_TYPE_BLOCK_STATUS,
                            payload, desc)

    def do_block_status(self, req):
        offset, length = req["offset"], req["length"]
        if not (self.structured or self.extended) or not self.contexts:
            self.reply_error(req, NBD_EINVAL, "no metadata context")
            return
        if req["payload_len"]:
            self.reply_error(req, NBD_EINVAL, "unexpected payload")
            return
        # Lenient like many servers: only the start must be inside the
        # export; the reply is clipped to the end of the export.
        if offset >= self.size or length == 0:
            self.reply_error(req, NBD_EINVAL, "out of range")
            return
        # Largest extent length that fits the wire format (512-aligned).
        cap = 0xFFFFFFFFFFFFFE00 if self.extended else 0xFFFFFE00
        sc = self.scenario
        if sc == "bs-zero-length":
            self.block_status_chunk(req, 1, [(512, 0), (0, 1)],
                                    NBD_REPLY_FLAG_DONE)
        elif sc == "bs-past-end":
            first = self.size - offset
            if first > cap:
                log("  warning: extent to end (%d) does not fit; capped" %
                    first)
                first = cap
            self.block_status_chunk(req, 1, [(first, 0), (512, 0)],
                                    NBD_REPLY_FLAG_DONE)
        elif sc == "bs-wrong-context":
            ext = min(length, self.size - offset, cap)
            self.block_status_chunk(req, 99, [(ext, 0)], 0)
            self.send_chunk(req, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE)
        else:
            ext = min(length, self.size - offset, cap)
            self.block_status_chunk(req, 1, [(ext, 0)], NBD_REPLY_FLAG_DONE)

    def run(self):
        self.handshake()
        self.negotiate()
        self.transmission()


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(
        description="A deliberately misbehaving NBD server for client tests.",
        epilog="scenarios: " + ", ".join(SCENARIOS))
    ap.add_argument("--scenario", default="normal", choices=list(SCENARIOS),
                    help="misbehaviour to exhibit (default: normal)")
    ap.add_argument("--size", type=int, default=1048576,
                    help="export size in bytes (default: 1048576)")
    ap.add_argument("--unix", metavar="PATH",
                    help="listen on a Unix socket, serve one client, exit")
    ap.add_argument("--verbose", action="store_true",
                    help="log protocol traffic to stderr")
    ap.add_argument("--extended-headers", action="store_true",
                    help="accept NBD_OPT_EXTENDED_HEADERS in any scenario "
                    "(by default only extended-offset does)")
    args = ap.parse_args()
    VERBOSE = args.verbose
    if args.size < 0 or args.size >= 1 << 63:
        ap.error("--size out of range")

    signal.alarm(60)  # never outlive a stuck test by much

    listener = None
    conn = None
    try:
        if args.unix:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                os.unlink(args.unix)
            except FileNotFoundError:
                pass
            listener.bind(args.unix)
            listener.listen(1)
            log("listening on %s" % args.unix)
            conn, _ = listener.accept()
            listener.close()
            listener = None
            try:
                os.unlink(args.unix)
            except OSError:
                pass
            io = Conn(conn.fileno(), conn.fileno())
        elif (os.environ.get("LISTEN_PID") == str(os.getpid())
              and int(os.environ.get("LISTEN_FDS", "0") or 0) >= 1):
            # systemd socket activation (libnbd's
            # nbd_connect_systemd_socket_activation, nbdinfo [ CMD ]):
            # fd 3 is a listening socket.  Serve one client.
            listener = socket.socket(fileno=3)
            log("socket activation: accepting on fd 3")
            conn, _ = listener.accept()
            listener.close()
            listener = None
            io = Conn(conn.fileno(), conn.fileno())
        else:
            io = Conn(0, 1)
        io.trickle = args.scenario == "trickle"
        log("scenario %s, size %d" % (args.scenario, args.size))
        Server(io, args.scenario, args.size, args.extended_headers).run()
    except ClientGone as e:
        log("client gone: %s" % e)
    except Hangup as e:
        log("hanging up: %s" % e)
    finally:
        if conn is not None:
            conn.close()
        if listener is not None:
            listener.close()
            if args.unix:
                try:
                    os.unlink(args.unix)
                except OSError:
                    pass
    log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())

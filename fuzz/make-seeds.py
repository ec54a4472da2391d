#!/usr/bin/env python3
"""Write the seed corpus of the fuzz targets (fuzz/corpus/TARGET/*):
conversations a well-behaved server (nbdkit-like: structured replies,
base:allocation; qemu-nbd-like: extended headers) has with the client,
encoded in the targets' input format (see fuzz/src/lib.rs):

  byte 0     configuration bits
  0x00-0x7f  feed the next op+1 bytes       0x80 LEN16  feed LEN bytes
  0x90 drain output   0x91 EOF   0x92 disconnect   0x93 retire completed
  0x94 B     TLS handshake verdict (B even: established)
  >= 0x95    a command (op % 6: read, write, block status 32, block
             status 64, flush, zero): FLAGS COUNT16 MULT OFFSET32
  options target: >= 0xa0 an option (op % 9), then a query byte.

Run it from anywhere; it rewrites the corpus directories."""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC_OPT = 0x3E889045565A9
STRUCTURED_MAGIC = 0x668E33EF
EXTENDED_MAGIC = 0x6E8A278C
SIMPLE_MAGIC = 0x67446698
OPT_GO, OPT_LIST, OPT_STARTTLS, OPT_INFO = 7, 3, 5, 6
OPT_STRUCTURED, OPT_LIST_META, OPT_SET_META, OPT_EXT = 8, 9, 10, 11
REP_ACK, REP_SERVER, REP_INFO, REP_META = 1, 2, 3, 4
EFLAGS = 0x1 | 0x4 | 0x8 | 0x20 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800


def feed(data):
    out = b""
    while data:
        piece, data = data[:0xFFFF], data[0xFFFF:]
        out += bytes([0x80]) + struct.pack(">H", len(piece)) + piece
    return out


def greeting():
    return struct.pack(">QQH", NBDMAGIC, IHAVEOPT, 3)


def opt_reply(opt, typ, payload=b""):
    return struct.pack(">QIII", REPLY_MAGIC_OPT, opt, typ, len(payload)) + payload


def info_export(opt, size):
    return opt_reply(opt, REP_INFO, struct.pack(">HQH", 0, size, EFLAGS)) + opt_reply(opt, REP_ACK)


def meta(opt, ident, name):
    return opt_reply(opt, REP_META, struct.pack(">I", ident) + name)


def command(op, count, offset, flags=0):
    return bytes([op, flags]) + struct.pack(">HBI", count, 0, offset)


READ, WRITE, BS32, BS64, FLUSH, ZERO = 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B


def structured(flags, typ, cookie, payload):
    return struct.pack(">IHHQI", STRUCTURED_MAGIC, flags, typ, cookie, len(payload)) + payload


def extended(flags, typ, cookie, offset, payload):
    return struct.pack(">IHHQQQ", EXTENDED_MAGIC, flags, typ, cookie, offset, len(payload)) + payload


def simple(cookie, error=0, data=b""):
    return struct.pack(">IIQ", SIMPLE_MAGIC, error, cookie) + data


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# handshake: nbdkit-like automatic negotiation, then a read and block
# status in flight.
hs = bytes([0x05])
hs += feed(greeting()) + b"\x90"
hs += feed(opt_reply(OPT_STRUCTURED, REP_ACK)) + b"\x90"
hs += feed(meta(OPT_SET_META, 1, b"base:allocation") + opt_reply(OPT_SET_META, REP_ACK)) + b"\x90"
hs += feed(info_export(OPT_GO, 1 << 20)) + b"\x90"
hs += command(READ, 512, 0) + command(BS32, 4096, 0) + b"\x90"
hs += feed(structured(0, 1, 1, struct.pack(">Q", 0) + bytes(256))
           + structured(0, 2, 1, struct.pack(">QI", 256, 256))
           + structured(1, 0, 1, b""))
hs += feed(structured(1, 5, 2, struct.pack(">IIIII", 1, 2048, 0, 2048, 3)))
hs += b"\x93"
write("handshake", "nbdkit-like", hs)

# handshake with STARTTLS accepted and the TLS handshake established.
tls = bytes([0x05 | 0x40])
tls += feed(greeting()) + b"\x90" + feed(opt_reply(OPT_STARTTLS, REP_ACK)) + b"\x94\x00\x90"
tls += feed(opt_reply(OPT_STRUCTURED, REP_ACK)) + b"\x90"
tls += feed(meta(OPT_SET_META, 1, b"base:allocation") + opt_reply(OPT_SET_META, REP_ACK)) + b"\x90"
tls += feed(info_export(OPT_GO, 1 << 20)) + b"\x90"
write("handshake", "starttls", tls)

# handshake, qemu-nbd-like: extended headers.
q = bytes([0x07])
q += feed(greeting()) + b"\x90" + feed(opt_reply(OPT_EXT, REP_ACK)) + b"\x90"
q += feed(meta(OPT_SET_META, 1, b"base:allocation")
          + meta(OPT_SET_META, 2, b"qemu:dirty-bitmap:b") + opt_reply(OPT_SET_META, REP_ACK)) + b"\x90"
q += feed(info_export(OPT_GO, 1 << 30)) + b"\x90"
q += command(READ, 1024, 4096) + command(BS64, 65535, 0) + b"\x90"
q += feed(extended(1, 1, 1, 4096, struct.pack(">Q", 4096) + bytes(1024)))
q += feed(extended(0, 6, 2, 0, struct.pack(">II", 1, 1) + struct.pack(">QQ", 65535, 0))
          + extended(1, 6, 2, 0, struct.pack(">II", 2, 1) + struct.pack(">QQ", 65535, 1)))
q += b"\x93"
write("handshake", "qemu-nbd-like", q)

# options: opt mode; list, list meta contexts, info, go.
o = bytes([0x05])
o += feed(greeting()) + b"\x90" + feed(opt_reply(OPT_STRUCTURED, REP_ACK)) + b"\x90"
o += bytes([0xA4, 0]) + b"\x90"  # list
o += feed(opt_reply(OPT_LIST, REP_SERVER, struct.pack(">I", 4) + b"disk" + b"a disk")
          + opt_reply(OPT_LIST, REP_ACK))
o += bytes([0xA0, 1]) + b"\x90"  # list meta contexts (queries)
o += feed(meta(OPT_LIST_META, 0, b"base:allocation") + opt_reply(OPT_LIST_META, REP_ACK))
o += bytes([0xA3, 0]) + b"\x90"  # info (meta contexts first)
o += feed(meta(OPT_SET_META, 1, b"base:allocation") + opt_reply(OPT_SET_META, REP_ACK))
o += feed(info_export(OPT_INFO, 1 << 20))
o += bytes([0xA2, 0]) + b"\x90"  # go
o += feed(info_export(OPT_GO, 1 << 20))
write("options", "nbdkit-like", o)

o2 = bytes([0x01]) + feed(greeting()) + b"\x90" + feed(opt_reply(OPT_STRUCTURED, REP_ACK))
o2 += bytes([0xA8, 0]) + b"\x90" + feed(opt_reply(OPT_STARTTLS, REP_ACK)) + b"\x94\x00"
o2 += bytes([0xA6, 0]) + b"\x90" + feed(opt_reply(OPT_EXT, REP_ACK))
o2 += bytes([0xA7, 0]) + b"\x90"  # abort
write("options", "starttls-abort", o2)

# transmission: the target's own server does the handshake; then
# commands and replies. Size selector 1 MiB (shift 0).
def transmission(bits):
    return bytes([bits]) + struct.pack(">I", 1 << 20)


t = transmission(0x05)
t += command(READ, 4096, 0) + command(READ, 512, 8192) + command(WRITE, 512, 0) + b"\x90"
t += feed(structured(0, 1, 1, struct.pack(">Q", 0) + bytes(2048))
          + structured(1, 2, 1, struct.pack(">QI", 2048, 2048)))
t += feed(structured(1, 1, 2, struct.pack(">Q", 8192) + bytes(512)))
t += feed(simple(3))
t += command(BS32, 8192, 0) + b"\x90"
t += feed(structured(1, 5, 4, struct.pack(">IIIII", 1, 4096, 0, 4096, 1)))
t += command(FLUSH, 0, 0) + b"\x90" + feed(structured(1, 32769, 5, struct.pack(">IH", 5, 4) + b"oops"))
t += b"\x93"
write("transmission", "structured", t)

s = transmission(0x00)
s += command(READ, 512, 0) + command(ZERO, 512, 512) + b"\x90"
s += feed(simple(1, 0, bytes(512)) + simple(2, 5))
s += b"\x93\x92\x90\x91"
write("transmission", "simple", s)

e = transmission(0x07)
e += command(READ, 1024, 0) + command(BS64, 65535, 0) + b"\x90"
e += feed(extended(1, 1, 1, 0, struct.pack(">Q", 0) + bytes(1024)))
e += feed(extended(1, 6, 2, 0, struct.pack(">II", 1, 1) + struct.pack(">QQ", 1 << 20, 0)))
e += b"\x93"
write("transmission", "extended", e)

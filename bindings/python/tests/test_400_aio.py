"""Asynchronous commands: nbd.Buffer, completion callbacks,
aio_command_completed and the poll loop."""

# scenarios: 410 420 430

import gc

import time

import pytest

import nbd
from nbdtest import connected, ours_only, pattern, poll_until, wait_for


def test_aio_pread(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    buf = nbd.Buffer(512)
    cookie = h.aio_pread(buf, 8192)
    assert cookie >= 1
    assert wait_for(h, cookie) is True
    assert buf.to_bytearray() == pattern(8192, 512)


def test_aio_pwrite_then_pread(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    data = bytearray(b"abcd" * 1024)
    wait_for(h, h.aio_pwrite(nbd.Buffer.from_bytearray(data), 4096))
    buf = nbd.Buffer(len(data))
    wait_for(h, h.aio_pread(buf, 4096))
    assert buf.to_bytearray() == data


def test_completion_callback(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    buf = nbd.Buffer(1024)
    seen = []

    def done(err):
        seen.append(err.value)
        return 1  # retire the command at once

    h.aio_pread(buf, 0, completion=done)
    poll_until(h, lambda: seen)
    assert seen == [0]
    assert h.aio_in_flight() == 0
    assert buf.to_bytearray() == pattern(0, 1024)


def test_completion_callback_keeps_command(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    buf = nbd.Buffer(16)
    seen = []
    cookie = h.aio_pread(buf, 0, lambda err: seen.append(err.value))
    assert wait_for(h, cookie) is True
    assert seen == [0]


def test_many_in_flight(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    bufs = [nbd.Buffer(4096) for _ in range(16)]
    cookies = [h.aio_pread(b, i * 4096) for i, b in enumerate(bufs)]
    assert h.aio_in_flight() >= 1
    poll_until(h, lambda: h.aio_in_flight() == 0)
    peeked = h.aio_peek_command_completed()
    assert peeked in cookies
    for i, (b, c) in enumerate(zip(bufs, cookies)):
        assert h.aio_command_completed(c) is True
        assert b.to_bytearray() == pattern(i * 4096, 4096)


def test_aio_flush_trim_zero(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    wait_for(h, h.aio_pwrite(nbd.Buffer.from_bytearray(b"x" * 8192), 0))
    wait_for(h, h.aio_flush())
    wait_for(h, h.aio_trim(4096, 0))
    wait_for(h, h.aio_zero(4096, 4096))
    assert h.pread(8192, 0) == bytearray(8192)


def test_buffer_is_kept_alive(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    ba = bytearray(4096)
    cookie = h.aio_pread(nbd.Buffer.from_buffer(ba), 4096)
    gc.collect()  # only the library refers to the Buffer now
    wait_for(h, cookie)
    assert ba == pattern(4096, 4096)


def test_aio_direction_and_fd(nbdkit):
    h = connected(nbdkit("null"))
    assert h.aio_get_fd() >= 0
    assert h.aio_get_direction() & nbd.AIO_DIRECTION_READ


def test_aio_notify_loop(nbdkit):
    import select
    h = connected(nbdkit("pattern", "size=1M"))
    buf = nbd.Buffer(512)
    cookie = h.aio_pread(buf, 512)
    deadline = time.monotonic() + 30
    while not h.aio_command_completed(cookie):
        assert time.monotonic() < deadline, "the read did not complete"
        fd, direction = h.aio_get_fd(), h.aio_get_direction()
        r = [fd] if direction & nbd.AIO_DIRECTION_READ else []
        w = [fd] if direction & nbd.AIO_DIRECTION_WRITE else []
        readable, writable, _ = select.select(r, w, [], 5)
        if readable:
            h.aio_notify_read()
        if writable:
            h.aio_notify_write()
    assert buf.to_bytearray() == pattern(512, 512)


def test_buffer_methods():
    ba = bytearray(512)
    buf = nbd.Buffer.from_bytearray(ba)
    ba.append(1)
    assert len(buf) == 512 and buf.size() == 512
    assert buf.is_zero()
    assert buf.to_bytearray() is not ba
    buf = nbd.Buffer.from_buffer(ba)
    assert not buf.is_zero()
    assert len(buf) == 513
    assert buf.is_zero(0, 512)
    assert not buf.is_zero(512)
    assert buf.is_zero(10, 0)
    # Out of range either way, as in libnbd: IndexError.
    for offset in (-1, 514):
        with pytest.raises(IndexError):
            buf.is_zero(offset)
    ba.pop()
    assert buf.is_zero()
    assert buf.to_buffer() is ba
    assert nbd.Buffer(64).to_buffer() == bytearray(64)


def test_buffer_from_bytes_like():
    assert nbd.Buffer.from_bytearray(b"abc").to_bytearray() == b"abc"
    assert nbd.Buffer.from_bytearray(3).to_bytearray() == bytearray(3)
    buf = nbd.Buffer.from_buffer(memoryview(bytearray(b"xyz")))
    assert buf.to_bytearray() == b"xyz"


@ours_only
def test_buffer_slicing():
    buf = nbd.Buffer.from_bytearray(b"hello world")
    assert buf[0] == ord("h")
    assert buf[6:] == b"world"
    buf[0:5] = b"HELLO"
    assert buf.to_bytearray() == b"HELLO world"
    with pytest.raises(IndexError):
        buf.is_zero(100)


def test_aio_with_plain_buffers(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    wait_for(h, h.aio_pwrite(b"plain bytes", 0))
    ba = bytearray(11)
    wait_for(h, h.aio_pread(ba, 0))
    assert ba == b"plain bytes"
    with pytest.raises(BufferError):
        h.aio_pread(b"read-only", 0)


@ours_only
def test_buffer_cannot_be_resized_in_flight(nbdkit):
    srv = nbdkit("--filter=delay", "pattern", "size=1M", "rdelay=300ms")
    h = connected(srv)
    ba = bytearray(4096)
    cookie = h.aio_pread(nbd.Buffer.from_buffer(ba), 0)
    with pytest.raises(BufferError):
        ba.extend(b"more")
    wait_for(h, cookie)
    assert ba == pattern(0, 4096)
    ba.extend(b"more")  # released once the command retired


@ours_only
def test_buffer_from_bytes_like_constructor():
    assert nbd.Buffer(b"abc").to_bytearray() == b"abc"
    assert nbd.Buffer(memoryview(b"xy")).size() == 2
    with pytest.raises(TypeError):
        nbd.Buffer("text")

"""aio_pread and aio_pwrite take any object with the buffer protocol and
hold an export of it until the command retires, so it cannot be resized
(or freed) while the library may still write or read it; a read into a
read-only buffer is a BufferError. As libnbd's module documents."""

# scenarios: 950

import mmap

import gc

import pytest

import nbd
from nbdtest import connected, pattern, poll_until, wait_for


def close(h):
    """Close a handle; libnbd 1.14's module has no close() and closes it
    when it is freed, so callers also drop their reference."""
    if hasattr(h, "close"):
        h.close()


def buffers():
    yield "bytearray", bytearray(512)
    yield "memoryview", memoryview(bytearray(512))
    yield "nbd.Buffer", nbd.Buffer(512)
    yield "mmap", mmap.mmap(-1, 512)


def contents(b):
    if isinstance(b, nbd.Buffer):
        return bytes(b.to_bytearray())
    return bytes(memoryview(b))


def test_any_buffer_protocol_object(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    for kind, b in buffers():
        assert wait_for(h, h.aio_pread(b, 4096)) is True, kind
        assert contents(b) == pattern(4096, 512), kind


def test_read_buffer_is_pinned_until_retired(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    b = bytearray(4096)
    cookie = h.aio_pread(b, 0)
    with pytest.raises(BufferError):
        b.extend(b"more")
    with pytest.raises(BufferError):
        del b[:10]
    poll_until(h, lambda: h.aio_peek_command_completed() == cookie)
    # Completed but not retired: still the library's.
    with pytest.raises(BufferError):
        b.extend(b"more")
    assert h.aio_command_completed(cookie) is True
    b.extend(b"more")
    assert bytes(b[:4096]) == pattern(0, 4096)


def test_write_buffer_is_pinned_until_retired(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    b = bytearray(b"x" * 4096)
    cookie = h.aio_pwrite(b, 0)
    with pytest.raises(BufferError):
        b.extend(b"more")
    wait_for(h, cookie)
    b.extend(b"more")
    assert h.pread(4096, 0) == b"x" * 4096


def test_completion_callback_retiring_releases(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    b = bytearray(512)
    done = []
    h.aio_pread(b, 0, completion=lambda err: done.append(err.value) or 1)
    poll_until(h, lambda: done)
    b.extend(b"more")  # retired by the callback: released


def test_close_releases(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    b = bytearray(512)
    h.aio_pread(b, 0)
    close(h)
    del h
    gc.collect()
    b.extend(b"more")


def test_read_into_read_only_buffer_is_buffererror(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    with pytest.raises(BufferError):
        h.aio_pread(bytes(512), 0)
    with pytest.raises(BufferError):
        h.aio_pread(memoryview(bytearray(512)).toreadonly(), 0)
    with pytest.raises(TypeError):
        h.aio_pread("not a buffer", 0)
    assert h.aio_in_flight() == 0


def test_write_from_read_only_buffer(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    wait_for(h, h.aio_pwrite(b"y" * 512, 0))
    wait_for(h, h.aio_pwrite(memoryview(b"z" * 512).toreadonly(), 512))
    assert h.pread(1024, 0) == b"y" * 512 + b"z" * 512

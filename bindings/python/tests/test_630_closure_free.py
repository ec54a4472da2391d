"""Buffers are released exactly when the command retires. With this
package the core drops the buffer's export then; with Debian's module
over our libnbd.so.0 (NBD_TEST_LIBDIR) the module releases it in the
closure's free function, so this checks that the C library calls .free
at retirement: not inside the aio call, not at completion, and at close
for commands never retired."""

# scenarios: 440 703

import gc

import pytest

from nbdtest import connected, poll_until


def close(h):
    """Close a handle; libnbd 1.14's module has no close() and closes it
    when it is freed, so callers also drop their reference."""
    if hasattr(h, "close"):
        h.close()


def resizable(b):
    try:
        b.extend(b"x")
    except BufferError:
        return False
    del b[-1:]
    return True


def test_free_at_retirement_not_before(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    for with_completion in (False, True):
        b = bytearray(65536)
        completed = []
        if with_completion:
            cookie = h.aio_pread(b, 0, completion=lambda e: completed.append(1) or 0)
        else:
            cookie = h.aio_pread(b, 0)
        assert not resizable(b)
        poll_until(h, lambda: h.aio_peek_command_completed() == cookie)
        assert not resizable(b), "released at completion, before retirement"
        assert h.aio_command_completed(cookie) is True
        assert resizable(b)


def test_many_in_flight_each_released_once(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    bufs = [bytearray(4096) for _ in range(32)]
    cookies = [h.aio_pread(b, i * 4096) for i, b in enumerate(bufs)]
    poll_until(h, lambda: h.aio_in_flight() == 0)
    assert not any(resizable(b) for b in bufs)
    for c in cookies:
        assert h.aio_command_completed(c) is True
    assert all(resizable(b) for b in bufs)


def test_unretired_commands_released_at_close(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    b = bytearray(4096)
    cookie = h.aio_pread(b, 0)
    poll_until(h, lambda: h.aio_peek_command_completed() == cookie)
    assert not resizable(b)
    close(h)
    del h
    gc.collect()
    assert resizable(b)

"""Deadlines (extensions): set_request_timeout and set_connect_timeout
fail what overruns with ETIMEDOUT at the deadline (within 20 %), and
aio_get_timeout_ms tells an event loop how long it may wait."""

import errno
import time

import pytest

import nbd
from nbdtest import ours_only

pytestmark = ours_only

DEADLINE = 1.0


def on_time(start):
    took = time.monotonic() - start
    assert DEADLINE - 0.02 <= took <= DEADLINE * 1.2, took


def test_a_slow_read_times_out(nbdkit):
    srv = nbdkit("--filter=delay", "memory", "1M", "rdelay=5")
    h = nbd.NBD()
    assert h.get_request_timeout() == 0
    h.set_request_timeout(int(DEADLINE * 1000))
    assert h.get_request_timeout() == 1000
    h.connect_unix(srv.sock)
    h.pwrite(b"x" * 512, 0)
    assert h.aio_get_timeout_ms() == -1
    start = time.monotonic()
    with pytest.raises(nbd.Error) as e:
        h.pread(512, 0)
    on_time(start)
    assert e.value.errnum == errno.ETIMEDOUT
    assert h.aio_is_dead()

    # aio: the first command in flight overruns, the other goes with the
    # connection; nbd.poll waits no longer than the deadline.
    h = nbd.NBD()
    h.set_request_timeout(1000)
    h.connect_unix(srv.sock)
    first = h.aio_pread(nbd.Buffer(512), 0)
    second = h.aio_pread(nbd.Buffer(512), 512)
    assert 500 < h.aio_get_timeout_ms() <= 1000
    start = time.monotonic()
    with pytest.raises(nbd.Error) as e:
        while h.aio_in_flight() > 0:
            h.poll(-1)
    assert e.value.errnum == errno.ETIMEDOUT
    on_time(start)
    for cookie, errnum in ((first, errno.ETIMEDOUT), (second, errno.ENOTCONN)):
        with pytest.raises(nbd.Error) as e:
            h.aio_command_completed(cookie)
        assert e.value.errnum == errnum


def test_a_slow_handshake_times_out(nbdkit):
    srv = nbdkit("--filter=delay", "memory", "1M", "delay-open=5")
    h = nbd.NBD()
    h.set_connect_timeout(1000)
    assert h.get_connect_timeout() == 1000
    start = time.monotonic()
    with pytest.raises(nbd.Error) as e:
        h.connect_unix(srv.sock)
    on_time(start)
    assert e.value.errnum == errno.ETIMEDOUT
    assert h.aio_is_dead()

"""One handle, several connections (set_connections, an extension):
commands spread over the connections nbdkit's log shows, completion
callbacks and the caller's own loop on the handle's one descriptor,
data read back through another handle; one connection without
multi-conn from the server."""

import errno
import os
import re
import select
import time

import pytest

import nbd
from nbdtest import ours_only, poll_until

pytestmark = ours_only

BLOCK = 65536


def connections_doing(log, what):
    ids = set()
    with open(log) as f:
        for line in f:
            m = re.search(r" connection=(\d+) (\S+) ", line)
            if m and m.group(2) == what:
                ids.add(int(m.group(1)))
    return ids


def test_the_argument_is_checked():
    h = nbd.NBD()
    assert h.get_connections() == 1
    for bad in (0, -3, 65):
        with pytest.raises(nbd.Error) as e:
            h.set_connections(bad)
        assert e.value.errnum == errno.EINVAL
        assert "1 to 64" in e.value.string
    h.set_connections(64)
    assert h.get_connections() == 64


def test_four_connections(nbdkit, sockdir):
    log = os.path.join(sockdir, "log")
    srv = nbdkit("--filter=log", "memory", "8M", "logfile=" + log)
    h = nbd.NBD()
    h.set_connections(4)
    h.connect_unix(srv.sock)
    assert h.get_connections() == 4
    with pytest.raises(nbd.Error) as e:
        h.set_connections(2)
    assert e.value.errnum == errno.EINVAL

    data = [bytes([i + 1]) * BLOCK for i in range(64)]
    seen = []
    cookies = [h.aio_pwrite(nbd.Buffer.from_bytearray(d), i * BLOCK,
                            completion=lambda err: seen.append(err.value) or 1)
               for i, d in enumerate(data)]
    assert len(set(cookies)) == 64
    assert h.aio_in_flight() == 64
    poll_until(h, lambda: len(seen) == 64)
    assert seen == [0] * 64
    h.flush()

    # The caller's own loop: one descriptor, waited on for reading.
    fd = h.aio_get_fd()
    bufs = [nbd.Buffer(BLOCK) for _ in range(64)]
    cookies = [h.aio_pread(b, i * BLOCK) for i, b in enumerate(bufs)]
    deadline = time.monotonic() + 30
    while h.aio_in_flight() > 0:
        assert time.monotonic() < deadline
        assert h.aio_get_direction() == nbd.AIO_DIRECTION_READ
        readable, _, _ = select.select([fd], [], [], 5)
        if readable:
            h.aio_notify_read()
    assert all(h.aio_command_completed(c) for c in cookies)
    assert [b.to_bytearray() for b in bufs] == data

    other = nbd.NBD()
    other.connect_unix(srv.sock)
    assert other.get_connections() == 1
    assert [other.pread(BLOCK, i * BLOCK) for i in range(64)] == data
    other.shutdown()

    assert h.stats_bytes_sent() > 64 * BLOCK
    h.shutdown()
    assert h.aio_is_closed()
    assert h.get_connections() == 0
    srv.kill()
    assert len(connections_doing(log, "Connect")) == 5
    assert len(connections_doing(log, "Write")) == 4
    assert len(connections_doing(log, "Read")) >= 4


def test_one_connection_without_multi_conn(nbdkit):
    srv = nbdkit("--filter=multi-conn", "memory", "1M",
                 "multi-conn-mode=disable")
    h = nbd.NBD()
    h.set_connections(4)
    h.connect_unix(srv.sock)
    assert h.can_multi_conn() is False
    assert h.get_connections() == 1
    h.pwrite(b"x" * 512, 0)
    assert h.pread(512, 0) == b"x" * 512
    h.shutdown()

"""The server dies: calls fail with nbd.Error and the handle is dead, or
closed when the server's end of the socket was closed cleanly (EOF
rather than a reset, which depends on timing)."""

import signal

import pytest

import nbd
from nbdtest import connected, wait_for


def test_server_killed_between_commands(nbdkit):
    srv = nbdkit("memory", "size=1M")
    h = connected(srv)
    h.pread(512, 0)
    srv.kill(signal.SIGKILL)
    with pytest.raises(nbd.Error):
        h.pread(512, 0)
        h.pread(512, 0)
    assert h.aio_is_dead() or h.aio_is_closed()
    with pytest.raises(nbd.Error):
        h.pwrite(b"x", 0)


def test_server_killed_with_commands_in_flight(nbdkit):
    srv = nbdkit("--filter=delay", "memory", "size=1M", "rdelay=5")
    h = connected(srv)
    cookie = h.aio_pread(nbd.Buffer(512), 0)
    srv.kill(signal.SIGKILL)
    with pytest.raises(nbd.Error):
        wait_for(h, cookie)
    assert h.aio_is_dead() or h.aio_is_closed()

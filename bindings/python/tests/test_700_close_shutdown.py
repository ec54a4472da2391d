"""Shutdown, disconnect, and closing handles."""

import gc
import threading
import time

import pytest

import nbd
from nbdtest import connected, ours_only, wait_for


def test_shutdown(nbdkit):
    h = connected(nbdkit("null"))
    h.shutdown()
    assert h.aio_is_closed()
    with pytest.raises(nbd.Error):
        h.pread(512, 0)


def test_shutdown_abandon_pending(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    h.aio_pread(nbd.Buffer(512), 0)
    h.shutdown(nbd.SHUTDOWN_ABANDON_PENDING)


def test_aio_disconnect(nbdkit):
    h = connected(nbdkit("null"))
    h.aio_disconnect()
    while not (h.aio_is_closed() or h.aio_is_dead()):
        h.poll(1000)


def test_dropping_a_handle_ends_its_server():
    h = nbd.NBD()
    h.connect_command(["nbdkit", "-s", "--exit-with-parent", "null"])
    del h
    gc.collect()


@ours_only
def test_close_ends_the_subprocess():
    import os
    h = nbd.NBD()
    h.connect_command(["nbdkit", "-s", "--exit-with-parent", "null"])
    pid = h.get_subprocess_pid()
    h.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            break  # already reaped by the library
        if done:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the server did not exit")


@ours_only
def test_close_while_another_thread_waits(nbdkit):
    h = connected(nbdkit("--filter=delay", "pattern", "size=1M",
                         "rdelay=500ms"))
    result = []

    def reader():
        try:
            result.append(len(h.pread(512, 0)))
        except Exception as e:  # noqa: BLE001 - any outcome but a crash
            result.append(e)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.1)
    h.close()
    t.join(10)
    assert result == [512]
    with pytest.raises(nbd.ClosedHandle):
        h.pread(512, 0)


@ours_only
def test_with_closes_even_on_error(nbdkit):
    srv = nbdkit("null")
    with pytest.raises(ZeroDivisionError):
        with nbd.NBD() as h:
            h.connect_unix(srv.sock)
            1 / 0
    with pytest.raises(nbd.ClosedHandle):
        h.get_size()


@ours_only
def test_aio_buffer_outlives_closed_handle(nbdkit):
    h = connected(nbdkit("--filter=delay", "pattern", "size=1M",
                         "rdelay=200ms"))
    buf = nbd.Buffer(512)
    h.aio_pread(buf, 0)
    h.close()
    gc.collect()
    assert len(buf.to_bytearray()) == 512

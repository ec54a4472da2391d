"""Reconnect (set_reconnect_delay, an extension): a file-backed nbdkit
killed with 32 slow writes in flight and started again on the same
socket: every write completes once the handle is back and the data reads
back; without reconnect they all fail."""

import errno
import os
import signal
import subprocess
import time

import nbd
from nbdtest import ours_only

pytestmark = ours_only

BLOCK = 65536
N = 32


def serve(sockdir, disk, *extra):
    sock = os.path.join(sockdir, "sock")
    pidfile = os.path.join(sockdir, "pid")
    for p in (sock, pidfile):
        if os.path.exists(p):
            os.unlink(p)
    filters = [a for a in extra if a.startswith("--filter=")]
    params = [a for a in extra if not a.startswith("--filter=")]
    proc = subprocess.Popen(["nbdkit", "-f", "--exit-with-parent", "-U", sock,
                             "-P", pidfile] + filters + ["file", disk] + params,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    return proc, sock


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def writes_across_a_restart(sockdir, reconnect):
    disk = os.path.join(sockdir, "disk")
    with open(disk, "wb") as f:
        f.truncate(N * BLOCK)
    proc, sock = serve(sockdir, disk, "--filter=delay", "wdelay=2")
    h = nbd.NBD()
    if reconnect:
        h.set_reconnect_delay(10000)
        assert h.get_reconnect_delay() == 10000
    h.connect_unix(sock)
    errs = []
    data = [bytes([i + 1]) * BLOCK for i in range(N)]
    for i, d in enumerate(data):
        h.aio_pwrite(nbd.Buffer.from_bytearray(d), i * BLOCK,
                     completion=lambda err: errs.append(err.value) or 1)
    for _ in range(4):
        h.poll(50)
    assert h.aio_in_flight() == N
    kill(proc)
    killed = time.monotonic()
    again = None
    while h.aio_in_flight() > 0:
        assert time.monotonic() - killed < 20, "the writes hang"
        if again is None and time.monotonic() - killed > 0.3:
            again, _ = serve(sockdir, disk)
        try:
            h.poll(50)
        except nbd.Error:
            break
    if again is None:
        again, _ = serve(sockdir, disk)
    assert len(errs) == N
    # The restarted server is the caller's to kill.
    return h, errs, data, again


def test_writes_survive_a_restart(sockdir):
    h, errs, data, server = writes_across_a_restart(sockdir, True)
    try:
        assert errs == [0] * N
        assert h.stats_reconnects() == 1
        h.flush()
        assert [h.pread(BLOCK, i * BLOCK) for i in range(N)] == data
        h.shutdown()
    finally:
        kill(server)


def test_without_reconnect_they_fail(sockdir):
    h, errs, _, server = writes_across_a_restart(sockdir, False)
    try:
        assert errs == [errno.ENOTCONN] * N
        assert h.aio_is_dead()
        assert h.stats_reconnects() == 0
    finally:
        kill(server)

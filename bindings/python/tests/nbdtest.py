"""Helpers of the tests: servers, expected data, handles, aio waits,
the shell."""

import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

import nbd

# Whether this is our module or Debian's libnbd 1.14 one (see conftest.py).
OURS = hasattr(nbd, "ClosedHandle")
ours_only = pytest.mark.skipif(
    not OURS, reason="not in libnbd %s's module" % nbd.__version__)


class Server:
    """A server process listening on a Unix socket or a TCP port, ready
    once it has written its PID file."""

    def __init__(self, argv, pidfile, sock=None, port=None):
        self.argv = argv
        self.sock = sock
        self.port = port
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self._wait_ready(pidfile)

    @property
    def uri(self):
        if self.sock:
            return "nbd+unix:///?socket=%s" % self.sock
        return "nbd://127.0.0.1:%d/" % self.port

    def _wait_ready(self, pidfile, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d" %
                                   (self.argv[0], self.proc.returncode))
            try:
                with open(pidfile) as f:
                    if f.read().strip():
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("%s did not start in %d s" % (self.argv, timeout))

    def kill(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pattern(offset, count):
    """What nbdkit's pattern plugin holds at [offset, offset+count): each
    8-byte block is its own offset, big-endian."""
    start = offset - offset % 8
    blocks = b"".join(struct.pack(">Q", o)
                      for o in range(start, offset + count + 8, 8))
    return blocks[offset - start:offset - start + count]


def connected(server, **settings):
    """A new handle connected to `server` (after calling set_NAME(VALUE)
    for each keyword)."""
    h = nbd.NBD()
    for name, value in settings.items():
        getattr(h, name)(value)
    h.connect_unix(server.sock)
    return h


def tls_round_trip(h, data, offset):
    """On a handle connected over TLS: TLS was negotiated, `data` written
    at `offset` reads back; then disconnect."""
    assert h.get_tls_negotiated() is True
    h.pwrite(data, offset)
    assert h.pread(len(data), offset) == data
    h.shutdown()


def poll_until(h, cond, timeout=30):
    """Poll the handle until cond() holds; fail after `timeout` seconds
    instead of spinning for ever."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail("still waiting after %d s" % timeout)
        h.poll(1000)


def wait_for(h, cookie):
    """Poll until an aio command completes; return aio_command_completed."""
    poll_until(h, lambda: h.aio_command_completed(cookie))
    return True


def child_pids():
    """The PIDs of this process's children (from /proc, so that it works
    with modules that have no get_subprocess_pid)."""
    me, pids = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            pids.add(int(entry))
    return pids


def exits_within(pid, timeout=10):
    """Whether process `pid` (a child) exits within `timeout` seconds,
    reaped here or already by the library."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True  # already reaped by the library
        if done:
            return True
        time.sleep(0.05)
    return False


def nbdsh(*args, stdin=None, cwd=None):
    """Run the shell (`python -m nbd ARGS...`) to its end."""
    return subprocess.run([sys.executable, "-m", "nbd"] + list(args),
                          input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=cwd)

"""Shared fixtures: NBD servers started per test, killed by PID.

The same tests run against this package (in the venv of `cargo xtask
test`) and against Debian's python3-libnbd (libnbd 1.14) with
/usr/bin/python3, so that both modules are seen to behave the same, and
with Debian's module over our libnbd.so.0 (NBD_TEST_LIBDIR names it).
Tests of what libnbd 1.14's module lacks are marked `ours_only`.
"""

import faulthandler
import os
import shutil
import tempfile

import pytest

import nbd
from nbdtest import OURS, Server, free_port

# A test that takes longer than this is stuck: dump the stacks and end
# the run (servers die with their parent through --exit-with-parent).
TEST_TIMEOUT = 120


def pytest_report_header(config):
    which = "this package" if OURS else "libnbd %s" % nbd.__version__
    lib = os.environ.get("NBD_TEST_LIBDIR")
    over = " over %s/libnbd.so.0" % lib if lib else ""
    return "nbd module: %s (%s)%s" % (which, nbd.__file__, over)


def pytest_configure(config):
    # Debian's module run over our C library: make sure it is ours that
    # the process loaded, not the system's.
    lib = os.environ.get("NBD_TEST_LIBDIR")
    if lib:
        want = os.path.join(lib, "libnbd.so.0")
        with open("/proc/self/maps") as f:
            if want not in f.read():
                raise pytest.UsageError("%s is not the libnbd.so.0 loaded" % want)


@pytest.fixture(autouse=True)
def _bounded_in_time():
    faulthandler.dump_traceback_later(TEST_TIMEOUT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def sockdir():
    # Short, so that socket paths stay under the 108-byte limit.
    d = tempfile.mkdtemp(prefix="nbdpy")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.kill()


@pytest.fixture
def nbdkit(sockdir, servers):
    """nbdkit(*args, tcp=False): start `nbdkit ARGS` and return it."""
    def start(*args, tcp=False):
        if tcp:
            port = free_port()
            where = ["-i", "127.0.0.1", "-p", str(port)]
            sock = None
        else:
            port = None
            sock = os.path.join(sockdir, "nbdkit%d.sock" % len(servers))
            where = ["-U", sock]
        pidfile = os.path.join(sockdir, "nbdkit%d.pid" % len(servers))
        argv = (["nbdkit", "-f", "--exit-with-parent", "-P", pidfile]
                + where + list(args))
        s = Server(argv, pidfile, sock=sock, port=port)
        servers.append(s)
        return s
    return start


@pytest.fixture
def qemu_nbd(sockdir, servers):
    """qemu_nbd(image, *args): serve a raw image file on a Unix socket."""
    def start(image, *args):
        sock = os.path.join(sockdir, "qemu%d.sock" % len(servers))
        pidfile = os.path.join(sockdir, "qemu%d.pid" % len(servers))
        argv = (["qemu-nbd", "-f", "raw", "-k", sock, "-t",
                 "--pid-file=" + pidfile] + list(args) + [image])
        s = Server(argv, pidfile, sock=sock)
        servers.append(s)
        return s
    return start


@pytest.fixture
def handle():
    h = nbd.NBD()
    yield h
    if OURS:
        h.close()
    else:
        del h

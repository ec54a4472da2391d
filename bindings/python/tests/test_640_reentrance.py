"""A callback that calls a locked method of its own handle gets an
nbd.Error with errno EDEADLK instead of hanging for ever (libnbd itself
deadlocks there, so these run with our C library only); the getters that
cannot fail still answer, and the handle works afterwards."""

import errno
import os

import pytest

import nbd
from nbdtest import OURS, connected, ours_only

our_library = pytest.mark.skipif(
    not OURS and not os.environ.get("NBD_TEST_LIBDIR"),
    reason="libnbd %s deadlocks here" % nbd.__version__)


# The name Python gives errno 35 (EDEADLOCK, an alias of EDEADLK).
EDEADLK = errno.errorcode[errno.EDEADLK]


def close(h):
    """Close now (libnbd 1.14's module has no close(): drop it there)."""
    if OURS:
        h.close()


def errno_of(f, *args):
    try:
        f(*args)
    except nbd.Error as e:
        return e.errno
    return "no error"


@our_library
def test_completion_callback_calling_its_handle(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    seen = []

    def done(err):
        seen.append(err.value)
        seen.append(errno_of(h.get_size))
        seen.append(errno_of(h.pread, 512, 0))
        seen.append(h.get_debug())
        return 1

    buf = nbd.Buffer(4096)
    cookie = h.aio_pread(buf, 0, done)
    # The callback retires the command itself (it returned 1).
    while h.aio_in_flight() > 0:
        h.poll(5000)
    assert seen == [0, EDEADLK, EDEADLK, False]
    # Retired by the callback: nothing left to collect.
    assert not h.aio_command_completed(cookie)
    assert h.get_size() == 1 << 20
    assert h.pread(512, 0) == bytearray(512)
    close(h)


@our_library
def test_extent_callback_calling_its_handle_fails_only_the_inner_call(nbdkit):
    h = nbd.NBD()
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    h.connect_unix(nbdkit("memory", "size=1M").sock)
    seen = []

    def extent(ctx, offset, entries, err):
        seen.append(errno_of(h.set_handle_name, "x"))
        return 0

    h.block_status(65536, 0, extent)
    assert seen == [EDEADLK]
    assert h.get_handle_name() != "x"
    close(h)


@ours_only
def test_close_from_its_own_callback(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    h.aio_flush(lambda err: h.close() or 0)
    # close() from the callback takes effect when the poll that ran it
    # returns: later calls see a closed handle, and nothing crashed.
    for _ in range(100):
        try:
            h.poll(1000)
        except nbd.ClosedHandle:
            break
    else:
        pytest.fail("the handle was never closed")

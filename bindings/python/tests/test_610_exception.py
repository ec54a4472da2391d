"""Exceptions raised inside callbacks: reported, and the command fails
with an error, never a crash and never silently."""

import pytest

import nbd
from nbdtest import connected, ours_only, wait_for


def bs_handle(srv):
    h = nbd.NBD()
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    h.connect_unix(srv.sock)
    return h


def boom(*args):
    raise ValueError("boom")


def test_exception_in_extent_callback(nbdkit):
    h = bs_handle(nbdkit("memory", "size=1M"))
    with pytest.raises(nbd.Error) as e:
        h.block_status(65536, 0, boom)
    assert e.value.errno == "EPROTO"
    # The handle still works.
    assert h.pread(16, 0) == bytearray(16)


def test_exception_in_chunk_callback(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    with pytest.raises(nbd.Error):
        h.pread_structured(512, 0, boom)
    assert len(h.pread(512, 0)) == 512


@ours_only
def test_exception_is_the_cause(nbdkit):
    h = bs_handle(nbdkit("memory", "size=1M"))
    with pytest.raises(nbd.Error) as e:
        h.block_status(65536, 0, boom)
    assert isinstance(e.value.__cause__, ValueError)


@ours_only
def test_exception_in_list_callback(nbdkit):
    h = nbd.NBD()
    h.set_opt_mode(True)
    h.connect_unix(nbdkit("null").sock)
    with pytest.raises(nbd.Error) as e:
        h.opt_list(boom)
    assert isinstance(e.value.__cause__, ValueError)
    h.opt_abort()


@ours_only
def test_exception_in_completion_callback(nbdkit, capfd):
    h = connected(nbdkit("pattern", "size=1M"))
    cookie = h.aio_pread(nbd.Buffer(512), 0, completion=boom)
    with pytest.raises(nbd.Error) as e:
        wait_for(h, cookie)
    assert e.value.errno == "EPROTO"
    assert "boom" in capfd.readouterr().err


@ours_only  # libnbd's module aborts the process on an AssertionError
def test_assertion_in_callback_is_not_fatal(nbdkit, capfd):
    def fails(err):
        assert False, "inside the callback"

    h = connected(nbdkit("pattern", "size=1M"))
    cookie = h.aio_pread(nbd.Buffer(8), 0, completion=fails)
    with pytest.raises(nbd.Error):
        wait_for(h, cookie)
    assert "inside the callback" in capfd.readouterr().err


def test_non_int_return_counts_as_zero(nbdkit):
    h = bs_handle(nbdkit("memory", "size=1M"))
    h.block_status(65536, 0, lambda *a: "not an int")


def test_callback_sets_error_value(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))

    def chunk(subbuf, offset, status, err):
        err.value = 5  # EIO
        return -1

    with pytest.raises(nbd.Error) as e:
        h.pread_structured(512, 0, chunk)
    assert e.value.errnum == 5


@ours_only
def test_keyboard_interrupt_in_callback_passes_through(nbdkit):
    h = bs_handle(nbdkit("memory", "size=1M"))

    def interrupt(*args):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        h.block_status(65536, 0, interrupt)

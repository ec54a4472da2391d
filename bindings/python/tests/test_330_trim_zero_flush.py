"""Trim, zero, flush and cache."""

import pytest

import nbd
from nbdtest import connected


def test_trim(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    assert h.can_trim() is True
    h.pwrite(b"\xaa" * 65536, 0)
    h.trim(65536, 0)
    assert h.pread(65536, 0) == bytearray(65536)


def test_zero(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    assert h.can_zero() is True
    h.pwrite(b"\xaa" * 8192, 0)
    h.zero(4096, 0)
    h.zero(4096, 4096, nbd.CMD_FLAG_NO_HOLE)
    assert h.pread(8192, 0) == bytearray(8192)


def test_flush_and_fua(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    assert h.can_flush() is True
    h.flush()
    h.pwrite(b"x", 0, flags=nbd.CMD_FLAG_FUA)
    h.trim(4096, 4096, nbd.CMD_FLAG_FUA)


def test_cache(nbdkit):
    h = connected(nbdkit("--filter=cache", "memory", "size=1M"))
    if not h.can_cache():
        pytest.skip("server has no cache command")
    h.cache(4096, 0)


def test_zero_refused_when_unsupported(nbdkit):
    h = connected(nbdkit("--filter=nozero", "memory", "size=1M"))
    assert h.can_zero() is False
    with pytest.raises(nbd.Error):
        h.zero(512, 0)

"""nbd.Buffer as libnbd's module documents it: from_bytearray and
to_bytearray copy, from_buffer and to_buffer share, a new Buffer(n)
reads as zeroes, is_zero() with and without a range."""

import pytest

import nbd


def test_new_buffer_is_zeroes():
    b = nbd.Buffer(64)
    assert len(b) == 64 and b.size() == 64
    assert b.is_zero()
    assert bytes(memoryview(b.to_buffer())) == bytes(64)
    assert b.to_bytearray() == bytearray(64)


def test_from_bytearray_and_to_bytearray_copy():
    ba = bytearray(b"abcd")
    b = nbd.Buffer.from_bytearray(ba)
    ba[0] = ord("z")
    assert b.to_bytearray() == bytearray(b"abcd")
    out = b.to_bytearray()
    out[1] = ord("z")
    assert b.to_bytearray() == bytearray(b"abcd")
    # Anything bytearray() takes.
    assert nbd.Buffer.from_bytearray(b"xy").to_bytearray() == bytearray(b"xy")


def test_from_buffer_and_to_buffer_share():
    if not hasattr(nbd.Buffer, "from_buffer"):
        pytest.skip("libnbd %s's Buffer has no from_buffer" % nbd.__version__)
    ba = bytearray(b"abcd")
    b = nbd.Buffer.from_buffer(ba)
    ba[0] = ord("z")
    assert b.to_bytearray() == bytearray(b"zbcd")
    shared = b.to_buffer()
    shared[1] = ord("y")
    assert ba == bytearray(b"zycd")


def test_is_zero_ranges():
    b = nbd.Buffer.from_bytearray(bytearray(b"\0\0\1\0\0"))
    assert not b.is_zero()
    assert b.is_zero(0, 2)
    assert not b.is_zero(1, 2)
    assert b.is_zero(3)
    assert b.is_zero(2, 0)
    assert b.is_zero(5)

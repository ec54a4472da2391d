"""Block status with base:allocation, against nbdkit and qemu-nbd."""

# scenarios: 465 208

import errno

import pytest

import nbd
from nbdtest import ours_only, wait_for


def bs_handle(srv):
    h = nbd.NBD()
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    h.connect_unix(srv.sock)
    assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    return h


def collect(h, count, offset, flags=0):
    found = []

    def extent(metacontext, off, entries, err):
        assert err.value == 0
        if metacontext == nbd.CONTEXT_BASE_ALLOCATION:
            found.append((off, list(entries)))
        return 0

    h.block_status(count, offset, extent, flags)
    return found


def test_data_and_holes(nbdkit):
    h = bs_handle(nbdkit("memory", "size=1M"))
    h.pwrite(b"\xff" * 65536, 0)
    [(off, entries)] = collect(h, 1 << 20, 0)
    assert off == 0
    assert entries[0:2] == [65536, 0]
    assert entries[3] & (nbd.STATE_HOLE | nbd.STATE_ZERO)
    assert sum(entries[0::2]) >= 65536


def test_req_one(nbdkit):
    h = bs_handle(nbdkit("memory", "size=1M"))
    h.pwrite(b"\xff" * 65536, 0)
    [(_, entries)] = collect(h, 1 << 20, 0, nbd.CMD_FLAG_REQ_ONE)
    assert len(entries) == 2


def test_qemu_nbd(qemu_nbd, tmp_path):
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(4 << 20)
        f.seek(1 << 20)
        f.write(b"\x01" * (1 << 20))
    h = bs_handle(qemu_nbd(str(image)))
    [(_, entries)] = collect(h, 4 << 20, 0)
    pairs = list(zip(entries[0::2], entries[1::2]))
    assert sum(n for n, _ in pairs) == 4 << 20
    offset = 0
    for n, flags in pairs:
        if offset <= (1 << 20) + 4096 < offset + n:
            assert flags == 0  # the written megabyte is data
        offset += n


def test_callback_error_fails_command(nbdkit):
    h = bs_handle(nbdkit("memory", "size=1M"))

    def extent(metacontext, off, entries, err):
        err.value = errno.EIO
        return -1

    with pytest.raises(nbd.Error) as e:
        h.block_status(65536, 0, extent)
    assert e.value.errnum == errno.EIO


def test_without_meta_context(nbdkit):
    h = nbd.NBD()
    h.connect_unix(nbdkit("memory", "size=1M").sock)
    with pytest.raises(nbd.Error):
        h.block_status(512, 0, lambda *a: 0)


def test_aio_block_status(nbdkit):
    h = bs_handle(nbdkit("memory", "size=1M"))
    found = []
    cookie = h.aio_block_status(
        65536, 0, lambda ctx, off, entries, err: found.append(entries))
    wait_for(h, cookie)
    assert found and sum(found[0][0::2]) >= 65536


@ours_only
def test_block_status_64(nbdkit):
    h = bs_handle(nbdkit("memory", "size=1M"))
    h.pwrite(b"\xff" * 65536, 0)
    found = []
    h.block_status_64(1 << 20, 0,
                      lambda ctx, off, entries, err: found.extend(entries))
    assert found[0] == (65536, 0)
    assert all(isinstance(e, tuple) and len(e) == 2 for e in found)

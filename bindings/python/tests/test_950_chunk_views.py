"""The chunk callback of pread_structured and aio_pread_structured gets a
read-only memoryview into the result buffer, not a copy: a callback that
keeps it pins the buffer, as libnbd's module documents."""

import pytest

import nbd
from nbdtest import connected, pattern, wait_for


def test_aio_chunk_is_a_read_only_view_of_the_buffer(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    buf = bytearray(4096)
    seen = []

    def chunk(sub, offset, status, err):
        assert isinstance(sub, memoryview)
        assert sub.readonly
        seen.append((bytes(sub), offset, status))
        kept.append(sub)
        return 0

    kept = []
    wait_for(h, h.aio_pread_structured(buf, 8192, chunk))
    assert seen and seen[0][1] == 8192 and seen[0][2] == nbd.READ_DATA
    assert seen[0][0] == pattern(8192, len(seen[0][0]))
    # The view the callback kept pins the result buffer.
    with pytest.raises(BufferError):
        buf.extend(b"x")
    kept.clear()
    buf.extend(b"x")


def test_aio_chunk_views_share_memory_with_the_buffer(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    buf = nbd.Buffer(1024)
    kept = []
    wait_for(h, h.aio_pread_structured(buf, 0, lambda s, o, st, e: kept.append(s) or 0))
    buf.to_buffer()[0] = 0xaa  # change the buffer: the view sees it
    assert kept[0][0] == 0xaa
    with pytest.raises(TypeError):
        kept[0][0] = 1  # read-only


def test_sync_chunk_view_pins_the_returned_bytearray(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    kept = []

    def chunk(sub, offset, status, err):
        assert isinstance(sub, memoryview) and sub.readonly
        kept.append(sub)
        return 0

    data = h.pread_structured(2048, 4096, chunk)
    assert data == pattern(4096, 2048)
    assert bytes(kept[0]) == bytes(data[:len(kept[0])])
    with pytest.raises(BufferError):
        data.extend(b"x")
    kept.clear()
    data.extend(b"x")

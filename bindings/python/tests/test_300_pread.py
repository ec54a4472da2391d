"""Reading and writing: bytes, bytearray and memoryview, flags, pattern
data past 4 GiB."""

# scenarios: 310 320 510

import array

import pytest

import nbd
from nbdtest import connected, pattern


def test_pread_returns_bytearray(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    buf = h.pread(512, 0)
    assert isinstance(buf, bytearray)
    assert buf == pattern(0, 512)


def test_pread_unaligned(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    assert h.pread(13, 8195) == pattern(8195, 13)


def test_pattern_past_4g(nbdkit):
    h = connected(nbdkit("pattern", "size=8G"))
    assert h.get_size() == 8 << 30
    for offset in (4 << 30, (5 << 30) + 8, (8 << 30) - 4096):
        assert h.pread(4096, offset) == pattern(offset, 4096)


def test_pread_zero_length_refused_by_strict_mode(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    with pytest.raises(nbd.Error) as e:
        h.pread(0, 0)
    assert e.value.errno == "EINVAL"


def test_pread_structured(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    chunks = []

    def chunk(subbuf, offset, status, err):
        assert err.value == 0
        chunks.append((bytes(subbuf), offset, status))
        return 0

    buf = h.pread_structured(1024, 4096, chunk)
    assert buf == pattern(4096, 1024)
    assert b"".join(c for c, _, _ in chunks) == buf
    assert chunks[0][1] == 4096
    assert all(s == nbd.READ_DATA for _, _, s in chunks)


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview",
                                  "memoryview-slice", "array"])
def test_pwrite_buffer_kinds(nbdkit, kind):
    h = connected(nbdkit("memory", "size=1M"))
    data = bytes(range(256)) * 16
    arg = {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "memoryview-slice": memoryview(b"xx" + data + b"yy")[2:-2],
        "array": array.array("B", data),
    }[kind]
    h.pwrite(arg, 8192)
    assert h.pread(len(data), 8192) == data


def test_pwrite_refuses_str(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    with pytest.raises(TypeError):
        h.pwrite("text", 0)


def test_pwrite_fua(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    h.pwrite(b"\x01" * 512, 0, nbd.CMD_FLAG_FUA)
    h.pwrite(b"\x02" * 512, 512, flags=nbd.CMD_FLAG_FUA)
    assert h.pread(1024, 0) == b"\x01" * 512 + b"\x02" * 512


def test_large_read_and_write(nbdkit):
    h = connected(nbdkit("memory", "size=64M"))
    data = bytes(range(256)) * (8 << 12)  # 8 MiB
    h.pwrite(data, 1 << 20)
    assert h.pread(len(data), 1 << 20) == data

"""pread_initialize: a read the server fails leaves the caller's buffer
cleared (the default), so no stale bytes pass for data; turned off, the
buffer is left as it was."""

import pytest

import nbd
from nbdtest import connected, wait_for

FAILING_READS = ("--filter=error", "pattern", "size=1M", "error=EIO",
                 "error-pread-rate=1")


@pytest.mark.parametrize("initialize", [True, False])
def test_failed_read_and_the_buffer(nbdkit, initialize):
    h = connected(nbdkit(*FAILING_READS))
    assert h.get_pread_initialize() is True
    h.set_pread_initialize(initialize)
    assert h.get_pread_initialize() is initialize
    buf = nbd.Buffer.from_bytearray(bytearray(b"\xff" * 512))
    cookie = h.aio_pread(buf, 0)
    with pytest.raises(nbd.Error) as e:
        wait_for(h, cookie)
    assert e.value.errno == "EIO"
    if initialize:
        assert buf.to_bytearray() == bytearray(512)
    else:
        assert buf.to_bytearray() == bytearray(b"\xff" * 512)

"""The debug flag and the debug callback."""

# scenarios: 620

import nbd
from nbdtest import connected, ours_only


def test_debug_callback(nbdkit):
    messages = []
    h = nbd.NBD()
    h.set_debug(True)
    assert h.get_debug() is True
    h.set_debug_callback(lambda context, msg: messages.append((context, msg)))
    h.connect_unix(nbdkit("null").sock)
    h.get_size()
    assert messages
    assert all(isinstance(c, str) and isinstance(m, str) for c, m in messages)
    assert any(c.startswith("nbd_") for c, _ in messages)
    h.clear_debug_callback()
    count = len(messages)
    h.get_size()
    assert len(messages) == count
    h.set_debug(False)
    assert h.get_debug() is False


def test_debug_callback_exception_does_not_break_handle(nbdkit, capfd):
    h = nbd.NBD()
    h.set_debug(True)

    def bad(context, msg):
        raise RuntimeError("debug callback failed")

    h.set_debug_callback(bad)
    h.connect_unix(nbdkit("pattern", "size=1M").sock)
    assert len(h.pread(8, 0)) == 8
    h.clear_debug_callback()
    assert "debug callback failed" in capfd.readouterr().err


@ours_only  # the stats_* calls are from libnbd 1.16
def test_stats(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    before = h.stats_bytes_received()
    h.pread(4096, 0)
    assert h.stats_bytes_received() >= before + 4096
    assert h.stats_bytes_sent() > 0
    assert h.stats_chunks_sent() > 0
    assert h.stats_chunks_received() > 0

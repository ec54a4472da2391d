"""The hostile server of tests/hostile from Python: each misbehaviour
ends in an nbd.Error with a message, within a timeout, and no read
returns data the server did not send."""

import errno
import os
import sys

import pytest

import nbd
from nbdtest import OURS, poll_until

SERVER = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "hostile",
                      "nbd-hostile-server.py")

pytestmark = pytest.mark.skipif(not OURS, reason="libnbd 1.14 accepts some of these replies")


def hostile(scenario, *settings):
    h = nbd.NBD()
    for s in settings:
        s(h)
    h.connect_command([sys.executable, SERVER, "--scenario", scenario])
    return h


@pytest.mark.parametrize("scenario,err,words", [
    ("short-read", errno.EIO, "covered"),
    ("read-none", errno.EIO, "covered 0"),
    ("overlap-read", errno.ENOTCONN, "overlapping"),
    ("unknown-chunk", errno.ENOTCONN, "unknown structured reply chunk type"),
    ("disconnect-mid-reply", errno.ENOTCONN, "middle of a reply"),
])
def test_bad_reads_fail_with_a_message(scenario, err, words):
    h = hostile(scenario)
    with pytest.raises(nbd.Error) as e:
        h.pread(4096, 0)
    assert e.value.errnum == err
    assert words in e.value.string


@pytest.mark.parametrize("scenario,words", [
    ("bs-zero-length", "zero-length extent"),
    ("bs-wrong-context", "meta context ID 99"),
])
def test_bad_block_status_fails_and_the_connection_lives(scenario, words):
    h = hostile(scenario, lambda h: h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION))
    seen = []
    with pytest.raises(nbd.Error) as e:
        h.block_status(65536, 0, lambda *a: seen.append(a) or 0)
    assert e.value.errnum == errno.EPROTO and words in e.value.string
    assert seen == []
    assert len(h.pread(512, 0)) == 512


def test_option_flood_is_bounded():
    h = hostile("list-flood", lambda h: h.set_opt_mode(True))
    with pytest.raises(nbd.Error) as e:
        h.opt_list(lambda name, desc: 0)
    assert e.value.errnum == errno.EPROTO


def test_trickling_server_gives_correct_data():
    h = hostile("trickle")
    data = h.pread(4096, 1000)
    assert data == bytes((1000 + i) % 251 for i in range(4096))


def test_close_with_64_in_flight():
    h = hostile("close-in-flight")
    bufs = [nbd.Buffer(512) for _ in range(64)]
    for b in bufs:
        b.to_buffer()[:] = b"\xaa" * 512
    cookies = [h.aio_pread(b, i * 512) for i, b in enumerate(bufs)]
    poll_until(h, lambda: h.aio_in_flight() == 0 or h.aio_is_dead())
    ok = failed = 0
    for i, c in enumerate(cookies):
        try:
            assert h.aio_command_completed(c)
            assert bytes(bufs[i].to_bytearray()) == bytes((i * 512 + k) % 251 for k in range(512))
            ok += 1
        except nbd.Error as e:
            assert e.errnum == errno.ENOTCONN, e
            failed += 1
    assert (ok, failed) == (10, 54)
    assert h.aio_is_dead()

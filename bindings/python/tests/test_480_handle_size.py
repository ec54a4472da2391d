"""nbd.NBD.get_handle_size (libnbd 1.24), and sys.getsizeof of a handle
counting what the handle holds."""

import sys

import pytest

import nbd
from nbdtest import connected

pytestmark = pytest.mark.skipif(not hasattr(nbd.NBD, "get_handle_size"),
                                reason="libnbd %s has no get_handle_size" % nbd.__version__)


def test_handle_size_grows_when_connected(nbdkit):
    h = nbd.NBD()
    fresh = h.get_handle_size()
    assert fresh > 0
    h2 = connected(nbdkit("memory", "size=1M"))
    assert h2.get_handle_size() >= fresh + 64 * 1024


def test_getsizeof_counts_the_handle(nbdkit):
    h = connected(nbdkit("memory", "size=1M"))
    assert sys.getsizeof(h) >= h.get_handle_size()

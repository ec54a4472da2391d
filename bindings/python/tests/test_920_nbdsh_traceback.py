"""An exception from a call inside nbdsh prints a normal Python traceback
naming the call where it happened, and nbdsh exits with 1."""


import pytest

import nbd
from nbdtest import OURS, nbdsh


@pytest.mark.skipif(not OURS, reason="libnbd 1.14's nbdsh prints one line, no traceback")
def test_traceback_names_the_call():
    r = nbdsh("-c", "h.is_read_only()")
    assert r.returncode == 1
    assert "Traceback (most recent call last):" in r.stderr
    assert "in is_read_only" in r.stderr
    assert "nbd.Error: nbd_is_read_only:" in r.stderr
    # And libnbd's one-line summary still ends the output.
    assert r.stderr.rstrip().splitlines()[-1].startswith(
        "nbdsh: command line script failed: nbd_is_read_only:")


def test_exit_status_1_on_call_errors():
    r = nbdsh("-c", "h.get_size()")
    assert r.returncode == 1
    assert "nbd_get_size" in r.stderr


def test_traceback_outside_nbdsh():
    # The same frame shows in a traceback of any program using the module.
    h = nbd.NBD()
    with pytest.raises(nbd.Error) as info:
        h.is_read_only()
    names = [entry.name for entry in info.traceback]
    if OURS:
        assert names[-1] == "is_read_only"

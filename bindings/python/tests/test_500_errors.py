"""Errors: nbd.Error's string, errno and errnum, and Python argument
errors."""

# scenarios: 510 520 530 550

import errno

import pytest

import nbd
from nbdtest import connected, ours_only


def test_not_connected():
    h = nbd.NBD()
    with pytest.raises(nbd.Error) as e:
        h.pread(0, 0)
    assert e.value.errnum == errno.ENOTCONN
    assert e.value.errno == "ENOTCONN"
    assert e.value.string.startswith("nbd_pread: ")
    assert str(e.value).endswith("(ENOTCONN)")
    assert e.value.args == (e.value.string, errno.ENOTCONN)


def test_out_of_bounds(nbdkit):
    h = connected(nbdkit("null", "size=4K"))
    with pytest.raises(nbd.Error) as e:
        h.pread(512, 4096)
    assert e.value.errnum == errno.EINVAL


def test_flag_not_permitted(nbdkit):
    h = connected(nbdkit("memory", "size=4K"))
    with pytest.raises(nbd.Error) as e:
        h.pwrite(b"x", 0, nbd.CMD_FLAG_REQ_ONE)
    assert e.value.errnum == errno.EINVAL


def test_write_to_read_only(nbdkit):
    h = connected(nbdkit("-r", "memory", "size=4K"))
    assert h.is_read_only() is True
    with pytest.raises(nbd.Error) as e:
        h.pwrite(b"x", 0)
    assert e.value.errnum == errno.EPERM


def test_server_error_is_reported(nbdkit):
    h = connected(nbdkit("--filter=error", "memory", "size=1M",
                         "error=EIO", "error-pread-rate=1"))
    with pytest.raises(nbd.Error) as e:
        h.pread(512, 0)
    assert e.value.errnum == errno.EIO


def test_wrong_state():
    h = nbd.NBD()
    with pytest.raises(nbd.Error) as e:
        h.opt_go()
    assert e.value.errnum in (errno.ENOTCONN, errno.EINVAL)


def test_argument_type_errors(nbdkit):
    h = connected(nbdkit("null"))
    with pytest.raises(TypeError):
        h.pread("512", 0)
    with pytest.raises(TypeError):
        h.set_export_name(3)
    with pytest.raises(TypeError):
        h.block_status(512, 0, "not callable")


@ours_only  # libnbd 1.14 raises SystemError (a negative bytearray size)
def test_negative_count(nbdkit):
    h = connected(nbdkit("null"))
    with pytest.raises(OverflowError):
        h.pread(-1, 0)


def test_string_list_argument():
    h = nbd.NBD()
    with pytest.raises((TypeError, nbd.Error)):
        h.connect_command("nbdkit")

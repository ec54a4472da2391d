"""Handles, module attributes, constants and the exception classes."""

# scenarios: 140 150

import errno

import pytest

import nbd
from nbdtest import OURS, ours_only


def test_create_and_name():
    h = nbd.NBD()
    assert h.get_handle_name().startswith("nbd")
    h.set_handle_name("myname")
    assert h.get_handle_name() == "myname"


def test_handles_are_distinct():
    a, b = nbd.NBD(), nbd.NBD()
    assert a.get_handle_name() != b.get_handle_name()


def test_version_and_package_name():
    assert nbd.package_name == "libnbd"
    major, minor, release = (int(x) for x in nbd.__version__.split("."))
    assert (major, minor) >= (1, 14)
    h = nbd.NBD()
    assert h.get_version() == nbd.__version__
    assert h.get_package_name() == nbd.package_name


# Values of libnbd 1.14's module: ABI, so ours must be equal.
LIBNBD_1_14 = {
    "TLS_DISABLE": 0, "TLS_ALLOW": 1, "TLS_REQUIRE": 2,
    "SIZE_MINIMUM": 0, "SIZE_PREFERRED": 1, "SIZE_MAXIMUM": 2,
    "CMD_FLAG_FUA": 1, "CMD_FLAG_NO_HOLE": 2, "CMD_FLAG_DF": 4,
    "CMD_FLAG_REQ_ONE": 8, "CMD_FLAG_FAST_ZERO": 16,
    "HANDSHAKE_FLAG_FIXED_NEWSTYLE": 1, "HANDSHAKE_FLAG_NO_ZEROES": 2,
    "HANDSHAKE_FLAG_MASK": 3,
    "STRICT_COMMANDS": 1, "STRICT_FLAGS": 2, "STRICT_BOUNDS": 4,
    "STRICT_ZERO_SIZE": 8, "STRICT_ALIGN": 16,
    "ALLOW_TRANSPORT_TCP": 1, "ALLOW_TRANSPORT_UNIX": 2,
    "ALLOW_TRANSPORT_VSOCK": 4,
    "SHUTDOWN_ABANDON_PENDING": 0x10000,
    "AIO_DIRECTION_READ": 1, "AIO_DIRECTION_WRITE": 2,
    "AIO_DIRECTION_BOTH": 3,
    "READ_DATA": 1, "READ_HOLE": 2, "READ_ERROR": 3,
    "NAMESPACE_BASE": "base:", "CONTEXT_BASE_ALLOCATION": "base:allocation",
    "STATE_HOLE": 1, "STATE_ZERO": 2,
}


@pytest.mark.parametrize("name", sorted(LIBNBD_1_14))
def test_constants(name):
    assert getattr(nbd, name) == LIBNBD_1_14[name]


def test_masks_cover_their_flags():
    for prefix in ("CMD_FLAG", "STRICT", "HANDSHAKE_FLAG", "ALLOW_TRANSPORT"):
        names = [n for n in dir(nbd)
                 if n.startswith(prefix + "_") and not n.endswith("_MASK")]
        mask = getattr(nbd, prefix + "_MASK")
        for n in names:
            assert getattr(nbd, n) & mask == getattr(nbd, n), n


@ours_only
def test_newer_constants():
    assert nbd.SIZE_PAYLOAD == 3
    assert nbd.CMD_FLAG_PAYLOAD_LEN == 0x20
    assert nbd.CONTEXT_QEMU_DIRTY_BITMAP == "qemu:dirty-bitmap:"


def test_error_class():
    assert issubclass(nbd.Error, Exception)
    e = nbd.Error("nbd_pread: boom", errno.EINVAL)
    assert e.string == "nbd_pread: boom"
    assert e.errnum == errno.EINVAL
    assert e.errno == "EINVAL"
    assert str(e) == "nbd_pread: boom (EINVAL)"
    e = nbd.Error("no errno", 0)
    assert e.errno is None
    assert str(e) == "no errno"


def test_methods_have_docstrings():
    assert "read" in nbd.NBD.pread.__doc__.lower()
    assert nbd.NBD.block_status.__doc__


@ours_only
def test_with_statement():
    with nbd.NBD() as h:
        assert h.get_handle_name().startswith("nbd")
    with pytest.raises(nbd.ClosedHandle):
        h.get_size()


@ours_only
def test_close_then_use():
    h = nbd.NBD()
    h.close()
    with pytest.raises(nbd.ClosedHandle):
        h.set_export_name("test")
    with pytest.raises(nbd.ClosedHandle):
        h.close()


@ours_only
def test_typing_stub_is_installed():
    import os
    pkg = os.path.dirname(nbd.__file__)
    assert os.path.exists(os.path.join(pkg, "__init__.pyi"))
    assert os.path.exists(os.path.join(pkg, "py.typed"))


def test_subclass_of_handle():
    if not OURS:
        pytest.skip("libnbd's NBD is a plain Python class")

    class Mine(nbd.NBD):
        def size_in_kib(self):
            return self.get_size() // 1024

    assert Mine().get_handle_name().startswith("nbd")

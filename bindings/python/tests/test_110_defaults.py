"""The settings of a new handle, and setting them to other values."""

# scenarios: 120 130

import os

import pytest

import nbd
from nbdtest import OURS, ours_only


def set_then_get(h, setting, value):
    """h.set_SETTING(value), after which h.get_SETTING() returns it (the
    very bool for a bool)."""
    getattr(h, "set_" + setting)(value)
    got = getattr(h, "get_" + setting)()
    if isinstance(value, bool):
        assert got is value, (setting, got)
    else:
        assert got == value, (setting, got)


def test_defaults():
    h = nbd.NBD()
    assert h.get_export_name() == ""
    assert h.get_full_info() is False
    assert h.get_tls() == nbd.TLS_DISABLE
    assert h.get_request_structured_replies() is True
    assert h.get_request_block_size() is True
    assert h.get_handshake_flags() == nbd.HANDSHAKE_FLAG_MASK
    assert h.get_pread_initialize() is True
    assert h.get_opt_mode() is False
    assert h.get_private_data() == 0
    assert h.get_nr_meta_contexts() == 0
    assert h.get_debug() is (os.environ.get("LIBNBD_DEBUG") == "1")
    strict = h.get_strict_mode()
    if not os.environ.get("NBD_TEST_LIBDIR"):
        # (Debian's 1.14 module over our 1.24 library knows fewer bits.)
        assert strict & ~nbd.STRICT_MASK == 0
    for flag in (nbd.STRICT_COMMANDS, nbd.STRICT_FLAGS, nbd.STRICT_BOUNDS,
                 nbd.STRICT_ZERO_SIZE, nbd.STRICT_ALIGN):
        assert strict & flag


def test_set_non_defaults():
    h = nbd.NBD()
    set_then_get(h, "export_name", "name")
    set_then_get(h, "full_info", True)
    if h.supports_tls():
        set_then_get(h, "tls", nbd.TLS_ALLOW)
    set_then_get(h, "request_structured_replies", False)
    set_then_get(h, "handshake_flags", 0)
    set_then_get(h, "strict_mode", 0)
    set_then_get(h, "opt_mode", True)
    set_then_get(h, "pread_initialize", False)
    assert h.set_private_data(42) == 0
    assert h.get_private_data() == 42
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    assert h.get_nr_meta_contexts() == 1
    assert h.get_meta_context(0) == nbd.CONTEXT_BASE_ALLOCATION
    h.clear_meta_contexts()
    assert h.get_nr_meta_contexts() == 0


def test_bool_arguments_take_any_truth_value():
    h = nbd.NBD()
    h.set_full_info(1)
    assert h.get_full_info() is True
    h.set_full_info([])
    assert h.get_full_info() is False


def test_invalid_enum_and_flags():
    h = nbd.NBD()
    with pytest.raises(nbd.Error) as e:
        h.set_tls(99)
    assert e.value.errno == "EINVAL"
    with pytest.raises(nbd.Error) as e:
        h.set_handshake_flags(0x100)
    assert e.value.errno == "EINVAL"


def test_tls_settings_before_connecting():
    h = nbd.NBD()
    set_then_get(h, "tls_username", "alice")
    set_then_get(h, "tls_verify_peer", False)


@ours_only
def test_newer_settings():
    h = nbd.NBD()
    assert h.get_request_meta_context() is True
    set_then_get(h, "request_extended_headers", False)
    set_then_get(h, "socket_activation_name", "mine")


def test_path_arguments(tmp_path):
    h = nbd.NBD()
    h.set_tls_psk_file(str(tmp_path / "keys.psk"))
    if OURS:
        # (get_tls_psk_file is not in libnbd 1.14's module.)
        assert h.get_tls_psk_file() == str(tmp_path / "keys.psk")
    h.set_tls_psk_file(tmp_path / "other.psk")
    if OURS:
        assert h.get_tls_psk_file() == str(tmp_path / "other.psk")

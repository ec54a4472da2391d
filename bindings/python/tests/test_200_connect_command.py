"""Connecting: to a subprocess, a Unix socket, socket activation."""

# scenarios: 201 204 205 206 207 209

import os
import socket

import pytest

import nbd
from nbdtest import connected, ours_only, poll_until


def test_connect_command():
    h = nbd.NBD()
    h.connect_command(["nbdkit", "-s", "--exit-with-parent", "null",
                       "size=1M"])
    assert h.aio_is_ready()
    assert h.get_size() == 1 << 20
    assert h.get_protocol() == "newstyle-fixed"
    assert h.connection_state().startswith("READY")
    h.shutdown()


def test_connect_command_failure():
    h = nbd.NBD()
    with pytest.raises(nbd.Error):
        h.connect_command(["false"])


def test_connect_unix(nbdkit):
    srv = nbdkit("memory", "size=64K")
    h = connected(srv)
    assert h.get_size() == 65536
    assert h.is_read_only() is False
    for flag in (h.can_flush, h.can_fua, h.can_trim, h.can_zero,
                 h.can_multi_conn, h.can_cache, h.can_df,
                 h.can_fast_zero, h.is_rotational):
        assert isinstance(flag(), bool)


def test_connect_unix_path_types(nbdkit):
    srv = nbdkit("null", "size=512")
    import pathlib
    h = nbd.NBD()
    h.connect_unix(pathlib.Path(srv.sock))
    assert h.get_size() == 512


def test_connect_socket(nbdkit):
    srv = nbdkit("null", "size=4K")
    s = socket.socket(socket.AF_UNIX)
    s.connect(srv.sock)
    h = nbd.NBD()
    h.connect_socket(s.detach())
    assert h.get_size() == 4096


def test_connect_systemd_socket_activation():
    h = nbd.NBD()
    h.connect_systemd_socket_activation(["nbdkit", "--exit-with-parent",
                                         "null", "size=8K"])
    assert h.get_size() == 8192


def test_connect_twice_fails(nbdkit):
    srv = nbdkit("null")
    h = connected(srv)
    with pytest.raises(nbd.Error) as e:
        h.connect_unix(srv.sock)
    assert e.value.errno == "EINVAL"


def test_export_name(nbdkit):
    srv = nbdkit("--filter=exportname", "memory", "size=4K",
                 "exportname=first", "exportname-strict=true")
    h = nbd.NBD()
    h.set_export_name("first")
    h.connect_unix(srv.sock)
    assert h.get_size() == 4096
    bad = nbd.NBD()
    bad.set_export_name("other")
    with pytest.raises(nbd.Error):
        bad.connect_unix(srv.sock)


@ours_only
def test_aio_connect_sockaddr(nbdkit):
    srv = nbdkit("null", "size=2K")
    h = nbd.NBD()
    h.aio_connect(srv.sock)
    poll_until(h, lambda: not h.aio_is_connecting())
    assert h.aio_is_ready()
    assert h.get_size() == 2048


@ours_only
def test_subprocess_pid():
    h = nbd.NBD()
    h.connect_command(["nbdkit", "-s", "--exit-with-parent", "null"])
    pid = h.get_subprocess_pid()
    assert pid > 0
    os.kill(pid, 0)

"""URIs, Unix sockets and TCP."""

# scenarios: 202 203 206

import pytest

import nbd
from nbdtest import ours_only, poll_until


def test_supports_uri():
    assert nbd.NBD().supports_uri() is True


def test_connect_uri_unix(nbdkit):
    srv = nbdkit("memory", "size=1M")
    h = nbd.NBD()
    h.connect_uri(srv.uri)
    assert h.get_size() == 1 << 20
    assert h.get_uri().startswith("nbd+unix:")


def test_connect_tcp(nbdkit):
    srv = nbdkit("memory", "size=2M", tcp=True)
    h = nbd.NBD()
    h.connect_tcp("127.0.0.1", str(srv.port))
    assert h.get_size() == 2 << 20
    h.pwrite(b"over tcp", 0)
    assert h.pread(8, 0) == b"over tcp"


def test_connect_uri_tcp(nbdkit):
    srv = nbdkit("memory", "size=3M", tcp=True)
    h = nbd.NBD()
    h.connect_uri(srv.uri)
    assert h.get_size() == 3 << 20
    assert h.get_uri().startswith("nbd://")


def test_uri_export_name(nbdkit):
    srv = nbdkit("--filter=exportname", "memory", "size=1M",
                 "exportname=disk", "exportname-strict=true")
    h = nbd.NBD()
    h.connect_uri("nbd+unix:///disk?socket=%s" % srv.sock)
    assert h.get_export_name() == "disk"


def test_bad_uri():
    h = nbd.NBD()
    with pytest.raises(nbd.Error):
        h.connect_uri("http://example.com/")


def test_uri_transport_not_allowed(nbdkit):
    srv = nbdkit("null")
    h = nbd.NBD()
    h.set_uri_allow_transports(nbd.ALLOW_TRANSPORT_TCP)
    with pytest.raises(nbd.Error):
        h.connect_uri(srv.uri)


@ours_only
def test_is_uri():
    h = nbd.NBD()
    assert h.is_uri("nbd://localhost/") is True
    assert h.is_uri("not a uri") is False


@ours_only
def test_aio_connect_tcp_address(nbdkit):
    srv = nbdkit("null", "size=1K", tcp=True)
    h = nbd.NBD()
    h.aio_connect(("127.0.0.1", srv.port))
    poll_until(h, lambda: not h.aio_is_connecting())
    assert h.get_size() == 1024

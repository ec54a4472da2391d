"""TLS with pre-shared keys against nbdkit: required, refused, over URIs."""

# scenarios: 751 753

import os
import secrets

import pytest

import nbd
from nbdtest import ours_only, tls_round_trip


@pytest.fixture
def pskfile(sockdir):
    """A psktool-style key file with the user alice, and a wrong one."""
    good = os.path.join(sockdir, "keys.psk")
    bad = os.path.join(sockdir, "wrong.psk")
    with open(good, "w") as f:
        f.write("alice:%s\n" % secrets.token_hex(32))
    with open(bad, "w") as f:
        f.write("alice:%s\n" % secrets.token_hex(32))
    return good, bad


def tls_handle(psk):
    h = nbd.NBD()
    h.set_tls(nbd.TLS_REQUIRE)
    h.set_tls_psk_file(psk)
    h.set_tls_username("alice")
    return h


def test_supports_tls():
    assert nbd.NBD().supports_tls() is True


@ours_only
def test_tls_file_getters(pskfile):
    good, _ = pskfile
    h = nbd.NBD()
    assert h.get_tls_psk_file() == ""
    assert h.get_tls_certificates() == ""
    h.set_tls_psk_file(good)
    h.set_tls_certificates("/etc/pki/nbd")
    assert h.get_tls_psk_file() == good
    assert h.get_tls_certificates() == "/etc/pki/nbd"


def test_psk_required(nbdkit, pskfile):
    good, _ = pskfile
    srv = nbdkit("--tls=require", "--tls-psk=" + good, "memory", "size=1M")
    h = tls_handle(good)
    h.connect_uri(srv.uri)
    tls_round_trip(h, b"encrypted", 4096)


def test_wrong_key_fails(nbdkit, pskfile):
    good, bad = pskfile
    srv = nbdkit("--tls=require", "--tls-psk=" + good, "memory", "size=1M")
    h = tls_handle(bad)
    with pytest.raises(nbd.Error):
        h.connect_uri(srv.uri)
    assert h.aio_is_ready() is False


def test_require_against_plaintext_server_fails(nbdkit, pskfile):
    good, _ = pskfile
    srv = nbdkit("memory", "size=1M")
    h = tls_handle(good)
    with pytest.raises(nbd.Error):
        h.connect_uri(srv.uri)


def test_allow_falls_back_visibly(nbdkit, pskfile):
    good, _ = pskfile
    srv = nbdkit("memory", "size=1M")
    h = nbd.NBD()
    h.set_tls(nbd.TLS_ALLOW)
    h.set_tls_psk_file(good)
    h.set_tls_username("alice")
    h.connect_uri(srv.uri)
    assert h.get_tls_negotiated() is False
    assert h.pread(4, 0) == bytearray(4)


# libnbd 1.14 calls getlogin_r(3) while parsing a TLS URI and fails where
# the process has no login session (as under CI), even with tls-username.
@ours_only
def test_nbds_unix_uri(nbdkit, pskfile):
    good, _ = pskfile
    srv = nbdkit("--tls=require", "--tls-psk=" + good, "memory", "size=1M")
    h = nbd.NBD()
    uri = ("nbds+unix:///?socket=%s&tls-psk-file=%s&tls-username=alice"
           % (srv.sock, good))
    # A key file named in a URI is a local file: refused unless allowed.
    with pytest.raises(nbd.Error):
        h.connect_uri(uri)
    h = nbd.NBD()
    h.set_uri_allow_local_file(True)
    h.connect_uri("nbds+unix:///?socket=%s&tls-psk-file=%s&tls-username=alice"
                  % (srv.sock, good))
    assert h.get_tls_negotiated() is True
    assert h.get_size() == 1 << 20

"""TLS with X.509 certificates against nbdkit (certificates made by
tests/c/make-x509.sh): a verified server and client work, a certificate
that does not name the host is refused, and so is a server whose CA the
client does not trust."""

import os
import subprocess

import pytest

import nbd
from nbdtest import ours_only, tls_round_trip

MAKE_X509 = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                         "tests", "c", "make-x509.sh")

# set_tls_hostname is libnbd 1.22.
pytestmark = ours_only


def make_x509(directory):
    subprocess.run(["sh", MAKE_X509, str(directory)], check=True, timeout=120)
    return directory


@pytest.fixture(scope="module")
def x509(tmp_path_factory):
    return make_x509(tmp_path_factory.mktemp("x509"))


def x509_server(nbdkit, x509):
    return nbdkit("--tls=require", "--tls-certificates=%s" % (x509 / "server"),
                  "--tls-verify-peer", "memory", "size=1M")


def x509_handle(certificates, hostname):
    h = nbd.NBD()
    h.set_tls(nbd.TLS_REQUIRE)
    h.set_tls_certificates(str(certificates))
    h.set_tls_verify_peer(True)
    assert h.get_tls_verify_peer() is True
    h.set_tls_hostname(hostname)
    assert h.get_tls_hostname() == hostname
    return h


def test_verified_both_ways(nbdkit, x509):
    srv = x509_server(nbdkit, x509)
    h = x509_handle(x509 / "client", "localhost")
    h.connect_unix(srv.sock)
    tls_round_trip(h, b"x509", 512)


def test_wrong_host_name_is_refused(nbdkit, x509):
    srv = x509_server(nbdkit, x509)
    h = x509_handle(x509 / "client", "elsewhere.example")
    with pytest.raises(nbd.Error):
        h.connect_unix(srv.sock)
    assert h.aio_is_ready() is False


def test_unknown_ca_is_refused(nbdkit, x509, tmp_path):
    srv = x509_server(nbdkit, x509)
    other = make_x509(tmp_path / "other")
    h = x509_handle(other / "client", "localhost")
    with pytest.raises(nbd.Error):
        h.connect_unix(srv.sock)
    assert h.aio_is_ready() is False

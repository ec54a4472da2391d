"""nbd+ssh:// URIs through an ssh stand-in (tests/ssh-stand-in/ssh):
the command it runs, the transport control, and names that could pass
for ssh options refused with EINVAL before anything runs."""

# scenarios: 720

import errno
import os

import pytest

import nbd
from nbdtest import OURS

STAND_IN = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "ssh-stand-in")

pytestmark = pytest.mark.skipif(not OURS, reason="libnbd 1.14 has no nbd+ssh URIs")


@pytest.fixture
def ssh_log(tmp_path, monkeypatch):
    log = tmp_path / "ssh.log"
    monkeypatch.setenv("PATH", os.path.abspath(STAND_IN) + ":" + os.environ["PATH"])
    monkeypatch.setenv("NBD_TEST_SSH_LOG", str(log))
    return log


def test_connect_through_ssh(ssh_log):
    h = nbd.NBD()
    h.connect_uri("nbd+ssh://bob@example.com:2200/?socket=/run/a%20b.sock")
    assert h.get_size() == 1024 * 1024
    assert ssh_log.read_text().splitlines() == [
        "-p", "2200", "-l", "bob", "--", "example.com", "nc -U '/run/a b.sock'"]


def test_transport_can_be_forbidden(ssh_log):
    h = nbd.NBD()
    h.set_uri_allow_transports(nbd.ALLOW_TRANSPORT_TCP)
    with pytest.raises(nbd.Error) as e:
        h.connect_uri("nbd+ssh://example.com/")
    assert e.value.errnum == errno.EPERM
    assert not ssh_log.exists()


@pytest.mark.parametrize("uri", [
    "nbd+ssh://-oProxyCommand=touch%20pwned/",
    "nbd+ssh://-lroot@example.com/",
    "nbd+ssh://ali%0Ace@example.com/",
])
def test_option_like_names_are_refused(ssh_log, uri):
    h = nbd.NBD()
    with pytest.raises(nbd.Error) as e:
        h.connect_uri(uri)
    assert e.value.errnum == errno.EINVAL
    assert not ssh_log.exists()

"""nbdsh(1) is a manual page of the repository (docs/man/nbdsh.1,
installed with the library's pages), and it documents every option."""

import os
import shutil
import subprocess
import sys

import pytest

PAGE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "man", "nbdsh.1")


def test_page_exists_and_renders():
    assert os.path.exists(PAGE)
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    r = subprocess.run(["man", "-l", "-P", "cat", PAGE], capture_output=True,
                       text=True, env=dict(os.environ, MANWIDTH="80"), timeout=60)
    assert r.returncode == 0 and "nbdsh" in r.stdout


def test_page_documents_every_option():
    text = open(PAGE).read().replace("\\-", "-")
    out = subprocess.run([sys.executable, "-m", "nbd", "--long-options"],
                         capture_output=True, text=True, timeout=60).stdout.split()
    out += subprocess.run([sys.executable, "-m", "nbd", "--short-options"],
                          capture_output=True, text=True, timeout=60).stdout.split()
    out += ["--help", "-h", "--short-options", "--long-options", "SCRIPT"]
    for opt in out:
        assert opt in text, opt

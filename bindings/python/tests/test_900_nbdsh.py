"""The shell: `python -m nbd` (and the nbdsh console script), its -c,
-u/--uri, --base-allocation, --opt-mode and -n options, and its exit
codes."""

import os
import subprocess
import sys

import pytest

from nbdtest import nbdsh, ours_only


def test_command():
    r = nbdsh("-c", "print(h.get_handle_name())")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "nbdsh\n"


def test_commands_run_in_order():
    r = nbdsh("-c", "x = 6", "-c", "print(x * 7)")
    assert (r.returncode, r.stdout) == (0, "42\n")


def test_uri_and_command(nbdkit):
    srv = nbdkit("memory", "size=1M")
    r = nbdsh("-u", srv.uri, "-c", "print(h.get_size())")
    assert (r.returncode, r.stdout) == (0, "1048576\n"), r.stderr
    r = nbdsh("--uri", srv.uri, "-c", "print(h.get_size())")
    assert (r.returncode, r.stdout) == (0, "1048576\n"), r.stderr


def test_base_allocation(nbdkit):
    srv = nbdkit("memory", "size=1M")
    r = nbdsh("--base-allocation", "-u", srv.uri, "-c",
              "print(h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION))")
    assert (r.returncode, r.stdout) == (0, "True\n"), r.stderr


def test_opt_mode(nbdkit):
    srv = nbdkit("memory", "size=1M")
    r = nbdsh("--opt-mode", "-u", srv.uri, "-c",
              "print(h.aio_is_negotiating()); h.opt_go(); print(h.get_size())")
    assert (r.returncode, r.stdout) == (0, "True\n1048576\n"), r.stderr


def test_no_handle():
    r = nbdsh("-n", "-c", "print(nbd.NBD().get_handle_name()[:3])")
    assert (r.returncode, r.stdout) == (0, "nbd\n"), r.stderr


def test_no_handle_with_uri_is_an_error():
    r = nbdsh("-n", "-u", "nbd://localhost")
    assert r.returncode in (1, 2)  # 1.14: 1; ours: a command-line error


def test_nbd_error_exit_code(sockdir):
    r = nbdsh("-u", "nbd+unix:///?socket=%s/absent.sock" % sockdir,
              "-c", "print('not reached')")
    assert r.returncode == 1
    assert "nbdsh: command line script failed" in r.stderr
    assert r.stdout == ""


def test_python_exception_exit_code():
    r = nbdsh("-c", "raise ValueError('oops')")
    assert r.returncode == 1
    assert "ValueError: oops" in r.stderr


def test_exit_code_of_the_script():
    assert nbdsh("-c", "exit(3)").returncode == 3


def test_bad_option():
    assert nbdsh("--no-such-option").returncode == 2


@ours_only  # libnbd 1.14's shell does not pass h to the console
def test_interactive_reads_stdin(nbdkit):
    srv = nbdkit("memory", "size=1M")
    r = nbdsh("-u", srv.uri, stdin="print(h.get_size() // 1024)\n")
    assert r.returncode == 0, r.stderr
    assert "1024" in r.stdout


def test_command_from_stdin():
    r = nbdsh("-c", "-", stdin="print(h.get_handle_name())\n")
    assert (r.returncode, r.stdout) == (0, "nbdsh\n"), r.stderr


def test_version():
    r = nbdsh("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("nbdsh ")


@ours_only
def test_console_script(nbdkit):
    script = os.path.join(os.path.dirname(sys.executable), "nbdsh")
    if not os.path.exists(script):
        pytest.skip("nbdsh is not installed beside %s" % sys.executable)
    srv = nbdkit("memory", "size=1M")
    r = subprocess.run([script, "-u", srv.uri, "-c", "print(h.get_size())"],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "1048576\n"), r.stderr

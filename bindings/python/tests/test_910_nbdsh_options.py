"""nbdsh's command line as nbdsh(1) describes it: --help, -V/--version,
--short-options and --long-options, -n, -u/--uri, -c in order,
--base-allocation, --opt-mode, -v/--verbose and a script file."""

import pytest

from nbdtest import OURS, nbdsh, ours_only


def test_help():
    r = nbdsh("--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: nbdsh")
    assert "nbdsh(1)" in r.stdout
    for opt in ("--base-allocation", "--command", "-n", "--opt-mode",
                "--uri", "--verbose", "--version"):
        assert opt in r.stdout
    assert nbdsh("-h").stdout == r.stdout


def test_version():
    for opt in ("-V", "--version"):
        r = nbdsh(opt)
        assert r.returncode == 0
        lines = r.stdout.splitlines()
        assert len(lines) == 2 and lines[0].startswith("nbdsh ")


def test_short_and_long_options():
    r = nbdsh("--short-options")
    assert (r.returncode, r.stdout.split()) == (0, ["-V", "-c", "-n", "-u", "-v"])
    r = nbdsh("--long-options")
    assert r.returncode == 0
    assert r.stdout.split() == ["--base-allocation", "--command", "--opt-mode",
                                "--uri", "--verbose", "--version"]


def test_no_handle_means_no_name_h():
    r = nbdsh("-n", "-c", "print('h' in globals())")
    assert (r.returncode, r.stdout) == (0, "False\n"), r.stderr
    r = nbdsh("-n", "-c", "h")
    assert r.returncode == 1
    assert "NameError" in r.stderr


def test_commands_and_uri_in_order(nbdkit):
    srv = nbdkit("memory", "size=1M")
    r = nbdsh("-c", "x = 1", "-u", srv.uri, "-c", "print(x, h.get_size())",
              "-c", "print(x + 1)")
    assert (r.returncode, r.stdout) == (0, "1 1048576\n2\n"), r.stderr


def test_settings_before_uri(nbdkit):
    # Before -u, --base-allocation and --opt-mode take effect
    # (test_900_nbdsh.py: test_base_allocation, test_opt_mode).
    srv = nbdkit("memory", "size=1M")
    # Everything runs in command-line order: a setting after -u comes
    # too late, as with libnbd's nbdsh.
    r = nbdsh("-u", srv.uri, "--base-allocation")
    assert r.returncode == 1
    assert "nbd_add_meta_context" in r.stderr


def test_verbose():
    for opt in ("-v", "--verbose"):
        r = nbdsh(opt, "-c", "print(h.get_debug())")
        assert r.returncode == 0, r.stderr
        assert r.stdout.endswith("True\n")


@pytest.mark.skipif(not OURS, reason="libnbd 1.14's nbdsh takes no script file")
def test_script_file(nbdkit, tmp_path):
    srv = nbdkit("memory", "size=1M")
    script = tmp_path / "check.py"
    script.write_text("import sys\nprint(sys.argv[1:], h.get_size())\n")
    r = nbdsh("-u", srv.uri, str(script), "one", "--two")
    assert (r.returncode, r.stdout) == (0, "['one', '--two'] 1048576\n"), r.stderr
    script.write_text("raise ValueError('in the script')\n")
    r = nbdsh(str(script))
    assert r.returncode == 1
    assert "check.py" in r.stderr and "ValueError: in the script" in r.stderr


def test_bad_option_is_exit_2():
    assert nbdsh("--no-such-option").returncode == 2
    assert nbdsh("-u").returncode == 2

"""nbdsh: a Python shell for NBD servers, with a handle `h` ready.

    nbdsh -u nbd://localhost -c 'print(h.get_size())'
    nbdsh --opt-mode -u URI -c 'h.opt_list(lambda n, d: print(n))'
    nbdsh -u URI script.py ARG...

--base-allocation, --opt-mode, -u/--uri and -c/--command run in
command-line order (so the settings go before -u), and then the script
file, if one is named. With neither -c nor a script the shell is
interactive.

The exit status is 0 on success and 1 when a command or the script raises
(its traceback is printed; for an NBD error it names the call, followed
by libnbd's one-line summary); `exit(n)` exits with n; a command-line
error exits with 2. See nbdsh(1).
"""

import argparse
import code
import os
import sys
import traceback

import nbd

# Options that need the handle.
HANDLE_OPTIONS = ("base_allocation", "opt_mode", "uri")

# The options listed by --short-options and --long-options (for shell
# completion), as libnbd's nbdsh lists them.
SHORT_OPTIONS = ("-V", "-c", "-n", "-u", "-v")
LONG_OPTIONS = ("--base-allocation", "--command", "--opt-mode", "--uri",
                "--verbose", "--version")


class _Snippet(argparse.Action):
    """Record an option in the ordered list of things to do."""

    def __call__(self, parser, namespace, values, option_string=None):
        action = self.dest
        if action == "command" and values == "-":
            action = "stdin"
        namespace.snippets = namespace.snippets + [(action, values)]


class _List(argparse.Action):
    """--short-options / --long-options: print, one a line, and exit."""

    def __init__(self, option_strings, dest, items=(), **kwargs):
        self.items = items
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        for item in self.items:
            print(item)
        parser.exit(0)


def _parser():
    p = argparse.ArgumentParser(
        prog="nbdsh",
        description="Network Block Device (NBD) shell",
        epilog="Please read the nbdsh(1) manual page for full usage.")
    p.set_defaults(snippets=[])
    p.add_argument("--base-allocation", dest="base_allocation", nargs=0,
                   action=_Snippet,
                   help='request the "base:allocation" meta context')
    p.add_argument("-c", "--command", dest="command", action=_Snippet,
                   metavar="COMMAND",
                   help="run a Python statement (may be used multiple "
                   "times; '-' reads them from standard input)")
    p.add_argument("-n", action="store_true",
                   help="do not create the implicit handle 'h'")
    p.add_argument("--opt-mode", dest="opt_mode", nargs=0, action=_Snippet,
                   help="request opt mode during connection")
    p.add_argument("-u", "--uri", dest="uri", action=_Snippet,
                   metavar="URI", help="connect to NBD URI")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="enable verbose debugging")
    p.add_argument("-V", "--version", action="store_true",
                   help="display version information")
    p.add_argument("--short-options", action=_List, items=SHORT_OPTIONS,
                   help=argparse.SUPPRESS)
    p.add_argument("--long-options", action=_List, items=LONG_OPTIONS,
                   help=argparse.SUPPRESS)
    p.add_argument("script", nargs="?", metavar="SCRIPT",
                   help="a Python script to run (after the options)")
    p.add_argument("script_args", nargs=argparse.REMAINDER,
                   metavar="ARG", help="arguments of the script (sys.argv)")
    return p


def _banner(h):
    lines = ["", "Welcome to nbdsh, the shell for interacting with",
             "Network Block Device (NBD) servers.", ""]
    hints = []
    if h is None:
        lines.append("The 'nbd' module has already been imported.")
        hints.append(("h = nbd.NBD()", "Create a new handle."))
        connect = True
    else:
        state = h.connection_state().split(":")[0]
        lines.append("The 'nbd' module has already been imported and there")
        lines.append("is an open NBD handle called 'h' in state '%s'." % state)
        connect = h.aio_is_created()
    lines.append("")
    if connect:
        hints.append(('h.connect_tcp("remote", "10809")',
                      "Connect to a remote server."))
    if h is not None and (h.aio_is_negotiating()
                          or (h.aio_is_created() and h.get_opt_mode())):
        hints.append(("h.opt_go()", "Finish option negotiation"))
    hints += [("h.get_size()", "Get size of the remote disk."),
              ("buf = h.pread(512, 0)", "Read the first sector."),
              ("exit() or Ctrl-D", "Quit the shell"),
              ("help(nbd)", "Display documentation")]
    lines += ["%-34s # %s" % hint for hint in hints]
    return "\n".join(lines + [""])


def _run_file(path, env):
    with open(path) as f:
        text = f.read()
    exec(compile(text, path, "exec"), env)


def shell(argv=None):
    """Run nbdsh with these arguments (default: sys.argv[1:]); return
    the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        print("nbdsh %s" % nbd.__version__)
        print("%s %s" % (nbd.package_name, nbd.__version__))
        return 0
    needs_handle = [a for a, _ in args.snippets if a in HANDLE_OPTIONS]
    if args.n and needs_handle:
        parser.error("-n cannot be used with --base-allocation, "
                     "--opt-mode or --uri")
    if args.verbose:
        os.environ["LIBNBD_DEBUG"] = "1"

    env = {"__name__": "__main__", "nbd": nbd}
    h = None
    if not args.n:
        h = nbd.NBD()
        h.set_handle_name("nbdsh")
        env["h"] = h
    actions = {
        "command": lambda text: exec(compile(text, "<command>", "exec"), env),
        "stdin": lambda _: exec(compile(sys.stdin.read(), "<stdin>", "exec"),
                                env),
        "base_allocation": lambda _: h.add_meta_context(
            nbd.CONTEXT_BASE_ALLOCATION),
        "opt_mode": lambda _: h.set_opt_mode(True),
        "uri": lambda uri: h.connect_uri(uri),
    }
    # In command-line order, as libnbd's nbdsh.
    todo = list(args.snippets)
    if args.script is not None:
        todo.append(("script", args.script))
        actions["script"] = lambda path: _run_file(path, env)
        sys.argv = [args.script] + list(args.script_args)
    try:
        for action, value in todo:
            actions[action](value)
    except SystemExit:
        raise
    except BaseException as e:
        traceback.print_exc()
        if isinstance(e, nbd.Error):
            print("nbdsh: command line script failed: %s" % e.string,
                  file=sys.stderr)
        return 1

    if len(todo) == len(needs_handle):
        sys.ps1 = "nbd> "
        code.interact(banner=_banner(h), local=env, exitmsg="")
    return 0


if __name__ == "__main__":
    sys.exit(shell())

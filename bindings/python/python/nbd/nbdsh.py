"""nbdsh: an interactive Python shell with an NBD handle `h` created.

Options are carried out in command-line order:

    nbdsh -u nbd://localhost -c 'print(h.get_size())'
    nbdsh --opt-mode -u URI -c 'h.opt_list(lambda n, d: print(n))'

With no -c option the shell is interactive. The exit status is 0 on
success, 1 when a command fails (an NBD error prints one line, any other
exception its traceback) and 2 for a command-line error; `exit(n)` inside
a command exits with n.
"""

import argparse
import code
import os
import sys
import traceback

import nbd

HANDLE_OPTIONS = ("base_allocation", "opt_mode", "uri")


class _Snippet(argparse.Action):
    """Record an option in the ordered list of things to do."""

    def __call__(self, parser, namespace, values, option_string=None):
        action = self.dest
        if action == "command" and values == "-":
            action = "stdin"
        namespace.snippets = namespace.snippets + [(action, values)]


def _parser():
    p = argparse.ArgumentParser(
        prog="nbdsh",
        description="Network Block Device (NBD) shell",
        epilog="The nbd module is imported and, unless -n is given, "
        "an NBD handle is in the variable h.")
    p.set_defaults(snippets=[])
    p.add_argument("--base-allocation", dest="base_allocation", nargs=0,
                   action=_Snippet,
                   help='request the "base:allocation" meta context')
    p.add_argument("-c", "--command", dest="command", action=_Snippet,
                   metavar="CODE",
                   help="run Python code, then exit (may be repeated; "
                   "'-' reads the code from standard input)")
    p.add_argument("-n", action="store_true",
                   help="do not create the implicit handle h")
    p.add_argument("--opt-mode", dest="opt_mode", nargs=0, action=_Snippet,
                   help="request opt mode during connection")
    p.add_argument("-u", "--uri", "--connect", dest="uri", action=_Snippet,
                   metavar="URI", help="connect to the NBD URI")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print debug messages (LIBNBD_DEBUG=1)")
    p.add_argument("-V", "--version", action="store_true",
                   help="print the version and exit")
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


def shell(argv=None):
    """Run nbdsh with these arguments (default: sys.argv[1:]); return
    the exit status."""
    args = _parser().parse_args(argv)
    if args.version:
        print("nbdsh %s" % nbd.__version__)
        print("%s %s" % (nbd.package_name, nbd.__version__))
        return 0
    needs_handle = [a for a, _ in args.snippets if a in HANDLE_OPTIONS]
    if args.n and needs_handle:
        print("nbdsh: -n cannot be used with --base-allocation, --opt-mode "
              "or --uri", file=sys.stderr)
        return 1
    if args.verbose:
        os.environ["LIBNBD_DEBUG"] = "1"

    h = None
    if not args.n:
        h = nbd.NBD()
        h.set_handle_name("nbdsh")
    env = {"__name__": "__main__", "nbd": nbd, "h": h}
    actions = {
        "command": lambda code_text: exec(code_text, env),
        "stdin": lambda _: exec(sys.stdin.read(), env),
        "base_allocation": lambda _: h.add_meta_context(
            nbd.CONTEXT_BASE_ALLOCATION),
        "opt_mode": lambda _: h.set_opt_mode(True),
        "uri": lambda uri: h.connect_uri(uri),
    }
    try:
        for action, value in args.snippets:
            actions[action](value)
    except nbd.Error as e:
        if os.environ.get("LIBNBD_DEBUG") == "1":
            traceback.print_exc()
        else:
            print("nbdsh: command line script failed: %s" % e.string,
                  file=sys.stderr)
        return 1
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        return 1

    if len(args.snippets) == len(needs_handle):
        sys.ps1 = "nbd> "
        code.interact(banner=_banner(h), local=env, exitmsg="")
    return 0


if __name__ == "__main__":
    sys.exit(shell())

"""Python bindings for an NBD client library, compatible with libnbd's.

    import nbd
    h = nbd.NBD()
    h.connect_tcp("localhost", "nbd")
    buf = h.pread(512, 0)

Every method of nbd.NBD is one call of libnbd(3), named without its nbd_
prefix; flags and optional callbacks are keyword arguments.
"""

from ._libnbd import *  # noqa: F401,F403  (NBD, Buffer, Error, constants)
from ._libnbd import __version__, package_name  # noqa: F401
from ._libnbd import Buffer, ClosedHandle, Error, NBD  # noqa: F401

import types as _types

_call_frames = {}


def _raise(exc):
    raise exc


def _call_frame(name):
    """A function that raises its argument from a frame named `name`.

    The methods of NBD are implemented in Rust and have no Python frame
    of their own; raising their errors through this frame makes a
    traceback name the call that failed ("in is_read_only"), as with
    libnbd's module.
    """
    f = _call_frames.get(name)
    if f is None:
        code = _raise.__code__
        changes = {"co_name": name}
        if hasattr(code, "co_qualname"):
            changes["co_qualname"] = "NBD." + name
        f = _types.FunctionType(code.replace(**changes), globals(), name)
        _call_frames[name] = f
    return f


if __name__ == "__main__":
    from . import nbdsh

    nbdsh.shell()

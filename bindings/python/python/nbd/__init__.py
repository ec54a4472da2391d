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

if __name__ == "__main__":
    from . import nbdsh

    nbdsh.shell()

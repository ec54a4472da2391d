# Debian's python3-libnbd module on our library runs the Python binding's
# pytest suite (bindings/python/tests, which also accepts libnbd 1.14's
# module). Skipped (77) when the suite or pytest is absent.
source "$(dirname "$0")/common.bash"

suite="$PWD/bindings/python/tests"
if [ ! -d "$suite" ] || ! /usr/bin/python3 -c 'import pytest' 2>/dev/null; then
    echo "SKIP: no bindings/python/tests or no pytest for /usr/bin/python3"
    exit 77
fi
export NBD_LIBDIR
on_ours /usr/bin/python3 -c '
import os, nbd
assert nbd.__file__.startswith("/usr/lib/python3/"), nbd.__file__
maps = open("/proc/self/maps").read()
assert os.environ["NBD_LIBDIR"] + "/libnbd.so.0" in maps, "our library is not mapped"
print("Debian module", nbd.__file__, "on libnbd", nbd.NBD().get_version())
'
# test_defaults compares the default strict mode with the STRICT_MASK the
# 1.14 module was compiled with (31); libnbd 1.24, like us, defaults to
# its own wider mask (127). That is version skew, not a drop-in failure.
cd "$(dirname "$suite")"
on_ours env PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -p no:cacheprovider -q \
    --deselect tests/test_110_defaults.py::test_defaults tests

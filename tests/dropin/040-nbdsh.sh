# nbdsh (Debian's Python bindings over our library): write, read back,
# aio with an nbd.Buffer, and block status, checking from inside Python
# that our libnbd.so.0 is the one mapped.
source "$(dirname "$0")/common.bash"

export NBD_LIBDIR
loads_ours nbdsh -c 'pass'
on_ours nbdsh -c '
import os
maps = open("/proc/self/maps").read()
assert os.environ["NBD_LIBDIR"] + "/libnbd.so.0" in maps, "our library is not mapped"
assert "/usr/lib/x86_64-linux-gnu/libnbd.so.0" not in maps

h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
h.connect_command(["nbdkit", "-s", "--exit-with-parent", "memory", "8M"])
assert h.get_size() == 8 * 1024 * 1024

data = b"nbdsh drop-in " * 300
h.pwrite(data, 1048576)
assert h.pread(len(data), 1048576) == data

buf = nbd.Buffer(len(data))
cookie = h.aio_pread(buf, 1048576)
while not h.aio_command_completed(cookie):
    h.poll(-1)
assert buf.to_bytearray() == data

seen = []
def extent(metacontext, offset, entries, err):
    seen.append((metacontext, offset, list(entries)))
h.block_status(8 * 1024 * 1024, 0, extent)
ctx, off, entries = seen[0]
assert ctx == nbd.CONTEXT_BASE_ALLOCATION and off == 0
lengths = entries[0::2]
flags = entries[1::2]
assert sum(lengths) <= 8 * 1024 * 1024
assert flags[0] & nbd.STATE_HOLE, "the start of the disk is a hole"
assert any(f & nbd.STATE_HOLE == 0 for f in flags), "the written range is data"

try:
    h.pread(10, 8 * 1024 * 1024)
    raise AssertionError("reading past the end succeeded")
except nbd.Error as e:
    assert e.errno == "EINVAL", e.errno
h.shutdown()
print("nbdsh: write, read, aio, block status and errors ok on", h.get_version())
'
echo ok

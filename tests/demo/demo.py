"""The demo program, Python edition: the same steps as core/examples/demo.rs
and demo.c, printing what it saw as one JSON object for `cargo xtask demo`.

Usage: python3 demo.py [URI]   (without a URI it runs `nbdkit memory 1M`)
"""
import json
import sys

import nbd

PATTERN_LEN = 65536
NBDKIT = ["nbdkit", "-s", "--exit-with-parent", "memory", "1M"]


def connect(h, uri):
    if uri:
        h.connect_uri(uri)
    else:
        h.connect_command(NBDKIT)


def main(uri):
    h = nbd.NBD()
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    connect(h, uri)
    size = h.get_size()
    read_only = h.is_read_only()
    pattern = "skipped (read-only)"
    if not read_only:
        want = bytes(i % 251 for i in range(PATTERN_LEN))
        h.pwrite(want, 0)
        pattern = "ok" if bytes(h.pread(PATTERN_LEN, 0)) == want else "MISMATCH"
    flags = {
        "read_only": read_only,
        "can_flush": h.can_flush(),
        "can_fua": h.can_fua(),
        "can_trim": h.can_trim(),
        "can_zero": h.can_zero(),
        "can_multi_conn": h.can_multi_conn(),
    }
    extents = []
    if h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION):
        def extent(metacontext, offset, entries, err):
            if metacontext == nbd.CONTEXT_BASE_ALLOCATION:
                extents.extend([entries[i], entries[i + 1]]
                               for i in range(0, len(entries) - 1, 2))
            return 0
        h.block_status(min(size, 1 << 20), 0, extent)
    h.shutdown()

    exports = []
    lh = nbd.NBD()
    lh.set_opt_mode(True)
    connect(lh, uri)
    try:
        lh.opt_list(lambda name, description: exports.append(name) or 0)
    except nbd.Error as e:
        exports = ["(not listed: %s)" % e.string]
    lh.opt_abort()

    print(json.dumps({"language": "Python", "size": size, "pattern": pattern,
                      "flags": flags, "extents": extents, "exports": exports}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)

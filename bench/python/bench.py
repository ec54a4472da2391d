"""The Python side of `cargo xtask bench`: one workload, one JSON line.

Run under each module, unchanged: /usr/bin/python3 imports Debian's
python3-libnbd, the venv under target/bench/ imports ours.

Usage: bench.py WORKLOAD URI AMOUNT

  py-pread-qd1   AMOUNT random h.pread(4096, offset) calls, one at a time
  py-aio-read    AMOUNT bytes from offset 0 with h.aio_pread into
                 nbd.Buffer(256 KiB), 64 in flight, driven by h.poll(-1)
  py-get-size    AMOUNT h.get_size() calls: the binding's own cost per
                 call (the server is not involved)

AMOUNT 0 connects and disconnects only (for the syscall counting pass).
"""

import json
import resource
import sys
import time

import nbd

REQUEST = 4096
STREAM_REQUEST = 256 * 1024
STREAM_QD = 64
MASK = (1 << 64) - 1


class Xorshift:
    """The generator of bench.c and the Rust harness: same offsets."""

    def __init__(self):
        self.x = 0x9E3779B97F4A7C15

    def next(self):
        x = self.x
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        self.x = x
        return x


def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def pread_qd1(h, ops, size):
    rng = Xorshift()
    blocks = size // REQUEST
    lat = 0.0
    clock = time.perf_counter
    for _ in range(ops):
        offset = (rng.next() % blocks) * REQUEST
        a = clock()
        h.pread(REQUEST, offset)
        lat += clock() - a
    return ops, ops * REQUEST, lat


def aio_read(h, amount):
    nreq = amount // STREAM_REQUEST
    bufs = [nbd.Buffer(STREAM_REQUEST) for _ in range(STREAM_QD)]
    free = list(range(STREAM_QD))
    state = {"completed": 0, "errors": 0}

    def callback(slot):
        def done(err):
            if getattr(err, "value", err):
                state["errors"] += 1
            free.append(slot)
            state["completed"] += 1
            return 1  # retire the command

        return done

    callbacks = [callback(i) for i in range(STREAM_QD)]
    issued = 0
    while state["completed"] < nreq:
        while free and issued < nreq:
            slot = free.pop()
            h.aio_pread(bufs[slot], issued * STREAM_REQUEST, completion=callbacks[slot])
            issued += 1
        if state["completed"] < nreq:
            h.poll(-1)
    if state["errors"]:
        sys.exit(f"bench.py: {state['errors']} requests failed")
    return nreq, nreq * STREAM_REQUEST, 0.0


def get_size_calls(h, ops):
    clock = time.perf_counter
    a = clock()
    for _ in range(ops):
        h.get_size()
    return ops, 0, clock() - a


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: bench.py WORKLOAD URI AMOUNT")
    workload, uri, amount = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
    h = nbd.NBD()
    h.connect_uri(uri)
    size = h.get_size()
    version = h.get_version()

    u0, s0 = cpu()
    t0 = time.perf_counter()
    if amount == 0:
        ops, nbytes, lat = 0, 0, 0.0
    elif workload == "py-pread-qd1":
        ops, nbytes, lat = pread_qd1(h, amount, size)
    elif workload == "py-aio-read":
        ops, nbytes, lat = aio_read(h, amount)
    elif workload == "py-get-size":
        ops, nbytes, lat = get_size_calls(h, amount)
    else:
        sys.exit(f"bench.py: unknown workload {workload}")
    secs = time.perf_counter() - t0
    u1, s1 = cpu()

    h.shutdown()
    del h
    print(json.dumps({
        "workload": workload,
        "side": "python",
        "lib": nbd.__file__,
        "version": version,
        "ops": ops,
        "bytes": nbytes,
        "secs": secs,
        "user": u1 - u0,
        "sys": s1 - s0,
        "lat_us": lat / ops * 1e6 if ops and lat else 0.0,
    }))


if __name__ == "__main__":
    main()

"""The GIL is released while a call waits on the server."""

# scenarios: 810 820

import threading
import time

import nbd
from nbdtest import connected, pattern

DELAY = 0.5
SLOW_READS = "rdelay=%dms" % (DELAY * 1000)


def test_other_threads_run_during_a_blocking_call(nbdkit):
    srv = nbdkit("--filter=delay", "pattern", "size=1M", SLOW_READS)
    h = connected(srv)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        start = time.monotonic()
        assert h.pread(512, 0) == pattern(0, 512)
        end = time.monotonic()
    finally:
        stop.set()
        t.join()
    assert end - start >= DELAY * 0.9
    during = [x for x in ticks if start < x < end]
    assert len(during) >= 10, "the ticker did not run while pread waited"


def test_handles_in_parallel_threads(nbdkit):
    srv = nbdkit("--filter=delay", "pattern", "size=1M", SLOW_READS)
    handles = [connected(srv) for _ in range(4)]
    results = {}

    def read(i, h):
        results[i] = h.pread(4096, i * 4096)

    threads = [threading.Thread(target=read, args=(i, h))
               for i, h in enumerate(handles)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert elapsed < DELAY * 2.5, "reads were serialised: %.2f s" % elapsed
    for i in range(4):
        assert results[i] == pattern(i * 4096, 4096)


def test_one_handle_shared_by_threads(nbdkit):
    h = connected(nbdkit("memory", "size=4M"))
    errors = []

    def worker(i):
        try:
            data = bytes([i]) * 65536
            for _ in range(20):
                h.pwrite(data, i * 65536)
                assert h.pread(65536, i * 65536) == data
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_callbacks_from_a_worker_thread(nbdkit):
    h = connected(nbdkit("pattern", "size=1M"))
    seen = []

    def work():
        h.pread_structured(
            8192, 0, lambda buf, off, status, err: seen.append(
                (threading.current_thread().name, off)))

    t = threading.Thread(target=work, name="worker")
    t.start()
    t.join()
    assert seen and all(name == "worker" for name, _ in seen)


def test_debug_callback_with_threads_does_not_deadlock(nbdkit):
    h = nbd.NBD()
    messages = []
    h.set_debug(True)
    h.set_debug_callback(lambda context, msg: messages.append(msg))
    h.connect_unix(nbdkit("pattern", "size=1M").sock)

    def worker(i):
        for _ in range(20):
            assert h.pread(512, i * 512) == pattern(i * 512, 512)
            repr(h)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert messages

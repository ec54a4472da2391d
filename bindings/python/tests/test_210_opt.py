"""Option negotiation: opt mode, listing exports and meta contexts."""

# scenarios: 220 230 240 250

import nbd
from nbdtest import poll_until


def exports_server(nbdkit):
    return nbdkit("--filter=exportname", "memory", "size=1M",
                  "exportname-list=explicit", "exportname=a",
                  "exportname=b", "exportdesc=fixed:some export")


def opt_handle(srv):
    h = nbd.NBD()
    h.set_opt_mode(True)
    h.connect_unix(srv.sock)
    assert h.aio_is_negotiating()
    return h


def test_opt_abort(nbdkit):
    h = opt_handle(nbdkit("null"))
    h.opt_abort()
    assert h.aio_is_closed()


def test_opt_list(nbdkit):
    h = opt_handle(exports_server(nbdkit))
    seen = []

    def f(name, description):
        seen.append((name, description))

    count = h.opt_list(f)
    assert count == 2
    assert sorted(n for n, _ in seen) == ["a", "b"]
    h.opt_abort()


def test_opt_info_then_go(nbdkit):
    h = opt_handle(exports_server(nbdkit))
    h.set_export_name("a")
    h.opt_info()
    assert h.get_size() == 1 << 20
    h.opt_go()
    assert h.aio_is_ready()
    assert h.pread(16, 0) == bytearray(16)


def test_opt_list_meta_context(nbdkit):
    h = opt_handle(nbdkit("memory", "size=1M"))
    contexts = []
    n = h.opt_list_meta_context(lambda name: contexts.append(name))
    assert n == len(contexts)
    assert nbd.CONTEXT_BASE_ALLOCATION in contexts
    h.opt_abort()


def test_opt_go_with_meta_context(nbdkit):
    h = nbd.NBD()
    h.set_opt_mode(True)
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    h.connect_unix(nbdkit("memory", "size=1M").sock)
    h.opt_go()
    assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION) is True


def test_aio_opt_list_with_completion(nbdkit):
    h = opt_handle(exports_server(nbdkit))
    names, done = [], []
    h.aio_opt_list(lambda name, desc: names.append(name),
                   completion=lambda err: done.append(err.value))
    poll_until(h, lambda: done)
    assert done == [0]
    assert sorted(names) == ["a", "b"]
    h.opt_abort()

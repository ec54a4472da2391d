// The demo program, Node.js edition: the same steps as core/examples/demo.rs,
// demo.c and demo.py, printing what it saw as one JSON object for
// `cargo xtask demo`.
//
// Usage: node demo.js [URI]   (without a URI it runs `nbdkit memory 1M`)
'use strict';

const nbd = require(process.env.NBD_NODE_PACKAGE || 'libnbd');

const PATTERN_LEN = 65536;
const NBDKIT = ['nbdkit', '-s', '--exit-with-parent', 'memory', '1M'];

async function connect(h, uri) {
  if (uri) await h.connectUriAsync(uri);
  else await h.connectCommandAsync(NBDKIT);
}

async function main(uri) {
  const h = new nbd.NBD();
  h.addMetaContext(nbd.CONTEXT_BASE_ALLOCATION);
  await connect(h, uri);
  const size = h.getSize();
  const readOnly = h.isReadOnly();
  let pattern = 'skipped (read-only)';
  if (!readOnly) {
    const want = Buffer.alloc(PATTERN_LEN);
    for (let i = 0; i < PATTERN_LEN; i++) want[i] = i % 251;
    await h.pwriteAsync(want, 0);
    pattern = (await h.preadAsync(PATTERN_LEN, 0)).equals(want) ? 'ok' : 'MISMATCH';
  }
  const flags = {
    read_only: readOnly,
    can_flush: h.canFlush(),
    can_fua: h.canFua(),
    can_trim: h.canTrim(),
    can_zero: h.canZero(),
    can_multi_conn: h.canMultiConn(),
  };
  const extents = [];
  if (h.canMetaContext(nbd.CONTEXT_BASE_ALLOCATION)) {
    await h.blockStatusAsync(Math.min(size, 1 << 20), 0, (metacontext, offset, entries) => {
      if (metacontext === nbd.CONTEXT_BASE_ALLOCATION) {
        for (let i = 0; i + 1 < entries.length; i += 2) extents.push([entries[i], entries[i + 1]]);
      }
      return 0;
    });
  }
  h.shutdown();
  h.close();

  let exports = [];
  const lh = new nbd.NBD();
  lh.setOptMode(true);
  await connect(lh, uri);
  try {
    lh.optList((name) => { exports.push(name); });
  } catch (e) {
    if (!(e instanceof nbd.NbdError)) throw e;
    exports = [`(not listed: ${e.message})`];
  }
  lh.optAbort();
  lh.close();

  console.log(JSON.stringify({ language: 'Node.js', size, pattern, flags, extents, exports }));
}

main(process.argv[2]).catch((e) => {
  console.error(`demo: ${e.message}`);
  process.exit(1);
});

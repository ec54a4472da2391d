'use strict';
// A server other than nbdkit: qemu-nbd serving a raw file. Its size, a
// write read back, and block status that tells the written data from
// the holes.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { nbd, qemuNbdServer } = require('./helpers');

test('qemu-nbd: size, write and read back, block status', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbd-node-img-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const image = path.join(dir, 'disk.raw');
  const fd = fs.openSync(image, 'w');
  fs.ftruncateSync(fd, 4 << 20);
  fs.writeSync(fd, Buffer.alloc(1 << 20, 1), 0, 1 << 20, 1 << 20);
  fs.closeSync(fd);
  const srv = await qemuNbdServer(t, image);

  const h = new nbd.NBD();
  h.addMetaContext(nbd.CONTEXT_BASE_ALLOCATION);
  h.connectUri(srv.uri);
  assert.equal(h.getSize(), 4 << 20);
  assert.equal(h.canMetaContext(nbd.CONTEXT_BASE_ALLOCATION), true);
  assert.deepEqual(h.pread(4, (1 << 20) + 8), Buffer.alloc(4, 1));
  await h.pwriteAsync(Buffer.from('qemu'), 3 << 20);
  assert.equal((await h.preadAsync(4, 3 << 20)).toString(), 'qemu');

  // The megabyte written into the file is data; the start is a hole.
  const extents = [];
  h.blockStatus(4 << 20, 0, (metacontext, offset, entries) => {
    if (metacontext === nbd.CONTEXT_BASE_ALLOCATION) extents.push(...entries);
    return 0;
  });
  const flagsAt = (where) => {
    let offset = 0;
    for (let i = 0; i < extents.length; i += 2) {
      if (offset <= where && where < offset + extents[i]) return extents[i + 1];
      offset += extents[i];
    }
    throw new Error(`no extent covers ${where}`);
  };
  assert.equal(flagsAt((1 << 20) + 4096) & nbd.STATE_HOLE, 0);
  assert.ok(flagsAt(0) & nbd.STATE_HOLE, 'the start of the sparse file is a hole');
  h.shutdown();
  h.close();
});

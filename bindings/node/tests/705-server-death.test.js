'use strict';
// The server dies with commands in flight: their promises reject, the
// handle is dead or closed, and later calls fail at once instead of
// hanging.

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, nbdkitServer } = require('./helpers');

test('a killed server fails the reads in flight and leaves the handle dead', async (t) => {
  // Every read waits 5 s in the server: still in flight when it dies.
  const srv = await nbdkitServer(t, '--filter=delay', 'memory', 'size=1M', 'rdelay=5');
  const h = new nbd.NBD();
  h.connectUnix(srv.sock);
  const reads = [h.preadAsync(512, 0), h.preadAsync(512, 512)];
  srv.proc.kill('SIGKILL');
  for (const r of reads) await assert.rejects(r, nbd.NbdError);
  // Dead (a reset) or closed (the server's end seen as EOF between
  // replies), never ready again.
  assert.ok(h.aioIsDead() || h.aioIsClosed(), h.connectionState());
  assert.equal(h.aioIsReady(), false);
  assert.throws(() => h.pread(512, 0), nbd.NbdError);
  // The promise form fails too (thrown at once or rejected).
  let failed = null;
  try {
    await h.preadAsync(512, 0);
  } catch (e) {
    failed = e;
  }
  assert.ok(failed instanceof nbd.NbdError, String(failed));
  h.close();
});

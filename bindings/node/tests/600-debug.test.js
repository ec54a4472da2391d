'use strict';
// The debug callback, and the byte and chunk counters.

// scenarios: 620

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, connected, nbdkitArgv } = require('./helpers');

test('the debug callback receives the trace of calls', () => {
  const h = new nbd.NBD();
  const msgs = [];
  h.setDebugCallback((context, msg) => { msgs.push([context, msg]); });
  h.setDebug(true);
  assert.equal(h.getDebug(), true);
  h.connectCommand(nbdkitArgv('memory', 'size=1M'));
  h.pread(512, 0);
  assert.ok(msgs.some(([c, m]) => c === 'nbd_pread' && m.startsWith('enter:')), 'pread entry traced');
  assert.ok(msgs.some(([c]) => c === 'nbd_connect_command'));
  h.clearDebugCallback();
  const n = msgs.length;
  h.pread(512, 0);
  assert.equal(msgs.length, n);
  h.close();
});

test('the debug callback runs during promise commands too', async () => {
  const h = new nbd.NBD();
  const contexts = new Set();
  h.setDebugCallback((context) => { contexts.add(context); });
  h.setDebug(true);
  await h.connectCommandAsync(nbdkitArgv('memory', 'size=1M'));
  await h.preadAsync(512, 0);
  assert.ok(contexts.has('nbd_aio_pread'));
  h.close();
});

test('the byte and chunk counters move with the traffic', () => {
  const h = new nbd.NBD();
  assert.equal(h.statsBytesSent(), 0);
  assert.equal(h.statsBytesReceived(), 0);
  h.close();
  const c = connected();
  const sent = c.statsBytesSent(), received = c.statsBytesReceived();
  const chunksSent = c.statsChunksSent(), chunksReceived = c.statsChunksReceived();
  // The handshake already counted.
  assert.ok(sent > 0 && received > 0 && chunksSent > 0 && chunksReceived > 0);
  c.pwrite(Buffer.alloc(4096, 1), 0);
  assert.ok(c.statsBytesSent() >= sent + 4096, 'a 4 KiB write is counted');
  assert.ok(c.statsChunksSent() > chunksSent);
  c.pread(4096, 0);
  assert.ok(c.statsBytesReceived() >= received + 4096, 'a 4 KiB read is counted');
  assert.ok(c.statsChunksReceived() > chunksReceived);
  c.close();
});

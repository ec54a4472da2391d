'use strict';
// The debug callback.

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, nbdkitArgv } = require('./helpers');

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

'use strict';
// Option negotiation: opt mode, listing exports and meta contexts.

// scenarios: 210 230 240 250

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, nbdkitArgv } = require('./helpers');

const EXPORTS = ['--filter=exportname', 'memory', 'size=1M', 'exportname-list=explicit',
  'exportname=a', 'exportname=b', 'exportdesc=fixed:some export'];

function optHandle(...args) {
  const h = new nbd.NBD();
  h.setOptMode(true);
  h.connectCommand(nbdkitArgv(...args));
  assert.ok(h.aioIsNegotiating());
  return h;
}

test('optList calls the function once per export', () => {
  const h = optHandle(...EXPORTS);
  const seen = [];
  const n = h.optList((name, description) => { seen.push([name, description]); });
  assert.equal(n, 2);
  assert.deepEqual(seen.map(([name]) => name).sort(), ['a', 'b']);
  assert.equal(seen[0][1], 'some export');
  h.optAbort();
  assert.ok(h.aioIsClosed());
  h.close();
});

test('optListAsync, optInfoAsync, optGoAsync', async () => {
  const h = optHandle(...EXPORTS);
  const seen = [];
  await h.optListAsync((name) => { seen.push(name); });
  assert.deepEqual(seen.sort(), ['a', 'b']);
  h.setExportName('a');
  await h.optInfoAsync();
  assert.equal(h.getSize(), 1 << 20);
  await h.optGoAsync();
  assert.ok(h.aioIsReady());
  assert.deepEqual(h.pread(4, 0), Buffer.alloc(4));
  h.close();
});

test('optListMetaContext', () => {
  const h = optHandle('memory', 'size=1M');
  const seen = [];
  h.addMetaContext(nbd.CONTEXT_BASE_ALLOCATION);
  const n = h.optListMetaContext((name) => { seen.push(name); });
  assert.equal(n, seen.length);
  assert.ok(seen.includes(nbd.CONTEXT_BASE_ALLOCATION));
  h.optAbort();
  h.close();
});

test('optAbortAsync resolves when the handle is closed', async () => {
  const h = optHandle('null');
  await h.optAbortAsync();
  assert.ok(h.aioIsClosed());
  h.close();
});

test('opt calls outside negotiation fail', () => {
  const h = new nbd.NBD();
  assert.throws(() => h.optList(() => 0), nbd.NbdError);
  h.close();
});

'use strict';
// getHandleSize (libnbd 1.24): an estimate of the memory a handle holds,
// which the binding also reports to V8 as external memory.

// scenarios: 940

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, connected } = require('./helpers');

test('getHandleSize grows when connected', () => {
  const h = new nbd.NBD();
  const fresh = h.getHandleSize();
  assert.ok(fresh > 0);
  h.close();
  const c = connected();
  assert.ok(c.getHandleSize() >= fresh + 65536);
  c.close();
});

test('handles left to the garbage collector are collected', () => {
  // Each connected handle reports its buffers as external memory; many
  // of them must not keep the process from collecting them.
  for (let i = 0; i < 50; i++) {
    const h = connected();
    h.getSize();
  }
  if (global.gc) global.gc();
});

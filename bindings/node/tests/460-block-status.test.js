'use strict';
// Block status with base:allocation.

// scenarios: 465

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, nbdkitArgv } = require('./helpers');

function bsHandle() {
  const h = new nbd.NBD();
  h.addMetaContext(nbd.CONTEXT_BASE_ALLOCATION);
  h.connectCommand(nbdkitArgv('memory', 'size=1M'));
  assert.equal(h.canMetaContext(nbd.CONTEXT_BASE_ALLOCATION), true);
  h.pwrite(Buffer.alloc(65536, 0xff), 0);
  return h;
}

test('blockStatus reports data then a hole', () => {
  const h = bsHandle();
  const found = [];
  h.blockStatus(1 << 20, 0, (metacontext, offset, entries, err) => {
    assert.equal(err.value, 0);
    if (metacontext === nbd.CONTEXT_BASE_ALLOCATION) found.push([offset, entries]);
    return 0;
  });
  assert.equal(found.length, 1);
  const [offset, entries] = found[0];
  assert.equal(offset, 0);
  assert.deepEqual(entries.slice(0, 2), [65536, 0]);
  assert.ok(entries[3] & (nbd.STATE_HOLE | nbd.STATE_ZERO));
  h.close();
});

test('REQ_ONE gives one extent', () => {
  const h = bsHandle();
  let entries;
  h.blockStatus(1 << 20, 0, (m, o, e) => { entries = e; }, { flags: nbd.CMD_FLAG.REQ_ONE });
  assert.equal(entries.length, 2);
  h.close();
});

test('blockStatus64 gives { length, flags } extents', () => {
  const h = bsHandle();
  let entries;
  h.blockStatus64(1 << 20, 0, (m, o, e) => { entries = e; });
  assert.deepEqual(entries[0], { length: 65536, flags: 0 });
  h.close();
});

test('blockStatusAsync runs the callback and resolves', async () => {
  const h = bsHandle();
  const found = [];
  await h.blockStatusAsync(1 << 20, 0, (m, o, entries) => { found.push(...entries); });
  assert.deepEqual(found.slice(0, 2), [65536, 0]);
  const many = [];
  for (let i = 0; i < 8; i++) many.push(h.blockStatus64Async(65536, i * 65536, () => 0));
  await Promise.all(many);
  h.close();
});

'use strict';
// A callback that calls a locked method of its own handle gets an NbdError
// with code EDEADLK instead of waiting for itself for ever (libnbd
// deadlocks there); the getters that cannot fail answer, close() is
// refused, and the handle works afterwards.

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, connected } = require('./helpers');

function codeOf(f) {
  try {
    f();
  } catch (e) {
    return e.code;
  }
  return 'no error';
}

test('a completion callback calling its own handle', { timeout: 60000 }, () => {
  const h = connected();
  const seen = [];
  const cookie = h.aioPread(Buffer.alloc(4096), 0, {
    completion: (err) => {
      seen.push(err.value);
      seen.push(codeOf(() => h.getSize()));
      seen.push(codeOf(() => h.pread(512, 0)));
      seen.push(codeOf(() => h.close()));
      seen.push(h.getDebug());
      return 1;
    },
  });
  assert.ok(cookie >= 1);
  for (let i = 0; h.aioInFlight() > 0; i++) {
    assert.ok(i < 1000, 'the read never completed');
    h.poll(5000);
  }
  assert.deepEqual(seen, [0, 'EDEADLK', 'EDEADLK', 'EDEADLK', false]);
  assert.equal(h.closed, false);
  assert.equal(h.getSize(), 1 << 20);
  assert.deepEqual(h.pread(512, 0), Buffer.alloc(512));
  h.close();
});

test('the debug callback calling a setter of its own handle', { timeout: 60000 }, () => {
  const h = new nbd.NBD();
  const seen = [];
  h.setDebugCallback((ctx, msg) => {
    if (ctx === 'nbd_set_export_name' && msg.startsWith('enter')) {
      seen.push(codeOf(() => h.setHandleName('inner')));
    }
    return 0;
  });
  h.setDebug(true);
  h.setExportName('x');
  h.setDebug(false);
  assert.deepEqual(seen, ['EDEADLK']);
  assert.notEqual(h.getHandleName(), 'inner');
  h.close();
});

'use strict';
// pread_initialize: a read the server fails leaves the caller's buffer
// cleared (the default), so no stale bytes pass for data; turned off,
// the buffer is left as it was.

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, connected, pollUntil } = require('./helpers');

const failingReads = ['--filter=error', 'pattern', 'size=1M', 'error=EIO', 'error-pread-rate=1'];

for (const initialize of [true, false]) {
  test(`a failed aioPread with pread_initialize ${initialize}`, () => {
    const h = connected(...failingReads);
    assert.equal(h.getPreadInitialize(), true);
    h.setPreadInitialize(initialize);
    assert.equal(h.getPreadInitialize(), initialize);
    const buf = Buffer.alloc(512, 0xff);
    const cookie = h.aioPread(buf, 0);
    assert.throws(() => pollUntil(h, () => h.aioCommandCompleted(cookie)), { name: 'NbdError', code: 'EIO' });
    assert.deepEqual(buf, Buffer.alloc(512, initialize ? 0 : 0xff));
    h.close();
  });
}

test('a failed preadAsync rejects with EIO', async () => {
  const h = connected(...failingReads);
  await assert.rejects(h.preadAsync(512, 0), { name: 'NbdError', code: 'EIO' });
  h.close();
});

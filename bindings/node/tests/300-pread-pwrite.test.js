'use strict';
// Reading and writing, blocking and as promises.

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, connected, pattern } = require('./helpers');

test('pwrite then pread returns the same bytes', () => {
  const h = connected();
  const want = pattern(65536);
  h.pwrite(want, 0);
  const got = h.pread(65536, 0);
  assert.ok(Buffer.isBuffer(got));
  assert.ok(got.equals(want));
  h.close();
});

test('pwrite takes any Uint8Array and flags in the options object', () => {
  const h = connected();
  h.pwrite(new Uint8Array([1, 2, 3, 4]), 4096, { flags: nbd.CMD_FLAG.FUA });
  assert.deepEqual([...h.pread(4, 4096)], [1, 2, 3, 4]);
  h.close();
});

test('offsets may be bigints', () => {
  const h = connected();
  h.pwrite(Buffer.from('big'), 1000n);
  assert.equal(h.pread(3, 1000n).toString(), 'big');
  h.close();
});

test('preadAsync and pwriteAsync', async () => {
  const h = connected();
  const want = pattern(8192);
  await h.pwriteAsync(want, 8192);
  const got = await h.preadAsync(8192, 8192);
  assert.ok(got.equals(want));
  h.close();
});

test('pwriteAsync copies the buffer: the caller may reuse it at once', async () => {
  const h = connected();
  const buf = Buffer.alloc(4096, 0xaa);
  const p = h.pwriteAsync(buf, 0);
  buf.fill(0x55);
  await p;
  assert.ok((await h.preadAsync(4096, 0)).equals(Buffer.alloc(4096, 0xaa)));
  h.close();
});

test('raw aio calls with a completion callback, driven by poll', () => {
  const h = connected();
  const buf = Buffer.alloc(512);
  let done = null;
  const cookie = h.aioPread(buf, 0, { completion: (err) => { done = err.value; return 1; } });
  assert.ok(cookie >= 1);
  while (done === null) h.poll(-1);
  assert.equal(done, 0);
  const wbuf = Buffer.from('hello');
  const c2 = h.aioPwrite(wbuf, 0);
  while (!h.aioCommandCompleted(c2)) h.poll(-1);
  assert.equal(h.pread(5, 0).toString(), 'hello');
  h.close();
});

test('preadStructured calls the chunk function', () => {
  const h = connected();
  h.pwrite(Buffer.from('chunky'), 0);
  const chunks = [];
  const got = h.preadStructured(6, 0, (sub, offset, status, err) => {
    chunks.push([sub.toString(), offset, status, err.value]);
    return 0;
  });
  assert.equal(got.toString(), 'chunky');
  assert.deepEqual(chunks, [['chunky', 0, nbd.READ_DATA, 0]]);
  h.close();
});

test('unknown option keys are refused', () => {
  const h = connected();
  assert.throws(() => h.pread(1, 0, { flag: 1 }), /unknown option `flag`/);
  h.close();
});

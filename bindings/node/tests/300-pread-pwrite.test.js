'use strict';
// Reading and writing, blocking and as promises.

// scenarios: 310 320 400 410 440

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { nbd, connected, pattern, pollUntil } = require('./helpers');

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
  pollUntil(h, () => done !== null);
  assert.equal(done, 0);
  const wbuf = Buffer.from('hello');
  const c2 = h.aioPwrite(wbuf, 0);
  pollUntil(h, () => h.aioCommandCompleted(c2));
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

test('aioPread reads into the caller\'s Buffer, held until the command retires', () => {
  // In a child with --expose-gc: the Buffer's only reference is the
  // command's; collections while it is in flight must not free it, and
  // once the command retired it is released.
  const script = `
    const { NBD } = require(${JSON.stringify(require.resolve('..'))});
    const h = new NBD();
    h.connectCommand(['nbdkit', '-s', '--exit-with-parent', '--filter=delay', 'pattern', 'size=1M', 'rdelay=300ms']);
    let ref, cookie;
    {
      const buf = Buffer.alloc(4096, 0xaa);
      ref = new WeakRef(buf);
      cookie = h.aioPread(buf, 8);
    }
    const deadline = Date.now() + 20000;
    const step = () => {
      global.gc();
      if (Date.now() > deadline) { console.log('timeout'); return; }
      h.poll(0);
      if (!h.aioCommandCompleted(cookie)) { setTimeout(step, 20); return; }
      const buf = ref.deref();
      // The data landed in that very Buffer: nbdkit pattern's word at 8.
      console.log(buf === undefined ? 'collected in flight' : buf.readBigUInt64BE(0).toString());
      setTimeout(() => {
        global.gc();
        setTimeout(() => { global.gc(); console.log(ref.deref() === undefined ? 'released' : 'still held'); h.close(); }, 20);
      }, 20);
    };
    step();
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { timeout: 30000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['8', 'released']);
});

test('offsets past 4 GiB reach the server untruncated', async () => {
  // nbdkit pattern: each 8-byte word holds its own offset, big-endian.
  const h = connected('pattern', 'size=5G');
  const offset = 4n * 1024n ** 3n + 4096n;
  const sync = h.pread(16, offset);
  assert.equal(sync.readBigUInt64BE(0), offset);
  assert.equal(sync.readBigUInt64BE(8), offset + 8n);
  const viaPromise = await h.preadAsync(8, offset + 1024n);
  assert.equal(viaPromise.readBigUInt64BE(0), offset + 1024n);
  h.close();
});

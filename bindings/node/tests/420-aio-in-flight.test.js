'use strict';
// Many promises in flight at once, without blocking the event loop.

// scenarios: 330 800 820

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, connected, pattern } = require('./helpers');

test('64 reads in flight at once resolve with the right data', async () => {
  // Every read takes 100 ms at the server, so all 64 are in flight
  // together, and the whole takes far less than 64 reads one by one.
  const h = connected('--filter=delay', 'memory', 'size=4M', 'rdelay=100ms');
  const want = pattern(64 * 4096);
  h.pwrite(want, 0);
  const start = Date.now();
  const reads = [];
  for (let i = 0; i < 64; i++) reads.push(h.preadAsync(4096, i * 4096));
  assert.equal(h.aioInFlight(), 64);
  const got = await Promise.all(reads);
  assert.ok(Date.now() - start < 64 * 100 / 4, `took ${Date.now() - start} ms`);
  for (let i = 0; i < 64; i++) assert.ok(got[i].equals(want.subarray(i * 4096, (i + 1) * 4096)), `read ${i}`);
  assert.equal(h.aioInFlight(), 0);
  h.close();
});

test('64 mixed writes, flushes and reads in flight', async () => {
  const h = connected('memory', 'size=4M');
  const ops = [];
  for (let i = 0; i < 64; i++) ops.push(h.pwriteAsync(Buffer.alloc(1024, i), i * 1024));
  ops.push(h.flushAsync());
  await Promise.all(ops);
  const reads = [];
  for (let i = 0; i < 64; i++) reads.push(h.preadAsync(1024, i * 1024));
  (await Promise.all(reads)).forEach((b, i) => assert.ok(b.equals(Buffer.alloc(1024, i))));
  h.close();
});

test('the event loop keeps running while commands are in flight', async () => {
  // A delay filter makes every read take 200 ms.
  const h = connected('--filter=delay', 'memory', 'size=1M', 'rdelay=200ms');
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 10);
  const start = Date.now();
  const reads = [];
  for (let i = 0; i < 16; i++) reads.push(h.preadAsync(512, i * 512));
  await Promise.all(reads);
  clearInterval(timer);
  assert.ok(ticks >= 5, `the timer ran ${ticks} times`);
  // nbdkit serves the delayed reads in parallel, far below 16 * 200 ms.
  assert.ok(Date.now() - start < 16 * 200, 'reads were not serialised');
  h.close();
});

test('handles work concurrently', async () => {
  const hs = [connected(), connected(), connected()];
  await Promise.all(hs.map((h, i) => h.pwriteAsync(Buffer.alloc(16, i + 1), 0)));
  const got = await Promise.all(hs.map((h) => h.preadAsync(16, 0)));
  got.forEach((b, i) => assert.ok(b.equals(Buffer.alloc(16, i + 1))));
  hs.forEach((h) => h.close());
});

test('trimAsync, zeroAsync, cacheAsync', async () => {
  const h = connected();
  await h.pwriteAsync(Buffer.alloc(8192, 0xff), 0);
  await h.trimAsync(4096, 0);
  await h.zeroAsync(4096, 4096, { flags: nbd.CMD_FLAG.NO_HOLE });
  await h.cacheAsync(8192, 0);
  assert.ok((await h.preadAsync(8192, 0)).equals(Buffer.alloc(8192)));
  h.close();
});

test('a handle with nothing pending does not keep the program alive', () => {
  const { spawnSync } = require('node:child_process');
  const script = `
    const { NBD } = require(${JSON.stringify(require.resolve('..'))});
    const h = new NBD();
    h.connectCommand(['nbdkit', '-s', '--exit-with-parent', 'memory', 'size=1M']);
    h.preadAsync(512, 0).then(() => console.log('read done'));
  `;
  const r = spawnSync(process.execPath, ['-e', script], { timeout: 10000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'read done');
});

test('handles work in worker threads', async () => {
  const { Worker } = require('node:worker_threads');
  const code = `
    const { parentPort } = require('node:worker_threads');
    const { NBD } = require(${JSON.stringify(require.resolve('..'))});
    (async () => {
      const h = new NBD();
      await h.connectCommandAsync(['nbdkit', '-s', '--exit-with-parent', 'memory', 'size=1M']);
      await h.pwriteAsync(Buffer.from('worker'), 0);
      const got = await h.preadAsync(6, 0);
      h.close();
      parentPort.postMessage(got.toString());
    })().catch((e) => parentPort.postMessage('error: ' + e.message));
  `;
  const results = await Promise.all([1, 2].map(() => new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  assert.deepEqual(results, ['worker', 'worker']);
});

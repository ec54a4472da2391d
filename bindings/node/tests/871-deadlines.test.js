'use strict';
// Deadlines (extensions): setRequestTimeout and setConnectTimeout fail
// what overruns with ETIMEDOUT at the deadline (within 20 %), for
// promises too; aioGetTimeoutMs tells an event loop how long it may wait.

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, nbdkitServer } = require('./helpers');

function onTime(start) {
  const took = Date.now() - start;
  assert.ok(took >= 980 && took <= 1200, `took ${took} ms for a 1000 ms deadline`);
}

test('a slow read times out, as a promise too', async (t) => {
  const srv = await nbdkitServer(t, '--filter=delay', 'memory', 'size=1M', 'rdelay=5');
  const h = new nbd.NBD();
  assert.equal(Number(h.getRequestTimeout()), 0);
  h.setRequestTimeout(1000);
  assert.equal(Number(h.getRequestTimeout()), 1000);
  h.connectUnix(srv.sock);
  await h.pwriteAsync(Buffer.alloc(512, 1), 0);
  assert.equal(h.aioGetTimeoutMs(), -1);
  const start = Date.now();
  const reads = [h.preadAsync(512, 0), h.preadAsync(512, 512)];
  const results = await Promise.allSettled(reads);
  onTime(start);
  const codes = results.map((r) => r.reason && r.reason.code).sort();
  assert.deepEqual(codes, ['ENOTCONN', 'ETIMEDOUT']);
  assert.ok(h.aioIsDead());
  h.close();
});

test('a slow handshake times out', async (t) => {
  const srv = await nbdkitServer(t, '--filter=delay', 'memory', 'size=1M', 'delay-open=5');
  const h = new nbd.NBD();
  h.setConnectTimeout(1000);
  const start = Date.now();
  await assert.rejects(h.connectUnixAsync(srv.sock), { code: 'ETIMEDOUT' });
  onTime(start);
  assert.ok(h.aioIsDead());
  h.close();
});

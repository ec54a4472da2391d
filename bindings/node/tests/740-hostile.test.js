'use strict';
// The hostile server of tests/hostile from Node: each misbehaviour ends
// in an NbdError with a message, without hanging, and no read returns
// data the server did not send.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { nbd } = require('./helpers');

const server = path.resolve(__dirname, '..', '..', '..', 'tests', 'hostile', 'nbd-hostile-server.py');

function hostile(scenario) {
  const h = new nbd.NBD();
  h.connectCommand(['python3', server, '--scenario', scenario]);
  return h;
}

for (const [scenario, code, words] of [
  ['short-read', 'EIO', 'covered'],
  ['unknown-chunk', 'ENOTCONN', 'unknown structured reply chunk type'],
  ['disconnect-mid-reply', 'ENOTCONN', 'middle of a reply'],
]) {
  test(`${scenario}: the read fails with ${code}`, async () => {
    const h = hostile(scenario);
    await assert.rejects(h.preadAsync(4096, 0), (e) => e.code === code && e.message.includes(words));
    h.close();
  });
}

test('trickle: correct data from a server writing byte by byte', async () => {
  const h = hostile('trickle');
  const data = await h.preadAsync(4096, 1000);
  for (let i = 0; i < 4096; i++) assert.equal(data[i], (1000 + i) % 251);
  h.close();
});

test('close-in-flight: 10 of 64 reads succeed, the rest fail with ENOTCONN', async () => {
  const h = hostile('close-in-flight');
  const results = await Promise.allSettled(
    Array.from({ length: 64 }, (_, i) => h.preadAsync(512, i * 512)));
  const ok = results.filter((r) => r.status === 'fulfilled');
  const failed = results.filter((r) => r.status === 'rejected');
  assert.equal(ok.length, 10);
  assert.ok(failed.every((r) => r.reason.code === 'ENOTCONN'));
  for (const [i, r] of results.entries()) {
    if (r.status === 'fulfilled') {
      for (let k = 0; k < 512; k++) assert.equal(r.value[k], (i * 512 + k) % 251);
    }
  }
  h.close();
});

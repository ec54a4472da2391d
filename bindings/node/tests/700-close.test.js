'use strict';
// close(): pending promises, use after close, garbage collection.

// scenarios: 150 701 702 703 704 940

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { nbd, connected, exitsWithin } = require('./helpers');

test('use after close throws EBADF', async () => {
  const h = connected();
  h.close();
  assert.equal(h.closed, true);
  assert.throws(() => h.getSize(), { name: 'NbdError', code: 'EBADF' });
  assert.throws(() => h.preadAsync(1, 0), { code: 'EBADF' });
  assert.throws(() => h.close(), { code: 'EBADF' });
});

test('close rejects pending promises with ESHUTDOWN', async () => {
  const h = connected('--filter=delay', 'memory', 'size=1M', 'rdelay=500ms');
  const p = h.preadAsync(512, 0);
  h.close();
  await assert.rejects(p, { code: 'ESHUTDOWN' });
});

test('shutdown then close', () => {
  const h = connected();
  h.shutdown();
  assert.ok(h.aioIsClosed());
  h.close();
});

test('disconnectAsync resolves when the connection is closed', async () => {
  const h = connected();
  await h.disconnectAsync();
  // A clean disconnect ends closed, never dead.
  assert.equal(h.aioIsClosed(), true);
  assert.equal(h.aioIsDead(), false);
  h.close();
});

test('shutdown with ABANDON_PENDING fails the unsent commands with ENOTCONN', () => {
  const h = connected('--filter=delay', 'memory', 'size=1M', 'rdelay=200ms');
  const cookies = [0, 1, 2, 3].map((i) => h.aioPread(Buffer.alloc(512), i * 512));
  h.shutdown({ flags: nbd.SHUTDOWN.ABANDON_PENDING });
  assert.equal(h.aioIsClosed(), true);
  const outcomes = cookies.map((c) => {
    try {
      return h.aioCommandCompleted(c);
    } catch (e) {
      assert.ok(e instanceof nbd.NbdError, String(e));
      return e.code;
    }
  });
  // The first went out at once and was answered (ESHUTDOWN when nbdkit
  // saw the disconnect before it finished); the three queued behind it
  // were never sent.
  assert.ok(outcomes[0] === true || outcomes[0] === 'ESHUTDOWN', String(outcomes));
  assert.deepEqual(outcomes.slice(1), ['ENOTCONN', 'ENOTCONN', 'ENOTCONN']);
  h.close();
});

test('close, and killSubprocess, end the server the handle started', async () => {
  const a = connected();
  const pa = a.getSubprocessPid();
  assert.ok(pa > 0);
  a.close();
  assert.ok(await exitsWithin(pa), 'close left the server running');
  const b = connected();
  const pb = b.getSubprocessPid();
  b.killSubprocess(9); // SIGKILL: nbdkit -s may sit out a SIGTERM while its socket is open
  assert.ok(await exitsWithin(pb), 'killSubprocess left the server running');
  assert.throws(() => b.pread(512, 0), nbd.NbdError);
  b.close();
});

test('handles are cleaned up by the garbage collector', () => {
  const script = `
    const { NBD } = require(${JSON.stringify(require.resolve('..'))});
    (async () => {
      for (let i = 0; i < 50; i++) {
        const h = new NBD();
        h.connectCommand(['nbdkit', '-s', '--exit-with-parent', 'memory', 'size=1M']);
        await h.preadAsync(512, 0);
      }
      for (let i = 0; i < 5; i++) { global.gc(); await new Promise((r) => setTimeout(r, 50)); }
      const fs = require('node:fs');
      const fds = fs.readdirSync('/proc/self/fd').length;
      console.log(fds);
    })();
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { timeout: 30000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // 50 handles left open would hold 50 sockets and 100 pipe ends.
  assert.ok(Number(r.stdout.trim()) < 40, `open descriptors: ${r.stdout}`);
});

test('a promise keeps its handle alive after the last reference is dropped', () => {
  const script = `
    const { NBD } = require(${JSON.stringify(require.resolve('..'))});
    let p;
    {
      const h = new NBD();
      h.connectCommand(['nbdkit', '-s', '--exit-with-parent', '--filter=delay', 'memory', 'size=1M', 'rdelay=300ms']);
      p = h.preadAsync(512, 0);
    }
    global.gc();
    setTimeout(() => global.gc(), 50);
    p.then((b) => console.log(b.length), (e) => console.log('rejected: ' + e.message));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { timeout: 10000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '512');
});

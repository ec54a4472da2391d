'use strict';
// An exception in a callback fails that command and becomes the cause.

// scenarios: 640

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, nbdkitArgv, connected } = require('./helpers');

function bsHandle() {
  const h = new nbd.NBD();
  h.addMetaContext(nbd.CONTEXT_BASE_ALLOCATION);
  h.connectCommand(nbdkitArgv('memory', 'size=1M'));
  return h;
}

test('an exception in the extent callback fails blockStatus', () => {
  const h = bsHandle();
  const boom = new Error('boom');
  assert.throws(() => h.blockStatus(65536, 0, () => { throw boom; }), (e) => {
    assert.ok(e instanceof nbd.NbdError);
    assert.equal(e.code, 'EPROTO');
    assert.equal(e.cause, boom);
    return true;
  });
  // The handle still works.
  assert.equal(h.pread(4, 0).length, 4);
  h.close();
});

test('a callback may choose the errno', () => {
  const h = bsHandle();
  assert.throws(() => h.blockStatus(65536, 0, (m, o, e, err) => { err.value = 5; throw new Error('x'); }),
    { code: 'EIO' });
  assert.throws(() => h.blockStatus(65536, 0, (m, o, e, err) => { err.value = 28; return -1; }),
    { code: 'ENOSPC' });
  h.close();
});

test('non-Error exceptions are kept as the cause', () => {
  const h = bsHandle();
  assert.throws(() => h.blockStatus(65536, 0, () => { throw 'a string'; }), (e) => e.cause === 'a string');
  h.close();
});

test('an exception in a list callback fails optList even though the server succeeded', () => {
  const h = new nbd.NBD();
  h.setOptMode(true);
  h.connectCommand(nbdkitArgv('memory', 'size=1M'));
  const err = new RangeError('no');
  assert.throws(() => h.optList(() => { throw err; }), (e) => e.cause === err && e.code === 'EPROTO');
  h.optAbort();
  h.close();
});

test('later exceptions of one call are printed to stderr, the first is the cause', () => {
  // In a child process, whose stderr we can read: optList over two
  // exports, the list callback throwing each time.
  const { spawnSync } = require('node:child_process');
  const script = `
    const { nbd, nbdkitArgv } = require(${JSON.stringify(require.resolve('./helpers'))});
    const h = new nbd.NBD();
    h.setOptMode(true);
    h.connectCommand(nbdkitArgv('--filter=exportname', 'memory', 'size=1M',
      'exportname=a', 'exportname=b', 'exportname-list=explicit'));
    let n = 0;
    try {
      h.optList(() => { n += 1; throw new Error('thrown ' + n); });
    } catch (e) {
      console.log('cause: ' + e.cause.message + ', calls: ' + n);
    }
    h.optAbort();
    h.close();
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /cause: thrown 1, calls: 2/);
  assert.match(r.stderr, /libnbd: list callback: uncaught JavaScript exception: thrown 2/);
});

test('an exception in a callback of a promise command rejects that promise only', async () => {
  const h = bsHandle();
  const boom = new TypeError('async boom');
  const bad = h.blockStatusAsync(65536, 0, () => { throw boom; });
  const good = h.preadAsync(512, 0);
  await assert.rejects(bad, (e) => e instanceof nbd.NbdError && e.cause === boom);
  assert.equal((await good).length, 512);
  h.close();
});

test('an exception in the chunk callback of preadStructuredAsync', async () => {
  const h = connected();
  await assert.rejects(h.preadStructuredAsync(512, 0, () => { throw new Error('chunk'); }),
    (e) => e.cause.message === 'chunk');
  h.close();
});

test('an exception in the debug callback fails the call that traced', () => {
  const h = connected();
  const boom = new Error('debug boom');
  h.setDebugCallback(() => { throw boom; });
  // Turning debugging on is traced already.
  assert.throws(() => h.setDebug(true), (e) => e.cause === boom);
  assert.throws(() => h.getSize(), (e) => e.cause === boom);
  // Turning it off is traced too, so that call throws as well, but it
  // takes effect.
  assert.throws(() => h.setDebug(false), (e) => e.cause === boom);
  assert.equal(h.getSize(), 1 << 20);
  h.close();
});

test('calling the handle from inside its own callback throws EDEADLK instead of hanging', () => {
  const h = bsHandle();
  let inner;
  assert.throws(() => h.blockStatus(65536, 0, () => {
    try { h.getSize(); } catch (e) { inner = e; throw e; }
  }));
  assert.equal(inner.code, 'EDEADLK');
  h.close();
});

test('unlocked methods may be called from a callback while promises are pending', async () => {
  const h = bsHandle();
  let dir;
  const other = h.preadAsync(512, 0);
  await h.blockStatusAsync(65536, 0, () => { dir = h.aioGetDirection(); });
  assert.equal(typeof dir, 'number');
  await other;
  h.close();
});

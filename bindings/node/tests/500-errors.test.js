'use strict';
// Errors: NbdError with errno and code, thrown or rejected.

// scenarios: 130 510 520 530 550

const test = require('node:test');
const assert = require('node:assert/strict');
const os = require('node:os');
const { nbd, connected } = require('./helpers');

test('a call in the wrong state throws NbdError ENOTCONN', () => {
  const h = new nbd.NBD();
  assert.throws(() => h.pread(1, 0), (e) => {
    assert.ok(e instanceof nbd.NbdError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'NbdError');
    assert.equal(e.errno, os.constants.errno.ENOTCONN);
    assert.equal(e.code, 'ENOTCONN');
    assert.match(e.message, /^nbd_pread: /);
    return true;
  });
  h.close();
});

test('a read beyond the end throws EINVAL', () => {
  const h = connected();
  assert.throws(() => h.pread(512, 1 << 20), { name: 'NbdError', code: 'EINVAL' });
  h.close();
});

test('a rejected command rejects its promise, leaving others alone', async () => {
  const h = connected();
  const bad = h.preadAsync(512, 1 << 20);
  const good = h.preadAsync(512, 0);
  await assert.rejects(bad, { name: 'NbdError', code: 'EINVAL' });
  assert.equal((await good).length, 512);
  h.close();
});

test('a server error fails the command with its errno', async () => {
  // The error filter fails every read with EIO.
  const h = connected('--filter=error', 'memory', 'size=1M', 'error-pread=EIO', 'error-pread-rate=100%');
  assert.throws(() => h.pread(512, 0), { code: 'EIO' });
  await assert.rejects(h.preadAsync(512, 0), (e) => {
    assert.equal(e.code, 'EIO');
    assert.match(e.message, /^nbd_aio_pread: /);
    return true;
  });
  h.close();
});

test('a write to a read-only export fails with EPERM', async () => {
  const h = new nbd.NBD();
  h.connectCommand(['nbdkit', '-s', '--exit-with-parent', '-r', 'memory', 'size=1M']);
  assert.equal(h.isReadOnly(), true);
  assert.throws(() => h.pwrite(Buffer.alloc(1), 0), { code: 'EPERM' });
  await assert.rejects(h.pwriteAsync(Buffer.alloc(1), 0), { code: 'EPERM' });
  h.close();
});

test('strict mode refuses unknown flags', () => {
  const h = connected();
  assert.throws(() => h.pread(1, 0, { flags: 0x10000 }), { code: 'EINVAL' });
  h.close();
});

test('an enum value out of range is EINVAL', () => {
  const h = new nbd.NBD();
  assert.throws(() => h.setTls(99), { code: 'EINVAL' });
  h.close();
});

test('NbdError is constructible and has no code for errno 0', () => {
  const e = new nbd.NbdError('m', 0);
  assert.equal(e.code, undefined);
  assert.equal(e.errno, 0);
  assert.equal(e.message, 'm');
});

'use strict';
// URIs: isUri and supportsUri, a URI of another scheme is refused with
// EINVAL, and a transport the handle does not allow with EPERM before
// anything connects.

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, nbdkitServer } = require('./helpers');

test('isUri and supportsUri', () => {
  const h = new nbd.NBD();
  assert.equal(h.supportsUri(), true);
  assert.equal(h.isUri('nbd://localhost/'), true);
  assert.equal(h.isUri('nbd+unix:///?socket=/tmp/s'), true);
  assert.equal(h.isUri('not a uri'), false);
  h.close();
});

test('a URI of another scheme is EINVAL', () => {
  const h = new nbd.NBD();
  assert.throws(() => h.connectUri('http://example.com/'), { name: 'NbdError', code: 'EINVAL' });
  assert.equal(h.aioIsCreated(), true);
  h.close();
});

test('a transport that is not allowed is EPERM; allowed, the URI connects', async (t) => {
  const srv = await nbdkitServer(t, 'memory', 'size=64K');
  const a = new nbd.NBD();
  a.setUriAllowTransports(nbd.ALLOW_TRANSPORT.TCP);
  assert.throws(() => a.connectUri(srv.uri), { name: 'NbdError', code: 'EPERM' });
  assert.equal(a.aioIsReady(), false);
  a.close();
  const b = new nbd.NBD();
  b.setUriAllowTransports(nbd.ALLOW_TRANSPORT.UNIX);
  b.connectUri(srv.uri);
  assert.equal(b.getSize(), 65536);
  b.close();
});

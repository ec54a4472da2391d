'use strict';
// Handle basics: creation, settings, constants, what a fresh handle says.

// scenarios: 110 120 140

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd } = require('./helpers');

test('a new handle is created, named and closed', () => {
  const h = new nbd.NBD();
  assert.equal(h.closed, false);
  assert.match(h.getHandleName(), /^nbd\d+$/);
  h.setHandleName('mine');
  assert.equal(h.getHandleName(), 'mine');
  assert.ok(h.aioIsCreated());
  h.close();
  assert.equal(h.closed, true);
});

test('a new handle has libnbd\'s defaults', () => {
  const h = new nbd.NBD();
  assert.equal(h.getExportName(), '');
  assert.equal(h.getTls(), nbd.TLS.DISABLE);
  assert.equal(h.getRequestStructuredReplies(), true);
  assert.equal(h.getHandshakeFlags(), nbd.HANDSHAKE_FLAG.MASK);
  assert.equal(h.getOptMode(), false);
  assert.equal(h.getFullInfo(), false);
  assert.equal(h.getPreadInitialize(), true);
  assert.equal(h.getNrMetaContexts(), 0);
  assert.equal(h.getPrivateData(), 0);
  for (const f of [nbd.STRICT.COMMANDS, nbd.STRICT.FLAGS, nbd.STRICT.BOUNDS, nbd.STRICT.ZERO_SIZE, nbd.STRICT.ALIGN]) {
    assert.ok(h.getStrictMode() & f, `strict bit ${f}`);
  }
  h.close();
});

test('settings round-trip', () => {
  const h = new nbd.NBD();
  h.setExportName('exp');
  assert.equal(h.getExportName(), 'exp');
  h.setTls(nbd.TLS.ALLOW);
  assert.equal(h.getTls(), nbd.TLS.ALLOW);
  h.setStrictMode(nbd.STRICT.MASK);
  assert.equal(h.getStrictMode(), nbd.STRICT.MASK);
  assert.equal(h.getRequestStructuredReplies(), true);
  h.setRequestStructuredReplies(false);
  assert.equal(h.getRequestStructuredReplies(), false);
  assert.equal(h.setPrivateData(42), 0);
  assert.equal(h.getPrivateData(), 42);
  h.setHandshakeFlags(0);
  assert.equal(h.getHandshakeFlags(), 0);
  h.setOptMode(true);
  assert.equal(h.getOptMode(), true);
  h.setFullInfo(true);
  assert.equal(h.getFullInfo(), true);
  h.setPreadInitialize(false);
  assert.equal(h.getPreadInitialize(), false);
  h.setTlsUsername('alice');
  assert.equal(h.getTlsUsername(), 'alice');
  h.addMetaContext(nbd.CONTEXT_BASE_ALLOCATION);
  assert.equal(h.getNrMetaContexts(), 1);
  assert.equal(h.getMetaContext(0), nbd.CONTEXT_BASE_ALLOCATION);
  h.clearMetaContexts();
  assert.equal(h.getNrMetaContexts(), 0);
  h.close();
});

test('package information', () => {
  const h = new nbd.NBD();
  assert.equal(h.getPackageName(), 'libnbd');
  assert.match(h.getVersion(), /^\d+\.\d+\.\d+/);
  assert.equal(typeof h.supportsUri(), 'boolean');
  h.close();
});

test('enums, flags and constants are frozen objects with libnbd values', () => {
  assert.equal(nbd.TLS.REQUIRE, 2);
  assert.equal(nbd.CMD_FLAG.FUA, 1);
  assert.equal(nbd.CMD_FLAG.REQ_ONE, 8);
  assert.equal(nbd.CONTEXT_BASE_ALLOCATION, 'base:allocation');
  assert.equal(nbd.STATE_HOLE, 1);
  assert.ok(Object.isFrozen(nbd.TLS));
  assert.ok(Object.isFrozen(nbd.CMD_FLAG));
  assert.ok(Object.isFrozen(nbd));
  assert.throws(() => { 'use strict'; nbd.TLS.ALLOW = 7; }, TypeError);
});

test('every call is a camelCase method, with promise forms of aio operations', () => {
  const proto = nbd.NBD.prototype;
  for (const m of ['pread', 'pwrite', 'connectUri', 'aioPread', 'aioGetDirection', 'optList',
    'blockStatus', 'preadAsync', 'pwriteAsync', 'flushAsync', 'trimAsync', 'zeroAsync',
    'cacheAsync', 'blockStatusAsync', 'connectUriAsync', 'connectCommandAsync', 'optGoAsync',
    'optListAsync', 'optAbortAsync']) {
    assert.equal(typeof proto[m], 'function', m);
  }
  assert.equal(proto.aio_pread, undefined);
});

test('arguments are checked, not truncated', () => {
  const h = new nbd.NBD();
  assert.throws(() => h.setExportName(42));
  assert.throws(() => h.setTls(1.5), /integer/);
  assert.throws(() => h.setTls('x'));
  assert.throws(() => h.setHandleName());
  h.close();
});

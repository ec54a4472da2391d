'use strict';
// Connecting: a subprocess server, a Unix socket and a URI, blocking and
// as promises.

// scenarios: 201 202 203 205 206 207 209

const test = require('node:test');
const assert = require('node:assert/strict');
const { nbd, connected, nbdkitArgv, nbdkitServer, nbdkitTcpServer } = require('./helpers');

test('connectCommand runs the server as a subprocess', () => {
  const h = new nbd.NBD();
  h.connectCommand(nbdkitArgv('memory', 'size=1M'));
  assert.ok(h.aioIsReady());
  assert.equal(h.getSize(), 1 << 20);
  assert.equal(h.getProtocol(), 'newstyle-fixed');
  assert.ok(h.getSubprocessPid() > 0);
  h.close();
});

test('connectCommandAsync resolves once the handshake is done', async () => {
  const h = new nbd.NBD();
  const p = h.connectCommandAsync(nbdkitArgv('memory', 'size=2M'));
  assert.ok(p instanceof Promise);
  await p;
  assert.ok(h.aioIsReady());
  assert.equal(h.getSize(), 2 << 20);
  h.close();
});

test('connectUri and connectUnix to a listening server', async (t) => {
  const srv = await nbdkitServer(t, 'memory', 'size=1M');
  const a = new nbd.NBD();
  a.connectUri(srv.uri);
  assert.equal(a.getSize(), 1 << 20);
  assert.equal(a.getUri().startsWith('nbd+unix:'), true);
  a.close();
  const b = new nbd.NBD();
  b.connectUnix(srv.sock);
  assert.equal(b.getSize(), 1 << 20);
  b.close();
});

test('connectUriAsync and connectAsync (socket address) do not block', async (t) => {
  const srv = await nbdkitServer(t, 'memory', 'size=1M');
  const a = new nbd.NBD();
  let ticked = false;
  setImmediate(() => { ticked = true; });
  await a.connectUriAsync(srv.uri);
  assert.equal(a.getSize(), 1 << 20);
  a.close();
  const b = new nbd.NBD();
  await b.connectAsync(srv.sock);
  assert.ok(b.aioIsReady());
  b.close();
  assert.ok(ticked);
});

test('a failed asynchronous connection rejects with NbdError', async () => {
  const h = new nbd.NBD();
  await assert.rejects(h.connectUnixAsync('/nonexistent/socket'), (e) => {
    assert.ok(e instanceof nbd.NbdError);
    assert.equal(e.code, 'ENOENT');
    return true;
  });
  h.close();
});

test('a server that exits during the handshake rejects the promise', async () => {
  const h = new nbd.NBD();
  await assert.rejects(h.connectCommandAsync(['false']), nbd.NbdError);
  assert.ok(h.aioIsDead() || h.aioIsClosed());
  h.close();
});

test('connectTcp and an nbd:// URI reach a server on 127.0.0.1', async (t) => {
  const srv = await nbdkitTcpServer(t, 'memory', 'size=128K');
  const a = new nbd.NBD();
  a.connectTcp('127.0.0.1', String(srv.port));
  assert.equal(a.getSize(), 128 * 1024);
  a.close();
  const b = new nbd.NBD();
  b.connectUri(`nbd://127.0.0.1:${srv.port}/named`);
  assert.equal(b.getExportName(), 'named');
  assert.equal(b.getSize(), 128 * 1024);
  b.close();
});

test('connectSystemdSocketActivation makes the socket and starts the server', () => {
  const h = new nbd.NBD();
  // Node opens its stdin, stdout and stderr close-on-exec: the library
  // hands the server duplicates of them, so nbdkit (which refuses to start
  // without them) runs when exec'd straight from this process.
  h.connectSystemdSocketActivation(['nbdkit', '--exit-with-parent', 'memory', 'size=32K']);
  assert.ok(h.aioIsReady());
  assert.equal(h.getSize(), 32 * 1024);
  h.pwrite(Buffer.from('activated'), 0);
  assert.equal(h.pread(9, 0).toString(), 'activated');
  h.close();
});

test('connecting a connected handle is refused with EINVAL', () => {
  const h = connected();
  assert.throws(() => h.connectCommand(nbdkitArgv('null')), { name: 'NbdError', code: 'EINVAL' });
  assert.ok(h.aioIsReady());
  assert.equal(h.getSize(), 1 << 20);
  h.close();
});

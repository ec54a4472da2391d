'use strict';
// One handle, several connections (setConnections, an extension):
// promises spread over four connections (nbdkit's log shows which
// carried what), the connect promise resolving once all are open, the
// data read back through another handle; one connection without
// multi-conn from the server.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { nbd, nbdkitServer } = require('./helpers');

const BLOCK = 65536;

function connectionsDoing(log, what) {
  const ids = new Set();
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    const m = / connection=(\d+) (\S+) /.exec(line);
    if (m && m[2] === what) ids.add(Number(m[1]));
  }
  return ids;
}

test('setConnections checks its argument', () => {
  const h = new nbd.NBD();
  assert.equal(h.getConnections(), 1);
  for (const bad of [0, -1, 65]) {
    assert.throws(() => h.setConnections(bad), (e) => e.code === 'EINVAL' && /1 to 64/.test(e.message));
  }
  h.setConnections(64);
  assert.equal(h.getConnections(), 64);
  h.close();
});

test('four connections carry the promises', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbd-node-log-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'log');
  const srv = await nbdkitServer(t, '--filter=log', 'memory', 'size=8M', `logfile=${log}`);
  const h = new nbd.NBD();
  h.setConnections(4);
  await h.connectUnixAsync(srv.sock);
  assert.equal(h.getConnections(), 4);
  assert.throws(() => h.setConnections(2), (e) => e.code === 'EINVAL');
  const data = [];
  for (let i = 0; i < 64; i++) data.push(Buffer.alloc(BLOCK, i + 1));
  await Promise.all(data.map((d, i) => h.pwriteAsync(d, i * BLOCK)));
  await h.flushAsync();
  const got = await Promise.all(data.map((_, i) => h.preadAsync(BLOCK, i * BLOCK)));
  got.forEach((b, i) => assert.ok(b.equals(data[i]), `block ${i}`));

  const other = new nbd.NBD();
  other.connectUnix(srv.sock);
  assert.equal(other.getConnections(), 1);
  for (let i = 0; i < 64; i += 9) assert.ok(other.pread(BLOCK, i * BLOCK).equals(data[i]));
  other.shutdown();
  other.close();

  h.shutdown();
  assert.equal(h.getConnections(), 0);
  h.close();
  srv.proc.kill();
  await new Promise((r) => (srv.proc.exitCode !== null ? r() : srv.proc.on('exit', r)));
  assert.equal(connectionsDoing(log, 'Connect').size, 5);
  assert.equal(connectionsDoing(log, 'Write').size, 4);
  assert.ok(connectionsDoing(log, 'Read').size >= 4);
});

test('one connection without multi-conn', async (t) => {
  const srv = await nbdkitServer(t, '--filter=multi-conn', 'memory', 'size=1M', 'multi-conn-mode=disable');
  const h = new nbd.NBD();
  h.setConnections(4);
  h.connectUnix(srv.sock);
  assert.equal(h.canMultiConn(), false);
  assert.equal(h.getConnections(), 1);
  await h.pwriteAsync(Buffer.alloc(512, 7), 0);
  assert.ok((await h.preadAsync(512, 0)).equals(Buffer.alloc(512, 7)));
  h.shutdown();
  h.close();
});

'use strict';
// TLS with a pre-shared key against nbdkit: required and negotiated with
// the right key, refused with a wrong one; TLS_REQUIRE refuses a
// plaintext server and TLS_ALLOW falls back to it visibly; an
// nbds+unix:// URI turns TLS on (its key file only when local files are
// allowed).

// scenarios: 751 753

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { nbd, nbdkitServer, tlsRoundTrip } = require('./helpers');

/** Two psktool-style key files for alice: the right one and a wrong one. */
function keyFiles(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbd-node-psk-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [good, wrong] = ['keys.psk', 'wrong.psk'].map((name) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `alice:${crypto.randomBytes(32).toString('hex')}\n`);
    return file;
  });
  return { good, wrong };
}

function tlsHandle(tls, psk) {
  const h = new nbd.NBD();
  h.setTls(tls);
  h.setTlsPskFile(psk);
  h.setTlsUsername('alice');
  return h;
}

test('the right key negotiates TLS; a wrong one is refused', async (t) => {
  const { good, wrong } = keyFiles(t);
  const srv = await nbdkitServer(t, '--tls=require', `--tls-psk=${good}`, 'memory', 'size=1M');
  await tlsRoundTrip(tlsHandle(nbd.TLS.REQUIRE, good), srv.sock, 'encrypted', 4096);
  const w = tlsHandle(nbd.TLS.REQUIRE, wrong);
  assert.throws(() => w.connectUnix(srv.sock), nbd.NbdError);
  assert.equal(w.aioIsReady(), false);
  w.close();
});

test('TLS_REQUIRE refuses a plaintext server; TLS_ALLOW falls back visibly', async (t) => {
  const { good } = keyFiles(t);
  const srv = await nbdkitServer(t, 'memory', 'size=1M');
  const r = tlsHandle(nbd.TLS.REQUIRE, good);
  assert.throws(() => r.connectUnix(srv.sock), nbd.NbdError);
  assert.equal(r.aioIsReady(), false);
  r.close();
  const a = tlsHandle(nbd.TLS.ALLOW, good);
  a.connectUnix(srv.sock);
  assert.equal(a.getTlsNegotiated(), false);
  assert.equal(a.getSize(), 1 << 20);
  a.close();
});

test('an nbds+unix:// URI turns TLS on', async (t) => {
  const { good } = keyFiles(t);
  const srv = await nbdkitServer(t, '--tls=require', `--tls-psk=${good}`, 'memory', 'size=1M');
  const uri = `nbds+unix:///?socket=${srv.sock}&tls-psk-file=${good}&tls-username=alice`;
  const a = new nbd.NBD();
  // A key file named in a URI is a local file: refused unless allowed.
  assert.throws(() => a.connectUri(uri), nbd.NbdError);
  a.close();
  const b = new nbd.NBD();
  b.setUriAllowLocalFile(true);
  await b.connectUriAsync(uri);
  assert.equal(b.getTlsNegotiated(), true);
  assert.equal(b.getSize(), 1 << 20);
  b.close();
});

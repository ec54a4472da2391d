'use strict';
// TLS with X.509 certificates against nbdkit (certificates made by
// tests/c/make-x509.sh): a verified server and client work, a
// certificate that does not name the host is refused, and so is a server
// whose CA the client does not trust.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { nbd, nbdkitServer, tlsRoundTrip } = require('./helpers');

const makeX509 = path.join(__dirname, '..', '..', '..', 'tests', 'c', 'make-x509.sh');

/** A fresh CA with server and client directories, removed after the test. */
function certificates(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbd-node-x509-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync('sh', [makeX509, dir], { stdio: 'ignore', timeout: 120000 });
  return dir;
}

function x509Handle(clientDir, hostname) {
  const h = new nbd.NBD();
  h.setTls(nbd.TLS.REQUIRE);
  h.setTlsCertificates(clientDir);
  h.setTlsVerifyPeer(true);
  h.setTlsHostname(hostname);
  assert.equal(h.getTlsHostname(), hostname);
  return h;
}

test('verified both ways; a wrong host name or an unknown CA is refused', async (t) => {
  const certs = certificates(t);
  const srv = await nbdkitServer(t, '--tls=require', `--tls-certificates=${path.join(certs, 'server')}`,
    '--tls-verify-peer', 'memory', 'size=1M');

  await tlsRoundTrip(x509Handle(path.join(certs, 'client'), 'localhost'), srv.sock, 'x509', 512);

  const wrongName = x509Handle(path.join(certs, 'client'), 'elsewhere.example');
  assert.throws(() => wrongName.connectUnix(srv.sock), nbd.NbdError);
  assert.equal(wrongName.aioIsReady(), false);
  wrongName.close();

  const other = certificates(t);
  const unknownCa = x509Handle(path.join(other, 'client'), 'localhost');
  assert.throws(() => unknownCa.connectUnix(srv.sock), nbd.NbdError);
  assert.equal(unknownCa.aioIsReady(), false);
  unknownCa.close();
});

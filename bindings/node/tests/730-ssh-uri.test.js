'use strict';
// nbd+ssh:// URIs through the ssh stand-in of tests/ssh-stand-in.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { nbd } = require('./helpers');

const standIn = path.resolve(__dirname, '..', '..', '..', 'tests', 'ssh-stand-in');

function withStandIn(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbd-ssh-'));
  const log = path.join(dir, 'ssh.log');
  const saved = { PATH: process.env.PATH, LOG: process.env.NBD_TEST_SSH_LOG };
  process.env.PATH = `${standIn}:${process.env.PATH}`;
  process.env.NBD_TEST_SSH_LOG = log;
  try {
    fn(log);
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.LOG === undefined) delete process.env.NBD_TEST_SSH_LOG;
    else process.env.NBD_TEST_SSH_LOG = saved.LOG;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('connectUri through ssh', () => {
  withStandIn((log) => {
    const h = new nbd.NBD();
    h.connectUri('nbd+ssh://dave@example.com:2022/?socket=/run/nbd.sock');
    assert.equal(h.getSize(), 1048576);
    assert.deepEqual(fs.readFileSync(log, 'utf8').split('\n').filter(Boolean),
      ['-p', '2022', '-l', 'dave', '--', 'example.com', "nc -U '/run/nbd.sock'"]);
    h.close();
  });
});

test('option-like host names are refused before ssh runs', () => {
  withStandIn((log) => {
    const h = new nbd.NBD();
    assert.throws(() => h.connectUri('nbd+ssh://-oProxyCommand=x/'), { code: 'EINVAL' });
    assert.equal(fs.existsSync(log), false);
    const g = new nbd.NBD();
    g.setUriAllowTransports(nbd.ALLOW_TRANSPORT.TCP);
    assert.throws(() => g.connectUri('nbd+ssh://example.com/'), { code: 'EPERM' });
    h.close();
    g.close();
  });
});

'use strict';
// Helpers of the node --test suites: servers and connected handles.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const nbd = require('..');

/** nbdkit serving on stdin/stdout, for connectCommand. */
function nbdkitArgv(...args) {
  return ['nbdkit', '-s', '--exit-with-parent', ...args];
}

/** A handle connected to `nbdkit -s ARGS` (memory 1M by default). */
function connected(...args) {
  const h = new nbd.NBD();
  h.connectCommand(nbdkitArgv(...(args.length ? args : ['memory', 'size=1M'])));
  return h;
}

/**
 * nbdkit listening on a Unix socket in a fresh directory, ready once its
 * PID file exists. Stopped by the test's `after` hook.
 */
async function nbdkitServer(t, ...args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbd-node-'));
  const sock = path.join(dir, 'sock');
  const pidfile = path.join(dir, 'pid');
  const proc = spawn('nbdkit', ['-f', '-U', sock, '-P', pidfile, ...args], { stdio: 'ignore' });
  t.after(() => {
    proc.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 10000;
  while (!(fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim())) {
    if (proc.exitCode !== null) throw new Error(`nbdkit exited with ${proc.exitCode}`);
    if (Date.now() > deadline) throw new Error('nbdkit did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { sock, uri: `nbd+unix:///?socket=${sock}`, proc };
}

/** The bytes i % 251 for i in [0, n), the pattern of the other languages. */
function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

module.exports = { nbd, nbdkitArgv, connected, nbdkitServer, pattern };

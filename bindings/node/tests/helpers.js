'use strict';
// Helpers of the node --test suites: servers and connected handles.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
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
  return nbdkitListening(t, null, ...args);
}

/** nbdkit on 127.0.0.1 at a free port, like nbdkitServer. */
async function nbdkitTcpServer(t, ...args) {
  const port = await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
  return nbdkitListening(t, port, ...args);
}

async function nbdkitListening(t, port, ...args) {
  const listen = (sock) => (port === null ? ['-U', sock] : ['-i', '127.0.0.1', '-p', String(port)]);
  const { sock, proc } = await serve(t, (sock, pidfile) =>
    ['nbdkit', '-f', '--exit-with-parent', ...listen(sock), '-P', pidfile, ...args]);
  if (port !== null) return { port, uri: `nbd://127.0.0.1:${port}/`, proc };
  return { sock, uri: `nbd+unix:///?socket=${sock}`, proc };
}

/** qemu-nbd serving the raw image `image` on a Unix socket, like nbdkitServer. */
async function qemuNbdServer(t, image) {
  const { sock, proc } = await serve(t, (sock, pidfile) =>
    ['qemu-nbd', '-f', 'raw', '-k', sock, '-t', `--pid-file=${pidfile}`, image]);
  return { sock, uri: `nbd+unix:///?socket=${sock}`, proc };
}

/**
 * Run the server `argv(sock, pidfile)` names, in a fresh directory; ready
 * once its PID file is written (10 s at most); killed by the test's
 * `after` hook.
 */
async function serve(t, argv) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbd-node-'));
  const sock = path.join(dir, 'sock');
  const pidfile = path.join(dir, 'pid');
  const [program, ...args] = argv(sock, pidfile);
  const proc = spawn(program, args, { stdio: 'ignore' });
  t.after(() => {
    proc.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 10000;
  while (!(fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim())) {
    if (proc.exitCode !== null) throw new Error(`${program} exited with ${proc.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${program} did not start`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { sock, proc };
}

/** Whether process `pid` has exited (gone, or a zombie not yet reaped)
 * within `ms` milliseconds. */
async function exitsWithin(pid, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch (e) {
      if (e.code === 'ENOENT') return true;
      throw e;
    }
    // "pid (comm) state ...": comm may hold spaces and parentheses.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * Connect `h` (set up for TLS) to the Unix socket `sock`: TLS must be
 * negotiated and `text` written at `offset` read back; then disconnect
 * and close.
 */
async function tlsRoundTrip(h, sock, text, offset) {
  h.connectUnix(sock);
  assert.equal(h.getTlsNegotiated(), true);
  await h.pwriteAsync(Buffer.from(text), offset);
  assert.equal((await h.preadAsync(text.length, offset)).toString(), text);
  h.shutdown();
  h.close();
}

/** Poll `h` until `cond()` holds; throw after `ms` milliseconds. */
function pollUntil(h, cond, ms = 30000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${ms} ms`);
    h.poll(1000);
  }
}

/** The bytes i % 251 for i in [0, n), the pattern of the other languages. */
function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

module.exports = {
  nbd, nbdkitArgv, connected, nbdkitServer, nbdkitTcpServer, qemuNbdServer, exitsWithin, pollUntil, tlsRoundTrip, pattern,
};

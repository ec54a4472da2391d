'use strict';
// Reconnect (setReconnectDelay, an extension): a file-backed nbdkit
// killed with 16 slow writes in flight and started again on the same
// socket: every promise resolves once the handle is back, and the data
// reads back.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { nbd } = require('./helpers');

const BLOCK = 65536;
const N = 16;

async function serve(dir, disk, ...extra) {
  const sock = path.join(dir, 'sock');
  const pidfile = path.join(dir, 'pid');
  for (const p of [sock, pidfile]) fs.rmSync(p, { force: true });
  const filters = extra.filter((a) => a.startsWith('--filter='));
  const params = extra.filter((a) => !a.startsWith('--filter='));
  const proc = spawn('nbdkit', ['-f', '--exit-with-parent', '-U', sock, '-P', pidfile,
    ...filters, 'file', disk, ...params], { stdio: 'ignore' });
  const deadline = Date.now() + 10000;
  while (!(fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim())) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('nbdkit did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { proc, sock };
}

function kill(proc) {
  return new Promise((r) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return r();
    proc.on('exit', r);
    proc.kill('SIGKILL');
  });
}

test('writes in flight survive a server restart', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbd-node-rc-'));
  const disk = path.join(dir, 'disk');
  fs.writeFileSync(disk, Buffer.alloc(N * BLOCK));
  const servers = [];
  t.after(async () => {
    for (const s of servers) await kill(s.proc);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const first = await serve(dir, disk, '--filter=delay', 'wdelay=2');
  servers.push(first);
  const h = new nbd.NBD();
  h.setReconnectDelay(10000);
  assert.equal(Number(h.getReconnectDelay()), 10000);
  await h.connectUnixAsync(first.sock);
  const data = [];
  for (let i = 0; i < N; i++) data.push(Buffer.alloc(BLOCK, i + 1));
  const writes = data.map((d, i) => h.pwriteAsync(d, i * BLOCK));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(h.aioInFlight(), N);
  await kill(first.proc);
  await new Promise((r) => setTimeout(r, 300));
  servers.push(await serve(dir, disk));
  await Promise.all(writes);
  assert.equal(Number(h.statsReconnects()), 1);
  await h.flushAsync();
  const back = await Promise.all(data.map((_, i) => h.preadAsync(BLOCK, i * BLOCK)));
  back.forEach((b, i) => assert.ok(b.equals(data[i]), `block ${i}`));
  h.shutdown();
  h.close();
});

'use strict';
// getHandleSize (libnbd 1.24): an estimate of the memory a handle holds,
// which the binding also reports to V8 as external memory.

// scenarios: 940

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { nbd, connected } = require('./helpers');

test('getHandleSize grows when connected', () => {
  const h = new nbd.NBD();
  const fresh = h.getHandleSize();
  assert.ok(fresh > 0);
  h.close();
  const c = connected();
  assert.ok(c.getHandleSize() >= fresh + 65536);
  c.close();
});

test('handles left to the garbage collector are collected', () => {
  // In a child with --expose-gc: 30 connected handles, dropped and
  // collected, take their servers (children of the process) with them.
  const script = `
    const fs = require('node:fs');
    const { NBD } = require(${JSON.stringify(require.resolve('..'))});
    const argv = ['nbdkit', '-s', '--exit-with-parent', 'memory', 'size=1M'];
    const children = () => fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).filter((p) => {
      try {
        const stat = fs.readFileSync('/proc/' + p + '/stat', 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[1]) === process.pid && fields[0] !== 'Z';
      } catch (e) { return false; }
    }).length;
    (async () => {
      const connect = () => {
        const h = new NBD();
        h.connectCommand(argv);
        return h;
      };
      let handles = Array.from({ length: 30 }, connect);
      const held = children();
      handles = null;
      const deadline = Date.now() + 20000;
      while (children() > 0 && Date.now() < deadline) {
        global.gc();
        await new Promise((r) => setTimeout(r, 50));
      }
      console.log(JSON.stringify({ held, after: children() }));
    })();
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { timeout: 60000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { held: 30, after: 0 });
});

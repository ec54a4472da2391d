'use strict';
// The functions passed as callbacks are released exactly when the
// library is done with them: after the command that used them retired,
// after a call that refused them, and at close with the command still in
// flight; while a command is in flight its callbacks stay alive. Run in a
// child with --expose-gc, watched through WeakRefs.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');

test('callbacks are held while needed and released on every path', () => {
  const script = `
    const { NBD, CONTEXT_BASE_ALLOCATION } = require(${JSON.stringify(require.resolve('..'))});
    const argv = (...a) => ['nbdkit', '-s', '--exit-with-parent', ...a];
    const refs = {};
    const track = (name, fn) => { refs[name] = new WeakRef(fn); return fn; };
    const tick = () => new Promise((r) => setTimeout(r, 20));
    const collect = async () => { for (let i = 0; i < 5; i++) { global.gc(); await tick(); } };

    (async () => {
      // A command that completes: its extent and completion callbacks.
      const a = new NBD();
      a.addMetaContext(CONTEXT_BASE_ALLOCATION);
      a.connectCommand(argv('memory', 'size=1M'));
      a.blockStatus(65536, 0, track('sync extent', () => 0));
      const cookie = a.aioPread(Buffer.alloc(512), 0, { completion: track('completion', () => 0) });
      while (!a.aioCommandCompleted(cookie)) a.poll(1000);

      // A call refused before it is sent (REQ_ONE is not a flag of pread).
      const b = new NBD();
      b.connectCommand(argv('memory', 'size=1M'));
      let refusedWith = null;
      try { b.aioPread(Buffer.alloc(512), 0, { completion: track('refused', () => 0), flags: 8 }); } catch (e) { refusedWith = e.code; }

      // A command still in flight at close.
      const c = new NBD();
      c.connectCommand(argv('--filter=delay', 'memory', 'size=1M', 'rdelay=2'));
      c.aioPread(Buffer.alloc(512), 0, { completion: track('closed in flight', () => 0) });
      // ... and one in flight that must stay alive meanwhile.
      const d = new NBD();
      d.connectCommand(argv('--filter=delay', 'memory', 'size=1M', 'rdelay=1'));
      const held = d.aioPread(Buffer.alloc(512), 0, { completion: track('in flight', () => 0) });
      c.close();

      await collect();
      const alive = (name) => refs[name].deref() !== undefined;
      console.log(JSON.stringify({
        'sync extent': alive('sync extent'), completion: alive('completion'),
        refused: alive('refused'), refusedWith, 'closed in flight': alive('closed in flight'),
        'in flight': alive('in flight'),
      }));
      const deadline = Date.now() + 20000;
      while (!d.aioCommandCompleted(held) && Date.now() < deadline) d.poll(1000);
      await collect();
      console.log(JSON.stringify({ 'in flight, retired': alive('in flight') }));
      a.close(); b.close(); d.close();
    })();
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { timeout: 60000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [during, after] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(during, {
    'sync extent': false, completion: false, refused: false, refusedWith: 'EINVAL', 'closed in flight': false, 'in flight': true,
  });
  assert.deepEqual(after, { 'in flight, retired': false });
});

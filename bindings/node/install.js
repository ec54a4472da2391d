'use strict';
// npm's install step of the `libnbd` package: make sure the native addon
// (nbd.node) is there.
//
// A package made with `npm pack` ships the built addon, and nothing is
// done. Installed from a checkout of the repository (`npm install
// ./bindings/node`), the addon is built with cargo from the repository's
// sources, as `pip install ./bindings/python` does with maturin, and
// copied here. When it cannot be built, this says what is missing.
//
// NBD_NODE_PROFILE=debug builds (or reuses) a debug build instead of a
// release one; CARGO and CC name the tools when they are not `cargo` and
// `cc` on PATH.

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const here = __dirname;
const addon = path.join(here, 'nbd.node');

function fail(msg) {
  console.error(`libnbd: ${msg}`);
  process.exit(1);
}

function loads(file) {
  try {
    require(file);
    return true;
  } catch (e) {
    return false;
  }
}

function have(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

if (fs.existsSync(addon) && loads(addon)) {
  process.exit(0);
}

const root = path.resolve(here, '..', '..');
if (!fs.existsSync(path.join(root, 'Cargo.toml')) || !fs.existsSync(path.join(root, 'core'))) {
  fail('the native addon nbd.node is missing, and this package is not inside a checkout of ' +
       'its repository, so it cannot be built here; install a package made with `npm pack`');
}
const cargo = process.env.CARGO || 'cargo';
const cc = process.env.CC || 'cc';
if (!have(cargo, ['--version'])) {
  fail('building the native addon needs cargo (the Rust toolchain), which was not found ' +
       'on PATH: install it (for example from https://rustup.rs) and run npm install again');
}
if (!have(cc, ['--version'])) {
  fail('building the native addon needs a C compiler (cc), which was not found on PATH: ' +
       'install one (gcc or clang) and run npm install again');
}

const release = process.env.NBD_NODE_PROFILE !== 'debug';
const args = ['build', '-p', 'nbd-node'];
if (release) {
  args.push('--release');
}
console.error(`libnbd: building the native addon: cargo ${args.join(' ')}`);
const build = spawnSync(cargo, args, { cwd: root, stdio: 'inherit' });
if (build.error || build.status !== 0) {
  fail(`cargo ${args.join(' ')} failed${build.error ? `: ${build.error.message}` : ''}; ` +
       'see its messages above (OpenSSL headers, libssl-dev and pkg-config, are needed too)');
}
const built = path.join(root, 'target', release ? 'release' : 'debug', 'libnbd_node.so');
if (!fs.existsSync(built)) {
  fail(`cargo succeeded but ${built} is not there`);
}
// Replace rather than overwrite: a running node may have the old file
// mapped.
fs.rmSync(addon, { force: true });
fs.copyFileSync(built, addon);
if (!loads(addon)) {
  fail(`the addon built at ${built} cannot be loaded by this node (${process.version})`);
}

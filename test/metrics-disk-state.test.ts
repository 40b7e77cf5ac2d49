// Disk states as the exporter reports them when it runs as its units run it:
// unprivileged, inside ProtectSystem=strict's read-only view of the tree. The
// core calls a disk 'read-only' whenever the caller cannot write to it; the
// metrics must say 'read-only' only of a file system that is read-only for
// everyone. Needs root (setpriv, mount namespaces); skipped loudly otherwise.
//
// The unprivileged reader must reach the built code wherever the checkout is:
// a clone made inside `mktemp -d` sits below a directory only its owner may
// enter. Rather than loosen the checkout, a mount namespace shows dist/,
// node_modules/ and node itself to it through bind mounts under a scratch
// directory anyone may traverse.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot, requireTool, scratchDir } from './helpers';
import { makePool } from './metrics-fixtures';

const snapshotJs = (root: string) => path.join(root, 'dist', 'src', 'metrics', 'snapshot.js');

/** A node one-liner printing the pool's disks by state as the exporter sees them. */
const probe = (poolRoot: string, root = repoRoot, node = process.execPath) =>
  `${JSON.stringify(node)} -e 'const s = require(${JSON.stringify(snapshotJs(root))}).readPoolSnapshot(${JSON.stringify(poolRoot)}); console.log(JSON.stringify(s.ok ? s.disks : s.error))'`;

/** Every disk state at 0 but those given. */
const byState = (counts: Record<string, number>) => ({ online: 0, rebuilding: 0, 'read-only': 0, missing: 0, foreign: 0, unreadable: 0, ...counts });

function sh(script: string, prefix: string[] = []) {
  const [cmd, ...args] = [...prefix, 'sh', '-c', script];
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return { ...r, json: () => JSON.parse(r.stdout.trim().split('\n').pop() || 'null') };
}

function privileged(what: string): boolean {
  if (process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0) return true;
  process.stderr.write(`\n*** SKIP: ${what}: needs root and mount namespaces (unshare -m)\n`);
  return false;
}

/** A scratch directory an unprivileged user can traverse. */
function openScratch(): string {
  const dir = scratchDir('dfs-metrics-disks-');
  fs.chmodSync(dir, 0o755);
  return dir;
}

test('run as an unprivileged user, a root-owned pool is readable and its disks online', () => {
  if (!privileged('unprivileged reader') || !requireTool('setpriv')) return;
  const dir = openScratch();
  const pool = makePool(dir, 'pool', 3);
  // The code as the unprivileged user reaches it: dir/view/{dist,node_modules,node}
  // bound to the checkout's (and node's) inside the namespace; module lookup
  // climbs from view/dist to view/node_modules as it would in the checkout.
  const view = path.join(dir, 'view');
  for (const d of ['dist', 'node_modules']) fs.mkdirSync(path.join(view, d), { recursive: true });
  const node = path.join(view, 'node');
  fs.writeFileSync(node, '');
  const q = JSON.stringify;
  const binds = [
    `mount --bind ${q(path.join(repoRoot, 'dist'))} ${q(path.join(view, 'dist'))}`,
    `mount --bind ${q(path.join(repoRoot, 'node_modules'))} ${q(path.join(view, 'node_modules'))}`,
    `mount --bind ${q(process.execPath)} ${q(node)}`,
  ].join(' && ');
  const r = sh(`${binds} && setpriv --reuid=65534 --regid=65534 --clear-groups ${probe(pool.root, view, node)}`, ['unshare', '-m']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.json(), byState({ online: 3 }));
});

test('under a read-only bind mount (ProtectSystem=strict), disks are still online', () => {
  if (!privileged('read-only bind mount')) return;
  const pool = makePool(openScratch(), 'pool', 3);
  const r = sh(`mount --bind ${pool.root} ${pool.root} && mount -o remount,bind,ro ${pool.root} && ${probe(pool.root)}`, ['unshare', '-m']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.json(), byState({ online: 3 }));
});

test('a disk whose file system is mounted read-only is read-only', () => {
  if (!privileged('read-only file system')) return;
  const dir = openScratch();
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  fs.mkdirSync(path.join(dir, 'd0'));
  const root = path.join(dir, 'pool');
  // Inside the namespace: a tmpfs holding one disk, remounted read-only (the superblock, as errors=remount-ro does).
  const create = `${JSON.stringify(process.execPath)} -e 'require(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'core', 'pool.js'))}).createPool({ root: ${JSON.stringify(root)}, diskPaths: [${JSON.stringify(path.join(dir, 'd0'))}, ${JSON.stringify(path.join(mnt, 'd1'))}], redundancy: "mirror:2" })'`;
  const r = sh(`mount -t tmpfs tmpfs ${mnt} && mkdir ${mnt}/d1 && ${create} && mount -o remount,ro ${mnt} && ${probe(root)}`, ['unshare', '-m']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.json(), byState({ online: 1, 'read-only': 1 }));
});

test.run();

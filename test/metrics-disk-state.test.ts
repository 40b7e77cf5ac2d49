// Disk states as the exporter reports them when it runs as its units run it:
// unprivileged, inside ProtectSystem=strict's read-only view of the tree. The
// core calls a disk 'read-only' whenever the caller cannot write to it; the
// metrics must say 'read-only' only of a file system that is read-only for
// everyone. Needs root (setpriv, mount namespaces); skipped loudly otherwise.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot, requireTool, scratchDir } from './helpers';
import { makePool } from './metrics-fixtures';

const SNAPSHOT_JS = path.join(repoRoot, 'dist', 'src', 'metrics', 'snapshot.js');

/** A node one-liner printing the pool's disks by state as the exporter sees them. */
const probe = (poolRoot: string) =>
  `${JSON.stringify(process.execPath)} -e 'const s = require(${JSON.stringify(SNAPSHOT_JS)}).readPoolSnapshot(${JSON.stringify(poolRoot)}); console.log(JSON.stringify(s.ok ? s.disks : s.error))'`;

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
  const pool = makePool(openScratch(), 'pool', 3);
  const r = sh(probe(pool.root), ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.json(), { online: 3, missing: 0, foreign: 0, unreadable: 0, 'read-only': 0 });
});

test('under a read-only bind mount (ProtectSystem=strict), disks are still online', () => {
  if (!privileged('read-only bind mount')) return;
  const pool = makePool(openScratch(), 'pool', 3);
  const r = sh(`mount --bind ${pool.root} ${pool.root} && mount -o remount,bind,ro ${pool.root} && ${probe(pool.root)}`, ['unshare', '-m']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.json(), { online: 3, missing: 0, foreign: 0, unreadable: 0, 'read-only': 0 });
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
  assert.equal(r.json(), { online: 1, missing: 0, foreign: 0, unreadable: 0, 'read-only': 1 });
});

test.run();

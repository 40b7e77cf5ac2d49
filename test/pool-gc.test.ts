// dfs-pool gc: orphan shards (no manifest names their extent) and stale temp
// files move into their disk's DISK/.dynamicfs/quarantine, never deleted; young files (a put
// may be in flight) and referenced shards stay; --dry-run moves nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cli, diffFingerprints, fingerprintTree, scratchDir } from './helpers';
import { manifestFileName } from '../src/core/layout';

const EXTENT = 64 * 1024;

function dfsPool(args: string[]) {
  const r = cli('dfs-pool', args);
  assert.is(r.status, 0, `dfs-pool ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r;
}

function shardFiles(pool: string): string[] {
  const disks = path.join(pool, 'disks');
  return fs.readdirSync(disks).flatMap((d) => {
    const ext = path.join(disks, d, 'extents');
    return fs.readdirSync(ext).flatMap((fan) => fs.readdirSync(path.join(ext, fan)).map((f) => path.join(ext, fan, f)));
  });
}

function setup() {
  const dir = scratchDir('dfs-pool-gc-');
  const pool = path.join(dir, 'pool');
  dfsPool(['create', '--pool', pool, '--disks', '4', '--redundancy', 'rs:2+1', '--extent-size', '64K']);
  const keep = randomBytes(2 * EXTENT + 3);
  const lost = randomBytes(EXTENT + 9);
  fs.writeFileSync(path.join(dir, 'keep'), keep);
  fs.writeFileSync(path.join(dir, 'lost'), lost);
  dfsPool(['put', '--pool', pool, path.join(dir, 'keep'), 'keep']);
  const before = new Set(shardFiles(pool));
  dfsPool(['put', '--pool', pool, path.join(dir, 'lost'), 'lost']);
  const lostShards = shardFiles(pool).filter((f) => !before.has(f));
  assert.is(lostShards.length, 2 * 3);
  return { dir, pool, keep, lost, keepShards: [...before], lostShards };
}

/** Makes a file look older than it is (gc spares young files). */
function age(file: string, seconds: number) {
  const t = new Date(Date.now() - seconds * 1000);
  fs.utimesSync(file, t, t);
}

test('orphans and stale temp files: kept while young or with --dry-run, quarantined otherwise; referenced shards stay', () => {
  const env = setup();
  // A put that died before its manifest: shards and no manifest.
  for (const d of fs.readdirSync(path.join(env.pool, 'disks'))) fs.unlinkSync(path.join(env.pool, 'disks', d, 'objects', manifestFileName('lost')));
  // A temp file an interrupted write left in a fan-out directory.
  const fan = path.dirname(env.keepShards[0]);
  const temp = path.join(fan, `.tmp-99999-1-${path.basename(env.keepShards[0])}`);
  fs.writeFileSync(temp, 'half a shard');

  // Young: the default --min-age (1h) keeps everything.
  let before = fingerprintTree(env.pool, { exclude: (p) => p === '.dynamicfs' });
  const young = JSON.parse(dfsPool(['gc', '--pool', env.pool, '--json']).stdout).results as { path: string; result: string; kind: string }[];
  assert.ok(young.length >= 7, `candidates listed: ${JSON.stringify(young)}`);
  assert.ok(young.every((r) => r.result === 'kept'), 'young files are kept');
  assert.equal(diffFingerprints(before, fingerprintTree(env.pool, { exclude: (p) => p === '.dynamicfs' })), []);

  for (const f of [...env.lostShards, temp]) age(f, 2 * 3600);

  // --dry-run: lists, moves nothing.
  before = fingerprintTree(env.pool, { exclude: (p) => p === '.dynamicfs' });
  const dry = JSON.parse(dfsPool(['gc', '--pool', env.pool, '--dry-run', '--json']).stdout).results as { path: string; result: string; kind: string }[];
  assert.equal(
    dry.map((r) => r.path).sort(),
    [...env.lostShards, temp].sort(),
    'the candidates are the orphan shards and the temp file',
  );
  assert.ok(dry.every((r) => r.result === 'kept'));
  assert.equal(diffFingerprints(before, fingerprintTree(env.pool, { exclude: (p) => p === '.dynamicfs' })), []);

  // For real.
  const done = JSON.parse(dfsPool(['gc', '--pool', env.pool, '--json']).stdout).results as { path: string; result: string; kind: string; quarantine?: string }[];
  assert.equal(done.map((r) => r.path).sort(), [...env.lostShards, temp].sort());
  for (const r of done) {
    assert.is(r.result, 'quarantined', `${r.path}: ${JSON.stringify(r)}`);
    assert.is(r.kind, r.path === temp ? 'stale-temp-file' : 'orphan-shard');
    assert.not.ok(fs.existsSync(r.path), `${r.path} is gone from the disk`);
  }
  for (const f of [...env.lostShards, temp]) {
    // Moved into its own disk's quarantine (DISK/.dynamicfs/quarantine), not copied elsewhere.
    const disk = path.dirname(path.dirname(path.dirname(f)));
    const qdir = path.join(disk, '.dynamicfs', 'quarantine');
    const kept = fs.existsSync(qdir) ? fs.readdirSync(qdir).find((q) => q.endsWith(path.basename(f)) && fs.statSync(path.join(qdir, q)).isFile() && fs.statSync(path.join(qdir, q)).size > 0) : undefined;
    assert.ok(kept, `${path.basename(f)} is in its disk's quarantine ${qdir}`);
  }
  // What an object references is untouched, and still reads back.
  for (const f of env.keepShards) assert.ok(fs.existsSync(f), `${f} referenced by keep`);
  const out = path.join(env.dir, 'keep.out');
  dfsPool(['get', '--pool', env.pool, 'keep', out]);
  assert.ok(fs.readFileSync(out).equals(env.keep));

  // Nothing left to do.
  const again = JSON.parse(dfsPool(['gc', '--pool', env.pool, '--min-age', '0', '--json']).stdout).results;
  assert.equal(again, []);
  const text = dfsPool(['gc', '--pool', env.pool, '--min-age', '0']).stdout;
  assert.match(text, /0 of 0/);
});

test('gc refuses bad --min-age (16) and a pool locked by a live scrubber (8), changing nothing', () => {
  const env = setup();
  const before = fingerprintTree(env.dir);
  const bad = cli('dfs-pool', ['gc', '--pool', env.pool, '--min-age', 'soon']);
  assert.is(bad.status, 16, bad.stderr);
  assert.match(bad.stderr, /--min-age/);
  assert.equal(diffFingerprints(before, fingerprintTree(env.dir)), []);

  // The lock of a live process (this test's own PID) is respected.
  const lock = path.join(env.pool, '.dynamicfs', 'scrub.lock');
  fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, owner: 'pool-gc.test', since: new Date().toISOString() }) + '\n');
  const locked = cli('dfs-pool', ['gc', '--pool', env.pool, '--min-age', '0']);
  assert.is(locked.status, 8, locked.stderr);
  assert.ok(locked.stderr.includes(String(process.pid)), `names the holder: ${locked.stderr}`);
  assert.is(locked.stderr.trim().split('\n').length, 1);
  fs.unlinkSync(lock);
  assert.equal(diffFingerprints(before, fingerprintTree(env.dir)), []);
});

test('gc does not take the shards of an object whose manifests are damaged for orphans', () => {
  // Every copy of lost's manifest damaged: gc cannot know what it names, so
  // it must not move those shards (keep them, or refuse to run).
  const env = setup();
  for (const d of fs.readdirSync(path.join(env.pool, 'disks'))) {
    const m = path.join(env.pool, 'disks', d, 'objects', manifestFileName('lost'));
    fs.writeFileSync(m, fs.readFileSync(m, 'utf8').replace('"size":', '"size":1'));
  }
  for (const f of env.lostShards) age(f, 2 * 3600);
  const r = cli('dfs-pool', ['gc', '--pool', env.pool, '--min-age', '0', '--json']);
  assert.ok(r.status === 0 || r.status === 8, `exit ${r.status}: ${r.stderr}`);
  for (const f of env.lostShards) assert.ok(fs.existsSync(f), `gc moved ${path.basename(f)}, a shard of an object whose manifest it could not read`);
});

test.run();

// dfs-scrub against one damaged shard at a time, damaged by hand: every kind of
// damage DESIGN §2 names, and every odd file type where a shard belongs. For
// each: verify-only finds exactly that one problem (kind, extent, shard, disk,
// path) and changes nothing; --repair rebuilds it bit-identical, keeps the
// damaged file in quarantine with a note, writes an audit line; a second verify
// is clean; every object reads back as it was put.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fingerprintTree, diffFingerprints } from './helpers';
import {
  assertAudited,
  assertIssues,
  assertObjectsIntact,
  assertQuarantined,
  assertRestored,
  assertUnchanged,
  clonePool,
  Fixture,
  flipBit,
  makePool,
  poolPrint,
  quarantineNotes,
  scrubExpect,
  ShardFile,
  shardOf,
  summarize,
} from './scrub-fixtures.test';

const HEADER = 128;

let template: Fixture | undefined;
const fresh = (): Fixture => clonePool((template ??= makePool()));

type Kept = 'content' | 'symlink' | 'directory' | 'fifo' | 'device' | 'none';

interface Case {
  name: string;
  /** Which shard: object, extent number in the object, shard index. */
  at: [string, number, number];
  kind: string;
  kept: Kept;
  rootOnly?: boolean;
  /** Damages the shard by hand; may return a directory outside the pool that must stay untouched. */
  damage: (fx: Fixture, s: ShardFile) => string | void;
}

function mkfifo(p: string): void {
  const r = spawnSync('mkfifo', [p]);
  if (r.status !== 0) throw new Error(`mkfifo ${p}: ${r.stderr}`);
}

const cases: Case[] = [
  { name: 'payload bit flip (rs)', at: ['alpha', 0, 1], kind: 'checksum-mismatch', kept: 'content', damage: (_, s) => flipBit(s.path, HEADER + 1000, 3) },
  { name: 'payload bit flip (mirror)', at: ['beta', 0, 1], kind: 'checksum-mismatch', kept: 'content', damage: (_, s) => flipBit(s.path, HEADER + 5, 7) },
  { name: 'payload bit flip in the last byte', at: ['alpha', 2, 4], kind: 'checksum-mismatch', kept: 'content', damage: (_, s) => flipBit(s.path, fs.statSync(s.path).size - 1, 0) },
  { name: 'header bit flip (extent id field)', at: ['alpha', 1, 0], kind: 'header-damaged', kept: 'content', damage: (_, s) => flipBit(s.path, 50, 2) },
  { name: 'header bit flip (magic)', at: ['beta', 1, 0], kind: 'header-damaged', kept: 'content', damage: (_, s) => flipBit(s.path, 0, 1) },
  { name: 'header bit flip (payload length field)', at: ['alpha', 3, 2], kind: 'header-damaged', kept: 'content', damage: (_, s) => flipBit(s.path, 33, 0) },
  { name: 'truncated to zero', at: ['alpha', 2, 5], kind: 'truncated', kept: 'content', damage: (_, s) => fs.truncateSync(s.path, 0) },
  { name: 'truncated to half', at: ['alpha', 0, 3], kind: 'truncated', kept: 'content', damage: (_, s) => fs.truncateSync(s.path, Math.floor(fs.statSync(s.path).size / 2)) },
  { name: 'truncated inside the header', at: ['beta', 0, 0], kind: 'truncated', kept: 'content', damage: (_, s) => fs.truncateSync(s.path, 60) },
  { name: 'truncated by one byte (short last extent)', at: ['alpha', 3, 1], kind: 'truncated', kept: 'content', damage: (_, s) => fs.truncateSync(s.path, fs.statSync(s.path).size - 1) },
  { name: 'longer than its header says (bytes appended)', at: ['alpha', 1, 4], kind: 'oversized', kept: 'content', damage: (_, s) => fs.appendFileSync(s.path, Buffer.alloc(100, 0xab)) },
  { name: 'shard deleted', at: ['alpha', 2, 0], kind: 'missing-shard', kept: 'none', damage: (_, s) => fs.rmSync(s.path) },
  { name: 'mirror copy deleted', at: ['beta', 1, 1], kind: 'missing-shard', kept: 'none', damage: (_, s) => fs.rmSync(s.path) },
  {
    name: 'a valid shard of the same extent copied over another index',
    at: ['alpha', 0, 4],
    kind: 'wrong-index',
    kept: 'content',
    damage: (fx, s) => fs.copyFileSync(shardOf(fx, 'alpha', 0, 0).path, s.path),
  },
  {
    name: 'a valid shard of another extent copied into this name',
    at: ['alpha', 0, 2],
    kind: 'wrong-extent',
    kept: 'content',
    damage: (fx, s) => fs.copyFileSync(shardOf(fx, 'alpha', 1, 2).path, s.path),
  },
  {
    name: 'a valid copy of another mirror extent copied into this name',
    at: ['beta', 0, 1],
    kind: 'wrong-extent',
    kept: 'content',
    damage: (fx, s) => fs.copyFileSync(shardOf(fx, 'beta', 1, 1).path, s.path),
  },
  {
    name: 'a directory (with a file inside) where a shard belongs',
    at: ['alpha', 1, 3],
    kind: 'not-regular-file',
    kept: 'directory',
    damage: (_, s) => {
      fs.rmSync(s.path);
      fs.mkdirSync(s.path);
      fs.writeFileSync(path.join(s.path, 'inside'), 'keep me');
    },
  },
  {
    name: 'a FIFO where a shard belongs (never opened, never blocks)',
    at: ['alpha', 2, 1],
    kind: 'not-regular-file',
    kept: 'fifo',
    damage: (_, s) => {
      fs.rmSync(s.path);
      mkfifo(s.path);
    },
  },
  {
    name: 'a symlink to a valid copy of this very shard outside the pool (never followed)',
    at: ['alpha', 0, 5],
    kind: 'not-regular-file',
    kept: 'symlink',
    damage: (fx, s) => {
      const outside = path.join(fx.dir, 'outside');
      fs.mkdirSync(outside);
      fs.copyFileSync(s.path, path.join(outside, 'target-shard'));
      fs.rmSync(s.path);
      fs.symlinkSync(path.join(outside, 'target-shard'), s.path);
      return outside;
    },
  },
  {
    name: 'a symlink to a valid shard of the same extent on another disk (never followed)',
    at: ['alpha', 3, 0],
    kind: 'not-regular-file',
    kept: 'symlink',
    damage: (fx, s) => {
      fs.rmSync(s.path);
      fs.symlinkSync(shardOf(fx, 'alpha', 3, 1).path, s.path);
    },
  },
  {
    name: 'a symlink to /etc/passwd (never followed, target untouched)',
    at: ['alpha', 1, 1],
    kind: 'not-regular-file',
    kept: 'symlink',
    damage: (_, s) => {
      fs.rmSync(s.path);
      fs.symlinkSync('/etc/passwd', s.path);
    },
  },
  {
    name: 'a symlink to a FIFO outside the pool (never followed, never blocks)',
    at: ['beta', 1, 0],
    kind: 'not-regular-file',
    kept: 'symlink',
    damage: (fx, s) => {
      const outside = path.join(fx.dir, 'outside');
      fs.mkdirSync(outside);
      mkfifo(path.join(outside, 'fifo'));
      fs.rmSync(s.path);
      fs.symlinkSync(path.join(outside, 'fifo'), s.path);
      return outside;
    },
  },
  {
    name: 'a dangling symlink where a shard belongs',
    at: ['alpha', 2, 3],
    kind: 'not-regular-file',
    kept: 'symlink',
    damage: (_, s) => {
      fs.rmSync(s.path);
      fs.symlinkSync('/nonexistent/dfs-test-target', s.path);
    },
  },
  {
    name: 'a character device (mknod c 1 3, /dev/null) where a shard belongs',
    at: ['alpha', 3, 4],
    kind: 'not-regular-file',
    kept: 'device',
    rootOnly: true,
    damage: (_, s) => {
      fs.rmSync(s.path);
      const r = spawnSync('mknod', [s.path, 'c', '1', '3']);
      if (r.status !== 0) throw new Error(`mknod: ${r.stderr}`);
    },
  },
];

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

for (const c of cases) {
  test(`${c.name}: ${c.kind}, verify exit 4 and no change; repair exit 1, bit-identical; verify 0`, () => {
    if (c.rootOnly && !isRoot) {
      process.stderr.write(`\n*** SKIP: "${c.name}" needs root (mknod)\n`);
      return;
    }
    const fx = fresh();
    const s = shardOf(fx, ...c.at);
    const outside = c.damage(fx, s) || undefined;
    const passwdBefore = fingerprintTree('/etc', { exclude: (r) => r !== 'passwd' }).get('passwd');
    const outsideBefore = outside ? fingerprintTree(outside) : undefined;
    const damaged = fs.existsSync(s.path) && fs.lstatSync(s.path).isFile() ? fs.readFileSync(s.path) : undefined;
    const expected = { kind: c.kind, path: s.path, disk: s.disk, extent: s.extent, shard: s.index };

    // 1. Verify only: exactly this problem, and nothing on any disk changes.
    const before = poolPrint(fx.pool);
    const v = scrubExpect(fx.pool, [], 4, 'verify');
    const [f] = assertIssues(v, [expected], 'verify');
    assert.is(f.action, 'none', 'verify takes no action');
    assert.is(f.result, 'left');
    assert.is(f.health, 'degraded');
    assert.is(v.extents.degraded, 1, 'one degraded extent');
    assert.is(v.extents.unrecoverable, 0);
    assert.is(v.extents.healthy, v.extents.total - 1);
    assert.equal(v.info, [], `no info findings: ${summarize(v.info)}`);
    assertUnchanged(before, fx.pool, 'verify-only pass');
    assert.equal(quarantineNotes(fx.pool), [], 'verify quarantined something');

    // 2. Repair: rebuilt in place, bit-identical, damaged file kept, audited.
    const r = scrubExpect(fx.pool, ['--repair'], 1, 'repair');
    const [g] = assertIssues(r, [expected], 'repair');
    assert.is(g.result, 'repaired', `repair result: ${g.detail}`);
    assert.is(g.action, 'rebuilt');
    assert.equal(r.repairs, { attempted: 1, successful: 1 });
    assert.is(r.outcome, 'repaired');
    assertRestored(fx, s.path, 'repair');
    assertAudited(fx.pool, s.path, 'repair');
    if (c.kept === 'none') {
      assert.equal(quarantineNotes(fx.pool), [], 'nothing to quarantine for a missing file');
    } else {
      const q = assertQuarantined(fx.pool, s.path, 'repair', damaged);
      assert.is(g.quarantine && path.basename(g.quarantine), path.basename(q.file, '.json'), 'the finding names its quarantine entry');
      if (c.kept === 'directory') {
        assert.is(q.note.type, 'directory');
        const kept = path.join(path.dirname(q.file), String(q.note.content));
        assert.is(fs.readFileSync(path.join(kept, 'inside'), 'utf8'), 'keep me', 'the quarantined directory keeps its contents');
      }
      if (c.kept === 'symlink') assert.is(q.note.type, 'symlink');
      if (c.kept === 'fifo') assert.is(q.note.type, 'fifo');
      if (c.kept === 'device') assert.is(q.note.type, 'device');
    }

    // 3. Clean afterwards, and the data is the data.
    const after = scrubExpect(fx.pool, [], 0, 'verify after repair');
    assert.equal(after.issues, []);
    assert.is(after.extents.healthy, after.extents.total);
    assertObjectsIntact(fx, 'after repair');

    // Links were never followed: what they point to is as it was.
    if (outside) assert.equal(diffFingerprints(outsideBefore!, fingerprintTree(outside)), [], 'the symlink target outside the pool changed');
    assert.is(fingerprintTree('/etc', { exclude: (r) => r !== 'passwd' }).get('passwd'), passwdBefore, '/etc/passwd changed');
  });
}

test('the same shard damaged again after a repair is found and repaired again (quarantine keeps both)', () => {
  const fx = fresh();
  const s = shardOf(fx, 'alpha', 1, 5);
  flipBit(s.path, HEADER + 7);
  scrubExpect(fx.pool, ['--repair'], 1, 'first repair');
  fs.truncateSync(s.path, 10);
  const r = scrubExpect(fx.pool, ['--repair'], 1, 'second repair');
  assertIssues(r, [{ kind: 'truncated', path: s.path, disk: s.disk }], 'second repair');
  assertRestored(fx, s.path, 'second repair');
  assert.is(quarantineNotes(fx.pool).filter((n) => n.note.original === s.path).length, 2, 'both damaged versions are kept');
  scrubExpect(fx.pool, [], 0, 'verify');
});

test('two damaged shards of one rs:4+2 extent (M=2): degraded, both rebuilt', () => {
  const fx = fresh();
  const a = shardOf(fx, 'alpha', 2, 0);
  const b = shardOf(fx, 'alpha', 2, 5);
  fs.rmSync(a.path);
  flipBit(b.path, HEADER + 3);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  assertIssues(v, [
    { kind: 'missing-shard', path: a.path, disk: a.disk, shard: 0 },
    { kind: 'checksum-mismatch', path: b.path, disk: b.disk, shard: 5 },
  ], 'verify');
  assert.is(v.extents.degraded, 1);
  const r = scrubExpect(fx.pool, ['--repair'], 1, 'repair');
  assert.equal(r.repairs, { attempted: 2, successful: 2 });
  assertRestored(fx, a.path, 'repair');
  assertRestored(fx, b.path, 'repair');
  scrubExpect(fx.pool, [], 0, 'verify after');
  assertObjectsIntact(fx, 'after repair');
});

test('a sparse 3 GiB file where a 16 KiB shard belongs: oversized (not "unreadable"), found quickly', () => {
  const fx = fresh();
  const s = shardOf(fx, 'alpha', 1, 1);
  fs.truncateSync(s.path, 3 * 1024 ** 3); // sparse: no disk space used
  const t0 = Date.now();
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  const secs = (Date.now() - t0) / 1000;
  const [f] = v.issues;
  assert.is(v.issues.length, 1, summarize(v.issues));
  assert.is(f.path, s.path);
  assert.is(f.kind, 'oversized', `a file longer than its header says is "oversized" (DESIGN §2), not ${f.kind} (${f.detail}): the verifier reads the whole file into one buffer`);
  assert.ok(secs < 10, `verify took ${secs} s for one oversized file`);
});

test('repair of a sparse 256 MiB oversized file keeps it in quarantine without writing 256 MiB', () => {
  const fx = fresh();
  const s = shardOf(fx, 'beta', 0, 0);
  fs.truncateSync(s.path, 256 * 1024 ** 2);
  const r = scrubExpect(fx.pool, ['--repair'], 1, 'repair');
  assert.is(r.issues[0]?.kind, 'oversized');
  assertRestored(fx, s.path, 'repair');
  const q = assertQuarantined(fx.pool, s.path, 'repair');
  const kept = path.join(path.dirname(q.file), String(q.note.content));
  const allocated = fs.statSync(kept).blocks * 512;
  assert.ok(
    allocated < 32 * 1024 ** 2,
    `quarantining a sparse 256 MiB file allocated ${(allocated / 1024 ** 2).toFixed(0)} MiB in the quarantine: a huge bogus file can fill the pool's filesystem`,
  );
});

test.run();

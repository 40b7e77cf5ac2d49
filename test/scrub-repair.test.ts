// dfs-scrub against damage above the single shard, all done by hand: whole
// disks missing or labelled for another pool, manifest copies damaged (one or
// all), extents gone, too many shards lost to rebuild, orphans and stray files,
// odd directories in the layout. Checks what is reported (kind, disk, path),
// the exit codes with and without --repair, that a repair never makes anything
// worse (fingerprints), and that nothing outside the pool is ever written.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cli, diffFingerprints, fingerprintTree } from './helpers';
import {
  assertAudited,
  assertIssues,
  assertObjectsIntact,
  assertQuarantined,
  assertRestored,
  assertUnchanged,
  auditLines,
  clonePool,
  EXTENT,
  findIssue,
  Fixture,
  flipBit,
  makePool,
  manifestCopies,
  objectOf,
  poolPrint,
  quarantineNotes,
  scrub,
  scrubExpect,
  SCRUB_TIMEOUT_MS,
  shardOf,
  shardsOfExtent,
  summarize,
} from './scrub-fixtures.test';

const HEADER = 128;

let template6: Fixture | undefined;
const fresh = (): Fixture => clonePool((template6 ??= makePool()));

/** Shards of the fixture that sit on one disk. */
const onDisk = (fx: Fixture, disk: number) => fx.shards.filter((s) => s.disk === disk);

// ---------------------------------------------------------------------------
// Disks

test('whole disk missing (disk dir renamed), 6 disks, rs:4+2: disk-missing + degraded; --repair has no spare for rs:4+2 (exit 4, those shards untouched), rebuilds the mirror:2 copies elsewhere', () => {
  const fx = fresh();
  const lost = onDisk(fx, 3);
  const rsIds = new Set(objectOf(fx, 'alpha').extents);
  assert.ok(lost.some((s) => rsIds.has(s.extent)), 'disk 3 holds rs:4+2 shards');
  fs.renameSync(fx.disks[3], `${fx.disks[3]}.gone`);
  const expected = [
    { kind: 'disk-missing', path: fx.disks[3], disk: 3 },
    ...lost.map((s) => ({ kind: 'missing-shard', path: s.path, disk: 3, extent: s.extent, shard: s.index })),
  ];
  const before = poolPrint(fx.pool);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  assertIssues(v, expected, 'verify');
  assert.is(v.extents.degraded, new Set(lost.map((s) => s.extent)).size);
  assert.is(v.extents.unrecoverable, 0);
  assertUnchanged(before, fx.pool, 'verify');

  const r = scrubExpect(fx.pool, ['--repair'], 4, 'repair without a spare disk');
  const misnamed: string[] = [];
  for (const s of lost) {
    const hits = r.issues.filter((f) => f.kind === 'missing-shard' && f.extent === s.extent && f.shard === s.index);
    assert.is(hits.length, 1, `repair: one finding for shard ${s.index} of ${s.extent}: ${summarize(r.issues)}`);
    if (rsIds.has(s.extent)) {
      assert.is(hits[0].result, 'failed', 'rs:4+2 over 6 disks: no writable disk without a shard of this extent');
      // The finding still names the disk and file that are missing, as the verify pass did.
      if (hits[0].disk !== 3 || hits[0].path !== s.path) misnamed.push(`disk ${hits[0].disk} path ${hits[0].path}`);
    } else {
      assert.is(hits[0].result, 'repaired', 'a mirror:2 copy has 4 other disks to go to');
      assert.ok(fs.readFileSync(hits[0].path).equals(fx.original.get(s.path)!), 'the rebuilt mirror copy is bit-identical');
    }
  }
  // Nothing else changed: only new mirror copies and the audit log.
  const changes = diffFingerprints(before, poolPrint(fx.pool)).filter((d) => !/^added (\.dynamicfs\/audit\.log|disks\/d\d\/extents\/[0-9a-f]{2}(\/[0-9a-f]{64}\.\d)?) /.test(d));
  assert.equal(changes, [], 'the repair changed more than adding rebuilt copies');
  assertObjectsIntact(fx, 'degraded but readable');

  fs.renameSync(`${fx.disks[3]}.gone`, fx.disks[3]);
  scrubExpect(fx.pool, [], 0, 'verify with the disk back');
  assert.equal(misnamed, [], 'the --repair report must name missing disk 3 and the missing file for the shards it could not rebuild, as the verify report does');
});

test('whole disk missing, 7 disks, rs:4+2: --repair rebuilds onto the disk holding no shard of each extent; data bit-identical; disk back -> duplicates are info only', () => {
  const fx = clonePool(makePool({ disks: 7, objects: [{ name: 'alpha', size: 5 * EXTENT + 999 }] }));
  const lost = onDisk(fx, 3);
  assert.ok(lost.length > 0);
  fs.renameSync(fx.disks[3], `${fx.disks[3]}.gone`);
  scrubExpect(fx.pool, [], 4, 'verify');
  const r = scrubExpect(fx.pool, ['--repair'], 4, 'repair with a spare: exit 4 while the disk itself is still missing');
  // What is left is the missing disk only; every extent is healthy again.
  assert.equal(r.issues.filter((f) => f.result !== 'repaired').map((f) => f.kind), ['disk-missing']);
  assert.is(r.extents.degraded, 0);
  assert.is(r.extents.healthy, r.extents.total);
  assert.equal(r.repairs, { attempted: lost.length, successful: lost.length });
  for (const s of lost) {
    const f = r.issues.find((x) => x.kind === 'missing-shard' && x.extent === s.extent && x.shard === s.index)!;
    assert.ok(f, `a finding for shard ${s.index} of ${s.extent}`);
    assert.ok(f.disk !== 3 && f.disk! >= 0, 'rebuilt onto another disk');
    const others = shardsOfExtent(fx, s.extent).filter((o) => o !== s).map((o) => o.disk);
    assert.not.ok(others.includes(f.disk!), `rebuilt shard ${s.index} onto disk ${f.disk}, which already holds a shard of this extent`);
    assert.ok(fs.readFileSync(f.path).equals(fx.original.get(s.path)!), 'rebuilt shard bit-identical to the lost one');
    assertAudited(fx.pool, f.path, 'rebuild onto spare');
  }
  const again = scrubExpect(fx.pool, [], 4, 'verify: still a missing disk');
  assert.equal(again.issues.map((f) => f.kind), ['disk-missing']);
  assertObjectsIntact(fx, 'after rebuild onto spare');

  fs.renameSync(`${fx.disks[3]}.gone`, fx.disks[3]);
  const back = scrubExpect(fx.pool, [], 0, 'verify with the disk back');
  assert.is(back.info.filter((f) => f.kind === 'duplicate-shard').length, lost.length, `duplicates: ${summarize(back.info)}`);
  const before = poolPrint(fx.pool);
  scrubExpect(fx.pool, ['--repair'], 0, 'repair with duplicates only');
  assertUnchanged(before, fx.pool, 'duplicates are never deleted');
});

test('disk label of another pool: disk-foreign-label + its shards missing; --repair never writes to that disk', () => {
  const fx = fresh();
  const label = path.join(fx.disks[2], 'dynamicfs-disk.json');
  const orig = fs.readFileSync(label);
  const j = JSON.parse(orig.toString());
  j.pool = randomUUID();
  fs.writeFileSync(label, JSON.stringify(j));
  const lost = onDisk(fx, 2);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  assertIssues(
    v,
    [{ kind: 'disk-foreign-label', path: fx.disks[2], disk: 2 }, ...lost.map((s) => ({ kind: 'missing-shard', path: s.path, disk: 2 }))],
    'verify',
  );
  const foreignBefore = fingerprintTree(fx.disks[2]);
  const r = scrubExpect(fx.pool, ['--repair'], 4, 'repair');
  assert.equal(diffFingerprints(foreignBefore, fingerprintTree(fx.disks[2])), [], 'the repair wrote to a disk of another pool');
  assert.ok(r.issues.some((f) => f.kind === 'disk-foreign-label' && f.result === 'left'));
  for (const f of r.issues.filter((x) => x.result === 'repaired')) assert.ok(!f.path.startsWith(fx.disks[2] + path.sep), `repaired onto the foreign disk: ${f.path}`);
  fs.writeFileSync(label, orig);
  scrubExpect(fx.pool, [], 0, 'verify with the right label back');
});

test('a disk whose label is gone (an unmounted mount point): disk-missing; --repair never writes into that directory', () => {
  const fx = fresh();
  const label = path.join(fx.disks[1], 'dynamicfs-disk.json');
  const orig = fs.readFileSync(label);
  fs.rmSync(label);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  findIssue(v, { kind: 'disk-missing', path: fx.disks[1], disk: 1 }, 'verify');
  const dirBefore = fingerprintTree(fx.disks[1]);
  scrubExpect(fx.pool, ['--repair'], 4, 'repair');
  assert.equal(diffFingerprints(dirBefore, fingerprintTree(fx.disks[1])), [], 'the repair wrote into the directory of a disk without its label');
  fs.writeFileSync(label, orig);
});

test('a FIFO where a disk label belongs: the scrub does not block, reports the disk (exit 4)', () => {
  const fx = fresh();
  const label = path.join(fx.disks[4], 'dynamicfs-disk.json');
  const orig = fs.readFileSync(label);
  fs.rmSync(label);
  assert.is(spawnSync('mkfifo', [label]).status, 0);
  const r = scrub(fx.pool, [], 5_000);
  assert.ok(r.signal === null, `dfs-scrub blocked opening the FIFO at ${label} (killed after 5 s)`);
  assert.is(r.status, 4, `exit ${r.status}: ${r.stderr}`);
  const f = r.report!.issues.find((x) => x.disk === 4 && x.kind.startsWith('disk-'));
  assert.ok(f, `a disk-* issue for disk 4: ${summarize(r.report!.issues)}`);
  assert.ok(fs.lstatSync(label).isFIFO(), 'the FIFO is left alone');
  fs.rmSync(label);
  fs.writeFileSync(label, orig);
});

// ---------------------------------------------------------------------------
// Manifests

test('one manifest copy damaged: manifest-damaged (disk, path); --repair rewrites it bit-identical, quarantined, audited', () => {
  const fx = fresh();
  const copies = manifestCopies(fx.pool, 'alpha');
  const bad = copies[2];
  const disk = fx.disks.findIndex((d) => bad.startsWith(d + path.sep));
  flipBit(bad, 40, 1);
  const damaged = fs.readFileSync(bad);
  const before = poolPrint(fx.pool);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  assertIssues(v, [{ kind: 'manifest-damaged', path: bad, disk }], 'verify');
  assert.is(v.extents.healthy, v.extents.total, 'extents are unaffected');
  assertUnchanged(before, fx.pool, 'verify');
  const r = scrubExpect(fx.pool, ['--repair'], 1, 'repair');
  const [f] = assertIssues(r, [{ kind: 'manifest-damaged', path: bad, disk }], 'repair');
  assert.is(f.result, 'repaired');
  assertRestored(fx, bad, 'manifest repair');
  assertQuarantined(fx.pool, bad, 'manifest repair', damaged);
  assertAudited(fx.pool, bad, 'manifest repair');
  scrubExpect(fx.pool, [], 0, 'verify after');
  assertObjectsIntact(fx, 'after manifest repair');
});

test('one manifest copy deleted, another replaced by a FIFO: reported, never blocks, both rewritten', () => {
  const fx = fresh();
  const copies = manifestCopies(fx.pool, 'beta');
  const gone = copies[0];
  const fifo = copies[5];
  fs.rmSync(gone);
  fs.rmSync(fifo);
  assert.is(spawnSync('mkfifo', [fifo]).status, 0);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  assertIssues(
    v,
    [
      { kind: 'manifest-copy-missing', path: gone, disk: 0 },
      { kind: 'manifest-damaged', path: fifo, disk: 5 },
    ],
    'verify',
  );
  scrubExpect(fx.pool, ['--repair'], 1, 'repair');
  assertRestored(fx, gone, 'missing manifest copy');
  assertRestored(fx, fifo, 'FIFO manifest copy');
  scrubExpect(fx.pool, [], 0, 'verify after');
});

test('every manifest copy of an object damaged: manifest-unrecoverable, exit 4 with and without --repair, nothing deleted or changed', () => {
  const fx = fresh();
  const copies = manifestCopies(fx.pool, 'alpha');
  assert.is(copies.length, 6);
  copies.forEach((c, i) => flipBit(c, 30 + i, 2));
  const before = poolPrint(fx.pool);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  const bad = v.issues.filter((f) => f.kind === 'manifest-unrecoverable');
  assert.is(bad.length, 1, `one manifest-unrecoverable: ${summarize(v.issues)}`);
  assert.ok(copies.includes(bad[0].path), `names one of the copies: ${bad[0].path}`);
  assert.is(v.objects.unreadable, 1);
  assert.equal(v.issues.map((f) => f.kind), ['manifest-unrecoverable'], 'nothing else is wrong');
  assertUnchanged(before, fx.pool, 'verify');
  const counts = JSON.parse(fs.readFileSync(path.join(fx.pool, '.dynamicfs', 'pool-summary.json'), 'utf8'));
  assert.ok(counts.dropped && !counts.summary, 'status\'s saved counts dropped: they may count the object readable');
  const r = scrubExpect(fx.pool, ['--repair'], 4, 'repair');
  assert.equal(r.issues.map((f) => `${f.kind}/${f.result}`), ['manifest-unrecoverable/left']);
  assertUnchanged(before, fx.pool, 'a repair with an unrecoverable manifest (shards of its extents must all stay)');
  assert.equal(quarantineNotes(fx.pool), []);
  assert.equal(auditLines(fx.pool), []);
  assertObjectsIntact(fx, 'the other object', ['beta']);
});

// ---------------------------------------------------------------------------
// Extents beyond repair

test('a manifest naming an extent whose every shard is gone: extent-missing, unrecoverable, exit 4 with and without --repair, nothing changed', () => {
  const fx = fresh();
  const id = objectOf(fx, 'alpha').extents[1];
  for (const s of shardsOfExtent(fx, id)) fs.rmSync(s.path);
  const before = poolPrint(fx.pool);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  const f = v.issues.filter((x) => x.kind === 'extent-missing');
  assert.is(f.length, 1, `one extent-missing: ${summarize(v.issues)}`);
  assert.is(f[0].extent, id);
  assert.is(f[0].health, 'unrecoverable');
  assert.type(f[0].path, 'string');
  assert.is(v.extents.unrecoverable, 1);
  assert.is(v.extents.healthy, v.extents.total - 1);
  assert.equal(v.issues.map((x) => x.kind), ['extent-missing'], 'one finding for the extent, not six');
  const r = scrubExpect(fx.pool, ['--repair'], 4, 'repair');
  assert.equal(r.repairs, { attempted: 0, successful: 0 });
  assertUnchanged(before, fx.pool, 'repair of an unrecoverable extent');
  const get = cli('dfs-pool', ['get', 'alpha', path.join(fx.dir, 'out'), '--pool', fx.pool]);
  assert.is(get.status, 4, `get of the object with a lost extent: ${get.stderr}`);
  assertObjectsIntact(fx, 'the other object', ['beta']);
});

test('rs:4+2 with 3 shards of one extent lost or damaged: unrecoverable, exit 4 with and without --repair, that extent untouched', () => {
  const fx = fresh();
  const id = objectOf(fx, 'alpha').extents[2];
  const [s0, s1, s2] = [shardOf(fx, 'alpha', 2, 0), shardOf(fx, 'alpha', 2, 3), shardOf(fx, 'alpha', 2, 5)];
  fs.rmSync(s0.path);
  fs.rmSync(s1.path);
  flipBit(s2.path, HEADER + 99);
  // Plus one repairable shard elsewhere, so the repair pass has work to do.
  const other = shardOf(fx, 'alpha', 0, 1);
  flipBit(other.path, HEADER + 5);
  const expected = [
    { kind: 'missing-shard', path: s0.path, disk: s0.disk, extent: id, shard: 0 },
    { kind: 'missing-shard', path: s1.path, disk: s1.disk, extent: id, shard: 3 },
    { kind: 'checksum-mismatch', path: s2.path, disk: s2.disk, extent: id, shard: 5 },
    { kind: 'checksum-mismatch', path: other.path, disk: other.disk },
  ];
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  const found = assertIssues(v, expected, 'verify');
  for (const f of found.slice(0, 3)) assert.is(f.health, 'unrecoverable');
  assert.is(v.extents.unrecoverable, 1);
  assert.is(v.extents.degraded, 1);
  // Everything but the state directories (the pool's, and each disk's quarantine) and the one repairable shard must stay as it is.
  const keep = (rel: string) => rel.startsWith('.dynamicfs') || /^disks\/d\d+\/\.dynamicfs(\/|$)/.test(rel) || rel === path.relative(fx.pool, other.path);
  const extentBefore = fingerprintTree(fx.pool, { exclude: keep });
  const r = scrubExpect(fx.pool, ['--repair'], 4, 'repair');
  const rf = assertIssues(r, expected, 'repair');
  for (const f of rf.slice(0, 3)) assert.is(f.result, 'left', `${f.kind} of the unrecoverable extent: ${f.result}`);
  assert.is(rf[3].result, 'repaired');
  assert.equal(diffFingerprints(extentBefore, fingerprintTree(fx.pool, { exclude: keep })), [], 'the repair touched the unrecoverable extent (or something else)');
  assert.not.ok(quarantineNotes(fx.pool).some((n) => n.note.extent === id), 'a shard of the unrecoverable extent was quarantined');
  assertRestored(fx, other.path, 'the repairable shard');
  scrubExpect(fx.pool, [], 4, 'verify: still unrecoverable');
});

// ---------------------------------------------------------------------------
// Info only: orphans and stray files

test('orphan shards (an object whose manifests were deleted by hand): info only, exit 0 verify and repair, nothing changed', () => {
  const fx = clonePool(
    makePool({
      objects: [
        { name: 'alpha', size: 2 * EXTENT },
        { name: 'gone', size: EXTENT + 5 },
      ],
    }),
  );
  const ids = objectOf(fx, 'gone').extents;
  for (const c of manifestCopies(fx.pool, 'gone')) fs.rmSync(c);
  const orphans = fx.shards.filter((s) => ids.includes(s.extent));
  const before = poolPrint(fx.pool);
  const v = scrubExpect(fx.pool, [], 0, 'verify');
  assert.equal(v.issues, []);
  const info = v.info.filter((f) => f.kind === 'orphan-shard');
  assert.equal(info.map((f) => f.path).sort(), orphans.map((s) => s.path).sort(), `orphan info: ${summarize(v.info)}`);
  for (const f of info) {
    const s = orphans.find((o) => o.path === f.path)!;
    assert.is(f.disk, s.disk);
    assert.is(f.extent, s.extent);
  }
  assert.is(v.extents.orphaned, ids.length);
  assert.is(v.extents.total, 2, 'orphans are not counted as extents of the pool');
  assertUnchanged(before, fx.pool, 'verify');
  scrubExpect(fx.pool, ['--repair'], 0, 'repair');
  assertUnchanged(before, fx.pool, 'repair never deletes orphans');
});

test('stray files (unparseable names, wrong fan-out, stale temp file, odd directory): info only, exit 0, never touched', () => {
  const fx = fresh();
  const s = shardOf(fx, 'alpha', 0, 0);
  const fan = path.dirname(s.path);
  const extents = path.dirname(fan);
  const strays = [
    path.join(fan, 'notes.txt'),
    path.join(fan, s.extent.toUpperCase() + '.0'),
    path.join(fan, `${s.extent}.0.bak`),
    path.join(fan, `${s.extent}.01`),
    path.join(fan, '.tmp-12345-1-' + path.basename(s.path)),
    path.join(extents, 'README'),
    path.join(extents, 'zz'),
  ];
  for (const p of strays.slice(0, 6)) fs.writeFileSync(p, 'stray');
  fs.mkdirSync(strays[6]);
  // A valid copy of a shard in the wrong fan-out directory: stray, and never counted as the shard.
  const wrongFan = path.join(extents, s.extent.slice(0, 2) === 'ff' ? 'fe' : 'ff');
  fs.mkdirSync(wrongFan, { recursive: true });
  fs.copyFileSync(s.path, path.join(wrongFan, path.basename(s.path)));
  strays.push(path.join(wrongFan, path.basename(s.path)));
  const before = poolPrint(fx.pool);
  const v = scrubExpect(fx.pool, [], 0, 'verify');
  assert.equal(v.issues, []);
  const reported = v.info.map((f) => f.path);
  for (const p of strays) assert.ok(reported.includes(p), `stray ${p} not reported; info:\n    ${summarize(v.info)}`);
  for (const f of v.info) {
    assert.ok(['stray-file', 'stale-temp-file'].includes(f.kind), `info kind ${f.kind}`);
    assert.is(f.disk, s.disk);
  }
  assert.is(v.info.find((f) => f.path === strays[4])?.kind, 'stale-temp-file');
  assertUnchanged(before, fx.pool, 'verify');
  scrubExpect(fx.pool, ['--repair'], 0, 'repair');
  assertUnchanged(before, fx.pool, 'repair never deletes stray files');
});

test('a file named as a shard index the scheme does not have (.7 of rs:4+2): index-out-of-range; repair moves it to quarantine', () => {
  const fx = fresh();
  const s = shardOf(fx, 'alpha', 1, 2);
  const extra = s.path.replace(/\.2$/, '.7');
  fs.copyFileSync(s.path, extra);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  assertIssues(v, [{ kind: 'index-out-of-range', path: extra, disk: s.disk, shard: 7 }], 'verify');
  const r = scrubExpect(fx.pool, ['--repair'], 1, 'repair');
  assert.is(r.issues[0].result, 'repaired');
  assert.not.ok(fs.existsSync(extra));
  assertQuarantined(fx.pool, extra, 'out of range', fx.original.get(s.path));
  scrubExpect(fx.pool, [], 0, 'verify after');
});

test('a directory named as an out-of-range shard index: moved to quarantine and reported as repaired (not "failed")', () => {
  const fx = fresh();
  const s = shardOf(fx, 'alpha', 1, 2);
  const extra = s.path.replace(/\.2$/, '.9');
  fs.mkdirSync(extra);
  scrubExpect(fx.pool, [], 4, 'verify');
  const r = scrub(fx.pool, ['--repair']);
  const f = r.report!.issues.find((x) => x.path === extra)!;
  assert.ok(f, summarize(r.report!.issues));
  assert.not.ok(fs.existsSync(extra), 'the directory was moved away');
  assertQuarantined(fx.pool, extra, 'directory out of range');
  assert.is(f.result, 'repaired', `the directory is in quarantine, yet the finding says ${f.result}: ${f.detail}`);
  assert.is(r.status, 1, 'exit 1: problem found and repaired');
  assertAudited(fx.pool, extra, 'directory out of range');
});

// ---------------------------------------------------------------------------
// Links in the layout itself

test('a fan-out directory replaced by a symlink to a directory outside the pool: --repair never writes through it', () => {
  const fx = fresh();
  const s = shardOf(fx, 'alpha', 0, 0);
  const fan = path.dirname(s.path);
  const outside = path.join(fx.dir, 'outside');
  fs.mkdirSync(outside);
  const aside = path.join(fx.dir, 'fan-aside');
  fs.renameSync(fan, aside);
  fs.symlinkSync(outside, fan);
  const v = scrubExpect(fx.pool, [], 4, 'verify');
  assert.ok(v.info.some((f) => f.path === fan), `the link is reported: ${summarize(v.info)}`);
  const outsideBefore = fingerprintTree(outside);
  const r = scrub(fx.pool, ['--repair']);
  assert.ok(r.signal === null);
  assert.equal(diffFingerprints(outsideBefore, fingerprintTree(outside)), [], `the repair wrote outside the pool through the symlink ${fan} -> ${outside}`);
  assert.ok(fs.lstatSync(fan).isSymbolicLink(), 'the link itself is left in place');
  // A repair that "succeeds" by writing where no scrub can see it would loop forever: the next verify must agree with it.
  const again = scrub(fx.pool, []);
  if (r.status === 1) assert.is(again.status, 0, `repair said exit 1 (all repaired) but the next verify says ${again.status}: ${summarize(again.report?.issues ?? [])}`);
});

test('a disk whose extents/ directory is a symlink out of the disk: not followed (reported, not read as the disk\'s shards)', () => {
  const fx = fresh();
  const ext = path.join(fx.disks[1], 'extents');
  const outside = path.join(fx.dir, 'outside-extents');
  fs.renameSync(ext, outside);
  fs.symlinkSync(outside, ext);
  const outsideBefore = fingerprintTree(outside);
  const v = scrub(fx.pool, []);
  assert.ok(v.signal === null);
  assert.ok(
    v.status !== 0,
    `a symlinked ${ext} -> ${outside} was followed: the scrub read ${onDisk(fx, 1).length} shards from outside the disk and called the pool clean`,
  );
  scrub(fx.pool, ['--repair']);
  assert.equal(diffFingerprints(outsideBefore, fingerprintTree(outside)), [], 'the repair wrote through the symlinked extents directory');
});

test('a disk whose objects/ directory is a symlink out of the disk: --repair never writes manifests through it', () => {
  const fx = fresh();
  const objs = path.join(fx.disks[0], 'objects');
  const outside = path.join(fx.dir, 'outside-objects');
  fs.renameSync(objs, outside);
  fs.symlinkSync(outside, objs);
  for (const f of fs.readdirSync(outside)) flipBit(path.join(outside, f), 20);
  const outsideBefore = fingerprintTree(outside);
  scrub(fx.pool, []);
  scrub(fx.pool, ['--repair']);
  assert.equal(diffFingerprints(outsideBefore, fingerprintTree(outside)), [], `the repair wrote manifests through the symlink ${objs} -> ${outside}`);
});

// ---------------------------------------------------------------------------
// Healthy pools, badly damaged pools

test('a --repair pass over a healthy pool changes no shard, manifest, quarantine or audit log (exit 0)', () => {
  const fx = fresh();
  const before = poolPrint(fx.pool);
  const r = scrubExpect(fx.pool, ['--repair'], 0, 'repair of a healthy pool');
  assert.equal(r.issues, []);
  assert.equal(r.repairs, { attempted: 0, successful: 0 });
  assertUnchanged(before, fx.pool, 'repair of a healthy pool');
  assert.not.ok(fs.existsSync(path.join(fx.pool, '.dynamicfs', 'scrub.lock')), 'lock released');
});

test('without --repair nothing on any disk or in quarantine changes, on a badly damaged pool', () => {
  const fx = fresh();
  // One of everything at once.
  flipBit(shardOf(fx, 'alpha', 0, 0).path, HEADER + 10);
  flipBit(shardOf(fx, 'alpha', 0, 1).path, 20);
  fs.truncateSync(shardOf(fx, 'alpha', 1, 0).path, 0);
  fs.appendFileSync(shardOf(fx, 'alpha', 1, 1).path, 'x');
  const fifo = shardOf(fx, 'alpha', 2, 0).path;
  fs.rmSync(fifo);
  spawnSync('mkfifo', [fifo]);
  const link = shardOf(fx, 'alpha', 2, 1).path;
  fs.rmSync(link);
  fs.symlinkSync('/etc/passwd', link);
  const dir = shardOf(fx, 'alpha', 3, 0).path;
  fs.rmSync(dir);
  fs.mkdirSync(dir);
  for (const i of [1, 2, 3]) fs.rmSync(shardOf(fx, 'alpha', 3, i).path); // unrecoverable
  fs.copyFileSync(shardOf(fx, 'beta', 1, 0).path, shardOf(fx, 'beta', 0, 0).path);
  flipBit(manifestCopies(fx.pool, 'beta')[1], 25);
  fs.writeFileSync(path.join(path.dirname(shardOf(fx, 'beta', 1, 1).path), 'stray'), 'x');
  // A quarantine from an earlier repair, which a verify must not touch either.
  const q = path.join(fx.pool, '.dynamicfs', 'quarantine');
  fs.mkdirSync(q, { recursive: true });
  fs.writeFileSync(path.join(q, 'earlier'), 'kept');
  fs.writeFileSync(path.join(fx.pool, '.dynamicfs', 'audit.log'), '{"earlier":true}\n');

  const before = poolPrint(fx.pool);
  for (const args of [[], ['--intensity', 'low'], ['--intensity', 'max'], ['--verbose']]) {
    const v = scrubExpect(fx.pool, args, 4, `verify ${args.join(' ')}`);
    assert.ok(v.issues.length >= 11, summarize(v.issues));
    assert.is(v.extents.unrecoverable, 1);
    assertUnchanged(before, fx.pool, `verify-only pass ${args.join(' ')}`);
  }
  // The text output too.
  const t = cli('dfs-scrub', ['--pool', fx.pool], { timeout: SCRUB_TIMEOUT_MS });
  assert.is(t.status, 4);
  assertUnchanged(before, fx.pool, 'verify-only pass (text output)');
  // Then a repair does what it can, and nothing it cannot.
  const r = scrubExpect(fx.pool, ['--repair'], 4, 'repair');
  assert.ok(r.repairs.successful >= 8, `repairs: ${JSON.stringify(r.repairs)}\n    ${summarize(r.issues)}`);
  assert.equal(r.issues.filter((f) => f.result === 'failed'), [], 'no repair failed');
  for (const s of [shardOf(fx, 'alpha', 0, 0), shardOf(fx, 'alpha', 2, 0), shardOf(fx, 'alpha', 2, 1), shardOf(fx, 'beta', 0, 0)]) assertRestored(fx, s.path, 'repair');
  assertObjectsIntact(fx, 'after repair', ['beta']);
  const after = scrubExpect(fx.pool, [], 4, 'verify after repair: the unrecoverable extent is left');
  assert.ok(after.issues.every((f) => f.extent === objectOf(fx, 'alpha').extents[3]), summarize(after.issues));
});

test.run();

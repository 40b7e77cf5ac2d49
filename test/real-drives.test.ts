// Pools over real filesystems: every disk is its own ext4, xfs or btrfs on a
// loop device (test/loop-drives.ts). Rot written beneath the filesystem (ext4
// and xfs hand it back silently, btrfs answers EIO), a drive that vanishes
// (its mount point left as an empty directory), a read-only remount, a full
// drive (ENOSPC), mount points swapped, a cloned drive, and a dead drive
// replaced by a blank one. After each, every object reads back bit-identical.
// Light and known-problem passes, and a copy of pool.json naming the drives,
// run over the same mount points. Last, README.md's replace-disk drill (the ```bash block after the line
// `<!-- drill: replace-disk -->`) is run verbatim, in a private mount
// namespace where /srv/pool and /mnt/disk0..5 are the pool and its drives and
// /dev/sdX is a blank loop device; test/readme.test.ts skips that block.
//
// Needs root (CI is root): without it each test prints a SKIP line, and under
// CI=true fails instead.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Finding } from '../src/scrub/finding';
import { manifestFileName } from '../src/core/layout';
import { manifestFingerprint } from '../src/core/manifest-fingerprint';
import { openPool } from '../src/core/pool';
import { cli, cliAsync, collect, type CliResult, diffFingerprints, fingerprintTree, repoRoot, requireTool, scratchDir } from './helpers';
import {
  attachBlank,
  canUseLoopDevices,
  cleanupDrives,
  cloneDrive,
  detachDrive,
  type Drive,
  dropCaches,
  fillDrive,
  type FsType,
  makeDrive,
  mountDriveAt,
  privateMountNamespace,
  remountDrive,
  residentBytes,
  rotBeneath,
  unfillDrive,
  unmountDrive,
} from './loop-drives';

const HEADER = 128;
const ROT_AT = 4096; // inside the payload of every shard we pick
const MIXED: FsType[] = ['ext4', 'xfs', 'btrfs', 'ext4', 'xfs', 'btrfs'];

// ---------------------------------------------------------------------------
// A pool over six drives

interface Obj {
  name: string;
  scheme: string;
  size: number;
  sha256: string;
  file: string;
}

interface Rig {
  dir: string;
  pool: string;
  /** drives[i] is pool disk i as created (a test may move or replace it). */
  drives: Drive[];
  objects: Obj[];
}

const OBJECTS = [
  { name: 'rs-small', scheme: 'rs:4+2', size: 1024 * 1024 + 4097 },
  { name: 'rs-large', scheme: 'rs:4+2', size: 3 * 1024 * 1024 - 5 },
  { name: 'mirror-small', scheme: 'mirror:2', size: 1536 * 1024 + 333 },
  { name: 'mirror-large', scheme: 'mirror:2', size: 2 * 1024 * 1024 + 1 },
];

const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

function tail(s: string, n = 1500): string {
  return s.length > n ? `...${s.slice(-n)}` : s;
}

function expectExit(r: CliResult, codes: number | number[], what: string): void {
  const want = Array.isArray(codes) ? codes : [codes];
  assert.ok(
    r.status !== null && want.includes(r.status),
    `${what}: exit ${r.status ?? r.signal}, expected ${want.join(' or ')}\nstderr: ${tail(r.stderr)}\nstdout: ${tail(r.stdout)}`,
  );
}

function pool(rig: Rig, args: string[], codes: number | number[], what: string): CliResult {
  const [verb, ...rest] = args;
  const r = cli('dfs-pool', [verb, '--pool', rig.pool, ...rest]);
  expectExit(r, codes, what);
  return r;
}

function makeRig(types: FsType[] = MIXED, extentSize = '256K'): Rig {
  const dir = scratchDir('dfs-real-drives-');
  const mnt = path.join(dir, 'mnt');
  const drives = types.map((t, i) => makeDrive(mnt, `d${i}-${t}`, t));
  const rig: Rig = { dir, pool: path.join(dir, 'pool'), drives, objects: [] };
  pool(rig, ['create', ...drives.flatMap((d) => ['--disk', d.mountPoint]), '--redundancy', 'rs:4+2', '--extent-size', extentSize], 0, 'create');
  fs.mkdirSync(path.join(dir, 'in'));
  for (const o of OBJECTS) {
    const data = randomBytes(o.size);
    const file = path.join(dir, 'in', o.name);
    fs.writeFileSync(file, data);
    pool(rig, ['put', file, o.name, ...(o.scheme === 'rs:4+2' ? [] : ['--redundancy', o.scheme])], 0, `put ${o.name}`);
    rig.objects.push({ ...o, sha256: sha256(data), file });
  }
  return rig;
}

/** Every object reads back bit-identical with `dfs-pool get NAME OUT`. */
function assertObjectsIntact(rig: Rig, what: string): void {
  const outDir = path.join(rig.dir, 'out');
  fs.mkdirSync(outDir, { recursive: true });
  for (const o of rig.objects) {
    const out = path.join(outDir, o.name);
    fs.rmSync(out, { force: true });
    pool(rig, ['get', o.name, out], 0, `${what}: get ${o.name}`);
    assert.is(sha256(fs.readFileSync(out)), o.sha256, `${what}: ${o.name} read back differs from what was put`);
    fs.rmSync(out);
  }
}

// ---------------------------------------------------------------------------
// Scrub reports


interface Report {
  exitCode: number;
  extents: { total: number; healthy: number; degraded: number; unrecoverable: number };
  repairs: { attempted: number; successful: number };
  issues: Finding[];
  info: Finding[];
}

const summarize = (fs_: Finding[]) => fs_.map((f) => `${f.kind}${f.result ? `/${f.result}` : ''} ${f.path}${f.detail ? ` (${f.detail})` : ''}`).join('\n  ') || '(none)';

interface ScrubRun {
  r: CliResult;
  report: Report;
}

function scrubRun(rig: Rig, extra: string[], codes: number | number[], what: string): ScrubRun {
  const r = cli('dfs-scrub', ['--pool', rig.pool, '--json', ...extra]);
  let report: Report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    assert.unreachable(`${what}: dfs-scrub printed no JSON (exit ${r.status})\nstderr: ${tail(r.stderr)}\nstdout: ${tail(r.stdout)}`);
    throw new Error('unreachable');
  }
  const want = Array.isArray(codes) ? codes : [codes];
  assert.ok(
    r.status !== null && want.includes(r.status),
    `${what}: dfs-scrub ${extra.join(' ')} exit ${r.status ?? r.signal}, expected ${want.join(' or ')}; issues:\n  ${summarize(report.issues ?? [])}\nstderr: ${tail(r.stderr)}`,
  );
  return { r, report };
}

const scrub = (rig: Rig, extra: string[], codes: number | number[], what: string): Report => scrubRun(rig, extra, codes, what).report;

function findingFor(report: Report, file: string, what: string): Finding {
  const f = report.issues.find((x) => x.path === file);
  assert.ok(f, `${what}: no finding for ${file}; issues:\n  ${summarize(report.issues)}`);
  return f!;
}

// ---------------------------------------------------------------------------
// Shards and disks

interface ShardFile {
  disk: number;
  extent: string;
  index: number;
  path: string;
  size: number;
}

function shardsUnder(root: string, disk: number): ShardFile[] {
  const out: ShardFile[] = [];
  const ext = path.join(root, 'extents');
  if (!fs.existsSync(ext)) return out;
  for (const xx of fs.readdirSync(ext).sort()) {
    const sub = path.join(ext, xx);
    if (!fs.lstatSync(sub).isDirectory()) continue;
    for (const name of fs.readdirSync(sub).sort()) {
      const m = name.match(/^([0-9a-f]{64})\.(\d+)$/);
      if (!m) continue;
      const p = path.join(sub, name);
      out.push({ disk, extent: m[1], index: Number(m[2]), path: p, size: fs.lstatSync(p).size });
    }
  }
  return out;
}

/** A shard of an rs:4+2 extent (one shard on each of the six disks) on `disk`, big enough to rot at ROT_AT. */
function rsShardOn(rig: Rig, disk: number): ShardFile {
  const all = rig.drives.flatMap((d, i) => (d.mounted ? shardsUnder(d.mountPoint, i) : []));
  const count = new Map<string, number>();
  for (const s of all) count.set(s.extent, (count.get(s.extent) ?? 0) + 1);
  const pick = all.find((s) => s.disk === disk && count.get(s.extent) === 6 && s.size >= HEADER + ROT_AT + 4096);
  assert.ok(pick, `no rs:4+2 shard of more than ${ROT_AT + 4096} bytes on disk ${disk}`);
  return pick!;
}

function poolQuarantine(rig: Rig): string[] {
  const q = path.join(rig.pool, '.dynamicfs', 'quarantine');
  return fs.existsSync(q) ? fs.readdirSync(q).sort() : [];
}

/**
 * The damaged file was renamed into its own disk's .dynamicfs/quarantine/:
 * an entry there with a JSON note beside it whose `original` is the shard's
 * path, and the entry is the very inode that was damaged (a rename, not a copy).
 */
function assertQuarantinedOnOwnDisk(diskRoot: string, original: string, ino: number, what: string): void {
  const q = path.join(diskRoot, '.dynamicfs', 'quarantine');
  assert.ok(fs.existsSync(q), `${what}: the damaged file's own disk has no ${q}`);
  const names = fs.readdirSync(q);
  const notes = names.filter((n) => n.endsWith('.json'));
  let found: { note: string; entry: string } | undefined;
  for (const n of notes) {
    let j: { original?: string; content?: string };
    try {
      j = JSON.parse(fs.readFileSync(path.join(q, n), 'utf8'));
    } catch {
      continue;
    }
    if (j.original !== original) continue;
    const candidates = [n.slice(0, -'.json'.length), ...(typeof j.content === 'string' ? [path.basename(j.content)] : [])];
    const entry = candidates.find((c) => names.includes(c));
    assert.ok(entry, `${what}: note ${n} in ${q} has no entry beside it (${names.join(', ')})`);
    found = { note: n, entry: entry! };
  }
  assert.ok(found, `${what}: no note with original=${original} in ${q} (${names.join(', ') || 'empty'})`);
  const st = fs.lstatSync(path.join(q, found!.entry));
  assert.is(st.ino, ino, `${what}: the quarantined entry is not the damaged file itself (renamed), but a new inode`);
}

interface StatusDisk {
  id: string;
  index: number;
  path: string;
  state: string;
  detail?: string;
}

function status(rig: Rig, what: string): { disks: StatusDisk[] } {
  const r = pool(rig, ['status', '--json'], 0, `${what}: status`);
  return JSON.parse(r.stdout);
}

function diskState(rig: Rig, index: number, what: string): StatusDisk {
  const s = status(rig, what);
  const d = s.disks.find((x) => x.index === index);
  assert.ok(d, `${what}: status has no disk ${index}`);
  return d!;
}

const labelId = (diskRoot: string): string => JSON.parse(fs.readFileSync(path.join(diskRoot, 'dynamicfs-disk.json'), 'utf8')).disk;

function walkFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

const tmpFiles = (root: string) => walkFiles(root).filter((p) => /\.tmp/.test(path.basename(p)));

// Each test takes its drives down again, passed or failed; and once more at the
// end of the file (the exit and signal handlers of loop-drives are the last resort).
// The yield lets a pending signal (the runner's timeout) act between tests:
// synchronous tests alone never give Node's event loop a turn to run handlers.
test.after.each(async () => {
  cleanupDrives();
  await new Promise((resolve) => setImmediate(resolve));
});
test.after(() => cleanupDrives());

// ---------------------------------------------------------------------------
// 1-3: rot beneath the filesystem

function rotBeneathScenario(fsType: FsType, disk: number): void {
  const rig = makeRig();
  const drive = rig.drives[disk];
  assert.is(drive.fs, fsType);
  const shard = rsShardOn(rig, disk);
  const ino = fs.statSync(shard.path).ino;
  rotBeneath(drive, shard.path, ROT_AT, 16);

  const v = scrub(rig, [], 4, `verify after rot beneath ${fsType}`);
  const f = findingFor(v, shard.path, 'verify');
  if (fsType === 'btrfs') {
    assert.is(f.kind, 'unreadable', `btrfs answers EIO: the finding's kind should be unreadable: ${summarize([f])}`);
    assert.match(f.detail ?? '', /EIO/, `the detail names the errno: ${f.detail}`);
    assert.match(f.detail ?? '', /offset/, `the detail names the offset of the failed read: ${f.detail}`);
  } else {
    assert.is(f.kind, 'checksum-mismatch', `rot on ${fsType} comes back silently: ${summarize([f])}`);
  }

  const poolQBefore = poolQuarantine(rig);
  const r = scrub(rig, ['--repair'], 1, `repair after rot beneath ${fsType}`);
  assert.ok(r.repairs.attempted >= 1, 'a repair was attempted');
  assert.is(r.repairs.successful, r.repairs.attempted, `every repair succeeded: ${summarize(r.issues)}`);
  assert.is(findingFor(r, shard.path, 'repair').result, 'repaired');
  scrub(rig, [], 0, `verify after repair on ${fsType}`);
  assertObjectsIntact(rig, `after repair on ${fsType}`);

  assertQuarantinedOnOwnDisk(drive.mountPoint, shard.path, ino, `quarantine on ${fsType}`);
  assert.equal(poolQuarantine(rig), poolQBefore, 'nothing is added to the pool directory\'s quarantine: damaged files stay on their own disk');
}

test('1. rot beneath ext4: checksum-mismatch (exit 4); --repair rebuilds (exit 1), quarantines on the ext4 disk itself; then clean', () => {
  if (!canUseLoopDevices('rot beneath ext4')) return;
  rotBeneathScenario('ext4', 0);
});

test('2. rot beneath xfs: checksum-mismatch (exit 4); --repair rebuilds (exit 1), quarantines on the xfs disk itself; then clean', () => {
  if (!canUseLoopDevices('rot beneath xfs')) return;
  rotBeneathScenario('xfs', 1);
});

test('3. rot beneath btrfs: EIO -> unreadable with errno and offset (exit 4); --repair rebuilds (exit 1), quarantines on the btrfs disk itself; then clean', () => {
  if (!canUseLoopDevices('rot beneath btrfs')) return;
  rotBeneathScenario('btrfs', 2);
});

// ---------------------------------------------------------------------------
// 4: a drive vanishes

test('4. a drive vanishes (unmounted): missing; --repair exits 4 and writes nothing into the empty mount point; objects read degraded; mounted back -> clean', () => {
  if (!canUseLoopDevices('a drive vanishes')) return;
  const rig = makeRig();
  const gone = rig.drives[3];
  const mp = gone.mountPoint;
  unmountDrive(gone);
  assert.equal(fs.readdirSync(mp), [], 'an unmounted mount point is an empty directory');

  assert.is(diskState(rig, 3, 'vanished').state, 'missing');
  scrub(rig, [], 4, 'verify with a drive gone');
  scrub(rig, ['--repair'], 4, 'repair with a drive gone: rs:4+2 over 6 disks has no spare');
  assert.equal(fs.readdirSync(mp), [], 'nothing may be written into the mount point of an unmounted drive');
  assertObjectsIntact(rig, 'degraded');

  mountDriveAt(gone, mp);
  assert.is(diskState(rig, 3, 'mounted back').state, 'online');
  scrub(rig, ['--repair'], [0, 1], 'repair with the drive back');
  scrub(rig, [], 0, 'verify with the drive back');
  assertObjectsIntact(rig, 'drive back');
});

test('4b. a drive unmounted in the middle of a repair pass: the pass goes on without it and writes nothing into the empty mount point', async () => {
  if (!canUseLoopDevices('a drive vanishes mid-pass')) return;
  const rig = makeRig();
  // Work for the repair half of the pass: a damaged shard on another drive.
  const victim = rsShardOn(rig, 0);
  const bytes = fs.readFileSync(victim.path);
  bytes[HEADER + 10] ^= 0xff;
  fs.writeFileSync(victim.path, bytes);
  const gone = rig.drives[3];
  const mp = gone.mountPoint;
  const child = cliAsync('dfs-scrub', ['--pool', rig.pool, '--repair', '--intensity', 'low', '--json']);
  const done = collect(child);
  await new Promise((r) => setTimeout(r, 600));
  assert.is(child.exitCode, null, 'the pass is still running when the drive goes');
  unmountDrive(gone); // lazily when the pass holds it open
  const r = await done;
  assert.ok([1, 4].includes(r.status ?? -1), `the pass ends on its own (exit ${r.status}): ${tail(r.stderr)}`);
  assert.equal(fs.readdirSync(mp), [], 'nothing may be written into the mount point of a drive that went away mid-pass');
  assertObjectsIntact(rig, 'after the drive went mid-pass');
  mountDriveAt(gone, mp);
  scrub(rig, ['--repair'], [0, 1], 'repair with the drive back');
  scrub(rig, [], 0, 'verify with the drive back');
  assertObjectsIntact(rig, 'drive back after mid-pass loss');
});

// ---------------------------------------------------------------------------
// 5: a read-only drive

test('5. a drive remounted read-only: read-only state; rot elsewhere is repaired; rot on it is left (exit 4, its tree unchanged); rw again -> repaired, clean', () => {
  if (!canUseLoopDevices('a read-only drive')) return;
  const rig = makeRig();
  const ro = rig.drives[0];
  const other = rig.drives[1];
  remountDrive(ro, 'ro');
  assert.is(diskState(rig, 0, 'remounted ro').state, 'read-only');

  // Rot on a writable drive: repaired although another drive is read-only.
  const s1 = rsShardOn(rig, 1);
  rotBeneath(other, s1.path, ROT_AT);
  const r1 = scrub(rig, ['--repair'], [0, 1], 'repair of a writable drive beside a read-only one');
  assert.is(findingFor(r1, s1.path, 'repair').result, 'repaired', `the writable drive's shard is repaired: ${summarize(r1.issues)}`);
  const v1 = scrub(rig, [], 0, 'verify: a read-only drive with intact data is no problem');
  assert.not.ok(v1.issues.some((f) => f.path === s1.path), 'the repaired shard is sound');

  // Rot on the read-only drive itself.
  remountDrive(ro, 'rw');
  const s0 = rsShardOn(rig, 0);
  rotBeneath(ro, s0.path, ROT_AT);
  remountDrive(ro, 'ro');
  dropCaches();
  const before = fingerprintTree(ro.mountPoint);
  const r2 = scrub(rig, ['--repair'], 4, 'repair of a shard on the read-only drive');
  const f2 = findingFor(r2, s0.path, 'repair on read-only');
  assert.is(f2.kind, 'checksum-mismatch');
  assert.is.not(f2.result, 'repaired', 'a shard on a read-only drive cannot be repaired in place');
  assert.equal(diffFingerprints(before, fingerprintTree(ro.mountPoint)), [], 'the read-only drive is unchanged');
  assertObjectsIntact(rig, 'rot on the read-only drive');

  remountDrive(ro, 'rw');
  assert.is(diskState(rig, 0, 'rw again').state, 'online');
  const r3 = scrub(rig, ['--repair'], 1, 'repair with the drive writable again');
  assert.is(findingFor(r3, s0.path, 'repair rw').result, 'repaired');
  scrub(rig, [], 0, 'verify after all');
  assertObjectsIntact(rig, 'after all');
});

// ---------------------------------------------------------------------------
// 6: a full drive

test('6. a full drive (ENOSPC): the repair fails with ENOSPC (exit 4), leaves no temp file; space freed -> repaired (exit 1), clean', () => {
  if (!canUseLoopDevices('a full drive')) return;
  const rig = makeRig();
  const full = rig.drives[3];
  const s = rsShardOn(rig, 3);
  rotBeneath(full, s.path, ROT_AT);
  fillDrive(full);
  // The filesystem really is full.
  let err: NodeJS.ErrnoException | undefined;
  const probe = path.join(full.mountPoint, 'probe');
  try {
    const fd = fs.openSync(probe, 'w');
    try {
      fs.writeSync(fd, Buffer.alloc(65536));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    err = e as NodeJS.ErrnoException;
  }
  fs.rmSync(probe, { force: true });
  assert.is(err?.code, 'ENOSPC', 'fillDrive leaves no room for a shard');

  const r = scrub(rig, ['--repair'], 4, 'repair onto a full drive');
  const f = findingFor(r, s.path, 'repair onto a full drive');
  assert.is.not(f.result, 'repaired');
  assert.ok(r.repairs.successful < r.repairs.attempted, `a failed repair is counted: ${JSON.stringify(r.repairs)}`);
  const failed = r.issues.filter((x) => x.result === 'failed');
  assert.ok(
    failed.some((x) => /ENOSPC|no space/i.test(x.detail ?? '')),
    `a failed repair says ENOSPC: ${summarize(r.issues)}`,
  );
  assert.equal(tmpFiles(full.mountPoint), [], 'no temp file is left on the full drive');
  assertObjectsIntact(rig, 'full drive');

  unfillDrive(full);
  scrub(rig, ['--repair'], 1, 'repair with space again');
  assert.equal(tmpFiles(full.mountPoint), [], 'no temp file left after the repair');
  scrub(rig, [], 0, 'verify after all');
  assertObjectsIntact(rig, 'after all');
});

// ---------------------------------------------------------------------------
// 7: swapped mount points

/** Unmounts drives a and b and mounts each at the other's mount point; returns [where a is now, where b is now]. */
function swapMounts(a: Drive, b: Drive): [string, string] {
  const mpA = a.mountPoint, mpB = b.mountPoint;
  unmountDrive(a);
  unmountDrive(b);
  mountDriveAt(a, mpB);
  mountDriveAt(b, mpA);
  return [mpB, mpA];
}

/** A stderr line saying disk `index` (or its id) was found at `now`. */
const noticeOf = (stderr: string, index: number, id: string, now: string): boolean =>
  stderr.split('\n').some((l) => l.includes(now) && (l.includes(id) || new RegExp(`disk ${index}\\b`).test(l)));

/** pool.json records every disk at the path where its label is now. */
function assertPoolJsonPathsCurrent(rig: Rig, what: string): void {
  const cfg = JSON.parse(fs.readFileSync(path.join(rig.pool, 'pool.json'), 'utf8')) as { disks: { id: string; path: string }[] };
  for (const d of cfg.disks) {
    const where = path.resolve(rig.pool, d.path);
    let id = '(no label)';
    try {
      id = labelId(where);
    } catch {
      /* keep */
    }
    assert.is(id, d.id, `${what}: pool.json records disk ${d.id} at ${d.path}, where the label is ${id}`);
  }
}

test('7. drives mounted at each other\'s mount points: found by label, all online; --repair exits 0 with a notice; pool.json paths brought up to date', () => {
  if (!canUseLoopDevices('swapped mount points')) return;
  const rig = makeRig();

  // First swap: status is the first to look.
  const [a, b] = [rig.drives[1], rig.drives[3]];
  const [idA, idB] = [labelId(a.mountPoint), labelId(b.mountPoint)];
  const [aNow, bNow] = swapMounts(a, b);
  assert.is(labelId(aNow), idA);
  const sr = pool(rig, ['status', '--json'], 0, 'status after the first swap');
  for (const d of (JSON.parse(sr.stdout) as { disks: StatusDisk[] }).disks) {
    assert.is(d.state, 'online', `first swap: disk ${d.index} at ${d.path}: ${d.state} (${d.detail ?? ''})`);
  }
  const first = scrubRun(rig, ['--repair'], 0, 'repair after the first swap: nothing to repair').r;
  // Whichever looked first (status may already bring pool.json up to date) says so.
  const seen = sr.stderr + first.stderr;
  assert.ok(noticeOf(seen, 1, idA, aNow) && noticeOf(seen, 3, idB, bNow), `first swap: a notice names each disk found at another path:\n${tail(seen)}`);
  assertPoolJsonPathsCurrent(rig, 'first swap');

  // Second swap: dfs-scrub --repair is the first to look.
  const [c, d] = [rig.drives[2], rig.drives[4]];
  const [idC, idD] = [labelId(c.mountPoint), labelId(d.mountPoint)];
  const [cNow, dNow] = swapMounts(c, d);
  const second = scrubRun(rig, ['--repair'], 0, 'repair after the second swap: nothing to repair').r;
  assert.ok(
    noticeOf(second.stderr, 2, idC, cNow) && noticeOf(second.stderr, 4, idD, dNow),
    `second swap: dfs-scrub's stderr has a notice naming each disk found at another path:\n${tail(second.stderr)}`,
  );
  assertPoolJsonPathsCurrent(rig, 'second swap');
  for (const x of status(rig, 'after the second swap').disks) assert.is(x.state, 'online', `second swap: disk ${x.index} at ${x.path}: ${x.state}`);

  assertObjectsIntact(rig, 'swapped');
  scrub(rig, [], 0, 'verify with swapped drives');
});

// ---------------------------------------------------------------------------
// 8: a cloned drive

test('8. a cloned drive at another disk\'s mount point: original and clone both refused; --repair writes to neither', () => {
  if (!canUseLoopDevices('a cloned drive')) return;
  const rig = makeRig();
  const orig = rig.drives[0], other = rig.drives[3];
  assert.is(orig.fs, 'ext4'); // ext4 mounts two filesystems of one UUID; xfs and btrfs would not
  const mpA = orig.mountPoint, mpB = other.mountPoint;
  const idA = labelId(mpA);
  const clone = cloneDrive(orig, path.join(rig.dir, 'mnt'), 'clone-of-d0');
  unmountDrive(other);
  mountDriveAt(clone, mpB);
  assert.is(labelId(mpB), idA, 'the clone carries the original\'s label');

  const st = status(rig, 'clone');
  const d0 = st.disks.find((d) => d.index === 0)!;
  const d3 = st.disks.find((d) => d.index === 3)!;
  assert.is.not(d0.state, 'online', `the original is refused while a clone claims its id: ${JSON.stringify(d0)}`);
  assert.is.not(d3.state, 'online', `the clone (at disk 3's mount point) is refused: ${JSON.stringify(d3)}`);
  assert.ok(
    (d0.detail ?? '').includes(idA) || /clon/i.test(d0.detail ?? ''),
    `the original's detail names the disk id claimed twice or says clone: ${JSON.stringify(d0)}`,
  );
  for (const d of st.disks) if (d.path === mpA || d.path === mpB) assert.is.not(d.state, 'online', `${d.path} is refused`);

  const fpA = fingerprintTree(mpA), fpB = fingerprintTree(mpB);
  const r = scrubRun(rig, ['--repair'], [4, 8], 'repair with a clone about').r;
  assert.ok(r.status !== 0 && r.status !== 1);
  assert.equal(diffFingerprints(fpA, fingerprintTree(mpA)), [], 'nothing written to the original');
  assert.equal(diffFingerprints(fpB, fingerprintTree(mpB)), [], 'nothing written to the clone');

  // The clone goes away, the right drive comes back: all is well again.
  detachDrive(clone);
  mountDriveAt(other, mpB);
  scrub(rig, ['--repair'], [0, 1], 'repair with the clone gone');
  scrub(rig, [], 0, 'verify with the clone gone');
  assertObjectsIntact(rig, 'clone gone');
});

// ---------------------------------------------------------------------------
// 9: a dead drive replaced

test('9. a dead drive replaced by a blank one: refusals leave pool.json alone; rebuilding -> resilver (exit 1) -> online, objects intact; --force for the pool\'s own filesystem', () => {
  if (!canUseLoopDevices('replacing a dead drive')) return;
  const rig = makeRig();
  const poolJson = path.join(rig.pool, 'pool.json');
  const mnt = path.join(rig.dir, 'mnt');
  detachDrive(rig.drives[2]); // dead for good
  const fresh = makeDrive(mnt, 'new-ext4', 'ext4');

  // Refused: a directory that is not empty.
  const stray = path.join(fresh.mountPoint, 'stray.txt');
  fs.writeFileSync(stray, 'not a blank disk\n');
  let cfgBefore = fs.readFileSync(poolJson);
  let r = cli('dfs-pool', ['replace-disk', '--pool', rig.pool, '2', fresh.mountPoint]);
  expectExit(r, [8, 16], 'replace-disk to a non-empty directory');
  assert.is(r.stderr.trim().split('\n').length, 1, `a one-line error: ${r.stderr}`);
  assert.ok(r.stderr.includes(fresh.mountPoint), `the error names ${fresh.mountPoint}: ${r.stderr}`);
  assert.ok(fs.readFileSync(poolJson).equals(cfgBefore), 'pool.json unchanged after a refused replace-disk');
  fs.rmSync(stray);

  // Refused: a directory on the pool directory's own filesystem.
  const onRoot = path.join(rig.dir, 'spare-on-root');
  fs.mkdirSync(onRoot);
  r = cli('dfs-pool', ['replace-disk', '--pool', rig.pool, '2', onRoot]);
  expectExit(r, [8, 16], 'replace-disk to the pool\'s own filesystem without --force');
  assert.ok(r.stderr.includes(onRoot), `the error names ${onRoot}: ${r.stderr}`);
  assert.ok(fs.readFileSync(poolJson).equals(cfgBefore), 'pool.json unchanged after a refused replace-disk');
  assert.equal(fs.readdirSync(onRoot), [], 'nothing written to the refused directory');

  // Accepted: the blank drive.
  pool(rig, ['replace-disk', '2', fresh.mountPoint], 0, 'replace-disk');
  let d2 = diskState(rig, 2, 'replaced');
  assert.is(d2.state, 'rebuilding');
  assert.is(d2.path, fresh.mountPoint);
  scrub(rig, ['--repair'], 1, 'resilver');
  d2 = diskState(rig, 2, 'resilvered');
  assert.is(d2.state, 'online');
  assertObjectsIntact(rig, 'resilvered');
  scrub(rig, [], 0, 'verify after the resilver');
  assert.ok(shardsUnder(fresh.mountPoint, 2).length > 0, 'the new drive holds shards under extents/');
  const objs = path.join(fresh.mountPoint, 'objects');
  assert.ok(fs.existsSync(objs) && walkFiles(objs).some((p) => fs.statSync(p).isFile()), 'the new drive holds manifests under objects/');

  // --force: another dead drive replaced by a directory on the pool's filesystem.
  detachDrive(rig.drives[5]);
  cfgBefore = fs.readFileSync(poolJson);
  r = cli('dfs-pool', ['replace-disk', '--pool', rig.pool, '5', onRoot]);
  expectExit(r, [8, 16], 'replace-disk to the pool\'s own filesystem without --force');
  assert.ok(fs.readFileSync(poolJson).equals(cfgBefore), 'pool.json unchanged after a refused replace-disk');
  pool(rig, ['replace-disk', '5', onRoot, '--force'], 0, 'replace-disk --force');
  assert.is(diskState(rig, 5, 'replaced with --force').state, 'rebuilding');
  scrub(rig, ['--repair'], 1, 'resilver onto the forced directory');
  assert.is(diskState(rig, 5, 'resilvered (forced)').state, 'online');
  assertObjectsIntact(rig, 'resilvered (forced)');
  scrub(rig, [], 0, 'verify after both replacements');
});

// ---------------------------------------------------------------------------
// README.md's drill: replace-disk, verbatim

interface DrillCommand {
  line: number;
  command: string;
  /** The exit code its comment gives as "(exit N" (its own comment, else the comment lines right above), else 0. */
  exit: number;
}

function readmeDrill(name: string): DrillCommand[] {
  const lines = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.trim() === `<!-- drill: ${name} -->`);
  assert.ok(at >= 0, `README.md has no line <!-- drill: ${name} -->`);
  assert.match(lines[at + 1], /^```(bash|sh)\s*$/, `README.md:${at + 2}: a \`\`\`bash block follows <!-- drill: ${name} -->`);
  const out: DrillCommand[] = [];
  let above: string[] = [];
  for (let i = at + 2; i < lines.length && !/^```\s*$/.test(lines[i]); i++) {
    const l = lines[i].trim();
    if (!l) {
      above = [];
      continue;
    }
    if (l.startsWith('#')) {
      above.push(l);
      continue;
    }
    let command = l;
    while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1)} ${lines[++i].trim()}`;
    const own = / #(.*)$/.exec(command)?.[1] ?? '';
    const code = /\(exit (\d+)/.exec(own) ?? /\(exit (\d+)/.exec(above.join('\n'));
    out.push({ line: i + 1, command, exit: code ? Number(code[1]) : 0 });
    above = [];
  }
  assert.ok(out.length > 0, `README.md: the ${name} drill has no commands`);
  return out;
}

test('10. README.md\'s replace-disk drill, verbatim: /srv/pool over ext4 drives at /mnt/disk0..5, disk 3 dead, /dev/sdX a blank loop device', () => {
  if (!canUseLoopDevices('README replace-disk drill', ['ext4'])) return;
  if (!requireTool('unshare') || !requireTool('nsenter')) return;
  const drill = readmeDrill('replace-disk');
  const dir = scratchDir('dfs-real-drives-drill-');
  const drives = [0, 1, 2, 3, 4, 5].map((i) => makeDrive(path.join(dir, 'img'), `disk${i}`, 'ext4', 64, { mount: false }));
  const sdX = attachBlank(path.join(dir, 'img'), 'sdX', 64);
  const ns = privateMountNamespace();
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(repoRoot, 'bin')}:${process.env.PATH}`, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  const sh = (command: string, codes: number | number[], what: string) => {
    const r = ns.run(command, env);
    const want = Array.isArray(codes) ? codes : [codes];
    assert.ok(r.status !== null && want.includes(r.status), `${what}: \`${command}\` exit ${r.status}, expected ${want.join(' or ')}\nstderr: ${tail(r.stderr)}\nstdout: ${tail(r.stdout)}`);
    return r;
  };

  // The machine's /srv and /mnt are hidden (in this namespace only) by empty tmpfs.
  sh(
    ['mount -t tmpfs tmpfs /srv', 'mount -t tmpfs tmpfs /mnt', ...drives.map((d, i) => `mkdir /mnt/disk${i} && mount ${d.loop} /mnt/disk${i}`)].join(' && '),
    0,
    'setup',
  );
  sh(`dfs-pool create --pool /srv/pool ${drives.map((_, i) => `--disk /mnt/disk${i}`).join(' ')} --redundancy rs:4+2 --extent-size 256K`, 0, 'create');
  const objects: { name: string; sha: string }[] = [];
  fs.mkdirSync(path.join(dir, 'in'));
  for (const o of OBJECTS) {
    const data = randomBytes(o.size);
    const file = path.join(dir, 'in', o.name);
    fs.writeFileSync(file, data);
    sh(`dfs-pool put --pool /srv/pool ${file} ${o.name}${o.scheme === 'rs:4+2' ? '' : ` --redundancy ${o.scheme}`}`, 0, `put ${o.name}`);
    objects.push({ name: o.name, sha: sha256(data) });
  }
  // Disk 3 dies: its filesystem is gone, its mount point an empty directory.
  sh('umount /mnt/disk3', 0, 'disk 3 dies');

  for (const c of drill) {
    const command = c.command.replace(/\/dev\/sdX\b/g, sdX.loop);
    sh(command, c.exit, `README.md:${c.line}`);
  }

  const st = JSON.parse(sh('dfs-pool status --pool /srv/pool --json', 0, 'status after the drill').stdout) as { disks: StatusDisk[] };
  const d3 = st.disks.find((d) => d.index === 3);
  assert.ok(d3, 'status has disk 3');
  assert.is(d3!.state, 'online', `disk 3 after the drill: ${JSON.stringify(d3)}`);
  assert.is(d3!.path, '/mnt/disk3-new');
  for (const d of st.disks) assert.is(d.state, 'online', `disk ${d.index} after the drill: ${d.state}`);
  sh('test -n "$(ls /mnt/disk3-new/extents)" && test -n "$(ls /mnt/disk3-new/objects)"', 0, 'the new drive holds shards and manifests');
  const outDir = path.join(dir, 'out');
  fs.mkdirSync(outDir);
  for (const o of objects) {
    const out = path.join(outDir, o.name);
    sh(`dfs-pool get --pool /srv/pool ${o.name} ${out}`, 0, `get ${o.name}`);
    assert.is(sha256(fs.readFileSync(out)), o.sha, `${o.name} read back differs from what was put`);
  }
  sh('dfs-scrub --pool /srv/pool', 0, 'verify after the drill');
  ns.close();
});

// ---------------------------------------------------------------------------
// 11: light scrubs, --only-known, and a copied pool.json over real mount points

test('11. light and known-problem passes on real drives; a copied pool.json is refused the drives and the pool is told', () => {
  if (!canUseLoopDevices('light passes and claims on real drives')) return;
  const rig = makeRig();
  // btrfs: rot in the payload answers EIO (a deep pass only); xfs: a shard removed (a light pass sees it).
  const rot = rsShardOn(rig, 2);
  rotBeneath(rig.drives[2], rot.path, ROT_AT, 16);
  scrub(rig, [], 4, 'deep pass over the rot');
  const lost = rsShardOn(rig, 1);
  fs.rmSync(lost.path);
  const light = scrub(rig, ['--light'], 4, 'light pass');
  assert.equal(light.issues.map((i) => [i.kind, i.path]), [['missing-shard', lost.path]], `the light pass sees the lost shard only:\n  ${summarize(light.issues)}`);
  const open = JSON.parse(fs.readFileSync(path.join(rig.pool, '.dynamicfs', 'scrub-state.json'), 'utf8')).openProblems.map((p: { kind: string }) => p.kind).sort();
  assert.equal(open, ['missing-shard', 'unreadable'], 'the btrfs EIO stays an open problem after the light pass');
  const known = scrub(rig, ['--only-known', '--repair'], 1, 'known problems repaired');
  assert.is(known.repairs.successful, 2, summarize(known.issues));
  scrub(rig, ['--only-known'], 0, 'no known problems left');
  scrub(rig, [], 0, 'deep pass after');
  assertObjectsIntact(rig, 'after light and known-problem repairs on real drives');

  // A copy of pool.json beside the pool, naming the same mount points.
  const copy = path.join(rig.dir, 'copy');
  fs.mkdirSync(copy);
  fs.copyFileSync(path.join(rig.pool, 'pool.json'), path.join(copy, 'pool.json'));
  const before = rig.drives.map((d) => fingerprintTree(d.mountPoint));
  const r = cli('dfs-scrub', ['--pool', copy, '--repair']);
  expectExit(r, 8, 'the copy is refused every drive');
  assert.match(r.stderr, /no disk is online/);
  rig.drives.forEach((d, i) => assert.equal(diffFingerprints(before[i], fingerprintTree(d.mountPoint)), [], `${d.fs} drive ${i} unchanged by the copy`));
  const copyReal = fs.realpathSync(copy);
  const told = (status(rig, 'status of the original') as unknown as { disks: { claimedBy?: string[] }[] }).disks.map((d) => d.claimedBy ?? []);
  assert.equal(told, rig.drives.map(() => [copyReal]), 'the original names the copy on each of its drives');
  fs.rmSync(copy, { recursive: true });
  const after = (status(rig, 'status after the copy is gone') as unknown as { disks: { claimedBy?: string[] }[] }).disks;
  assert.ok(after.every((d) => !d.claimedBy), 'the claims are gone with the copy');
});

// ---------------------------------------------------------------------------
// 12: a light pass over cold drives reads headers directly, past the page cache

/** Bytes the loop device has read so far (/sys/block/loopN/stat: sectors of 512 bytes). */
function deviceReadBytes(drive: Drive): number {
  return Number(fs.readFileSync(`/sys/block/${path.basename(drive.loop)}/stat`, 'utf8').trim().split(/\s+/)[2]) * 512;
}

test('12. a light pass over cold drives reads each header directly: damage found, shard files left out of the page cache', () => {
  if (!canUseLoopDevices('cold light passes on real drives') || !requireTool('fincore')) return;
  const rig = makeRig();
  const lost = rsShardOn(rig, 1);
  fs.rmSync(lost.path);
  const cut = rsShardOn(rig, 0);
  fs.truncateSync(cut.path, cut.size - 1);
  const files = rig.drives.flatMap((d, i) => shardsUnder(d.mountPoint, i));
  dropCaches();
  const before = rig.drives.map(deviceReadBytes);
  const light = scrub(rig, ['--light', '--intensity', 'max'], 4, 'cold light pass');
  const read = rig.drives.map((d, i) => deviceReadBytes(d) - before[i]);
  assert.equal(light.issues.map((i) => [i.kind, i.path]).sort(), [['missing-shard', lost.path], ['truncated', cut.path]].sort(), summarize(light.issues));
  // A buffered header read leaves the file's first pages cached (16 KiB of read-ahead); a direct one none.
  // Each verify thread reads its first file, and one in 256 after, through the cache to learn whether the
  // drives are cold, and btrfs caches a few files of its own: a tenth is far from all.
  const resident = files.filter((f) => residentBytes(f.path) > 0);
  assert.ok(resident.length <= files.length / 10, `${resident.length} of ${files.length} shard files in the page cache after a cold light pass: ${resident.map((f) => f.path).join(' ')}`);
  const total = read.reduce((a, b) => a + b, 0);
  const shardBytes = files.reduce((a, f) => a + f.size, 0);
  assert.ok(total < shardBytes / 4, `the drives read ${total} bytes for headers of ${files.length} files holding ${shardBytes}`);
  scrub(rig, ['--repair'], 1, 'deep repair');
  assertObjectsIntact(rig, 'after the cold light pass');
});

// ---------------------------------------------------------------------------
// 13: a deep pass over cold drives at max reads directly (direct-reads.ts), and
// so does a repair pass, which rebuilds from what it read (sourcesInPlace)

test('13. a deep pass at max over cold drives reads directly: rot beneath ext4 found, the rest healthy, shard files on ext4 and xfs left out of the page cache; a cold repair of two shards per extent reads each source once, directly; objects intact', () => {
  if (!canUseLoopDevices('cold deep passes on real drives') || !requireTool('fincore')) return;
  // Shards of 1 MiB: smaller ones are read through the page cache, ahead (see MIN_DIRECT_FILE).
  const rig = makeRig(MIXED, '4M');
  // Enough files for each verify thread to judge the drives cold (16 reads or 4 MiB) and go on directly.
  const bulk = path.join(rig.dir, 'in', 'bulk');
  const data = randomBytes(64 * 1024 * 1024);
  fs.writeFileSync(bulk, data);
  pool(rig, ['put', bulk, 'bulk'], 0, 'put bulk');
  rig.objects.push({ name: 'bulk', scheme: 'rs:4+2', size: data.length, sha256: sha256(data), file: bulk });
  const shard = rsShardOn(rig, 0);
  rotBeneath(rig.drives[0], shard.path, ROT_AT, 16);
  dropCaches();
  const v = scrub(rig, ['--intensity', 'max'], 4, 'cold deep pass at max');
  // Read through the page cache (the first reads of each thread, before it judges; one slice in 16 after, to see
  // whether the drives are still cold; the shards under 1 MiB of the small objects), or read ahead as before, every
  // file would be there. btrfs here serves a direct read through its page cache.
  const onDisk = rig.drives.flatMap((d, i) => (d.fs === 'btrfs' ? [] : shardsUnder(d.mountPoint, i)));
  const cached = onDisk.reduce((a, f) => a + Math.min(f.size, residentBytes(f.path)), 0);
  const total = onDisk.reduce((a, f) => a + f.size, 0);
  assert.ok(cached <= total / 3, `${cached} of the ${total} bytes of shard files on ext4 and xfs in the page cache after a cold deep pass`);
  assert.is(findingFor(v, shard.path, 'cold deep pass').kind, 'checksum-mismatch');
  assert.equal(v.issues.map((i) => i.path), [shard.path], summarize(v.issues));
  assert.is(v.extents.healthy + v.extents.degraded, v.extents.total, 'every extent judged');
  assert.is(v.extents.degraded, 1);
  dropCaches();
  const r = scrub(rig, ['--intensity', 'max', '--repair'], 1, 'cold repair at max');
  assert.is(r.repairs.successful, 1, summarize(r.issues));
  dropCaches();
  scrub(rig, ['--intensity', 'max'], 0, 'cold deep pass after the repair');

  // Two shards of each of bulk's extents lost (a data and a parity shard, as two failed drives take them).
  const bulkShard = HEADER + 2 ** 20;
  const shards = rig.drives.flatMap((d, i) => shardsUnder(d.mountPoint, i));
  const lost = shards.filter((s) => s.size === bulkShard && (s.index === 1 || s.index === 4));
  assert.is(lost.length, 2 * 16, 'two shards of each of bulk\'s 16 extents');
  for (const s of lost) fs.rmSync(s.path);
  const present = shards.filter((s) => !lost.includes(s));
  const presentBytes = present.reduce((a, s) => a + s.size, 0);
  dropCaches();
  const before = rig.drives.map(deviceReadBytes);
  const rebuilt = scrub(rig, ['--intensity', 'max', '--repair'], 1, 'cold repair of two shards per extent');
  const read = rig.drives.reduce((a, d, i) => a + deviceReadBytes(d) - before[i], 0);
  assert.is(rebuilt.repairs.successful, lost.length, summarize(rebuilt.issues));
  // The sources were read directly (left out of the page cache on ext4 and xfs) and rebuilt from as read: read
  // again for the rebuild, each would come from the device twice (ext4 and xfs hold 4 of each extent's 6).
  const sources = present.filter((s) => s.size === bulkShard && rig.drives[s.disk].fs !== 'btrfs');
  const sourcesCached = sources.reduce((a, s) => a + Math.min(s.size, residentBytes(s.path)), 0);
  const sourcesTotal = sources.reduce((a, s) => a + s.size, 0);
  assert.ok(sourcesCached <= sourcesTotal / 3, `${sourcesCached} of the ${sourcesTotal} bytes of the repair's sources on ext4 and xfs in the page cache after a cold repair`);
  assert.ok(read <= 1.25 * presentBytes, `a cold repair read ${read} bytes from the drives, holding ${presentBytes} bytes of shard files: sources read twice`);
  dropCaches();
  scrub(rig, ['--intensity', 'max'], 0, 'cold deep pass after the repair of two shards per extent');
  assertObjectsIntact(rig, 'after the cold passes');
});

// ---------------------------------------------------------------------------
// 14: the pool summary's fingerprint on each filesystem

test('14. the pool summary over ext4, xfs and btrfs: a manifest copy replaced by a rename or removed, right after a put, moves the fingerprint; status counts afresh', () => {
  if (!canUseLoopDevices('the pool summary on real drives')) return;
  const rig = makeRig();
  const summaryFile = path.join(rig.pool, '.dynamicfs', 'pool-summary.json');
  const saved = () => JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
  const now = () => manifestFingerprint(openPool(rig.pool)).hash;
  const copyOn = (d: number, name: string) => path.join(rig.drives[d].mountPoint, 'objects', manifestFileName(name));
  const counted = (what: string) => {
    const shown = JSON.parse(pool(rig, ['status', '--json'], 0, `${what}: status`).stdout);
    assert.is(saved().fingerprint, now(), `${what}: status saved a count for the manifests as they are`);
    fs.rmSync(summaryFile);
    const full = JSON.parse(pool(rig, ['status', '--json'], 0, `${what}: full count`).stdout);
    for (const k of ['objects', 'extents', 'bytes', 'unreadableObjects']) assert.is(shown[k], full[k], `${what}: status's ${k} is a full count's`);
  };
  counted('after the puts');
  for (const [d, drive] of rig.drives.entries()) {
    const what = `disk ${d} (${drive.fs})`;
    const data = randomBytes(100_000 + d);
    const file = path.join(rig.dir, 'in', `hand-${d}`);
    fs.writeFileSync(file, data);
    pool(rig, ['put', file, `hand-${d}`], 0, `${what}: put`);
    rig.objects.push({ name: `hand-${d}`, scheme: 'rs:4+2', size: data.length, sha256: sha256(data), file });
    assert.is(saved().fingerprint, now(), `${what}: the put kept the summary current`);
    // At once, in the put's clock tick if the kernel's timestamps are coarse: one copy replaced by another's.
    const target = copyOn(d, 'rs-large');
    fs.copyFileSync(copyOn(d, 'rs-small'), `${target}.hand`);
    fs.renameSync(`${target}.hand`, target);
    assert.is.not(saved().fingerprint, now(), `${what}: a copy renamed over another on ${drive.fs} left the fingerprint as it was`);
    counted(`${what}: a copy replaced`);
    fs.rmSync(target);
    assert.is.not(saved().fingerprint, now(), `${what}: a copy removed on ${drive.fs} left the fingerprint as it was`);
    counted(`${what}: a copy removed`);
  }
  // Every copy of rs-large is gone by now, one drive at a time: status no longer counts it.
  const st = JSON.parse(pool(rig, ['status', '--json'], 0, 'status after the hand edits').stdout);
  assert.is(st.objects, OBJECTS.length + rig.drives.length - 1, 'rs-large, whose every copy was removed, is not counted');
  rig.objects = rig.objects.filter((o) => o.name !== 'rs-large');
  assertObjectsIntact(rig, 'after the hand edits');
});

test.run();

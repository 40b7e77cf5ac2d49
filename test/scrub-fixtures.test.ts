// Shared fixtures for the scrub tests (test/scrub-*.test.ts): small pools made
// with the real executables, a map of every shard file and its original bytes,
// runners for dfs-scrub with --json, and checks of quarantine, audit log and
// object read-back. Imported by the other scrub tests; run directly it tests
// itself (the runner runs every *.test.js), so it is named like a test.
//
// Damage is always done by hand in the tests (fs calls), never through
// dfs-inject, so that a bug shared by the injector and the scrubber cannot hide.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cli, CliResult, diffFingerprints, fingerprintTree, scratchDir } from './helpers';

export const EXTENT = 64 * 1024;
export const SHARD_RE = /^([0-9a-f]{64})\.(\d+)$/;
/** Long enough for a slow CI box, short enough that a scrub blocked on a FIFO fails the test. */
export const SCRUB_TIMEOUT_MS = 30_000;

export interface ObjectSpec {
  name: string;
  size: number;
  /** Per-object scheme (put --redundancy); the pool default when absent. */
  redundancy?: string;
  /** Content; random when absent. */
  data?: Buffer;
}

export interface PoolSpec {
  disks?: number;
  redundancy?: string;
  extentSize?: string;
  objects?: ObjectSpec[];
}

export interface ShardFile {
  disk: number;
  extent: string;
  index: number;
  path: string;
}

export interface StoredObject {
  name: string;
  data: Buffer;
  scheme: string;
  /** Extent ids in object order (as the manifest lists them). */
  extents: string[];
}

export interface Fixture {
  dir: string;
  pool: string;
  /** Absolute disk directories, by disk index. */
  disks: string[];
  objects: StoredObject[];
  /** Every shard file right after the puts, sorted by path. */
  shards: ShardFile[];
  /** Original bytes of every regular file under the pool right after the puts (absolute path -> bytes). */
  original: Map<string, Buffer>;
}

/** The default test pool: rs:4+2 over 6 disks, 64 KiB extents, an rs object of 4 extents and a mirror:2 object of 2. */
export const DEFAULT_OBJECTS: ObjectSpec[] = [
  { name: 'alpha', size: 3 * EXTENT + 1234 },
  { name: 'beta', size: EXTENT + 100, redundancy: 'mirror:2' },
];

function must(r: CliResult, what: string): CliResult {
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status} ${r.signal ?? ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

function readAllFiles(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(p, fs.readFileSync(p));
    }
  };
  walk(root);
  return out;
}

export function diskDirs(pool: string): string[] {
  const cfg = JSON.parse(fs.readFileSync(path.join(pool, 'pool.json'), 'utf8')) as { disks: { path: string }[] };
  return cfg.disks.map((d) => path.resolve(pool, d.path));
}

export function poolId(pool: string): string {
  return (JSON.parse(fs.readFileSync(path.join(pool, 'pool.json'), 'utf8')) as { id: string }).id;
}

/** Every file named like a shard in its right fan-out directory, on every configured disk (lstat only). */
export function listShards(pool: string): ShardFile[] {
  const out: ShardFile[] = [];
  diskDirs(pool).forEach((disk, index) => {
    const top = path.join(disk, 'extents');
    if (!fs.existsSync(top)) return;
    for (const fan of fs.readdirSync(top).sort()) {
      const fdir = path.join(top, fan);
      if (!fs.lstatSync(fdir).isDirectory()) continue;
      for (const name of fs.readdirSync(fdir).sort()) {
        const m = SHARD_RE.exec(name);
        if (m) out.push({ disk: index, extent: m[1], index: Number(m[2]), path: path.join(fdir, name) });
      }
    }
  });
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Manifests as stored (any valid-looking copy), by object name. */
export function readManifests(pool: string): Map<string, { name: string; scheme: string; extents: { id: string; length: number }[] }> {
  const out = new Map();
  for (const disk of diskDirs(pool)) {
    const dir = path.join(disk, 'objects');
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) {
      try {
        const m = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).manifest;
        if (m && !out.has(m.name)) out.set(m.name, m);
      } catch {
        /* damaged copy */
      }
    }
  }
  return out;
}

/** Paths of every copy of one object's manifest (one per disk that has it). */
export function manifestCopies(pool: string, name: string): string[] {
  const out: string[] = [];
  for (const disk of diskDirs(pool)) {
    const dir = path.join(disk, 'objects');
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).sort()) {
      try {
        if (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).manifest?.name === name) out.push(path.join(dir, f));
      } catch {
        /* damaged */
      }
    }
  }
  return out;
}

/** Creates a pool with the real executables and puts the objects. */
export function makePool(spec: PoolSpec = {}): Fixture {
  const dir = scratchDir('dfs-scrub-');
  const pool = path.join(dir, 'pool');
  must(
    cli('dfs-pool', ['create', '--pool', pool, '--disks', String(spec.disks ?? 6), '--redundancy', spec.redundancy ?? 'rs:4+2', '--extent-size', spec.extentSize ?? '64K']),
    'dfs-pool create',
  );
  const objects: StoredObject[] = [];
  for (const o of spec.objects ?? DEFAULT_OBJECTS) {
    const data = o.data ?? randomBytes(o.size);
    const file = path.join(dir, `in-${o.name}`);
    fs.writeFileSync(file, data);
    must(cli('dfs-pool', ['put', file, o.name, '--pool', pool, ...(o.redundancy ? ['--redundancy', o.redundancy] : [])]), `dfs-pool put ${o.name}`);
    fs.rmSync(file);
    objects.push({ name: o.name, data, scheme: o.redundancy ?? spec.redundancy ?? 'rs:4+2', extents: [] });
  }
  const manifests = readManifests(pool);
  for (const o of objects) o.extents = manifests.get(o.name)!.extents.map((e) => e.id);
  return { dir, pool, disks: diskDirs(pool), objects, shards: listShards(pool), original: readAllFiles(pool) };
}

/** A copy of a fixture's pool in a new scratch directory (disk paths are relative to the pool). */
export function clonePool(fx: Fixture): Fixture {
  const dir = scratchDir('dfs-scrub-');
  const pool = path.join(dir, 'pool');
  fs.cpSync(fx.pool, pool, { recursive: true, verbatimSymlinks: true });
  const rebase = (p: string) => path.join(pool, path.relative(fx.pool, p));
  return {
    dir,
    pool,
    disks: diskDirs(pool),
    objects: fx.objects,
    shards: fx.shards.map((s) => ({ ...s, path: rebase(s.path) })),
    original: new Map([...fx.original].map(([p, b]) => [rebase(p), b])),
  };
}

export function objectOf(fx: Fixture, name: string): StoredObject {
  const o = fx.objects.find((x) => x.name === name);
  if (!o) throw new Error(`no object ${name}`);
  return o;
}

/** The shard file of one extent (by position in the object) and index. */
export function shardOf(fx: Fixture, object: string, extentNo: number, index: number): ShardFile {
  const id = objectOf(fx, object).extents[extentNo];
  const s = fx.shards.find((x) => x.extent === id && x.index === index);
  if (!s) throw new Error(`no shard ${index} of extent ${extentNo} of ${object}`);
  return s;
}

export function shardsOfExtent(fx: Fixture, id: string): ShardFile[] {
  return fx.shards.filter((s) => s.extent === id).sort((a, b) => a.index - b.index);
}

// ---------------------------------------------------------------------------
// Running the scrubber

export interface Finding {
  kind: string;
  severity?: string;
  extent?: string;
  shard?: number;
  disk?: number;
  path: string;
  detail?: string;
  action: string;
  result: string;
  quarantine?: string;
  health?: string;
  objects?: string[];
}

export interface Report {
  schema: number;
  mode: string;
  resumed: boolean;
  outcome: string;
  exitCode: number;
  durationSeconds: number;
  bytesRead: number;
  extents: { total: number; scanned: number; healthy: number; degraded: number; unrecoverable: number; orphaned: number };
  objects: { total: number; manifestCopiesBad: number; unreadable: number };
  repairs: { attempted: number; successful: number };
  issues: Finding[];
  info: Finding[];
}

export interface ScrubRun extends CliResult {
  report?: Report;
}

/** dfs-scrub --pool P ARGS --json; the report is parsed when stdout holds one. */
export function scrub(pool: string, args: string[] = [], timeout = SCRUB_TIMEOUT_MS): ScrubRun {
  const r = cli('dfs-scrub', ['--pool', pool, ...args, '--json'], { timeout });
  let report: Report | undefined;
  if (r.stdout.trim()) {
    try {
      report = JSON.parse(r.stdout) as Report;
    } catch (err) {
      throw new Error(`dfs-scrub ${args.join(' ')}: stdout is not one JSON document (${(err as Error).message}):\n${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr}`);
    }
  }
  return { ...r, report };
}

/** Runs a scrub and asserts it finished (not killed by the timeout: never blocks) with the exit code. */
export function scrubExpect(pool: string, args: string[], exit: number, what = `dfs-scrub ${args.join(' ')}`): Report {
  const r = scrub(pool, args);
  assert.ok(r.signal === null, `${what}: killed by ${r.signal} (blocked? timed out after ${SCRUB_TIMEOUT_MS} ms)\nstderr: ${r.stderr}`);
  assert.is(r.status, exit, `${what}: exit ${r.status}, expected ${exit}\nstderr: ${r.stderr}\nissues: ${JSON.stringify(r.report?.issues, null, 1)?.slice(0, 4000)}`);
  assert.ok(r.report, `${what}: no JSON report on stdout (stderr: ${r.stderr})`);
  assert.is(r.report!.schema, 1, `${what}: report schema`);
  assert.is(r.report!.exitCode, exit, `${what}: report.exitCode`);
  return r.report!;
}

export function summarize(fs_: Finding[]): string {
  return fs_.map((f) => `${f.kind} disk=${f.disk} shard=${f.shard} ${f.path} [${f.action}/${f.result}] ${f.detail ?? ''}`).join('\n    ');
}

export interface Expected {
  kind: string;
  path: string;
  disk?: number;
  extent?: string;
  shard?: number;
}

/** The one issue matching kind and path, with disk/extent/shard as expected. */
export function findIssue(report: Report, e: Expected, what: string): Finding {
  const hits = report.issues.filter((f) => f.kind === e.kind && f.path === e.path);
  assert.is(hits.length, 1, `${what}: expected one ${e.kind} issue at ${e.path}, got ${hits.length}; issues:\n    ${summarize(report.issues)}`);
  const f = hits[0];
  if (e.disk !== undefined) assert.is(f.disk, e.disk, `${what}: ${e.kind} disk`);
  if (e.extent !== undefined) assert.is(f.extent, e.extent, `${what}: ${e.kind} extent`);
  if (e.shard !== undefined) assert.is(f.shard, e.shard, `${what}: ${e.kind} shard`);
  for (const k of ['kind', 'path', 'action', 'result'] as const) assert.type(f[k], 'string', `${what}: ${e.kind}.${k} is a string`);
  return f;
}

/** Exactly these issues (kind@path), nothing else. */
export function assertIssues(report: Report, expected: Expected[], what: string): Finding[] {
  const got = report.issues.map((f) => `${f.kind}@${f.path}`).sort();
  const want = expected.map((e) => `${e.kind}@${e.path}`).sort();
  assert.equal(got, want, `${what}: issues differ; got:\n    ${summarize(report.issues)}`);
  return expected.map((e) => findIssue(report, e, what));
}

// ---------------------------------------------------------------------------
// What a repair leaves behind

/** Where repairs keep damaged files: each disk's own DISK/.dynamicfs/quarantine (as pool.json names the disks). */
export function quarantineDirs(pool: string): string[] {
  const config = JSON.parse(fs.readFileSync(path.join(pool, 'pool.json'), 'utf8')) as { disks: { path: string }[] };
  return config.disks.map((d) => path.join(path.resolve(pool, d.path), '.dynamicfs', 'quarantine'));
}

export interface QuarantineNote {
  file: string;
  note: Record<string, unknown> & { original?: string; content?: string; type?: string; linkTarget?: string };
}

export function quarantineNotes(pool: string): QuarantineNote[] {
  return quarantineDirs(pool).flatMap((dir) =>
    !fs.existsSync(dir)
      ? []
      : fs
          .readdirSync(dir)
          .filter((f) => f.endsWith('.json') && !f.startsWith('.tmp-'))
          .sort()
          .map((f) => ({ file: path.join(dir, f), note: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) })),
  );
}

export function auditLines(pool: string): Record<string, unknown>[] {
  const file = path.join(pool, '.dynamicfs', 'audit.log');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l, i) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`audit.log line ${i + 1} is not JSON: ${l}`);
      }
    });
}

/** The quarantine note for a damaged file, asserting it exists (and its kept content, when a regular file was kept). */
export function assertQuarantined(pool: string, original: string, what: string, damagedBytes?: Buffer): QuarantineNote {
  const notes = quarantineNotes(pool).filter((n) => n.note.original === original);
  assert.ok(notes.length >= 1, `${what}: no quarantine note for ${original}; notes: ${quarantineNotes(pool).map((n) => n.note.original).join(', ')}`);
  const n = notes[notes.length - 1];
  // Kept on the damaged file's own disk, never copied onto another filesystem.
  const disk = quarantineDirs(pool).map((q) => path.dirname(path.dirname(q))).find((d) => original.startsWith(d + path.sep));
  assert.is(path.dirname(path.dirname(path.dirname(n.file))), disk, `${what}: ${original} is kept in its own disk's quarantine, not ${path.dirname(n.file)}`);
  if (damagedBytes) {
    assert.type(n.note.content, 'string', `${what}: quarantine note of a regular file names its kept content`);
    const kept = path.join(path.dirname(n.file), n.note.content!);
    assert.ok(fs.readFileSync(kept).equals(damagedBytes), `${what}: the quarantined copy of ${original} is not the damaged bytes`);
  }
  return n;
}

/** Exactly one audit line for this path with this result. */
export function assertAudited(pool: string, file: string, what: string, result = 'repaired'): Record<string, unknown> {
  const lines = auditLines(pool).filter((l) => l.path === file);
  assert.ok(lines.length >= 1, `${what}: no audit.log line for ${file}; audit.log:\n${auditLines(pool).map((l) => JSON.stringify(l)).join('\n')}`);
  const l = lines[lines.length - 1];
  assert.is(l.result, result, `${what}: audit.log result for ${file}`);
  assert.type(l.time, 'string', `${what}: audit.log line has a time`);
  return l;
}

/** The file is a regular file (not a link, FIFO, ...) holding exactly its original bytes. */
export function assertRestored(fx: Fixture, file: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    assert.unreachable(`${what}: ${file} does not exist after repair`);
    return;
  }
  assert.ok(st.isFile(), `${what}: ${file} is not a regular file after repair`);
  const want = fx.original.get(file);
  assert.ok(want, `${what}: no original bytes recorded for ${file}`);
  assert.ok(fs.readFileSync(file).equals(want!), `${what}: ${file} is not bit-identical to its original after repair`);
}

/** dfs-pool get of every object returns the original bytes. */
export function assertObjectsIntact(fx: Fixture, what: string, names = fx.objects.map((o) => o.name)): void {
  for (const name of names) {
    const out = path.join(fx.dir, `out-${name}-${Date.now()}`);
    const r = cli('dfs-pool', ['get', name, out, '--pool', fx.pool], { timeout: SCRUB_TIMEOUT_MS });
    assert.is(r.status, 0, `${what}: dfs-pool get ${name}: exit ${r.status}: ${r.stderr}`);
    assert.ok(fs.readFileSync(out).equals(objectOf(fx, name).data), `${what}: dfs-pool get ${name} returned other bytes than were put`);
    fs.rmSync(out);
  }
}

/** The whole pool tree except the scrub state file (which a verify pass may update) and status's counts (which it may drop). */
export function poolPrint(pool: string): Map<string, string> {
  return fingerprintTree(pool, { exclude: (rel) => rel === '.dynamicfs/scrub-state.json' || rel === '.dynamicfs/pool-summary.json' });
}

export function assertUnchanged(before: Map<string, string>, pool: string, what: string): void {
  const d = diffFingerprints(before, poolPrint(pool));
  assert.equal(d, [], `${what}: the pool changed:\n  ${d.join('\n  ')}`);
}

/** Flips one bit of a file in place. */
export function flipBit(file: string, offset: number, bit = 0): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, offset);
    b[0] ^= 1 << bit;
    fs.writeSync(fd, b, 0, 1, offset);
  } finally {
    fs.closeSync(fd);
  }
}

export function readState(pool: string): any {
  return JSON.parse(fs.readFileSync(path.join(pool, '.dynamicfs', 'scrub-state.json'), 'utf8'));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Self-test: the fixtures see the pool the way DESIGN.md §1 lays it out.

if (require.main === module) {
  test('fixtures: a fresh pool has every shard where DESIGN §1 says, and a clean scrub', () => {
    const fx = makePool();
    // alpha: 4 rs:4+2 extents x 6 shards; beta: 2 mirror:2 extents x 2 copies.
    assert.is(objectOf(fx, 'alpha').extents.length, 4);
    assert.is(objectOf(fx, 'beta').extents.length, 2);
    assert.is(fx.shards.length, 4 * 6 + 2 * 2);
    for (const s of fx.shards) {
      assert.is(path.basename(path.dirname(s.path)), s.extent.slice(0, 2), 'fan-out directory is the first two hex digits');
      assert.ok(fs.readFileSync(s.path).subarray(0, 8).equals(Buffer.from('DFSSHRD1')), 'shard header magic');
    }
    for (const id of objectOf(fx, 'alpha').extents) {
      const disks = shardsOfExtent(fx, id).map((s) => s.disk);
      assert.is(new Set(disks).size, 6, 'the shards of one extent sit on distinct disks');
    }
    assert.is(manifestCopies(fx.pool, 'alpha').length, 6, 'one manifest copy per disk');
    const c = clonePool(fx);
    assert.is(listShards(c.pool).length, fx.shards.length);
    const before = poolPrint(c.pool);
    const rep = scrubExpect(c.pool, [], 0);
    assert.is(rep.extents.total, 6);
    assert.is(rep.extents.healthy, 6);
    assert.equal(rep.issues, []);
    assertUnchanged(before, c.pool, 'clean verify');
    assertObjectsIntact(c, 'fresh clone');
  });

  test.run();
}

// Reads from a damaged pool. With up to M shards of an extent lost (deleted,
// payload corrupted, header corrupted, truncated; every combination of shard
// indices, data shards included) `get` still returns the exact bytes and names
// the bad shards it met on stderr. With M+1 lost it exits 4 naming the extent,
// creates no OUT file (not even a temp one) and changes nothing in the pool.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cliPath, diffFingerprints, fingerprintTree, scratchDir } from './helpers';
import { extentId } from '../src/core/hash';
import { parseScheme, Scheme } from '../src/core/scheme';

const EXTENT = 16 * 1024;
const SCHEMES: [string, number][] = [
  ['mirror:2', 3],
  ['mirror:3', 4],
  ['rs:2+1', 4],
  ['rs:4+2', 7],
  ['rs:8+3', 12],
];

const shards = (s: Scheme) => (s.kind === 'mirror' ? s.copies : s.k + s.m);
const parityCount = (s: Scheme) => (s.kind === 'mirror' ? s.copies - 1 : s.m);

/** Every subset of {0..n-1} with `size` members, in lexicographic order. */
function combinations(n: number, size: number): number[][] {
  const out: number[][] = [];
  const pick = (start: number, acc: number[]) => {
    if (acc.length === size) return void out.push([...acc]);
    for (let i = start; i < n; i++) pick(i + 1, [...acc, i]);
  };
  pick(0, []);
  return out;
}

let stderrSeq = 0;
let stderrDir: string | undefined;

/**
 * dfs-pool with stdout kept as bytes and stderr captured through a file: a
 * damaged read warns a lot, and this file tests what is read, not how the
 * warnings survive a slow pipe (pool-cli.test.ts does).
 */
function dfsPoolRaw(args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const errFile = path.join((stderrDir ??= scratchDir('dfs-pool-deg-err-')), `stderr-${++stderrSeq}`);
  const fd = fs.openSync(errFile, 'w');
  try {
    const r = spawnSync(process.execPath, [cliPath('dfs-pool'), ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', fd],
      maxBuffer: 256 * 1024 * 1024,
      timeout: 60_000,
    });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: fs.readFileSync(errFile, 'utf8') };
  } finally {
    fs.closeSync(fd);
  }
}

function dfsPool(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = dfsPoolRaw(args);
  return { ...r, stdout: r.stdout.toString('utf8') };
}

/** Shard files of the pool by `<id>.<index>` (a healthy pool has one of each). */
function shardFiles(pool: string): Map<string, string> {
  const cfg = JSON.parse(fs.readFileSync(path.join(pool, 'pool.json'), 'utf8')) as { disks: { path: string }[] };
  const out = new Map<string, string>();
  for (const d of cfg.disks) {
    const ext = path.join(path.resolve(pool, d.path), 'extents');
    if (!fs.existsSync(ext)) continue;
    for (const fan of fs.readdirSync(ext)) {
      for (const f of fs.readdirSync(path.join(ext, fan))) {
        assert.not.ok(out.has(f), `shard ${f} stored twice`);
        out.set(f, path.join(ext, fan, f));
      }
    }
  }
  return out;
}

type Damage = 'delete' | 'payload' | 'header' | 'truncate';
const DAMAGES: Damage[] = ['delete', 'payload', 'header', 'truncate'];
const PROBLEM: Record<Damage, string> = {
  delete: 'missing',
  payload: 'checksum-mismatch',
  header: 'header-damaged',
  truncate: 'truncated',
};

function damage(file: string, how: Damage): void {
  if (how === 'delete') return fs.unlinkSync(file);
  const b = fs.readFileSync(file);
  if (how === 'truncate') return fs.truncateSync(file, 128 + Math.floor((b.length - 128) / 2));
  const at = how === 'header' ? 50 : 128 + Math.floor((b.length - 128) / 3);
  b[at] ^= 0x5a;
  fs.writeFileSync(file, b);
}

/** Pairs `<extent>.<shard>` -> problem named in get's warnings. */
function namedShards(stderr: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of stderr.matchAll(/shard (\d+) of extent ([0-9a-f]{64}): ([a-z-]+)/g)) out.set(`${m[2]}.${m[1]}`, m[3]);
  return out;
}

/**
 * The shards a reader has to look at before it holds enough valid ones: all
 * data shards (rs) or copies up to the first good one (mirror), then parity
 * shards in order until K are valid. A damaged shard among them must be named.
 */
function mustBeNamed(scheme: Scheme, lost: Set<number>): number[] {
  const n = shards(scheme);
  const need = scheme.kind === 'mirror' ? 1 : scheme.k;
  const out: number[] = [];
  let valid = 0;
  for (let i = 0; i < n; i++) {
    const dataShard = scheme.kind === 'rs' && i < scheme.k;
    if (!dataShard && valid >= need) break;
    if (lost.has(i)) out.push(i);
    else valid++;
  }
  return out;
}

function setup(scheme: string, disks: number, extents: number) {
  const dir = scratchDir('dfs-pool-deg-');
  const pool = path.join(dir, 'pool');
  const outDir = path.join(dir, 'out');
  fs.mkdirSync(outDir);
  const c = dfsPool(['create', '--pool', pool, '--disks', String(disks), '--redundancy', scheme, '--extent-size', '16K']);
  assert.is(c.status, 0, c.stderr);
  // Random extents (distinct ids); the last one is short.
  const data = randomBytes(extents * EXTENT - 1000);
  fs.writeFileSync(path.join(dir, 'in'), data);
  const p = dfsPool(['put', '--pool', pool, path.join(dir, 'in'), 'obj']);
  assert.is(p.status, 0, p.stderr);
  const s = parseScheme(scheme);
  const ids: string[] = [];
  for (let off = 0; off < data.length; off += EXTENT) ids.push(extentId(s, data.subarray(off, off + EXTENT)));
  assert.is(new Set(ids).size, ids.length, 'random extents are distinct');
  return { dir, pool, outDir, data, ids, scheme: s, files: shardFiles(pool) };
}

for (const [schemeText, disks] of SCHEMES) {
  test(`${schemeText}: every set of up to M lost shards still reads back identically, naming the bad shards`, () => {
    const scheme = parseScheme(schemeText);
    const n = shards(scheme);
    const M = parityCount(scheme);
    const subsets: number[][] = [];
    for (let size = 1; size <= M; size++) subsets.push(...combinations(n, size));
    const env = setup(schemeText, disks, subsets.length + 1); // the last extent stays intact
    assert.is(env.files.size, env.ids.length * n, 'one file per shard');

    // Extent e loses the shards subsets[e], each in one of four ways (cycling).
    const lost = new Map<string, Damage>(); // `<id>.<index>` -> how
    let k = 0;
    subsets.forEach((subset, e) => {
      for (const i of subset) {
        const how = DAMAGES[k++ % DAMAGES.length];
        const name = `${env.ids[e]}.${i}`;
        damage(env.files.get(name)!, how);
        lost.set(name, how);
      }
    });

    const before = fingerprintTree(env.pool);
    const out = path.join(env.outDir, 'obj');
    const r = dfsPool(['get', '--pool', env.pool, 'obj', out]);
    assert.is(r.status, 0, `get with up to ${M} shards lost per extent: ${r.stderr.split('\n').slice(-3).join('\n')}`);
    assert.ok(fs.readFileSync(out).equals(env.data), 'get returned different bytes');

    const named = namedShards(r.stderr);
    for (const [shard, problem] of named) {
      assert.ok(lost.has(shard), `stderr names shard ${shard} (${problem}), which is intact`);
      assert.is(problem, PROBLEM[lost.get(shard)!], `shard ${shard} was damaged by ${lost.get(shard)}`);
    }
    subsets.forEach((subset, e) => {
      for (const i of mustBeNamed(scheme, new Set(subset))) {
        const id = env.ids[e];
        if (named.has(`${id}.${i}`)) continue;
        const how = subset.map((j) => `${j}:${lost.get(`${id}.${j}`)}`).join(' ');
        const said = r.stderr.split('\n').filter((l) => l.includes(id)).join('\n');
        assert.unreachable(`stderr does not name lost shard ${i} of extent ${id} (lost ${how}); stderr about it:\n${said}`);
      }
    });
    // Every warning line names its file (or where it should be).
    for (const line of r.stderr.trim().split('\n').filter(Boolean)) assert.match(line, /^dfs-pool: warning: shard \d+ of extent [0-9a-f]{64}: .* at \S+/);

    const streamed = dfsPoolRaw(['get', '--pool', env.pool, 'obj']);
    assert.is(streamed.status, 0, streamed.stderr.slice(-500));
    assert.ok(streamed.stdout.equals(env.data), 'get to stdout returned different bytes');

    assert.equal(diffFingerprints(before, fingerprintTree(env.pool)), [], 'get wrote to the pool');
    assert.equal(fs.readdirSync(env.outDir), ['obj']);
  });

  test(`${schemeText}: M+1 lost shards: exit 4 naming the extent, no OUT file, pool unchanged`, () => {
    const scheme = parseScheme(schemeText);
    const n = shards(scheme);
    const M = parityCount(scheme);
    const env = setup(schemeText, disks, 3);
    const victim = env.ids[env.ids.length - 1]; // the last extent: earlier ones were already read
    const all = combinations(n, M + 1);
    // The first, last and a middle combination: data shards only, parity-heavy, mixed.
    const picks = [...new Set([all[0], all[all.length - 1], all[Math.floor(all.length / 2)]])];
    let k = 0;
    for (const subset of picks) {
      const saved = new Map<string, Buffer>();
      for (const i of subset) {
        const file = env.files.get(`${victim}.${i}`)!;
        saved.set(file, fs.readFileSync(file));
        damage(file, DAMAGES[k++ % DAMAGES.length]);
      }
      const before = fingerprintTree(env.pool);
      const out = path.join(env.outDir, 'obj.out');
      const r = dfsPool(['get', '--pool', env.pool, 'obj', out]);
      assert.is(r.status, 4, `get with shards ${subset} of ${schemeText} lost: exit ${r.status}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      const last = lines[lines.length - 1];
      assert.ok(last.includes(victim), `the error names extent ${victim}: ${last}`);
      assert.match(last, /unrecoverable/);
      assert.equal(fs.readdirSync(env.outDir), [], `get left files in the OUT directory after failing (lost ${subset})`);
      assert.equal(diffFingerprints(before, fingerprintTree(env.pool)), [], 'a failed get changed the pool');

      const streamed = dfsPoolRaw(['get', '--pool', env.pool, 'obj']);
      assert.is(streamed.status, 4, 'get to stdout exits 4 too');
      assert.ok(streamed.stderr.includes(victim));
      assert.equal(diffFingerprints(before, fingerprintTree(env.pool)), [], 'a failed get to stdout changed the pool');

      for (const [file, bytes] of saved) fs.writeFileSync(file, bytes);
    }
    // Restored: readable again (the failures above were the damage, not the pool).
    const r = dfsPool(['get', '--pool', env.pool, 'obj', path.join(env.outDir, 'obj.out')]);
    assert.is(r.status, 0, r.stderr);
    assert.ok(fs.readFileSync(path.join(env.outDir, 'obj.out')).equals(env.data));
  });
}

test('shards on a disk that went away count as lost: M disks away still reads, M+1 does not', () => {
  const env = setup('rs:4+2', 6, 4); // six disks: each holds one shard of every extent
  const cfg = JSON.parse(fs.readFileSync(path.join(env.pool, 'pool.json'), 'utf8')) as { disks: { path: string }[] };
  const diskPaths = cfg.disks.map((d) => path.resolve(env.pool, d.path));
  const away = (i: number) => fs.renameSync(diskPaths[i], `${diskPaths[i]}.away`);
  const back = (i: number) => fs.renameSync(`${diskPaths[i]}.away`, diskPaths[i]);
  away(0);
  away(3);
  const ok = dfsPoolRaw(['get', '--pool', env.pool, 'obj']);
  assert.is(ok.status, 0, ok.stderr);
  assert.ok(ok.stdout.equals(env.data));
  away(5);
  const before = fingerprintTree(env.dir);
  const out = path.join(env.outDir, 'x');
  const bad = dfsPool(['get', '--pool', env.pool, 'obj', out]);
  assert.is(bad.status, 4, bad.stderr);
  assert.match(bad.stderr, /extent [0-9a-f]{64} is unrecoverable/);
  assert.equal(diffFingerprints(before, fingerprintTree(env.dir)), []);
  [0, 3, 5].forEach(back);
});

test.run();

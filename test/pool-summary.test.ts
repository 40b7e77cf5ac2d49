// `status` counts objects and extents from a summary saved in the state
// directory, and only while it still holds: create saves the empty pool's, a
// put adds its object when it can prove the extents new (not a dedup put, a
// replace, a disk away, shards on other disks), and after put, dedup put, rm,
// manifests removed or replaced by hand, puts from several processes at once,
// and damage to every manifest copy once a scrub has found it, its numbers
// are those of a full count; a summary that lies, is corrupt, stale, a
// symbolic link or a FIFO is not believed; a count that a put overtook is not
// saved; a manifest lock left by a dead process is taken over, one a live
// process holds is waited for, then the summary dropped; and a user who may
// read the pool but not write it still gets the numbers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cli, cliPath, scratchDir } from './helpers';
import { hostileReady, TOOL_TIMEOUT, USER, userPool } from './hostile-fixtures';
import { manifestFileName } from '../src/core/layout';
import { openPool } from '../src/core/pool';
import { manifestFingerprint } from '../src/core/manifest-fingerprint';
import { blake3Hex } from '../src/core/hash';
import { eachObject } from '../src/core/manifest';
import { SummaryCounter } from '../src/core/pool-summary';
import { onlyJustWritten } from '../src/core/new-extents';
import { ExtentList } from '../src/core/extent-list';
import { parseScheme } from '../src/core/scheme';

const EXTENT = 64 * 1024;

interface Counts {
  objects: number;
  extents: number;
  bytes: number;
  unreadableObjects: number;
  schemes: Record<string, { objects: number; extents: number; bytes: number }>;
}

function dfsPool(args: string[]) {
  const r = cli('dfs-pool', args, { timeout: TOOL_TIMEOUT });
  assert.is(r.status, 0, `dfs-pool ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r;
}

const summaryPath = (pool: string) => path.join(pool, '.dynamicfs', 'pool-summary.json');

function counts(pool: string): Counts {
  const st = JSON.parse(dfsPool(['status', '--pool', pool, '--json']).stdout);
  return { objects: st.objects, extents: st.extents, bytes: st.bytes, unreadableObjects: st.unreadableObjects, schemes: st.schemes };
}

/** What a count of every manifest says: status with no summary to lean on. */
function fullCount(pool: string): Counts {
  fs.rmSync(summaryPath(pool), { force: true });
  return counts(pool);
}

/** Status as it answers now (from the summary when it holds), checked against a full count and the expected numbers. */
function assertCounts(pool: string, want: Counts, what: string): void {
  const shown = counts(pool);
  assert.equal(shown, want, `${what}: status`);
  assert.equal(fullCount(pool), want, `${what}: full count`);
  assert.ok(fs.existsSync(summaryPath(pool)), `${what}: the full count saved a summary`);
  assert.equal(counts(pool), want, `${what}: status from the saved summary`);
}

function makePool(name: string) {
  const dir = scratchDir(`dfs-summary-${name}-`);
  const pool = path.join(dir, 'pool');
  dfsPool(['create', '--pool', pool, '--disks', '4', '--redundancy', 'rs:2+1', '--extent-size', '64K']);
  const put = (obj: string, data: Buffer, ...extra: string[]) => {
    const file = path.join(dir, `${obj}.in`);
    fs.writeFileSync(file, data);
    dfsPool(['put', '--pool', pool, file, obj, ...extra]);
  };
  return { dir, pool, put, disks: [0, 1, 2, 3].map((i) => path.join(pool, 'disks', `d${i}`)) };
}

/** A summary file as the tools write it, for the manifests as they are now, saying what the caller likes. */
function forgedSummary(pool: string, summary: Counts): string {
  const p = openPool(pool);
  const fingerprint = manifestFingerprint(p).hash;
  const checksum = `blake3:${blake3Hex(JSON.stringify([2, p.config.id, fingerprint, summary]))}`;
  return JSON.stringify({ schema: 2, poolId: p.config.id, fingerprint, summary, checksum });
}

/** The summary file's bytes, or undefined. */
const savedBytes = (pool: string) => (fs.existsSync(summaryPath(pool)) ? fs.readFileSync(summaryPath(pool)) : undefined);

/** Whether the saved summary holds for the manifests as they are, saying `want`: status will answer from it, counting nothing. */
function summaryIsCurrent(pool: string, want: Counts): boolean {
  const saved = JSON.parse(fs.readFileSync(summaryPath(pool), 'utf8'));
  if (saved.dropped !== undefined) return false; // a put or rm that could not keep it current marked it
  assert.equal(saved.summary, want, 'the saved summary says what a full count says');
  return saved.fingerprint === manifestFingerprint(openPool(pool)).hash;
}

/** One byte flipped in place: same inode, same size. */
function flip(file: string): void {
  const fd = fs.openSync(file, 'r+');
  const at = Math.floor(fs.fstatSync(fd).size / 2);
  const byte = Buffer.alloc(1);
  fs.readSync(fd, byte, 0, 1, at);
  byte[0] ^= 0x20;
  fs.writeSync(fd, byte, 0, 1, at);
  fs.closeSync(fd);
}

/** Every shard file of the pool: disk index, extent id, shard index, path. */
function shardFiles(disks: string[]): { disk: number; id: string; shard: number; path: string }[] {
  const out: { disk: number; id: string; shard: number; path: string }[] = [];
  disks.forEach((d, disk) => {
    const ext = path.join(d, 'extents');
    for (const prefix of fs.readdirSync(ext)) {
      for (const name of fs.readdirSync(path.join(ext, prefix))) {
        const m = /^([0-9a-f]{64})\.(\d+)$/.exec(name);
        if (m) out.push({ disk, id: m[1], shard: Number(m[2]), path: path.join(ext, prefix, name) });
      }
    }
  });
  return out;
}

// ---------------------------------------------------------------------------

const x = [0, 1, 2].map(() => randomBytes(EXTENT));
const y = randomBytes(EXTENT - 99);
const rs = (objects: number, extents: number, bytes: number) => ({ objects, extents, bytes });

test('put keeps the summary current: status after it counts no manifest, and says what a full count says', () => {
  const P = makePool('put-grows');
  assert.ok(summaryIsCurrent(P.pool, { objects: 0, extents: 0, bytes: 0, unreadableObjects: 0, schemes: {} }), 'create saved the empty summary');
  const a = Buffer.concat(x);
  P.put('a', a);
  const one = { objects: 1, extents: 3, bytes: a.length, unreadableObjects: 0, schemes: { 'rs:2+1': rs(1, 3, a.length) } };
  assert.ok(summaryIsCurrent(P.pool, one), 'after put: the summary holds for the manifests');
  const before = savedBytes(P.pool)!;
  assert.equal(counts(P.pool), one);
  assert.ok(savedBytes(P.pool)!.equals(before), 'status answered from it and left it as it was');

  // Extents repeated within the object are no extent new to the pool, and no sign of another manifest.
  const z = randomBytes(EXTENT);
  const withRepeats = Buffer.concat([z, z, randomBytes(EXTENT), z]);
  P.put('r', withRepeats);
  const two = { objects: 2, extents: 5, bytes: a.length + withRepeats.length, unreadableObjects: 0, schemes: { 'rs:2+1': rs(2, 5, a.length + withRepeats.length) } };
  assert.ok(summaryIsCurrent(P.pool, two), 'after a put with repeats within the object');

  P.put('m', y, '--redundancy', 'mirror:2');
  const three = { ...two, objects: 3, extents: 6, bytes: two.bytes + y.length, schemes: { ...two.schemes, 'mirror:2': rs(1, 1, y.length) } };
  assert.ok(summaryIsCurrent(P.pool, three), 'after a put of another scheme');
  assertCounts(P.pool, three, 'after three puts');

  // Extents another object names: the summary is left to a full count, which is exact.
  P.put('a-again', a);
  assert.ok(!summaryIsCurrent(P.pool, three), 'a dedup put leaves the summary stale');
  const four = { ...three, objects: 4, bytes: three.bytes + a.length, schemes: { ...three.schemes, 'rs:2+1': rs(3, 5, two.bytes + a.length) } };
  assertCounts(P.pool, four, 'after a dedup put');

  // A replace may drop extents: left to a full count.
  P.put('a-again', x[0], '--replace');
  assert.ok(!summaryIsCurrent(P.pool, four), 'a replace leaves the summary stale');
  assertCounts(P.pool, { ...four, bytes: four.bytes - a.length + x[0].length, schemes: { ...four.schemes, 'rs:2+1': rs(3, 5, two.bytes + x[0].length) } }, 'after a replace');
});

test('after a put, manifests removed or replaced by hand force a count; damage written in place, once a scrub finds it', () => {
  const P = makePool('put-then-edit');
  const a = Buffer.concat(x);
  P.put('a', a);
  P.put('b', y);
  const both = { objects: 2, extents: 4, bytes: a.length + y.length, unreadableObjects: 0, schemes: { 'rs:2+1': rs(2, 4, a.length + y.length) } };
  assert.ok(summaryIsCurrent(P.pool, both));
  const copies = (name: string) => P.disks.map((d) => path.join(d, 'objects', manifestFileName(name)));
  // Bytes written in place change no directory: the limit, said out loud, until a scrub reads the manifests.
  for (const c of copies('a')) flip(c);
  assert.equal(counts(P.pool), both, 'every copy of a damaged in place: status has not looked inside');
  const scrub = cli('dfs-scrub', ['--pool', P.pool], { timeout: TOOL_TIMEOUT });
  assert.is(scrub.status, 4, `the scrub finds the damage: ${scrub.stderr}`);
  const unreadable = { objects: 1, extents: 1, bytes: y.length, unreadableObjects: 1, schemes: { 'rs:2+1': rs(1, 1, y.length) } };
  assert.equal(counts(P.pool), unreadable, 'after the scrub found it: counted afresh');
  assert.ok(summaryIsCurrent(P.pool, unreadable), 'and that count saved');
  P.put('c', x[0]);
  for (const c of copies('b')) fs.rmSync(c);
  assert.equal(counts(P.pool), { objects: 1, extents: 1, bytes: x[0].length, unreadableObjects: 1, schemes: { 'rs:2+1': rs(1, 1, x[0].length) } }, 'b removed by hand after a put: counted afresh');
  // A copy replaced by hand (another object's manifest renamed over it) is a change to the directory.
  P.put('d', x[1]);
  const before = counts(P.pool);
  for (const [i, c] of copies('d').entries()) fs.copyFileSync(copies('c')[i], `${c}.new`);
  for (const c of copies('d')) fs.renameSync(`${c}.new`, c);
  assert.not.equal(counts(P.pool), before, 'd replaced by a copy of c: counted afresh');
  assert.equal(counts(P.pool), fullCount(P.pool));
});

test('a put whose extents have shards on other disks than their ranked ones, or with a disk away, leaves the summary to a count', () => {
  const P = makePool('elsewhere');
  P.put('m', y, '--redundancy', 'mirror:2');
  const one = { objects: 1, extents: 1, bytes: y.length, unreadableObjects: 0, schemes: { 'mirror:2': rs(1, 1, y.length) } };
  assert.ok(summaryIsCurrent(P.pool, one));
  // Both shards moved to the two disks that hold none (where an earlier disk set ranked them): still healthy.
  const shards = shardFiles(P.disks);
  assert.is(shards.length, 2);
  const free = [0, 1, 2, 3].filter((d) => !shards.some((s) => s.disk === d));
  shards.forEach((s, i) => {
    const to = path.join(P.disks[free[i]], path.relative(P.disks[s.disk], s.path));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(s.path, to);
  });
  P.put('m2', y, '--redundancy', 'mirror:2'); // writes both shards to their ranked disks again
  // Both means of looking, as a put would after writing them.
  const pool = openPool(P.pool);
  const list = ExtentList.from([{ id: shards[0].id, length: y.length }]);
  const mirror = parseScheme('mirror:2');
  assert.is(onlyJustWritten(pool, mirror, list, new Set(), 0), false, 'listing: the moved shards are seen');
  assert.is(onlyJustWritten(pool, mirror, list, new Set(), 1e12), false, 'lstat of other disks: the moved shards are seen');
  const two = { objects: 2, extents: 1, bytes: 2 * y.length, unreadableObjects: 0, schemes: { 'mirror:2': rs(2, 1, 2 * y.length) } };
  assert.ok(!summaryIsCurrent(P.pool, one), 'the put did not add an extent the other manifest names');
  assertCounts(P.pool, two, 'the same extent, found on other disks');

  const fresh = ExtentList.from([{ id: 'ab'.repeat(32), length: 1 }]);
  assert.is(onlyJustWritten(pool, mirror, fresh, new Set(), 0), false, 'listing: an extent with none of its shards written is no extent just written');
  assert.is(onlyJustWritten(pool, mirror, fresh, new Set(), 1e12), true, 'lstat: no shard on any disk but its ranked ones');

  // A disk away: its shards are out of sight, so nothing is added.
  const r = cli('dfs-inject', ['detach-disk', '--pool', P.pool, '--disk', '3'], { timeout: TOOL_TIMEOUT });
  assert.is(r.status, 0, r.stderr);
  P.put('x', x[1]);
  assert.ok(JSON.parse(savedBytes(P.pool)!.toString()).dropped, 'a put with a disk away drops the summary');
  assert.is(counts(P.pool).extents, 2);
});

test('status is exact after put, dedup put, another scheme and rm; rm leaves the summary current', () => {
  const P = makePool('put-rm');
  assertCounts(P.pool, { objects: 0, extents: 0, bytes: 0, unreadableObjects: 0, schemes: {} }, 'empty pool');
  const a = Buffer.concat(x);
  P.put('a', a);
  assertCounts(P.pool, { objects: 1, extents: 3, bytes: a.length, unreadableObjects: 0, schemes: { 'rs:2+1': { objects: 1, extents: 3, bytes: a.length } } }, 'after put');

  const b = Buffer.concat([x[0], x[1], y]); // two extents shared with a
  P.put('b', b);
  P.put('a-again', a); // every extent stored already
  const rs = (objects: number, extents: number, bytes: number) => ({ objects, extents, bytes });
  const both = a.length * 2 + b.length;
  assertCounts(P.pool, { objects: 3, extents: 4, bytes: both, unreadableObjects: 0, schemes: { 'rs:2+1': rs(3, 4, both) } }, 'after dedup puts');

  P.put('m', y, '--redundancy', 'mirror:2'); // the same bytes under another scheme: another extent
  const withM = { objects: 4, extents: 5, bytes: both + y.length, unreadableObjects: 0, schemes: { 'rs:2+1': rs(3, 4, both), 'mirror:2': rs(1, 1, y.length) } };
  assert.equal(counts(P.pool), withM, 'after a put of another scheme');

  dfsPool(['rm', '--pool', P.pool, 'b']);
  const afterRm = { objects: 3, extents: 4, bytes: a.length * 2 + y.length, unreadableObjects: 0, schemes: { 'rs:2+1': rs(2, 3, a.length * 2), 'mirror:2': rs(1, 1, y.length) } };
  const saved = JSON.parse(fs.readFileSync(summaryPath(P.pool), 'utf8'));
  assert.equal(saved.summary, afterRm, 'rm saved the summary of what it left');
  assertCounts(P.pool, afterRm, 'after rm');
  const before = fs.readFileSync(summaryPath(P.pool));
  counts(P.pool);
  assert.ok(fs.readFileSync(summaryPath(P.pool)).equals(before), 'a status that found the summary current leaves it as it is');
});

test('a damaged manifest copy: one copy damaged changes nothing, every copy damaged counts the object unreadable', () => {
  const P = makePool('damage');
  const a = Buffer.concat(x);
  P.put('a', a);
  P.put('b', y);
  const rs = { objects: 2, extents: 4, bytes: a.length + y.length, unreadableObjects: 0, schemes: { 'rs:2+1': { objects: 2, extents: 4, bytes: a.length + y.length } } };
  assert.equal(counts(P.pool), rs);
  const copies = P.disks.map((d) => path.join(d, 'objects', manifestFileName('a')));
  flip(copies[0]);
  assert.equal(fullCount(P.pool), rs, 'one damaged copy of four: the object still reads');
  for (const c of copies.slice(1)) flip(c);
  const scrub = cli('dfs-scrub', ['--pool', P.pool], { timeout: TOOL_TIMEOUT });
  assert.is(scrub.status, 4, `the scrub finds every copy damaged and drops the summary: ${scrub.stderr}`);
  const unreadable = { objects: 1, extents: 1, bytes: y.length, unreadableObjects: 1, schemes: { 'rs:2+1': { objects: 1, extents: 1, bytes: y.length } } };
  assertCounts(P.pool, unreadable, 'every copy damaged');
  const text = dfsPool(['status', '--pool', P.pool]).stdout;
  assert.match(text, /^objects:\s+1 \(\+1 with every manifest copy damaged\)/m);
});

test('a summary that lies, is corrupt, stale, a symbolic link or a FIFO is not believed, followed or waited on', () => {
  const P = makePool('hostile');
  const a = Buffer.concat(x);
  P.put('a', a);
  const truth = { objects: 1, extents: 3, bytes: a.length, unreadableObjects: 0, schemes: { 'rs:2+1': { objects: 1, extents: 3, bytes: a.length } } };
  assert.equal(counts(P.pool), truth);
  const file = summaryPath(P.pool);
  const good = fs.readFileSync(file, 'utf8');
  const lie = { ...truth, extents: 7, schemes: { 'rs:2+1': { ...truth.schemes['rs:2+1'], extents: 7 } } };

  const cases: [string, () => void][] = [
    ['numbers edited', () => fs.writeFileSync(file, good.replace(/"extents": 3/g, '"extents": 7'))],
    ['numbers that do not add up, checksum and all', () => fs.writeFileSync(file, forgedSummary(P.pool, { ...truth, extents: 7 }))],
    ['an older schema', () => fs.writeFileSync(file, good.replace('"schema": 2', '"schema": 1'))],
    ['a drop mark', () => fs.writeFileSync(file, JSON.stringify({ schema: 2, dropped: 'now' }))],
    ['not JSON', () => fs.writeFileSync(file, randomBytes(300))],
    ['empty', () => fs.writeFileSync(file, '')],
    ['huge', () => fs.writeFileSync(file, Buffer.alloc(2 * 1024 * 1024, 0x20))],
    ['a directory', () => fs.mkdirSync(file)],
    ['a symbolic link to a well-formed summary that lies', () => {
      const outside = path.join(P.dir, 'outside.json');
      fs.writeFileSync(outside, forgedSummary(P.pool, lie));
      fs.symlinkSync(outside, file);
    }],
    ['a FIFO', () => {
      const r = spawnSync('mkfifo', [file]);
      assert.is(r.status, 0, String(r.stderr));
    }],
  ];
  for (const [what, plant] of cases) {
    fs.rmSync(file, { recursive: true, force: true });
    plant();
    assert.equal(counts(P.pool), truth, what);
    const st = fs.lstatSync(file);
    if (what === 'a directory') assert.ok(st.isDirectory(), 'a directory in its place is left alone');
    else assert.ok(st.isFile() && fs.readFileSync(file, 'utf8').includes('"extents": 3'), `${what}: replaced by a true summary`);
  }
  assert.match(fs.readFileSync(path.join(P.dir, 'outside.json'), 'utf8'), /"extents":7/, 'the link target outside the state directory is untouched');

  // A summary that was true once: saved before a put, put back after it.
  fs.rmSync(file, { recursive: true, force: true });
  counts(P.pool);
  const old = fs.readFileSync(file);
  P.put('b', y);
  fs.writeFileSync(file, old);
  assert.equal(counts(P.pool).objects, 2, 'a stale summary is counted afresh');

  // The limit, said out loud: a summary forged in place, for these very manifests, by whoever may write the state directory, is believed.
  fs.writeFileSync(file, forgedSummary(P.pool, { ...lie, objects: 2, bytes: a.length + y.length, schemes: { 'rs:2+1': { objects: 2, extents: 7, bytes: a.length + y.length } } }));
  assert.is(counts(P.pool).extents, 7);
});

test('a count that a put overtook is shown but not saved: the next status counts again', () => {
  const P = makePool('race');
  P.put('a', x[0]);
  fs.rmSync(summaryPath(P.pool)); // no summary for the put below to add to
  const pool = openPool(P.pool);
  // A walk that began before a put landed: the put's manifest copies change the fingerprint under it.
  const counter = new SummaryCounter(pool);
  P.put('b', x[1]);
  eachObject(pool, (o) => counter.add(o));
  assert.is(counter.save(), false, 'not saved');
  assert.not.ok(JSON.parse(fs.readFileSync(summaryPath(P.pool), 'utf8')).summary, 'the put left a mark, no summary');
  assert.is(counts(P.pool).objects, 2);
  const settled = new SummaryCounter(pool);
  eachObject(pool, (o) => settled.add(o));
  assert.is(settled.save(), true, 'a walk nothing overtook is saved');
  assert.equal(settled.summary, counts(P.pool));
});

test('puts from several processes at once, sharing extents: status says what a full count says', async () => {
  const P = makePool('parallel');
  const shared = randomBytes(EXTENT);
  const inputs: string[][] = [];
  for (let w = 0; w < 4; w++) {
    const files: string[] = [];
    for (let i = 0; i < 6; i++) {
      const file = path.join(P.dir, `w${w}-${i}.in`);
      fs.writeFileSync(file, i % 2 ? Buffer.concat([shared, randomBytes(100)]) : randomBytes(EXTENT + 7));
      files.push(file);
    }
    inputs.push(files);
  }
  // Each worker a shell running its puts one after another, the four at once.
  const workers = inputs.map((files, w) =>
    new Promise<number | null>((resolve) => {
      const script = files.map((f, i) => `${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath('dfs-pool'))} put --pool ${JSON.stringify(P.pool)} ${JSON.stringify(f)} w${w}-${i} || exit 1`).join('\n');
      spawn('sh', ['-c', script], { stdio: 'ignore' }).on('exit', resolve);
    }),
  );
  assert.equal(await Promise.all(workers), [0, 0, 0, 0], 'every put succeeded');
  const shown = counts(P.pool);
  assert.is(shown.objects, 24);
  assert.equal(shown, fullCount(P.pool), 'status as the puts left it, and a full count');
});

test('a manifest lock a dead process left is taken over; one a live process holds is waited for, then the summary dropped', () => {
  const P = makePool('lock');
  const lock = path.join(P.pool, '.dynamicfs', 'manifests.lock');
  const holder = (pid: number, since = new Date().toISOString()) => fs.writeFileSync(lock, JSON.stringify({ pid, owner: 'put elsewhere', since }));
  const dead = spawnSync('true').pid!;
  holder(dead);
  P.put('a', x[0]);
  const one = { objects: 1, extents: 1, bytes: EXTENT, unreadableObjects: 0, schemes: { 'rs:2+1': rs(1, 1, EXTENT) } };
  assert.ok(summaryIsCurrent(P.pool, one), 'a dead PID: taken over, the summary kept current');
  assert.not.ok(fs.existsSync(lock), 'and released');

  holder(1, '1970-01-02T00:00:00.000Z');
  P.put('b', x[1]);
  const two = { objects: 2, extents: 2, bytes: 2 * EXTENT, unreadableObjects: 0, schemes: { 'rs:2+1': rs(2, 2, 2 * EXTENT) } };
  assert.ok(summaryIsCurrent(P.pool, two), 'a live PID that took it before this boot: another process now, taken over');

  const live = spawn('sleep', ['120'], { stdio: 'ignore' });
  try {
    holder(live.pid!);
    const t0 = Date.now();
    P.put('c', x[2]);
    assert.ok(Date.now() - t0 >= 9_000, 'the put waited for the holder');
    assert.not.ok(summaryIsCurrent(P.pool, two), 'then wrote its manifest and dropped the summary');
    assert.is(JSON.parse(fs.readFileSync(lock, 'utf8')).pid, live.pid, 'the live holder\'s lock left alone');
    const t1 = Date.now();
    assert.is(counts(P.pool).objects, 3, 'status counts');
    assert.ok(Date.now() - t1 < 5_000, 'and does not wait for the lock to save what it counted');
    live.kill();
    assertCounts(P.pool, { objects: 3, extents: 3, bytes: 3 * EXTENT, unreadableObjects: 0, schemes: { 'rs:2+1': rs(3, 3, 3 * EXTENT) } }, 'after a put that could not take the lock');
  } finally {
    if (live.exitCode === null) live.kill();
  }
});

test('a user who may read the pool but not write it gets exact numbers, and writes nothing', () => {
  if (!hostileReady('read-only status')) return;
  const U = userPool(0); // root's pool, readable by all
  fs.rmSync(summaryPath(U.root), { force: true });
  const r = spawnSync('setpriv', ['--reuid', String(USER), '--regid', String(USER), '--clear-groups', process.execPath, cliPath('dfs-pool'), 'status', '--pool', U.root, '--json'], {
    encoding: 'utf8',
    timeout: TOOL_TIMEOUT,
  });
  assert.is(r.status, 0, `status as uid ${USER}: ${r.stderr}`);
  const shown = JSON.parse(r.stdout);
  assert.ok(!fs.existsSync(summaryPath(U.root)), 'nothing written by a user who may not write');
  assert.equal(
    [shown.objects, shown.unreadableObjects, shown.bytes],
    [2, 0, [...U.objects.values()].reduce((n, b) => n + b.length, 0)],
  );
  const full = counts(U.root);
  assert.equal({ objects: shown.objects, extents: shown.extents, bytes: shown.bytes, unreadableObjects: shown.unreadableObjects, schemes: shown.schemes }, full, `as uid ${USER} as root counts`);
});

test.run();

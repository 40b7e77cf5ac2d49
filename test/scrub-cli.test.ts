// dfs-scrub as a command: bad input (exit 16, one stderr line naming the
// culprit), operational errors (exit 8), the scrub lock (live holder, dead
// holder), the guide's `dynamicfs scrub` commands, `dfs-pool status` after a
// scrub, persisted counters across passes, the --max-rate cap, and SIGTERM /
// SIGINT with --resume (exit 32, cursor saved, counters neither lost nor doubled).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cli, cliAsync, collect, scratchDir } from './helpers';
import {
  assertObjectsIntact,
  assertRestored,
  clonePool,
  Fixture,
  flipBit,
  makePool,
  poolPrint,
  readState,
  Report,
  scrub,
  scrubExpect,
  shardOf,
  sleep,
  summarize,
  assertUnchanged,
} from './scrub-fixtures.test';
import { diffFingerprints, fingerprintTree } from './helpers';

const HEADER = 128;

let template: Fixture | undefined;
const fresh = (): Fixture => clonePool((template ??= makePool()));

const lockFile = (pool: string) => path.join(pool, '.dynamicfs', 'scrub.lock');

/** stderr is exactly one non-empty line. */
function oneLine(stderr: string, what: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  assert.is(lines.length, 1, `${what}: expected one stderr line, got ${lines.length}:\n${stderr}`);
  return lines[0];
}

// ---------------------------------------------------------------------------
// Bad input

test('usage errors: exit 16, nothing on stdout, one stderr line naming the culprit; non-pool: exit 8', () => {
  const fx = fresh();
  const before = poolPrint(fx.pool);
  const notPool = scratchDir('dfs-scrub-notpool-');
  const cases: { args: string[]; exit: number; culprit: RegExp }[] = [
    { args: ['--pool', fx.pool, '--intensity', 'extreme'], exit: 16, culprit: /--intensity.*extreme/ },
    { args: ['--pool', fx.pool, '--max-rate', 'abc'], exit: 16, culprit: /--max-rate.*abc/ },
    { args: ['--pool', fx.pool, '--max-rate', '0'], exit: 16, culprit: /--max-rate/ },
    { args: ['--pool', fx.pool, '--max-rate', '-5M'], exit: 16, culprit: /--max-rate|-5/ },
    { args: [], exit: 16, culprit: /--pool/ },
    { args: ['--repair', '--json'], exit: 16, culprit: /--pool/ },
    { args: ['--pool', fx.pool, '--frobnicate'], exit: 16, culprit: /--frobnicate/ },
    { args: ['--pool', fx.pool, '--pool', fx.pool], exit: 16, culprit: /--pool/ },
    { args: ['--pool', notPool], exit: 8, culprit: new RegExp(notPool.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) },
    { args: ['--pool', path.join(notPool, 'does', 'not', 'exist')], exit: 8, culprit: /does\/not\/exist/ },
  ];
  for (const c of cases) {
    for (const json of [false, true]) {
      const args = json ? [...c.args, '--json'] : c.args;
      const r = cli('dfs-scrub', args, { timeout: 20_000 });
      const what = `dfs-scrub ${args.join(' ')}`;
      assert.is(r.status, c.exit, `${what}: exit ${r.status}, stderr: ${r.stderr}`);
      assert.is(r.stdout, '', `${what}: stdout must be empty`);
      const line = oneLine(r.stderr, what);
      assert.match(line, c.culprit, `${what}: the stderr line does not name the culprit: ${line}`);
      assert.match(line, /^dfs-scrub: /, `${what}: the line starts with the program name`);
    }
  }
  // The umbrella says the same.
  const u = cli('dynamicfs', ['scrub', '--pool', fx.pool, '--intensity', 'extreme']);
  assert.is(u.status, 16, u.stderr);
  assert.match(oneLine(u.stderr, 'dynamicfs scrub --intensity extreme'), /--intensity/);
  assertUnchanged(before, fx.pool, 'usage errors');
  assert.equal(fs.readdirSync(notPool), [], 'a non-pool directory was written to');
});

test('--help and --version exit 0 and --help lists every option', () => {
  const h = cli('dfs-scrub', ['--help']);
  assert.is(h.status, 0, h.stderr);
  for (const o of ['--pool', '--repair', '--json', '--intensity', '--max-rate', '--resume', '--verbose']) assert.ok(h.stdout.includes(o), `--help lists ${o}`);
  const v = cli('dfs-scrub', ['--version']);
  assert.is(v.status, 0);
  assert.match(v.stdout, /\d+\.\d+\.\d+/);
});

// ---------------------------------------------------------------------------
// The lock

test('a second scrubber while the lock names a live PID: exit 8 naming the PID; lock and pool untouched', async () => {
  const fx = fresh();
  flipBit(shardOf(fx, 'alpha', 0, 0).path, HEADER + 1); // something a repair would change
  const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    fs.mkdirSync(path.join(fx.pool, '.dynamicfs'), { recursive: true });
    const text = JSON.stringify({ pid: holder.pid, owner: 'test', since: new Date().toISOString() }) + '\n';
    fs.writeFileSync(lockFile(fx.pool), text);
    const before = fingerprintTree(fx.pool); // everything, the state file too
    for (const args of [[], ['--repair'], ['--repair', '--json']]) {
      const r = cli('dfs-scrub', ['--pool', fx.pool, ...args], { timeout: 20_000 });
      assert.is(r.status, 8, `dfs-scrub ${args.join(' ')} while locked: exit ${r.status}: ${r.stderr}`);
      const line = oneLine(r.stderr, 'locked');
      assert.ok(line.includes(String(holder.pid)), `the message names the holder's PID ${holder.pid}: ${line}`);
      assert.is(r.stdout, '');
    }
    const u = cli('dynamicfs', ['scrub', '--pool', fx.pool, '--repair']);
    assert.is(u.status, 8, u.stderr);
    assert.equal(diffFingerprints(before, fingerprintTree(fx.pool)), [], 'a refused scrubber changed the pool or the lock');
    assert.is(fs.readFileSync(lockFile(fx.pool), 'utf8'), text);
  } finally {
    holder.kill('SIGKILL');
  }
});

test('a lock naming a dead PID is taken over (exit 0) and released afterwards', async () => {
  const fx = fresh();
  const dead = spawn('true', [], { stdio: 'ignore' });
  await new Promise((r) => dead.once('exit', r));
  fs.mkdirSync(path.join(fx.pool, '.dynamicfs'), { recursive: true });
  fs.writeFileSync(lockFile(fx.pool), JSON.stringify({ pid: dead.pid, owner: 'test', since: '2020-01-01T00:00:00.000Z' }) + '\n');
  const r = scrubExpect(fx.pool, [], 0, 'scrub over a stale lock');
  assert.equal(r.issues, []);
  assert.not.ok(fs.existsSync(lockFile(fx.pool)), 'the lock is released at the end');
  // A garbage lock from long ago is stale too.
  fs.writeFileSync(lockFile(fx.pool), 'garbage');
  fs.utimesSync(lockFile(fx.pool), new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
  scrubExpect(fx.pool, [], 0, 'scrub over an old unparseable lock');
});

test('a lock file that is still empty (its creator is between O_EXCL create and write) is not taken over at once', () => {
  // acquireScrubLock creates the lock with O_EXCL and writes the PID after: a
  // second scrubber that reads it in between sees an empty file. Treating that
  // as stale lets two scrubbers run on one pool.
  const fx = fresh();
  fs.mkdirSync(path.join(fx.pool, '.dynamicfs'), { recursive: true });
  fs.writeFileSync(lockFile(fx.pool), '');
  const r = scrub(fx.pool, []);
  assert.is(r.status, 8, `an empty lock created a moment ago was taken over (exit ${r.status}): two scrubbers can run at once`);
});

// ---------------------------------------------------------------------------
// The guide's commands, status, counters

test("the guide's three commands work through `dynamicfs scrub`; `dfs-pool status` shows the last scrub", () => {
  const fx = fresh();
  const s = shardOf(fx, 'alpha', 1, 3);
  flipBit(s.path, HEADER + 77);
  const t = cli('dynamicfs', ['scrub', '--pool', fx.pool], { timeout: 30_000 });
  assert.is(t.status, 4, `dynamicfs scrub --pool P: ${t.stderr}`);
  assert.ok(t.stdout.includes('checksum-mismatch'), `text output names the kind:\n${t.stdout}`);
  assert.ok(t.stdout.includes(s.path), 'text output names the file');
  assert.match(t.stdout, new RegExp(`disk ${s.disk}\\b`), 'text output names the disk');

  const r = cli('dynamicfs', ['scrub', '--pool', fx.pool, '--repair'], { timeout: 30_000 });
  assert.is(r.status, 1, `dynamicfs scrub --pool P --repair: ${r.stderr}`);
  assert.ok(r.stdout.includes('repaired'), r.stdout);
  assertRestored(fx, s.path, 'dynamicfs scrub --repair');

  const j = cli('dynamicfs', ['scrub', '--pool', fx.pool, '--repair', '--json'], { timeout: 30_000 });
  assert.is(j.status, 0, `dynamicfs scrub --pool P --repair --json: ${j.stderr}`);
  const rep = JSON.parse(j.stdout) as Report;
  assert.is(rep.schema, 1);
  assert.is(rep.outcome, 'clean');
  assert.equal(rep.issues, []);
  assert.equal(rep.extents, { ...rep.extents, healthy: 6, degraded: 0, unrecoverable: 0 });

  // dfs-pool status (and `dynamicfs status`, the guide's form): time, duration and outcome of the last pass.
  const st = readState(fx.pool);
  const last = st.lastPass;
  assert.is(last.outcome, 'clean');
  assert.is(last.finishedAt, (rep as unknown as { finishedAt: string }).finishedAt);
  for (const cmd of [['dfs-pool', ['status', '--pool', fx.pool]], ['dynamicfs', ['status', '--pool', fx.pool]]] as const) {
    const out = cli(cmd[0], [...cmd[1]]);
    assert.is(out.status, 0, out.stderr);
    const line = out.stdout.split('\n').find((l) => l.startsWith('last scrub:'));
    assert.ok(line, `${cmd[0]} status has a "last scrub:" line:\n${out.stdout}`);
    assert.ok(line!.includes(last.finishedAt), `last scrub time: ${line}`);
    assert.ok(/\d+(\.\d+)? ?(ms|s)\b|\d+m\d+s/.test(line!), `last scrub duration: ${line}`);
    assert.ok(line!.includes('clean'), `last scrub outcome: ${line}`);
  }
  const js = cli('dfs-pool', ['status', '--pool', fx.pool, '--json']);
  assert.is(js.status, 0);
  const sj = JSON.parse(js.stdout);
  assert.is(sj.scrub.lastPass.finishedAt, last.finishedAt);
  assert.is(sj.scrub.lastPass.outcome, 'clean');
  assert.type(sj.scrub.lastPass.durationSeconds, 'number');
});

test('state counters add up across passes (verify, repair, verify)', () => {
  const fx = fresh();
  const damaged = [shardOf(fx, 'alpha', 0, 2), shardOf(fx, 'alpha', 3, 5), shardOf(fx, 'beta', 1, 0)];
  for (const s of damaged) flipBit(s.path, HEADER + 3);
  const v1 = scrubExpect(fx.pool, [], 4, 'verify 1');
  const total = v1.extents.total;
  let st = readState(fx.pool);
  assert.equal(
    { ...st.counters, bytesRead: 0 },
    { scrubsCompleted: 1, issuesFound: 3, repairsAttempted: 0, repairsSuccessful: 0, extentsScanned: total, bytesRead: 0 },
    'after verify 1',
  );
  assert.is(st.counters.bytesRead, v1.bytesRead);
  const v2 = scrubExpect(fx.pool, [], 4, 'verify 2');
  const r = scrubExpect(fx.pool, ['--repair'], 1, 'repair');
  const v3 = scrubExpect(fx.pool, [], 0, 'verify 3');
  st = readState(fx.pool);
  assert.equal(
    { ...st.counters, bytesRead: 0 },
    { scrubsCompleted: 4, issuesFound: 9, repairsAttempted: 3, repairsSuccessful: 3, extentsScanned: 4 * total, bytesRead: 0 },
    'after verify, verify, repair, verify',
  );
  assert.is(st.counters.bytesRead, v1.bytesRead + v2.bytesRead + r.bytesRead + v3.bytesRead);
  assert.is(st.lastPass.outcome, 'clean');
  assert.equal(st.health, { healthy: total, degraded: 0, unrecoverable: 0 });
  assert.is(st.current, undefined, 'no pass in progress');
  // A refused run (usage error, lock) counts nothing.
  cli('dfs-scrub', ['--pool', fx.pool, '--intensity', 'extreme']);
  assert.equal(readState(fx.pool).counters, st.counters);
});

test('the extent index: an extent two objects share is counted once and names both; junk left by a killed pass is rebuilt; nothing stays behind', () => {
  const data = randomBytes(200 * 1024);
  const fx = makePool({ extentSize: '64K', objects: [{ name: 'first', size: data.length, data }, { name: 'second', size: data.length, data }] });
  const ids = fx.objects[0].extents;
  assert.equal(fx.objects[1].extents, ids, 'the same data gives the same extents');
  // What a pass killed mid-way leaves: bucket files, one of them torn mid-record.
  const index = path.join(fx.pool, '.dynamicfs', 'extent-index');
  fs.mkdirSync(index, { recursive: true });
  fs.writeFileSync(path.join(index, ids[0].slice(0, 2)), randomBytes(41 * 3 + 7));
  fs.writeFileSync(path.join(index, 'ff'), randomBytes(41));
  flipBit(shardOf(fx, 'first', 1, 3).path, HEADER + 9);
  const r = scrubExpect(fx.pool, [], 4, 'verify');
  assert.is(r.extents.total, ids.length, 'shared extents counted once');
  assert.is(r.extents.scanned, ids.length);
  assert.is(r.extents.degraded, 1);
  assert.is(r.objects.total, 2);
  assert.is(r.issues.length, 1, summarize(r.issues));
  assert.equal([...(r.issues[0].objects ?? [])].sort(), ['first', 'second'], 'the finding names both objects');
  assert.not.ok(fs.existsSync(index), 'the index is removed when the pass ends');
});

test('a corrupt scrub-state.json: exit 8 naming the file, and it is not silently reset', () => {
  const fx = fresh();
  const state = path.join(fx.pool, '.dynamicfs', 'scrub-state.json');
  fs.mkdirSync(path.dirname(state), { recursive: true });
  fs.writeFileSync(state, '{"schema": 1, "counters": {"scrubsCo');
  const r = cli('dfs-scrub', ['--pool', fx.pool, '--json'], { timeout: 20_000 });
  assert.is(r.status, 8, `exit ${r.status}: ${r.stderr}`);
  assert.ok(oneLine(r.stderr, 'corrupt state').includes(state), r.stderr);
  assert.is(fs.readFileSync(state, 'utf8'), '{"schema": 1, "counters": {"scrubsCo', 'the corrupt state file is left for the operator');
  assert.not.ok(fs.existsSync(lockFile(fx.pool)), 'the lock is released after the error');
});

// ---------------------------------------------------------------------------
// Rate cap

test('--max-rate 2M on a ~12 MiB pool takes at least ~size/rate seconds', () => {
  const fx = makePool({ objects: [{ name: 'big', size: 8 * 1024 * 1024 }] });
  const rate = 2 * 1024 * 1024;
  const t0 = Date.now();
  const r = scrubExpect(fx.pool, ['--max-rate', '2M'], 0, 'rate-capped verify');
  const wall = (Date.now() - t0) / 1000;
  assert.ok(r.bytesRead >= 12 * 1024 * 1024, `bytes read ${r.bytesRead}`);
  const floor = (0.8 * r.bytesRead) / rate;
  assert.ok(r.durationSeconds >= floor, `--max-rate 2M: ${r.bytesRead} bytes in ${r.durationSeconds} s, expected >= ${floor.toFixed(2)} s`);
  assert.ok(wall >= floor);
  // Generous upper bound: the cap must not throttle far below the rate either.
  assert.ok(r.durationSeconds < (4 * r.bytesRead) / rate + 10, `--max-rate 2M took ${r.durationSeconds} s for ${r.bytesRead} bytes`);
  // K/M suffixes, plain bytes and "/s" all parse.
  const small = fresh();
  for (const v of ['64M', '1048576', '512K', '1G/s']) assert.is(cli('dfs-scrub', ['--pool', small.pool, '--max-rate', v, '--json']).status, 0, `--max-rate ${v}`);
});

// ---------------------------------------------------------------------------
// SIGTERM / SIGINT and --resume

/** Many small extents (4 KiB) so that --intensity low (100 ms between extents) takes seconds. */
function slowPool(extents: number, damage: number[]): { fx: Fixture; ids: string[] } {
  const fx = makePool({ extentSize: '4K', objects: [{ name: 'many', size: extents * 4096 }] });
  const ids = [...new Set(fx.shards.map((s) => s.extent))].sort();
  assert.is(ids.length, extents);
  for (const i of damage) flipBit(fx.shards.find((s) => s.extent === ids[i] && s.index === 1)!.path, HEADER + 9);
  return { fx, ids };
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const hasCurrent = (pool: string) => {
  try {
    return !!readState(pool).current;
  } catch {
    return false;
  }
};

async function interrupted(pool: string, args: string[], signal: NodeJS.Signals, afterMs: number) {
  const child = cliAsync('dfs-scrub', ['--pool', pool, '--intensity', 'low', '--json', ...args]);
  const done = collect(child);
  await waitFor(() => hasCurrent(pool), 20_000, 'the first checkpoint (state.current)');
  await sleep(afterMs);
  child.kill(signal);
  const r = await done;
  return r;
}

for (const mode of ['verify', 'repair'] as const) {
  test(`SIGTERM during a slow ${mode} pass: exit 32, cursor saved; --resume finishes it with counters exact (not doubled)`, async () => {
    const N = 30;
    const damagedAt = [2, 7, 11, 16, 21, 25, 29];
    const { fx, ids } = slowPool(N, damagedAt);
    const extra = mode === 'repair' ? ['--repair'] : [];
    const r = await interrupted(fx.pool, extra, 'SIGTERM', 900);
    assert.is(r.status, 32, `exit after SIGTERM: ${r.status} ${r.signal}: ${r.stderr}`);
    const rep = JSON.parse(r.stdout) as Report;
    assert.is(rep.outcome, 'cancelled');
    assert.is(rep.exitCode, 32);
    const st = readState(fx.pool);
    const cur = st.current;
    assert.ok(cur, 'state.current is kept after SIGTERM');
    assert.is(cur.mode, mode);
    const k = cur.extentsDone;
    assert.ok(k >= 1 && k < N, `extents done at SIGTERM: ${k} of ${N} (SIGTERM came too late or too early for the test)`);
    assert.is(cur.cursor, ids[k - 1], 'the cursor is the last extent done, in id order');
    assert.is(st.counters.extentsScanned, k, 'counters saved with the cursor');
    assert.is(st.counters.scrubsCompleted, 0);
    const foundBefore = damagedAt.filter((i) => i < k).length;
    assert.is(st.counters.issuesFound, foundBefore, 'issues found before SIGTERM');
    assert.not.ok(fs.existsSync(lockFile(fx.pool)), 'the lock is released on SIGTERM');

    const res = scrubExpect(fx.pool, ['--resume', '--intensity', 'max', ...extra], mode === 'repair' ? 1 : 4, 'resume');
    assert.is(res.resumed, true, 'report.resumed');
    assert.is(res.extents.scanned, N, 'the resumed pass reports the whole pass scanned');
    assert.is(res.extents.total, N);
    const after = readState(fx.pool);
    assert.is(after.current, undefined, 'no pass in progress after the resumed pass completes');
    assert.is(after.counters.extentsScanned, N, `extentsScanned after SIGTERM + resume: ${after.counters.extentsScanned}, expected exactly ${N}`);
    assert.is(after.counters.scrubsCompleted, 1);
    assert.is(after.counters.issuesFound, damagedAt.length, 'every damaged shard counted exactly once');
    if (mode === 'repair') {
      assert.is(after.counters.repairsAttempted, damagedAt.length);
      assert.is(after.counters.repairsSuccessful, damagedAt.length);
    }
    assert.is(after.lastPass.extentsScanned, N);
    // The resumed pass re-read only what was left.
    const later = scrubExpect(fx.pool, [], mode === 'repair' ? 0 : 4, 'a full pass after');
    assert.is(readState(fx.pool).counters.extentsScanned, 2 * N);
    assert.is(readState(fx.pool).counters.bytesRead, 2 * later.bytesRead, 'bytesRead: exactly two full passes');
    if (mode === 'repair') assertObjectsIntact(fx, 'after resumed repair');
  });
}

test('SIGINT also cancels (exit 32); a plain run after it starts afresh (resumed false); --resume with nothing to resume is a normal pass', async () => {
  const N = 20;
  const { fx } = slowPool(N, []);
  const r = await interrupted(fx.pool, [], 'SIGINT', 500);
  assert.is(r.status, 32, `exit after SIGINT: ${r.status} ${r.signal}: ${r.stderr}`);
  const k = readState(fx.pool).current.extentsDone;
  const fresh1 = scrubExpect(fx.pool, ['--intensity', 'max'], 0, 'plain run after SIGINT');
  assert.is(fresh1.resumed, false);
  assert.is(fresh1.extents.scanned, N);
  assert.is(readState(fx.pool).counters.extentsScanned, k + N, 'the abandoned partial pass stays counted, the new one counts in full');
  const again = scrubExpect(fx.pool, ['--resume', '--intensity', 'max'], 0, '--resume with no pass to resume');
  assert.is(again.resumed, false);
  assert.is(again.extents.scanned, N);
});

test.run();

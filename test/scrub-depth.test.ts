// Light scrubs and re-checking only what was wrong. A light pass checks each
// shard file's type, size and 128-byte header without reading its payload:
// it finds missing, truncated, oversized, misplaced, non-regular and
// header-damaged shards, never payload rot, repairs what it finds as a deep
// pass would, and keeps in the state what only a deep pass could see.
// --only-known re-checks just the extents and manifest copies the last
// passes left as problems.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { cli, cliAsync, collect } from './helpers';
import { spawn } from 'node:child_process';
import { assertObjectsIntact, clonePool, Fixture, flipBit, makePool, objectOf, Report, scrubExpect as scrubReport, shardOf, summarize } from './scrub-fixtures.test';
import { foldKnownPass, foldLightPass, knownScope } from '../src/scrub/known-problems';
import type { OpenProblem } from '../src/scrub/state';
import type { Health } from '../src/scrub/verify';
import { readState } from './daemon-fixtures';

const HEADER = 128;
type DepthReport = Report & { pass: string; depth: string; scope: string; finishedAt: string };
const scrubExpect = (pool: string, args: string[], exit: number) => scrubReport(pool, args, exit) as DepthReport;
let template: Fixture | undefined;
const fresh = (): Fixture => clonePool((template ??= makePool()));

interface DepthState {
  health: { healthy: number; degraded: number; unrecoverable: number };
  openProblems: { extent?: string; kind: string }[];
  lastPass?: { id: string };
  lastLight?: { id: string; depth?: string };
  current?: { id: string; cursor: string };
}
const depthState = (fx: Fixture) => readState(fx.pool) as unknown as DepthState;

/** One shard of each kind a light pass can see, each on its own extent, and payload rot it cannot. */
function damageAll(fx: Fixture): Record<string, string> {
  const missing = shardOf(fx, 'alpha', 0, 1);
  fs.rmSync(missing.path);
  const truncated = shardOf(fx, 'alpha', 1, 2);
  fs.truncateSync(truncated.path, 1000);
  const oversized = shardOf(fx, 'alpha', 2, 3);
  fs.appendFileSync(oversized.path, Buffer.alloc(10));
  const header = shardOf(fx, 'beta', 0, 1);
  flipBit(header.path, 50, 2);
  const odd = shardOf(fx, 'alpha', 3, 0);
  fs.rmSync(odd.path);
  fs.symlinkSync('/etc/hostname', odd.path);
  // Rot beside the truncated shard: the light repair rebuilds that one from shards it believes valid, one of
  // them rotten, and still writes only what proves against the extent's id.
  const rot = shardOf(fx, 'alpha', 1, 0);
  flipBit(rot.path, HEADER + 100, 1);
  return { missing: missing.path, truncated: truncated.path, oversized: oversized.path, header: header.path, odd: odd.path, rot: rot.path };
}

const kinds = (issues: { kind: string }[]) => issues.map((i) => i.kind).sort();

test('light: every damage but payload rot found from the headers alone, repaired as a deep pass would', () => {
  const fx = fresh();
  const at = damageAll(fx);
  const light = scrubExpect(fx.pool, ['--light'], 4);
  assert.is(light.depth, 'light');
  assert.is(light.scope, 'all');
  assert.equal(kinds(light.issues), ['header-damaged', 'missing-shard', 'not-regular-file', 'oversized', 'truncated'], summarize(light.issues));
  assert.not.ok(light.issues.some((i) => i.path === at.rot), 'a light pass cannot see payload rot');
  const files = fx.shards.length;
  assert.ok(light.bytesRead <= files * HEADER, `a light pass reads headers only: ${light.bytesRead} bytes for ${files} shard files`);
  const text = cli('dfs-scrub', ['--pool', fx.pool, '--light']);
  assert.match(text.stdout, /\(light, verify only, high\)/);
  assert.match(text.stdout, /depth: +light: each shard's type, size and header; payloads not read/);

  const repaired = scrubExpect(fx.pool, ['--light', '--repair'], 1);
  assert.is(repaired.issues.length, 5);
  assert.ok(repaired.issues.every((i) => i.result === 'repaired'), summarize(repaired.issues));
  scrubExpect(fx.pool, ['--light'], 0);
  const deep = scrubExpect(fx.pool, [], 4);
  assert.equal(deep.issues.map((i) => [i.kind, i.path]), [['checksum-mismatch', at.rot]], 'the deep pass finds the rot, and nothing else is left');
  scrubExpect(fx.pool, ['--repair'], 1);
  assertObjectsIntact(fx, 'after light and deep repairs');
});

test("a light pass keeps what only a deep pass sees, and leaves an interrupted deep pass's place", () => {
  const fx = fresh();
  const rot = shardOf(fx, 'alpha', 1, 0);
  flipBit(rot.path, HEADER + 7, 0);
  const deep = scrubExpect(fx.pool, [], 4);
  const before = depthState(fx);
  assert.is(before.health.degraded, 1);
  const light = scrubExpect(fx.pool, ['--light'], 0);
  assert.is(light.issues.length, 0);
  const after = depthState(fx);
  assert.equal(kinds(after.openProblems), ['checksum-mismatch'], 'the rot stays an open problem');
  assert.equal(after.health, before.health, 'and its extent stays degraded');
  assert.is(after.lastPass?.id, deep.pass, 'the last deep pass is still the last deep pass');
  assert.is(after.lastLight?.depth, 'light');
  // A deep pass cut short, then a light one: the deep pass resumes where it stopped.
  const state = readState(fx.pool) as unknown as Record<string, unknown>;
  // Before every extent id: the resumed pass then reads everything, the rot included, whatever the ids.
  const cursor = '0';
  state.current = { ...(state.lastPass as object), id: 'interrupted-deep', mode: 'verify', runner: 'dfs-scrub', cursor, extentsTotal: 6, extentsDone: 2, bytesTotal: 1, bytesDone: 1, issuesFound: 0, repairsAttempted: 0, repairsSuccessful: 0, health: { healthy: 2, degraded: 0, unrecoverable: 0 }, activeSeconds: 1, startedAt: new Date().toISOString() };
  fs.writeFileSync(path.join(fx.pool, '.dynamicfs', 'scrub-state.json'), JSON.stringify(state));
  scrubExpect(fx.pool, ['--light'], 0);
  assert.equal(depthState(fx).current, { ...(state.current as object) } as DepthState['current'], "the light pass left the deep pass's place");
  const resumed = scrubExpect(fx.pool, ['--resume'], 4);
  assert.ok(resumed.resumed, 'the deep pass resumed');
  assert.is(resumed.pass, 'interrupted-deep');
});

test('--only-known: re-checks just the open problems, repairs them, then says there are none', () => {
  const fx = fresh();
  flipBit(shardOf(fx, 'alpha', 0, 2).path, HEADER + 3, 5);
  fs.rmSync(shardOf(fx, 'beta', 1, 1).path);
  const deep = scrubExpect(fx.pool, [], 4);
  assert.is(deep.issues.length, 2);
  const known = scrubExpect(fx.pool, ['--only-known'], 4);
  assert.is(known.scope, 'known');
  assert.is(known.extents.scanned, 2, 'only the two extents with problems are read');
  assert.equal(kinds(known.issues), kinds(deep.issues));
  const repaired = scrubExpect(fx.pool, ['--only-known', '--repair'], 1);
  assert.is(repaired.repairs.successful, 2);
  const st = depthState(fx);
  assert.equal(st.openProblems, [], 'no problem left open');
  assert.equal(st.health, { healthy: fx.objects.reduce((n, o) => n + o.extents.length, 0), degraded: 0, unrecoverable: 0 }, 'the repaired extents count as healthy again');
  assert.is(st.lastPass?.id, deep.pass, 'a pass over the known problems is not a full pass');
  const none = scrubExpect(fx.pool, ['--only-known'], 0);
  assert.is(none.extents.total, 0);
  assert.match(cli('dfs-scrub', ['--pool', fx.pool, '--only-known']).stdout, /no known problems: the last passes left none to re-check/);
  assertObjectsIntact(fx, 'after --only-known --repair');
});

test('--only-known after a light pass: a light re-check keeps the rot it cannot see open', () => {
  const fx = fresh();
  flipBit(shardOf(fx, 'alpha', 2, 1).path, HEADER + 9, 4);
  fs.rmSync(shardOf(fx, 'alpha', 3, 4).path);
  scrubExpect(fx.pool, [], 4);
  const known = scrubExpect(fx.pool, ['--only-known', '--light', '--repair'], 1);
  assert.equal(kinds(known.issues), ['missing-shard']);
  assert.equal(kinds(depthState(fx).openProblems), ['checksum-mismatch']);
  scrubExpect(fx.pool, ['--only-known', '--repair'], 1);
  assert.equal(depthState(fx).openProblems, []);
});

test('light and known-problem passes count the rot they cannot see, drop what is gone, never finish a resilver', () => {
  const fx = fresh();
  const [id] = objectOf(fx, 'beta').extents;
  // mirror:2: rot on copy 1 (only a deep pass sees it), then copy 0 lost: nothing valid is left.
  flipBit(shardOf(fx, 'beta', 0, 1).path, HEADER + 1, 1);
  scrubExpect(fx.pool, [], 4);
  fs.rmSync(shardOf(fx, 'beta', 0, 0).path);
  scrubExpect(fx.pool, ['--light'], 4);
  assert.is(depthState(fx).health.unrecoverable, 1, 'the light pass counts the known rot: unrecoverable, not degraded');
  scrubExpect(fx.pool, ['--only-known', '--light'], 4);
  assert.is(depthState(fx).health.unrecoverable, 1);
  // The object removed: its extent is gone, and so are its problems.
  assert.is(cli('dfs-pool', ['rm', '--pool', fx.pool, 'beta']).status, 0);
  scrubExpect(fx.pool, ['--only-known'], 0);
  const st = depthState(fx);
  assert.equal(st.openProblems.filter((p) => p.extent === id), [], 'problems of a removed extent are resolved');
  assert.is(st.health.unrecoverable + st.health.degraded, 0);

  // A replaced disk stays rebuilding until a deep repair pass over every extent.
  const alpha = shardOf(fx, 'alpha', 0, 0);
  flipBit(alpha.path, HEADER + 2, 2);
  scrubExpect(fx.pool, [], 4);
  const blank = path.join(fx.dir, 'blank');
  fs.mkdirSync(blank);
  assert.is(cli('dfs-pool', ['replace-disk', '--pool', fx.pool, '5', blank, '--force']).status, 0);
  const state5 = () => JSON.parse(cli('dfs-pool', ['status', '--pool', fx.pool, '--json']).stdout).disks[5].state;
  scrubExpect(fx.pool, ['--only-known', '--repair'], 1);
  assert.is(state5(), 'rebuilding', 'a pass over the known problems does not finish a resilver');
  cli('dfs-scrub', ['--pool', fx.pool, '--light', '--repair']);
  assert.is(state5(), 'rebuilding', 'nor does a light one');
  cli('dfs-scrub', ['--pool', fx.pool, '--repair']);
  assert.is(state5(), 'online', 'a deep repair pass does');
});

test('the open-problem list keeps what only a deep pass sees first, so the cap never drops it', () => {
  const rot: OpenProblem = { extent: 'a'.repeat(64), shard: 1, path: '/d/a', kind: 'checksum-mismatch', health: 'degraded', seenAt: 'x' };
  const found: OpenProblem[] = Array.from({ length: 1500 }, (_, i) => ({ extent: i.toString(16).padStart(64, '0'), shard: 0, path: `/d/${i}`, kind: 'missing-shard', health: 'degraded', seenAt: 'y' }));
  const seen = new Map<string, Health>([[rot.extent!, 'degraded']]);
  const light = foldLightPass([rot], found, { healthy: 0, degraded: 1501, unrecoverable: 0 }, seen);
  assert.equal(light.open[0], rot);
  const known = foldKnownPass([rot, ...found.slice(0, 3)], found.slice(0, 3), { healthy: 0, degraded: 4, unrecoverable: 0 }, new Map(found.slice(0, 3).map((p) => [p.extent!, 'degraded'])), knownScope(found.slice(0, 3)), false);
  assert.equal(known.open[0], rot, 'what a pass did not re-check stays first');
});

test('status and metrics keep the depths apart', () => {
  const fx = fresh();
  const deep = scrubExpect(fx.pool, [], 0);
  const light = scrubExpect(fx.pool, ['--light'], 0);
  const text = cli('dfs-pool', ['status', '--pool', fx.pool]).stdout;
  assert.match(text, `last scrub: ${deep.finishedAt} (verify,`);
  assert.match(text, `last light: ${light.finishedAt} (headers and sizes,`);
  const json = JSON.parse(cli('dfs-pool', ['status', '--pool', fx.pool, '--json']).stdout);
  assert.is(json.scrub.lastPass.id, deep.pass);
  assert.is(json.scrub.lastLight.id, light.pass);
  const tf = path.join(fx.dir, 'textfiles');
  fs.mkdirSync(tf);
  assert.is(cli('dfs-metrics', ['--pool', fx.pool, '--textfile-dir', tf, '--once']).status, 0);
  const prom = fs.readFileSync(path.join(tf, fs.readdirSync(tf)[0]), 'utf8');
  const at = (iso: string) => String(Date.parse(iso) / 1000);
  assert.match(prom, `dynamicfs_scrub_depth_last_completed_timestamp_seconds{pool="${fx.pool}",depth="deep"} ${at(deep.finishedAt)}`);
  assert.match(prom, `dynamicfs_scrub_depth_last_completed_timestamp_seconds{pool="${fx.pool}",depth="light"} ${at(light.finishedAt)}`);
  assert.match(prom, `dynamicfs_scrub_depth_last_outcome{pool="${fx.pool}",depth="light",outcome="clean"} 1`);
  // The guide's own series still speak of the deep pass.
  assert.match(prom, `dynamicfs_scrub_last_completed_timestamp_seconds{pool="${fx.pool}"} ${at(deep.finishedAt)}`);
});

test('--resume with --light or --only-known is a usage error (exit 16)', () => {
  const fx = fresh();
  for (const flag of ['--light', '--only-known']) {
    const r = cli('dfs-scrub', ['--pool', fx.pool, '--resume', flag]);
    assert.is(r.status, 16, r.stderr);
    assert.match(r.stderr, /--resume continues an interrupted deep pass/);
  }
});

/** A live process holding the pool's scrub lock as `owner`; kill it to free the pool. */
function holdLock(pool: string, owner: string) {
  const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
  const file = path.join(pool, '.dynamicfs', 'scrub.lock');
  fs.writeFileSync(file, JSON.stringify({ pid: holder.pid, owner, since: new Date().toISOString() }) + '\n');
  const gone = new Promise((r) => holder.once('exit', r));
  return {
    free: async () => {
      holder.kill('SIGKILL');
      await gone;
    },
  };
}

test('--when-busy: fail names the holder (8), skip does nothing (0), wait waits for a pass but never for the daemon', async () => {
  const fx = fresh();
  const shard = shardOf(fx, 'alpha', 0, 1);
  fs.rmSync(shard.path);
  const stateFile = path.join(fx.pool, '.dynamicfs', 'scrub-state.json');
  const stateOf = () => (fs.existsSync(stateFile) ? fs.readFileSync(stateFile, 'utf8') : 'none');
  const stateBefore = stateOf();
  const pass = holdLock(fx.pool, 'dfs-scrub');
  try {
    let r = cli('dfs-scrub', ['--pool', fx.pool, '--light', '--repair']);
    assert.is(r.status, 8, r.stderr);
    assert.match(r.stderr, /is being scrubbed by dfs-scrub \(PID \d+/);
    r = cli('dfs-scrub', ['--pool', fx.pool, '--light', '--repair', '--when-busy', 'skip']);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /skipped: pool .* is being scrubbed by dfs-scrub/);
    r = cli('dfs-scrub', ['--pool', fx.pool, '--light', '--when-busy', 'skip', '--json']);
    assert.is(r.status, 0, r.stderr);
    assert.is(JSON.parse(r.stdout).skipped, true);
    assert.is(stateOf(), stateBefore, 'a skipped run changes no state');
    assert.not.ok(fs.existsSync(shard.path), 'and repairs nothing');
    r = cli('dfs-scrub', ['--pool', fx.pool, '--when-busy', 'later']);
    assert.is(r.status, 16);
    assert.match(r.stderr, /--when-busy "later": expected fail, skip or wait/);
    // A stop while waiting: cancelled, nothing scrubbed.
    let waiting = cliAsync('dfs-scrub', ['--pool', fx.pool, '--repair', '--when-busy', 'wait']);
    let done = collect(waiting);
    await new Promise((res) => setTimeout(res, 1500));
    waiting.kill('SIGTERM');
    let w = await done;
    assert.is(w.status, 32, w.stderr);
    assert.match(w.stderr, /waiting for dfs-scrub \(PID \d+/);
    assert.not.ok(fs.existsSync(shard.path));
    // The holder's pass ends: the waiting deep pass takes the pool and repairs.
    waiting = cliAsync('dfs-scrub', ['--pool', fx.pool, '--repair', '--when-busy', 'wait', '--json']);
    done = collect(waiting);
    await new Promise((res) => setTimeout(res, 1500));
    assert.is(waiting.exitCode, null, 'still waiting while the pool is held');
    await pass.free();
    w = await done;
    assert.is(w.status, 1, w.stderr);
    assert.is(JSON.parse(w.stdout).depth, 'deep');
    assert.ok(fs.existsSync(shard.path), 'repaired once the pool was free');
  } finally {
    await pass.free();
  }
  const daemon = holdLock(fx.pool, 'dfs-scrubd');
  try {
    const t0 = Date.now();
    const r = cli('dfs-scrub', ['--pool', fx.pool, '--when-busy', 'wait']);
    assert.is(r.status, 8, r.stderr);
    assert.match(r.stderr, /held by dfs-scrubd \(PID \d+\), which scrubs it for good/);
    assert.ok(Date.now() - t0 < 10_000, 'no waiting for the daemon');
  } finally {
    await daemon.free();
  }
});

test.run();

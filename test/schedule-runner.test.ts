// `dfs-scrub-schedule run`, the node-cron runner for hosts without systemd,
// against a fake scrubber (DFS_SCRUB_COMMAND) that logs its start and end,
// sleeps, and exits as told: it fires on a per-second schedule, never runs
// two passes at once, records every run, catches up a slot missed while it
// was down, follows schedule edits, and stops cleanly on SIGTERM.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createPool } from '../src/core/pool';
import { cli, cliAsync, collect, CliResult, scratchDir } from './helpers';

interface Setup {
  dir: string;
  pool: string;
  scrubLog: string;
  env: Record<string, string>;
}

const FAKE_SCRUB = `#!/bin/sh
# Fake dfs-scrub: logs "start PID TIME ARGS" and "end PID TIME", exits $FAKE_EXIT;
# on SIGTERM logs "term PID" and exits 32 (cancelled), as the real one does.
echo "start $$ $(date +%s.%N) $*" >> "$FAKE_LOG"
trap 'kill $! 2>/dev/null; echo "term $$" >> "$FAKE_LOG"; exit 32' TERM
sleep "\${FAKE_SLEEP:-0}" & wait $!
echo "end $$ $(date +%s.%N)" >> "$FAKE_LOG"
exit "\${FAKE_EXIT:-0}"
`;

function setup(frequency: string[], fake: { sleep?: number; exit?: number } = {}): Setup {
  const dir = scratchDir('dfs-schedule-run-');
  const pool = path.join(dir, 'pool');
  createPool({ root: pool, diskCount: 3, redundancy: 'rs:2+1' });
  const script = path.join(dir, 'fake-dfs-scrub');
  fs.writeFileSync(script, FAKE_SCRUB, { mode: 0o755 });
  const scrubLog = path.join(dir, 'scrub.log');
  const env = {
    TZ: 'UTC',
    DFS_SYSTEMD_RUN_DIR: path.join(dir, 'no-systemd'),
    DFS_SCRUB_COMMAND: script,
    FAKE_LOG: scrubLog,
    FAKE_SLEEP: String(fake.sleep ?? 0),
    FAKE_EXIT: String(fake.exit ?? 0),
  };
  const r = cli('dfs-scrub-schedule', ['--pool', pool, ...frequency], { env });
  assert.is(r.status, 0, r.stderr);
  return { dir, pool, scrubLog, env };
}

const runsFile = (s: Setup) => path.join(s.pool, '.dynamicfs', 'schedule-runs.json');
const scheduleFile = (s: Setup) => path.join(s.pool, '.dynamicfs', 'schedule.json');
const runs = (s: Setup) => JSON.parse(fs.readFileSync(runsFile(s), 'utf8'));
const scrubLines = (s: Setup) => (fs.existsSync(s.scrubLog) ? fs.readFileSync(s.scrubLog, 'utf8').trim().split('\n') : []);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function startRunner(s: Setup): { child: ChildProcess; done: Promise<CliResult> } {
  const child = cliAsync('dfs-scrub-schedule', ['run', '--pool', s.pool], { env: s.env });
  return { child, done: collect(child) };
}

async function stop(r: { child: ChildProcess; done: Promise<CliResult> }): Promise<CliResult> {
  r.child.kill('SIGTERM');
  const res = await r.done;
  assert.is(res.status, 0, `runner exits 0 on SIGTERM:\n${res.stderr}`);
  return res;
}

/** [start, end] in seconds of each finished fake pass. */
function passes(s: Setup): [number, number][] {
  const starts = new Map<string, number>();
  const out: [number, number][] = [];
  for (const l of scrubLines(s)) {
    const [kind, pid, t] = l.split(' ');
    if (kind === 'start') starts.set(pid, Number(t));
    if (kind === 'end') out.push([starts.get(pid)!, Number(t)]);
  }
  return out;
}

test('fires on a per-second schedule and records each run with its exit code', async () => {
  const s = setup(['--frequency', '*:*:*', '--randomized-delay', '0', '--intensity', 'high', '--auto-repair', 'true'], { exit: 1 });
  const r = startRunner(s);
  await until('three passes', () => passes(s).length >= 3);
  const res = await stop(r);
  const log = runs(s);
  const done = log.records.filter((x: { kind: string; finishedAt?: string }) => x.kind === 'run' && x.finishedAt);
  assert.ok(done.length >= 3, JSON.stringify(log));
  for (const run of done) {
    assert.is(run.exitCode, 1);
    assert.ok(Date.parse(run.finishedAt) >= Date.parse(run.startedAt));
    assert.is(new Date(run.slot).getUTCMilliseconds(), 0, 'slots are whole seconds');
  }
  assert.is(log.runner, null, 'the runner record is cleared on stop');
  assert.match(scrubLines(s)[0], `--pool ${s.pool} --repair --intensity high`);
  assert.match(res.stderr, /finished: exit 1 \(problems found and all repaired\)/);
});

test('never runs two passes at once: slots during a pass are skipped and logged', async () => {
  const s = setup(['--frequency', '*:*:*', '--randomized-delay', '0'], { sleep: 2.2 });
  const r = startRunner(s);
  await until('two finished passes', () => passes(s).length >= 2, 15_000);
  const res = await stop(r);
  const p = passes(s);
  for (let i = 1; i < p.length; i++) assert.ok(p[i][0] >= p[i - 1][1], `pass ${i} starts after pass ${i - 1} ended: ${JSON.stringify(p)}`);
  const skipped = runs(s).records.filter((x: { kind: string }) => x.kind === 'skipped');
  assert.ok(skipped.length >= 2, 'skips recorded');
  assert.ok(skipped.every((x: { reason: string }) => x.reason === 'overlap'));
  assert.match(res.stderr, /skipped: the previous deep pass is still running/);
});

test('a light schedule beside the deep one: picked up while running, fired with its own arguments, dropped alone', async () => {
  const s = setup(['--frequency', '*:*:*', '--randomized-delay', '0', '--auto-repair', 'true'], { sleep: 1.5 });
  const r = startRunner(s);
  await until('a deep pass', () => scrubLines(s).some((l) => l.startsWith('start') && !l.includes('--light')));
  // Added while the runner runs: no restart needed.
  const add = cli('dfs-scrub-schedule', ['--pool', s.pool, '--depth', 'light', '--frequency', '*:*:0/2', '--randomized-delay', '0'], { env: s.env });
  assert.is(add.status, 0, add.stderr);
  assert.ok(fs.existsSync(path.join(s.pool, '.dynamicfs', 'schedule-light.json')));
  await until('a light pass', () => scrubLines(s).some((l) => l.startsWith('start') && l.includes('--light')), 15_000);
  const lightLine = scrubLines(s).find((l) => l.includes('--light'))!;
  assert.match(lightLine, `--pool ${s.pool} --light --intensity low --when-busy skip`);
  const deepLine = scrubLines(s).find((l) => l.startsWith('start') && !l.includes('--light'))!;
  assert.match(deepLine, `--pool ${s.pool} --repair --intensity low --when-busy wait`);
  // Removing the light schedule leaves the deep lane firing.
  const rm = cli('dfs-scrub-schedule', ['--pool', s.pool, '--remove', '--depth', 'light'], { env: s.env });
  assert.is(rm.status, 0, rm.stderr);
  assert.match(rm.stdout, /The deep schedule stays/);
  // The runner notices the removal on its next look (a light run may still start just before), and a deep
  // run launched while a light one ran waits for it: wait for a deep run launched well after the last light
  // one (a fixed sleep and "one more pass" let a deep run queued before that count on a loaded machine).
  const deepAfterLight = () => {
    const rs = runs(s).records as { kind: string; depth?: string; startedAt?: string }[];
    const last = Math.max(...rs.filter((x) => x.kind === 'run' && x.depth === 'light').map((x) => Date.parse(x.startedAt!)));
    return rs.some((x) => x.kind === 'run' && x.depth === 'deep' && Date.parse(x.startedAt!) > last + 1000);
  };
  await until('a deep run after the last light one', deepAfterLight, 20_000);
  await sleep(3000);
  assert.is(r.child.exitCode, null, 'the runner still runs');
  const res = await stop(r);
  assert.match(res.stderr, /schedule added: light/);
  assert.match(res.stderr, /the light schedule was removed/);
  const records = runs(s).records as { kind: string; depth?: string; startedAt?: string }[];
  const lightRuns = records.filter((x) => x.kind === 'run' && x.depth === 'light');
  assert.ok(lightRuns.length >= 1, JSON.stringify(records));
  const lastLight = Math.max(...lightRuns.map((x) => Date.parse(x.startedAt!)));
  assert.ok(records.some((x) => x.kind === 'run' && x.depth === 'deep' && Date.parse(x.startedAt!) > lastLight + 1000), 'deep runs go on after the light schedule is gone');
});

test('catches up a slot missed while it was down, once', async () => {
  const s = setup(['--frequency', 'daily', '--randomized-delay', '0']);
  // Simulated downtime: the last run three days ago, the schedule older still.
  const longAgo = (days: number) => new Date(Date.now() - days * 86400_000).toISOString();
  const sched = JSON.parse(fs.readFileSync(scheduleFile(s), 'utf8'));
  fs.writeFileSync(scheduleFile(s), JSON.stringify({ ...sched, calendarSince: longAgo(10), updatedAt: longAgo(10) }));
  const last = { kind: 'run', trigger: 'schedule', slot: longAgo(3), startedAt: longAgo(3), finishedAt: longAgo(3), exitCode: 0, signal: null };
  fs.writeFileSync(runsFile(s), JSON.stringify({ format: 1, runner: null, records: [last] }));
  const r = startRunner(s);
  await until('the catch-up pass', () => passes(s).length === 1);
  await sleep(500);
  const res = await stop(r);
  assert.is(passes(s).length, 1, 'one catch-up, not one per missed day');
  const recs = runs(s).records;
  assert.is(recs.length, 2);
  assert.is(recs[1].trigger, 'catch-up');
  assert.is(recs[1].exitCode, 0);
  assert.match(res.stderr, /catching up now/);

  // Started again right away: the catch-up counts as the last run, nothing is missed.
  const again = startRunner(s);
  await sleep(1500);
  await stop(again);
  assert.is(passes(s).length, 1, 'no second catch-up');
});

test('no catch-up when the last run is after the last slot', async () => {
  const s = setup(['--frequency', 'daily', '--randomized-delay', '0']);
  const sched = JSON.parse(fs.readFileSync(scheduleFile(s), 'utf8'));
  fs.writeFileSync(scheduleFile(s), JSON.stringify({ ...sched, calendarSince: new Date(Date.now() - 10 * 86400_000).toISOString() }));
  const now = new Date().toISOString();
  fs.writeFileSync(runsFile(s), JSON.stringify({ format: 1, runner: null, records: [{ kind: 'run', trigger: 'schedule', slot: now, startedAt: now }] }));
  const r = startRunner(s);
  await sleep(1500);
  await stop(r);
  assert.equal(scrubLines(s), []);
});

test('SIGTERM during a pass: forwarded to the scrubber, waited for, recorded, exit 0', async () => {
  const s = setup(['--frequency', '*:*:*', '--randomized-delay', '0'], { sleep: 30 });
  const r = startRunner(s);
  await until('a pass to start', () => scrubLines(s).some((l) => l.startsWith('start')));
  const t0 = Date.now();
  const res = await stop(r);
  assert.ok(Date.now() - t0 < 10_000, 'did not wait for the whole pass');
  assert.ok(scrubLines(s).some((l) => l.startsWith('term')), 'the scrubber got SIGTERM');
  const recs = runs(s).records.filter((x: { kind: string }) => x.kind === 'run');
  assert.is(recs.length, 1);
  assert.is(recs[0].exitCode, 32);
  assert.ok(recs[0].finishedAt);
  assert.match(res.stderr, /forwarding SIGTERM/);
});

test('follows schedule edits, and one runner per pool', async () => {
  const s = setup(['--frequency', 'monthly']);
  const r = startRunner(s);
  await until('the runner record', () => fs.existsSync(runsFile(s)) && runs(s).runner !== null);
  const second = cli('dfs-scrub-schedule', ['run', '--pool', s.pool], { env: s.env });
  assert.is(second.status, 8, second.stderr);
  assert.match(second.stderr, /already active \(pid \d+\)/);
  const edit = cli('dfs-scrub-schedule', ['--pool', s.pool, '--frequency', '*:*:0/1', '--randomized-delay', '0'], { env: s.env });
  assert.is(edit.status, 0, edit.stderr);
  await until('a pass on the new schedule', () => passes(s).length >= 1);
  const res = await stop(r);
  assert.match(res.stderr, /schedule changed/);
});

test('run without a stored schedule is an operational error', () => {
  const dir = scratchDir('dfs-schedule-run-');
  const pool = path.join(dir, 'pool');
  createPool({ root: pool, diskCount: 2, redundancy: 'mirror:2' });
  const r = cli('dfs-scrub-schedule', ['run', '--pool', pool]);
  assert.is(r.status, 8, r.stderr);
  assert.match(r.stderr, /no schedule stored for pool/);
  const u = cli('dfs-scrub-schedule', ['run', '--pool', pool, '--frequency', 'nightly']);
  assert.is(u.status, 16, u.stderr);
});

test.run();

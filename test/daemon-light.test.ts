// dfs-scrubd start --light-interval: light passes between the daemon's paced
// deep passes, and the deep pass keeping its place. With a light pass due, a
// running deep pass stops at a checkpoint, the light pass runs, and the same
// deep pass (same id, extentsDone never going back) resumes; no extent is
// counted twice. A shard deleted or truncated mid-deep-pass is found and
// rebuilt by the next light pass. Status (text and --json) names the depth in
// hand, the deep pass on hold, the interval and the next light pass; pause
// holds a light pass as it holds a deep one. A stop during a light pass exits
// 0 and the next start (keeping the saved interval) runs a light pass first,
// then resumes the deep pass. A bad interval is a one-line usage error that
// starts nothing; `off` clears a saved one. When a light pass falls due is
// checked on its own too.
//
// One daemon runs from the first test that starts one to the SIGTERM test:
// the tests follow one deep pass through several light ones, in order.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { cli, requireTool } from './helpers';
import {
  control,
  daemonEnv,
  diskDirs,
  Foreground,
  listenForNotify,
  liveStatus,
  lockFile,
  logFile,
  makePool,
  NotifyListener,
  notifyMessages,
  reapDaemons,
  readState,
  settingsFile,
  shardsByExtent,
  signalAndWait,
  sleep,
  startDetached,
  startForeground,
  stopDaemon,
  waitFor,
  waitGone,
} from './daemon-fixtures';
import type { DaemonStatus } from '../src/daemon/protocol';
import { lightPassDueAt } from '../src/daemon/light-schedule';
import type { PassSummary } from '../src/scrub/state';

// 2560 extents of 4 KiB, rs:4+2 (1 KiB shards). Capped at 128 KiB/s, a deep
// pass reads ~20 extents a second: some two minutes for the pass, and it gets
// about half of this file's time, so it never finishes here. A light pass at
// low intensity checks 64 extents and pauses 100 ms: ~4 s for the pool.
const EXTENTS = 2560;
const pool = makePool({ extentSize: '4K', objects: [{ name: 'data', bytes: EXTENTS * 4096 }] });
const env = daemonEnv(pool);
const START_ARGS = ['--intensity', 'low', '--max-rate', '128K', '--light-interval', '2s'];
const scrubd = (args: string[]) => cli('dfs-scrubd', [args[0], '--pool', pool.root, ...args.slice(1)], { env });
const socketPath = path.join(pool.root, '.dynamicfs', 'scrubd.sock');
const daemonJson = path.join(pool.root, '.dynamicfs', 'daemon.json');

interface Summary {
  id: string;
  depth?: string;
  runner: string;
  startedAt: string;
  outcome: string;
  exitCode: number;
  extentsScanned: number;
  issuesFound: number;
  repairsSuccessful: number;
}
interface LightState {
  counters: { extentsScanned: number };
  current?: { id: string; cursor: string; extentsDone: number; extentsTotal: number };
  lastPass?: Summary;
  lastLight?: Summary;
}
const state = () => readState(pool.root) as unknown as LightState;

/** The live status once the pass in hand is of this depth (and passes `also`). */
function passInHand(depth: 'deep' | 'light', also: (s: DaemonStatus) => boolean = () => true, timeoutMs = 15_000): Promise<DaemonStatus> {
  return waitFor(`a ${depth} pass in hand`, async () => {
    const s = await liveStatus(pool.root);
    return s?.pass?.depth === depth && also(s) ? s : undefined;
  }, timeoutMs, 25);
}

/** The state once a light pass other than `previous` has completed. */
function nextLightDone(previous: string | undefined, timeoutMs = 15_000): Promise<LightState> {
  return waitFor(`a light pass after ${previous ?? 'none'} to complete`, () => {
    const st = state();
    return st?.lastLight && st.lastLight.id !== previous ? st : undefined;
  }, timeoutMs, 25);
}

/** Extents each light pass scanned, from the daemon's log: finished ones and those a stop cut short. */
function lightExtentsLogged(log: string): number {
  let n = 0;
  for (const m of log.matchAll(/light pass [0-9a-f-]{36} (?:finished: \w+, (\d+) extents|stopped after (\d+) extents)/g)) n += Number(m[1] ?? m[2]);
  return n;
}

let fg: Foreground | undefined;
/** systemd's notify socket for that daemon, where socat is there to play it. */
let notify: NotifyListener | undefined;
const statusLines = () => notifyMessages(notify?.text() ?? '').filter((m) => m.startsWith('STATUS='));
/** The deep pass these tests follow. */
let deepId = '';

test('when a light pass falls due: an interval after the last began, never sooner after it ended than it took', () => {
  const last = (startedAt: string, durationSeconds: number) =>
    ({ startedAt, durationSeconds, finishedAt: new Date(Date.parse(startedAt) + durationSeconds * 1000).toISOString() }) as PassSummary;
  const t0 = Date.parse('2026-12-02T10:00:00Z');
  assert.is(lightPassDueAt(undefined, last('2026-12-02T10:00:00Z', 5)), null, 'off');
  assert.is(lightPassDueAt(0, last('2026-12-02T10:00:00Z', 5)), null, '0 is off');
  assert.is(lightPassDueAt(3600, undefined), 0, 'never run: due now');
  assert.is(lightPassDueAt(3600, last('2026-12-02T10:00:00Z', 5)), t0 + 3600_000, 'an hour after the last began');
  // A light pass of 40 min under a 1 h interval: the next waits until 80 min after the last began.
  assert.is(lightPassDueAt(3600, last('2026-12-02T10:00:00Z', 2400)), t0 + 4800_000, 'the deep pass keeps as long as the light one took');
  assert.is(lightPassDueAt(0.2, last('2026-12-02T10:00:00Z', 0)), t0 + 1000, 'a second apart at the least');
  assert.is(lightPassDueAt(3600, { startedAt: 'garbage', finishedAt: 'garbage', durationSeconds: 1 } as PassSummary), 0, 'unreadable times: due now, not never');
});

test('a bad --light-interval is a usage error (16) of one line naming it; nothing is started', () => {
  for (const [value, why] of [
    ['soon', /expected a duration/],
    ['500ms', /at least 1s/],
    ['2x', /expected a duration/],
    ['', /needs a value/],
  ] as const) {
    for (const foreground of [false, true]) {
      const r = cli('dfs-scrubd', ['start', '--pool', pool.root, ...START_ARGS.slice(0, -2), '--light-interval', value, ...(foreground ? ['--foreground'] : [])], { env, timeout: 20_000 });
      const what = `--light-interval ${JSON.stringify(value)}${foreground ? ' --foreground' : ''}`;
      assert.is(r.status, 16, `${what}: exit ${r.status}: ${r.stderr}`);
      assert.is(r.stdout, '', `${what}: nothing on stdout`);
      const lines = r.stderr.trim().split('\n');
      assert.is(lines.length, 1, `${what}: one line: ${r.stderr}`);
      assert.match(lines[0], /--light-interval/);
      if (value) assert.ok(lines[0].includes(value), `${what}: the value is named: ${lines[0]}`);
      assert.match(lines[0], why);
    }
  }
  for (const f of [lockFile(pool.root), socketPath, settingsFile(pool.root), logFile(pool.root), daemonJson]) assert.not.ok(fs.existsSync(f), `${f} was not created`);
  assert.is(readState(pool.root), undefined, 'no pass ran');
  const viaGuideName = cli('dynamicfs', ['scrub-daemon', 'start', '--pool', pool.root, '--light-interval', 'hourly'], { env, timeout: 20_000 });
  assert.is(viaGuideName.status, 16, viaGuideName.stderr);
  assert.match(viaGuideName.stderr, /--light-interval "hourly"/);
});

test('a light pass falls due mid-deep-pass: the deep pass stops at a checkpoint, the light one completes, the same deep pass resumes', async () => {
  notify = requireTool('socat') ? await listenForNotify() : undefined;
  fg = startForeground(pool, START_ARGS, notify ? { NOTIFY_SOCKET: notify.socket } : {});
  // A deep pass with some progress (a light pass may come first: none has run on this pool).
  const deep = await passInHand('deep', (s) => s.pass!.extentsDone >= 1, 20_000);
  deepId = deep.pass!.id;
  const seen = deep.pass!.extentsDone;

  const light = await passInHand('light');
  const held = state().current!;
  assert.is(held.id, deepId, 'the deep pass is saved, with its id');
  assert.ok(held.extentsDone >= seen, `its checkpoint (${held.extentsDone} extents) is not behind what it had done (${seen})`);
  assert.match(held.cursor, /^[0-9a-f]{64}$/, 'with a cursor');
  assert.is(light.suspendedPass?.id, deepId, 'status shows the deep pass on hold');
  assert.is(light.suspendedPass?.extentsDone, held.extentsDone);

  const after = await nextLightDone(state().lastLight?.id);
  assert.is(after.lastLight!.id, light.pass!.id, 'the light pass that interrupted the deep one completed');
  assert.is(after.lastLight!.depth, 'light');
  assert.is(after.lastLight!.runner, 'dfs-scrubd');
  assert.is(after.lastLight!.extentsScanned, EXTENTS, 'it saw every extent');
  assert.is(after.current?.id, deepId, 'the light pass left the deep pass saved');
  assert.is(after.current?.extentsDone, held.extentsDone, "and left its place where it was");
  assert.is(after.lastPass, undefined, 'no deep pass completed (it was not restarted either)');

  const resumed = await passInHand('deep', (s) => s.pass!.extentsDone > held.extentsDone);
  assert.is(resumed.pass!.id, deepId, 'the same deep pass resumed');
  assert.is(resumed.suspendedPass, null);
  assert.is(fg.child.exitCode, null, 'the daemon kept running: the cancel for the light pass was not a stop');
});

test('status --json and text: the depth in hand, the deep pass on hold, the interval and the next light pass; pause holds a light pass', async () => {
  await passInHand('light');
  await control(pool.root, { cmd: 'pause' });
  try {
    await sleep(300); // the operation in hand ends
    const a = (await liveStatus(pool.root))!;
    await sleep(1200);
    const b = (await liveStatus(pool.root))!;
    assert.is(b.pass?.depth, 'light', 'still the light pass');
    assert.is(b.pass?.extentsDone, a.pass?.extentsDone, 'paused: the light pass does not move');
    assert.ok(b.pass!.extentsDone < EXTENTS);

    const j = scrubd(['status', '--json']);
    assert.is(j.status, 0, j.stderr);
    const doc = JSON.parse(j.stdout);
    assert.is(doc.status, 'paused');
    assert.is(doc.pass.depth, 'light');
    assert.is(doc.pass.extentsTotal, EXTENTS);
    assert.is(doc.pass.percent.toFixed(3), ((100 * doc.pass.extentsDone) / EXTENTS).toFixed(3), 'a light pass progresses by extents');
    assert.is(doc.suspendedPass.id, deepId);
    assert.is(doc.suspendedPass.depth, 'deep');
    assert.is(doc.lightIntervalSeconds, 2);
    assert.is(doc.nextLightAt, null, 'no next light pass while one is in hand');

    const t = scrubd(['status']);
    assert.is(t.status, 0, t.stderr);
    assert.match(t.stdout, /^Status: Paused$/m);
    assert.match(t.stdout, /^ {2}Light interval: +2\.0 s$/m);
    assert.match(t.stdout, /^ {2}Depth: +light \(each shard's type, size and header; payloads not read\)$/m);
    assert.match(t.stdout, new RegExp(`^ {2}Progress: +\\d+\\.\\d% \\(${doc.pass.extentsDone}/${EXTENTS} extents\\)$`, 'm'));
    assert.match(t.stdout, new RegExp(`^ {2}Deep pass on hold: +\\d+\\.\\d% \\(${doc.suspendedPass.extentsDone}/${EXTENTS} extents, .*\\), resumes after the light pass$`, 'm'));
    if (notify) await waitFor('STATUS=Paused light scrub at ...', () => statusLines().some((m) => new RegExp(`^STATUS=Paused light scrub at \\d+\\.\\d% \\(\\d+/${EXTENTS} extents\\)$`).test(m)), 3000);
  } finally {
    await control(pool.root, { cmd: 'resume' });
  }
  const light = await nextLightDone(state().lastLight?.id);
  assert.is(light.lastLight!.extentsScanned, EXTENTS, 'resumed, the light pass completed');

  const deep = await passInHand('deep');
  assert.is(deep.pass!.id, deepId);
  const j = JSON.parse(scrubd(['status', '--json']).stdout);
  assert.is(j.pass.depth, 'deep');
  assert.is(j.lightIntervalSeconds, 2);
  assert.ok(j.nextLightAt, 'the next light pass is announced');
  assert.ok(Date.parse(j.nextLightAt) >= Date.parse(light.lastLight!.startedAt) + 2000, `next light ${j.nextLightAt}: 2 s or more after the last began (${light.lastLight!.startedAt})`);
  const t = scrubd(['status']).stdout;
  assert.match(t, /^Status: Running$/m);
  assert.match(t, /^ {2}Depth: +deep \(every byte read and proven\)$/m);
  assert.match(t, /^ {2}Next light scrub: +\d{4}-\d\d-\d\dT/m);
  assert.match(t, /^ {2}Last light scrub: +\d{4}-.*\(clean, /m);

  // Running, a light pass says so on the Status line too.
  await waitFor('Status: Running (light scrub in progress)', () => /^Status: Running \(light scrub in progress\)$/m.test(scrubd(['status']).stdout), 15_000, 0);
  if (notify) {
    // systemctl status: which depth, and the deep pass waiting; a light pass's byte rate says nothing.
    const lines = statusLines();
    const light = lines.filter((m) => m.startsWith('STATUS=Light scrub '));
    assert.ok(light.length > 0, `STATUS= during light passes, among:\n${lines.join('\n')}`);
    for (const m of light) assert.match(m, new RegExp(`^STATUS=Light scrub \\d+\\.\\d% \\(\\d+/${EXTENTS} extents\\)(, ETA \\d+s)?, \\d+ issues found, intensity low(; deep pass resumes after it at \\d+\\.\\d%)?$`));
    assert.ok(light.some((m) => m.includes('; deep pass resumes after it at ')), 'the deep pass on hold is named');
    assert.ok(lines.some((m) => /^STATUS=Scrubbing \d+\.\d% .* MiB\/s/.test(m)), 'and Scrubbing ... during the deep pass');
  }
  // Saved and published like the other settings.
  assert.is(JSON.parse(fs.readFileSync(settingsFile(pool.root), 'utf8')).lightIntervalSeconds, 2);
  assert.is(JSON.parse(fs.readFileSync(daemonJson, 'utf8')).lightIntervalSeconds, 2);
});

test('a shard deleted and one truncated mid-deep-pass: the next light pass finds and rebuilds both; the deep pass resumes', async () => {
  await passInHand('deep');
  const before = state();
  // The extents the deep pass reaches last (it walks ids in order): found by the light pass, not by it.
  const ids = [...shardsByExtent(pool.root).keys()].sort();
  const [truncatedId, deletedId] = ids.slice(-2);
  assert.ok(before.current!.cursor < truncatedId, 'the deep pass has not reached them');
  const deleted = shardsByExtent(pool.root).get(deletedId)!.get(2)!;
  const truncated = shardsByExtent(pool.root).get(truncatedId)!.get(4)!;
  const deletedBytes = fs.readFileSync(deleted);
  const truncatedBytes = fs.readFileSync(truncated);
  fs.unlinkSync(deleted);
  fs.truncateSync(truncated, 1000);

  const st = await nextLightDone(before.lastLight?.id, 20_000);
  assert.is(st.lastLight!.issuesFound, 2, 'the light pass found both');
  assert.is(st.lastLight!.repairsSuccessful, 2, 'and rebuilt both (auto-repair)');
  assert.is(st.lastLight!.outcome, 'repaired');
  assert.ok(fs.readFileSync(deleted).equals(deletedBytes), 'the deleted shard is back, byte for byte');
  assert.ok(fs.readFileSync(truncated).equals(truncatedBytes), 'the truncated shard is whole again, byte for byte');
  const disk = diskDirs(pool.root).find((d) => truncated.startsWith(d + path.sep))!;
  const kept = fs.readdirSync(path.join(disk, '.dynamicfs', 'quarantine')).map((f) => fs.statSync(path.join(disk, '.dynamicfs', 'quarantine', f)));
  assert.ok(kept.some((s) => s.isFile() && s.size === 1000), 'the truncated file is kept in its disk\'s quarantine');
  // The object reads back whole.
  const out = path.join(pool.dir, 'data.out');
  const get = cli('dfs-pool', ['get', 'data', out, '--pool', pool.root], { env });
  assert.is(get.status, 0, get.stderr);
  assert.ok(fs.readFileSync(out).equals(fs.readFileSync(pool.objects.get('data')!)), 'dfs-pool get returns the bytes stored');

  const deep = await passInHand('deep');
  assert.is(deep.pass!.id, deepId, 'the deep pass resumes');
  assert.ok(state().current!.cursor < truncatedId, 'and had not reached the damaged extents: the light pass found them');
  assert.is(state().lastPass, undefined);
});

test('SIGTERM during a light pass: exit 0, the deep pass stays saved; the next start keeps the interval, runs a light pass, then resumes the deep pass', async () => {
  const light = await passInHand('light', (s) => s.pass!.extentsDone >= 1);
  const held = state().current!;
  assert.is(held.id, deepId);
  const r = await signalAndWait(fg!, 'SIGTERM', 10_000);
  fg = undefined;
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`light pass ${light.pass!.id} stopped after \\d+ extents`));
  const st = state();
  assert.is(st.current?.id, deepId, 'the deep pass is still saved');
  assert.is(st.current?.extentsDone, held.extentsDone, 'at its place');
  assert.is.not(st.lastLight?.id, light.pass!.id, 'a stopped light pass leaves no summary');
  // Never lost or doubled: every extent counted is one of the deep pass's or one of a light pass's (this pool had no other scans).
  assert.is(st.counters.extentsScanned, st.current!.extentsDone + lightExtentsLogged(r.stderr), `counters: ${st.counters.extentsScanned} extents scanned; log:\n${r.stderr}`);

  const s = startDetached(pool); // no options: the saved ones hold
  assert.is(s.result.status, 0, s.result.stderr);
  const first = (await liveStatus(pool.root))!;
  assert.is(first.pass?.depth, 'light', 'the overdue light pass runs first');
  assert.is(first.suspendedPass?.id, deepId);
  assert.is(first.lightIntervalSeconds, 2, 'the interval was kept');
  const deep = await passInHand('deep', () => true, 20_000);
  assert.is(deep.pass!.id, deepId, 'then the same deep pass resumes');
  assert.ok(deep.pass!.extentsDone >= held.extentsDone, 'from where it was');
  assert.is(stopDaemon(pool).status, 0);
  await waitGone(s.pid);
});

test('--light-interval off clears the saved interval: no light pass, status says off', async () => {
  const last = state().lastLight!;
  const s = startDetached(pool, ['--light-interval', 'off']);
  assert.is(s.result.status, 0, s.result.stderr);
  const st = (await liveStatus(pool.root))!;
  assert.is(st.pass?.depth, 'deep');
  assert.is(st.pass?.id, deepId);
  assert.is(st.lightIntervalSeconds, null);
  assert.is(st.nextLightAt, null);
  assert.match(scrubd(['status']).stdout, /^ {2}Light interval: +off$/m);
  assert.not.ok('lightIntervalSeconds' in JSON.parse(fs.readFileSync(settingsFile(pool.root), 'utf8')), 'removed from the saved settings');
  // Past the moment the saved 2 s interval would have made a light pass due: none runs.
  const due = lightPassDueAt(2, last as unknown as PassSummary)!;
  await sleep(Math.max(0, due - Date.now()) + 1500);
  const later = (await liveStatus(pool.root))!;
  assert.is(later.pass?.depth, 'deep', 'still the deep pass');
  assert.is(state().lastLight?.id, last.id, 'no light pass ran');
  assert.is(stopDaemon(pool).status, 0);
  await waitGone(s.pid);
});

test.after(() => {
  notify?.close();
  if (fg) fg.child.kill('SIGKILL');
  reapDaemons();
});

test.run();

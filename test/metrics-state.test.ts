// The registry and /health document built from persisted state, in process:
// every value comes from pool.json, disk labels, the scrub state and the
// daemon's info, and nothing survives from one scrape to the next.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { cli, scratchDir } from './helpers';
import { cleanState, deadPid, makePool, passSummary, removeDiskLabel, sample, typeOf, unrecoverableState, writeDaemonInfo, writeState } from './metrics-fixtures';
import { readPoolSnapshot, readSnapshots } from '../src/metrics/snapshot';
import { renderMetrics } from '../src/metrics/registry';
import { healthDocument, healthHttpStatus } from '../src/metrics/health';
import { stateFile } from '../src/scrub/state';
import { DfsError } from '../src/core/errors';
import { parseInterval, parseListen, parsePools, parsePort, parseTextfileName } from '../src/metrics/options';

const render = async (pools: string[], now?: number) => (await renderMetrics(readSnapshots(pools), now)).text;

test('the guide\'s seven names, typed as the guide says, with the state\'s values', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  cleanState(pool, 10);
  const text = await render([pool.root]);
  const p = { pool: pool.root };
  const expect: [string, string, number][] = [
    ['dynamicfs_scrubs_completed', 'counter', 3],
    ['dynamicfs_scrub_issues_found', 'counter', 2],
    ['dynamicfs_scrub_repairs_attempted', 'counter', 2],
    ['dynamicfs_scrub_repairs_successful', 'counter', 1],
    ['dynamicfs_extents_healthy', 'gauge', 10],
    ['dynamicfs_extents_degraded', 'gauge', 0],
    ['dynamicfs_extents_unrecoverable', 'gauge', 0],
    ['dynamicfs_scrub_extents_scanned_total', 'counter', 30],
    ['dynamicfs_scrub_read_bytes_total', 'counter', 30_000],
    ['dynamicfs_scrub_last_duration_seconds', 'gauge', 42],
    ['dynamicfs_pool_readable', 'gauge', 1],
  ];
  for (const [name, type, value] of expect) {
    assert.is(typeOf(text, name), type, `${name} type`);
    assert.is(sample(text, name, p), value, name);
  }
  assert.is(sample(text, 'dynamicfs_scrub_last_outcome', { ...p, outcome: 'clean' }), 1);
  assert.is(sample(text, 'dynamicfs_scrub_last_outcome', { ...p, outcome: 'problems' }), 0);
  assert.is(sample(text, 'dynamicfs_pool_info', { ...p, pool_id: pool.config.id, redundancy: 'mirror:2' }), 1);
  assert.ok(text.endsWith('\n'), 'the last line ends with a newline');
  assert.not.match(text, /^(process|nodejs)_/m, 'no default process metrics');
});

test('counters are the persisted totals: a fresh registry per scrape, never reset by a restart', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  cleanState(pool);
  const first = await render([pool.root]);
  const again = await render([pool.root]);
  // Same state, same value: a second scrape must not add the totals again.
  assert.is(sample(again, 'dynamicfs_scrubs_completed', { pool: pool.root }), sample(first, 'dynamicfs_scrubs_completed', { pool: pool.root }));
  writeState(pool, (s) => {
    s.counters = { scrubsCompleted: 4, issuesFound: 5, repairsAttempted: 5, repairsSuccessful: 5, extentsScanned: 40, bytesRead: 40_000 };
    s.lastPass = passSummary({ outcome: 'repaired' });
  });
  const later = await render([pool.root]);
  assert.is(sample(later, 'dynamicfs_scrubs_completed', { pool: pool.root }), 4);
  assert.is(sample(later, 'dynamicfs_scrub_repairs_successful', { pool: pool.root }), 5);
  assert.is(sample(later, 'dynamicfs_scrub_last_outcome', { pool: pool.root, outcome: 'repaired' }), 1);
});

test('a damaged counter value leaves its series out instead of failing the scrape', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  cleanState(pool);
  const s = JSON.parse(fs.readFileSync(stateFile(pool.root), 'utf8'));
  s.counters.issuesFound = -1;
  s.counters.bytesRead = 'lots';
  fs.writeFileSync(stateFile(pool.root), JSON.stringify(s));
  const text = await render([pool.root]);
  assert.is(sample(text, 'dynamicfs_scrub_issues_found', { pool: pool.root }), undefined);
  assert.is(sample(text, 'dynamicfs_scrub_read_bytes_total', { pool: pool.root }), undefined);
  assert.is(sample(text, 'dynamicfs_scrubs_completed', { pool: pool.root }), 3);
});

test('a never-scrubbed pool: zeros, no last-pass series, verification age counted from creation, health unknown (200)', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  const created = Date.parse(pool.config.created);
  const text = await render([pool.root], created + 5000);
  assert.is(sample(text, 'dynamicfs_scrubs_completed', { pool: pool.root }), 0);
  assert.is(sample(text, 'dynamicfs_scrub_last_completed_timestamp_seconds', { pool: pool.root }), undefined);
  assert.is(sample(text, 'dynamicfs_extents_verification_age_seconds', { pool: pool.root }), 5);
  assert.is(sample(text, 'dynamicfs_pool_created_timestamp_seconds', { pool: pool.root }), created / 1000);
  assert.not.match(text, /dynamicfs_daemon_intensity|dynamicfs_scrub_pass_progress_ratio/, 'families without values are left out');
  const doc = healthDocument(readSnapshots([pool.root]));
  assert.is(doc.state, 'unknown');
  assert.is(doc.pools[0].reason, 'never scrubbed');
  assert.is(healthHttpStatus(doc), 200);
});

test('verification age prefers state.oldestVerifiedAt, then the last completed pass start', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  const now = Date.now();
  writeState(pool, (s) => (s.lastPass = passSummary({ startedAt: new Date(now - 3600_000).toISOString() })));
  assert.is(sample(await render([pool.root], now), 'dynamicfs_extents_verification_age_seconds', { pool: pool.root }), 3600);
  writeState(pool, (s) => {
    s.lastPass = passSummary({ startedAt: new Date(now - 3600_000).toISOString() });
    s.oldestVerifiedAt = new Date(now - 7200_000).toISOString();
  });
  const text = await render([pool.root], now);
  assert.is(sample(text, 'dynamicfs_extents_verification_age_seconds', { pool: pool.root }), 7200);
  assert.is(sample(text, 'dynamicfs_extents_oldest_verified_timestamp_seconds', { pool: pool.root }), (now - 7200_000) / 1000);
});

test('a pass in progress: progress ratio by bytes and ETA at the average rate', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  writeState(pool, (s) => {
    s.current = {
      id: 'p2', mode: 'repair', runner: 'dfs-scrubd', startedAt: new Date().toISOString(), cursor: '7f',
      extentsTotal: 1000, extentsDone: 100, bytesTotal: 4000, bytesDone: 1000,
      issuesFound: 0, repairsAttempted: 0, repairsSuccessful: 0, health: { healthy: 100, degraded: 0, unrecoverable: 0 }, activeSeconds: 10,
    };
  });
  const text = await render([pool.root]);
  assert.is(sample(text, 'dynamicfs_scrub_pass_in_progress', { pool: pool.root }), 1);
  assert.is(sample(text, 'dynamicfs_scrub_pass_progress_ratio', { pool: pool.root }), 0.25);
  assert.is(sample(text, 'dynamicfs_scrub_pass_eta_seconds', { pool: pool.root }), 30);
});

test("schedules: each depth's longest wait between runs, from the pool's own schedule or the systemd timer's config", async () => {
  const dir = scratchDir('dfs-metrics-');
  const pool = makePool(dir);
  const config = path.join(dir, 'etc-dynamicfs-scrub');
  const schedule = (args: string[]) => {
    const r = cli('dfs-scrub-schedule', ['--pool', pool.root, ...args]);
    assert.is(r.status, 0, r.stderr);
  };
  const interval = async (depth: string) => sample(await render([pool.root]), 'dynamicfs_scrub_schedule_interval_seconds', { pool: pool.root, depth });
  const saved = process.env.DFS_SCHEDULE_CONFIG_DIR;
  process.env.DFS_SCHEDULE_CONFIG_DIR = config;
  try {
    assert.is(await interval('deep'), undefined, 'no schedule, no series');
    // Without systemd: the node-cron runner's schedule, kept in the pool. Nightly: 24 h apart (25 h across a DST change), within an hour.
    schedule(['--frequency', 'nightly', '--backend', 'cron']);
    const nightly = await interval('deep');
    assert.ok(nightly !== undefined && nightly >= 86_400 + 3600 && nightly <= 90_000 + 3600, `nightly: ${nightly}`);
    // A systemd timer's config: hourly light passes, within 5 minutes.
    schedule(['--depth', 'light', '--frequency', 'hourly', '--unit-dir', path.join(dir, 'units'), '--config-dir', config]);
    assert.is(await interval('light'), 3600 + 300);
    // A schedule that cannot be read leaves its series out; the scrape goes on.
    fs.writeFileSync(path.join(pool.root, '.dynamicfs', 'schedule.json'), '{"format": 1}');
    const text = await render([pool.root]);
    assert.is(sample(text, 'dynamicfs_scrub_schedule_interval_seconds', { pool: pool.root, depth: 'deep' }), undefined);
    assert.is(sample(text, 'dynamicfs_pool_readable', { pool: pool.root }), 1);
  } finally {
    if (saved === undefined) delete process.env.DFS_SCHEDULE_CONFIG_DIR;
    else process.env.DFS_SCHEDULE_CONFIG_DIR = saved;
  }
});

test('a cancelled last pass: outcome cancelled, and no completed-pass time to report', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  writeState(pool, (s) => (s.lastPass = passSummary({ outcome: 'cancelled', exitCode: 32 })));
  const text = await render([pool.root]);
  assert.is(sample(text, 'dynamicfs_scrub_last_outcome', { pool: pool.root, outcome: 'cancelled' }), 1);
  assert.is(sample(text, 'dynamicfs_scrub_last_completed_timestamp_seconds', { pool: pool.root }), undefined);
});

test('unrecoverable state: the gauge says so and /health is 503', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  unrecoverableState(pool);
  const text = await render([pool.root]);
  assert.is(sample(text, 'dynamicfs_extents_unrecoverable', { pool: pool.root }), 1);
  assert.is(sample(text, 'dynamicfs_extents_degraded', { pool: pool.root }), 1);
  const doc = healthDocument(readSnapshots([pool.root]));
  assert.is(doc.state, 'unrecoverable');
  assert.equal(doc.pools[0].extents, { healthy: 8, degraded: 1, unrecoverable: 1 });
  assert.is(healthHttpStatus(doc), 503);
});

test('disks by state; a missing disk makes a clean pool degraded', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'), 'pool', 4);
  cleanState(pool);
  removeDiskLabel(pool, 2);
  const text = await render([pool.root]);
  assert.is(sample(text, 'dynamicfs_disks', { pool: pool.root, state: 'online' }), 3);
  assert.is(sample(text, 'dynamicfs_disks', { pool: pool.root, state: 'missing' }), 1);
  assert.is(sample(text, 'dynamicfs_disks', { pool: pool.root, state: 'read-only' }), 0);
  const doc = healthDocument(readSnapshots([pool.root]));
  assert.is(doc.state, 'degraded');
  assert.is(doc.pools[0].reason, '1 disks not online');
  assert.is(healthHttpStatus(doc), 200);
});

test('daemon state: up, paused, throttled, intensity, deadline; a dead daemon is down', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  cleanState(pool);
  writeDaemonInfo(pool, { paused: true, throttled: 'io pressure', intensity: 'medium', deadlineSeconds: 3600, deadlineAchievable: false });
  let text = await render([pool.root]);
  const p = { pool: pool.root };
  assert.is(sample(text, 'dynamicfs_daemon_up', p), 1);
  assert.is(sample(text, 'dynamicfs_daemon_paused', p), 1);
  assert.is(sample(text, 'dynamicfs_daemon_throttled', p), 1);
  assert.is(sample(text, 'dynamicfs_daemon_intensity', { ...p, intensity: 'medium' }), 1);
  assert.is(sample(text, 'dynamicfs_daemon_intensity', { ...p, intensity: 'low' }), 0);
  assert.is(sample(text, 'dynamicfs_daemon_deadline_achievable', p), 0);
  let doc = healthDocument(readSnapshots([pool.root]));
  assert.equal(doc.pools[0].daemon, { running: true, pid: process.pid, paused: true, throttled: 'io pressure', intensity: 'medium' });

  writeDaemonInfo(pool, { pid: deadPid(), paused: true, throttled: 'rate' });
  text = await render([pool.root]);
  assert.is(sample(text, 'dynamicfs_daemon_up', p), 0);
  assert.is(sample(text, 'dynamicfs_daemon_paused', p), 0, 'a dead daemon pauses nothing');
  assert.is(sample(text, 'dynamicfs_daemon_throttled', p), 0);
  assert.ok(sample(text, 'dynamicfs_daemon_updated_timestamp_seconds', p)! > 0, 'a daemon ran: the alert can tell');
  assert.is(sample(text, 'dynamicfs_daemon_deadline_achievable', p), undefined);
  doc = healthDocument(readSnapshots([pool.root]));
  assert.is(doc.pools[0].daemon!.running, false);
});

test('daemon I/O-pressure back-off: floor, held rate and what sets it; absent when off, not holding, or not running', async () => {
  const pool = makePool(scratchDir('dfs-metrics-'));
  cleanState(pool);
  const p = { pool: pool.root };
  const floor = 12 * 1048576;
  writeDaemonInfo(pool, { throttled: 'io pressure', deadlineSeconds: 3600, ioPressure: { limit: 20, floorBytesPerSecond: floor, pressure: 45, holding: { bytesPerSecond: 40 * 1048576, by: 'deadline' } } });
  let text = await render([pool.root]);
  assert.is(typeOf(text, 'dynamicfs_daemon_io_pressure_floor_bytes_per_second'), 'gauge');
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_floor_bytes_per_second', p), floor);
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_held_rate_bytes_per_second', p), 40 * 1048576);
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_held_by', { ...p, by: 'deadline' }), 1);
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_held_by', { ...p, by: 'floor' }), 0);
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_held_by', { ...p, by: 'max-rate' }), 0);

  // A deadline already missed: nothing caps the rate, so there is no held rate to give.
  writeDaemonInfo(pool, { throttled: 'io pressure', ioPressure: { limit: 20, floorBytesPerSecond: floor, pressure: 45, holding: { bytesPerSecond: null, by: 'deadline' } } });
  text = await render([pool.root]);
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_held_rate_bytes_per_second', p), undefined);
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_held_by', { ...p, by: 'deadline' }), 1);

  writeDaemonInfo(pool, { ioPressure: { limit: 20, floorBytesPerSecond: floor, pressure: 3, holding: null } });
  text = await render([pool.root]);
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_floor_bytes_per_second', p), floor);
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_held_rate_bytes_per_second', p), undefined);
  assert.is(sample(text, 'dynamicfs_daemon_io_pressure_held_by', { ...p, by: 'floor' }), undefined);

  // Back-off off (no ioPressure), a dead daemon, or a planted shape: no series.
  for (const over of [{}, { pid: deadPid(), ioPressure: { limit: 20, floorBytesPerSecond: floor, pressure: 45, holding: { bytesPerSecond: floor, by: 'floor' as const } } }, { ioPressure: { limit: '20', floorBytesPerSecond: floor } as never }]) {
    writeDaemonInfo(pool, over);
    text = await render([pool.root]);
    assert.is(sample(text, 'dynamicfs_daemon_io_pressure_floor_bytes_per_second', p), undefined, JSON.stringify(over));
    assert.is(sample(text, 'dynamicfs_daemon_io_pressure_held_by', { ...p, by: 'floor' }), undefined, JSON.stringify(over));
  }
});

test('several pools: one series each; an unreadable pool says readable 0 and nothing else', async () => {
  const dir = scratchDir('dfs-metrics-');
  const a = makePool(dir, 'a');
  const b = makePool(dir, 'b');
  cleanState(a);
  cleanState(b);
  fs.writeFileSync(stateFile(b.root), '{ torn');
  const gone = path.join(dir, 'nonexistent');
  const text = await render([a.root, b.root, gone]);
  assert.is(sample(text, 'dynamicfs_pool_readable', { pool: a.root }), 1);
  assert.is(sample(text, 'dynamicfs_pool_readable', { pool: b.root }), 0);
  assert.is(sample(text, 'dynamicfs_pool_readable', { pool: gone }), 0);
  assert.is(sample(text, 'dynamicfs_scrubs_completed', { pool: a.root }), 3);
  assert.is(sample(text, 'dynamicfs_scrubs_completed', { pool: b.root }), undefined);
  const snap = readPoolSnapshot(b.root);
  assert.is(snap.ok, false);
  assert.match(!snap.ok ? snap.error : '', stateFile(b.root), 'the error names the file');
  const doc = healthDocument(readSnapshots([a.root, b.root]));
  assert.is(doc.state, 'unknown');
  assert.is(doc.pools[1].state, 'unknown');
  assert.ok(doc.pools[1].error);
});

test('health: the worst pool decides; a known problem outranks unknown', () => {
  const dir = scratchDir('dfs-metrics-');
  const [a, b, c] = ['a', 'b', 'c'].map((n) => makePool(dir, n));
  cleanState(a);
  writeState(b, (s) => {
    s.health = { healthy: 9, degraded: 1, unrecoverable: 0 };
    s.lastPass = passSummary({ outcome: 'problems' });
  });
  // c never scrubbed: unknown
  assert.is(healthDocument(readSnapshots([a.root])).state, 'healthy');
  assert.is(healthDocument(readSnapshots([a.root, c.root])).state, 'unknown');
  assert.is(healthDocument(readSnapshots([a.root, b.root, c.root])).state, 'degraded');
  unrecoverableState(c);
  assert.is(healthDocument(readSnapshots([a.root, b.root, c.root])).state, 'unrecoverable');
});

const usage = (fn: () => unknown, option: string) => {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DfsError);
    assert.is((err as DfsError).code, 16);
    assert.ok((err as Error).message.startsWith(option), `"${(err as Error).message}" names ${option}`);
    return;
  }
  assert.unreachable(`no usage error for ${option}`);
};

test('option values: ports, addresses, intervals, textfile names', () => {
  assert.is(parsePort('9090'), 9090);
  assert.is(parsePort('0'), 0);
  assert.is(parsePort(65535), 65535);
  for (const bad of ['65536', '-1', '1e3', 'http', '', true, ['1', '2']]) usage(() => parsePort(bad), '--port');
  assert.is(parseListen('0.0.0.0'), '0.0.0.0');
  assert.is(parseListen('::'), '::');
  assert.is(parseListen('[::1]'), '::1');
  assert.is(parseListen('localhost'), '127.0.0.1');
  for (const bad of ['example.com', '1.2.3.4.5', '127.0.0.1:9090', '']) usage(() => parseListen(bad), '--listen');
  assert.equal(parsePools(['/a', 5]), ['/a', path.resolve('5')]);
  usage(() => parsePools(['/a', '/b/../a']), '--pool');
  usage(() => parsePools(undefined), '--pool');
  assert.is(parseInterval('60s'), 60);
  assert.is(parseInterval('5m'), 300);
  assert.is(parseInterval(90), 90);
  for (const bad of ['0s', '1d', 'soon', '-5']) usage(() => parseInterval(bad), '--interval');
  assert.is(parseTextfileName('dynamicfs-var-lib-dynamicfs-pool.prom'), 'dynamicfs-var-lib-dynamicfs-pool.prom');
  assert.is(parseTextfileName('dynamicfs-srv-my\\x2dpool.prom'), 'dynamicfs-srv-my\\x2dpool.prom');
  for (const bad of ['x.txt', '../x.prom', 'a/b.prom', '.prom', '.x.prom']) usage(() => parseTextfileName(bad), '--textfile-name');
});

test.run();

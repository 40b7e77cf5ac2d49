// A fleet watched end to end with real parts: two dfs-metrics exporters stand
// for two hosts (the scrape config gives each a `host` label), each with two
// pools made, filled, damaged and scrubbed by the project's own tools. A real
// Prometheus scrapes them every second and evaluates the shipped alert rules
// (only their `for:` shortened) and recording rules; a real Alertmanager routes
// what fires to a webhook served here on loopback.
//
//   alpha: archive  mirror:2, both copies of one extent deleted: unrecoverable;
//                   scrubbed nightly (the node-cron runner's schedule)
//          media    rs:2+1, a daemon paused in the middle of its pass
//   beta:  photos   rs:2+1, one shard deleted: degraded, repaired later
//          backup   mirror:2, a dead disk replaced by a blank one: rebuilding
//
// The right alert fires for the right host and pool and reaches the webhook;
// the recording rules sum per host and across the fleet; every query of the
// Grafana dashboard, its variables substituted as Grafana would, runs and
// returns series; and once beta's pool is repaired its alert resolves.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { cli, repoRoot, requireTool, scratchDir } from './helpers';
import { serve, type Served } from './metrics-fixtures';
import { control, makePool, readState, startDetached, type TestPool } from './daemon-fixtures';
import { BUILTIN_INTERVALS, labelValuesQuery, multiValue, panelTargets, readDashboard, substitute } from './dashboard-fixtures';
import { alerts, labelValues, query, startAlertmanager, startPrometheus, startWebhook, until, type Service, type Webhook } from './prometheus-fixtures';

const SHORT_FOR = '2s';

/** The shipped alert rules, every `for:` shortened and nothing else changed. */
function shortenedAlerts(): string {
  const shipped = fs.readFileSync(path.join(repoRoot, 'src', 'metrics', 'alerts.yml'), 'utf8');
  const shortened = shipped.replace(/^(\s+for: )\S+$/gm, (_, lead: string) => lead + SHORT_FOR);
  const a = shipped.split('\n'), b = shortened.split('\n');
  const changed = a.filter((l, i) => l !== b[i]);
  assert.ok(changed.length >= 10 && changed.every((l) => /^\s+for: \S+$/.test(l)), `only for: lines changed: ${changed.join(' | ')}`);
  return shortened;
}

const mustRun = (name: string, args: string[], want: number) => {
  const r = cli(name, args);
  assert.is(r.status, want, `${name} ${args.join(' ')}: exit ${r.status}, expected ${want}\n${r.stdout}${r.stderr}`);
  return r;
};

interface Fleet {
  archive: TestPool;
  media: TestPool;
  photos: TestPool;
  backup: TestPool;
  exporters: Served[];
  prometheus: Service;
  alertmanager: Service;
  webhook: Webhook;
}

let fleet: Fleet | undefined;
let skipped = false;

/** Two hosts' pools, in the states the header describes, made with dfs-pool, dfs-inject, dfs-scrub and dfs-scrubd. */
async function makePools() {
  const dir = scratchDir('dfs-fleet-');
  for (const host of ['alpha', 'beta']) fs.mkdirSync(path.join(dir, host));
  const small = [{ name: 'ledger', bytes: 40_000 }];
  const archive = makePool({ dir: path.join(dir, 'alpha'), name: 'archive', disks: 3, redundancy: 'mirror:2', objects: small });
  mustRun('dfs-inject', ['delete', '--pool', archive.root, '--object', 'ledger', '--extent-index', '0', '--shard', '0', '--shard', '1'], 0);
  mustRun('dfs-scrub', ['--pool', archive.root], 4);
  mustRun('dfs-scrub-schedule', ['--pool', archive.root, '--frequency', 'nightly', '--backend', 'cron'], 0);

  // Enough extents that a low-intensity pass is still running when paused.
  const media = makePool({ dir: path.join(dir, 'alpha'), name: 'media', disks: 4, redundancy: 'rs:2+1', objects: [{ name: 'film', bytes: 4_000_000 }] });
  mustRun('dfs-scrub', ['--pool', media.root, '--light'], 0);

  const photos = makePool({ dir: path.join(dir, 'beta'), name: 'photos', disks: 4, redundancy: 'rs:2+1', objects: [{ name: 'album', bytes: 60_000 }] });
  mustRun('dfs-inject', ['delete', '--pool', photos.root, '--object', 'album', '--extent-index', '1', '--shard', '0'], 0);
  mustRun('dfs-scrub', ['--pool', photos.root], 4);

  const backup = makePool({ dir: path.join(dir, 'beta'), name: 'backup', disks: 3, redundancy: 'mirror:2', objects: small });
  mustRun('dfs-scrub', ['--pool', backup.root], 0);
  mustRun('dfs-inject', ['detach-disk', '--pool', backup.root, '--disk', '2'], 0);
  const blank = path.join(dir, 'beta', 'new-drive');
  fs.mkdirSync(blank);
  mustRun('dfs-pool', ['replace-disk', '--pool', backup.root, '2', blank, '--force'], 0);

  const daemon = startDetached(media, ['--intensity', 'low']);
  assert.is(daemon.result.status, 0, daemon.result.stderr);
  // The daemon checkpoints its pass every few seconds: pause once one is on disk, so the pass shows progress and an ETA.
  await until('the daemon to checkpoint its pass', async () => ((readState(media.root)?.current?.extentsDone ?? 0) > 0 ? true : undefined), 30_000);
  await control(media.root, { cmd: 'pause' });
  return { archive, media, photos, backup };
}

async function start(): Promise<Fleet | undefined> {
  if (fleet || skipped) return fleet;
  if (!requireTool('prometheus') || !requireTool('prometheus-alertmanager')) {
    skipped = true;
    return undefined;
  }
  const pools = await makePools();
  const alpha = await serve(['--pool', pools.archive.root, '--pool', pools.media.root]);
  const beta = await serve(['--pool', pools.photos.root, '--pool', pools.backup.root]);
  const webhook = await startWebhook();
  const dir = scratchDir('dfs-fleet-prom-');
  const alertmanager = await startAlertmanager(path.join(dir, 'alertmanager'), `route:
  receiver: webhook
  group_by: [alertname, host, pool]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: ${webhook.url}
        send_resolved: true
`);
  const target = (s: Served) => new URL(s.url).host;
  const prometheus = await startPrometheus(path.join(dir, 'prometheus'), `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
  - records.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['${new URL(alertmanager.url).host}']
scrape_configs:
  - job_name: dynamicfs
    static_configs:
      - targets: ['${target(alpha)}']
        labels: {host: alpha}
      - targets: ['${target(beta)}']
        labels: {host: beta}
`, { 'alerts.yml': shortenedAlerts(), 'records.yml': fs.readFileSync(path.join(repoRoot, 'src', 'metrics', 'records.yml'), 'utf8') });
  fleet = { ...pools, exporters: [alpha, beta], prometheus, alertmanager, webhook };
  return fleet;
}

const firing = (f: Fleet) => f.webhook.alerts.filter((a) => a.status === 'firing');
const names = (list: { labels: Record<string, string> }[]) => list.map((a) => `${a.labels.alertname} ${a.labels.host} ${a.labels.pool}`).sort();

test('Prometheus scrapes both hosts: every pool readable, labelled with its host', async () => {
  const f = await start();
  if (!f) return;
  const up = await until('both exporters scraped', async () => {
    const r = await query(f.prometheus, 'dynamicfs_pool_readable == 1');
    return r.length === 4 ? r : undefined;
  }, 30_000);
  assert.equal(
    up.map((s) => `${s.metric.host} ${s.metric.pool}`).sort(),
    [`alpha ${f.archive.root}`, `alpha ${f.media.root}`, `beta ${f.backup.root}`, `beta ${f.photos.root}`],
  );
});

test('beyond repair on alpha, degraded on beta: the right alert for the right host and pool reaches the webhook', async () => {
  const f = await start();
  if (!f) return;
  const want = [`DegradedExtentsPersisting beta ${f.photos.root}`, `UnrecoverableExtents alpha ${f.archive.root}`];
  await until('both alerts at the webhook', async () => (names(firing(f)).join('\n') === want.join('\n') ? true : undefined), 60_000).catch((err: Error) => {
    throw new Error(`${err.message}\nwebhook got: ${JSON.stringify(f.webhook.alerts)}\nPrometheus: ${f.prometheus.log()}\nAlertmanager: ${f.alertmanager.log()}`);
  });
  // Prometheus agrees: these two fire, nothing else does.
  assert.equal(names((await alerts(f.prometheus)).filter((a) => a.state === 'firing')), want);
  const unrecoverable = firing(f).find((a) => a.labels.alertname === 'UnrecoverableExtents')!;
  assert.is(unrecoverable.annotations.description, '1 extents cannot be recovered');
  const degraded = firing(f).find((a) => a.labels.alertname === 'DegradedExtentsPersisting')!;
  assert.is(degraded.labels.severity, 'warning');
  assert.match(degraded.annotations.description, `dynamicfs scrub --pool ${f.photos.root} --repair`);
});

test('recording rules on the real Prometheus: per host and across the fleet', async () => {
  const f = await start();
  if (!f) return;
  const byHost = async (promql: string) =>
    Object.fromEntries((await query(f.prometheus, promql)).map((s) => [s.metric.host ?? 'fleet', Number(s.value[1])]));
  assert.equal(await byHost('instance:dynamicfs_extents_unrecoverable:sum'), { alpha: 1, beta: 0 });
  assert.equal(await byHost('fleet:dynamicfs_extents_unrecoverable:sum'), { fleet: 1 });
  assert.equal(await byHost('instance:dynamicfs_extents_degraded:sum'), { alpha: 0, beta: 1 });
  assert.equal(await byHost('instance:dynamicfs_scrubs_overdue:sum'), { alpha: 0, beta: 0 });
  const age = await byHost('fleet:dynamicfs_extents_verification_age_seconds:max');
  assert.ok(age.fleet >= 0 && age.fleet < 3600, `the fleet's oldest verification is recent: ${age.fleet} s`);
});

test('every query of the Grafana dashboard runs, variables substituted, and returns series', async () => {
  const f = await start();
  if (!f) return;
  const dashboard = readDashboard();
  const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
  // The variables as Grafana fills them: label_values() on this Prometheus, every value selected (All).
  const instanceQuery = labelValuesQuery(variables.instance.query);
  const instances = await labelValues(f.prometheus, instanceQuery.selector, instanceQuery.label);
  assert.equal(instances.sort(), f.exporters.map((s) => new URL(s.url).host).sort());
  const poolQuery = labelValuesQuery(variables.pool.query);
  const vars = { ...BUILTIN_INTERVALS, instance: multiValue(instances) };
  const pools = await labelValues(f.prometheus, substitute(poolQuery.selector, vars), poolQuery.label);
  assert.equal(pools.sort(), [f.archive.root, f.media.root, f.photos.root, f.backup.root].sort());
  Object.assign(vars, { pool: multiValue(pools) });

  const targets = panelTargets(dashboard);
  assert.ok(targets.length >= 20, `${targets.length} queries`);
  const empty: string[] = [];
  for (const t of targets) {
    const promql = substitute(t.expr, vars);
    const result = await query(f.prometheus, promql).catch((err: Error) => {
      throw new Error(`${t.panel} ${t.refId}: Prometheus refused the query: ${err.message}`);
    });
    if (result.length === 0) empty.push(`${t.panel} ${t.refId}: ${promql}`);
  }
  assert.equal(empty, [], `queries without series:\n${empty.join('\n')}`);

  // The pool variable filters: one pool selected, one pool's series.
  const unrecoverable = targets.find((t) => /dynamicfs_extents_unrecoverable\{/.test(t.expr))!;
  const one = await query(f.prometheus, substitute(unrecoverable.expr, { ...vars, pool: multiValue([f.archive.root]) }));
  assert.equal(one.map((s) => [s.metric.pool, s.value[1]]), [[f.archive.root, '1']]);
});

test("repairing beta's pool resolves its alert, and the webhook hears it; alpha's stays firing", async () => {
  const f = await start();
  if (!f) return;
  mustRun('dfs-scrub', ['--pool', f.photos.root, '--repair'], 1);
  await until('the resolved notification', async () =>
    f.webhook.alerts.some((a) => a.status === 'resolved' && a.labels.alertname === 'DegradedExtentsPersisting' && a.labels.host === 'beta' && a.labels.pool === f.photos.root) ? true : undefined, 60_000);
  const still = (await alerts(f.prometheus)).filter((a) => a.state === 'firing');
  assert.equal(names(still), [`UnrecoverableExtents alpha ${f.archive.root}`]);
  assert.not.ok(f.webhook.alerts.some((a) => a.status === 'resolved' && a.labels.alertname === 'UnrecoverableExtents'), 'the unrecoverable pool is not resolved');
});

test('afterwards: the daemon, the exporters, Prometheus and Alertmanager stop', async () => {
  if (!fleet) return;
  const f = fleet;
  mustRun('dfs-scrubd', ['stop', '--pool', f.media.root], 0);
  for (const s of f.exporters) assert.is((await s.stop()).status, 0);
  await f.prometheus.stop();
  await f.alertmanager.stop();
  await f.webhook.close();
});

test.run();

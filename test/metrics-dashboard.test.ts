// The Grafana dashboard shipped as share/dynamicfs/grafana/dynamicfs.json is
// importable as it is: a Prometheus data source variable, multi-value
// `instance` and `pool` variables, every query on that data source naming only
// metrics the exporter exports or records.yml records, and a panel for each
// thing an operator watches. test/metrics-fleet.test.ts runs every query on a
// real Prometheus.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers';
import { allPanels, BUILTIN_INTERVALS, labelValuesQuery, panelTargets, readDashboard, substitute } from './dashboard-fixtures';

const registrySource = fs.readFileSync(path.join(repoRoot, 'src', 'metrics', 'registry.ts'), 'utf8');
const exported = new Set([...registrySource.matchAll(/'(dynamicfs_[a-z_]+)'/g)].map((m) => m[1]));
const recorded = new Set([...fs.readFileSync(path.join(repoRoot, 'src', 'metrics', 'records.yml'), 'utf8').matchAll(/- record: (\S+)/g)].map((m) => m[1]));

test('variables: a Prometheus data source, then instance and pool, multi-value with All', () => {
  const d = readDashboard();
  assert.is(d.uid, 'dynamicfs-scrub');
  const [ds, instance, pool] = d.templating.list;
  assert.equal([ds.name, ds.type, ds.query], ['datasource', 'datasource', 'prometheus']);
  assert.equal(labelValuesQuery(instance.query), { selector: 'dynamicfs_pool_readable', label: 'instance' });
  assert.equal(labelValuesQuery(pool.query), { selector: 'dynamicfs_pool_readable{instance=~"$instance"}', label: 'pool' });
  for (const v of [instance, pool]) {
    assert.ok(v.multi && v.includeAll, `${v.name} is multi-value with All`);
    assert.is(v.definition, (v.query as { query: string }).query, `${v.name}: the definition Grafana shows is the query`);
  }
});

test('panels: unique ids, every query on the data source variable, naming metrics that exist', () => {
  const d = readDashboard();
  const panels = allPanels(d);
  assert.is(new Set(panels.map((p) => p.id)).size, panels.length, 'unique panel ids');
  for (const p of panels.filter((x) => x.type !== 'row')) {
    assert.equal(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${p.title}: data source`);
    assert.ok((p.targets ?? []).length > 0, `${p.title}: has queries`);
    for (const t of p.targets!) assert.is(t.datasource?.uid, '${datasource}', `${p.title} ${t.refId}: data source`);
  }
  for (const t of panelTargets(d)) {
    for (const [name] of t.expr.matchAll(/\b(?:[a-z]+:)?dynamicfs_[a-z_]+(?::[a-z]+)?/g)) {
      assert.ok(exported.has(name) || recorded.has(name), `${t.panel}: ${name} is neither exported (src/metrics/registry.ts) nor recorded (records.yml)`);
    }
    // Every variable it uses has a value: the dashboard's own or Grafana's built-ins.
    substitute(t.expr, { instance: '.*', pool: '.*', ...BUILTIN_INTERVALS });
  }
});

test("panels for what the issue names: the guide's counters as rates, extents, pass, schedule, verification, bytes, daemon, disks", () => {
  const exprs = panelTargets(readDashboard()).map((t) => t.expr);
  const uses = (re: RegExp, what: string) => assert.ok(exprs.some((e) => re.test(e)), what);
  for (const c of ['dynamicfs_scrubs_completed', 'dynamicfs_scrub_issues_found', 'dynamicfs_scrub_repairs_attempted', 'dynamicfs_scrub_repairs_successful']) {
    uses(new RegExp(`rate\\(${c}\\{[^}]*\\}\\[\\$__rate_interval\\]\\)`), `${c} as a rate`);
  }
  for (const h of ['healthy', 'degraded', 'unrecoverable']) uses(new RegExp(`\\bdynamicfs_extents_${h}\\{`), `extents ${h}`);
  uses(/dynamicfs_scrub_pass_progress_ratio/, 'pass progress');
  uses(/dynamicfs_scrub_pass_eta_seconds/, 'pass ETA');
  uses(/time\(\) - dynamicfs_scrub_last_completed_timestamp_seconds/, 'time since the last completed scrub');
  uses(/\/ on \(instance, pool, depth\) dynamicfs_scrub_schedule_interval_seconds/, 'time since the last completed scrub against its schedule');
  uses(/dynamicfs_extents_verification_age_seconds/, 'oldest verification age');
  uses(/rate\(dynamicfs_scrub_read_bytes_total/, 'bytes read per second');
  for (const d of ['up', 'paused', 'throttled']) uses(new RegExp(`dynamicfs_daemon_${d}\\{`), `daemon ${d}`);
  uses(/dynamicfs_disks\{/, 'disks by state');
  uses(/dynamicfs_disk_errors_total/, 'errors per disk');
  uses(/dynamicfs_disk_resilver_progress_ratio/, 'resilver progress');
  uses(/^sum\(instance:dynamicfs_extents_unrecoverable:sum/, 'the fleet row reads the recording rules');
});

test.run();

// The alerting rules shipped as share/dynamicfs/alerts.yml: valid for
// promtool, the guide's UnrecoverableExtents rule verbatim, and every rule
// firing (and not firing) as test/metrics-alerts.promtool.yml expects.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot, requireTool } from './helpers';

const RULES = path.join(repoRoot, 'src', 'metrics', 'alerts.yml');
const CASES = path.join(repoRoot, 'test', 'metrics-alerts.promtool.yml');

const promtool = (args: string[]) => spawnSync('promtool', args, { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });

test("the guide's UnrecoverableExtents rule, verbatim", () => {
  const guideRule = [
    '  - name: dynamicfs_alerts',
    '    rules:',
    '      - alert: UnrecoverableExtents',
    '        expr: dynamicfs_extents_unrecoverable > 0',
    '        for: 5m',
    '        annotations:',
    '          summary: "DynamicFS has unrecoverable extents"',
    '          description: "{{ $value }} extents cannot be recovered"',
  ];
  const lines = fs.readFileSync(RULES, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l));
  const at = lines.indexOf(guideRule[0]);
  assert.ok(at >= 0, 'group dynamicfs_alerts');
  assert.equal(lines.slice(at, at + guideRule.length), guideRule);
});

test('promtool check rules', () => {
  if (!requireTool('promtool')) return;
  const r = promtool(['check', 'rules', RULES]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, 'SUCCESS: 13 rules found');
});

test('promtool test rules: each alert fires when it should and only then', () => {
  if (!requireTool('promtool')) return;
  const r = promtool(['test', 'rules', CASES]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, 'SUCCESS');
  // Every rule in the file has a case.
  const alerts = [...fs.readFileSync(RULES, 'utf8').matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]);
  const cases = fs.readFileSync(CASES, 'utf8');
  for (const a of alerts) assert.match(cases, `alertname: ${a}\n`, `a case for ${a}`);
});

test.run();

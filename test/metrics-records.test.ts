// The recording rules shipped as share/dynamicfs/records.yml: valid for
// promtool, named level:metric:operations, and each computing per target and
// across the fleet what test/metrics-records.promtool.yml expects.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot, requireTool } from './helpers';

const RULES = path.join(repoRoot, 'src', 'metrics', 'records.yml');
const CASES = path.join(repoRoot, 'test', 'metrics-records.promtool.yml');

const promtool = (args: string[]) => spawnSync('promtool', args, { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
const records = () => [...fs.readFileSync(RULES, 'utf8').matchAll(/^\s*- record: (\S+)$/gm)].map((m) => m[1]);

test('names: instance: and fleet: levels of the same metric and operation', () => {
  const names = records();
  assert.ok(names.length >= 8, `${names.length} recording rules`);
  for (const n of names) assert.match(n, /^(instance|fleet):dynamicfs_[a-z_]+:(sum|max)$/, n);
  const instance = names.filter((n) => n.startsWith('instance:')).map((n) => n.replace(/^instance:/, ''));
  const fleet = names.filter((n) => n.startsWith('fleet:')).map((n) => n.replace(/^fleet:/, ''));
  assert.equal(fleet, instance, 'each per-instance rule has its fleet-wide one');
  for (const want of ['dynamicfs_extents_unrecoverable:sum', 'dynamicfs_extents_verification_age_seconds:max', 'dynamicfs_scrubs_overdue:sum']) {
    assert.ok(instance.includes(want), `instance:${want}`);
  }
});

test('promtool check rules', () => {
  if (!requireTool('promtool')) return;
  const r = promtool(['check', 'rules', RULES]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, `SUCCESS: ${records().length} rules found`);
});

test('promtool test rules: per instance and across the fleet', () => {
  if (!requireTool('promtool')) return;
  const r = promtool(['test', 'rules', CASES]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, 'SUCCESS');
  const cases = fs.readFileSync(CASES, 'utf8');
  for (const name of records()) assert.match(cases, `- expr: ${name}\n`, `a case for ${name}`);
});

test.run();

// The dfs-metrics systemd units and man page: units that systemd accepts,
// hardened to an exposure of at most 2.0, the textfile unit's instance being
// the escaped pool path; and a man page mandoc finds no warning in.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot, requireTool, scratchDir } from './helpers';
import { metricsProgram } from '../src/cli/dfs-metrics';

const UNITS = path.join(repoRoot, 'units');
const MAX_EXPOSURE = 2.0;

/** The units as `make install` writes them: @bindir@ replaced, the template instantiated for a pool. */
function installed(): { dir: string; bindir: string; service: string; textfile: string } {
  const dir = scratchDir('dfs-metrics-units-');
  const bindir = path.join(dir, 'bin');
  fs.mkdirSync(bindir);
  fs.writeFileSync(path.join(bindir, 'dfs-metrics'), '#!/bin/sh\n', { mode: 0o755 });
  const units = path.join(dir, 'units');
  fs.mkdirSync(units);
  for (const name of ['dfs-metrics.service', 'dfs-metrics-textfile@.service', 'dfs-metrics-textfile@.timer']) {
    const text = fs.readFileSync(path.join(UNITS, name), 'utf8').replaceAll('@bindir@', bindir).replaceAll('@libdir@', path.join(dir, 'lib'));
    fs.writeFileSync(path.join(units, name), text);
  }
  const instance = 'var-lib-dynamicfs-pool'; // systemd-escape --path /var/lib/dynamicfs/pool
  const textfile = `dfs-metrics-textfile@${instance}.service`;
  fs.copyFileSync(path.join(units, 'dfs-metrics-textfile@.service'), path.join(units, textfile));
  fs.copyFileSync(path.join(units, 'dfs-metrics-textfile@.timer'), path.join(units, `dfs-metrics-textfile@${instance}.timer`));
  return { dir: units, bindir, service: 'dfs-metrics.service', textfile };
}

const analyze = (cwd: string, args: string[]) => spawnSync('systemd-analyze', args, { cwd, encoding: 'utf8', timeout: 60_000 });

test('the units name their man page and the installed executable', () => {
  for (const name of ['dfs-metrics.service', 'dfs-metrics-textfile@.service', 'dfs-metrics-textfile@.timer']) {
    const text = fs.readFileSync(path.join(UNITS, name), 'utf8');
    assert.match(text, /^Documentation=man:dfs-metrics\(8\)$/m, name);
    if (name.endsWith('.service')) assert.match(text, /^ExecStart=@bindir@\/dfs-metrics /m, name);
  }
  const textfile = fs.readFileSync(path.join(UNITS, 'dfs-metrics-textfile@.service'), 'utf8');
  assert.match(textfile, /--pool %f .*--textfile-dir \/var\/lib\/prometheus\/node-exporter/);
  assert.match(textfile, /^RestrictAddressFamilies=AF_UNIX$/m, 'no network for the textfile writer');
  assert.match(textfile, /^PrivateNetwork=yes$/m);
});

test('systemd-analyze verify accepts the units', () => {
  if (!requireTool('systemd-analyze')) return;
  const u = installed();
  const r = analyze(u.dir, ['verify', '--man=no', u.service, u.textfile, 'dfs-metrics-textfile@var-lib-dynamicfs-pool.timer']);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.is((r.stdout + r.stderr).trim(), '', 'no warnings');
});

test(`hardened: systemd-analyze security exposure <= ${MAX_EXPOSURE}`, () => {
  if (!requireTool('systemd-analyze')) return;
  const u = installed();
  for (const unit of [u.service, u.textfile]) {
    const r = analyze(u.dir, ['security', '--offline=true', '--no-pager', unit]);
    const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
    assert.ok(m, `${unit}: ${r.stdout}${r.stderr}`);
    assert.ok(Number(m![1]) <= MAX_EXPOSURE, `${unit}: exposure ${m![1]}`);
  }
});

test('man/dfs-metrics.8 is clean for mandoc -Tlint -Wwarning and documents every option', () => {
  if (!requireTool('mandoc')) return;
  const page = path.join(repoRoot, 'man', 'dfs-metrics.8');
  const r = spawnSync('mandoc', ['-Tlint', '-Wwarning', page], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const text = fs.readFileSync(page, 'utf8');
  for (const o of metricsProgram.commands[0].options) {
    const flag = o.flag.replace(/^--/, '');
    assert.match(text, `.It Fl -${flag}`, `man page documents --${flag}`);
  }
});

test.run();

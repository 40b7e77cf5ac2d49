// The scrub schedule's systemd side: the shipped units are what the renderer
// makes; for every frequency (and custom calendars, and pools with disks
// outside the pool directory) the units and the files dfs-scrub-schedule
// writes pass `systemd-analyze verify` with a real escaped instance; the
// service is hardened; the man page is lint-clean and documents every option.

process.env.TZ = 'UTC';

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createPool } from '../src/core/pool';
import { escapePath } from '../src/schedule/escape';
import { FREQUENCY_TABLE, NAMED_FREQUENCIES, shippedFrequencies } from '../src/schedule/frequency';
import { renderFrequencyTimer, renderServiceTemplate, serviceTemplate, timerTemplate } from '../src/schedule/units';
import { DEPTHS } from '../src/schedule/settings';
import { scheduleProgram } from '../src/cli/dfs-scrub-schedule';
import { cli, repoRoot, requireTool, scratchDir, which } from './helpers';

const UNITS = path.join(repoRoot, 'units');
const MAX_EXPOSURE = 2.0;
const shippedTimer = (f: (typeof NAMED_FREQUENCIES)[number]) => timerTemplate(FREQUENCY_TABLE[f].shippedFor, f);
const SHIPPED = [...DEPTHS.map(serviceTemplate), ...NAMED_FREQUENCIES.map(shippedTimer)];

interface Installed {
  unitDir: string;
  configDir: string;
  env: NodeJS.ProcessEnv;
  manArgs: string[];
}

/**
 * The shipped units as `make install` leaves them (@bindir@ replaced by a dir
 * whose dfs-scrub is /bin/true, which verify needs to exist), plus a man path
 * holding our pages when `man` can check Documentation= links.
 */
function install(): Installed {
  const dir = scratchDir('dfs-schedule-units-');
  const bindir = path.join(dir, 'bin');
  const unitDir = path.join(dir, 'units');
  const configDir = path.join(dir, 'conf');
  fs.mkdirSync(bindir);
  fs.mkdirSync(unitDir);
  fs.symlinkSync('/bin/true', path.join(bindir, 'dfs-scrub'));
  for (const name of SHIPPED) {
    const text = fs.readFileSync(path.join(UNITS, name), 'utf8').replaceAll('@bindir@', bindir).replaceAll('@libdir@', dir);
    fs.writeFileSync(path.join(unitDir, name), text);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC', SYSTEMD_UNIT_PATH: `${unitDir}:` };
  let manArgs = ['--man=no'];
  const pages = ['dfs-scrub-schedule.8', 'dfs-scrub.8'].map((p) => path.join(repoRoot, 'man', p));
  if (which('man') && pages.every((p) => fs.existsSync(p))) {
    const man8 = path.join(dir, 'man', 'man8');
    fs.mkdirSync(man8, { recursive: true });
    for (const p of pages) fs.copyFileSync(p, path.join(man8, path.basename(p)));
    env.MANPATH = path.join(dir, 'man');
    manArgs = [];
  }
  return { unitDir, configDir, env, manArgs };
}

function verify(inst: Installed, units: string[]): void {
  const r = spawnSync('systemd-analyze', ['verify', ...inst.manArgs, ...units.map((u) => path.join(inst.unitDir, u))], {
    cwd: inst.unitDir,
    env: inst.env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(r.status, 0, `verify ${units.join(' ')}:\n${r.stdout}${r.stderr}`);
  assert.not.match(r.stdout + r.stderr, /dfs-scrub/, `no warning about our units:\n${r.stdout}${r.stderr}`);
}

function newPool(dir: string, disks?: string[]): string {
  const root = path.join(dir, 'pool');
  if (disks) createPool({ root, diskPaths: disks, redundancy: 'mirror:2' });
  else createPool({ root, diskCount: 3, redundancy: 'rs:2+1' });
  return root;
}

test('the shipped units are exactly what the renderer makes: a service per depth, deep and light timers', () => {
  assert.is(fs.readFileSync(path.join(UNITS, 'dfs-scrub@.service'), 'utf8'), renderServiceTemplate('deep'));
  assert.is(fs.readFileSync(path.join(UNITS, 'dfs-scrub-light@.service'), 'utf8'), renderServiceTemplate('light'));
  for (const f of NAMED_FREQUENCIES) {
    assert.is(fs.readFileSync(path.join(UNITS, shippedTimer(f)), 'utf8'), renderFrequencyTimer(f), f);
  }
  assert.equal(shippedFrequencies('light'), ['hourly', 'daily']);
  assert.equal(shippedFrequencies('deep'), ['nightly', 'continuous', 'weekly', 'monthly']);
  const light = fs.readFileSync(path.join(UNITS, 'dfs-scrub-light@.service'), 'utf8');
  assert.ok(light.split('\n').includes('ExecStart=@bindir@/dfs-scrub --pool %f --light $DFS_SCRUB_ARGS'));
  // No EnvironmentFile= named with %i: systemd globs it, and an escaped path's backslashes never match.
  assert.not.match(light + fs.readFileSync(path.join(UNITS, 'dfs-scrub@.service'), 'utf8') + fs.readFileSync(path.join(UNITS, 'dfs-scrubd@.service'), 'utf8'), /^EnvironmentFile=/m);
});

test('the units: persistent randomized timers, a hardened one-shot service reading the pool config', () => {
  const service = fs.readFileSync(path.join(UNITS, 'dfs-scrub@.service'), 'utf8');
  for (const line of [
    'Type=oneshot',
    'ExecStart=@bindir@/dfs-scrub --pool %f $DFS_SCRUB_ARGS',
    'Environment="DFS_SCRUB_ARGS=--intensity low --when-busy wait"',
    'Documentation=man:dfs-scrub(8) man:dfs-scrub-schedule(8)',
    'ProtectSystem=strict',
    'ReadWritePaths=-%f',
    'PrivateTmp=yes',
    'NoNewPrivileges=yes',
    'MemoryDenyWriteExecute=no',
    'Nice=10',
    'IOSchedulingClass=idle',
    'SuccessExitStatus=1 32',
  ]) {
    assert.ok(service.split('\n').includes(line), `service has ${line}`);
  }
  for (const f of NAMED_FREQUENCIES) {
    const timer = fs.readFileSync(path.join(UNITS, shippedTimer(f)), 'utf8');
    const unit = new RegExp(`^Unit=${serviceTemplate(FREQUENCY_TABLE[f].shippedFor).replace('.', '\\.').replace('@', '@%i')}$`, 'm');
    for (const re of [/^Persistent=true$/m, /^RandomizedDelaySec=\S+$/m, /^OnCalendar=\S/m, unit, /^WantedBy=timers\.target$/m]) {
      assert.match(timer, re, `${f}: ${re}`);
    }
  }
});

test('systemd-analyze verify: every named frequency, instantiated for a real pool', () => {
  if (!requireTool('systemd-analyze')) return;
  const inst = install();
  const root = newPool(scratchDir('dfs-schedule-pool-'));
  const instance = escapePath(root);
  let previous: string | undefined;
  for (const f of shippedFrequencies('deep')) {
    const r = cli('dfs-scrub-schedule', ['--pool', root, '--frequency', f, '--intensity', 'medium', '--auto-repair', 'true',
      '--unit-dir', inst.unitDir, '--config-dir', inst.configDir, '--json'], { env: { TZ: 'UTC' } });
    assert.is(r.status, 0, r.stderr);
    // The shipped template serves a named frequency: no timer file is generated.
    assert.not.ok(fs.existsSync(path.join(inst.unitDir, `dfs-scrub-custom@${instance}.timer`)));
    const out = JSON.parse(r.stdout);
    assert.equal(out.commands, []);
    // Staged files: systemctl is printed, not run; a new frequency disables the old timer.
    assert.equal(out.commandsNotRun, [
      ...(previous ? [['systemctl', 'disable', '--now', previous]] : []),
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--now', `dfs-scrub-${f}@${instance}.timer`],
    ]);
    previous = `dfs-scrub-${f}@${instance}.timer`;
    verify(inst, [`dfs-scrub-${f}@${instance}.timer`, `dfs-scrub@${instance}.service`]);
  }
  const conf = fs.readFileSync(path.join(inst.configDir, `${instance}.conf`), 'utf8');
  assert.match(conf, /^DFS_SCRUB_ARGS="--repair --intensity medium --when-busy wait"$/m);
});

test('systemd-analyze verify: light schedules beside a deep one, each with its own service, timer and config', () => {
  if (!requireTool('systemd-analyze')) return;
  const inst = install();
  const dir = scratchDir('dfs-schedule-pool-');
  const outside = path.join(dir, 'mnt', 'disk-x');
  const other = path.join(dir, 'mnt', 'disk-y');
  for (const d of [outside, other]) fs.mkdirSync(d, { recursive: true });
  const root = newPool(dir, [other, outside]);
  const instance = escapePath(root);
  const sched = (args: string[]) => {
    const r = cli('dfs-scrub-schedule', ['--pool', root, ...args, '--unit-dir', inst.unitDir, '--config-dir', inst.configDir, '--json'], { env: { TZ: 'UTC' } });
    assert.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  sched(['--frequency', 'weekly']);
  let previous: string | undefined;
  for (const f of shippedFrequencies('light')) {
    const out = sched(['--depth', 'light', '--frequency', f, '--auto-repair', 'true']);
    assert.is(out.depth, 'light');
    assert.is(out.timer, `dfs-scrub-light-${f}@${instance}.timer`);
    assert.is(out.shippedTemplate, `dfs-scrub-light-${f}@.timer`);
    // Replacing the light schedule touches only light timers: the deep one is never disabled.
    assert.equal(out.commandsNotRun, [
      ...(previous ? [['systemctl', 'disable', '--now', previous]] : []),
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--now', out.timer],
    ]);
    previous = out.timer;
    verify(inst, [out.timer, `dfs-scrub-light@${instance}.service`, `dfs-scrub-weekly@${instance}.timer`, `dfs-scrub@${instance}.service`]);
  }
  const light = fs.readFileSync(path.join(inst.configDir, 'light', `${instance}.conf`), 'utf8');
  assert.match(light, /^DFS_SCRUB_ARGS="--light --repair --intensity low --when-busy skip"$/m);
  assert.match(light, /^DFS_SCRUB_DEPTH="light"$/m);
  const deep = fs.readFileSync(path.join(inst.configDir, `${instance}.conf`), 'utf8');
  assert.match(deep, /^DFS_SCRUB_ARGS="--intensity low --when-busy wait"$/m);
  // Each service gets its own drop-in making the outside disk writable.
  for (const svc of [`dfs-scrub@${instance}.service`, `dfs-scrub-light@${instance}.service`]) {
    const dropIn = fs.readFileSync(path.join(inst.unitDir, `${svc}.d`, '50-dfs-scrub-schedule.conf'), 'utf8');
    assert.match(dropIn, `ReadWritePaths=-${outside}`);
  }
  // A deep frequency for a light pass: a generated light timer of that calendar.
  const nightly = sched(['--depth', 'light', '--frequency', 'nightly']);
  assert.is(nightly.timer, `dfs-scrub-light-custom@${instance}.timer`);
  const timer = fs.readFileSync(path.join(inst.unitDir, nightly.timer), 'utf8');
  assert.match(timer, /^OnCalendar=\*-\*-\* 03:00:00$/m);
  assert.match(timer, new RegExp(`^Unit=dfs-scrub-light@%i\\.service$`, 'm'));
  verify(inst, [nightly.timer, `dfs-scrub-light@${instance}.service`]);
  // --list shows both, --depth filters; removing the light schedule keeps the deep one.
  const list = (extra: string[]) => {
    const r = cli('dfs-scrub-schedule', ['--list', '--pool', root, ...extra, '--unit-dir', inst.unitDir, '--config-dir', inst.configDir, '--json']);
    assert.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).schedules.map((e: { depth: string; frequency: string }) => `${e.depth}:${e.frequency}`);
  };
  assert.equal(list([]), ['deep:weekly', 'light:nightly']);
  assert.equal(list(['--depth', 'light']), ['light:nightly']);
  const removed = cli('dfs-scrub-schedule', ['--remove', '--pool', root, '--depth', 'light', '--unit-dir', inst.unitDir, '--config-dir', inst.configDir]);
  assert.is(removed.status, 0, removed.stderr);
  assert.match(removed.stdout, /Removed the light scrub schedule/);
  assert.match(removed.stdout, /The deep schedule stays/);
  assert.not.ok(fs.existsSync(path.join(inst.configDir, 'light', `${instance}.conf`)));
  assert.not.ok(fs.existsSync(path.join(inst.unitDir, `dfs-scrub-light-custom@${instance}.timer`)));
  assert.not.ok(fs.existsSync(path.join(inst.unitDir, `dfs-scrub-light@${instance}.service.d`)));
  assert.ok(fs.existsSync(path.join(inst.configDir, `${instance}.conf`)));
  assert.ok(fs.existsSync(path.join(inst.unitDir, `dfs-scrub@${instance}.service.d`, '50-dfs-scrub-schedule.conf')));
  assert.equal(list([]), ['deep:weekly']);
  const bad = cli('dfs-scrub-schedule', ['--pool', root, '--depth', 'medium', '--frequency', 'hourly', '--unit-dir', inst.unitDir]);
  assert.is(bad.status, 16);
  assert.match(bad.stderr, /--depth "medium": expected deep or light/);
});

test('systemd-analyze verify: custom calendars get a generated timer', () => {
  if (!requireTool('systemd-analyze')) return;
  const inst = install();
  const root = newPool(scratchDir('dfs-schedule-pool-'));
  const instance = escapePath(root);
  for (const freq of ['Mon..Fri *-*-* 02:30', '*:0/15', '0 4 * * 1,3,5', 'hourly', '*-*-* 04:00 UTC']) {
    const r = cli('dfs-scrub-schedule', ['--pool', root, '--frequency', freq, '--unit-dir', inst.unitDir, '--config-dir', inst.configDir], {
      env: { TZ: 'UTC' },
    });
    assert.is(r.status, 0, r.stderr);
    const timerFile = path.join(inst.unitDir, `dfs-scrub-custom@${instance}.timer`);
    assert.ok(fs.existsSync(timerFile), freq);
    const timer = fs.readFileSync(timerFile, 'utf8');
    assert.match(timer, /^Persistent=true$/m);
    assert.match(timer, /^RandomizedDelaySec=/m);
    verify(inst, [`dfs-scrub-custom@${instance}.timer`, `dfs-scrub@${instance}.service`]);
  }
  // A named frequency with a delay of its own is a custom timer too; back to a plain one removes it.
  let r = cli('dfs-scrub-schedule', ['--pool', root, '--frequency', 'nightly', '--randomized-delay', '10min', '--unit-dir', inst.unitDir, '--config-dir', inst.configDir]);
  assert.is(r.status, 0, r.stderr);
  assert.match(fs.readFileSync(path.join(inst.unitDir, `dfs-scrub-custom@${instance}.timer`), 'utf8'), /^RandomizedDelaySec=10min$/m);
  r = cli('dfs-scrub-schedule', ['--pool', root, '--frequency', 'nightly', '--unit-dir', inst.unitDir, '--config-dir', inst.configDir]);
  assert.is(r.status, 0, r.stderr);
  assert.not.ok(fs.existsSync(path.join(inst.unitDir, `dfs-scrub-custom@${instance}.timer`)));
});

test('systemd-analyze verify: disks outside the pool get a drop-in making them writable', () => {
  if (!requireTool('systemd-analyze')) return;
  const inst = install();
  const dir = scratchDir('dfs-schedule-pool-');
  const disks = ['disk a', 'disk-b'].map((d) => path.join(dir, 'mnt', d));
  for (const d of disks) fs.mkdirSync(d, { recursive: true });
  const root = newPool(dir, disks);
  const instance = escapePath(root);
  const r = cli('dfs-scrub-schedule', ['--pool', root, '--frequency', 'nightly', '--unit-dir', inst.unitDir, '--config-dir', inst.configDir]);
  assert.is(r.status, 0, r.stderr);
  const dropIn = fs.readFileSync(path.join(inst.unitDir, `dfs-scrub@${instance}.service.d`, '50-dfs-scrub-schedule.conf'), 'utf8');
  assert.match(dropIn, /^ReadWritePaths=.*disk a.*disk-b/m);
  assert.match(dropIn, /^RequiresMountsFor=/m);
  assert.match(dropIn, /^Environment="DFS_SCRUB_ARGS=--intensity low --when-busy wait"$/m);
  verify(inst, [`dfs-scrub-nightly@${instance}.timer`, `dfs-scrub@${instance}.service`]);
});

test('systemd-analyze verify: a config dir elsewhere holds the records; the drop-ins hold the options', () => {
  if (!requireTool('systemd-analyze')) return;
  const inst = install();
  const dir = scratchDir('dfs-schedule-pool-');
  const root = newPool(dir);
  const instance = escapePath(root);
  fs.mkdirSync(path.join(dir, 'systemd-running'));
  // Not a staging redirect: the environment moves the live directories, so systemctl runs (here /bin/true).
  const env = {
    DFS_SYSTEMD_RUN_DIR: path.join(dir, 'systemd-running'),
    DFS_SYSTEMCTL: '/bin/true',
    DFS_SCHEDULE_UNIT_DIR: inst.unitDir,
    DFS_SCHEDULE_CONFIG_DIR: inst.configDir,
  };
  const r = cli('dfs-scrub-schedule', ['--pool', root, '--frequency', 'weekly', '--json'], { env });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).commands.at(-1), ['systemctl', 'enable', '--now', `dfs-scrub-weekly@${instance}.timer`]);
  const dropIn = fs.readFileSync(path.join(inst.unitDir, `dfs-scrub@${instance}.service.d`, '50-dfs-scrub-schedule.conf'), 'utf8');
  assert.match(dropIn, /^Environment="DFS_SCRUB_ARGS=--intensity low --when-busy wait"$/m);
  assert.ok(fs.existsSync(path.join(inst.configDir, `${instance}.conf`)), 'the record is where the environment says');
  verify(inst, [`dfs-scrub-weekly@${instance}.timer`, `dfs-scrub@${instance}.service`]);
  // The light schedule: its own drop-in and record.
  const l = cli('dfs-scrub-schedule', ['--pool', root, '--depth', 'light', '--frequency', 'hourly', '--json'], { env });
  assert.is(l.status, 0, l.stderr);
  const lightDropIn = fs.readFileSync(path.join(inst.unitDir, `dfs-scrub-light@${instance}.service.d`, '50-dfs-scrub-schedule.conf'), 'utf8');
  assert.match(lightDropIn, /^Environment="DFS_SCRUB_ARGS=--intensity low --when-busy skip"$/m);
  assert.ok(fs.existsSync(path.join(inst.configDir, 'light', `${instance}.conf`)));
  verify(inst, [`dfs-scrub-light-hourly@${instance}.timer`, `dfs-scrub-light@${instance}.service`]);
});

test(`hardened: systemd-analyze security exposure <= ${MAX_EXPOSURE}`, () => {
  if (!requireTool('systemd-analyze')) return;
  const inst = install();
  const unit = 'dfs-scrub@var-lib-dynamicfs-pool.service';
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', path.join(inst.unitDir, unit)], {
    cwd: inst.unitDir,
    env: inst.env,
    encoding: 'utf8',
  });
  const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout + r.stderr);
  assert.ok(Number(m![1]) <= MAX_EXPOSURE, `exposure ${m![1]}`);
});

test('man/dfs-scrub-schedule.8 is clean for mandoc -Tlint -Wwarning and documents every option', () => {
  if (!requireTool('mandoc')) return;
  const page = path.join(repoRoot, 'man', 'dfs-scrub-schedule.8');
  const r = spawnSync('mandoc', ['-Tlint', '-Wwarning', page], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const text = fs.readFileSync(page, 'utf8');
  for (const o of [...scheduleProgram.common, ...scheduleProgram.commands[0].options]) {
    assert.match(text, `.It Fl ${o.flag.slice(1)}`, `man page documents ${o.flag}`);
  }
  assert.match(text, /\.Cm run/);
});

test.run();

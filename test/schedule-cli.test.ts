// dfs-scrub-schedule end to end: the guide's commands verbatim (as
// dfs-scrub-schedule and as `dynamicfs scrub-schedule`), with systemd (units,
// a fake systemctl that records its calls) and without (the schedule in the
// pool); --dry-run writes nothing and prints exactly what a real run writes;
// next run times agree with `systemd-analyze calendar`; bad values exit 16
// naming the culprit and change nothing; --list and --remove.

process.env.TZ = 'UTC';

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createPool } from '../src/core/pool';
import { escapePath } from '../src/schedule/escape';
import { FREQUENCY_TABLE } from '../src/schedule/frequency';
import { shellWords } from '../src/schedule/plan';
import { cli, CliResult, diffFingerprints, fingerprintTree, requireTool, scratchDir } from './helpers';

// The guide's "Scheduled Scrubbing" and "Recommended Schedule" commands, after `--pool P`.
const GUIDE = {
  nightly: ['--frequency', 'nightly', '--intensity', 'low', '--auto-repair', 'true'],
  continuous: ['--frequency', 'continuous', '--intensity', 'medium', '--auto-repair', 'false'],
  dryRun: ['--frequency', 'nightly', '--intensity', 'low', '--dry-run', 'true'],
};

interface World {
  dir: string;
  pool: string;
  instance: string;
  unitDir: string;
  configDir: string;
  systemctlLog: string;
  /** Environment for a host with systemd (fake systemctl) or without. */
  env: Record<string, string | undefined>;
}

/** A pool in a scratch dir; with systemd, unit and config dirs there too and a systemctl that records. */
function world(systemd: boolean, systemctlExit = 0): World {
  const dir = scratchDir('dfs-schedule-cli-');
  const pool = path.join(dir, 'pool');
  createPool({ root: pool, diskCount: 3, redundancy: 'rs:2+1' });
  const unitDir = path.join(dir, 'units');
  const configDir = path.join(dir, 'conf');
  const systemctlLog = path.join(dir, 'systemctl.log');
  const fake = path.join(dir, 'systemctl');
  fs.writeFileSync(fake, `#!/bin/sh\necho "$*" >> '${systemctlLog}'\n[ ${systemctlExit} = 0 ] || echo "Failed to $1: fake failure" >&2\nexit ${systemctlExit}\n`, { mode: 0o755 });
  const runDir = path.join(dir, 'run-systemd-system');
  if (systemd) fs.mkdirSync(runDir);
  return {
    dir,
    pool,
    instance: escapePath(pool),
    unitDir,
    configDir,
    systemctlLog,
    env: {
      TZ: 'UTC',
      DFS_SYSTEMD_RUN_DIR: runDir,
      DFS_SYSTEMCTL: fake,
      DFS_SCHEDULE_UNIT_DIR: unitDir,
      DFS_SCHEDULE_CONFIG_DIR: configDir,
    },
  };
}

const schedule = (w: World, args: string[]): CliResult => cli('dfs-scrub-schedule', ['--pool', w.pool, ...args], { env: w.env });
const umbrella = (w: World, args: string[]): CliResult => cli('dynamicfs', ['scrub-schedule', '--pool', w.pool, ...args], { env: w.env });
const systemctlCalls = (w: World) => (fs.existsSync(w.systemctlLog) ? fs.readFileSync(w.systemctlLog, 'utf8').trim().split('\n') : []);
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const scheduleJson = (w: World) => path.join(w.pool, '.dynamicfs', 'schedule.json');

function ok(r: CliResult, what: string): void {
  assert.is(r.status, 0, `${what}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
}

test('guide commands without systemd: the schedule is stored in the pool', () => {
  for (const run of [schedule, umbrella]) {
    const w = world(false);
    ok(run(w, GUIDE.nightly), 'nightly');
    let s = readJson(scheduleJson(w));
    assert.is(s.frequency, 'nightly');
    assert.is(s.calendar, '*-*-* 03:00:00');
    assert.is(s.cron, '0 3 * * *');
    assert.is(s.intensity, 'low');
    assert.is(s.autoRepair, true);
    assert.is(s.randomizedDelaySec, FREQUENCY_TABLE.nightly.randomizedDelaySec);
    const r = run(w, GUIDE.continuous);
    ok(r, 'continuous');
    s = readJson(scheduleJson(w));
    assert.is(s.frequency, 'continuous');
    assert.is(s.cron, '0 */6 * * *');
    assert.is(s.intensity, 'medium');
    assert.is(s.autoRepair, false);
    assert.match(r.stdout, 'dfs-scrub-schedule run --pool');
    assert.equal(systemctlCalls(w), [], 'no systemctl without systemd');
    assert.not.ok(fs.existsSync(w.unitDir) || fs.existsSync(w.configDir), 'nothing outside the pool');
  }
});

test('guide commands with systemd: config, timer enabled with systemctl', () => {
  for (const run of [schedule, umbrella]) {
    const w = world(true);
    ok(run(w, GUIDE.nightly), 'nightly');
    const conf = fs.readFileSync(path.join(w.configDir, `${w.instance}.conf`), 'utf8');
    assert.match(conf, /^DFS_SCRUB_ARGS="--repair --intensity low --when-busy wait"$/m);
    // EnvironmentFile quoting doubles the backslashes of the escaped instance.
    assert.match(conf, `DFS_SCRUB_TIMER="dfs-scrub-nightly@${w.instance.replace(/\\/g, '\\\\')}.timer"`);
    const nightly = `dfs-scrub-nightly@${w.instance}.timer`;
    assert.equal(systemctlCalls(w), ['daemon-reload', `enable --now ${nightly}`]);
    // The service takes the options from its instance drop-in, found by the unit's name.
    const dropIn = () => fs.readFileSync(path.join(w.unitDir, `dfs-scrub@${w.instance}.service.d`, '50-dfs-scrub-schedule.conf'), 'utf8');
    assert.match(dropIn(), /^Environment="DFS_SCRUB_ARGS=--repair --intensity low --when-busy wait"$/m);
    assert.not.match(dropIn(), /EnvironmentFile/);

    ok(run(w, GUIDE.continuous), 'continuous');
    const continuous = `dfs-scrub-continuous@${w.instance}.timer`;
    assert.equal(systemctlCalls(w).slice(2), [`disable --now ${nightly}`, 'daemon-reload', `enable --now ${continuous}`]);
    assert.match(fs.readFileSync(path.join(w.configDir, `${w.instance}.conf`), 'utf8'), /^DFS_SCRUB_ARGS="--intensity medium --when-busy wait"$/m);
    assert.match(dropIn(), /^Environment="DFS_SCRUB_ARGS=--intensity medium --when-busy wait"$/m);
    assert.not.ok(fs.existsSync(scheduleJson(w)), 'with systemd nothing is stored in the pool');
  }
});

test('a custom calendar replaced by another restarts its timer', () => {
  const w = world(true);
  ok(schedule(w, ['--frequency', 'Mon..Fri 02:30']), 'first');
  ok(schedule(w, ['--frequency', 'Sat,Sun 04:00']), 'second');
  const custom = `dfs-scrub-custom@${w.instance}.timer`;
  assert.equal(systemctlCalls(w), ['daemon-reload', `enable --now ${custom}`, 'daemon-reload', `enable --now ${custom}`, `restart ${custom}`]);
  assert.match(fs.readFileSync(path.join(w.unitDir, custom), 'utf8'), /^OnCalendar=Sat,Sun \*-\*-\* 04:00:00$/m);
});

test('systemctl failing is an operational error naming the command', () => {
  const w = world(true, 1);
  const r = schedule(w, GUIDE.nightly);
  assert.is(r.status, 8, r.stderr);
  assert.match(r.stderr, /systemctl daemon-reload failed: Failed to daemon-reload: fake failure/);
});

test('--dry-run writes nothing, and prints exactly what a real run writes and runs', () => {
  for (const systemd of [true, false]) {
    for (const freq of [GUIDE.dryRun, ['--frequency', '*:0/15', '--auto-repair', 'true', '--dry-run', 'true']]) {
      const w = world(systemd);
      const before = fingerprintTree(w.dir);
      const dry = schedule(w, freq);
      ok(dry, 'dry run');
      const dryJson = schedule(w, [...freq, '--json']);
      ok(dryJson, 'dry run --json');
      assert.equal(diffFingerprints(before, fingerprintTree(w.dir)), [], 'nothing changed');
      assert.equal(systemctlCalls(w), [], 'no systemctl');
      assert.match(dry.stdout, /Dry run/);
      const planned = JSON.parse(dryJson.stdout);
      assert.is(planned.dryRun, true);
      assert.is(planned.next.length, 3);
      for (const t of planned.next) assert.ok(dry.stdout.includes(`  ${t}\n`), `next run ${t} printed`);
      for (const f of planned.files) {
        assert.ok(dry.stdout.includes(`==> ${f.path} <==`), `${f.path} named`);
        // schedule.json carries the time it was written; everything else must match byte for byte.
        const content = f.content.replace(/"(updatedAt|calendarSince)": "[^"]+"/g, '');
        assert.ok(dry.stdout.replace(/"(updatedAt|calendarSince)": "[^"]+"/g, '').includes(content), `${f.path} content printed`);
      }
      for (const c of planned.commands) assert.ok(dry.stdout.includes(`  ${shellWords(c)}\n`), `${shellWords(c)} printed`);
      if (systemd) {
        assert.ok(planned.commands.some((c: string[]) => c.join(' ').startsWith('systemctl enable --now dfs-scrub-')));
      } else {
        assert.match(dry.stdout, /node-cron entry: /);
      }

      // The real run writes exactly the planned files and runs the planned commands.
      const real = schedule(w, freq.slice(0, -2));
      ok(real, 'real run');
      for (const f of planned.files) {
        const strip = (s: string) => s.replace(/"(updatedAt|calendarSince)": "[^"]+"/g, '');
        assert.is(strip(fs.readFileSync(f.path, 'utf8')), strip(f.content), f.path);
        assert.is((fs.statSync(f.path).mode & 0o777).toString(8).padStart(4, '0'), f.mode, `${f.path} mode`);
      }
      assert.equal(systemctlCalls(w), planned.commands.map((c: string[]) => c.slice(1).join(' ')));
      assert.equal(
        diffFingerprints(before, fingerprintTree(w.dir)).filter((d) => !/^added .*(systemctl\.log|units|conf|\.dynamicfs\/schedule\.json)/.test(d)),
        [],
        'only the planned files were added',
      );
    }
  }
});

test('--remove --dry-run changes nothing; --remove undoes everything; twice is fine', () => {
  for (const systemd of [true, false]) {
    const w = world(systemd);
    ok(schedule(w, ['--frequency', '*:0/30']), 'schedule');
    const before = fingerprintTree(w.dir);
    const calls = systemctlCalls(w).length;
    ok(schedule(w, ['--remove', '--dry-run', 'true']), 'remove dry');
    assert.equal(diffFingerprints(before, fingerprintTree(w.dir)), []);
    assert.is(systemctlCalls(w).length, calls);
    ok(schedule(w, ['--remove']), 'remove');
    if (systemd) {
      assert.equal(systemctlCalls(w).slice(calls), [`disable --now dfs-scrub-custom@${w.instance}.timer`, 'daemon-reload']);
      assert.equal(fs.readdirSync(w.unitDir), []);
      assert.equal(fs.readdirSync(w.configDir), []);
    }
    assert.not.ok(fs.existsSync(scheduleJson(w)));
    const again = schedule(w, ['--remove']);
    ok(again, 'remove again');
    assert.match(again.stderr, /nothing to remove/);
  }
});

test('--list shows the schedules with their next run', () => {
  const w = world(true);
  ok(schedule(w, GUIDE.nightly), 'schedule');
  const r = cli('dfs-scrub-schedule', ['--list', '--json'], { env: w.env });
  ok(r, 'list');
  const [e] = JSON.parse(r.stdout).schedules;
  assert.is(e.pool, w.pool);
  assert.is(e.frequency, 'nightly');
  assert.is(e.intensity, 'low');
  assert.is(e.autoRepair, true);
  assert.is(e.timer, `dfs-scrub-nightly@${w.instance}.timer`);
  assert.match(e.next, / 03:00:00 UTC$/);
  const text = cli('dfs-scrub-schedule', ['--list'], { env: w.env });
  assert.match(text.stdout, w.pool);

  const c = world(false);
  ok(schedule(c, GUIDE.continuous), 'schedule');
  const l = schedule(c, ['--list', '--json']);
  ok(l, 'list');
  assert.is(JSON.parse(l.stdout).schedules[0].backend, 'cron');
  const noPool = cli('dfs-scrub-schedule', ['--list'], { env: c.env });
  assert.is(noPool.status, 16, 'without systemd --list needs --pool');
});

test('next runs agree with systemd-analyze calendar --iterations=3 (TZ=UTC)', () => {
  if (!requireTool('systemd-analyze')) return;
  const w = world(false);
  const expressions: [string, string | null][] = [
    ['nightly', FREQUENCY_TABLE.nightly.calendar],
    ['continuous', FREQUENCY_TABLE.continuous.calendar],
    ['weekly', FREQUENCY_TABLE.weekly.calendar],
    ['monthly', FREQUENCY_TABLE.monthly.calendar],
    ['Mon..Fri *-*-* 02:30', null],
    ['*:0/15', null],
    ['Sat,Sun 0/6:00', null],
    ['*-*-1,15 04:00:00', null],
    ['0 4 * * 1,3,5', 'Mon,Wed,Fri *-*-* 04:00:00'],
    ['*/10 * * * *', '*:0/10'],
  ];
  for (const [freq, calendar] of expressions) {
    // A slot may pass between the two commands: one retry settles it.
    let ours: string[] = [], theirs: string[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = schedule(w, ['--frequency', freq, '--dry-run', 'true', '--json']);
      ok(r, freq);
      ours = JSON.parse(r.stdout).next;
      const out = execFileSync('systemd-analyze', ['calendar', '--iterations=3', calendar ?? freq], {
        encoding: 'utf8',
        env: { ...process.env, TZ: 'UTC' },
      });
      theirs = [...out.matchAll(/(?:Next elapse|Iter\. #\d+): (.*)/g)].map((m) => m[1]);
      if (JSON.stringify(ours) === JSON.stringify(theirs)) break;
    }
    assert.equal(ours, theirs, freq);
  }
});

test('bad values exit 16 with the culprit named in one line, and change nothing', () => {
  for (const systemd of [true, false]) {
    const w = world(systemd);
    ok(schedule(w, GUIDE.nightly), 'a schedule to keep');
    const before = fingerprintTree(w.dir);
    const calls = systemctlCalls(w).length;
    const cases: [string[], RegExp][] = [
      [['--frequency', 'fortnightly', '--intensity', 'low', '--auto-repair', 'true'], /--frequency "fortnightly"/],
      [['--frequency', '*-*-* 25:00'], /--frequency "\*-\*-\* 25:00": hour "25"/],
      [['--frequency', 'Mon..Fry 03:00'], /weekday "Fry"/],
      [['--frequency', '0 3 * * 9'], /--frequency "0 3 \* \* 9".*weekday "9"/],
      [['--frequency', '*-02-30'], /never elapses/],
      [['--frequency', 'nightly', '--auto-repair', 'maybe'], /--auto-repair "maybe": expected true or false/],
      [['--frequency', 'nightly', '--intensity', 'extreme'], /--intensity "extreme": expected one of low, medium, high, max/],
      [['--frequency', 'nightly', '--dry-run', 'perhaps'], /--dry-run "perhaps"/],
      [['--frequency', 'nightly', '--randomized-delay', 'soon'], /--randomized-delay "soon"/],
      [['--frequency', 'nightly', '--backend', 'launchd'], /--backend "launchd"/],
      [['--frequency', 'nightly', '--colour', 'red'], /unknown option --colour/],
      [['--intensity', 'low'], /--frequency is required/],
      [['--list', '--remove'], /--list and --remove cannot be combined/],
      [['--remove', '--frequency', 'nightly'], /--frequency cannot be combined with --remove/],
      [['frobnicate'], /unknown action "frobnicate"/],
    ];
    for (const [args, re] of cases) {
      const r = schedule(w, args);
      assert.is(r.status, 16, `${args.join(' ')}: exit ${r.status} ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.is(r.stdout, '', 'nothing on stdout');
    }
    assert.equal(diffFingerprints(before, fingerprintTree(w.dir)), [], 'nothing changed');
    assert.is(systemctlCalls(w).length, calls, 'no systemctl');
  }
});

test('a path that is not a pool is an operational error (8); no --pool is a usage error (16)', () => {
  const w = world(false);
  const r = cli('dfs-scrub-schedule', ['--pool', path.join(w.dir, 'nowhere'), ...GUIDE.nightly], { env: w.env });
  assert.is(r.status, 8, r.stderr);
  assert.match(r.stderr, /not a pool/);
  const n = cli('dfs-scrub-schedule', GUIDE.nightly, { env: w.env });
  assert.is(n.status, 16, n.stderr);
  assert.match(n.stderr, /--pool/);
});

test.run();

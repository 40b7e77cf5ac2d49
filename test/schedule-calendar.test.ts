// The schedule model: systemd calendar events and cron expressions parse into
// one spec, which renders as systemd's normalized OnCalendar= and as a
// node-cron expression, and whose next runs agree with systemd's own
// calculation (`systemd-analyze calendar --base-time`). Also the instance
// escaping against systemd-escape. All in UTC, both for us and for systemd.

process.env.TZ = 'UTC';

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import cron from 'node-cron';
import { DfsError } from '../src/core/errors';
import {
  formatOnCalendar,
  formatTimestamp,
  nextElapse,
  nextElapses,
  parseSystemdCalendar,
} from '../src/schedule/calendar';
import { formatCron, parseCron } from '../src/schedule/cron';
import { escapePath } from '../src/schedule/escape';
import { FREQUENCY_TABLE, NAMED_FREQUENCIES, parseFrequency } from '../src/schedule/frequency';
import { parseDelay, parseScheduleIntensity as parseIntensity } from '../src/schedule/settings';
import { parseBoolean } from '../src/core/units';
import { requireTool } from './helpers';

const UTC = { ...process.env, TZ: 'UTC' };

/** systemd's normalized form and next runs (or ['never']) for an expression. */
function systemdCalendar(expr: string, base: string, iterations = 3): { normalized: string; next: string[] } {
  const out = execFileSync('systemd-analyze', ['calendar', `--iterations=${iterations}`, `--base-time=${base}`, expr], {
    encoding: 'utf8',
    env: UTC,
  });
  const normalized = /Normalized form: (.*)/.exec(out)![1];
  const next = [...out.matchAll(/(?:Next elapse|Iter\. #\d+): (.*)/g)].map((m) => m[1]);
  return { normalized, next };
}

const SYSTEMD_EXPRESSIONS = [
  ...NAMED_FREQUENCIES.map((f) => FREQUENCY_TABLE[f].calendar),
  '*-*-* 02:00:00',
  'Mon *-*-* 03:00',
  'daily',
  'weekly',
  'hourly',
  'monthly',
  'minutely',
  'quarterly',
  'semiannually',
  'yearly',
  '*:0/15',
  '*:*:*',
  'Mon..Fri *-*-* 03:00',
  'Mon-Fri 22:30',
  'mon,tue,wed,fri',
  'Sat,Sun 0/6:00',
  'Sun,Sat',
  'Wed..Sat,Tue 12:00',
  'Mon,Wed,Fri..Sun 3:00',
  '*-*-* 5,1,3:00',
  '*-*-* 1,1,2:00',
  '*-*-* 0/6,3:00',
  '*-*-* 1..10/2:00',
  '*-*-* 0..23/6:00',
  '*:5/20:1/30',
  '*-1/2-1',
  '*-*-01 03:00:00',
  '*-*-31',
  '*-02-29 12:00',
  'Fri *-*-13 13:13',
  '12-25',
  '*-*-* 03:00 UTC',
  'Monday..Wednesday *-1..6-1..7 4:30',
];

// Around month, year and leap-day ends, and mid-second.
const BASES = ['2025-01-01 00:00:00', '2024-02-28 23:59:59', '2025-12-31 23:59:30', '2025-06-15 13:14:15'];

test('systemd expressions: normalized form and next 3 runs agree with systemd-analyze calendar', () => {
  if (!requireTool('systemd-analyze')) return;
  for (const expr of SYSTEMD_EXPRESSIONS) {
    const spec = parseSystemdCalendar(expr);
    for (const base of BASES) {
      const sd = systemdCalendar(expr, `${base} UTC`);
      assert.is(formatOnCalendar(spec), sd.normalized, `normalized form of ${expr}`);
      const mine = nextElapses(spec, new Date(`${base.replace(' ', 'T')}Z`), 3).map((t) => formatTimestamp(t));
      assert.equal(mine, sd.next, `next runs of ${expr} after ${base}`);
    }
  }
});

test('our normalized form is read back unchanged by systemd', () => {
  if (!requireTool('systemd-analyze')) return;
  for (const expr of SYSTEMD_EXPRESSIONS) {
    const norm = formatOnCalendar(parseSystemdCalendar(expr));
    assert.is(systemdCalendar(norm, '2025-01-01 00:00:00 UTC', 1).normalized, norm, expr);
  }
});

const CRON_CASES: [string, string, string][] = [
  // cron, systemd normalized form, node-cron rendering
  ['*/15 * * * *', '*-*-* *:00/15:00', '*/15 * * * *'],
  ['0 3 * * *', '*-*-* 03:00:00', '0 3 * * *'],
  ['0 3 * * 1-5', 'Mon..Fri *-*-* 03:00:00', '0 3 * * 1-5'],
  ['30 2 * * sun', 'Sun *-*-* 02:30:00', '30 2 * * 0'],
  ['0 0 * * 7', 'Sun *-*-* 00:00:00', '0 0 * * 0'],
  ['0 */6 * * *', '*-*-* 00/6:00:00', '0 */6 * * *'],
  ['0 0 1,15 * *', '*-*-01,15 00:00:00', '0 0 1,15 * *'],
  ['0 22 * jan-mar mon', 'Mon *-01..03-* 22:00:00', '0 22 * 1-3 1'],
  ['5-59/20 1-10/3 * * *', '*-*-* 01..10/3:05..45/20:00', '5-45/20 1-10/3 * * *'],
  ['*/5 * * * * *', '*-*-* *:*:00/5', '*/5 * * * * *'],
  ['@weekly', 'Sun *-*-* 00:00:00', '0 0 * * 0'],
  ['@daily', '*-*-* 00:00:00', '0 0 * * *'],
  ['0 4 * * 1,3,5', 'Mon,Wed,Fri *-*-* 04:00:00', '0 4 * * 1,3,5'],
];

test('cron expressions parse into the same model and render back for node-cron', () => {
  for (const [text, calendar, nodeCron] of CRON_CASES) {
    const spec = parseCron(text);
    assert.is(formatOnCalendar(spec), calendar, text);
    assert.is(formatCron(spec), nodeCron, text);
    assert.ok(cron.validate(formatCron(spec)), `node-cron accepts ${formatCron(spec)}`);
    // Going round through the systemd text changes nothing.
    assert.equal(parseSystemdCalendar(calendar), spec, `${text} via ${calendar}`);
  }
});

test('cron and systemd forms of one schedule fire at the same times', () => {
  const pairs: [string, string][] = [
    ['0 3 * * *', 'nightly'],
    ['0 */6 * * *', 'continuous'],
    ['0 3 * * 0', 'weekly'],
    ['0 3 1 * *', 'monthly'],
  ];
  const base = new Date('2025-03-30T01:00:00Z');
  for (const [c, f] of pairs) {
    assert.equal(nextElapses(parseCron(c), base, 5), nextElapses(parseFrequency(f).spec, base, 5), `${c} = ${f}`);
  }
});

test('every named frequency and many systemd expressions render as valid node-cron', () => {
  for (const expr of SYSTEMD_EXPRESSIONS) {
    const c = formatCron(parseSystemdCalendar(expr));
    assert.ok(cron.validate(c), `${expr} -> ${c}`);
  }
});

test('node-cron fires on the same slots as our next-run computation', () => {
  for (const expr of ['*-*-* 03:00:00', '*-*-* 00/6:00:00', 'Sun *-*-* 03:00:00', '*-*-01 03:00:00', 'Mon..Fri *:0/15', '*-*-* 1..10/2:05']) {
    const spec = parseSystemdCalendar(expr);
    const task = cron.createTask(formatCron(spec), () => undefined, { timezone: 'UTC' });
    try {
      // node-cron's getNextRuns counts from now; compare against ours from now.
      const now = new Date();
      const theirs = task.getNextRuns(3).map((d) => d.toISOString());
      const ours = nextElapses(spec, now, 3).map((d) => d.toISOString());
      assert.equal(theirs, ours, expr);
    } finally {
      void task.destroy();
    }
  }
});

test('named frequencies: nightly every 24 h off-peak, continuous every 6 h', () => {
  const base = new Date('2025-05-05T10:00:00Z');
  const gaps = (f: string) => {
    const runs = nextElapses(parseFrequency(f).spec, base, 6).map((d) => d.getTime());
    return runs.slice(1).map((t, i) => (t - runs[i]) / 3600_000);
  };
  assert.equal(gaps('nightly'), [24, 24, 24, 24, 24]);
  assert.equal(gaps('continuous'), [6, 6, 6, 6, 6]);
  assert.equal(gaps('weekly'), [168, 168, 168, 168, 168]);
  const n = nextElapse(parseFrequency('nightly').spec, base)!;
  assert.is(n.getUTCHours(), 3);
  assert.ok(parseFrequency('nightly').randomizedDelaySec > 0);
});

test('custom calendars get a randomized delay of a tenth of their interval, at most an hour', () => {
  assert.is(parseFrequency('*:0/15').randomizedDelaySec, 90);
  assert.is(parseFrequency('*-*-* *:*:*').randomizedDelaySec, 0);
  assert.is(parseFrequency('daily').randomizedDelaySec, 3600);
});

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DfsError);
    assert.is((err as DfsError).code, 16);
    return (err as DfsError).message;
  }
  throw new Error('expected a usage error');
}

test('bad calendars are usage errors naming the culprit', () => {
  const cases: [string, RegExp][] = [
    ['biweekly', /"biweekly".*nightly\|continuous\|weekly\|monthly/],
    ['Mon..Fry 3:00', /weekday "Fry"/],
    ['*-*-* 25:00', /hour "25": out of range/],
    ['*-*-* 3:61', /minute "61"/],
    ['*-13-01', /month "13"/],
    ['*-*-32', /day "32"/],
    ['*-02-30', /never elapses/],
    ['2025-*-* 03:00', /year/],
    ['*-*~01', /"~"/],
    ['*-*-* 03:00:00.5', /fractional/],
    ['*-*-* 03:00 Europe/Berlin', /time zone "Europe\/Berlin"/],
    ['Fri..Mon', /backwards/],
    ['*-*-* 5..1:00', /backwards/],
    ['*-*-* 1/0:00', /step/],
    ['*-*-* */2:00', /"\*"/],
    ['0 3 * *', /expected \[WEEKDAYS\]/],
    ['0 3 1 * 1', /both day of month and day of week/],
    ['0 3 * * 8', /weekday "8"/],
    ['0 3 L * *', /L, W and #/],
    ['@reboot', /@reboot/],
    ['60 * * * *', /minute "60"/],
  ];
  for (const [text, re] of cases) {
    const msg = usageMessage(() => parseFrequency(text));
    assert.ok(msg.includes(JSON.stringify(text)) || msg.includes(text), `${text}: message names it: ${msg}`);
    assert.match(msg, re, text);
    assert.not.match(msg, /\n/, 'one line');
  }
});

test('intensity, booleans and delays', () => {
  assert.is(parseIntensity(undefined), 'low');
  assert.is(parseIntensity('high'), 'high');
  assert.match(usageMessage(() => parseIntensity('extreme')), /--intensity "extreme"/);
  assert.is(parseIntensity('max'), 'max');
  assert.is(parseBoolean('true', '--auto-repair', false), true);
  assert.is(parseBoolean('FALSE', '--auto-repair', true), false);
  assert.is(parseBoolean(true, '--auto-repair', false), true);
  assert.is(parseBoolean(undefined, '--auto-repair', false), false);
  assert.is(parseBoolean(0, '--auto-repair', true), false);
  assert.match(usageMessage(() => parseBoolean('maybe', '--auto-repair', false)), /--auto-repair "maybe": expected true or false/);
  assert.is(parseDelay('90'), 90);
  assert.is(parseDelay(0), 0);
  assert.is(parseDelay('30min'), 1800);
  assert.is(parseDelay('2h'), 7200);
  assert.match(usageMessage(() => parseDelay('soon')), /--randomized-delay "soon"/);
});

test('instance names are what systemd-escape --path makes', () => {
  if (!requireTool('systemd-escape')) return;
  const paths = ['/tmp/pool', '/', '/var/lib/dynamicfs/pool', '/tmp/my pool-1/.x', '/.hidden', '/tmp//a/', '/srv/ü:_.a', '/a/./b', "/odd\\name's%"];
  for (const p of paths) {
    const r = spawnSync('systemd-escape', ['--path', p], { encoding: 'utf8' });
    assert.is(escapePath(p), r.stdout.trim(), p);
  }
  assert.match(usageMessage(() => escapePath('/a/../b')), /normalized/);
});

test.run();

import {
  CalendarSpec,
  calendarSyntaxError as bad,
  checkComponent,
  Component,
  Field,
  FIELD_RANGE,
  FieldName,
  normalizeField,
} from './calendar';

// The cron dialect of the schedule model: 5-field crontab(5) expressions (and
// node-cron's 6-field form with seconds first) parse into the same
// CalendarSpec as systemd calendar events, and every spec renders back as the
// expression the node-cron runner schedules.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** crontab(5)'s @-names. Note @weekly is Sunday in cron and Monday in systemd. */
const CRON_SHORTHANDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** True when the text has the shape of a cron expression rather than a calendar event. */
export function looksLikeCron(text: string): boolean {
  const t = text.trim();
  return t.startsWith('@') || t.split(/\s+/).length >= 5;
}

function cronValue(text: string, name: string, names?: string[]): number {
  const i = names?.indexOf(text.toLowerCase()) ?? -1;
  if (i >= 0) return names === MONTHS ? i + 1 : i;
  if (!/^\d{1,2}$/.test(text)) bad(`${name} "${text}": not a number${names ? ' or name' : ''}`);
  return Number(text);
}

/** One cron field as components: `*`, `*\/n`, `a`, `a-b`, `a-b/n`, `a/n`, comma lists. */
function cronComponents(text: string, name: string, min: number, names?: string[]): Component[] | null {
  if (/[LW#]/i.test(text.replace(/[a-z]{3}/gi, ''))) bad(`${name} "${text}": L, W and # are not supported`);
  if (text === '*' || text === '?') return null;
  return text.split(',').map((item) => {
    const m = /^(\*|[^-/]+)(?:-([^-/]+))?(?:\/(\d+))?$/.exec(item);
    if (!m) bad(`${name} "${item}": expected N, N-M, */STEP or N-M/STEP`);
    const [, a, b, step] = m!;
    if (a === '*' && b !== undefined) bad(`${name} "${item}": "*" cannot start a range`);
    const c: Component = { start: a === '*' ? min : cronValue(a, name, names) };
    if (b !== undefined) c.stop = cronValue(b, name, names);
    if (step !== undefined) c.repeat = Number(step);
    if (a === '*' && step === undefined) bad(`${name} "${item}": "*" inside a list`);
    return c;
  });
}

function cronField(text: string, name: FieldName, names?: string[]): Field {
  const comps = cronComponents(text, name, FIELD_RANGE[name][0], names);
  if (comps === null) return null;
  for (const c of comps) checkComponent(c, name, text);
  return normalizeField(comps, name);
}

function cronWeekdays(text: string): number[] | null {
  const comps = cronComponents(text, 'weekday', 0, DAYS);
  if (comps === null) return null;
  const days = new Set<number>();
  for (const c of comps) {
    const stop = c.stop ?? (c.repeat !== undefined ? 7 : c.start);
    if (c.start > 7 || stop > 7) bad(`weekday "${text}": out of range 0..7`);
    if (stop < c.start) bad(`weekday "${text}": range runs backwards`);
    if (c.repeat !== undefined && c.repeat < 1) bad(`weekday "${text}": step must be at least 1`);
    for (let d = c.start; d <= stop; d += c.repeat ?? 1) days.add(d % 7); // 7 is Sunday too
  }
  return days.size === 7 ? null : [...days].sort((a, b) => a - b);
}

/** Parses `MIN HOUR DOM MON DOW`, `SEC MIN HOUR DOM MON DOW` or an @-name. */
export function parseCron(input: string): CalendarSpec {
  const text = input.trim();
  if (text.startsWith('@')) {
    const expanded = CRON_SHORTHANDS[text.toLowerCase()];
    if (!expanded) bad(`"${text}": unknown or unsupported @-name (${Object.keys(CRON_SHORTHANDS).join(' ')})`);
    return parseCron(expanded);
  }
  const f = text.split(/\s+/);
  if (f.length !== 5 && f.length !== 6) bad(`expected 5 fields (minute hour day month weekday), got ${f.length}`);
  const [sec, min, hour, dom, mon, dow] = f.length === 6 ? f : ['0', ...f];
  const spec: CalendarSpec = {
    second: cronField(sec, 'second'),
    minute: cronField(min, 'minute'),
    hour: cronField(hour, 'hour'),
    day: cronField(dom, 'day'),
    month: cronField(mon, 'month', MONTHS),
    weekdays: cronWeekdays(dow),
    utc: false,
  };
  // Classic cron fires when EITHER day field matches; systemd and node-cron
  // need both. Rather than silently change the meaning, refuse the mix.
  if (spec.day !== null && spec.weekdays !== null) {
    bad('restricts both day of month and day of week, which cron ORs but systemd ANDs: use a calendar expression');
  }
  return spec;
}

function cronComponent(c: Component, name: FieldName): string {
  const [min, max] = FIELD_RANGE[name];
  if (c.repeat === undefined) return c.stop === undefined ? `${c.start}` : `${c.start}-${c.stop}`;
  if (c.stop === undefined) return c.start === min ? `*/${c.repeat}` : `${c.start}-${max}/${c.repeat}`;
  return `${c.start}-${c.stop}/${c.repeat}`;
}

const cronFieldText = (f: Field, name: FieldName) => (f === null ? '*' : f.map((c) => cronComponent(c, name)).join(','));

function cronWeekdayText(days: number[] | null): string {
  if (days === null) return '*';
  const parts: string[] = [];
  for (let i = 0; i < days.length; ) {
    let j = i;
    while (j + 1 < days.length && days[j + 1] === days[j] + 1) j++;
    parts.push(j > i ? `${days[i]}-${days[j]}` : `${days[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * The node-cron expression for a spec: 5 fields when it fires on second 0,
 * else node-cron's 6-field form. The time zone is not part of the expression
 * (node-cron takes it as an option; see spec.utc).
 */
export function formatCron(spec: CalendarSpec): string {
  const five = [
    cronFieldText(spec.minute, 'minute'),
    cronFieldText(spec.hour, 'hour'),
    cronFieldText(spec.day, 'day'),
    cronFieldText(spec.month, 'month'),
    cronWeekdayText(spec.weekdays),
  ].join(' ');
  const s = spec.second;
  const atZero = s !== null && s.length === 1 && s[0].start === 0 && s[0].stop === undefined && s[0].repeat === undefined;
  return atZero ? five : `${cronFieldText(s, 'second')} ${five}`;
}

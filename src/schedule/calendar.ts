import { usageError } from '../core/errors';

// One schedule model for both dialects the CLI accepts (systemd calendar events
// and cron, see cron.ts). It keeps the components as written (start, stop,
// repeat) rather than expanded value sets, because systemd's normalized form
// keeps them that way and `--dry-run` must print an OnCalendar= that systemd
// reads back unchanged. Next-run times are computed here, not by node-cron or
// systemd, so the dry-run, `--list` and the runner's catch-up all agree.

/** `start`, `start..stop`, `start/repeat` or `start..stop/repeat`. */
export interface Component {
  start: number;
  stop?: number;
  repeat?: number;
}

/** null is `*`: every value of the field. */
export type Field = Component[] | null;

export interface CalendarSpec {
  /** Allowed weekdays as JavaScript numbers them (0 = Sunday); null = any day. */
  weekdays: number[] | null;
  month: Field;
  day: Field;
  hour: Field;
  minute: Field;
  second: Field;
  /** Wall-clock time in UTC instead of the local time zone. */
  utc: boolean;
}

export type FieldName = 'month' | 'day' | 'hour' | 'minute' | 'second';
export const FIELD_RANGE: Record<FieldName, [number, number]> = {
  month: [1, 12],
  day: [1, 31],
  hour: [0, 23],
  minute: [0, 59],
  second: [0, 59],
};

// systemd prints weekdays Monday first; JavaScript numbers them Sunday = 0.
const WEEKDAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const WEEKDAY_FULL = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONDAY_FIRST = [1, 2, 3, 4, 5, 6, 0];

/** systemd's shorthands (systemd.time(7)), as their normalized forms. */
const SHORTHANDS: Record<string, string> = {
  minutely: '*-*-* *:*:00',
  hourly: '*-*-* *:00:00',
  daily: '*-*-* 00:00:00',
  weekly: 'Mon *-*-* 00:00:00',
  monthly: '*-*-01 00:00:00',
  yearly: '*-01-01 00:00:00',
  annually: '*-01-01 00:00:00',
  quarterly: '*-01,04,07,10-01 00:00:00',
  semiannually: '*-01,07-01 00:00:00',
};

class CalendarSyntax extends Error {}
const bad = (why: string): never => {
  throw new CalendarSyntax(why);
};

function parseNumber(text: string, what: string): number {
  if (!/^\d{1,4}$/.test(text)) bad(`${what}: "${text}" is not a number`);
  return Number(text);
}

/** One comma-separated field in systemd syntax: `*`, `a`, `a..b`, `a/n`, `a..b/n`. */
function parseSystemdField(text: string, name: FieldName): Field {
  const [min] = FIELD_RANGE[name];
  if (text === '*') return null;
  const out: Component[] = [];
  for (const item of text.split(',')) {
    const m = /^([^./]+)(?:\.\.([^./]+))?(?:\/(.+))?$/.exec(item);
    if (!m) bad(`${name} "${item}": expected N, N..M, N/STEP or N..M/STEP`);
    if (m![1] === '*') bad(`${name} "${item}": "*" cannot take a range or step here (systemd writes ${min}/STEP)`);
    const c: Component = { start: parseNumber(m![1], name) };
    if (m![2] !== undefined) c.stop = parseNumber(m![2], name);
    if (m![3] !== undefined) c.repeat = parseNumber(m![3], name);
    checkComponent(c, name, item);
    out.push(c);
  }
  return normalizeField(out, name);
}

export function checkComponent(c: Component, name: FieldName, item: string): void {
  const [min, max] = FIELD_RANGE[name];
  const inRange = (v: number) => v >= min && v <= max;
  if (!inRange(c.start) || (c.stop !== undefined && !inRange(c.stop))) {
    bad(`${name} "${item}": out of range ${min}..${max}`);
  }
  if (c.stop !== undefined && c.stop < c.start) bad(`${name} "${item}": range runs backwards`);
  if (c.repeat !== undefined && c.repeat < 1) bad(`${name} "${item}": step must be at least 1`);
}

/**
 * systemd's normalization: a range's stop becomes its last hit, one-value
 * ranges collapse, components are sorted and deduplicated, and `MIN/1` is `*`.
 */
export function normalizeField(items: Component[], name: FieldName): Field {
  const [min] = FIELD_RANGE[name];
  const norm = items.map((c): Component => {
    let { start, stop, repeat } = c;
    if (stop !== undefined && repeat !== undefined) stop = start + Math.floor((stop - start) / repeat) * repeat;
    if (stop !== undefined && stop === start) return { start };
    const n: Component = { start };
    if (stop !== undefined) n.stop = stop;
    if (repeat !== undefined) n.repeat = repeat;
    return n;
  });
  norm.sort((a, b) => a.start - b.start || (a.stop ?? -1) - (b.stop ?? -1) || (a.repeat ?? 0) - (b.repeat ?? 0));
  const key = (c: Component) => `${c.start}:${c.stop}:${c.repeat}`;
  const dedup = norm.filter((c, i) => i === 0 || key(c) !== key(norm[i - 1]));
  if (dedup.length === 1 && dedup[0].start === min && dedup[0].stop === undefined && dedup[0].repeat === 1) return null;
  return dedup;
}

function weekdayIndex(word: string): number {
  const w = word.toLowerCase();
  const i = WEEKDAY_FULL.findIndex((full) => full === w || full.slice(0, 3) === w);
  if (i < 0) bad(`weekday "${word}": expected Mon..Sun or Monday..Sunday`);
  return i;
}

function parseWeekdays(text: string): number[] {
  const days = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^([A-Za-z]+)(?:(?:\.\.|-)([A-Za-z]+))?$/.exec(item);
    if (!m) bad(`weekday "${item}": expected a day or a range such as Mon..Fri`);
    const from = MONDAY_FIRST.indexOf(weekdayIndex(m![1]));
    const to = m![2] === undefined ? from : MONDAY_FIRST.indexOf(weekdayIndex(m![2]));
    if (to < from) bad(`weekday range "${item}" runs backwards (weeks start on Monday)`);
    for (let i = from; i <= to; i++) days.add(MONDAY_FIRST[i]);
  }
  return [...days].sort((a, b) => a - b);
}

function parseDate(text: string, spec: CalendarSpec): void {
  if (text.includes('~')) bad(`date "${text}": "~" (days from the end of the month) is not supported`);
  const parts = text.split('-');
  if (parts.length === 3) {
    if (parts[0] !== '*') bad(`date "${text}": a year other than "*" is not supported (a schedule must recur)`);
    parts.shift();
  }
  if (parts.length !== 2) bad(`date "${text}": expected YYYY-MM-DD, *-MM-DD or MM-DD`);
  spec.month = parseSystemdField(parts[0], 'month');
  spec.day = parseSystemdField(parts[1], 'day');
}

function parseTime(text: string, spec: CalendarSpec): void {
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 3) bad(`time "${text}": expected HH:MM or HH:MM:SS`);
  if (parts[2]?.includes('.')) bad(`time "${text}": fractional seconds are not supported`);
  spec.hour = parseSystemdField(parts[0], 'hour');
  spec.minute = parseSystemdField(parts[1], 'minute');
  spec.second = parts.length === 3 ? parseSystemdField(parts[2], 'second') : [{ start: 0 }];
}

/** Parses a systemd calendar event (systemd.time(7), the common subset). */
export function parseSystemdCalendar(input: string): CalendarSpec {
  const spec: CalendarSpec = {
    weekdays: null,
    month: null,
    day: null,
    hour: [{ start: 0 }],
    minute: [{ start: 0 }],
    second: [{ start: 0 }],
    utc: false,
  };
  let tokens = input.trim().split(/\s+/).filter(Boolean);
  if (tokens.length === 0) bad('empty calendar expression');
  // Only the first token may be a weekday, so a later alphabetic one is a time zone.
  const last = tokens[tokens.length - 1];
  if (tokens.length > 1 && /^[A-Za-z]/.test(last)) {
    if (!/^utc$/i.test(last)) bad(`time zone "${last}" is not supported: use UTC or leave it out for local time`);
    spec.utc = true;
    tokens = tokens.slice(0, -1);
  }
  if (tokens.length === 1 && SHORTHANDS[tokens[0].toLowerCase()]) {
    const expanded = parseSystemdCalendar(SHORTHANDS[tokens[0].toLowerCase()]);
    return { ...expanded, utc: spec.utc };
  }
  if (/^[A-Za-z]/.test(tokens[0])) spec.weekdays = parseWeekdays(tokens.shift()!);
  if (spec.weekdays?.length === 7) spec.weekdays = null;
  if (tokens.length > 2) bad('expected [WEEKDAYS] [DATE] [TIME] as in systemd.time(7), or 5 cron fields');
  if (tokens.length === 2) {
    parseDate(tokens[0], spec);
    parseTime(tokens[1], spec);
  } else if (tokens.length === 1) {
    if (tokens[0].includes(':')) parseTime(tokens[0], spec);
    else parseDate(tokens[0], spec);
  }
  return spec;
}

/** Wraps a dialect parser so every failure is one usage line naming the expression. */
export function withUsageErrors<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof CalendarSyntax) throw usageError(`${what}: ${err.message}`);
    throw err;
  }
}

export { bad as calendarSyntaxError };

// ---------------------------------------------------------------- rendering

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function formatComponent(c: Component): string {
  let s = pad(c.start);
  if (c.stop !== undefined) s += `..${pad(c.stop)}`;
  if (c.repeat !== undefined) s += `/${c.repeat}`;
  return s;
}

const formatField = (f: Field) => (f === null ? '*' : f.map(formatComponent).join(','));

/** Weekdays Monday first; three or more consecutive days become a range, as systemd prints them. */
function formatWeekdays(days: number[]): string {
  const idx = days.map((d) => MONDAY_FIRST.indexOf(d)).sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1] === idx[j] + 1) j++;
    const name = (k: number) => WEEKDAY_NAMES[MONDAY_FIRST[idx[k]]];
    if (j - i >= 2) parts.push(`${name(i)}..${name(j)}`);
    else for (let k = i; k <= j; k++) parts.push(name(k));
    i = j + 1;
  }
  return parts.join(',');
}

/** The normalized form, as `systemd-analyze calendar` prints it and OnCalendar= takes it. */
export function formatOnCalendar(spec: CalendarSpec): string {
  const date = `*-${formatField(spec.month)}-${formatField(spec.day)}`;
  const time = `${formatField(spec.hour)}:${formatField(spec.minute)}:${formatField(spec.second)}`;
  const wd = spec.weekdays ? `${formatWeekdays(spec.weekdays)} ` : '';
  return `${wd}${date} ${time}${spec.utc ? ' UTC' : ''}`;
}

// ---------------------------------------------------------------- next runs

export function fieldMatches(field: Field, v: number, max: number): boolean {
  if (field === null) return true;
  return field.some((c) => {
    if (v < c.start) return false;
    if (c.repeat === undefined) return c.stop === undefined ? v === c.start : v <= c.stop;
    return v <= (c.stop ?? max) && (v - c.start) % c.repeat === 0;
  });
}

/** The values of a field in ascending order. */
function values(field: Field, name: FieldName): number[] {
  const [min, max] = FIELD_RANGE[name];
  const out: number[] = [];
  for (let v = min; v <= max; v++) if (fieldMatches(field, v, max)) out.push(v);
  return out;
}

/** A leap day recurs at least every 8 years (2096 -> 2104); past that a spec never elapses. */
const SEARCH_DAYS = 366 * 9;

interface Clock {
  parts(d: Date): { y: number; mo: number; d: number; wd: number };
  make(y: number, mo: number, d: number, h: number, mi: number, s: number): Date;
  /** True when the instant shows exactly these wall-clock fields (not in a DST gap). */
  shows(t: Date, h: number, mi: number, s: number): boolean;
}

const LOCAL: Clock = {
  parts: (d) => ({ y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), wd: d.getDay() }),
  make: (y, mo, d, h, mi, s) => new Date(y, mo - 1, d, h, mi, s),
  shows: (t, h, mi, s) => t.getHours() === h && t.getMinutes() === mi && t.getSeconds() === s,
};
const UTC: Clock = {
  parts: (d) => ({ y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), wd: d.getUTCDay() }),
  make: (y, mo, d, h, mi, s) => new Date(Date.UTC(y, mo - 1, d, h, mi, s)),
  shows: (t, h, mi, s) => t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s,
};

/**
 * The first time strictly after `after` (whole seconds) that the spec matches,
 * or null if there is none within nine years. Wall-clock times skipped by a
 * DST change do not fire.
 */
export function nextElapse(spec: CalendarSpec, after: Date): Date | null {
  const clock = spec.utc ? UTC : LOCAL;
  const from = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const hours = values(spec.hour, 'hour');
  const minutes = values(spec.minute, 'minute');
  const seconds = values(spec.second, 'second');
  const start = clock.parts(from);
  for (let i = 0; i < SEARCH_DAYS; i++) {
    // Day arithmetic at noon keeps DST shifts from skipping or repeating a date.
    const day = clock.parts(clock.make(start.y, start.mo, start.d + i, 12, 0, 0));
    if (!fieldMatches(spec.month, day.mo, 12) || !fieldMatches(spec.day, day.d, 31)) continue;
    if (spec.weekdays && !spec.weekdays.includes(day.wd)) continue;
    for (const h of hours) {
      // Skip whole hours before `from` on the first day without building their times.
      if (i === 0 && clock.make(day.y, day.mo, day.d, h, 59, 59) < from) continue;
      for (const mi of minutes) {
        for (const s of seconds) {
          const t = clock.make(day.y, day.mo, day.d, h, mi, s);
          if (t >= from && clock.shows(t, h, mi, s)) return t;
        }
      }
    }
  }
  return null;
}

export function nextElapses(spec: CalendarSpec, after: Date, count: number): Date[] {
  const out: Date[] = [];
  let t: Date | null = after;
  while (out.length < count && (t = nextElapse(spec, t)) !== null) out.push(t);
  return out;
}

/** systemd's timestamp style, `Wed 2025-01-01 03:00:00 UTC`, so output compares with systemd-analyze. */
export function formatTimestamp(t: Date, utc = false): string {
  const c = utc ? UTC : LOCAL;
  const p = c.parts(t);
  const h = utc ? t.getUTCHours() : t.getHours();
  const mi = utc ? t.getUTCMinutes() : t.getMinutes();
  const s = utc ? t.getUTCSeconds() : t.getSeconds();
  return `${WEEKDAY_NAMES[p.wd]} ${p.y}-${pad(p.mo)}-${pad(p.d)} ${pad(h)}:${pad(mi)}:${pad(s)} ${utc ? 'UTC' : zoneName(t)}`;
}

// Intl has no locale that abbreviates every zone as tzdata does (CET, EDT):
// en-US knows the American ones, en-GB the European ones, so take whichever
// gives a name rather than a GMT offset.
// Formatters fix the zone when made, so they are remade when TZ changes.
let zoneFormats: { tz: string | undefined; formats: Intl.DateTimeFormat[] } | undefined;

function zoneName(t: Date): string {
  if (!zoneFormats || zoneFormats.tz !== process.env.TZ) {
    const formats = ['en-US', 'en-GB'].map((l) => new Intl.DateTimeFormat(l, { timeZoneName: 'short' }));
    zoneFormats = { tz: process.env.TZ, formats };
  }
  const names = zoneFormats!.formats.map((f) => f.formatToParts(t).find((p) => p.type === 'timeZoneName')?.value ?? '');
  return names.find((n) => n && !/^GMT[+-]/.test(n)) ?? names[0];
}

/** The gaps between consecutive runs over the next `probe` runs, in seconds. */
function runGaps(spec: CalendarSpec, after: Date, probe: number): number[] {
  const runs = nextElapses(spec, after, probe);
  return runs.slice(1).map((t, i) => (t.getTime() - runs[i].getTime()) / 1000);
}

/** The shortest gap between consecutive runs over the next `probe` runs, in seconds. */
export function shortestInterval(spec: CalendarSpec, after: Date, probe = 50): number | null {
  const gaps = runGaps(spec, after, probe);
  return gaps.length ? Math.min(...gaps) : null;
}

/** The longest gap between consecutive runs over the next `probe` runs, in seconds. */
export function longestInterval(spec: CalendarSpec, after: Date, probe = 50): number | null {
  const gaps = runGaps(spec, after, probe);
  return gaps.length ? Math.max(...gaps) : null;
}

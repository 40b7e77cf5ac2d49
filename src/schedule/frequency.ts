import { CalendarSpec, formatOnCalendar, parseSystemdCalendar, shortestInterval, withUsageErrors } from './calendar';
import { looksLikeCron, parseCron } from './cron';
import { usageError } from '../core/errors';
import type { Depth } from '../scrub/verify';

// --frequency: the guide's named frequencies, or any calendar expression. Each
// named one has a shipped timer rendered from this table, for the depth it
// suits (units/dfs-scrub-<name>@.timer for deep passes,
// units/dfs-scrub-light-<name>@.timer for light ones), so the table is the
// single source of their calendars and delays. Any other pairing gets a
// generated timer of the same calendar.

export const NAMED_FREQUENCIES = ['nightly', 'continuous', 'weekly', 'monthly', 'hourly', 'daily'] as const;
export type NamedFrequency = (typeof NAMED_FREQUENCIES)[number];

export interface NamedFrequencyInfo {
  calendar: string;
  /** Spread of start times, so many pools (or hosts) do not all start at once. */
  randomizedDelaySec: number;
  summary: string;
  /** The depth whose timer template is shipped for this frequency. */
  shippedFor: Depth;
}

// Off-peak is taken to be the early morning, local time: 03:00 is after most
// nightly backups start and well before business hours.
// Light passes read no payload, so they need no off-peak slot: hourly and
// daily are systemd's own shorthands (on the hour, and at midnight).
export const FREQUENCY_TABLE: Record<NamedFrequency, NamedFrequencyInfo> = {
  nightly: { calendar: '*-*-* 03:00:00', randomizedDelaySec: 3600, summary: 'every 24 h, 03:00-04:00 local time', shippedFor: 'deep' },
  continuous: { calendar: '*-*-* 00/6:00:00', randomizedDelaySec: 1800, summary: 'every 6 h at 00, 06, 12 and 18 h, within 30 min', shippedFor: 'deep' },
  weekly: { calendar: 'Sun *-*-* 03:00:00', randomizedDelaySec: 3600, summary: 'Sundays, 03:00-04:00 local time', shippedFor: 'deep' },
  monthly: { calendar: '*-*-01 03:00:00', randomizedDelaySec: 3600, summary: 'the 1st of each month, 03:00-04:00 local time', shippedFor: 'deep' },
  hourly: { calendar: '*-*-* *:00:00', randomizedDelaySec: 300, summary: 'every hour, within 5 min', shippedFor: 'light' },
  daily: { calendar: '*-*-* 00:00:00', randomizedDelaySec: 3600, summary: 'every 24 h, 00:00-01:00 local time', shippedFor: 'light' },
};

/** Named frequencies with a shipped timer template for the depth. */
export const shippedFrequencies = (depth: Depth): NamedFrequency[] => NAMED_FREQUENCIES.filter((f) => FREQUENCY_TABLE[f].shippedFor === depth);

export interface Frequency {
  /** A named frequency, or 'custom'. */
  name: NamedFrequency | 'custom';
  /** What the user typed. */
  source: string;
  spec: CalendarSpec;
  /** The normalized systemd form of spec. */
  calendar: string;
  randomizedDelaySec: number;
}

const isNamed = (s: string): s is NamedFrequency => (NAMED_FREQUENCIES as readonly string[]).includes(s);

/**
 * A custom calendar's randomized delay: a tenth of its shortest interval,
 * capped at the named frequencies' hour, so `*:0/15` is not smeared over an hour.
 */
export function defaultDelayFor(spec: CalendarSpec, now: Date): number {
  const gap = shortestInterval(spec, now);
  return gap === null ? 3600 : Math.min(3600, Math.floor(gap / 10));
}

export function parseFrequency(input: unknown, now = new Date()): Frequency {
  if (input === undefined || input === true || input === '') {
    throw usageError(`--frequency: missing value (${NAMED_FREQUENCIES.join('|')} or a calendar expression)`);
  }
  const text = String(input).trim();
  if (isNamed(text)) {
    const info = FREQUENCY_TABLE[text];
    const spec = parseSystemdCalendar(info.calendar);
    return { name: text, source: text, spec, calendar: formatOnCalendar(spec), randomizedDelaySec: info.randomizedDelaySec };
  }
  if (/^[A-Za-z]+$/.test(text)) {
    // A single word that is neither a frequency nor a systemd shorthand/weekday.
    try {
      parseSystemdCalendar(text);
    } catch {
      throw usageError(
        `--frequency "${text}": expected ${NAMED_FREQUENCIES.join('|')}, a systemd calendar expression or a cron expression`,
      );
    }
  }
  const cron = looksLikeCron(text);
  const spec = withUsageErrors(`--frequency ${JSON.stringify(text)}${cron ? ' (cron)' : ''}`, () =>
    cron ? parseCron(text) : parseSystemdCalendar(text),
  );
  const calendar = formatOnCalendar(spec);
  if (shortestInterval(spec, now, 2) === null) {
    throw usageError(`--frequency "${text}": ${calendar} never elapses, or only once`);
  }
  return { name: 'custom', source: text, spec, calendar, randomizedDelaySec: defaultDelayFor(spec, now) };
}

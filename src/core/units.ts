import { usageError } from './errors';

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, min: 60, h: 3600, d: 86400, w: 604800 };

/** A hundred years: no interval, age or deadline is longer; past it a value is a typo (and dates overflow). */
export const MAX_DURATION_SECONDS = 100 * 365.25 * 86400;

/** 2^53: past it byte counts and rates are no longer exact numbers. */
export const MAX_BYTES = 2 ** 53;

/** The largest uid or gid: 2^32-1 is (uid_t)-1, "no change" to chown. */
export const MAX_ID = 2 ** 32 - 2;

/** A value the command line gave once: a repeated option or a bare one is a usage error naming it. */
function oneValue(text: unknown, culprit: string): string {
  if (Array.isArray(text)) throw usageError(`${culprit} given more than once`);
  if (text === true || text === undefined || text === null || text === '') throw usageError(`${culprit} needs a value`);
  return String(text);
}

/** Seconds from '90s', '15m', '1h30m', '7d', '2w' or a bare number of seconds; at most a hundred years. */
export function parseDuration(text: unknown, culprit: string): number {
  const s = oneValue(text, culprit).trim();
  const seconds = durationSeconds(s, culprit);
  if (!(seconds <= MAX_DURATION_SECONDS)) throw usageError(`${culprit} ${JSON.stringify(s)}: at most 100 years`);
  return seconds;
}

function durationSeconds(s: string, culprit: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (!s || matched !== s.length) throw usageError(`${culprit} ${JSON.stringify(s)}: expected a duration such as 90s, 15m, 6h or 7d`);
  return total;
}

/** A whole number in decimal digits, from min to max; anything else is a usage error naming the option and the range. */
export function parseWholeNumber(text: unknown, culprit: string, min: number, max: number): number {
  const s = typeof text === 'number' ? String(text) : oneValue(text, culprit);
  const n = /^\d{1,16}$/.test(s) ? Number(s) : NaN;
  if (!(n >= min && n <= max)) throw usageError(`${culprit} ${JSON.stringify(s)}: expected a whole number from ${min} to ${max}`);
  return n;
}

/** A decimal number (fractions allowed) from min to max. */
export function parseDecimal(text: unknown, culprit: string, min: number, max: number, what = 'a number'): number {
  const s = oneValue(text, culprit).trim();
  const n = /^\d{1,16}(\.\d{1,16})?$/.test(s) ? Number(s) : NaN;
  if (!(n >= min && n <= max)) throw usageError(`${culprit} ${JSON.stringify(s)}: expected ${what} from ${min} to ${max}`);
  return n;
}

/** A byte count or rate already parsed (e.g. by parseRate): refused past 2^53, where it stops being exact. */
export function atMostBytes(n: number, text: unknown, culprit: string): number {
  if (!(n <= MAX_BYTES)) throw usageError(`${culprit} ${JSON.stringify(String(text))}: at most 2^53 (${MAX_BYTES})`);
  return n;
}

const TRUE = ['true', 'yes', 'on', '1'];
const FALSE = ['false', 'no', 'off', '0'];

/**
 * `--opt true|false` (the guide's `--auto-repair true`); a bare `--opt` (mri
 * gives true) means true. Absent, the fallback; without one, absent is an error.
 */
export function parseBoolean(value: unknown, culprit: string, fallback?: boolean): boolean {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value === 'boolean') return value;
  const text = String(value).toLowerCase();
  if (TRUE.includes(text)) return true;
  if (FALSE.includes(text)) return false;
  throw usageError(`${culprit} ${JSON.stringify(String(value))}: expected true or false`);
}

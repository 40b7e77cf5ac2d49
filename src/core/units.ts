import { usageError } from './errors';

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, min: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds from '90s', '15m', '1h30m', '7d', '2w' or a bare number of seconds. */
export function parseDuration(text: unknown, culprit: string): number {
  const s = String(text).trim();
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

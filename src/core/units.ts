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

/** 'true' or 'false' (the guide's --auto-repair true); anything else names the option. */
export function parseBoolean(text: unknown, culprit: string): boolean {
  if (text === true || text === 'true') return true;
  if (text === false || text === 'false') return false;
  throw usageError(`${culprit} ${JSON.stringify(String(text))}: expected true or false`);
}

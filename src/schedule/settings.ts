import { usageError } from '../core/errors';
import { parseDuration } from '../core/units';
import { Intensity, parseIntensity } from '../scrub/pacing';
import type { Depth } from '../scrub/verify';

// Validation of the per-schedule options. Every check names the option and the
// value at fault, and all of them run before anything is read or written, so
// a typo can never leave half a schedule behind.

export type ScheduleIntensity = Intensity;

/** A schedule's intensity; low when not given. */
export function parseScheduleIntensity(value: unknown): ScheduleIntensity {
  if (value === true) throw usageError('--intensity (no value): expected low, medium, high or max');
  return parseIntensity(value ?? 'low');
}

/** `--randomized-delay`: a duration of at most a week. */
export function parseDelay(value: unknown, option = '--randomized-delay'): number | undefined {
  if (value === undefined) return undefined;
  const n = parseDuration(value === true ? '' : value, option);
  if (n > 7 * 86400) throw usageError(`${option} ${value}: at most a week`);
  return Math.round(n);
}

export const DEPTHS: readonly Depth[] = ['deep', 'light'];

/** `--depth`: deep (what the guide's commands mean) when not given. */
export function parseDepth(value: unknown): Depth {
  if (value === undefined) return 'deep';
  if (value === 'deep' || value === 'light') return value;
  throw usageError(`--depth ${value === true ? '(no value)' : JSON.stringify(String(value))}: expected deep or light`);
}

/**
 * The dfs-scrub arguments a schedule's runs get after `--pool P`. A light run
 * that finds the pool busy (a deep pass, the daemon) is skipped: the pass in
 * hand covers it. A deep run waits for a light pass to finish rather than
 * lose its slot for a week; it fails at once against the daemon.
 */
export function scrubArgs(depth: Depth, intensity: ScheduleIntensity, autoRepair: boolean): string[] {
  return [...(depth === 'light' ? ['--light'] : []), ...(autoRepair ? ['--repair'] : []), '--intensity', intensity, '--when-busy', depth === 'light' ? 'skip' : 'wait'];
}

/** systemd's time span style for RandomizedDelaySec=: 1h, 30min, 90s, 0. */
export function formatSpan(sec: number): string {
  if (sec === 0) return '0';
  if (sec % 3600 === 0) return `${sec / 3600}h`;
  if (sec % 60 === 0) return `${sec / 60}min`;
  return `${sec}s`;
}

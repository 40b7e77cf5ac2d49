import type { PassSummary } from '../scrub/state';

/** Light passes begin at most once a second, whatever a settings file says. */
export const MIN_LIGHT_INTERVAL_S = 1;

/**
 * When the next light pass falls due (ms since the epoch; 0: now), or null
 * when light passes are off. It is an interval after the last light pass
 * began, by any runner, and never sooner after that pass ended than it took:
 * on a pool where a light pass outlasts its interval, light passes still
 * leave the deep pass at least half of the time.
 */
export function lightPassDueAt(intervalSeconds: number | undefined, last: PassSummary | undefined): number | null {
  if (!intervalSeconds) return null;
  if (!last) return 0;
  const began = Date.parse(last.startedAt);
  const interval = Math.max(intervalSeconds, MIN_LIGHT_INTERVAL_S) * 1000;
  const due = Math.max(began + interval, Date.parse(last.finishedAt) + last.durationSeconds * 1000);
  // A summary whose times cannot be read must not put light passes off for ever.
  return Number.isFinite(due) ? due : 0;
}

/**
 * Pacing to a deadline: "every extent verified every N days". The slowest
 * schedule that still meets the deadline finishes the pass's bytes in
 * proportion to the time elapsed since the pass began; ahead of it we wait,
 * behind it we run as fast as the intensity allows and say whether the
 * deadline can still be met.
 */
export interface DeadlineProgress {
  startedAtMs: number;
  nowMs: number;
  bytesDone: number;
  bytesTotal: number;
  /** Recent rate at the allowed intensity, bytes/s (0 when unknown). */
  bytesPerSecond: number;
}

/** Milliseconds to wait before the next operation to stay on the slowest schedule. */
export function deadlineDelayMs(deadlineSeconds: number, p: DeadlineProgress): number {
  if (p.bytesTotal <= 0) return 0;
  const dueAtMs = p.startedAtMs + (p.bytesDone / p.bytesTotal) * deadlineSeconds * 1000;
  return Math.max(0, dueAtMs - p.nowMs);
}

/** False when the remaining bytes at the current rate end after the deadline. */
export function deadlineAchievable(deadlineSeconds: number, p: DeadlineProgress): boolean {
  const remaining = Math.max(0, p.bytesTotal - p.bytesDone);
  if (remaining === 0) return p.nowMs <= p.startedAtMs + deadlineSeconds * 1000 || p.bytesTotal === 0;
  if (p.bytesPerSecond <= 0) return true; // no measurement yet
  const finishMs = p.nowMs + (remaining / p.bytesPerSecond) * 1000;
  return finishMs <= p.startedAtMs + deadlineSeconds * 1000;
}

/**
 * The read rate (bytes/s) that finishes the pass's remaining bytes exactly
 * at the deadline: 0 when nothing is left, Infinity when the deadline has
 * passed with bytes left (no rate is enough).
 */
export function deadlinePace(deadlineSeconds: number, p: DeadlineProgress): number {
  const remaining = Math.max(0, p.bytesTotal - p.bytesDone);
  if (remaining === 0) return 0;
  const secondsLeft = (p.startedAtMs + deadlineSeconds * 1000 - p.nowMs) / 1000;
  return secondsLeft > 0 ? remaining / secondsLeft : Infinity;
}

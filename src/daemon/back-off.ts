/**
 * The I/O-pressure back-off. A queue-depth-1 foreground reader keeps PSI's
 * "some avg10" above any useful limit for as long as it runs (PERF-NOTES), so
 * a back-off that waited for the pressure to fall would never scrub a busy
 * disk. Under pressure the daemon slows to a floor rate instead, read in small
 * evenly spaced reads; a deadline that needs more than the floor gets its pace,
 * and a --max-rate below either stays the cap.
 */

/** What sets the read rate while the pressure is above the limit. */
export type HeldBy = 'floor' | 'deadline' | 'max-rate';
export const HELD_BY: readonly HeldBy[] = ['floor', 'deadline', 'max-rate'];

export interface PressureHold {
  /** The read rate held on average, bytes/s; null when nothing caps it (a deadline already missed). */
  bytesPerSecond: number | null;
  by: HeldBy;
}

export interface PressureInputs {
  /** "some avg10" percent, undefined where the kernel has no PSI. */
  pressure: number | undefined;
  /** Percent; 0 turns the back-off off. */
  limit: number;
  /** Bytes/s still read under pressure (at most: the intensity's own pace may be slower). */
  floor: number;
  /** Bytes/s the deadline needs from now on (Infinity: it has passed); undefined without a deadline. */
  deadlinePace?: number;
  /** The operator's cap, bytes/s, if any. */
  maxRate?: number;
}

/**
 * While a deadline's pace is held, reads may go half again as fast: the cap
 * and low's idle spells compound (a cap gives less than it says with cold
 * reads), and a pass that has fallen behind its schedule must be able to
 * catch up. The schedule's waits hold the average to the deadline's pace.
 */
export const DEADLINE_HEADROOM = 1.5;

/** The rate held while the pressure exceeds the limit, or null when the back-off is not in force. */
export function pressureHold(i: PressureInputs): PressureHold | null {
  if (!(i.limit > 0) || i.pressure === undefined || i.pressure <= i.limit) return null;
  const needs = i.deadlinePace ?? 0;
  const deadlineWins = needs > i.floor;
  const pace = deadlineWins ? needs : i.floor;
  if (i.maxRate && i.maxRate <= pace) return { bytesPerSecond: i.maxRate, by: 'max-rate' };
  return { bytesPerSecond: Number.isFinite(pace) ? pace : null, by: deadlineWins ? 'deadline' : 'floor' };
}

/** The cap on reads for the next operation: the hold's rate under pressure (with headroom for a deadline), else the operator's cap; 0 for none. */
export function readCap(hold: PressureHold | null, maxRate: number | undefined): number {
  if (!hold) return maxRate ?? 0;
  if (hold.bytesPerSecond === null) return 0;
  if (hold.by !== 'deadline') return hold.bytesPerSecond;
  return Math.min(hold.bytesPerSecond * DEADLINE_HEADROOM, maxRate || Infinity);
}

import path from 'node:path';
import { DISK_STATES, DiskState, openPool, Pool } from '../core/pool';
import { CurrentPass, loadState, PassSummary, ScrubState } from '../scrub/state';
import { DaemonInfo, daemonRunning, readDaemonInfo } from '../daemon/info';
import type { IoPressureView } from '../daemon/protocol';
import { HELD_BY } from '../daemon/back-off';
import { DiskView, diskViews } from '../scrub/disk-view';
import { poolSchedules, ScheduledDepth } from './schedule-view';

// Everything the metrics and /health say about one pool, read from persisted
// files only: pool.json, the disk labels, the scrub state (with the disks'
// error counts and the clear-errors baseline beside it), the notes in the
// disks' quarantine directories, the daemon's info, and the pool's scrub
// schedules. Nothing is written:
// the exporter runs unprivileged under ProtectSystem=strict, so disks found at
// new paths are not recorded in pool.json. Nothing walks the extents, so a
// scrape costs the same for ten extents as for ten million, and the numbers
// are right whether a daemon runs, a one-shot scrub ran, or nothing runs.

export interface DaemonView {
  /** A daemon published info for this pool at some time (it was started once). */
  known: boolean;
  running: boolean;
  pid?: number;
  /** Paused and throttled are only true of a running daemon. */
  paused: boolean;
  throttled: string | null;
  intensity?: DaemonInfo['intensity'];
  deadlineSeconds?: number;
  deadlineAchievable?: boolean;
  /** The I/O-pressure back-off of a running daemon; absent when it is off or the daemon is not running. */
  ioPressure?: IoPressureView;
  updatedAt?: string;
}

interface SnapshotBase {
  /** The pool directory as given, made absolute: the `pool` label. */
  path: string;
}

export interface ReadableSnapshot extends SnapshotBase {
  ok: true;
  pool: Pool;
  state: ScrubState;
  disks: Record<DiskState, number>;
  /** Each disk: state, errors since last cleared, quarantine, resilver progress. */
  diskViews: DiskView[];
  daemon: DaemonView;
  /** The scrub schedule of each depth that has one. */
  schedules: ScheduledDepth[];
}

export interface UnreadableSnapshot extends SnapshotBase {
  ok: false;
  /** One line naming the file at fault. */
  error: string;
}

export type PoolSnapshot = ReadableSnapshot | UnreadableSnapshot;

/** Outcomes of a pass that went over every extent. */
export const COMPLETED_OUTCOMES: ReadonlySet<PassSummary['outcome']> = new Set<PassSummary['outcome']>(['clean', 'repaired', 'problems']);

/** The latest pass that went over every extent, if the latest pass did. */
export function lastCompletedPass(state: ScrubState): PassSummary | undefined {
  // TODO(state): a cancelled pass after a completed one hides the completed
  // one's time; ScrubState would need lastCompletedPass to keep it.
  return state.lastPass && COMPLETED_OUTCOMES.has(state.lastPass.outcome) ? state.lastPass : undefined;
}

/**
 * How far a pass in progress is, 0 to 1, and the scrubbing time it still needs
 * at its average rate so far (undefined until that rate is known). Bytes
 * measure work better than extents (extents differ in size); extents stand in
 * while the pass does not know its byte total yet.
 */
export function passProgress(cur: CurrentPass): { ratio: number; etaSeconds?: number } {
  const [done, total] = cur.bytesTotal > 0 ? [cur.bytesDone, cur.bytesTotal] : [cur.extentsDone, cur.extentsTotal];
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const known = done > 0 && cur.activeSeconds > 0 && total >= done;
  return { ratio, etaSeconds: known ? ((total - done) * cur.activeSeconds) / done : undefined };
}

/** Never scrubbed: no pass finished and none begun. */
export const neverScrubbed = (state: ScrubState) => !state.lastPass && !state.current && state.counters.scrubsCompleted === 0;

/**
 * When the least recently verified extent was verified: the state's own
 * record, else the start of the last completed pass (every extent was
 * verified after it), else the pool's creation (nothing was verified since).
 */
export function oldestVerification(snap: ReadableSnapshot): number | undefined {
  const candidates = [snap.state.oldestVerifiedAt, lastCompletedPass(snap.state)?.startedAt, snap.pool.config.created];
  for (const c of candidates) {
    const t = c ? Date.parse(c) : NaN;
    if (Number.isFinite(t)) return t;
  }
  return undefined;
}

function daemonView(root: string): DaemonView {
  const info = readDaemonInfo(root);
  // A daemon stopped on purpose is as if none ran: no "daemon down" alert.
  if (!info || (info.stoppedAt && !daemonRunning(info))) return { known: false, running: false, paused: false, throttled: null };
  const running = daemonRunning(info);
  return {
    known: true,
    running,
    pid: info.pid,
    paused: running && !!info.paused,
    throttled: running ? info.throttled ?? null : null,
    intensity: info.intensity,
    deadlineSeconds: info.deadlineSeconds,
    deadlineAchievable: info.deadlineAchievable,
    ioPressure: running ? ioPressureOf(info.ioPressure) : undefined,
    updatedAt: info.updatedAt,
  };
}

/** The back-off as published, if it has the shape the daemon writes (daemon.json is a state file anyone in the pool may touch). */
function ioPressureOf(v: unknown): IoPressureView | undefined {
  const p = v as IoPressureView | undefined;
  if (!p || typeof p !== 'object' || typeof p.limit !== 'number' || typeof p.floorBytesPerSecond !== 'number') return undefined;
  const h = p.holding;
  const holding = h && typeof h === 'object' && HELD_BY.includes(h.by) && (h.bytesPerSecond === null || typeof h.bytesPerSecond === 'number') ? { by: h.by, bytesPerSecond: h.bytesPerSecond } : null;
  return { limit: p.limit, floorBytesPerSecond: p.floorBytesPerSecond, pressure: typeof p.pressure === 'number' ? p.pressure : null, holding };
}

/** Reads one pool's snapshot; never throws (a pool that cannot be read says why). */
export function readPoolSnapshot(poolPath: string): PoolSnapshot {
  const abs = path.resolve(poolPath);
  try {
    const pool = openPool(abs, { record: false });
    const state = loadState(pool.root, pool.config.id);
    const disks = Object.fromEntries(DISK_STATES.map((s) => [s, 0])) as Record<DiskState, number>;
    for (const d of pool.disks) disks[d.state]++;
    return { ok: true, path: abs, pool, state, disks, diskViews: diskViews(pool, state), daemon: daemonView(pool.root), schedules: poolSchedules(pool.root) };
  } catch (err) {
    return { ok: false, path: abs, error: err instanceof Error ? err.message : String(err) };
  }
}

export const readSnapshots = (pools: readonly string[]) => pools.map(readPoolSnapshot);

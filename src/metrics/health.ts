import { DiskState } from '../core/pool';
import { HealthCounts, PassOutcome } from '../scrub/state';
import { Intensity } from '../scrub/pacing';
import { lastCompletedPass, neverScrubbed, PoolSnapshot } from './snapshot';

// The /health document: each pool's worst known state and the overall worst,
// for load balancers, uptime checks and humans with curl. Only unrecoverable
// data makes the endpoint fail (503); degraded data is still all readable.

export type HealthState = 'healthy' | 'degraded' | 'unrecoverable' | 'unknown';

/** Worse states rank higher. A known problem outranks not knowing. */
const RANK: Record<HealthState, number> = { healthy: 0, unknown: 1, degraded: 2, unrecoverable: 3 };
export const worst = (states: HealthState[]): HealthState =>
  states.reduce<HealthState>((a, b) => (RANK[b] > RANK[a] ? b : a), 'healthy');

/** A disk in one of these states has taken shards out of reach. */
const LOST_DISK: readonly DiskState[] = ['missing', 'foreign', 'unreadable'];

export interface PoolHealth {
  pool: string;
  poolId?: string;
  state: HealthState;
  /** Why the state is what it is, in a few words. */
  reason: string;
  extents?: HealthCounts;
  disks?: Record<DiskState, number>;
  daemon?: { running: boolean; pid?: number; paused: boolean; throttled: string | null; intensity?: Intensity };
  lastScrub?: { finishedAt: string; outcome: PassOutcome; durationSeconds: number } | null;
  lastCompletedScrubAt?: string | null;
  pass?: { startedAt: string; extentsDone: number; extentsTotal: number } | null;
  error?: string;
}

export interface HealthDocument {
  state: HealthState;
  checkedAt: string;
  pools: PoolHealth[];
}

export function poolHealth(snap: PoolSnapshot): PoolHealth {
  if (!snap.ok) return { pool: snap.path, state: 'unknown', reason: 'pool cannot be read', error: snap.error };
  const { state, daemon } = snap;
  const lostDisks = LOST_DISK.reduce((n, s) => n + snap.disks[s], 0);
  let verdict: HealthState;
  let reason: string;
  if (state.health.unrecoverable > 0) {
    [verdict, reason] = ['unrecoverable', `${state.health.unrecoverable} unrecoverable extents`];
  } else if (state.health.degraded > 0) {
    [verdict, reason] = ['degraded', `${state.health.degraded} degraded extents`];
  } else if (lostDisks > 0) {
    // The last scrub predates the loss: the extents on that disk are degraded now.
    [verdict, reason] = ['degraded', `${lostDisks} disks not online`];
  } else if (snap.disks.rebuilding > 0) {
    // A replacement drive holds none of its shards until the resilver is done.
    [verdict, reason] = ['degraded', `${snap.disks.rebuilding} disks rebuilding`];
  } else if (neverScrubbed(state)) {
    [verdict, reason] = ['unknown', 'never scrubbed'];
  } else {
    [verdict, reason] = ['healthy', 'no problems known'];
  }
  const last = state.lastPass;
  const cur = state.current;
  return {
    pool: snap.path,
    poolId: snap.pool.config.id,
    state: verdict,
    reason,
    extents: { ...state.health },
    disks: { ...snap.disks },
    daemon: { running: daemon.running, pid: daemon.running ? daemon.pid : undefined, paused: daemon.paused, throttled: daemon.throttled, intensity: daemon.running ? daemon.intensity : undefined },
    lastScrub: last ? { finishedAt: last.finishedAt, outcome: last.outcome, durationSeconds: last.durationSeconds } : null,
    lastCompletedScrubAt: lastCompletedPass(state)?.finishedAt ?? null,
    pass: cur ? { startedAt: cur.startedAt, extentsDone: cur.extentsDone, extentsTotal: cur.extentsTotal } : null,
  };
}

export function healthDocument(snapshots: readonly PoolSnapshot[], now = new Date()): HealthDocument {
  const pools = snapshots.map(poolHealth);
  return { state: worst(pools.map((p) => p.state)), checkedAt: now.toISOString(), pools };
}

/** 503 only for unrecoverable data, so a probe fails exactly when data is lost. */
export const healthHttpStatus = (doc: HealthDocument) => (doc.state === 'unrecoverable' ? 503 : 200);

import { DiskState, Pool } from '../core/pool';
import { DiskErrorCounts, errorsSinceCleared } from './disk-errors';
import { quarantineUsage } from './quarantine';
import { ScrubState } from './state';

// One disk as `status`, `probe-disks`, the daemon and the metrics show it:
// its state, its errors since they were last cleared, what its quarantine
// keeps, and a rebuilding disk's resilver progress.

export interface ResilverProgress {
  since: string;
  replaces?: string;
  /** The repair pass rebuilding it, if one is under way (or interrupted); undefined while none has begun. */
  pass?: { id: string; extentsDone: number; extentsTotal: number; ratio: number; etaSeconds?: number };
}

export interface DiskView {
  index: number;
  id: string;
  path: string;
  state: DiskState;
  detail?: string;
  errors: DiskErrorCounts;
  errorsClearedAt?: string;
  quarantine: { entries: number; bytes: number };
  resilver?: ResilverProgress;
  /** Other pools naming this disk (refused it): see disk-claims.ts. */
  claimedBy?: string[];
}

export function resilverProgress(pool: Pool, state: ScrubState, index: number): ResilverProgress | undefined {
  const mark = pool.config.disks[index]?.rebuilding;
  if (!mark) return undefined;
  const c = state.current;
  if (!c || c.mode !== 'repair' || c.startedAt < mark.since) return { since: mark.since, replaces: mark.replaces };
  const rate = c.activeSeconds > 0 ? c.bytesDone / c.activeSeconds : 0;
  return {
    since: mark.since,
    replaces: mark.replaces,
    pass: {
      id: c.id,
      extentsDone: c.extentsDone,
      extentsTotal: c.extentsTotal,
      ratio: c.extentsTotal > 0 ? Math.min(1, c.extentsDone / c.extentsTotal) : 0,
      etaSeconds: rate > 0 ? Math.max(0, c.bytesTotal - c.bytesDone) / rate : undefined,
    },
  };
}

export function diskViews(pool: Pool, state: ScrubState): DiskView[] {
  const errors = errorsSinceCleared(pool.root, state.diskErrors, pool.disks.map((d) => d.id));
  const kept = quarantineUsage(pool);
  return pool.disks.map((d) => ({
    index: d.index,
    id: d.id,
    path: d.path,
    state: d.state,
    detail: d.detail,
    errors: { read: errors[d.id].read, checksum: errors[d.id].checksum, write: errors[d.id].write },
    errorsClearedAt: errors[d.id].clearedAt,
    quarantine: kept.get(d.id) ?? { entries: 0, bytes: 0 },
    resilver: resilverProgress(pool, state, d.index),
    ...(d.claimedBy ? { claimedBy: d.claimedBy } : {}),
  }));
}

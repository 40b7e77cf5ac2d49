import { DISK_STATES, DiskState, Pool } from './pool';
import { poolSummary, PoolSummary } from './pool-summary';

export interface PoolStatus extends PoolSummary {
  pool: string;
  id: string;
  created: string;
  defaultRedundancy: string;
  extentSize: number;
  disks: { id: string; index: number; path: string; state: DiskState; detail?: string; claimedBy?: string[] }[];
  disksByState: Record<DiskState, number>;
}

/** The pool's identity, disks and object counts; the counts come from the saved summary while it holds (pool-summary.ts). */
export function poolStatus(pool: Pool): PoolStatus {
  const { schemes, objects, extents, bytes, unreadableObjects } = poolSummary(pool);
  const disksByState = Object.fromEntries(DISK_STATES.map((s) => [s, 0])) as Record<DiskState, number>;
  for (const d of pool.disks) disksByState[d.state]++;
  return {
    pool: pool.root,
    id: pool.config.id,
    created: pool.config.created,
    defaultRedundancy: pool.config.redundancy,
    extentSize: pool.config.extentSize,
    schemes,
    disks: pool.disks.map((d) => ({ id: d.id, index: d.index, path: d.path, state: d.state, detail: d.detail, ...(d.claimedBy ? { claimedBy: d.claimedBy } : {}) })),
    disksByState,
    objects,
    extents,
    bytes,
    unreadableObjects,
  };
}

import { eachObject } from './manifest';
import { DISK_STATES, DiskState, Pool } from './pool';

export interface PoolStatus {
  pool: string;
  id: string;
  created: string;
  defaultRedundancy: string;
  extentSize: number;
  schemes: Record<string, { objects: number; extents: number; bytes: number }>;
  disks: { id: string; index: number; path: string; state: DiskState; detail?: string; claimedBy?: string[] }[];
  disksByState: Record<DiskState, number>;
  objects: number;
  /** Distinct extents named by manifests. */
  extents: number;
  /** Logical bytes of all objects. */
  bytes: number;
  /** Objects whose every manifest copy is damaged. */
  unreadableObjects: number;
}

export function poolStatus(pool: Pool): PoolStatus {
  const schemes: PoolStatus['schemes'] = {};
  const extentIds = new Set<string>();
  let objects = 0;
  let bytes = 0;
  let unreadableObjects = 0;
  eachObject(pool, (o) => {
    const m = o.manifest;
    if (!m) {
      unreadableObjects++;
      return;
    }
    objects++;
    bytes += m.size;
    const s = (schemes[m.scheme] ??= { objects: 0, extents: 0, bytes: 0 });
    s.objects++;
    s.bytes += m.size;
    for (let i = 0; i < m.extents.count; i++) {
      const key = m.extents.key(i);
      if (!extentIds.has(key)) s.extents++;
      extentIds.add(key);
    }
  });
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
    extents: extentIds.size,
    bytes,
    unreadableObjects,
  };
}

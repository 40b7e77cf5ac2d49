import { minShards, parseScheme, shardCount } from '../core/scheme';
import { ExtentPlan } from './inventory';
import { Pool } from '../core/pool';
import { markRebuilt } from '../core/disk-set';
import { appendAudit } from './audit';
import type { CurrentPass } from './state';

// A resilver (a repair pass while a replaced disk is rebuilding) takes the
// extents closest to loss first: those with the fewest shards present, as the
// disks list them (no reads). Phase p takes every extent not yet taken whose
// spare shards number p or fewer; the last phase takes the rest, so a disk
// that fails mid-resilver costs the fewest extents. Each phase lists the
// disks again (names only), and an extent is taken once.

/** Shards present beyond the fewest its extent can be rebuilt from (negative: unrecoverable). */
export function spareShards(plan: ExtentPlan): number {
  if (!plan.scheme) return Infinity;
  const scheme = parseScheme(plan.scheme);
  const n = shardCount(scheme);
  const present = new Set(plan.files.filter((f) => f.index < n).map((f) => f.index));
  return present.size - minShards(scheme);
}

export class ResilverOrder {
  /** Phases: spare 0, 1, ..., maxSpare - 1, then everything left. */
  readonly phases: number;
  /** Ids taken in an earlier phase, by fan-out prefix (extents degraded at the start: a few per dead disk's share). */
  private readonly taken = new Map<string, Set<string>>();

  constructor(schemes: Iterable<string>) {
    let maxSpare = 0;
    for (const s of schemes) {
      const scheme = parseScheme(s);
      maxSpare = Math.max(maxSpare, shardCount(scheme) - minShards(scheme));
    }
    this.phases = maxSpare + 1;
  }

  isLast(phase: number): boolean {
    return phase >= this.phases - 1;
  }

  /** Whether phase `phase` takes this extent now (and remembers it, so no later phase takes it again). */
  take(plan: ExtentPlan, phase: number): boolean {
    const prefix = plan.id.slice(0, 2);
    if (this.taken.get(prefix)?.has(plan.id)) return false;
    if (this.isLast(phase)) return true;
    if (!plan.scheme || spareShards(plan) > phase) return false;
    let set = this.taken.get(prefix);
    if (!set) this.taken.set(prefix, (set = new Set()));
    set.add(plan.id);
    return true;
  }
}

export interface ResilverReport {
  /** The disks that were rebuilding when the pass began. */
  disks: { index: number; id: string; path: string; complete: boolean }[];
  /** Problems the pass left that hold the resilver back. */
  left: number;
}

/**
 * After a repair pass ran to its end: a rebuilding disk that was marked before
 * the pass began is complete when the pass left nothing unrepaired (but
 * extents no redundancy could save), and is then `online`.
 */
export function finishResilver(pool: Pool, pass: CurrentPass): ResilverReport {
  const left = pass.resilverLeft ?? 0;
  const disks = pool.disks
    .filter((d) => d.state === 'rebuilding')
    .map((d) => {
      const since = pool.config.disks[d.index].rebuilding?.since ?? '';
      const complete = left === 0 && since <= pass.startedAt && markRebuilt(pool.root, d.id);
      if (complete) appendAudit(pool.root, { pass: pass.id, action: 'resilver-complete', disk: d.index, diskId: d.id, path: d.path, result: 'online' });
      return { index: d.index, id: d.id, path: d.path, complete };
    });
  return { disks, left };
}

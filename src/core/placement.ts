import { Disk } from './pool';
import { xxhash } from './hash';

/**
 * Rendezvous hashing: each extent ranks the disks by a hash of (extent, disk)
 * and its shard i goes to the i-th ranked writable disk. Placement is then a
 * pure function of the id and the disk set, spreads evenly, and moves few
 * shards when a disk is added; every shard of an extent lands on a distinct disk.
 */
export function rankDisks(extentId: string, disks: Disk[]): Disk[] {
  return disks
    .map((d) => ({ d, score: xxhash().xxh3.xxh64(`${extentId}/${d.id}`) }))
    .sort((a, b) => (a.score < b.score ? 1 : a.score > b.score ? -1 : 0))
    .map((x) => x.d);
}

import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, fsFailure } from './errors';
import { ExtentList } from './extent-list';
import { extentsDir, PREFIXES, shardPath } from './layout';
import { rankDisks } from './placement';
import { onlineDisks, Pool, writableDisks } from './pool';
import { Scheme, shardCount } from './scheme';

// A put that found none of an extent's shards on its ranked disks wrote them
// all; the extent is new to the pool only if no other disk holds a shard of
// it either (one left where an earlier disk set ranked it, or written while
// its ranked disk was read-only). Asked once per put, after its writes, by
// either of two means per fan-out prefix, whichever costs less: an lstat of
// every shard name on every other disk, or one listing of the prefix's
// directory on every disk (then exactly the shard files the put wrote may be
// there). Measured on tmpfs: an lstat that finds nothing ~3.6 µs, a listed
// name ~0.9 µs.

const LSTAT_COST = 4;
const LISTED_NAME_COST = 1;
const ID_HEX = 64;

/**
 * Whether no online disk holds a shard file of the extents of `list` (those
 * not at an index in `skip`) other than the ones a put just wrote to their
 * ranked disks. `poolExtents`: about how many extents the pool holds, to
 * guess how long a listing is.
 */
export function onlyJustWritten(pool: Pool, scheme: Scheme, list: ExtentList, skip: ReadonlySet<number>, poolExtents: number): boolean {
  const disks = onlineDisks(pool);
  const n = shardCount(scheme);
  // The object's extents by fan-out prefix: a counting sort on the first id byte.
  const starts = new Uint32Array(257);
  for (let i = 0; i < list.count; i++) if (!skip.has(i)) starts[list.firstIdByte(i) + 1]++;
  for (let p = 0; p < 256; p++) starts[p + 1] += starts[p];
  const order = new Uint32Array(starts[256]);
  const next = starts.slice(0, 256);
  for (let i = 0; i < list.count; i++) if (!skip.has(i)) order[next[list.firstIdByte(i)]++] = i;
  // Shard files per prefix directory of one disk, about: every extent's n shards spread over the disks.
  const perListing = (poolExtents * n) / 256 / Math.max(1, disks.length);
  for (let p = 0; p < 256; p++) {
    const here = order.subarray(starts[p], starts[p + 1]);
    if (here.length === 0) continue;
    const byLstat = here.length * Math.max(0, disks.length - n) * n * LSTAT_COST;
    const byListing = disks.length * (perListing + here.length * n) * LISTED_NAME_COST;
    const alone = byLstat <= byListing ? noShardBeyondRanked(pool, scheme, list, here) : onlyTheirOwnListed(pool, PREFIXES[p], n, list, here);
    if (!alone) return false;
  }
  return true;
}

/** An lstat of each shard name on each disk but the extent's ranked ones. */
function noShardBeyondRanked(pool: Pool, scheme: Scheme, list: ExtentList, indices: Uint32Array): boolean {
  const n = shardCount(scheme);
  const writable = writableDisks(pool);
  for (const i of indices) {
    const id = list.id(i);
    const ranked = rankDisks(id, writable).slice(0, n);
    for (const d of onlineDisks(pool)) {
      if (ranked.includes(d)) continue;
      for (let s = 0; s < n; s++) {
        const file = shardPath(d.path, id, s);
        try {
          if (fs.lstatSync(file, { throwIfNoEntry: false })) return false;
        } catch (err) {
          throw fsFailure('cannot stat', file, err);
        }
      }
    }
  }
  return true;
}

/** One listing of the prefix directory on every disk: each extent's names number exactly its n shards. */
function onlyTheirOwnListed(pool: Pool, prefix: string, n: number, list: ExtentList, indices: Uint32Array): boolean {
  const seen = new Map<string, number>();
  for (const i of indices) seen.set(list.id(i), 0);
  for (const d of onlineDisks(pool)) {
    const dir = path.join(extentsDir(d.path), prefix);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      throw fsFailure('cannot list', dir, err);
    }
    for (const name of names) {
      const id = name.slice(0, ID_HEX);
      const count = seen.get(id);
      if (count !== undefined) seen.set(id, count + 1);
    }
  }
  for (const count of seen.values()) if (count !== n) return false;
  return true;
}

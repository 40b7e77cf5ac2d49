import { shardCandidates } from '../core/objects';
import { Pool } from '../core/pool';
import { formatScheme, shardCount } from '../core/scheme';
import { checkShardFile } from '../core/shard-file';
import { DiskRef, diskRef } from './change';
import { ExtentRef, selectExtents, shardEntry, shardIndicesOnDisk } from './select';
import { onlineDisks } from '../core/pool';

export interface ShardListing {
  shard: number;
  disk: DiskRef | null;
  path: string | null;
  /** 'ok', or what the scrubber would call the problem ('missing' when no online disk has it). */
  state: string;
  detail?: string;
  size?: number;
}

export interface ExtentListing {
  extent: string;
  scheme: string | null;
  object?: string;
  extentIndex?: number;
  shards: ShardListing[];
}

export interface ListSelection {
  object?: string;
  extent?: string;
  /** Absent with --object: every extent of the object. */
  extentIndex?: number;
}

function listExtent(pool: Pool, ext: ExtentRef): ExtentListing {
  const indices = ext.scheme
    ? [...Array(shardCount(ext.scheme)).keys()]
    : [...new Set(onlineDisks(pool).flatMap((d) => shardIndicesOnDisk(d, ext.id)))].sort((a, b) => a - b);
  const shards: ShardListing[] = [];
  for (const i of indices) {
    const before = shards.length;
    // Every copy is listed: a stale duplicate on another disk is worth seeing in a drill.
    for (const c of shardCandidates(pool, ext.id, i)) {
      const e = shardEntry(c.disk, ext.id, i);
      if (e.kind === 'missing') continue;
      const row = { shard: i, disk: diskRef(c.disk), path: c.path };
      if (e.kind === 'odd') {
        shards.push({ ...row, state: 'not-regular', detail: e.detail });
        continue;
      }
      const r = checkShardFile(c.path, ext.id, i);
      shards.push(r.ok ? { ...row, state: 'ok', size: r.fileSize } : { ...row, state: r.problem, detail: r.detail, size: r.fileSize });
    }
    if (shards.length === before) shards.push({ shard: i, disk: null, path: null, state: 'missing', detail: 'on no online disk' });
  }
  return { extent: ext.id, scheme: ext.scheme ? formatScheme(ext.scheme) : null, object: ext.object, extentIndex: ext.extentIndex, shards };
}

/** Where every shard of the selected extents is, and whether it reads back intact. Changes nothing. */
export function listShards(pool: Pool, sel: ListSelection): ExtentListing[] {
  const allExtents = sel.object !== undefined && sel.extentIndex === undefined;
  return selectExtents(pool, { ...sel, allExtents }).map((ext) => listExtent(pool, ext));
}

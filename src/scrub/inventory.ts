import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../core/errors';
import { extentsDir, PREFIXES, SHARD_NAME_RE } from '../core/layout';
import { TEMP_FILE_RE } from '../core/atomic-file';
import { onlineDisks, Pool } from '../core/pool';
import { isRealDirectory } from '../core/safe-fs';
import { ExtentIndex, IndexedExtent, readBucket } from './extent-index';

// A pass walks the pool one fan-out directory (extents/XX) at a time, in id
// order, beside the matching bucket of the extent index: memory holds 1/256
// of the pool's extents and shard files at a time, whatever the pool's size.

/** One file found where shards live, named like a shard. */
export interface ShardLocation {
  index: number;
  disk: number;
  path: string;
}

/** What the scrubber will check for one extent: what manifests expect and what the disks hold. */
export interface ExtentPlan {
  id: string;
  /** From the manifests; undefined for an extent no manifest names (orphan). */
  scheme?: string;
  length?: number;
  /** Ordinals in the extent index of objects that reference it, for findings. */
  objects?: number[];
  files: ShardLocation[];
  /** The resilver phase that took it (see resilver.ts); undefined in an ordinary pass. */
  phase?: number;
}

/** A file that should not be where it is: reported, never deleted, never followed. */
export interface StrayFile {
  disk: number;
  path: string;
  kind: 'stray-file' | 'stale-temp-file';
  detail: string;
}

const FANOUT_RE = /^[0-9a-f]{2}$/;

/** Entries of extents/ itself that are not fan-out directories. */
export function topLevelStrays(pool: Pool): StrayFile[] {
  const strays: StrayFile[] = [];
  for (const disk of onlineDisks(pool)) {
    const top = extentsDir(disk.path);
    let entries: fs.Dirent[];
    try {
      if (!isRealDirectory(top) && fs.existsSync(top)) {
        strays.push({ disk: disk.index, path: top, kind: 'stray-file', detail: 'not a real directory (not followed)' });
        continue;
      }
      entries = fs.readdirSync(top, { withFileTypes: true });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') strays.push({ disk: disk.index, path: top, kind: 'stray-file', detail: `cannot list: ${errnoCode(err)}` });
      continue;
    }
    for (const f of entries) {
      if (f.isDirectory() && FANOUT_RE.test(f.name)) continue;
      strays.push({ disk: disk.index, path: path.join(top, f.name), kind: 'stray-file', detail: f.isDirectory() ? 'unexpected directory' : 'unexpected file' });
    }
  }
  return strays;
}

/**
 * The plans for one fan-out prefix: every extent the index names there and
 * every shard-like file the disks hold there, sorted by id. Reads directory
 * entries only, so a FIFO or device is never opened here.
 */
export function listPrefix(pool: Pool, named: Map<string, IndexedExtent>, prefix: string, strays: StrayFile[]): ExtentPlan[] {
  const byId = new Map<string, ExtentPlan>();
  for (const e of named.values()) byId.set(e.id, { id: e.id, scheme: e.scheme, length: e.length, objects: e.objects, files: [] });
  for (const disk of onlineDisks(pool)) {
    const dir = path.join(extentsDir(disk.path), prefix);
    let entries: fs.Dirent[];
    try {
      // A symlink standing for extents/ or extents/XX is reported by topLevelStrays, never followed.
      if (!isRealDirectory(extentsDir(disk.path)) || !isRealDirectory(dir)) continue;
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') strays.push({ disk: disk.index, path: dir, kind: 'stray-file', detail: `cannot list: ${code}` });
      continue;
    }
    for (const e of entries) {
      const file = path.join(dir, e.name);
      const m = SHARD_NAME_RE.exec(e.name);
      if (!m || m[1].slice(0, 2) !== prefix) {
        const temp = TEMP_FILE_RE.test(e.name);
        strays.push({
          disk: disk.index,
          path: file,
          kind: temp ? 'stale-temp-file' : 'stray-file',
          detail: temp ? 'temp file left by an interrupted write' : m ? 'shard in the wrong fan-out directory' : 'name is not <extent-id>.<shard>',
        });
        continue;
      }
      let plan = byId.get(m[1]);
      if (!plan) {
        plan = { id: m[1], files: [] };
        byId.set(m[1], plan);
      }
      plan.files.push({ index: Number(m[2]), disk: disk.index, path: file });
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The plans of every fan-out prefix from `from` on, in id order, one prefix listed at a time. */
export function* listPrefixes(pool: Pool, index: ExtentIndex, strays: StrayFile[], from = ''): Generator<ExtentPlan[]> {
  for (const prefix of PREFIXES) if (prefix >= from) yield listPrefix(pool, readBucket(index, prefix), prefix, strays);
}

import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../core/errors';
import { extentsDir } from '../core/layout';
import { onlineDisks, Pool } from '../core/pool';
import { isRealDirectory } from '../core/safe-fs';

// What a pass finds on the disks and checks: plans of extents, shard files
// by name, and files that should not be where they are.

/** One file found where shards live, named like a shard. */
export interface ShardLocation {
  index: number;
  disk: number;
  path: string;
  /** The listing's d_type said regular file (see checkShardHeader). */
  regular?: boolean;
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

/**
 * A plan as it is sent to a verify thread: files as flat (index, disk,
 * regular) triples, paths left out. Every listed shard file's path is
 * `<extents dir of its disk>/<fan-out>/<id>.<index>` (shardName admits only
 * that spelling), so the thread rebuilds it from the disks' extents dirs;
 * cloning a hundred-byte path per shard cost more than checking it.
 */
export interface WirePlan {
  id: string;
  scheme?: string;
  length?: number;
  files: number[];
}

export function toWire(plan: ExtentPlan): WirePlan {
  const files: number[] = [];
  for (const f of plan.files) files.push(f.index, f.disk, f.regular ? 1 : 0);
  return { id: plan.id, scheme: plan.scheme, length: plan.length, files };
}

/** `dirs[disk]` is that disk's extents dir (extentsDir). */
export function fromWire(w: WirePlan, dirs: string[]): ExtentPlan {
  const files: ShardLocation[] = [];
  const fan = w.id.slice(0, 2);
  for (let i = 0; i < w.files.length; i += 3) {
    const [index, disk, regular] = [w.files[i], w.files[i + 1], w.files[i + 2]];
    const path = `${dirs[disk]}/${fan}/${w.id}.${index}`;
    files.push(regular ? { index, disk, path, regular: true } : { index, disk, path });
  }
  return { id: w.id, scheme: w.scheme, length: w.length, files };
}

/** A file that should not be where it is: reported, never deleted, never followed. */
export interface StrayFile {
  disk: number;
  path: string;
  kind: 'stray-file' | 'stale-temp-file';
  detail: string;
}

const FANOUT_RE = /^[0-9a-f]{2}$/;

/**
 * The shard index in a name SHARD_NAME_RE matches (the extent id is its first
 * 64 characters), or -1 for any other name; without the regex engine or a
 * string made: the walk tests every file of every disk, and the regex cost
 * more than the rest of it.
 */
export function shardIndex(name: string): number {
  const n = name.length;
  if (n < 66 || n > 68 || name.charCodeAt(64) !== 46) return -1;
  for (let i = 0; i < 64; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return -1;
  }
  const first = name.charCodeAt(65);
  if (first < 48 || first > 57 || (first === 48 && n > 66)) return -1;
  let index = 0;
  for (let i = 65; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    index = index * 10 + (c - 48);
  }
  return index;
}

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

/** A disk as a walk needs it (the online disks of a pool; plain data, so it crosses to a verify thread). */
export interface ListedDisk {
  index: number;
  path: string;
}

/** The disks a walk lists: the online ones. */
export const listedDisks = (pool: Pool): ListedDisk[] => onlineDisks(pool).map((d) => ({ index: d.index, path: d.path }));

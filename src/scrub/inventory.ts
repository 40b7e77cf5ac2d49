import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../core/errors';
import { extentsDir, SHARD_NAME_RE } from '../core/layout';
import { TEMP_FILE_RE } from '../core/atomic-file';
import { scanManifests, ObjectEntry } from '../core/manifest';
import { onlineDisks, Pool } from '../core/pool';
import { HEADER_SIZE } from '../core/shard-header';
import { isRealDirectory } from '../core/safe-fs';
import { parseScheme, Scheme, shardCount } from '../core/scheme';
import { shardPayloadLength } from '../core/erasure';

// A pass walks the pool one fan-out directory (extents/XX) at a time, in id
// order. Memory then holds the manifests' catalog plus one 1/256 slice of the
// shard files, not every file of the pool: the daemon stays small on pools of
// millions of extents.

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
  files: ShardLocation[];
}

/** A file that should not be where it is: reported, never deleted, never followed. */
export interface StrayFile {
  disk: number;
  path: string;
  kind: 'stray-file' | 'stale-temp-file';
  detail: string;
}

/** Every extent the manifests name, bucketed by fan-out prefix. */
export interface Catalog {
  objects: ObjectEntry[];
  /** The schemes in use; an extent's entry names one by index. */
  schemes: string[];
  /** id -> scheme index * 2^32 + length: one number per extent keeps the catalog small. */
  extents: Map<string, number>;
  /** 256 sorted id lists, one per first byte. */
  byPrefix: string[][];
  bytes: number;
}

export const PREFIXES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** What reading every shard of an extent costs, from its scheme (no stat per file). */
function expectedBytes(scheme: Scheme, length: number): number {
  return shardCount(scheme) * (HEADER_SIZE + shardPayloadLength(scheme, length));
}

export function takeCatalog(pool: Pool): Catalog {
  const objects = scanManifests(pool);
  const extents = new Map<string, number>();
  const schemes: string[] = [];
  const byPrefix: string[][] = PREFIXES.map(() => []);
  let bytes = 0;
  for (const o of objects) {
    const m = o.manifest;
    if (!m) continue;
    let si = schemes.indexOf(m.scheme);
    if (si < 0) si = schemes.push(m.scheme) - 1;
    const scheme = parseScheme(m.scheme);
    for (const e of m.extents) {
      if (extents.has(e.id)) continue;
      extents.set(e.id, si * 2 ** 32 + e.length);
      byPrefix[parseInt(e.id.slice(0, 2), 16)].push(e.id);
      bytes += expectedBytes(scheme, e.length);
    }
  }
  for (const list of byPrefix) list.sort();
  return { objects, schemes, extents, byPrefix, bytes };
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
 * The plans for one fan-out prefix: every extent the catalog names there and
 * every shard-like file the disks hold there, sorted by id. Reads directory
 * entries only, so a FIFO or device is never opened here.
 */
export function listPrefix(pool: Pool, catalog: Catalog, prefix: string, strays: StrayFile[]): ExtentPlan[] {
  const byId = new Map<string, ExtentPlan>();
  for (const id of catalog.byPrefix[parseInt(prefix, 16)]) {
    const v = catalog.extents.get(id)!;
    byId.set(id, { id, scheme: catalog.schemes[Math.floor(v / 2 ** 32)], length: v % 2 ** 32, files: [] });
  }
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

/** The whole pool at once (dfs-pool gc): catalog, every plan and every stray. */
export function takeInventory(pool: Pool): { catalog: Catalog; extents: ExtentPlan[]; strays: StrayFile[] } {
  const catalog = takeCatalog(pool);
  const strays = topLevelStrays(pool);
  const extents = PREFIXES.flatMap((p) => listPrefix(pool, catalog, p, strays));
  return { catalog, extents, strays };
}

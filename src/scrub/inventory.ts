import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../core/errors';
import { extentsDir, SHARD_NAME_RE } from '../core/layout';
import { TEMP_FILE_RE } from '../core/atomic-file';
import { scanManifests, ObjectEntry } from '../core/manifest';
import { onlineDisks, Pool } from '../core/pool';
import { HEADER_SIZE } from '../core/shard-header';
import { parseScheme, shardCount } from '../core/scheme';
import { shardPayloadLength } from '../core/erasure';

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
  /** Names of objects whose manifests reference this extent (at most a few, for reports). */
  objects: string[];
  files: ShardLocation[];
}

/** A file that should not be where it is: reported, never deleted, never followed. */
export interface StrayFile {
  disk: number;
  path: string;
  kind: 'stray-file' | 'stale-temp-file';
  detail: string;
}

export interface Inventory {
  /** Sorted by extent id: the pass order, so a cursor (last id done) resumes it. */
  extents: ExtentPlan[];
  objects: ObjectEntry[];
  strays: StrayFile[];
  /** Bytes a full pass reads, from the schemes (for progress and ETA). */
  bytes: number;
}

/** What reading every shard of an extent costs, from its scheme (no stat per file). */
export function expectedBytes(e: ExtentPlan): number {
  if (!e.scheme || !e.length) return e.files.length * HEADER_SIZE;
  const scheme = parseScheme(e.scheme);
  return shardCount(scheme) * (HEADER_SIZE + shardPayloadLength(scheme, e.length));
}

const FANOUT_RE = /^[0-9a-f]{2}$/;

/**
 * Lists every shard-like file on every online disk and every manifest. Reads
 * directory entries only (d_type), so a FIFO or device is never opened here.
 */
export function takeInventory(pool: Pool): Inventory {
  const byId = new Map<string, ExtentPlan>();
  const strays: StrayFile[] = [];
  let bytes = 0;
  const objects = scanManifests(pool);
  for (const o of objects) {
    const m = o.manifest;
    if (!m) continue;
    for (const e of m.extents) {
      let plan = byId.get(e.id);
      if (!plan) {
        plan = { id: e.id, scheme: m.scheme, length: e.length, objects: [], files: [] };
        byId.set(e.id, plan);
      }
      if (plan.objects.length < 3 && !plan.objects.includes(m.name)) plan.objects.push(m.name);
    }
  }
  for (const disk of onlineDisks(pool)) {
    const top = extentsDir(disk.path);
    let fanouts: fs.Dirent[];
    try {
      fanouts = fs.readdirSync(top, { withFileTypes: true });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') strays.push({ disk: disk.index, path: top, kind: 'stray-file', detail: `cannot list: ${errnoCode(err)}` });
      continue;
    }
    for (const f of fanouts) {
      const dir = path.join(top, f.name);
      if (!f.isDirectory() || !FANOUT_RE.test(f.name)) {
        strays.push({ disk: disk.index, path: dir, kind: 'stray-file', detail: f.isDirectory() ? 'unexpected directory' : 'unexpected file' });
        continue;
      }
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch (err) {
        strays.push({ disk: disk.index, path: dir, kind: 'stray-file', detail: `cannot list: ${errnoCode(err)}` });
        continue;
      }
      for (const e of entries) {
        const file = path.join(dir, e.name);
        const m = SHARD_NAME_RE.exec(e.name);
        if (!m || m[1].slice(0, 2) !== f.name) {
          const temp = TEMP_FILE_RE.test(e.name);
          strays.push({
            disk: disk.index,
            path: file,
            kind: temp ? 'stale-temp-file' : 'stray-file',
            detail: temp ? 'temp file left by an interrupted write' : m ? 'shard in the wrong fan-out directory' : 'name is not <extent-id>.<shard>',
          });
          continue;
        }
        const id = m[1];
        let plan = byId.get(id);
        if (!plan) {
          plan = { id, objects: [], files: [] };
          byId.set(id, plan);
        }
        plan.files.push({ index: Number(m[2]), disk: disk.index, path: file });
      }
    }
  }
  const extents = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const e of extents) bytes += expectedBytes(e);
  return { extents, objects, strays, bytes };
}

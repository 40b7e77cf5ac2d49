import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../core/errors';
import { extentsDir, PREFIXES } from '../core/layout';
import { TEMP_FILE_RE } from '../core/atomic-file';
import { onlineDisks, Pool } from '../core/pool';
import { isRealDirectory } from '../core/safe-fs';
import { ExtentIndex, IndexedExtent, NamedRecord, readBucket } from './extent-index';

// A pass walks the pool one fan-out directory (extents/XX) at a time, in id
// order, beside the matching bucket of the extent index: memory holds 1/256
// of the pool's extents and shard files at a time, whatever the pool's size.

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

/**
 * One fan-out prefix as a verify thread keeps it between the slices it
 * checks: every extent the index names there and every shard-like file the
 * disks hold there, sorted by id, in flat arrays (~130 bytes an extent). As
 * ExtentPlan objects with a path per file it took ~840 bytes an extent, and a
 * thread's heap grew with the pool (3,900 extents a prefix at a million);
 * plan(i) builds one extent's plan as it is checked, young garbage.
 */
export class PrefixListing {
  private constructor(
    readonly prefix: string,
    /** Extent ids, sorted. */
    readonly ids: string[],
    /** Per extent: the index of its scheme in `schemes`, or NO_SCHEME for an orphan. */
    private readonly scheme: Uint8Array,
    private readonly schemes: string[],
    private readonly lengths: Uint32Array,
    /** Per extent, MAX_NAMES ordinals of objects naming it, NO_OBJECT past the last. */
    private readonly objects: Uint32Array,
    /** Per extent, its files at fileStarts[i] up to fileStarts[i + 1] in `files`, as (index, disk, regular) triples. */
    private readonly fileStarts: Uint32Array,
    private readonly files: Uint16Array,
    /** Each disk's prefix directory, by disk index. */
    private readonly dirs: Map<number, string>,
  ) {}

  get count(): number {
    return this.ids.length;
  }

  /** The first extent with an id at or after `id`. */
  firstAtOrAfter(id: string): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  named(i: number): boolean {
    return this.scheme[i] !== NO_SCHEME;
  }

  /** Extent i as a plan, files with their paths. */
  plan(i: number): ExtentPlan {
    const id = this.ids[i];
    const files: ShardLocation[] = [];
    for (let f = this.fileStarts[i]; f < this.fileStarts[i + 1]; f++) {
      const [index, disk, regular] = [this.files[3 * f], this.files[3 * f + 1], this.files[3 * f + 2]];
      const path = `${this.dirs.get(disk)}/${id}.${index}`;
      files.push(regular ? { index, disk, path, regular: true } : { index, disk, path });
    }
    if (!this.named(i)) return { id, files };
    const objects: number[] = [];
    for (let k = 0; k < MAX_OBJECTS; k++) if (this.objects[i * MAX_OBJECTS + k] !== NO_OBJECT) objects.push(this.objects[i * MAX_OBJECTS + k]);
    return { id, scheme: this.schemes[this.scheme[i]], length: this.lengths[i], objects, files };
  }

  /** Reads directory entries only, so a FIFO or device is never opened here. */
  static list(disks: readonly ListedDisk[], eachNamed: (fn: NamedRecord) => void, prefix: string, strays: StrayFile[]): PrefixListing {
    // What the index names, as its records come (an extent several objects name comes once for each).
    const namedIds: string[] = [];
    const namedSchemes: string[] = [];
    const namedLengths: number[] = [];
    const namedObjects: number[] = [];
    eachNamed((id, scheme, length, object) => {
      namedIds.push(id);
      namedSchemes.push(scheme);
      namedLengths.push(length);
      namedObjects.push(object);
    });
    // Every shard-like file, in the order listPrefix always gave them: by disk, then as listed.
    const fileIds: string[] = [];
    const fileMeta: number[] = [];
    const dirs = new Map<number, string>();
    for (const disk of disks) {
      const dir = path.join(extentsDir(disk.path), prefix);
      dirs.set(disk.index, dir);
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
        const index = shardIndex(e.name);
        if (index < 0 || e.name.charCodeAt(0) !== prefix.charCodeAt(0) || e.name.charCodeAt(1) !== prefix.charCodeAt(1)) {
          const temp = TEMP_FILE_RE.test(e.name);
          strays.push({
            disk: disk.index,
            // Names come from readdir: no separators, no dot segments, so no path.join (a third of the walk).
            path: `${dir}/${e.name}`,
            kind: temp ? 'stale-temp-file' : 'stray-file',
            detail: temp ? 'temp file left by an interrupted write' : index >= 0 ? 'shard in the wrong fan-out directory' : 'name is not <extent-id>.<shard>',
          });
          continue;
        }
        fileIds.push(e.name.slice(0, 64));
        fileMeta.push(index, disk.index, e.isFile() ? 1 : 0);
      }
    }
    const ids = [...new Set([...namedIds, ...fileIds])].sort();
    const at = new Map<string, number>();
    ids.forEach((id, i) => at.set(id, i));
    const n = ids.length;
    const schemes: string[] = [];
    const scheme = new Uint8Array(n).fill(NO_SCHEME);
    const lengths = new Uint32Array(n);
    const objects = new Uint32Array(n * MAX_OBJECTS).fill(NO_OBJECT);
    namedIds.forEach((id, r) => {
      const i = at.get(id)!;
      if (scheme[i] === NO_SCHEME) {
        // The first record of an extent says its scheme and length, as readBucket has it.
        let si = schemes.indexOf(namedSchemes[r]);
        if (si < 0) si = schemes.push(namedSchemes[r]) - 1;
        if (si >= NO_SCHEME) throw new Error(`more than ${NO_SCHEME} schemes under one prefix`);
        scheme[i] = si;
        lengths[i] = namedLengths[r];
      }
      for (let k = 0; k < MAX_OBJECTS; k++) {
        const o = objects[i * MAX_OBJECTS + k];
        if (o === namedObjects[r]) break;
        if (o === NO_OBJECT) {
          objects[i * MAX_OBJECTS + k] = namedObjects[r];
          break;
        }
      }
    });
    // Files grouped by extent, each extent's in listing order: a counting sort.
    const fileStarts = new Uint32Array(n + 1);
    const owner = new Uint32Array(fileIds.length);
    fileIds.forEach((id, f) => fileStarts[(owner[f] = at.get(id)!) + 1]++);
    for (let i = 0; i < n; i++) fileStarts[i + 1] += fileStarts[i];
    const next = fileStarts.slice(0, n);
    const files = new Uint16Array(fileIds.length * 3);
    for (let f = 0; f < fileIds.length; f++) {
      const to = 3 * next[owner[f]]++;
      files[to] = fileMeta[3 * f];
      files[to + 1] = fileMeta[3 * f + 1];
      files[to + 2] = fileMeta[3 * f + 2];
    }
    return new PrefixListing(prefix, ids, scheme, schemes, lengths, objects, fileStarts, files, dirs);
  }
}

/**
 * A prefix's extents as the index names them (readBucket), as records for
 * PrefixListing.list. Fed the bucket's records one by one instead, a thread
 * peaked higher on a 2M-extent manifest (repair 243-247 MiB against 218-220,
 * manifest-stream test): the map is the smaller transient there.
 */
export const namedRecords = (named: Map<string, IndexedExtent>) => (fn: NamedRecord) => {
  for (const e of named.values()) for (const o of e.objects) fn(e.id, e.scheme, e.length, o);
};

const NO_SCHEME = 255;
const NO_OBJECT = 0xffffffff;
/** As many object ordinals per extent as the extent index keeps. */
const MAX_OBJECTS = 3;

/**
 * The plans for one fan-out prefix: every extent the index names there and
 * every shard-like file the disks hold there, sorted by id. Reads directory
 * entries only, so a FIFO or device is never opened here.
 */
export function listPrefix(disks: readonly ListedDisk[], named: Map<string, IndexedExtent>, prefix: string, strays: StrayFile[]): ExtentPlan[] {
  const listing = PrefixListing.list(disks, namedRecords(named), prefix, strays);
  return Array.from({ length: listing.count }, (_, i) => listing.plan(i));
}

/** The plans of every fan-out prefix from `from` on, in id order, one prefix listed at a time. */
export function* listPrefixes(pool: Pool, index: ExtentIndex, strays: StrayFile[], from = ''): Generator<ExtentPlan[]> {
  const disks = listedDisks(pool);
  for (const prefix of PREFIXES) if (prefix >= from) yield listPrefix(disks, readBucket(index, prefix), prefix, strays);
}

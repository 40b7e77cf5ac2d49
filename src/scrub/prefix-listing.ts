import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../core/errors';
import { extentsDir, PREFIXES } from '../core/layout';
import { TEMP_FILE_RE } from '../core/atomic-file';
import { Pool } from '../core/pool';
import { isRealDirectory } from '../core/safe-fs';
import { eachIndexRecord, ExtentIndex, MAX_NAMES } from './extent-index';
import { IdTable } from './id-table';
import { ExtentPlan, ListedDisk, listedDisks, shardIndex, ShardLocation, StrayFile } from './inventory';

// A pass walks the pool one fan-out directory (extents/XX) at a time, in id
// order, beside the matching bucket of the extent index: memory holds 1/256
// of the pool's extents and shard files at a time, whatever the pool's size.

const NO_OBJECT = 0xffffffff;
/** As many object ordinals per extent as the extent index keeps. */
const MAX_OBJECTS = MAX_NAMES;

/**
 * One fan-out prefix as a verify thread keeps it between the slices it
 * checks: every extent the index names there and every shard-like file the
 * disks hold there, sorted by id, in flat arrays outside the V8 heap (~80
 * bytes an extent) that the next prefix's listing reuses; an id is a string
 * only while its plan is made. As ExtentPlan objects with a path per file it
 * took ~840 bytes an extent, and a thread's heap grew with the pool (3,900
 * extents a prefix at a million); as strings, a Set and a Map made per
 * prefix, a million-extent pass promoted 240 MB per thread (39 full
 * collections each, heaps from 8 to 17 MB); in arrays made per prefix, each
 * thread left ~64 MB outside its heap before a collection freed them.
 * plan(i) builds one extent's plan as it is checked, young garbage.
 */
export class PrefixListing {
  private constructor(
    readonly prefix: string,
    readonly count: number,
    private readonly memory: ListingMemory,
    /** The extent index's schemes: a record's scheme is its index there. */
    private readonly schemes: readonly string[],
    /** Each disk's prefix directory, by disk index. */
    private readonly dirs: Map<number, string>,
  ) {}

  /** Extent i's id. */
  id(i: number): string {
    return this.memory.table.hex(this.memory.order[i]);
  }

  /** The first extent with an id at or after `id`. */
  firstAtOrAfter(id: string): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.id(mid) < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Extent i as a plan, files with their paths. */
  plan(i: number): ExtentPlan {
    const m = this.memory;
    const id = this.id(i);
    const files: ShardLocation[] = [];
    for (let f = m.fileStarts[i]; f < m.fileStarts[i + 1]; f++) {
      const [index, disk, regular] = [m.files[3 * f], m.files[3 * f + 1], m.files[3 * f + 2]];
      const path = `${this.dirs.get(disk)}/${id}.${index}`;
      files.push(regular ? { index, disk, path, regular: true } : { index, disk, path });
    }
    const u = m.order[i];
    if (u >= m.named) return { id, files };
    const objects: number[] = [];
    for (let k = u * MAX_OBJECTS; k < (u + 1) * MAX_OBJECTS; k++) if (m.objects[k] !== NO_OBJECT) objects.push(m.objects[k]);
    return { id, scheme: this.schemes[m.scheme[u]], length: m.lengths[u], objects, files };
  }

  /**
   * Reads directory entries only, so a FIFO or device is never opened here.
   * `spent`, a listing its holder is done with, lends its memory: it must not
   * be read again.
   */
  static list(disks: readonly ListedDisk[], extentIndex: Pick<ExtentIndex, 'dir' | 'schemes' | 'packed'>, prefix: string, strays: StrayFile[], spent?: PrefixListing): PrefixListing {
    const m = spent?.memory ?? new ListingMemory();
    m.clear();
    const table = m.table;
    // What the index names, numbered as first named: the first record of an extent says its scheme and length.
    eachIndexRecord(extentIndex, prefix, (data, at, scheme, length, object) => {
      const u = table.add(data, at);
      if (u === m.named) {
        m.room(u + 1);
        m.scheme[u] = scheme;
        m.lengths[u] = length;
        m.objects.fill(NO_OBJECT, u * MAX_OBJECTS, (u + 1) * MAX_OBJECTS);
        m.named++;
      }
      for (let k = u * MAX_OBJECTS; k < (u + 1) * MAX_OBJECTS; k++) {
        if (m.objects[k] === object) break;
        if (m.objects[k] === NO_OBJECT) {
          m.objects[k] = object;
          break;
        }
      }
    });
    // Every shard-like file, by disk, then as listed: its extent's number and (index, disk, regular).
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
        m.listFile(table.addHex(e.name), index, disk.index, e.isFile());
      }
    }
    m.sort();
    return new PrefixListing(prefix, m.order.length, m, extentIndex.schemes, dirs);
  }
}

/**
 * A listing's arrays, grown as needed and never shrunk: what one prefix
 * needed, the next one likely needs too. Extents are held by their number in
 * the IdTable (first seen first); `order` gives them in id order.
 */
class ListingMemory {
  readonly table = new IdTable();
  /** Extents named by the index: numbers 0 up to this. By number: */
  named = 0;
  scheme = new Uint8Array(0);
  lengths = new Uint32Array(0);
  objects = new Uint32Array(0);
  /** Files as listed: each one's extent number, and its (index, disk, regular). */
  listed = 0;
  owner = new Uint32Array(0);
  listedMeta = new Uint16Array(0);
  /** After sort(): extent numbers in id order; the i-th extent's files at fileStarts[i] up to fileStarts[i + 1] of `files`. */
  order: Uint32Array = new Uint32Array(0);
  fileStarts = new Uint32Array(0);
  files = new Uint16Array(0);
  /** Where each extent number is in id order. */
  private rank = new Uint32Array(0);

  clear(): void {
    this.table.clear();
    this.named = 0;
    this.listed = 0;
  }

  /** Room for `n` named extents. */
  room(n: number): void {
    if (n <= this.scheme.length) return;
    const to = Math.max(1024, this.scheme.length * 2);
    this.scheme = grown(this.scheme, to);
    this.lengths = grown(this.lengths, to);
    this.objects = grown(this.objects, to * MAX_OBJECTS);
  }

  listFile(owner: number, index: number, disk: number, regular: boolean): void {
    const f = this.listed++;
    if (f === this.owner.length) {
      this.owner = grown(this.owner, Math.max(4096, f * 2));
      this.listedMeta = grown(this.listedMeta, this.owner.length * 3);
    }
    this.owner[f] = owner;
    this.listedMeta[3 * f] = index;
    this.listedMeta[3 * f + 1] = disk;
    this.listedMeta[3 * f + 2] = regular ? 1 : 0;
  }

  /** Extents in id order, each one's files together in listing order (a counting sort). */
  sort(): void {
    this.order = this.table.sorted();
    const n = this.order.length;
    if (this.rank.length < n) this.rank = new Uint32Array(Math.max(1024, n * 2));
    if (this.fileStarts.length < n + 1) this.fileStarts = new Uint32Array(this.rank.length + 1);
    if (this.files.length < this.listedMeta.length) this.files = new Uint16Array(this.listedMeta.length);
    const { rank, fileStarts: starts } = this;
    for (let i = 0; i < n; i++) rank[this.order[i]] = i;
    starts.fill(0, 0, n + 1);
    for (let f = 0; f < this.listed; f++) starts[rank[this.owner[f]] + 1]++;
    for (let i = 0; i < n; i++) starts[i + 1] += starts[i];
    // Each file to its extent's next place; the places counted back afterwards.
    const { files, listedMeta: meta } = this;
    for (let f = 0; f < this.listed; f++) {
      const to = 3 * starts[rank[this.owner[f]]]++;
      files[to] = meta[3 * f];
      files[to + 1] = meta[3 * f + 1];
      files[to + 2] = meta[3 * f + 2];
    }
    for (let i = n; i > 0; i--) starts[i] = starts[i - 1];
    starts[0] = 0;
  }
}

/** A copy of `from` with room for `length`. */
function grown<T extends Uint8Array | Uint16Array | Uint32Array>(from: T, length: number): T {
  const to = new (from.constructor as new (n: number) => T)(length);
  to.set(from);
  return to;
}

/**
 * The plans of every fan-out prefix from `from` on, in id order, one prefix
 * listed at a time, each on the memory of the one before: every extent the
 * index names there and every shard-like file the disks hold there.
 */
export function* listPrefixes(pool: Pool, index: ExtentIndex, strays: StrayFile[], from = ''): Generator<ExtentPlan[]> {
  const disks = listedDisks(pool);
  let listing: PrefixListing | undefined;
  for (const prefix of PREFIXES) {
    if (prefix < from) continue;
    const now = (listing = PrefixListing.list(disks, index, prefix, strays, listing));
    yield Array.from({ length: now.count }, (_, i) => now.plan(i));
  }
}

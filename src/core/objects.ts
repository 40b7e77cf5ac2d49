import fs from 'node:fs';
import path from 'node:path';
import { DfsError, errnoCode, fsFailure, operationalError, problemsLeftError, usageError } from './errors';
import { extentId as computeExtentId } from './hash';
import { shardPath } from './layout';
import { bestCopy, eachObject, eachObjectSummary, ExtentList, loadManifest, Manifest, readManifestCopies, writeManifest } from './manifest';
import { Disk, onlineDisks, Pool, writableDisks } from './pool';
import { formatScheme, minShards, parseScheme, Scheme, shardCount } from './scheme';
import { assembleExtent, encodeExtent, rebuildShards } from './erasure';
import { checkShardFile, shardHeaderFor, writeShardFile } from './shard-file';
import { rankDisks } from './placement';
import { AtomicWriter, fsyncDir } from './atomic-file';
import { changeManifests, SummaryCounter, SummaryGrowth } from './pool-summary';
import { onlyJustWritten } from './new-extents';

export interface PutResult {
  name: string;
  size: number;
  scheme: string;
  extents: number;
  extentsStored: number;
  extentsDeduplicated: number;
}

export const OBJECT_NAME_MAX = 1024;
/** Past this many extents found stored already (a dedup put), the summary is left to a full count. */
const MAX_FOUND_FOR_GROWTH = 65536;

export function validateObjectName(name: string): void {
  if (!name || name.length > OBJECT_NAME_MAX || /[\0\n]/.test(name)) {
    throw usageError(`bad object name ${JSON.stringify(name)}: 1 to ${OBJECT_NAME_MAX} characters, no NUL or newline`);
  }
}

/**
 * Stores one extent's shards on distinct disks; `stored` is false when it was
 * already stored, `absent` true when none of its shards was on its ranked disks.
 */
export async function storeExtent(pool: Pool, scheme: Scheme, data: Buffer, id = computeExtentId(scheme, data)): Promise<{ id: string; stored: boolean; absent: boolean }> {
  const targets = rankDisks(id, writableDisks(pool)).slice(0, shardCount(scheme));
  if (targets.length < shardCount(scheme)) {
    throw operationalError(`${formatScheme(scheme)} needs ${shardCount(scheme)} writable disks, ${targets.length} are online`);
  }
  const payloads = await encodeExtent(scheme, data);
  let stored = false;
  let absent = true;
  payloads.forEach((payload, i) => {
    const file = shardPath(targets[i].path, id, i);
    // The same bytes under the same scheme are stored once; a damaged copy is rewritten.
    const check = checkShardFile(file, id, i);
    if (check.ok || check.problem !== 'missing') absent = false;
    if (check.ok) return;
    writeShardFile(file, shardHeaderFor(id, i, scheme, data.length, payload), payload);
    stored = true;
  });
  return { id, stored, absent };
}

/**
 * Whether the put's object adds exactly its extents but those `found` stored
 * already to the pool's distinct extents: every found one repeats an earlier
 * one of the object, and no disk holds a shard of the others but those the
 * put wrote. Any doubt, or failure to look, is a no: status then counts.
 */
function grewBy(pool: Pool, scheme: Scheme, list: ExtentList, found: number[], poolExtents: number): boolean {
  try {
    return repeatsWithin(list, found) && onlyJustWritten(pool, scheme, list, new Set(found), poolExtents);
  } catch {
    return false;
  }
}

/**
 * Whether extent `i` of a list occurs earlier in it, for the few extents a
 * put found stored already: a repeat within the object is no extent new to
 * the pool, and no sign that another manifest names it either.
 */
function repeatsWithin(list: ExtentList, indices: number[]): boolean {
  const first = new Map<string, number>(indices.map((i) => [list.key(i), i]));
  for (let i = 0; i < list.count; i++) {
    const key = list.key(i);
    if (first.get(key)! > i) first.set(key, i);
  }
  return indices.every((i) => first.get(list.key(i))! < i);
}

/** Reads a file into the pool as a new object; the manifest is written last, so a failed put leaves no object. */
export async function putObject(pool: Pool, file: string, name: string, schemeText?: string, replace = false): Promise<PutResult> {
  validateObjectName(name);
  const scheme = schemeText !== undefined ? parseScheme(schemeText) : pool.scheme;
  if (shardCount(scheme) > pool.disks.length) {
    throw usageError(`--redundancy ${formatScheme(scheme)} needs ${shardCount(scheme)} disks, the pool has ${pool.disks.length}`);
  }
  if (!replace && bestCopy(readManifestCopies(pool, name))) {
    throw operationalError(`object ${name} already exists (dfs-pool rm it first, or put --replace)`);
  }
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd);
      throw operationalError(`cannot read ${file}: not a regular file`);
    }
  } catch (err) {
    if (err instanceof DfsError) throw err;
    throw fsFailure('cannot read', file, err);
  }
  const extentSize = pool.config.extentSize;
  const manifest: Manifest = {
    format: 1,
    name,
    size: 0,
    scheme: formatScheme(scheme),
    extentSize,
    created: new Date().toISOString(),
    extents: new ExtentList(),
  };
  let stored = 0;
  let deduped = 0;
  // Extents found stored already: each must repeat one earlier in this object for the summary to grow.
  const found: number[] = [];
  let growth = SummaryGrowth.begin(pool, name);
  try {
    const buf = Buffer.allocUnsafe(extentSize + 64).subarray(64);
    for (;;) {
      let got = 0;
      while (got < extentSize) {
        const n = fs.readSync(fd, buf, got, extentSize - got, null);
        if (n === 0) break;
        got += n;
      }
      if (got === 0) break;
      const data = buf.subarray(0, got);
      const r = await storeExtent(pool, scheme, data);
      if (r.stored) stored++;
      else deduped++;
      if (growth && !r.absent) {
        found.push(manifest.extents.count);
        if (found.length > MAX_FOUND_FOR_GROWTH) growth = undefined;
      }
      manifest.extents.push(r.id, got);
      manifest.size += got;
      if (got < extentSize) break;
    }
  } catch (err) {
    if (err instanceof DfsError) throw err;
    throw fsFailure('cannot read', file, err);
  } finally {
    fs.closeSync(fd);
  }
  const write = () => writeManifest(pool, manifest);
  if (growth) {
    const added = grewBy(pool, scheme, manifest.extents, found, growth.extents) ? manifest.extents.count - found.length : undefined;
    growth.adding(write, manifest.scheme, manifest.size, added);
  } else changeManifests(pool, 'put', write);
  return { name, size: manifest.size, scheme: manifest.scheme, extents: manifest.extents.count, extentsStored: stored, extentsDeduplicated: deduped };
}

export interface ShardFinding {
  extent: string;
  shard: number;
  disk?: string;
  path: string;
  problem: string;
  detail: string;
}

/** Where shard `index` of an extent may live: its ranked disk first, then every other online disk. */
export function shardCandidates(pool: Pool, extentId: string, index: number): { disk: Disk; path: string }[] {
  const ranked = rankDisks(extentId, onlineDisks(pool));
  const first = ranked[index];
  const order = first ? [first, ...ranked.filter((d) => d !== first)] : ranked;
  return order.map((disk) => ({ disk, path: shardPath(disk.path, extentId, index) }));
}

/**
 * Reads one extent from any sufficient set of valid shards and proves it
 * against its id. Bad shards are reported through `findings`; nothing is written.
 */
export async function readExtent(pool: Pool, scheme: Scheme, id: string, length: number, findings: ShardFinding[]): Promise<Buffer> {
  const n = shardCount(scheme);
  const need = minShards(scheme);
  const payloads: (Buffer | undefined)[] = new Array(n).fill(undefined);
  let valid = 0;
  // Data shards first: with all of them valid no decoding is needed.
  for (let i = 0; i < n && valid < (scheme.kind === 'mirror' ? 1 : n); i++) {
    if (scheme.kind === 'rs' && valid >= need && i >= scheme.k) break;
    let found = false;
    const before = findings.length;
    for (const c of shardCandidates(pool, id, i)) {
      const r = checkShardFile(c.path, id, i);
      if (r.ok) {
        if (r.header.extentLength !== length || formatScheme(r.header.scheme) !== formatScheme(scheme)) {
          findings.push({ extent: id, shard: i, disk: c.disk.id, path: c.path, problem: 'header-damaged', detail: 'header disagrees with manifest' });
          continue;
        }
        payloads[i] = r.payload;
        valid++;
        found = true;
        break;
      }
      if (r.problem !== 'missing') findings.push({ extent: id, shard: i, disk: c.disk.id, path: c.path, problem: r.problem, detail: r.detail });
    }
    if (!found && findings.length === before) findings.push({ extent: id, shard: i, path: shardPath('<any disk>', id, i), problem: 'missing', detail: 'no valid copy on any online disk' });
  }
  if (valid < need) {
    throw problemsLeftError(`extent ${id} is unrecoverable: ${valid} of ${n} shards valid, ${need} needed`);
  }
  const full =
    scheme.kind === 'mirror'
      ? [payloads.find((p) => p !== undefined)!]
      : payloads.slice(0, scheme.k).every((p) => p !== undefined)
        ? (payloads as Buffer[])
        : await rebuildShards(scheme, length, payloads);
  const data = assembleExtent(scheme, length, full);
  if (computeExtentId(scheme, data) !== id) {
    throw problemsLeftError(`extent ${id} is unrecoverable: rebuilt data does not match its id`);
  }
  return data;
}

/**
 * Writes an object to `out` (a file path, written to a temp name and renamed
 * only when complete) or to a stream. Never writes to the pool.
 */
export async function getObject(pool: Pool, name: string, out: string | NodeJS.WritableStream, findings: ShardFinding[]): Promise<Manifest> {
  const m = loadManifest(pool, name);
  const scheme = parseScheme(m.scheme);
  if (typeof out !== 'string') {
    for (const e of m.extents) {
      const data = await readExtent(pool, scheme, e.id, e.length, findings);
      if (!out.write(data)) await new Promise((r) => out.once('drain', r));
    }
    return m;
  }
  const finalPath = path.resolve(out);
  if (isStreamTarget(finalPath)) {
    // A FIFO or device at OUT is a stream to write into (like cp), not a file to replace.
    const stream = fs.createWriteStream(finalPath, { flags: 'a' });
    try {
      await getObject(pool, name, stream, findings);
    } finally {
      await new Promise<void>((resolve) => stream.end(resolve));
    }
    return m;
  }
  let w: AtomicWriter | undefined;
  try {
    w = new AtomicWriter(finalPath);
    for (const e of m.extents) w.write(await readExtent(pool, scheme, e.id, e.length, findings));
    w.commit();
  } catch (err) {
    w?.abort();
    if (err instanceof DfsError) throw err;
    throw fsFailure('cannot write', finalPath, err);
  }
  return m;
}

function isStreamTarget(file: string): boolean {
  try {
    const st = fs.statSync(file);
    return st.isFIFO() || st.isCharacterDevice() || st.isSocket();
  } catch {
    return false;
  }
}

export interface ObjectInfo {
  name: string;
  size: number;
  scheme: string;
  extents: number;
  created: string;
}

export function listObjects(pool: Pool): ObjectInfo[] {
  const out: ObjectInfo[] = [];
  eachObjectSummary(pool, ({ manifest: m }) => {
    if (m) out.push({ name: m.name, size: m.size, scheme: m.scheme, extents: m.extentCount, created: m.created });
  });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Removes an object: its manifest copies, then every extent no other manifest
 * references. Shards of a shared extent stay.
 */
export function removeObject(pool: Pool, name: string): { name: string; extentsRemoved: number; shardsRemoved: number } {
  // A manifest copy on an absent disk would bring the object back, broken, when the disk returns.
  const away = pool.disks.find((d) => d.state !== 'online' && d.state !== 'rebuilding');
  if (away) throw operationalError(`cannot remove ${name} while disk ${away.index} (${away.path}) is ${away.state}: its manifest copy would survive`);
  const m = loadManifest(pool, name);
  const stillUsed = new Set<string>();
  // This object's extents by key, each once, with where to find its full id.
  const own = new Map<string, number>();
  for (let i = 0; i < m.extents.count; i++) own.set(m.extents.key(i), i);
  // The walk reads every other manifest anyway: what it counts is the pool's summary once this object is gone.
  const counter = new SummaryCounter(pool);
  eachObject(pool, (o) => {
    if (o.manifest?.name === name) return;
    counter.add(o);
    if (!o.manifest) return;
    for (let i = 0; i < o.manifest.extents.count; i++) {
      const key = o.manifest.extents.key(i);
      if (own.has(key)) stillUsed.add(key);
    }
  });
  counter.removing(() => {
    for (const c of readManifestCopies(pool, name)) {
      if (c.problem === 'missing') continue;
      try {
        fs.rmSync(c.path, { force: true });
        fsyncDir(path.dirname(c.path));
      } catch (err) {
        throw fsFailure('cannot remove', c.path, err);
      }
    }
  });
  let extentsRemoved = 0;
  let shardsRemoved = 0;
  const scheme = parseScheme(m.scheme);
  for (const [key, i] of own) {
    if (stillUsed.has(key)) continue;
    const id = m.extents.id(i);
    extentsRemoved++;
    for (let i = 0; i < shardCount(scheme); i++) {
      for (const d of onlineDisks(pool)) {
        const file = shardPath(d.path, id, i);
        try {
          const st = fs.lstatSync(file);
          if (!st.isFile()) continue; // odd files are the scrubber's to report, not ours to delete
          fs.unlinkSync(file);
          shardsRemoved++;
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw fsFailure('cannot remove', file, err);
        }
      }
    }
  }
  return { name, extentsRemoved, shardsRemoved };
}

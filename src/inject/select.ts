import fs from 'node:fs';
import { errnoCode, fsFailure, operationalError, usageError } from '../core/errors';
import { EXTENT_ID_RE } from '../core/hash';
import { extentsDir, shardDir, shardPath, SHARD_NAME_RE } from '../core/layout';
import { eachObject, loadManifest } from '../core/manifest';
import { shardCandidates, validateObjectName } from '../core/objects';
import { Disk, onlineDisks, Pool } from '../core/pool';
import { formatScheme, parseScheme, Scheme, shardCount } from '../core/scheme';
import { decodeShardHeader, HEADER_SIZE } from '../core/shard-header';

/** Which shards a fault hits, as the user named them. */
export interface ShardSelection {
  object?: string;
  /** 64 hex digits. */
  extent?: string;
  /** Which of the object's extents (default 0). */
  extentIndex?: number;
  allExtents?: boolean;
  /** Shard indices; default [0], or with `disk` the one shard on that disk. */
  shards?: number[];
  /** A disk index or id. */
  disk?: string;
}

export interface ExtentRef {
  id: string;
  /** Unknown only for an orphan extent whose every shard header is damaged. */
  scheme?: Scheme;
  object?: string;
  extentIndex?: number;
}

export interface ShardTarget {
  extent: ExtentRef;
  shard: number;
  disk: Disk;
  path: string;
  size: number;
}

// The shard file name allows at most three digits.
const MAX_SHARD_INDEX = 999;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const diskName = (d: Disk) => `disk ${d.index} (${d.path})`;

/** A disk by index or id: a malformed or out-of-range value is a usage error, an unknown id is not in this pool. */
export function resolveDisk(pool: Pool, spec: string): Disk {
  const byId = pool.disks.find((d) => d.id.toLowerCase() === spec.toLowerCase());
  if (byId) return byId;
  const range = `from 0 to ${pool.disks.length - 1}`;
  if (/^\d+$/.test(spec)) {
    const disk = pool.disks[Number(spec)];
    if (!disk) throw usageError(`--disk ${spec}: the pool's disk indices run ${range}`);
    return disk;
  }
  if (UUID_RE.test(spec)) throw operationalError(`--disk ${spec}: no disk with that id in pool ${pool.root}`);
  throw usageError(`--disk ${JSON.stringify(spec)}: expected a disk index ${range} or a disk id`);
}

export function requireReachable(disk: Disk): Disk {
  if (disk.state === 'online' || disk.state === 'read-only') return disk;
  throw operationalError(`${diskName(disk)} is ${disk.state}${disk.detail ? ` (${disk.detail})` : ''}: its files cannot be reached`);
}

export function parseExtentId(text: string): string {
  const id = text.toLowerCase();
  if (!EXTENT_ID_RE.test(id)) throw usageError(`--extent ${JSON.stringify(text)}: expected an extent id of 64 hex digits`);
  return id;
}

/** What a directory entry on a disk is, judged without following any symlink on the way. */
export type Entry = { kind: 'missing' } | { kind: 'file'; size: number } | { kind: 'odd'; detail: string };

function lstatEntry(file: string): Entry {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    throw fsFailure('cannot stat', file, err);
  }
  if (st.isFile()) return { kind: 'file', size: st.size };
  return { kind: 'odd', detail: st.isSymbolicLink() ? 'a symbolic link (not followed)' : st.isDirectory() ? 'a directory' : 'not a regular file' };
}

/**
 * A file's entry, with every directory between the disk and it checked too: a
 * symlinked `extents/XX` or `objects` would otherwise lead a fault out of the pool.
 */
export function entryBelow(dirs: string[], file: string): Entry {
  for (const dir of dirs) {
    const e = lstatEntry(dir);
    if (e.kind === 'missing') return e;
    if (e.kind === 'file' || e.detail !== 'a directory') return { kind: 'odd', detail: `${dir} is ${e.kind === 'file' ? 'a file' : e.detail}` };
  }
  const e = lstatEntry(file);
  return e.kind === 'odd' ? { kind: 'odd', detail: `${file} is ${e.detail}` } : e;
}

export const shardEntry = (disk: Disk, extentId: string, index: number): Entry =>
  entryBelow([extentsDir(disk.path), shardDir(disk.path, extentId)], shardPath(disk.path, extentId, index));

/** Indices of the shard files of an extent on one disk, from file names alone. */
export function shardIndicesOnDisk(disk: Disk, extentId: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(shardDir(disk.path, extentId));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw fsFailure('cannot list', shardDir(disk.path, extentId), err);
  }
  const out: number[] = [];
  for (const n of names) {
    const m = SHARD_NAME_RE.exec(n);
    if (m && m[1] === extentId) out.push(Number(m[2]));
  }
  return out.sort((a, b) => a - b);
}

function readHeaderScheme(file: string): Scheme | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return undefined;
    const head = Buffer.alloc(HEADER_SIZE);
    const got = fs.readSync(fd, head, 0, HEADER_SIZE, 0);
    const h = decodeShardHeader(head.subarray(0, got));
    return typeof h === 'string' ? undefined : h.scheme;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * An extent named by id: its scheme from a manifest that references it, else
 * from any shard header (an orphan is still a fair target). Not found when
 * neither a manifest nor any disk knows it.
 */
export function findExtent(pool: Pool, id: string): ExtentRef {
  let named: ExtentRef | undefined;
  eachObject(pool, (o) => {
    const i = named || !o.manifest ? -1 : o.manifest.extents.indexOf(id);
    if (i >= 0) named = { id, scheme: parseScheme(o.manifest!.scheme), object: o.manifest!.name, extentIndex: i };
  });
  if (named) return named;
  let seen = false;
  for (const d of onlineDisks(pool)) {
    for (const i of shardIndicesOnDisk(d, id)) {
      seen = true;
      const scheme = readHeaderScheme(shardPath(d.path, id, i));
      if (scheme) return { id, scheme };
    }
  }
  if (seen) return { id };
  throw operationalError(`no extent ${id} in pool ${pool.root}: no manifest names it and no online disk holds a shard of it`);
}

/** The extents a selection names, each once. */
export function selectExtents(pool: Pool, sel: ShardSelection): ExtentRef[] {
  if ((sel.object === undefined) === (sel.extent === undefined)) throw usageError('name the target with exactly one of --object NAME or --extent ID');
  if (sel.extent !== undefined) {
    if (sel.extentIndex !== undefined || sel.allExtents) throw usageError('--extent-index and --all-extents go with --object, not --extent');
    return [findExtent(pool, parseExtentId(sel.extent))];
  }
  const name = sel.object!;
  validateObjectName(name);
  if (sel.extentIndex !== undefined && sel.allExtents) throw usageError('--extent-index and --all-extents cannot be combined');
  const m = loadManifest(pool, name);
  const scheme = parseScheme(m.scheme);
  if (m.extents.count === 0) throw operationalError(`object ${JSON.stringify(name)} is empty: it has no extents`);
  if (sel.allExtents) {
    const seen = new Set<string>();
    const out: ExtentRef[] = [];
    for (let i = 0; i < m.extents.count; i++) {
      const id = m.extents.id(i);
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ id, scheme, object: name, extentIndex: i });
    }
    return out;
  }
  const index = sel.extentIndex ?? 0;
  if (index >= m.extents.count) {
    throw usageError(`--extent-index ${index}: the extents of object ${JSON.stringify(name)} run from 0 to ${m.extents.count - 1}`);
  }
  return [{ id: m.extents.id(index), scheme, object: name, extentIndex: index }];
}

function checkShardIndex(ext: ExtentRef, index: number): void {
  const limit = ext.scheme ? shardCount(ext.scheme) : MAX_SHARD_INDEX + 1;
  if (!Number.isInteger(index) || index < 0 || index >= limit) {
    const why = ext.scheme ? `the shards of ${formatScheme(ext.scheme)} extent ${ext.id} run from 0 to ${limit - 1}` : `shard indices run from 0 to ${MAX_SHARD_INDEX}`;
    throw usageError(`--shard ${index}: ${why}`);
  }
}

export const refuseOdd = (detail: string, what = 'shard files') => operationalError(`refusing: ${detail} (only regular ${what} are damaged)`);

/** Shard `index` wherever it lives: the first regular file in the order a read tries the disks. */
function locateShard(pool: Pool, ext: ExtentRef, index: number): ShardTarget {
  let odd: string | undefined;
  for (const c of shardCandidates(pool, ext.id, index)) {
    const e = shardEntry(c.disk, ext.id, index);
    if (e.kind === 'file') return { extent: ext, shard: index, disk: c.disk, path: c.path, size: e.size };
    if (e.kind === 'odd') odd ??= e.detail;
  }
  if (odd) throw refuseOdd(odd);
  throw operationalError(`shard ${index} of extent ${ext.id} is on no online disk (already deleted, or its disk detached?)`);
}

function shardOnDisk(ext: ExtentRef, index: number, disk: Disk): ShardTarget {
  const e = shardEntry(disk, ext.id, index);
  if (e.kind === 'odd') throw refuseOdd(e.detail);
  if (e.kind === 'missing') throw operationalError(`no shard ${index} of extent ${ext.id} on ${diskName(disk)}`);
  return { extent: ext, shard: index, disk, path: shardPath(disk.path, ext.id, index), size: e.size };
}

/** The shards of an extent that sit on one disk; several are possible after repairs with disks away. */
function shardsOnDisk(ext: ExtentRef, disk: Disk): ShardTarget[] {
  const indices = ext.scheme ? [...Array(shardCount(ext.scheme)).keys()] : shardIndicesOnDisk(disk, ext.id);
  const found: ShardTarget[] = [];
  let odd: string | undefined;
  for (const i of indices) {
    const e = shardEntry(disk, ext.id, i);
    if (e.kind === 'file') found.push({ extent: ext, shard: i, disk, path: shardPath(disk.path, ext.id, i), size: e.size });
    else if (e.kind === 'odd') odd ??= e.detail;
  }
  if (found.length === 0 && odd) throw refuseOdd(odd);
  return found;
}

/**
 * Every shard file a selection names, all found and checked before the caller
 * changes anything: a refusal must leave the pool as it was.
 */
export function selectShards(pool: Pool, sel: ShardSelection): ShardTarget[] {
  const extents = selectExtents(pool, sel);
  const disk = sel.disk === undefined ? undefined : requireReachable(resolveDisk(pool, sel.disk));
  const out: ShardTarget[] = [];
  for (const ext of extents) {
    if (sel.shards && sel.shards.length > 0) {
      for (const i of sel.shards) checkShardIndex(ext, i);
      for (const i of new Set(sel.shards)) out.push(disk ? shardOnDisk(ext, i, disk) : locateShard(pool, ext, i));
      continue;
    }
    if (!disk) {
      out.push(locateShard(pool, ext, 0));
      continue;
    }
    const here = shardsOnDisk(ext, disk);
    if (here.length > 1) {
      throw usageError(`${diskName(disk)} holds shards ${here.map((t) => t.shard).join(', ')} of extent ${ext.id}: choose one with --shard`);
    }
    // Placement spreads extents over all disks, so with --all-extents some
    // extents have nothing on the chosen disk: those are skipped, not errors.
    if (here.length === 0 && !sel.allExtents) throw operationalError(`${diskName(disk)} holds no shard of extent ${ext.id}`);
    out.push(...here);
  }
  if (out.length === 0) throw operationalError(`${diskName(disk!)} holds no shard of any extent of object ${JSON.stringify(sel.object)}`);
  return out;
}

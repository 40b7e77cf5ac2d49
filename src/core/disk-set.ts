import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from './random';
import { fsFailure, operationalError, usageError } from './errors';
import { diskLabelPath, extentsDir, objectsDir, stateDir } from './layout';
import { writeJsonAtomic } from './atomic-file';
import { Disk, DiskConfig, DiskLabel, openPool, Pool, POOL_FORMAT, savePoolConfig } from './pool';
import { dirToken } from './pool-dir-token';
import { eachObject, writeManifestCopy } from './manifest';
import { formatScheme, parseScheme, shardCount } from './scheme';

// Changing the pool's set of disks: a blank drive replaces a dead one (and is
// rebuilt by the next repair pass), a drive is added for new writes, a drive
// leaves. pool.json is written last, so a failure midway leaves the pool as
// it was; a label this call wrote on a blank drive is taken back.

/** A disk named on the command line: its index, its id, or its path (as found or as recorded). */
export function resolveDisk(pool: Pool, name: string): Disk {
  const byIndex = /^\d+$/.test(name) ? pool.disks[Number(name)] : undefined;
  const abs = path.resolve(name);
  const d =
    byIndex ??
    pool.disks.find((x) => x.id === name) ??
    pool.disks.find((x) => x.path === abs) ??
    pool.disks.find((x, i) => path.resolve(pool.root, pool.config.disks[i].path) === abs);
  if (!d) throw usageError(`${name}: not a disk of pool ${pool.root} (give its index, id or path; see dfs-pool status)`);
  return d;
}

/** Entries a freshly made filesystem has: they do not make a drive "not blank". */
const FRESH_FS_ENTRIES = new Set(['lost+found']);

/**
 * Checks that `dir` can become a disk of this pool: a real directory, no
 * label, not a path the pool already uses; and, unless forced, empty and on
 * another filesystem than the pool directory (a disk there proves nothing and
 * dies with the pool's own drive).
 */
export function checkNewDisk(pool: Pool, dir: string, force: boolean, replacing?: Disk): string {
  const abs = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch (err) {
    throw fsFailure('new disk', abs, err);
  }
  if (!st.isDirectory()) throw usageError(`${abs}: not a directory (give the mount point of a blank filesystem)`);
  if (fs.existsSync(diskLabelPath(abs))) {
    let owner = 'unreadable label';
    try {
      const l = JSON.parse(fs.readFileSync(diskLabelPath(abs), 'utf8')) as DiskLabel;
      owner = `disk ${l.disk} of pool ${l.pool}`;
    } catch {
      // said as unreadable
    }
    throw operationalError(`${abs} is already labelled (${owner}): a disk is never relabelled; wipe it by hand if it is free`);
  }
  // The dead disk's own mount point may take its replacement (the drive swapped in the same bay).
  const used = pool.disks.find((d) => d !== replacing && (d.path === abs || path.resolve(pool.root, pool.config.disks[d.index].path) === abs));
  if (used) throw usageError(`${abs} is already disk ${used.index} of this pool`);
  if (abs === pool.root || abs.startsWith(stateDir(pool.root) + path.sep)) throw usageError(`${abs}: cannot be the pool directory or inside its state`);
  if (!force) {
    const entries = fs.readdirSync(abs).filter((e) => !FRESH_FS_ENTRIES.has(e));
    if (entries.length > 0) {
      throw operationalError(`${abs} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): give a blank filesystem, or --force`);
    }
    if (fs.statSync(pool.root).dev === st.dev) {
      throw operationalError(`${abs} is on the same filesystem as the pool directory ${pool.root}: give the mount point of its own drive, or --force`);
    }
  }
  return abs;
}

/** Labels a blank directory as a disk of this pool; returns an undo for a later failure. */
function labelDisk(pool: Pool, abs: string, id: string): () => void {
  const made: string[] = [];
  try {
    for (const d of [extentsDir(abs), objectsDir(abs)]) {
      if (!fs.existsSync(d)) {
        fs.mkdirSync(d);
        made.push(d);
      }
    }
    const label: DiskLabel = { format: POOL_FORMAT, pool: pool.config.id, disk: id, place: fs.realpathSync(pool.root), placeToken: dirToken(pool.root) };
    writeJsonAtomic(diskLabelPath(abs), label);
    made.push(diskLabelPath(abs));
  } catch (err) {
    for (const p of made.reverse()) fs.rmSync(p, { recursive: true, force: true });
    throw fsFailure('cannot label', abs, err);
  }
  return () => {
    for (const p of made.reverse()) fs.rmSync(p, { recursive: true, force: true });
  };
}

/** A disk's path as pool.json keeps it: relative when under the pool directory, as create does. */
function recordedPath(pool: Pool, abs: string): string {
  const rel = path.relative(pool.root, abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/** Writes every object's manifest onto a new disk, so its metadata is there before any shard. */
function seedManifests(pool: Pool, disk: Disk): number {
  let n = 0;
  eachObject(pool, (o) => {
    if (!o.manifest) return;
    writeManifestCopy(disk, o.manifest);
    n++;
  });
  return n;
}

function withNewDisk(pool: Pool, abs: string, config: DiskConfig, change: (disks: DiskConfig[]) => DiskConfig[]): { pool: Pool; manifests: number } {
  const undo = labelDisk(pool, abs, config.id);
  let manifests = 0;
  try {
    manifests = seedManifests(pool, { id: config.id, index: pool.disks.length, path: abs, state: 'online' });
    savePoolConfig(pool.root, { ...pool.config, disks: change(pool.config.disks) });
  } catch (err) {
    undo();
    throw err;
  }
  return { pool: openPool(pool.root), manifests };
}

export interface DiskChange {
  disk: { index: number; id: string; path: string; state: string };
  replaced?: { index: number; id: string; path: string; state: string };
  manifests: number;
}

const view = (d: Disk) => ({ index: d.index, id: d.id, path: d.path, state: d.state });

/**
 * Puts a blank drive in the place of a dead one. The new disk gets its own id
 * (the old drive, should it come back, is then recognised as no longer this
 * pool's) and is `rebuilding` until a repair pass has rebuilt every shard and
 * manifest copy that belongs there.
 */
export function replaceDisk(pool: Pool, oldName: string, newDir: string, force: boolean): DiskChange {
  const old = resolveDisk(pool, oldName);
  if ((old.state === 'online' || old.state === 'read-only') && !force) {
    throw operationalError(`disk ${old.index} (${old.path}) is ${old.state}: replacing it would drop its shards; use remove-disk to move them off first, or --force`);
  }
  const abs = checkNewDisk(pool, newDir, force, old);
  const config: DiskConfig = { id: randomUUID(), path: recordedPath(pool, abs), rebuilding: { since: new Date().toISOString(), replaces: old.id } };
  const r = withNewDisk(pool, abs, config, (disks) => disks.map((d, i) => (i === old.index ? config : d)));
  return { disk: view(r.pool.disks[old.index]), replaced: view(old), manifests: r.manifests };
}

/** Adds a blank drive for new writes (existing shards stay where they are). */
export function addDisk(pool: Pool, newDir: string, force: boolean): DiskChange {
  const abs = checkNewDisk(pool, newDir, force);
  const config: DiskConfig = { id: randomUUID(), path: recordedPath(pool, abs) };
  const r = withNewDisk(pool, abs, config, (disks) => [...disks, config]);
  return { disk: view(r.pool.disks[r.pool.disks.length - 1]), manifests: r.manifests };
}

/** The schemes in use that would not fit on the disks left after removing one. */
export function schemesTooWide(pool: Pool, remaining: number): string[] {
  const schemes = new Set<string>([pool.config.redundancy]);
  eachObject(pool, (o) => {
    if (o.manifest) schemes.add(o.manifest.scheme);
  });
  return [...schemes].filter((s) => shardCount(parseScheme(s)) > remaining).map((s) => `${formatScheme(parseScheme(s))} needs ${shardCount(parseScheme(s))} disks`);
}

/** Takes a disk out of pool.json (its drive is not touched). */
export function dropDisk(pool: Pool, disk: Disk): void {
  savePoolConfig(pool.root, { ...pool.config, disks: pool.config.disks.filter((_, i) => i !== disk.index) });
}

/** Marks a rebuilding disk as complete (the resilver has rebuilt everything that belongs there). */
export function markRebuilt(root: string, diskId: string): boolean {
  const pool = openPool(root);
  const i = pool.config.disks.findIndex((d) => d.id === diskId);
  if (i < 0 || !pool.config.disks[i].rebuilding) return false;
  const disks = pool.config.disks.map((d, j) => (j === i ? { id: d.id, path: d.path } : d));
  savePoolConfig(root, { ...pool.config, disks });
  return true;
}

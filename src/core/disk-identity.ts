import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from './errors';
import { diskLabelPath, extentsDir, objectsDir } from './layout';
import { filesystemReadOnly } from './mounts';
import { isRealDirectory, readFailure, readRegularFile } from './safe-fs';
import { Claim, poolNamesDir } from './disk-claims';
import type { Disk, DiskConfig, DiskLabel } from './pool';

// A disk is known by the id in its label, not by where it is mounted: drives
// come back under other mount points after a reboot. Every path the pool has
// recorded is read once, and each disk id is matched to the path whose label
// names it. Nothing here writes: a disk whose identity is in doubt (no label,
// another pool's label, or one id claimed by two paths) is never used.

type LabelRead = { label: DiskLabel } | { state: 'missing' | 'unreadable'; detail: string };

function readLabel(abs: string): LabelRead {
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    return { state: 'missing', detail: `${abs}: ${errnoCode(err) ?? 'cannot stat'}` };
  }
  if (!st.isDirectory()) return { state: 'missing', detail: `${abs}: not a directory` };
  const file = diskLabelPath(abs);
  let raw: unknown;
  try {
    raw = JSON.parse(readRegularFile(file, 64 * 1024).toString('utf8'));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return { state: 'missing', detail: `${file}: no disk label (not mounted?)` };
    if (code) return { state: 'unreadable', detail: `${file}: ${readFailure(err)}` };
    return { state: 'unreadable', detail: `${file}: corrupt label` };
  }
  const l = raw as Partial<DiskLabel> | null;
  if (typeof l !== 'object' || l === null || typeof l.pool !== 'string' || typeof l.disk !== 'string' || (l.place !== undefined && typeof l.place !== 'string')) {
    return { state: 'unreadable', detail: `${file}: corrupt label` };
  }
  return { label: l as DiskLabel };
}

/** The state of a disk found at `abs` with its label read: symlinked trees and read-only filesystems. */
function usableState(disk: Disk): Disk {
  for (const sub of [extentsDir(disk.path), objectsDir(disk.path)]) {
    // A symlinked extents/ or objects/ would lead reads and repairs out of the disk.
    if (fs.existsSync(sub) && !isRealDirectory(sub)) return { ...disk, state: 'unreadable', detail: `${sub}: not a real directory (symlink?)` };
  }
  try {
    fs.accessSync(disk.path, fs.constants.W_OK);
  } catch (err) {
    // EACCES, or EROFS inside a sandbox's read-only view, says what this
    // process may do, not what the disk is: only a read-only filesystem is.
    if (errnoCode(err) === 'EROFS' && filesystemReadOnly(disk.path) !== false) {
      return { ...disk, state: 'read-only', detail: `${disk.path}: filesystem mounted read-only` };
    }
  }
  return disk;
}

function ownerOf(abs: string): number | undefined {
  try {
    return fs.statSync(abs).uid;
  } catch {
    return undefined;
  }
}

/** A label to write again with this pool's place: the pool directory was moved. */
export interface Relabel {
  index: number;
  path: string;
  label: DiskLabel;
  /** The place the label had (the pool was moved from there). */
  from: string;
}

/** True when a label's place is this pool directory, by its real path or (a bind mount) by device and inode. */
function samePlace(place: string, rootReal: string): boolean {
  if (place === rootReal) return true;
  try {
    const a = fs.statSync(place);
    const b = fs.statSync(rootReal);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

function insidePool(disk: string, rootReal: string): boolean {
  try {
    return fs.realpathSync(disk).startsWith(rootReal + path.sep);
  } catch {
    return false;
  }
}

export interface DiskMove {
  id: string;
  index: number;
  from: string;
  to: string;
  /** The recorded path string (relative for disks under the pool directory) of where it is now. */
  toRecorded: string;
}

export interface FoundDisks {
  disks: Disk[];
  moves: DiskMove[];
  relabels: Relabel[];
  /** Disks this pool names that are another pool's: that pool is to be told (disk-claims.ts). */
  claims: Claim[];
}

/** The pool directory opening its disks: its real path, its owner, its token (pool-dir-token.ts). */
export interface PoolPlace {
  real: string;
  owner: number;
  token?: string;
}

/**
 * Finds each of the pool's disks by its label among the paths the pool has
 * recorded. A disk is adopted where its label, its owner and its place agree
 * with this pool: the label names this pool and one of its disks, the disk
 * directory has the pool directory's owner, and, for a disk outside the pool
 * directory, the pool directory that labelled it is this one, or is this one
 * moved (the place no longer names the disk, and this directory carries the
 * token the label records). A label from before places is adopted as it is. A disk found at another of
 * the recorded paths is used there (`moves` says where); a label that names
 * this pool's disk from two paths (a cloned drive) makes both paths unusable.
 */
export function findDisks(poolId: string, configs: DiskConfig[], root: string, here: PoolPlace): FoundDisks {
  const places = configs.map((c) => {
    const abs = path.resolve(root, c.path);
    return { abs, recorded: c.path, read: readLabel(abs) };
  });
  const known = new Set(configs.map((c) => c.id));
  const holders = new Map<string, number[]>();
  places.forEach((p, i) => {
    if ('label' in p.read && p.read.label.pool === poolId && known.has(p.read.label.disk)) {
      const list = holders.get(p.read.label.disk) ?? [];
      // Two configs naming one path are one place, not a clone.
      if (!list.some((j) => places[j].abs === p.abs)) list.push(i);
      holders.set(p.read.label.disk, list);
    }
  });
  const moves: DiskMove[] = [];
  const relabels: Relabel[] = [];
  const claims: Claim[] = [];
  const disks = configs.map((cfg, index): Disk => {
    const own = places[index];
    const base = (state: Disk['state'], detail?: string, at = own.abs): Disk => ({ id: cfg.id, index, path: at, state, detail });
    const at = holders.get(cfg.id) ?? [];
    if (at.length > 1) {
      const where = at.map((j) => places[j].abs).join(' and ');
      return base('foreign', `disk ${cfg.id} is claimed by the labels at ${where} (a cloned drive?): neither is used until one is removed`);
    }
    if (at.length === 1) {
      const found = places[at[0]];
      if (found.abs !== own.abs) moves.push({ id: cfg.id, index, from: own.abs, to: found.abs, toRecorded: found.recorded });
      const disk = base(cfg.rebuilding ? 'rebuilding' : 'online', undefined, found.abs);
      // A disk of another owner is not the pool owner's to write, nor this pool's to claim
      // (a pool.json listing someone else's disks and their labels' ids).
      const uid = ownerOf(found.abs);
      if (uid !== here.owner) {
        claims.push({ disk: cfg.id });
        return base('foreign', `${found.abs} belongs to uid ${uid}, the pool directory to uid ${here.owner}: not adopted`, found.abs);
      }
      const label = (found.read as { label: DiskLabel }).label;
      const usable = usableState(disk);
      // A disk inside the pool directory moves and is copied with it: its place is never in doubt.
      if (label.place === undefined || samePlace(label.place, here.real) || insidePool(found.abs, here.real)) return usable;
      let st: fs.Stats;
      try {
        st = fs.statSync(found.abs);
      } catch (err) {
        return base('missing', `${found.abs}: ${errnoCode(err) ?? 'cannot stat'}`, found.abs);
      }
      const file = diskLabelPath(found.abs);
      if (poolNamesDir(label.place, poolId, st)) {
        claims.push({ disk: cfg.id });
        return base('foreign', `${file}: labelled by the pool at ${label.place}, which names this disk too: not adopted (two pools claim it)`, found.abs);
      }
      if (!here.token || label.placeToken !== here.token) {
        return base('foreign', `${file}: labelled by the pool at ${label.place}, and ${root} is not that pool directory moved (its .dynamicfs/dir-token differs): not adopted`, found.abs);
      }
      if (usable.state === 'online' || usable.state === 'rebuilding') relabels.push({ index, path: found.abs, label, from: label.place });
      return usable;
    }
    if (!('label' in own.read)) return base(own.read.state, own.read.detail);
    const label = own.read.label;
    const file = diskLabelPath(own.abs);
    const where = label.place ? ` at ${label.place}` : '';
    if (label.pool !== poolId) {
      claims.push({ disk: label.disk });
      return base('foreign', `${file}: label of pool ${label.pool}${where}, disk ${label.disk}`);
    }
    if (!known.has(label.disk)) {
      claims.push({ disk: label.disk });
      return base('foreign', `${file}: label of disk ${label.disk}${where}, not a disk of this pool`);
    }
    // Our path holds another of this pool's disks (used there); ours is elsewhere or gone.
    return base('missing', `${own.abs} now holds disk ${label.disk}; disk ${cfg.id} was not found at any of the pool's paths`);
  });
  return { disks, moves, relabels, claims };
}

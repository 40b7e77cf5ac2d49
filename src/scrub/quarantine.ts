import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from '../core/random';
import { diskLabelPath, diskQuarantineDir, diskStateDir, poolQuarantineDir } from '../core/layout';
import { fsyncDir, TEMP_FILE_RE, writeJsonAtomic } from '../core/atomic-file';
import { DfsError, errnoCode, fsFailure, operationalError, usageError } from '../core/errors';
import { isRealDirectory, readRegularFile } from '../core/safe-fs';
import { Disk, onlineDisks, Pool, writableDisks } from '../core/pool';

// Damaged files are never deleted by a repair: each is kept in its own disk's
// quarantine, DISK/.dynamicfs/quarantine/, with a JSON note beside it. Keeping
// one is a hard link or a rename within that filesystem: O(1), it never reads
// the damaged bytes (they may answer EIO) and never moves data to another
// filesystem (a failing drive cannot fill the root filesystem).

export interface QuarantineNote {
  original: string;
  disk?: number;
  extent?: string;
  shard?: number;
  problem: string;
  detail?: string;
}

/** Where a file is kept: the disk it lives on. */
export interface QuarantineDisk {
  id: string;
  index: number;
  path: string;
}

/**
 * 'link' keeps the file under its name too, for a caller about to replace the
 * name with a rebuilt file (no moment without a file there); 'move' takes it
 * off the name (gc, a file the scheme has no place for). Links, FIFOs, devices
 * and directories are always moved: rename never follows or opens them.
 */
export type KeepHow = 'link' | 'move';

function quarantineDirOf(disk: QuarantineDisk): string {
  // Never make directories on a mount point whose drive has gone (its label goes with it).
  if (!fs.existsSync(diskLabelPath(disk.path))) throw operationalError(`${disk.path} has no disk label now (is the drive still mounted?)`);
  const state = diskStateDir(disk.path);
  const dir = diskQuarantineDir(disk.path);
  for (const d of [state, dir]) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    // Never keep anything through a symlink out of the disk.
    if (!isRealDirectory(d)) throw operationalError(`${d} is not a real directory`);
  }
  return dir;
}

/** Keeps a damaged file in its disk's quarantine; returns the entry's path. */
export function quarantine(disk: QuarantineDisk, file: string, note: QuarantineNote, how: KeepHow): string {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    throw fsFailure('cannot quarantine', file, err);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  try {
    const dir = quarantineDirOf(disk);
    const entry = path.join(dir, `${stamp}-${randomBytes(4).toString('hex')}-${path.basename(file)}`);
    const type = st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : 'device';
    const meta = {
      ...note,
      diskId: disk.id,
      // Restores go to the disk's place now, wherever it is mounted then.
      relative: path.relative(disk.path, file),
      quarantinedAt: new Date().toISOString(),
      type,
      size: st.size,
      mode: st.mode,
      content: path.basename(entry),
      kept: how === 'link' && st.isFile() ? 'link' : 'rename',
    };
    if (meta.kept === 'link') {
      try {
        fs.linkSync(file, entry);
      } catch (err) {
        // A filesystem without hard links (or a link limit): a rename is as cheap.
        if (!['EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP'].includes(errnoCode(err) ?? '')) throw err;
        fs.renameSync(file, entry);
        meta.kept = 'rename';
      }
    } else {
      fs.renameSync(file, entry);
    }
    writeJsonAtomic(`${entry}.json`, meta);
    fsyncDir(dir);
    if (meta.kept === 'rename') fsyncDir(path.dirname(file));
    return entry;
  } catch (err) {
    if (err instanceof DfsError) throw operationalError(`cannot quarantine ${file}: ${err.message}`);
    throw fsFailure('cannot quarantine', file, err);
  }
}

export interface QuarantineEntry {
  /** The entry's name (its content file's name), unique across the pool. */
  name: string;
  /** The disk it is kept on, or undefined for an entry in the pool directory (kept by earlier versions). */
  disk?: { id: string; index: number };
  dir: string;
  note: Record<string, unknown>;
  quarantinedAt: string;
  original: string;
  problem: string;
  bytes: number;
  /** The kept file, or undefined when only a description was kept. */
  content?: string;
}

const NOTE_MAX = 64 * 1024;

function readEntries(dir: string, disk: Disk | undefined): QuarantineEntry[] {
  let names: string[];
  try {
    if (!isRealDirectory(dir)) return [];
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: QuarantineEntry[] = [];
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    let note: Record<string, unknown>;
    try {
      note = JSON.parse(readRegularFile(path.join(dir, n), NOTE_MAX).toString('utf8')) as Record<string, unknown>;
      if (typeof note !== 'object' || note === null) continue;
    } catch {
      continue;
    }
    const name = n.slice(0, -'.json'.length);
    const content = typeof note.content === 'string' && note.content === name ? path.join(dir, name) : undefined;
    let bytes = 0;
    if (content) {
      try {
        const st = fs.lstatSync(content);
        bytes = st.isFile() ? st.size : 0;
      } catch {
        // the note outlived its content (purged by hand)
      }
    }
    out.push({
      name,
      disk: disk ? { id: disk.id, index: disk.index } : undefined,
      dir,
      note,
      quarantinedAt: typeof note.quarantinedAt === 'string' ? note.quarantinedAt : '',
      original: typeof note.original === 'string' ? note.original : '',
      problem: typeof note.problem === 'string' ? note.problem : '',
      bytes,
      content: content && fs.existsSync(content) ? content : undefined,
    });
  }
  return out.sort((a, b) => (a.quarantinedAt < b.quarantinedAt ? -1 : a.quarantinedAt > b.quarantinedAt ? 1 : a.name < b.name ? -1 : 1));
}

/** Every quarantine entry of the pool: each readable disk's, then the pool directory's older ones. */
export function listQuarantine(pool: Pool): QuarantineEntry[] {
  return [...onlineDisks(pool).flatMap((d) => readEntries(diskQuarantineDir(d.path), d)), ...readEntries(poolQuarantineDir(pool.root), undefined)];
}

/**
 * Bytes and entries kept per disk (by disk id), for status and every metrics
 * scrape: names and lstat only, no note parsed (a gc may have kept thousands).
 */
export function quarantineUsage(pool: Pool): Map<string, { entries: number; bytes: number }> {
  const out = new Map<string, { entries: number; bytes: number }>();
  for (const d of onlineDisks(pool)) {
    const dir = diskQuarantineDir(d.path);
    const use = { entries: 0, bytes: 0 };
    let names: string[] = [];
    try {
      if (isRealDirectory(dir)) names = fs.readdirSync(dir);
    } catch {
      // unreadable: shown as empty, as readEntries does
    }
    const present = new Set(names);
    for (const n of names) {
      if (!n.endsWith('.json') || TEMP_FILE_RE.test(n)) continue;
      use.entries++;
      const content = n.slice(0, -'.json'.length);
      if (!present.has(content)) continue;
      try {
        const st = fs.lstatSync(path.join(dir, content));
        if (st.isFile()) use.bytes += st.size;
      } catch {
        // gone meanwhile
      }
    }
    out.set(d.id, use);
  }
  return out;
}

function findEntry(pool: Pool, name: string): QuarantineEntry {
  const base = path.basename(name).replace(/\.json$/, '');
  const e = listQuarantine(pool).find((x) => x.name === base);
  if (!e) throw usageError(`no quarantine entry ${name} on any readable disk of the pool (see dfs-pool quarantine list)`);
  return e;
}

/**
 * Puts a kept file back where it was (on its disk as mounted now). Refused
 * when something is there, unless `force`: then that file is quarantined in
 * its turn, so nothing is lost either way.
 */
export function restoreQuarantine(pool: Pool, name: string, force: boolean): { entry: string; restoredTo: string; displaced?: string } {
  const e = findEntry(pool, name);
  if (!e.content) throw operationalError(`quarantine entry ${e.name} keeps no file (only a description of a ${String(e.note.type ?? 'non-regular file')})`);
  const disk = e.disk ? pool.disks.find((d) => d.id === e.disk!.id) : undefined;
  const relative = typeof e.note.relative === 'string' ? e.note.relative : undefined;
  const target = disk && relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? path.join(disk.path, relative) : e.original;
  if (!target) throw operationalError(`quarantine entry ${e.name}: its note names no original path`);
  const onDisk = e.disk ? writableDisks(pool).find((d) => d.id === e.disk!.id) : pool.disks.find((d) => target.startsWith(d.path + path.sep) && (d.state === 'online' || d.state === 'rebuilding'));
  if (!onDisk) throw operationalError(`cannot restore ${e.name}: its disk is not writable now`);
  if (!isRealDirectory(path.dirname(target))) throw operationalError(`cannot restore ${e.name}: ${path.dirname(target)} is not a real directory`);
  let displaced: string | undefined;
  if (fs.existsSync(target) || isSymlink(target)) {
    if (!force) throw operationalError(`cannot restore ${e.name}: ${target} exists (--force quarantines it first)`);
    displaced = quarantine(onDisk, target, { original: target, disk: onDisk.index, problem: 'displaced-by-restore', detail: `restore of ${e.name}` }, 'move');
  }
  try {
    if (e.disk) {
      fs.renameSync(e.content, target);
    } else {
      // An older entry is a copy on the pool's filesystem: copy it back whole, then let it go.
      fs.copyFileSync(e.content, target, fs.constants.COPYFILE_EXCL);
      const fd = fs.openSync(target, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.unlinkSync(e.content);
    }
    fsyncDir(path.dirname(target));
    fs.unlinkSync(path.join(e.dir, `${e.name}.json`));
    fsyncDir(e.dir);
  } catch (err) {
    throw fsFailure(`cannot restore ${e.name} to`, target, err);
  }
  return { entry: e.name, restoredTo: target, displaced };
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Deletes entries kept longer than `olderThanSeconds`: the operator's explicit decision, never a default. */
export function purgeQuarantine(pool: Pool, olderThanSeconds: number, dryRun: boolean): QuarantineEntry[] {
  const cutoff = Date.now() - olderThanSeconds * 1000;
  const gone: QuarantineEntry[] = [];
  for (const e of listQuarantine(pool)) {
    const at = Date.parse(e.quarantinedAt);
    if (!(at < cutoff)) continue;
    if (e.disk && !writableDisks(pool).some((d) => d.id === e.disk!.id)) continue;
    if (!dryRun) {
      try {
        if (e.content) fs.rmSync(e.content, { recursive: true, force: true });
        fs.unlinkSync(path.join(e.dir, `${e.name}.json`));
      } catch (err) {
        throw fsFailure('cannot purge quarantine entry', path.join(e.dir, e.name), err);
      }
    }
    gone.push(e);
  }
  if (!dryRun) for (const dir of new Set(gone.map((e) => e.dir))) fsyncDir(dir);
  return gone;
}

import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { quarantineDir } from '../core/layout';
import { fsyncDir, writeJsonAtomic } from '../core/atomic-file';
import { errnoCode, fsFailure } from '../core/errors';
import { MAX_SHARD_FILE } from '../core/shard-file';

export interface QuarantineNote {
  original: string;
  disk?: number;
  extent?: string;
  shard?: number;
  problem: string;
  detail?: string;
}

/**
 * Keeps a damaged file before the repair replaces it: never delete user data.
 * Regular files are copied (disks may be other filesystems than the pool) and
 * fsynced before the caller renames the rebuilt shard over the original;
 * links, FIFOs and devices are described, not opened or followed; a directory
 * is moved aside. Returns the quarantine entry's path.
 */
export function quarantine(root: string, file: string, note: QuarantineNote): string {
  const dir = quarantineDir(root);
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const entry = path.join(dir, `${stamp}-${randomBytes(3).toString('hex')}-${path.basename(file)}`);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    throw fsFailure('cannot quarantine', file, err);
  }
  const meta: Record<string, unknown> = { ...note, quarantinedAt: new Date().toISOString(), size: st.size, mode: st.mode };
  try {
    if (st.isFile()) {
      meta.content = path.basename(entry);
      try {
        // A hard link keeps the very inode (sparse or huge, at no cost) once the rebuilt shard replaces the name.
        fs.linkSync(file, entry);
      } catch (err) {
        if (errnoCode(err) !== 'EXDEV' && errnoCode(err) !== 'EPERM') throw err;
        if (st.size <= MAX_SHARD_FILE) {
          fs.copyFileSync(file, entry, fs.constants.COPYFILE_EXCL);
          const fd = fs.openSync(entry, 'r');
          fs.fsyncSync(fd);
          fs.closeSync(fd);
        } else {
          // Too big to copy across filesystems: keep it on its own disk, beside where it was.
          const aside = path.join(path.dirname(file), `.quarantined-${path.basename(entry)}`);
          fs.renameSync(file, aside);
          fsyncDir(path.dirname(file));
          meta.content = undefined;
          meta.movedTo = aside;
        }
      }
    } else if (st.isSymbolicLink()) {
      meta.type = 'symlink';
      meta.linkTarget = fs.readlinkSync(file);
    } else if (st.isDirectory()) {
      meta.type = 'directory';
      try {
        fs.renameSync(file, entry);
        meta.content = path.basename(entry);
      } catch (err) {
        if (errnoCode(err) !== 'EXDEV') throw err;
        const aside = path.join(path.dirname(file), `.quarantined-${path.basename(entry)}`);
        fs.renameSync(file, aside);
        meta.movedTo = aside;
      }
      fsyncDir(path.dirname(file));
    } else {
      meta.type = st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : 'device';
      meta.rdev = st.rdev;
    }
    writeJsonAtomic(`${entry}.json`, meta);
    fsyncDir(dir);
  } catch (err) {
    throw fsFailure('cannot quarantine', file, err);
  }
  return entry;
}

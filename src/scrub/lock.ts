import fs from 'node:fs';
import path from 'node:path';
import { stateDir } from '../core/layout';
import { errnoCode, fsFailure, operationalError } from '../core/errors';
import { pidAlive } from '../core/pid';
import { fsyncDir } from '../core/atomic-file';
import { randomBytes } from '../core/random';
import { makeStateDir } from '../core/state-dir';
import { readStateText } from '../core/safe-fs';

export const LOCK_FILE = 'scrub.lock';

export interface LockHolder {
  pid: number;
  owner: string;
  since: string;
}

const UNREADABLE_GRACE_MS = 10_000;

function lockAgeMs(file: string): number {
  try {
    return Date.now() - fs.lstatSync(file).mtimeMs;
  } catch {
    return Infinity;
  }
}

export const lockPath = (root: string) => path.join(stateDir(root), LOCK_FILE);

export function readLock(root: string): LockHolder | undefined {
  try {
    const text = readStateText(lockPath(root), 4096);
    const h = text === undefined ? undefined : (JSON.parse(text) as LockHolder);
    return typeof h === 'object' && h !== null && typeof h.pid === 'number' ? h : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One scrubber per pool (dfs-scrub, the daemon, a scheduled run). The lock is a
 * file created with O_EXCL holding the owner's PID; a lock whose PID is dead
 * was left by a killed scrubber and is taken over, not fatal.
 */
export function acquireScrubLock(root: string, owner: string): () => void {
  const got = tryScrubLock(root, owner);
  if ('holder' in got) throw busyError(root, got.holder);
  return got.release;
}

/** The one-line error for a pool another live scrubber holds. */
export const busyError = (root: string, h: LockHolder) =>
  operationalError(`pool ${root} is being scrubbed by ${h.owner} (PID ${h.pid}, since ${h.since}); lock ${lockPath(root)}`);

/** The lock, or the live scrubber holding it. */
export function tryScrubLock(root: string, owner: string): { release: () => void } | { holder: LockHolder } {
  const file = lockPath(root);
  makeStateDir(root);
  const me: LockHolder = { pid: process.pid, owner, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written whole under a temp name, then linked into place: the lock is never seen empty.
    // Unguessable and exclusive: nothing planted at the name is ever written through.
    const tmp = `${file}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
    try {
      const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
      try {
        fs.writeSync(fd, JSON.stringify(me) + '\n');
      } finally {
        fs.closeSync(fd);
      }
      try {
        fs.linkSync(tmp, file);
      } finally {
        fs.rmSync(tmp, { force: true });
      }
      fsyncDir(stateDir(root));
      return {
        release: () => {
          const cur = readLock(root);
          if (cur?.pid === process.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw fsFailure('cannot create lock', file, err);
    }
    const holder = readLock(root);
    if (!holder && lockAgeMs(file) < UNREADABLE_GRACE_MS) {
      // We never leave a lock unreadable; one that is must be someone else's, mid-write or damaged.
      throw operationalError(`lock ${file} is unreadable; if no scrubber is running, remove it (or retry in ${UNREADABLE_GRACE_MS / 1000} s)`);
    }
    if (holder && pidAlive(holder.pid) && holder.pid !== process.pid) return { holder };
    // Stale: move it aside under a unique name, so two takers cannot both win.
    try {
      fs.renameSync(file, `${file}.stale-${process.pid}`);
      fs.rmSync(`${file}.stale-${process.pid}`, { force: true });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw fsFailure('cannot take over stale lock', file, err);
    }
  }
  throw operationalError(`cannot take the scrub lock ${file}: contended`);
}

import path from 'node:path';
import { stateDir } from '../core/layout';
import { operationalError } from '../core/errors';
import { LockHolder, readLockFile, tryPidLock, UNREADABLE_GRACE_MS } from '../core/pid-lock';
import { makeStateDir } from '../core/state-dir';

export type { LockHolder } from '../core/pid-lock';

export const LOCK_FILE = 'scrub.lock';

export const lockPath = (root: string) => path.join(stateDir(root), LOCK_FILE);

export const readLock = (root: string): LockHolder | undefined => readLockFile(lockPath(root));

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
  const got = tryPidLock(file, owner);
  if ('unreadable' in got) throw operationalError(`lock ${file} is unreadable; if no scrubber is running, remove it (or retry in ${UNREADABLE_GRACE_MS / 1000} s)`);
  if ('contended' in got) throw operationalError(`cannot take the scrub lock ${file}: contended`);
  return got;
}

import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir } from './atomic-file';
import { errnoCode, fsFailure } from './errors';
import { pidAlive } from './pid';
import { randomBytes } from './random';
import { readStateText } from './safe-fs';

// A lock that is a file created whole with O_EXCL, holding its owner's PID:
// one a killed process left behind is taken over, not fatal.

export interface LockHolder {
  pid: number;
  owner: string;
  since: string;
}

/** How long an unreadable lock is left alone: a live taker may be writing it (it never is: it is linked whole). */
export const UNREADABLE_GRACE_MS = 10_000;

export function readLockFile(file: string): LockHolder | undefined {
  try {
    const text = readStateText(file, 4096);
    const h = text === undefined ? undefined : (JSON.parse(text) as LockHolder);
    return typeof h === 'object' && h !== null && typeof h.pid === 'number' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** When this boot began, from /proc/stat; 0 where it cannot be read (nothing then looks older than the boot). */
function bootMs(): number {
  try {
    const m = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
    return m ? Number(m[1]) * 1000 : 0;
  } catch {
    return 0;
  }
}

/** Whether the holder took the lock before this boot: its PID may name another process now. */
const beforeThisBoot = (h: LockHolder) => Date.parse(h.since) < bootMs();

function lockAgeMs(file: string): number {
  try {
    return Date.now() - fs.lstatSync(file).mtimeMs;
  } catch {
    return Infinity;
  }
}

export type PidLockOutcome = { release: () => void } | { holder: LockHolder } | { unreadable: true } | { contended: true };

/** The lock at `file` (in a directory made already), or who holds it; fails only where the directory cannot be written. */
export function tryPidLock(file: string, owner: string): PidLockOutcome {
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
      fsyncDir(path.dirname(file));
      return {
        release: () => {
          if (readLockFile(file)?.pid === process.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw fsFailure('cannot create lock', file, err);
    }
    const holder = readLockFile(file);
    // We never leave a lock unreadable; one that is must be someone else's, mid-write or damaged.
    if (!holder && lockAgeMs(file) < UNREADABLE_GRACE_MS) return { unreadable: true };
    if (holder && pidAlive(holder.pid) && holder.pid !== process.pid && !beforeThisBoot(holder)) return { holder };
    // Stale: move it aside under a unique name, so two takers cannot both win.
    try {
      fs.renameSync(file, `${file}.stale-${process.pid}`);
      fs.rmSync(`${file}.stale-${process.pid}`, { force: true });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw fsFailure('cannot take over stale lock', file, err);
    }
  }
  return { contended: true };
}

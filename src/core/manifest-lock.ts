import path from 'node:path';
import { stateDir } from './layout';
import { tryPidLock } from './pid-lock';
import { Pool } from './pool';
import { stateDirProblem } from './state-dir';

// Puts and removals write the manifests and the saved summary of them one
// at a time: between one's look at the manifest directories and the summary
// it saves, no other may write a manifest unseen (two renames in one clock
// tick can leave a directory's times as one alone would).

export const MANIFEST_LOCK_FILE = 'manifests.lock';
/** How long a live holder is waited for: it holds the lock for a few renames and fsyncs. */
const WAIT_MS = 10_000;

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Runs `change` holding the pool's manifest lock. `locked` is false where it
 * could not be had: the state directory cannot be trusted, is missing or
 * cannot be written, or a live holder kept it `waitMs`. The change is made
 * either way; unlocked, it must leave no summary to be believed.
 */
export function withManifestLock<T>(pool: Pool, owner: string, change: (locked: boolean) => T, waitMs = WAIT_MS): T {
  const release = takeManifestLock(pool.root, owner, waitMs);
  try {
    return change(release !== undefined);
  } finally {
    try {
      release?.();
    } catch {
      // A lock left behind names a dead PID once this process ends: the next taker moves it aside.
    }
  }
}

function takeManifestLock(root: string, owner: string, waitMs: number): (() => void) | undefined {
  if (stateDirProblem(root) !== undefined) return undefined;
  const file = path.join(stateDir(root), MANIFEST_LOCK_FILE);
  const until = Date.now() + waitMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      const got = tryPidLock(file, owner);
      if ('release' in got) return got.release;
    } catch {
      return undefined;
    }
    if (Date.now() >= until) return undefined;
    sleepSync(pause);
  }
}

import { busyError, LockHolder, tryScrubLock } from './lock';
import { operationalError, usageError } from '../core/errors';

// What a one-shot pass does when another scrubber holds the pool. `fail`
// (the default) is the contract's exit 8. Schedules choose: a light run finds
// its work covered by the pass in hand and is `skip`ped; a deep run `wait`s
// for a light pass to end rather than lose its slot, but not for the daemon,
// which holds the pool for good.

export const WHEN_BUSY = ['fail', 'skip', 'wait'] as const;
export type WhenBusy = (typeof WHEN_BUSY)[number];

export function parseWhenBusy(value: unknown): WhenBusy {
  if (value === undefined) return 'fail';
  if ((WHEN_BUSY as readonly unknown[]).includes(value)) return value as WhenBusy;
  throw usageError(`--when-busy ${value === true ? '(no value)' : JSON.stringify(String(value))}: expected fail, skip or wait`);
}

/** Owners that hold the lock until they are stopped, not until a pass ends. */
const HOLDS_FOR_GOOD = new Set(['dfs-scrubd']);

const RETRY_MS = 2000;

export type LockOutcome = { release: () => void } | { skipped: LockHolder } | { cancelled: true };

/**
 * The pool's scrub lock under the policy. `isCancelled` is polled while
 * waiting (a stop ends the wait); `onWait` hears once whom it waits for.
 */
export async function lockPool(
  root: string,
  owner: string,
  policy: WhenBusy,
  isCancelled: () => boolean,
  onWait: (h: LockHolder) => void,
): Promise<LockOutcome> {
  let told = false;
  for (;;) {
    const got = tryScrubLock(root, owner);
    if ('release' in got) return got;
    const h = got.holder;
    if (policy === 'skip') return { skipped: h };
    if (policy === 'fail') throw busyError(root, h);
    if (HOLDS_FOR_GOOD.has(h.owner)) {
      throw operationalError(`pool ${root} is held by ${h.owner} (PID ${h.pid}), which scrubs it for good: stop the daemon, or drop this schedule`);
    }
    if (!told) onWait(h);
    told = true;
    for (let t = 0; t < RETRY_MS; t += 100) {
      if (isCancelled()) return { cancelled: true };
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

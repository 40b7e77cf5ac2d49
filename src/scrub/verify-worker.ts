import { parentPort, workerData } from 'node:worker_threads';
import { ReadBuffer, ReadPacing, ReadStopped } from '../core/shard-file';
import { ExtentPlan } from './inventory';
import { verifyExtent } from './verify';

// Verification runs in worker threads: reads and checksums are synchronous
// (PERF-NOTES: an awaited fs call costs ~50 us, a sync read of a small file
// ~16 us), and the main thread stays free for control messages and watchdog.

export interface VerifyRequest {
  seq: number;
  plans: ExtentPlan[];
  /** Byte cap for this worker, or 0 for none. */
  bytesPerSecond: number;
  /** After each read, sleep this many times as long as the read took (0: none). */
  tranquility: number;
}

/** Reads are this small when paced: a foreground request never waits behind a big burst (PERF-NOTES). */
const PACED_CHUNK = 1024 * 1024;
const MAX_IDLE_MS = 2000;

const buf = new ReadBuffer();
/** Shared with the main thread: non-zero means drop the batch (cancel), and wakes a sleeping pacer. */
const abortFlag: Int32Array = workerData.abortFlag;
let nextFree = 0;

function sleep(ms: number): void {
  if (ms > 0) Atomics.wait(abortFlag, 0, 0, ms);
  if (Atomics.load(abortFlag, 0) !== 0) throw new ReadStopped();
}

/**
 * Tranquility leaves the disk idle for T times the time each read took, so a
 * scrub takes at most 1/(T+1) of the disk's time whatever the disk's speed;
 * the rate cap is a token bucket with a 100 ms burst, holding within 10% over
 * any window >= 1 s.
 */
function readPacing(req: VerifyRequest): ReadPacing {
  const { bytesPerSecond: rate, tranquility } = req;
  if (rate <= 0 && tranquility <= 0) {
    return { chunk: 0, after: () => sleep(0) };
  }
  return {
    chunk: PACED_CHUNK,
    after: (bytes, ms) => {
      // Capped, so a pause or a new intensity waits seconds, not minutes, when reads are very slow.
      sleep(Math.min(tranquility * ms, MAX_IDLE_MS));
      if (rate <= 0) return;
      const now = performance.now();
      nextFree = Math.max(nextFree, now - 100) + (bytes / rate) * 1000;
      sleep(nextFree - now);
    },
  };
}

parentPort!.on('message', (req: VerifyRequest) => {
  const pacing = readPacing(req);
  try {
    const verdicts = req.plans.map((p) => verifyExtent(p, buf, pacing));
    parentPort!.postMessage({ seq: req.seq, verdicts });
  } catch (err) {
    if (!(err instanceof ReadStopped)) throw err;
    parentPort!.postMessage({ seq: req.seq, verdicts: null });
  }
});

import { parentPort } from 'node:worker_threads';
import { ReadBuffer } from '../core/shard-file';
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
}

const buf = new ReadBuffer();
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let nextFree = 0;

/** A token bucket with a 100 ms burst: the rate holds within 10% over any window >= 1 s. */
function pacer(rate: number) {
  if (rate <= 0) return undefined;
  return (bytes: number) => {
    const now = performance.now();
    nextFree = Math.max(nextFree, now - 100) + (bytes / rate) * 1000;
    const wait = nextFree - now;
    if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
  };
}

parentPort!.on('message', (req: VerifyRequest) => {
  const pace = pacer(req.bytesPerSecond);
  const verdicts = req.plans.map((p) => verifyExtent(p, buf, pace));
  parentPort!.postMessage({ seq: req.seq, verdicts });
});

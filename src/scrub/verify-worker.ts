import { parentPort, workerData } from 'node:worker_threads';
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
/** Shared with the main thread: non-zero means drop the batch (cancel), and wakes a sleeping pacer. */
const abortFlag: Int32Array = workerData.abortFlag;
let nextFree = 0;

class Aborted extends Error {}

/** A token bucket with a 100 ms burst: the rate holds within 10% over any window >= 1 s. */
function pacer(rate: number) {
  return (bytes: number) => {
    if (Atomics.load(abortFlag, 0) !== 0) throw new Aborted();
    if (rate <= 0) return;
    const now = performance.now();
    nextFree = Math.max(nextFree, now - 100) + (bytes / rate) * 1000;
    const wait = nextFree - now;
    if (wait > 0) Atomics.wait(abortFlag, 0, 0, wait);
    if (Atomics.load(abortFlag, 0) !== 0) throw new Aborted();
  };
}

parentPort!.on('message', (req: VerifyRequest) => {
  const pace = pacer(req.bytesPerSecond);
  try {
    const verdicts = req.plans.map((p) => verifyExtent(p, buf, pace));
    parentPort!.postMessage({ seq: req.seq, verdicts });
  } catch (err) {
    if (!(err instanceof Aborted)) throw err;
    parentPort!.postMessage({ seq: req.seq, verdicts: null });
  }
});

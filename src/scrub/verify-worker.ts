import { parentPort, workerData } from 'node:worker_threads';
import { ReadBuffer, ReadStopped } from '../core/shard-file';
import { fromWire, WirePlan } from './inventory';
import { Depth, packVerdict, verifyExtent } from './verify';
import { ReadPacer } from './read-pacer';

// Verification runs in worker threads: reads and checksums are synchronous
// (PERF-NOTES: an awaited fs call costs ~50 us, a sync read of a small file
// ~16 us), and the main thread stays free for control messages and watchdog.

export interface VerifyRequest {
  seq: number;
  plans: WirePlan[];
  /** Extents dir of each disk, by disk index. */
  dirs: string[];
  /** Byte cap for this worker, or 0 for none. */
  bytesPerSecond: number;
  /** After each read, sleep this many times as long as the read took (0: none). */
  tranquility: number;
  depth: Depth;
}

const buf = new ReadBuffer();
/** Shared with the main thread: non-zero means drop the batch (cancel), and wakes a sleeping pacer. */
const pacer = new ReadPacer(workerData.abortFlag);

parentPort!.on('message', (req: VerifyRequest) => {
  const pacing = pacer.pacing(req.bytesPerSecond, req.tranquility);
  try {
    const verdicts = req.plans.map((w) => {
      const p = fromWire(w, req.dirs);
      return packVerdict(p, verifyExtent(p, buf, pacing, req.depth));
    });
    parentPort!.postMessage({ seq: req.seq, verdicts });
  } catch (err) {
    if (!(err instanceof ReadStopped)) throw err;
    parentPort!.postMessage({ seq: req.seq, verdicts: null });
  }
});

import { parentPort, workerData } from 'node:worker_threads';
import { DfsError } from '../core/errors';
import { ReadBuffer, ReadStopped } from '../core/shard-file';
import { fromWire, WirePlan } from './inventory';
import { checkExtent, Depth } from './verify';
import { ReadPacer } from './read-pacer';
import { checkRange, RangeRequest } from './range-check';

// Verification runs in worker threads: reads and checksums are synchronous
// (PERF-NOTES: an awaited fs call costs ~50 us, a sync read of a small file
// ~16 us), and the main thread stays free for control messages and watchdog.

/** What a pass asks of a thread: the extents of a slice of ids, or listed plans (a resilver's order, --only-known). */
export type VerifyAsk = {
  /** Byte cap for this worker, or 0 for none. */
  bytesPerSecond: number;
  /** After each read, sleep this many times as long as the read took (0: none). */
  tranquility: number;
  depth: Depth;
} & ({ kind: 'range'; range: RangeRequest } | { kind: 'plans'; plans: WirePlan[]; /** Extents dir of each disk, by disk index. */ dirs: string[] });

/** A request as it crosses: numbered, since a thread may hold several. */
export type VerifyRequest = VerifyAsk & { seq: number };

const buf = new ReadBuffer();
const abortFlag: Int32Array = workerData.abortFlag;
/** Shared with the main thread: non-zero means drop the batch (cancel), and wakes a sleeping pacer. */
const pacer = new ReadPacer(abortFlag);
const stopped = () => Atomics.load(abortFlag, 0) !== 0;

function answer(req: VerifyRequest): unknown {
  const pacing = pacer.pacing(req.bytesPerSecond, req.tranquility);
  if (req.kind === 'range') return checkRange(req.range, buf, pacing, req.depth, stopped);
  return req.plans.map((w) => checkExtent(fromWire(w, req.dirs), buf, pacing, req.depth));
}

parentPort!.on('message', (req: VerifyRequest) => {
  try {
    parentPort!.postMessage({ seq: req.seq, result: answer(req) });
  } catch (err) {
    if (err instanceof ReadStopped) return parentPort!.postMessage({ seq: req.seq, result: null });
    // A failure the pass reports by its exit code (an unreadable extent index) crosses as what it is.
    if (err instanceof DfsError) return parentPort!.postMessage({ seq: req.seq, failure: { code: err.code, message: err.message } });
    throw err;
  }
});

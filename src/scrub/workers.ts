import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DfsError, ExitCode } from '../core/errors';
import { ExtentPlan, toWire } from './inventory';
import { Depth, ExtentVerdict, unpackVerdict, VerdictMessage } from './verify';
import type { VerifyAsk, VerifyRequest } from './verify-worker';
import type { RangeRequest, RangeResult } from './range-check';

type Reply = { seq: number; result: unknown; failure?: undefined } | { seq: number; failure: { code: ExitCode; message: string } };

// The thread's own file, unbundled. From dist/src/scrub/ here, or from
// dist/src/cli/ when this code is bundled into an executable: one level up
// either way.
const VERIFY_WORKER = path.join(__dirname, '..', 'scrub', 'verify-worker.js');

/**
 * A fixed set of verify threads. A request goes to the thread with the fewest
 * in hand; a thread may hold several, so it starts the next batch while the
 * main thread is still folding the verdicts of the last (it never idles).
 */
export class VerifyWorkers {
  private all: Worker[] = [];
  private load: number[] = [];
  private seq = 0;

  /** Set to 1 to make every worker drop its batch and stop sleeping. */
  private readonly abortFlag = new Int32Array(new SharedArrayBuffer(4));

  /** `dirs[disk]`: the extents dir of each disk, by disk index (see WirePlan). */
  constructor(count: number, private readonly dirs: string[]) {
    for (let i = 0; i < count; i++) {
      const w = new Worker(VERIFY_WORKER, { workerData: { abortFlag: this.abortFlag }, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      w.unref();
      this.all.push(w);
      this.load.push(0);
    }
  }

  get size(): number {
    return this.all.length;
  }

  abort(): void {
    Atomics.store(this.abortFlag, 0, 1);
    Atomics.notify(this.abortFlag, 0);
  }

  /** The verdicts, or null when abort() cut the batch short. */
  async verify(plans: ExtentPlan[], bytesPerSecond: number, tranquility: number, depth: Depth = 'deep'): Promise<ExtentVerdict[] | null> {
    const packed = (await this.send({ kind: 'plans', plans: plans.map(toWire), dirs: this.dirs, bytesPerSecond, tranquility, depth })) as VerdictMessage[] | null;
    return packed && packed.map((v, j) => unpackVerdict(plans[j], v));
  }

  /** One slice of ids, listed and checked by the thread; null when abort() cut it short. */
  checkRange(range: RangeRequest, bytesPerSecond: number, tranquility: number, depth: Depth): Promise<RangeResult | null> {
    return this.send({ kind: 'range', range, bytesPerSecond, tranquility, depth }) as Promise<RangeResult | null>;
  }

  private send(ask: VerifyAsk): Promise<unknown> {
    const i = this.load.indexOf(Math.min(...this.load));
    const w = this.all[i];
    const seq = ++this.seq;
    this.load[i]++;
    return new Promise<unknown>((resolve, reject) => {
      const onMessage = (m: Reply) => {
        if (m.seq !== seq) return;
        w.off('error', onError);
        w.off('message', onMessage);
        if (m.failure) reject(new DfsError(m.failure.code, m.failure.message));
        else resolve(m.result);
      };
      const onError = (err: Error) => {
        w.off('message', onMessage);
        reject(err);
      };
      w.on('message', onMessage);
      w.once('error', onError);
      const req: VerifyRequest = { ...ask, seq };
      w.postMessage(req);
    }).finally(() => this.load[i]--);
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

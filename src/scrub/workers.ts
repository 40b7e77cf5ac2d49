import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ExtentPlan } from './inventory';
import { Depth, ExtentVerdict } from './verify';
import type { VerifyRequest } from './verify-worker';

/** A fixed set of verify threads; each takes one request at a time. */
export class VerifyWorkers {
  private idle: Worker[] = [];
  private waiting: ((w: Worker) => void)[] = [];
  private all: Worker[] = [];
  private seq = 0;

  /** Set to 1 to make every worker drop its batch and stop sleeping. */
  private readonly abortFlag = new Int32Array(new SharedArrayBuffer(4));

  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const w = new Worker(path.join(__dirname, 'verify-worker.js'), { workerData: { abortFlag: this.abortFlag }, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      w.unref();
      this.all.push(w);
      this.idle.push(w);
    }
  }

  get size(): number {
    return this.all.length;
  }

  private take(): Promise<Worker> {
    const w = this.idle.pop();
    return w ? Promise.resolve(w) : new Promise((r) => this.waiting.push(r));
  }

  private give(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  abort(): void {
    Atomics.store(this.abortFlag, 0, 1);
    Atomics.notify(this.abortFlag, 0);
  }

  /** The verdicts, or null when abort() cut the batch short. */
  async verify(plans: ExtentPlan[], bytesPerSecond: number, tranquility: number, depth: Depth = 'deep'): Promise<ExtentVerdict[] | null> {
    const w = await this.take();
    const seq = ++this.seq;
    try {
      return await new Promise<ExtentVerdict[] | null>((resolve, reject) => {
        const onMessage = (m: { seq: number; verdicts: ExtentVerdict[] | null }) => {
          if (m.seq !== seq) return;
          w.off('error', onError);
          w.off('message', onMessage);
          resolve(m.verdicts);
        };
        const onError = (err: Error) => {
          w.off('message', onMessage);
          reject(err);
        };
        w.on('message', onMessage);
        w.once('error', onError);
        const req: VerifyRequest = { seq, plans, bytesPerSecond, tranquility, depth };
        w.postMessage(req);
      });
    } finally {
      this.give(w);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

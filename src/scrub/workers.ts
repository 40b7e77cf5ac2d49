import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DfsError, ExitCode } from '../core/errors';
import { tierUpLater } from '../core/tier-up';
import { ExtentPlan, toWire } from './inventory';
import { Depth, ExtentVerdict, unpackVerdict, VerdictMessage } from './verify';
import type { SlotsBack, VerifyAsk, VerifyRequest } from './verify-worker';
import type { RangeRequest, RangeResult } from './range-check';
import type { CrossingRebuilt, Rebuilt, RebuiltShard, SlotRef } from './rebuild';
import { alignUp } from '../core/aligned-memory';
import { fetchAhead, listAhead, readAheadDir } from './prefetch';
import { readsDirectly } from '../core/direct-reads';

type Reply =
  | { seq: number; result: unknown; rebuilt?: [string, CrossingRebuilt][]; slots?: SharedArrayBuffer; failure?: undefined; fetch?: undefined; direct?: undefined }
  | { seq: number; failure: { code: ExitCode; message: string }; fetch?: undefined; direct?: undefined }
  /** Not an answer: the files the thread is about to read, cold (see prefetch.ts). */
  | { seq: number; fetch: string[]; direct?: undefined }
  /** Not an answer: the thread reads the cold files readsDirectly picks directly (see DirectReads). */
  | { seq: number; direct: true; fetch?: undefined }
  /** Not an answer, and sent once, before any: the thread has loaded its modules (see `started`). */
  | { seq?: undefined; started: true };

/** What a thread answered, with the extents it rebuilt for a repair pass, by id. */
export interface Answer<T> {
  result: T | null;
  rebuilt?: Map<string, Rebuilt>;
}

/**
 * Payloads cross as plain Uint8Arrays, made Buffers again over the same
 * memory; shard files as offsets in the thread's `slots`, each given back
 * by `release(at)`.
 */
function rebuiltMap(list: [string, CrossingRebuilt][] | undefined, slots: SharedArrayBuffer | undefined, release: (at: number) => void): Map<string, Rebuilt> | undefined {
  if (!list) return undefined;
  const shard = (u: Uint8Array | SlotRef | undefined): RebuiltShard | undefined => {
    if (!u) return undefined;
    if (u instanceof Uint8Array) return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    const { at, size } = u;
    return { slot: Buffer.from(slots!, at, alignUp(size)), size, release: () => release(at) };
  };
  return new Map(list.map(([id, r]) => [id, typeof r === 'string' ? r : Array.from(r, shard)]));
}

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
  /** Slot offsets to give back to each thread, sent together at the end of the tick. */
  private slotsBack: number[][] = [];
  private seq = 0;
  /**
   * The CPU priority the threads take with their next request: a nice value
   * is a thread's own on Linux, so the one the pass's intensity sets on the
   * main thread reaches them only so (a set-intensity during a pass too).
   */
  nice: number | undefined;
  private listedAhead = false;
  private fetching = false;
  /** The threads read the cold files readsDirectly picks directly: read ahead too, they would be read twice. */
  private direct = false;

  /**
   * Resolves once every thread has loaded its modules; then (and not before)
   * V8's interrupt budget is raised for the process (see tier-up.ts): V8
   * refuses node's code cache for its own modules once a flag has changed,
   * and a thread that loads them then compiles them all (+30 ms a thread).
   */
  readonly started: Promise<void>;

  /** Set to 1 to make every worker drop its batch and stop sleeping. */
  private readonly abortFlag = new Int32Array(new SharedArrayBuffer(4));

  /** `dirs[disk]`: the extents dir of each disk, by disk index (see WirePlan). */
  constructor(count: number, private readonly dirs: string[]) {
    for (let i = 0; i < count; i++) {
      const w = new Worker(VERIFY_WORKER, { workerData: { abortFlag: this.abortFlag }, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      w.unref();
      this.all.push(w);
      this.load.push(0);
      this.slotsBack.push([]);
    }
    this.started = Promise.all(this.all.map((w) => new Promise<void>((resolve) => {
      const onMessage = (m: Reply) => {
        if (!('started' in m)) return;
        w.off('message', onMessage);
        resolve();
      };
      w.on('message', onMessage);
    }))).then(tierUpLater);
  }

  /** Cold: the files a thread is about to read, and at the first of them every directory it will list. */
  private fetch(files: string[]): void {
    this.fetching = true;
    this.listAhead();
    fetchAhead(files);
  }

  /** Once a thread finds its reads coming from the device: every directory the threads will list. */
  private listAhead(): void {
    if (this.listedAhead) return;
    this.listedAhead = true;
    listAhead(this.dirs.filter((d) => d !== undefined));
  }

  /** A thread has found its reads coming from the device, and reads some through the page cache (those ahead of it are worth reading too). */
  get cold(): boolean {
    return this.fetching;
  }

  /**
   * Reads the files under one fan-out prefix of every disk ahead, into the
   * page cache; `maybeDirect`: some may be big enough for the threads to read
   * directly, and those are left out when they do.
   */
  readAhead(prefix: string, maybeDirect = true): void {
    const leave = this.direct && maybeDirect ? readsDirectly : undefined;
    for (const dir of this.dirs) if (dir !== undefined) readAheadDir(path.join(dir, prefix), leave);
  }

  private release(i: number, at: number): void {
    const back = this.slotsBack[i];
    back.push(at);
    if (back.length === 1) queueMicrotask(() => this.all[i].postMessage({ release: back.splice(0) } satisfies SlotsBack));
  }

  get size(): number {
    return this.all.length;
  }

  abort(): void {
    Atomics.store(this.abortFlag, 0, 1);
    Atomics.notify(this.abortFlag, 0);
  }

  /** The verdicts, or null when abort() cut the batch short. `rebuild`: see VerifyAsk. */
  async verify(plans: ExtentPlan[], bytesPerSecond: number, tranquility: number, depth: Depth = 'deep', rebuild = false): Promise<Answer<ExtentVerdict[]>> {
    const a = await this.send({ kind: 'plans', plans: plans.map(toWire), dirs: this.dirs, bytesPerSecond, tranquility, depth, rebuild });
    const packed = a.result as VerdictMessage[] | null;
    return { result: packed && packed.map((v, j) => unpackVerdict(plans[j], v)), rebuilt: a.rebuilt };
  }

  /** One slice of ids, listed and checked by the thread; a null result when abort() cut it short. */
  async checkRange(range: RangeRequest, bytesPerSecond: number, tranquility: number, depth: Depth, rebuild = false): Promise<Answer<RangeResult>> {
    return (await this.send({ kind: 'range', range, bytesPerSecond, tranquility, depth, rebuild })) as Answer<RangeResult>;
  }

  private send(ask: VerifyAsk): Promise<Answer<unknown>> {
    const i = this.load.indexOf(Math.min(...this.load));
    const w = this.all[i];
    const seq = ++this.seq;
    this.load[i]++;
    return new Promise<Answer<unknown>>((resolve, reject) => {
      const onMessage = (m: Reply) => {
        if (m.seq !== seq) return;
        if (m.fetch) return this.fetch(m.fetch);
        if (m.direct) {
          this.direct = true;
          return this.listAhead();
        }
        w.off('error', onError);
        w.off('message', onMessage);
        if (m.failure) reject(new DfsError(m.failure.code, m.failure.message));
        else resolve({ result: m.result, rebuilt: rebuiltMap(m.rebuilt, m.slots, (at) => this.release(i, at)) });
      };
      const onError = (err: Error) => {
        w.off('message', onMessage);
        reject(err);
      };
      w.on('message', onMessage);
      w.once('error', onError);
      const req: VerifyRequest = { ...ask, seq, nice: this.nice };
      w.postMessage(req);
    }).finally(() => this.load[i]--);
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

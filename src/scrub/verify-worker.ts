import { parentPort, workerData } from 'node:worker_threads';
import { DfsError } from '../core/errors';
import { ReadBuffer, ReadPacing, ReadStopped } from '../core/shard-file';
import { ReadSpeed } from './prefetch';
import { fromWire, WirePlan } from './inventory';
import { checkExtent, Depth, wholeFiles } from './verify';
import { ReadPacer } from './read-pacer';
import { applyNice } from './pacing';
import { checkRange, checkRangeDirect, RangeRequest, RangeResult } from './range-check';
import { DirectReads } from '../core/direct-reads';
import type { CrossingRebuilt, SourcesInPlace } from './rebuild';
import type { ExtentVerdict, ReadAlready, VerdictMessage } from './verify';
import type { ExtentPlan } from './inventory';
import { lazy } from '../core/lazy';
import { BufferPool } from '../core/buffer-pool';
import { SharedSlots } from '../core/shared-slots';

// Loaded by the first repair: a verify-only pass never encodes.
const rebuilding = lazy((): typeof import('./rebuild') => require('./rebuild'));

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
  /** A repair pass: rebuild here, off the main thread, each extent found broken but rebuildable. */
  rebuild?: boolean;
} & ({ kind: 'range'; range: RangeRequest } | { kind: 'plans'; plans: WirePlan[]; /** Extents dir of each disk, by disk index. */ dirs: string[] });

/** A request as it crosses: numbered, since a thread may hold several; with the nice value the thread is to run at. */
export type VerifyRequest = VerifyAsk & { seq: number; nice?: number };

/** The main thread is done with these slots (see rebuiltFiles). */
export type SlotsBack = { release: number[] };

const buf = new ReadBuffer();
const abortFlag: Int32Array = workerData.abortFlag;
/** Shared with the main thread: non-zero means drop the batch (cancel), and wakes a sleeping pacer. */
const pacer = new ReadPacer(abortFlag);
const stopped = () => Atomics.load(abortFlag, 0) !== 0;

const speed = new ReadSpeed();
/** The nice value last asked for (the thread starts at its creator's). */
let nice: number | undefined;

/**
 * Cold files of a verify pass of 1 to 16 MiB are read around the page cache
 * (see DirectReads): 4 reads in flight per thread (2 to 12 measured alike
 * here, within the disk's noise), 16 MiB of slots, mapped by the first.
 */
const directReads = new DirectReads(16 * 2 ** 20, 4);
/** One cold slice in this many starts with a timed buffered read: the only way to see the pool come back into memory. */
const PROBE_EVERY = 16;
let directSlices = 0;

function answer(req: VerifyRequest): unknown {
  const pacing = pacer.pacing(req.bytesPerSecond, req.tranquility);
  if (req.kind === 'range') {
    // Paced reads keep their spacing, and a light pass reads next to nothing: only an unpaced deep pass reads ahead.
    if (req.depth !== 'deep' || req.bytesPerSecond > 0 || req.tranquility > 0) return checkRange(req.range, buf, pacing, req.depth, stopped);
    const observed: ReadPacing = { chunk: pacing.chunk, after: (bytes, ms) => (speed.observe(bytes, ms), pacing.after(bytes, ms)) };
    if (speed.cold && directReads.usable) return answerCold(req, req.range, pacing, observed);
    // Cold, the main thread reads the slice's files ahead (see prefetch.ts).
    const ahead = speed.cold ? (files: string[]) => parentPort!.postMessage({ seq: req.seq, fetch: files }) : undefined;
    try {
      return checkRange(req.range, buf, observed, req.depth, stopped, ahead);
    } finally {
      speed.settle();
    }
  }
  return req.plans.map((w) => checkExtent(fromWire(w, req.dirs), buf, pacing, req.depth));
}

/** Whether this thread has told the main thread it reads cold files directly. */
let saidDirect = false;

/** A cold slice: its files of 1 MiB and more read directly, if it has any; the others read ahead by the main thread. */
async function answerCold(req: VerifyRequest, range: RangeRequest, pacing: ReadPacing, observed: ReadPacing): Promise<RangeResult | null> {
  // Before any fetch: the main thread lists the directories ahead, and leaves the big files out of what it reads ahead.
  if (!saidDirect) {
    saidDirect = true;
    parentPort!.postMessage({ seq: req.seq, direct: true });
  }
  const fetch = (files: string[]) => parentPort!.postMessage({ seq: req.seq, fetch: files });
  const probe = (directSlices + 1) % PROBE_EVERY === 0 ? observed : undefined;
  // A repair rebuilds from the files read directly, copied out while held: read again, they would come from the device.
  const held = req.rebuild ? holdSources : undefined;
  try {
    const r = await checkRangeDirect(range, buf, pacing, stopped, directReads, probe, fetch, held);
    if (r === undefined) return checkRange(range, buf, observed, 'deep', stopped, fetch);
    directSlices++;
    return r;
  } finally {
    speed.settle();
  }
}

/**
 * Rebuilt payloads this thread sends with one answer at most (the broken
 * shards' only, see brokenShardFiles): the main thread holds each until its
 * batch is written. Broken extents past it are rebuilt there instead, where
 * they cost the main thread's time (a repair pass over 4 MiB extents with two
 * shards lost rebuilt half its extents there when the budget counted whole
 * extents, and at 8 MiB still spent 0.7 s of its main thread rebuilding the
 * fifth and later broken extent of a slice: 2 MiB each).
 */
const REBUILT_BYTES_PER_ANSWER = 16 * 2 ** 20;

/** One answer's byte budget: asked of its verdicts in order, whether this thread rebuilds each. */
function rebuildBudget(): (v: ExtentVerdict) => boolean {
  let bytes = 0;
  return (v) => {
    if (!rebuilding().needsRebuild(v)) return false;
    const n = rebuilding().brokenBytes(v);
    if (bytes + n > REBUILT_BYTES_PER_ANSWER) return false;
    bytes += n;
    return true;
  };
}

/** The verdicts of an answer that a repair pass will rebuild, within the byte budget. */
function toRebuild(req: VerifyRequest, result: unknown): ExtentVerdict[] {
  if (!req.rebuild || !result) return [];
  const verdicts = req.kind === 'range' ? (result as RangeResult).verdicts : ((result as VerdictMessage[]).filter((m) => typeof m !== 'number') as ExtentVerdict[]);
  return verdicts.filter(rebuildBudget());
}

/**
 * Codec buffers, reused from extent to extent (see BufferPool): an answer's
 * extents are rebuilt at once. Cold, they also hold the sources copied out
 * of the direct reads (see holdSources) while the answer before is still
 * rebuilding: with 32 MiB, a repair pass over 4 MiB rs:4+2 extents found no
 * buffer for a tenth of its extents and read their sources from the device
 * again (4.77 GB read where 4.37 were needed); with 64 MiB, none.
 */
const codecScratch = new BufferPool(64 * 2 ** 20, (size) => Buffer.allocUnsafeSlow(size));

/**
 * Where rebuilt shard files wait for the main thread to write them, lent by
 * offset and given back when written: what this thread's answers in flight
 * and the main thread's repair batches hold together (a repair pass over
 * 1 MiB shards held up to 76 MiB of one thread's; with 32 MiB, 40% of its
 * shards crossed in buffers of their own). Past it, a payload does. Mapped
 * by the first rebuild, touched only as far as used, gone with the thread.
 */
const rebuiltFiles = new SharedSlots(128 * 2 ** 20);

/**
 * The valid payloads of the extents the request being answered found broken
 * and will rebuild, by id, in codec buffers (see sourcesInPlace); `admits`
 * is the answer's budget, asked of the verdicts in the order toRebuild asks
 * it, so no extent left to the main thread is copied. Taken once answered.
 */
let inPlace = { sources: new Map<string, SourcesInPlace>(), admits: rebuildBudget() };

function holdSources(v: ExtentVerdict, plan: ExtentPlan, read: ReadAlready): void {
  if (!inPlace.admits(v)) return;
  const sources = rebuilding().sourcesInPlace(v, plan, wholeFiles(plan, read), (bytes) => codecScratch.tryTake(bytes));
  if (sources) inPlace.sources.set(v.id, sources);
}

/** The sources in place of the request just answered; the next starts with none. */
function takeInPlace(): Map<string, SourcesInPlace> {
  const { sources } = inPlace;
  inPlace = { sources: new Map(), admits: rebuildBudget() };
  return sources;
}

const giveBack = (sources: Map<string, SourcesInPlace>) => sources.forEach((s) => codecScratch.give(s.scratch));

/** An extent's broken shards, rebuilt in codec buffers lent for the while (holding its sources already, if given), copied out of them. */
async function rebuildBroken(v: ExtentVerdict, sources?: SourcesInPlace): Promise<CrossingRebuilt> {
  const bytes = rebuilding().scratchBytes(v);
  const scratch = sources?.scratch ?? (bytes > 0 ? await codecScratch.take(bytes) : undefined);
  try {
    return rebuilding().brokenShardFiles(v, await rebuilding().rebuildOrExplain(v, scratch, sources?.shards), rebuiltFiles);
  } finally {
    if (scratch) codecScratch.give(scratch);
  }
}

/** Buffers that own their memory cross by transfer, not by copy; a small one may share Node's pool and is copied. */
function transferable(rebuilt: [string, CrossingRebuilt][]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const [, r] of rebuilt) {
    if (typeof r === 'string') continue;
    for (const b of r) if (Buffer.isBuffer(b) && b.buffer.byteLength >= 65536 && b.buffer instanceof ArrayBuffer) out.add(b.buffer);
  }
  return [...out];
}

/** Requests are served one at a time, in order: a cold slice's answer awaits its reads, and the next waits for it. */
let serving: Promise<void> = Promise.resolve();

parentPort!.on('message', (req: VerifyRequest | SlotsBack) => {
  if ('release' in req) {
    for (const at of req.release) rebuiltFiles.give(at);
    return;
  }
  // Anything else thrown is a bug: it ends the thread, and the pass hears of it ('error').
  serving = serving.then(() => serve(req)).catch((err) => process.nextTick(() => { throw err; }));
});

async function serve(req: VerifyRequest): Promise<void> {
  if (req.nice !== undefined && req.nice !== nice) {
    // Raising it back needs privilege: refused, the thread stays where it is, as the main thread does.
    applyNice(req.nice);
    nice = req.nice;
  }
  let result: unknown;
  try {
    result = await answer(req);
  } catch (err) {
    giveBack(takeInPlace());
    if (err instanceof ReadStopped) return parentPort!.postMessage({ seq: req.seq, result: null });
    // A failure the pass reports by its exit code (an unreadable extent index) crosses as what it is.
    if (err instanceof DfsError) return parentPort!.postMessage({ seq: req.seq, failure: { code: err.code, message: err.message } });
    throw err;
  }
  const broken = toRebuild(req, result);
  const held = takeInPlace();
  const sources = broken.map((v) => held.get(v.id));
  broken.forEach((v) => held.delete(v.id));
  giveBack(held); // none, unless the two budgets disagreed
  if (broken.length === 0) return parentPort!.postMessage({ seq: req.seq, result });
  // The codec runs on libuv's pool: this thread takes its next request meanwhile.
  Promise.all(broken.map((v, i) => rebuildBroken(v, sources[i]))).then((done) => {
    const rebuilt = broken.map((v, i): [string, CrossingRebuilt] => [v.id, done[i]]);
    parentPort!.postMessage({ seq: req.seq, result, rebuilt, slots: rebuiltFiles.memory }, transferable(rebuilt));
  });
}

// Loaded: the pool may now change V8's flags (see VerifyWorkers.started).
parentPort!.postMessage({ started: true });

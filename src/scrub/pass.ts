import fs from 'node:fs';
import { randomUUID } from '../core/random';
import { Pool, writableDisks } from '../core/pool';
import { extentsDir, PREFIXES, shardPath } from '../core/layout';
import { rankDisks } from '../core/placement';
import { eachObject, ObjectEntry } from '../core/manifest';
import { dropSummary } from '../core/pool-summary';
import { EXIT } from '../core/errors';
import { ExtentPlan, listedDisks, StrayFile, topLevelStrays } from './inventory';
import { listPrefixes } from './prefix-listing';
import { IdRange, splitPrefix } from './id-range';
import { RangeRequest, Walk } from './range-check';
import { buildExtentIndex, ExtentIndex, objectNames, removeExtentIndex } from './extent-index';
import { MIN_DIRECT_FILE } from '../core/direct-reads';
import { Depth, ExtentVerdict, Health, ShardResult } from './verify';
import { DEEP_ONLY_KINDS, deepOnlyShards, foldKnownPass, foldLightPass, healthWithout, KnownScope, knownScope } from './known-problems';
import { parseScheme } from '../core/scheme';
import { Finding } from './finding';
import { repairExtents, repairManifestCopy, RepairOutcome } from './repair';
import { isBroken, needsRebuild, Rebuilt, releaseRebuilt } from './rebuild';
import { Intensity, Pacing, pacingFor } from './pacing';
import { VerifyWorkers } from './workers';
import { Alarm } from './alarm';
import { finishResilver, ResilverOrder, ResilverReport } from './resilver';
import { addDiskError, diskErrorKind, DiskErrorCounts, errorsSinceCleared } from './disk-errors';
import {
  CurrentPass,
  loadState,
  MAX_OPEN_PROBLEMS,
  OpenProblem,
  PassMode,
  PassOutcome,
  PassSummary,
  saveState,
  saveStateAsync,
  ScrubState,
  zeroHealth,
} from './state';
import { widenIoThreads } from '../core/io-threads';

// Before any async fs call of the process: a repair's writes and fsyncs go to disk many at a time.
widenIoThreads();

export interface PassOptions {
  mode: PassMode;
  intensity: Intensity;
  /** Bytes per second cap on reads, on top of the intensity. */
  maxRate?: number;
  /** Who runs it, recorded in the state: 'dfs-scrub', 'dfs-scrubd', 'schedule'. */
  runner: string;
  /** Continue an interrupted pass of the same mode from its cursor. */
  resume?: boolean;
  /** At most this long between checkpoints of cursor and counters. */
  checkpointMs?: number;
  onProgress?: (p: PassProgress) => void;
  /** Extra pause before each operation (the daemon's deadline and pressure pacing). */
  beforeOperation?: () => Promise<void>;
  /** deep (default): every byte proven; light: each file's type, size and header only. */
  depth?: Depth;
  /** Re-check only the extents and manifest copies the last passes left as open problems. */
  onlyKnown?: boolean;
}

export interface PassProgress {
  passId: string;
  extentsDone: number;
  extentsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  issuesFound: number;
  repairsSuccessful: number;
  activeSeconds: number;
  bytesPerSecond: number;
  etaSeconds: number;
}

/** Seconds left at the pace so far; NaN before there is a pace. */
function secondsLeft(c: CurrentPass, activeSeconds: number): number {
  if (activeSeconds <= 0) return NaN;
  // A light pass has no byte total (it reads headers only): what is left is counted in extents.
  const [done, total] = c.bytesTotal > 0 ? [c.bytesDone, c.bytesTotal] : [c.extentsDone, c.extentsTotal];
  return done > 0 ? (Math.max(0, total - done) * activeSeconds) / done : NaN;
}

export const REPORT_SCHEMA = 1;

export interface PassReport {
  schema: number;
  pool: string;
  poolId: string;
  pass: string;
  mode: PassMode;
  depth: Depth;
  /** all: every extent and manifest; known: only the open problems of earlier passes. */
  scope: 'all' | 'known';
  runner: string;
  intensity: Intensity;
  resumed: boolean;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  outcome: PassOutcome;
  exitCode: number;
  bytesRead: number;
  extents: { total: number; scanned: number; healthy: number; degraded: number; unrecoverable: number; orphaned: number };
  objects: { total: number; manifestCopiesBad: number; unreadable: number };
  repairs: { attempted: number; successful: number };
  /** Each disk's state and its errors since they were last cleared (READ / CKSUM / WRITE, as zpool status). */
  disks: { index: number; id: string; path: string; state: string; errors: DiskErrorCounts; claimedBy?: string[] }[];
  /** Present when a replaced disk was rebuilding as the pass began. */
  resilver?: ResilverReport;
  issues: Finding[];
  info: Finding[];
}

/** One operation as process() folds it: verdicts in id order, null when a stop cut it short. */
interface Operation {
  plans: ExtentPlan[];
  verdicts: ExtentVerdict[] | null;
  /** Extents a thread found plainly healthy and only counted (slices of ids), the bytes it read, and the slice's last id. */
  healthy?: number;
  healthyBytes?: number;
  lastId?: string;
  /** Extents the thread rebuilt for a repair pass, by id. */
  rebuilt?: Map<string, Rebuilt>;
}

/** An operation started, and what it came to once it is done. */
interface InFlight {
  promise: Promise<Operation>;
  op?: Operation;
}

/** The repairs made of a batch's extents, by extent id. */
type RepairsOf = Map<string, Map<ShardResult, RepairOutcome>>;

/** Operations folded together, and their repairs on the way to disk. */
interface RepairBatch {
  ops: Operation[];
  repaired: Promise<RepairsOf>;
  /** It has repairs on their way to disk. */
  writing: boolean;
}

/**
 * Unpaced, this many batches' repairs go to disk at once: one's fsyncs wait
 * while the next's writes start. A warm repair pass of 4 GiB rs:4+2, two
 * shards of every extent lost, spent 92% of its main thread waiting for the
 * oldest batch with two; four (and REPAIR_DEPTH) took it from 4.99 to 4.48 s
 * (median of 7 alternating runs), peak RSS 369 -> 442 MB.
 */
const REPAIR_BATCHES_IN_FLIGHT = 4;

/** Operations in flight per thread, unpaced: a repair pass's threads work ahead while its batches are written. */
const VERIFY_DEPTH = 4;
const REPAIR_DEPTH = 6;

/** Cold, an unpaced deep pass has the files of the prefixes after the one it starts read ahead, this many bytes' worth. */
const READ_AHEAD_BYTES = 128 * 2 ** 20;

/** Extents a repair pass rebuilds in one batch hold this many bytes at most (their shards are in memory together). */
const MAX_REPAIR_BATCH_BYTES = 32 * 2 ** 20;

/** Bytes of the extents a batch of operations would rebuild. */
function repairBytes(ops: Operation[]): number {
  let n = 0;
  for (const op of ops) for (const v of op.verdicts ?? []) if (needsRebuild(v)) n += v.length ?? 0;
  return n;
}

/** The next operation at this pacing, started; undefined when the pass has none left. */
type NextOperation = (pacing: Pacing, bytesPerSecond: number) => Promise<Operation> | undefined;

/** An unpaced operation: tens of milliseconds of work, so a pause or a new intensity takes effect at once. */
const UNPACED_RANGE_EXTENTS = 4096;
const UNPACED_RANGE_BYTES = 64 * 1024 * 1024;

/** Slices to cut a prefix into: `extentsPerOp` each when paced, else small enough to answer quickly. */
function rangeParts(extents: number, bytes: number, pacing: Pacing, depth: Depth): number {
  if (pacing.pauseMs > 0) return Math.max(1, Math.round(extents / pacing.extentsPerOp));
  return Math.max(1, Math.ceil(extents / UNPACED_RANGE_EXTENTS), depth === 'deep' ? Math.ceil(bytes / UNPACED_RANGE_BYTES) : 1);
}

/** Findings kept in memory for one report; counters keep counting past it. */
const MAX_REPORTED = 100_000;

const KIND: Record<string, string> = { missing: 'missing-shard', 'not-regular': 'not-regular-file' };

/**
 * One scrub pass as an explicit state machine (idle → running ⇄ paused →
 * done | cancelled) over extents in id order, with the cursor and counters
 * checkpointed together. Commands arrive as method calls and take effect at
 * the next operation.
 */
export class ScrubPass {
  status: 'idle' | 'running' | 'paused' | 'cancelling' | 'done' = 'idle';
  private intensity: Intensity;
  private maxRate: number;
  private readonly alarm = new Alarm();
  private readonly issues: Finding[] = [];
  private readonly info: Finding[] = [];
  private state!: ScrubState;
  private current!: CurrentPass;
  private lastCheckpoint = 0;
  /** The last state write through the thread pool (checkpointAsync), and how many are on their way. */
  private stateWrite: Promise<void> = Promise.resolve();
  /** A state write asked for that has not started: asks made meanwhile share it (group commit). */
  private stateQueued: Promise<void> | undefined;
  private stateWrites = 0;
  private activeSince = 0;
  private workers: VerifyWorkers | undefined;
  private objects = { total: 0, unreadable: 0 };
  private index: ExtentIndex | undefined;
  /** Schemes the manifests use (the resilver's phases depend on them). */
  private readonly schemes = new Set<string>();
  /** A repair pass while a replaced disk is rebuilding; `resilver` orders its walk once the schemes are known. */
  private resilvering = false;
  /** Whether this pass dropped the saved pool summary (an object no manifest copy of which reads). */
  private summaryDropped = false;
  private resilver: ResilverOrder | undefined;
  private readonly depth: Depth;
  /** An --only-known pass's scope, from the state's open problems. */
  private known: KnownScope | undefined;
  /** Extents whose final health a partial pass folds into the state (see known-problems.ts). */
  private watch: Set<string> | undefined;
  /** For a light pass: the shards a deep pass found rotten, by extent; a light pass cannot see them, so they still count. */
  private rot: Map<string, Set<number>> | undefined;
  private readonly seen = new Map<string, Health>();
  /** A cancel cut an operation short: nothing after it is folded (its extents are redone on resume). */
  private cut = false;

  constructor(
    private readonly pool: Pool,
    private readonly opts: PassOptions,
  ) {
    this.intensity = opts.intensity;
    this.maxRate = opts.maxRate ?? 0;
    this.depth = opts.depth ?? 'deep';
  }

  /**
   * Light and --only-known passes save no cursor: they are short, can be
   * run again, and leave an interrupted deep pass's place where it is.
   */
  private get transient(): boolean {
    return this.depth === 'light' || !!this.opts.onlyKnown;
  }

  pause(): void {
    if (this.status === 'running') this.status = 'paused';
  }

  resume(): void {
    if (this.status === 'paused') {
      this.status = 'running';
      this.wakeUp();
    }
  }

  cancel(): void {
    if (this.status !== 'done') {
      this.status = 'cancelling';
      // A worker sleeping out the rate cap stops at once; its unfinished batch is dropped, the cursor stays before it.
      this.workers?.abort();
      this.wakeUp();
    }
  }

  setIntensity(i: Intensity): void {
    this.intensity = i;
    this.wakeUp();
  }

  setMaxRate(bytesPerSecond: number): void {
    this.maxRate = bytesPerSecond;
  }

  getIntensity(): Intensity {
    return this.intensity;
  }

  /** Live cumulative counters (they include this pass so far). */
  counters(): ScrubState['counters'] | undefined {
    return this.state?.counters;
  }

  /** The pass in progress, undefined before run() has loaded it. */
  currentPass(): CurrentPass | undefined {
    return this.current;
  }

  /** Starts paused (a paused daemon restarted stays paused). */
  startPaused(): void {
    this.status = 'paused';
  }

  progress(): PassProgress {
    const c = this.current;
    const active = c.activeSeconds + (this.status === 'running' && this.activeSince ? (Date.now() - this.activeSince) / 1000 : 0);
    const rate = active > 0 ? c.bytesDone / active : 0;
    return {
      passId: c.id,
      extentsDone: c.extentsDone,
      extentsTotal: c.extentsTotal,
      bytesDone: c.bytesDone,
      bytesTotal: c.bytesTotal,
      issuesFound: c.issuesFound,
      repairsSuccessful: c.repairsSuccessful,
      activeSeconds: active,
      bytesPerSecond: rate,
      etaSeconds: secondsLeft(c, active),
    };
  }

  private cancelling(): boolean {
    return this.status === 'cancelling';
  }

  private wakeUp(): void {
    this.alarm.ring();
  }

  private sleep(ms: number): Promise<void> {
    return ms > 0 ? this.alarm.sleep(ms) : Promise.resolve();
  }

  private async waitWhilePaused(): Promise<void> {
    while (this.status === 'paused') {
      this.stopClock();
      await this.alarm.sleep();
    }
    this.startClock();
  }

  private startClock(): void {
    if (!this.activeSince) this.activeSince = Date.now();
  }

  private stopClock(): void {
    if (this.activeSince) {
      this.current.activeSeconds += (Date.now() - this.activeSince) / 1000;
      this.activeSince = 0;
    }
  }

  private record(f: Finding): void {
    if (f.severity === 'info') {
      if (this.info.length < MAX_REPORTED) this.info.push(f);
      return;
    }
    if (this.issues.length < MAX_REPORTED) this.issues.push(f);
  }

  private countIssue(count: boolean, f: Finding, writeFailed = false): void {
    this.record(f);
    if (!count || f.severity !== 'problem') return;
    const disk = f.disk === undefined ? undefined : this.pool.disks[f.disk];
    if (this.resilvering && f.result !== 'repaired' && f.health !== 'unrecoverable' && (f.kind === 'missing-shard' || f.kind === 'manifest-copy-missing' || disk?.state === 'rebuilding')) {
      this.current.resilverLeft = (this.current.resilverLeft ?? 0) + 1;
    }
    if (disk) {
      const errors = (this.state.diskErrors ??= {});
      const kind = diskErrorKind(f, false);
      if (kind) addDiskError(errors, disk.id, kind);
      if (writeFailed) addDiskError(errors, disk.id, 'write');
    }
    this.current.issuesFound++;
    this.state.counters.issuesFound++;
    if (f.action !== 'none') {
      this.current.repairsAttempted++;
      this.state.counters.repairsAttempted++;
      if (f.result === 'repaired') {
        this.current.repairsSuccessful++;
        this.state.counters.repairsSuccessful++;
      }
    }
  }

  private checkpoint(force = false): void {
    if (this.transient) return;
    const now = Date.now();
    if (!force && now - this.lastCheckpoint < (this.opts.checkpointMs ?? 5000)) return;
    // One on its way through the pool holds an older state, and would land after this one: the next fold writes.
    if (!force && this.stateWrites > 0) return;
    this.snapshotClock();
    saveState(this.pool.root, this.state);
    this.lastCheckpoint = now;
  }

  /**
   * checkpoint(true) through the thread pool, after every state write before
   * it: resolves once on disk. A repair batch's pending record is written so,
   * once per batch: synchronous, its fsyncs held the main thread ~0.5 s of a
   * 4 s repair pass (profile) while nothing else could be folded or written.
   * Asks made while a write waits for the one before it share that write
   * (group commit): with batches in flight together, each record's two fsyncs
   * under a repair's load (5-90 ms) would otherwise queue one behind another.
   */
  private checkpointAsync(): Promise<void> {
    if (this.transient) return Promise.resolve();
    // A write still waiting for the one before it takes the state as it is when it starts: this ask's too.
    if (this.stateQueued) return this.stateQueued;
    this.stateWrites++;
    const written = this.stateWrite
      .then(() => {
        this.stateQueued = undefined;
        this.snapshotClock();
        return saveStateAsync(this.pool.root, this.state);
      })
      .finally(() => this.stateWrites--);
    this.stateQueued = written;
    this.stateWrite = written.catch(() => undefined);
    this.lastCheckpoint = Date.now();
    return written;
  }

  /** The pass's clock and cursor into the state, as a checkpoint saves them. */
  private snapshotClock(): void {
    const running = !!this.activeSince;
    this.stopClock();
    if (running) this.startClock();
    this.state.current = this.current;
  }

  async run(): Promise<PassReport> {
    const pool = this.pool;
    const startedMs = Date.now();
    this.state = loadState(pool.root, pool.config.id);
    if (this.opts.onlyKnown) this.known = knownScope(this.state.openProblems);
    if (this.depth === 'light') {
      this.rot = deepOnlyShards(this.state.openProblems);
      if (!this.known) this.watch = new Set(this.state.openProblems.filter((p) => p.extent && DEEP_ONLY_KINDS.has(p.kind)).map((p) => p.extent!));
    }
    const prev = this.state.current;
    const resumed = !!(!this.transient && this.opts.resume && prev && prev.mode === this.opts.mode);
    this.current = resumed
      ? { ...prev! }
      : {
          id: randomUUID(),
          mode: this.opts.mode,
          runner: this.opts.runner,
          startedAt: new Date(startedMs).toISOString(),
          cursor: '',
          extentsTotal: 0,
          extentsDone: 0,
          bytesTotal: 0,
          bytesDone: 0,
          issuesFound: 0,
          repairsAttempted: 0,
          repairsSuccessful: 0,
          health: zeroHealth(),
          activeSeconds: 0,
        };
    if (this.status === 'idle') this.status = 'running';
    // A paused daemon restarted stays paused before it reads anything.
    await this.waitWhilePaused();
    if (this.cancelling()) {
      return this.finish(true, resumed);
    }
    // Workers boot (load their modules) while this thread reads the manifests.
    const dirs: string[] = [];
    for (const d of pool.disks) dirs[d.index] = extentsDir(d.path);
    this.workers = new VerifyWorkers(pacingFor(this.intensity).parallel > 1 ? pacingFor('max').parallel : 1, dirs);
    const strays: StrayFile[] = [];
    const orphans: ExtentPlan[] = [];
    try {
      const countPrelude = !this.current.preludeCounted;
      // Only a deep repair pass over every extent can say a replaced disk holds all that belongs on it.
      this.resilvering = !this.transient && this.opts.mode === 'repair' && pool.disks.some((d) => d.state === 'rebuilding');
      this.checkDisks(countPrelude);
      const writable = new Set(writableDisks(pool).map((d) => d.index));
      const index = (this.index = buildExtentIndex(pool, (o) => this.checkManifest(o, countPrelude, writable)));
      this.current.extentsTotal = this.known ? this.known.extents.size : index.extents;
      this.current.bytesTotal = this.known || this.depth === 'light' ? 0 : index.bytes;
      this.current.preludeCounted = true;
      if (this.resilvering) this.resilver = new ResilverOrder(this.schemes);
      this.checkpoint(true);
      strays.push(...topLevelStrays(pool));
      await this.scrubExtents(index, strays, orphans);
    } finally {
      // Whatever stopped the pass, no state write through the pool lands after the ones that follow.
      await this.stateWrite;
      await this.workers.close();
      this.workers = undefined;
      if (this.index) removeExtentIndex(this.index);
      this.index = undefined;
    }
    this.stopClock();

    const cancelled = this.cancelling();
    if (!cancelled) this.reportOrphansAndStrays(orphans, strays, startedMs);
    return this.finish(cancelled, resumed);
  }

  /**
   * Plans in id order, one fan-out directory listed at a time, from just after
   * the cursor; in a resilver, once per phase, the most endangered extents first.
   */
  private *plans(index: ExtentIndex, strays: StrayFile[], orphans: ExtentPlan[]): Generator<ExtentPlan> {
    const order = this.resilver;
    const first = order ? Math.min(this.current.phase ?? 0, order.phases - 1) : 0;
    const phases = order ? order.phases : 1;
    for (let phase = first; phase < phases; phase++) {
      const last = phase === phases - 1;
      const cursor = phase === first ? this.current.cursor : '';
      // Strays and orphans are gathered once, in the walk that sees everything.
      for (const plans of listPrefixes(this.pool, index, last ? strays : [], cursor.slice(0, 2))) {
        for (const plan of plans) {
          if (plan.id <= cursor) continue;
          if (this.known && !this.known.extents.has(plan.id)) continue;
          if (!plan.scheme) {
            if (last && !this.known && orphans.length < MAX_REPORTED) orphans.push(plan);
            continue;
          }
          if (order && !order.take(plan, phase)) continue;
          yield order ? { ...plan, phase } : plan;
        }
      }
    }
  }

  private async scrubExtents(index: ExtentIndex, strays: StrayFile[], orphans: ExtentPlan[]): Promise<void> {
    // A resilver orders extents by danger and --only-known picks a few: both need the listing here. Any other pass lets the threads list.
    const next = this.resilver || this.known ? this.planOperations(index, strays, orphans) : this.rangeOperations(index, strays, orphans);
    const workers = this.workers!;
    let exhausted = false;
    const inFlight: InFlight[] = [];
    const start = (p: Promise<Operation>): InFlight => {
      const f: InFlight = { promise: p };
      p.then((op) => (f.op = op), () => undefined);
      return f;
    };
    const batches: RepairBatch[] = [];
    const foldOldest = async () => {
      const b = batches.shift()!;
      this.fold(b.ops, await b.repaired);
      this.opts.onProgress?.(this.progress());
      this.checkpoint();
    };
    for (;;) {
      if (this.cancelling()) {
        // Finish what is in hand, so the cursor stays exact.
        for (const f of inFlight.splice(0)) batches.push(this.startRepairs([await f.promise]));
        while (batches.length) await foldOldest();
        break;
      }
      // What is done is folded before a pause: status and the checkpoint show all of it.
      if (this.status === 'paused') while (batches.length) await foldOldest();
      await this.waitWhilePaused();
      if (this.cancelling()) continue;
      if (this.opts.beforeOperation) await this.opts.beforeOperation();
      // A pause or stop that came while held back takes effect before the next operation.
      if ((this.status as string) === 'paused' || this.cancelling()) continue;
      const pacing = pacingFor(this.intensity, this.depth);
      workers.nice = pacing.verifyNice;
      const unpaced = pacing.pauseMs === 0;
      const parallel = Math.min(pacing.parallel, workers.size);
      // Unpaced, each thread gets more operations to start on while the main thread folds the first (they
      // are folded in order: with two each, a thread that finished both idled ~5% of a warm pass waiting
      // on the other's), and a repair pass's repairs of many operations go to disk together.
      const depth = unpaced ? (this.opts.mode === 'repair' ? REPAIR_DEPTH : VERIFY_DEPTH) * parallel : parallel;
      const perWorker = this.maxRate > 0 ? this.maxRate / parallel : 0;
      const refill = () => {
        while (!exhausted && inFlight.length < depth) {
          const op = next(pacing, perWorker);
          if (op) inFlight.push(start(op));
          else exhausted = true;
        }
      };
      refill();
      const head = inFlight.shift();
      if (!head) break;
      const ops = [await head.promise];
      // Operations done behind it join its batch: one checkpoint, one round of fsyncs. Unpaced, a batch
      // that has repairs to make waits for more, up to its byte budget.
      const joins = () => inFlight.length > 0 && ops.length < depth && repairBytes(ops) < MAX_REPAIR_BATCH_BYTES && (!!inFlight[0].op || (unpaced && repairBytes(ops) > 0));
      while (joins()) ops.push(await inFlight.shift()!.promise);
      // Unpaced, the threads go on with the next operations while this batch's repairs go to disk.
      if (unpaced) refill();
      batches.push(this.startRepairs(ops));
      // Unpaced, the next batch's repairs start while this one's are still on their way to disk; a batch
      // with none is folded at once.
      const keep = unpaced ? REPAIR_BATCHES_IN_FLIGHT - 1 : 0;
      while (batches.length > keep || (batches.length > 0 && !batches[0].writing)) await foldOldest();
      // The pause is the table's per extentsPerOp extents: a slice holds as many on average, but in
      // a small pool a prefix holds fewer (or none), and a whole pause after each would slow the pass.
      const checked = ops.reduce((n, op) => n + (op.verdicts?.length ?? 0) + (op.healthy ?? 0), 0);
      if (pacing.pauseMs > 0 && checked > 0 && !(exhausted && inFlight.length === 0)) await this.sleep((pacing.pauseMs * checked) / pacing.extentsPerOp);
    }
    while (batches.length) await foldOldest();
  }

  /** Operations of listed plans, `extentsPerOp` at a time. */
  private planOperations(index: ExtentIndex, strays: StrayFile[], orphans: ExtentPlan[]): NextOperation {
    const source = this.plans(index, strays, orphans);
    return (pacing, bytesPerSecond) => {
      const plans: ExtentPlan[] = [];
      while (plans.length < pacing.extentsPerOp) {
        const r = source.next();
        if (r.done) break;
        plans.push(r.value);
      }
      if (plans.length === 0) return undefined;
      return this.workers!.verify(plans, bytesPerSecond, pacing.tranquility, this.depth, this.opts.mode === 'repair').then((a) => ({ plans, verdicts: a.result, rebuilt: a.rebuilt }));
    };
  }

  /**
   * Operations of id slices, each listed and checked by a thread (see
   * range-check.ts), prefix by prefix from the cursor on; a prefix is cut
   * when the thread starts it, by the pacing of the moment.
   */
  private rangeOperations(index: ExtentIndex, strays: StrayFile[], orphans: ExtentPlan[]): NextOperation {
    const walk: Walk = { disks: listedDisks(this.pool), index: { dir: index.dir, schemes: index.schemes, packed: index.packed } };
    const after = this.current.cursor;
    const verbatim = this.verbatimIds();
    let p = PREFIXES.findIndex((prefix) => prefix >= after.slice(0, 2));
    let queue: IdRange[] = [];
    let firstOfPrefix = false;
    // Cold and unpaced, the files of the prefixes ahead are read ahead, up to READ_AHEAD_BYTES (see prefetch.ts).
    let fetchedTo = p;
    return (pacing, bytesPerSecond) => {
      while (queue.length === 0) {
        if (p < 0 || p >= PREFIXES.length) return undefined;
        queue = splitPrefix(PREFIXES[p], rangeParts(index.prefixExtents[p], index.prefixBytes[p], pacing, this.depth)).filter((r) => r.hi === '' || r.hi > after);
        firstOfPrefix = true;
        p++;
        if (this.depth === 'deep' && pacing.pauseMs === 0 && pacing.tranquility === 0 && bytesPerSecond <= 0 && this.workers!.cold) {
          fetchedTo = Math.max(fetchedTo, p);
          let ahead = 0;
          for (let q = p; q < fetchedTo; q++) ahead += index.prefixBytes[q];
          while (fetchedTo < PREFIXES.length && ahead < READ_AHEAD_BYTES) {
            // Where an extent's files (two at least) may average 1 MiB, the threads read some directly: an fstat
            // of each file read ahead leaves those out. Elsewhere it would only cost a trip through the pool.
            const maybeDirect = index.prefixBytes[fetchedTo] / Math.max(1, index.prefixExtents[fetchedTo]) / 2 >= MIN_DIRECT_FILE;
            this.workers!.readAhead(PREFIXES[fetchedTo], maybeDirect);
            ahead += index.prefixBytes[fetchedTo++];
          }
        }
      }
      const range = queue.shift()!;
      const ask: RangeRequest = { walk, range, after, strays: firstOfPrefix, verbatim: verbatim.get(range.prefix) ?? [] };
      firstOfPrefix = false;
      return this.workers!.checkRange(ask, bytesPerSecond, pacing.tranquility, this.depth, this.opts.mode === 'repair').then((a): Operation => {
        const r = a.result;
        if (!r) return { plans: [], verdicts: null };
        strays.push(...r.strays);
        for (const o of r.orphans) if (orphans.length < MAX_REPORTED) orphans.push(o);
        return { plans: r.plans, verdicts: r.verdicts, healthy: r.healthy, healthyBytes: r.healthyBytes, lastId: r.lastId, rebuilt: a.rebuilt };
      });
    };
  }

  /** Extents whose verdicts this pass needs in full even when healthy, by prefix: what known-problems and pending repairs follow. */
  private verbatimIds(): Map<string, string[]> {
    const ids = new Set<string>([...(this.rot?.keys() ?? []), ...(this.watch ?? []), ...(this.current.pendingRepairs ?? []).map((p) => p.extent)]);
    const byPrefix = new Map<string, string[]>();
    for (const id of ids) {
      const prefix = id.slice(0, 2);
      const list = byPrefix.get(prefix);
      if (list) list.push(id);
      else byPrefix.set(prefix, [id]);
    }
    return byPrefix;
  }

  /** Counts the repairs an interrupted run made on this extent after its last checkpoint. */
  private countInterruptedRepairs(v: ExtentVerdict, plan: ExtentPlan): void {
    const pending = this.current.pendingRepairs?.find((p) => p.extent === v.id);
    if (!pending) return;
    this.current.pendingRepairs = this.current.pendingRepairs!.filter((p) => p !== pending);
    for (const p of pending.shards) {
      const now = v.shards.find((s) => s.index === p.index && s.status === 'ok');
      if (!now) continue; // still broken: this run finds and counts it
      this.countIssue(true, {
        kind: p.kind,
        severity: 'problem',
        extent: v.id,
        shard: p.index,
        disk: now.disk,
        path: p.path || now.path,
        detail: 'repaired by the interrupted pass before it stopped',
        objects: this.objectsOf(plan),
        action: 'rebuilt',
        result: 'repaired',
      });
    }
  }

  /** Names of the objects that reference an extent, for findings. */
  private objectsOf(plan: ExtentPlan): string[] {
    return this.index && plan.objects ? objectNames(this.index, plan.objects) : [];
  }

  /**
   * Starts the repairs of a batch of operations (in repair mode): what must be
   * rebuilt is recorded and saved first, so a kill mid-repair loses no count
   * (see countInterruptedRepairs). An operation a cancel cut short ends the
   * batch, and every later one: the cursor stays before it, and what follows
   * it is done again on resume.
   */
  private startRepairs(batch: Operation[]): RepairBatch {
    const cut = this.cut ? 0 : batch.findIndex((op) => !op.verdicts);
    if (cut >= 0) this.cut = true;
    const ops = cut >= 0 ? batch.slice(0, cut) : batch;
    for (const op of ops) op.verdicts!.forEach((v, i) => this.countInterruptedRepairs(v, op.plans[i]));
    const toRepair = this.opts.mode === 'repair' ? ops.flatMap((op) => op.verdicts!.filter(needsRebuild)) : [];
    // The threads' memory a rebuilt shard holds goes back once the batch is written, or at once when nothing is (cut).
    const release = () => batch.forEach((op) => op.rebuilt?.forEach(releaseRebuilt));
    if (toRepair.length === 0) {
      release();
      return { ops, repaired: Promise.resolve(new Map()), writing: false };
    }
    // (Entries an interrupted run left for extents not reached yet stay until those are seen.)
    this.current.pendingRepairs = [...(this.current.pendingRepairs ?? []), ...toRepair.map((v) => ({
      extent: v.id,
      shards: v.shards.filter(isBroken).map((s) => ({ index: s.index, kind: KIND[s.status] ?? s.status, path: s.path, disk: s.disk >= 0 ? s.disk : undefined })),
    }))];
    // Nothing is kept, moved or renamed into place before the record of what will be is on disk (repairExtents).
    const recorded = this.checkpointAsync();
    const rebuilt = new Map<string, Rebuilt>();
    for (const op of ops) for (const [id, r] of op.rebuilt ?? []) rebuilt.set(id, r);
    const repaired = repairExtents(this.pool, toRepair, this.current.id, rebuilt, recorded)
      .then((results): RepairsOf => new Map(toRepair.map((v, i) => [v.id, results[i]])));
    repaired.finally(release).catch(() => undefined);
    // A failure surfaces where the batch is folded; until then it is not an unhandled rejection.
    repaired.catch(() => undefined);
    return { ops, repaired, writing: true };
  }

  /**
   * Folds a batch's verdicts into findings, repairs, counters and the cursor,
   * in id order. The repairs' counts and the cursor past them are saved
   * together, and the pending record goes, at the next checkpoint: until then
   * a kill finds the record, and the resumed pass counts these repairs.
   */
  private fold(ops: Operation[], repairsOf: RepairsOf): void {
    for (const op of ops) this.foldOperation(op, repairsOf);
    if (repairsOf.size > 0) {
      const left = (this.current.pendingRepairs ?? []).filter((p) => !repairsOf.has(p.extent));
      if (left.length) this.current.pendingRepairs = left;
      else delete this.current.pendingRepairs;
    }
  }

  /** One operation's verdicts and counts, with the repairs made of them. */
  private foldOperation(op: Operation, repairsOf: RepairsOf): void {
    const plans = op.plans;
    const verdicts = op.verdicts!;
    for (let i = 0; i < verdicts.length; i++) {
      const v = verdicts[i];
      const plan = plans[i];
      const rot = this.rot?.get(v.id);
      const scheme = rot && v.scheme ? parseScheme(v.scheme) : undefined;
      // In a light pass, the shards a deep pass found rotten still count as broken.
      const verdictHealth = scheme ? healthWithout(v.health, v, rot!, scheme) : v.health;
      let health: Health = verdictHealth;
      const broken = v.shards.filter(isBroken);
      const repairs = repairsOf.get(v.id) ?? new Map<ShardResult, RepairOutcome>();
      const allMissing = v.shards.every((s) => s.status === 'missing');
      // Named from the index's names file once, and only when a finding needs them.
      let names: string[] | undefined;
      const objects = () => (names ??= this.objectsOf(plan));
      if (allMissing) {
        this.countIssue(true, {
          kind: 'extent-missing',
          severity: 'problem',
          extent: v.id,
          path: plan.files[0]?.path ?? this.expectedPath(v.id, 0),
          detail: `no shard of this extent exists on any online disk; named by ${objects().join(', ')}`,
          objects: objects(),
          health: 'unrecoverable',
          action: 'none',
          result: 'left',
        });
      } else {
        for (const s of v.shards) {
          if (s.status === 'duplicate') {
            this.record({ kind: 'duplicate-shard', severity: 'info', extent: v.id, shard: s.index, disk: s.disk, path: s.path, detail: s.detail ?? '', action: 'none', result: 'info' });
            continue;
          }
          if (!isBroken(s)) continue;
          const r = repairs.get(s);
          this.countIssue(true, {
            kind: KIND[s.status] ?? s.status,
            severity: 'problem',
            extent: v.id,
            shard: s.index,
            disk: r && r.disk >= 0 ? r.disk : s.disk >= 0 ? s.disk : this.expectedDisk(v.id, s.index),
            path: s.path || r?.path || this.expectedPath(v.id, s.index),
            detail: r && !r.ok ? `${s.detail ?? ''}; repair failed: ${r.detail}` : (s.detail ?? ''),
            objects: objects(),
            health: verdictHealth,
            action: r ? r.action : 'none',
            result: r ? (r.ok ? 'repaired' : 'failed') : 'left',
            quarantine: r?.quarantine,
          }, !!r?.writeFailed);
        }
      }
      if (broken.length > 0 && repairs.size === broken.length && [...repairs.values()].every((r) => r.ok)) health = 'healthy';
      if (scheme && health === 'healthy') health = healthWithout(health, v, rot!, scheme);
      if (this.known || this.watch?.has(v.id)) this.seen.set(v.id, health);
      this.current.health[health]++;
      this.current.extentsDone++;
      this.current.bytesDone += v.bytesRead;
      this.state.counters.extentsScanned++;
      this.state.counters.bytesRead += v.bytesRead;
      if (plan.phase !== undefined && plan.phase !== this.current.phase) this.current.phase = plan.phase;
      this.current.cursor = v.id;
    }
    if (op.healthy) {
      this.current.health.healthy += op.healthy;
      this.current.extentsDone += op.healthy;
      this.current.bytesDone += op.healthyBytes!;
      this.state.counters.extentsScanned += op.healthy;
      this.state.counters.bytesRead += op.healthyBytes!;
    }
    if (op.lastId && op.lastId > this.current.cursor) this.current.cursor = op.lastId;
  }

  /** The disk a shard would normally sit on (placement over all the pool's disks), for naming a missing one. */
  private expectedDisk(id: string, index: number): number {
    return (rankDisks(id, this.pool.disks)[index] ?? this.pool.disks[0]).index;
  }

  private expectedPath(id: string, index: number): string {
    return shardPath(this.pool.disks[this.expectedDisk(id, index)].path, id, index);
  }

  private checkDisks(count: boolean): void {
    for (const d of this.pool.disks) {
      for (const other of d.claimedBy ?? []) {
        this.countIssue(count, { kind: 'disk-claimed', severity: 'info', disk: d.index, path: d.path, detail: `the pool at ${other} names this disk too; it is refused there and never touched by it`, action: 'none', result: 'info' });
      }
      if (d.state === 'online') continue;
      const kind = `disk-${d.state === 'foreign' ? 'foreign-label' : d.state}`;
      // A read-only disk is still read; a rebuilding one is being filled: neither is a problem in itself.
      const info = d.state === 'read-only' || d.state === 'rebuilding';
      this.countIssue(count, {
        kind,
        severity: info ? 'info' : 'problem',
        disk: d.index,
        path: d.path,
        detail: d.detail ?? (d.state === 'rebuilding' ? 'replaced disk: a repair pass rebuilds what belongs here' : d.state),
        action: 'none',
        result: info ? 'info' : 'left',
      });
    }
  }

  /** Judges (and in repair mode mends) the copies of one object's manifest. */
  private checkManifest(o: ObjectEntry, count: boolean, writable: Set<number>): void {
    this.objects.total++;
    if (o.manifest) this.schemes.add(o.manifest.scheme);
    else if (!this.summaryDropped) {
      // Damage written in place does not show in the manifest fingerprint: the saved summary may still count it readable.
      this.summaryDropped = true;
      dropSummary(this.pool);
    }
    if (this.known && !this.known.manifests.has(o.fileName)) return;
    if (!o.manifest) {
      this.objects.unreadable++;
      this.countIssue(count, {
        kind: 'manifest-unrecoverable',
        severity: 'problem',
        path: o.copies.find((c) => c.problem !== 'missing')?.path ?? o.fileName,
        detail: `every copy of this manifest is damaged: ${o.copies.map((c) => `disk ${c.disk.index}: ${c.problem}`).join('; ')}`,
        health: 'unrecoverable',
        action: 'none',
        result: 'left',
      });
      return;
    }
    const best = o.manifest;
    for (const c of o.copies) {
      const stale = !c.problem && c.created !== undefined && c.created < best.created;
      if (!c.problem && !stale) continue;
      const kind = c.problem === 'missing' ? 'manifest-copy-missing' : stale ? 'manifest-stale' : c.problem?.startsWith('unreadable') ? 'manifest-unreadable' : 'manifest-damaged';
      const canRepair = this.opts.mode === 'repair' && writable.has(c.disk.index);
      const r = canRepair ? repairManifestCopy(this.pool, c, best, this.current.id) : undefined;
      this.countIssue(count, {
        kind,
        severity: 'problem',
        disk: c.disk.index,
        path: c.path,
        detail: `manifest of ${best.name}: ${c.problem ?? 'older than another copy'}${r && !r.ok ? `; repair failed: ${r.detail}` : ''}`,
        objects: [best.name],
        action: r ? r.action : 'none',
        result: r ? (r.ok ? 'repaired' : 'failed') : 'left',
        quarantine: r?.quarantine,
      }, !!r?.writeFailed);
    }
  }

  /**
   * Orphans are judged at the end against manifests read again, and only when
   * every file is older than the pass: a put may have been in flight.
   */
  private reportOrphansAndStrays(orphans: ExtentPlan[], strays: StrayFile[], startedMs: number): void {
    const named = new Set<string>();
    if (orphans.length) {
      const ids = new Set(orphans.map((o) => o.id));
      eachObject(this.pool, (o) => {
        for (const e of o.manifest?.extents ?? []) if (ids.has(e.id)) named.add(e.id);
      });
    }
    for (const e of orphans) {
      if (named.has(e.id)) continue;
      const old = e.files.every((f) => {
        try {
          return fs.lstatSync(f.path).mtimeMs < startedMs;
        } catch {
          return false;
        }
      });
      if (!old) continue;
      for (const f of e.files) {
        this.record({ kind: 'orphan-shard', severity: 'info', extent: e.id, shard: f.index, disk: f.disk, path: f.path, detail: 'no manifest references this extent (dfs-pool gc quarantines it)', action: 'none', result: 'info' });
      }
    }
    for (const s of strays) {
      this.record({ kind: s.kind, severity: 'info', disk: s.disk, path: s.path, detail: s.detail, action: 'none', result: 'info' });
    }
  }

  private finish(cancelled: boolean, resumed: boolean): PassReport {
    const c = this.current;
    const finishedMs = Date.now();
    const problemsLeft = this.issues.some((f) => f.result !== 'repaired') || c.issuesFound > c.repairsSuccessful;
    const outcome: PassOutcome = cancelled ? 'cancelled' : problemsLeft ? 'problems' : c.issuesFound > 0 ? 'repaired' : 'clean';
    const exitCode = cancelled ? EXIT.CANCELLED : problemsLeft ? EXIT.PROBLEMS_LEFT : c.issuesFound > 0 ? EXIT.REPAIRED : EXIT.OK;
    const durationSeconds = (finishedMs - Date.parse(c.startedAt)) / 1000;
    if (cancelled) {
      if (this.transient) saveState(this.pool.root, this.state);
      else this.checkpoint(true);
    } else {
      const summary: PassSummary = {
        id: c.id,
        mode: c.mode,
        ...(this.depth === 'light' ? { depth: this.depth } : {}),
        runner: c.runner,
        startedAt: c.startedAt,
        finishedAt: new Date(finishedMs).toISOString(),
        durationSeconds,
        outcome,
        exitCode,
        extentsScanned: c.extentsDone,
        bytesRead: c.bytesDone,
        issuesFound: c.issuesFound,
        repairsAttempted: c.repairsAttempted,
        repairsSuccessful: c.repairsSuccessful,
        health: { ...c.health },
      };
      const open: OpenProblem[] = this.issues
        .filter((f) => f.result !== 'repaired')
        .slice(0, MAX_OPEN_PROBLEMS)
        .map((f) => ({ extent: f.extent, shard: f.shard, disk: f.disk === undefined ? undefined : String(f.disk), path: f.path, kind: f.kind, health: f.health === 'healthy' ? undefined : f.health, seenAt: summary.finishedAt }));
      if (this.known) {
        ({ open: this.state.openProblems, health: this.state.health } = foldKnownPass(this.state.openProblems, open, this.state.health, this.seen, this.known, this.depth === 'light'));
        this.state.openProblems = this.state.openProblems.slice(0, MAX_OPEN_PROBLEMS);
      } else if (this.depth === 'light') {
        ({ open: this.state.openProblems, health: this.state.health } = foldLightPass(this.state.openProblems, open, c.health, this.seen));
        this.state.openProblems = this.state.openProblems.slice(0, MAX_OPEN_PROBLEMS);
        this.state.lastLight = summary;
      } else {
        this.state.lastPass = summary;
        this.state.health = { ...c.health };
        this.state.openProblems = open;
        this.state.oldestVerifiedAt = c.startedAt;
        this.state.counters.scrubsCompleted++;
        delete this.state.current;
      }
      saveState(this.pool.root, this.state);
    }
    // After the state is saved: a crash in between leaves the disk rebuilding, and the next pass redoes it.
    const resilver = !cancelled && this.resilvering ? finishResilver(this.pool, c) : undefined;
    const errors = errorsSinceCleared(this.pool.root, this.state.diskErrors, this.pool.disks.map((d) => d.id));
    this.status = 'done';
    return {
      schema: 1,
      pool: this.pool.root,
      poolId: this.pool.config.id,
      pass: c.id,
      mode: c.mode,
      depth: this.depth,
      scope: this.known ? 'known' : 'all',
      runner: this.opts.runner,
      intensity: this.intensity,
      resumed,
      startedAt: c.startedAt,
      finishedAt: new Date(finishedMs).toISOString(),
      durationSeconds,
      outcome,
      exitCode,
      bytesRead: c.bytesDone,
      extents: {
        total: c.extentsTotal,
        scanned: c.extentsDone,
        ...c.health,
        orphaned: new Set(this.info.filter((f) => f.kind === 'orphan-shard').map((f) => f.extent)).size,
      },
      objects: {
        total: this.objects.total,
        manifestCopiesBad: this.issues.filter((f) => f.kind.startsWith('manifest-') && f.kind !== 'manifest-unrecoverable').length,
        unreadable: this.objects.unreadable,
      },
      repairs: { attempted: c.repairsAttempted, successful: c.repairsSuccessful },
      disks: this.pool.disks.map((d) => ({
        index: d.index,
        id: d.id,
        path: d.path,
        state: resilver?.disks.find((r) => r.id === d.id)?.complete ? 'online' : d.state,
        errors: { read: errors[d.id].read, checksum: errors[d.id].checksum, write: errors[d.id].write },
        ...(d.claimedBy ? { claimedBy: d.claimedBy } : {}),
      })),
      ...(resilver ? { resilver } : {}),
      issues: this.issues,
      info: this.info,
    };
  }
}

import path from 'node:path';
import { writeFileAtomicAsync, writeJsonAtomic } from '../core/atomic-file';
import { fsFailure, operationalError } from '../core/errors';
import { stateDir } from '../core/layout';
import { readStateText } from '../core/safe-fs';
import type { DiskErrors } from './disk-errors';

// The persisted scrub state: what `status`, the daemon and the metrics read
// without a scrub running. Counters and the pass cursor live in one file, saved
// atomically together, so a crash can neither lose nor double a count.

export const STATE_FILE = 'scrub-state.json';
export const STATE_SCHEMA = 1;

export interface HealthCounts {
  healthy: number;
  degraded: number;
  unrecoverable: number;
}

/** Cumulative over the pool's life; never go down. */
export interface ScrubCounters {
  scrubsCompleted: number;
  issuesFound: number;
  repairsAttempted: number;
  repairsSuccessful: number;
  extentsScanned: number;
  bytesRead: number;
}

export type PassMode = 'verify' | 'repair';
export type PassOutcome = 'clean' | 'repaired' | 'problems' | 'cancelled' | 'failed';

export interface PassSummary {
  id: string;
  mode: PassMode;
  /** 'light' for a light pass; absent for a deep one (every byte proven). */
  depth?: 'light';
  /** Who ran it: 'dfs-scrub', 'dfs-scrubd', 'schedule'. */
  runner: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  outcome: PassOutcome;
  exitCode: number;
  extentsScanned: number;
  bytesRead: number;
  issuesFound: number;
  repairsAttempted: number;
  repairsSuccessful: number;
  health: HealthCounts;
}

/** A pass in progress (or interrupted): enough to resume it exactly. */
export interface CurrentPass {
  id: string;
  mode: PassMode;
  runner: string;
  startedAt: string;
  /** Extent ids are scrubbed in ascending order; everything <= cursor is done (in this phase). */
  cursor: string;
  /** A resilver's phase (see resilver.ts): the cursor runs through the pool once per phase. */
  phase?: number;
  /** A resilver's problems left unrepaired so far (not on unrecoverable extents): the disk stays rebuilding. */
  resilverLeft?: number;
  extentsTotal: number;
  extentsDone: number;
  bytesTotal: number;
  bytesDone: number;
  issuesFound: number;
  repairsAttempted: number;
  repairsSuccessful: number;
  health: HealthCounts;
  /** Seconds spent scrubbing so far (excludes time stopped), for rate and ETA. */
  activeSeconds: number;
  /** Disk and manifest checks of this pass are done and counted (not again on resume). */
  preludeCounted?: boolean;
  /**
   * The shards a repair was about to rewrite, saved before it wrote them: a
   * resumed pass counts those it finds intact as repaired, so a kill between
   * a repair and the next checkpoint loses no count.
   */
  pendingRepairs?: { extent: string; shards: { index: number; kind: string; path: string; disk?: number }[] }[];
}

export interface OpenProblem {
  extent?: string;
  shard?: number;
  disk?: string;
  path: string;
  kind: string;
  health?: 'degraded' | 'unrecoverable';
  seenAt: string;
}

export interface ScrubState {
  schema: number;
  poolId: string;
  updatedAt: string;
  counters: ScrubCounters;
  /** Extents by health as of the latest finished pass (or the pass so far). */
  health: HealthCounts;
  /** The latest completed deep pass (every byte proven). */
  lastPass?: PassSummary;
  /** The latest completed light pass (headers and sizes). */
  lastLight?: PassSummary;
  current?: CurrentPass;
  /** When every extent had last been verified at the latest: the least recent verification. */
  oldestVerifiedAt?: string;
  openProblems: OpenProblem[];
  /** Errors per disk id over the pool's life (shown less the clear-errors baseline). */
  diskErrors?: DiskErrors;
}

export const MAX_OPEN_PROBLEMS = 1000;
/** Far above what MAX_OPEN_PROBLEMS and the counters take (~1 MB). */
const MAX_STATE_BYTES = 16 * 1024 * 1024;

export const zeroHealth = (): HealthCounts => ({ healthy: 0, degraded: 0, unrecoverable: 0 });
export const zeroCounters = (): ScrubCounters => ({
  scrubsCompleted: 0,
  issuesFound: 0,
  repairsAttempted: 0,
  repairsSuccessful: 0,
  extentsScanned: 0,
  bytesRead: 0,
});

export const stateFile = (root: string) => path.join(stateDir(root), STATE_FILE);

export function emptyState(poolId: string): ScrubState {
  return {
    schema: STATE_SCHEMA,
    poolId,
    updatedAt: new Date().toISOString(),
    counters: zeroCounters(),
    health: zeroHealth(),
    openProblems: [],
  };
}

/** Reads the state; a pool never scrubbed has an empty one. A corrupt file is an error, never silently reset. */
export function loadState(root: string, poolId: string): ScrubState {
  const file = stateFile(root);
  let text: string | undefined;
  try {
    // Capped, never through a link, never blocking on a FIFO: a hostile state file is an error, not a hang.
    text = readStateText(file, MAX_STATE_BYTES);
  } catch (err) {
    throw fsFailure('cannot read scrub state', file, err);
  }
  if (text === undefined) return emptyState(poolId);
  let s: ScrubState;
  try {
    s = JSON.parse(text) as ScrubState;
  } catch {
    throw operationalError(`corrupt scrub state ${file}: not valid JSON (move it aside to start afresh)`);
  }
  if (typeof s !== 'object' || s === null || s.schema !== STATE_SCHEMA || typeof s.counters !== 'object' || s.counters === null) {
    throw operationalError(`corrupt scrub state ${file}: unsupported schema ${JSON.stringify(s.schema)}`);
  }
  return { ...emptyState(poolId), ...s, counters: { ...zeroCounters(), ...s.counters } };
}

export function saveState(root: string, state: ScrubState): void {
  state.updatedAt = new Date().toISOString();
  writeJsonAtomic(stateFile(root), state);
}

/**
 * saveState through the thread pool: the state as it is at the call.
 * Resolves once it is on disk; the caller keeps two from racing to the rename.
 */
export async function saveStateAsync(root: string, state: ScrubState): Promise<void> {
  state.updatedAt = new Date().toISOString();
  await writeFileAtomicAsync(stateFile(root), Buffer.from(JSON.stringify(state, null, 2) + '\n'));
}

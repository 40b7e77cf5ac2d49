import { readStateText } from '../core/safe-fs';
import path from 'node:path';
import { writeJsonAtomic } from '../core/atomic-file';
import { fsFailure, operationalError } from '../core/errors';
import { stateDir } from '../core/layout';
import { NAMED_FREQUENCIES, NamedFrequency } from './frequency';
import { ScheduleIntensity } from './settings';
import { INTENSITIES } from '../scrub/pacing';
import type { Depth } from '../scrub/verify';

// Without systemd the schedule lives with the pool (POOL/.dynamicfs), so it
// travels with the pool into a container, and `dfs-scrub-schedule run` needs
// nothing but --pool. The run log beside it is what Persistent=true's stamp
// file is for a timer: the memory of the last run that catch-up compares to.

export const SCHEDULE_FILE = 'schedule.json';
export const LIGHT_SCHEDULE_FILE = 'schedule-light.json';
export const RUNS_FILE = 'schedule-runs.json';
export const SCHEDULE_FORMAT = 1;
/** Enough history to see a pattern, small enough to rewrite on every run. */
export const MAX_RECORDS = 200;

export const scheduleFile = (root: string, depth: Depth = 'deep') => path.join(stateDir(root), depth === 'light' ? LIGHT_SCHEDULE_FILE : SCHEDULE_FILE);
export const runsFile = (root: string) => path.join(stateDir(root), RUNS_FILE);

export interface StoredSchedule {
  format: number;
  pool: string;
  poolId: string;
  /** Absent in files written before light schedules: those are deep. */
  depth?: Depth;
  frequency: NamedFrequency | 'custom';
  /** The --frequency value as given. */
  source: string;
  /** Normalized systemd calendar (shown to humans, re-parsed by the runner). */
  calendar: string;
  /** The node-cron expression the runner schedules. */
  cron: string;
  utc: boolean;
  randomizedDelaySec: number;
  intensity: ScheduleIntensity;
  autoRepair: boolean;
  updatedAt: string;
  /** When this calendar took effect: slots before it are not caught up. */
  calendarSince: string;
}

export type RunTrigger = 'schedule' | 'catch-up';

export interface RunRecord {
  kind: 'run';
  depth?: Depth;
  trigger: RunTrigger;
  /** The calendar slot this run is for. */
  slot: string;
  startedAt: string;
  finishedAt?: string;
  exitCode?: number | null;
  signal?: string | null;
  /** Set when the scrubber could not be started at all. */
  error?: string;
}

export interface SkipRecord {
  kind: 'skipped';
  depth?: Depth;
  reason: 'overlap';
  slot: string;
  at: string;
}

export interface RunnerInfo {
  pid: number;
  startedAt: string;
}

export interface RunsLog {
  format: number;
  runner: RunnerInfo | null;
  /** Oldest first; the last MAX_RECORDS. */
  records: (RunRecord | SkipRecord)[];
}

function readJson(file: string): unknown | undefined {
  let text: string | undefined;
  try {
    text = readStateText(file, 4 * 1024 * 1024);
  } catch (err) {
    throw fsFailure('cannot read', file, err);
  }
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw operationalError(`corrupt ${file}: not valid JSON (remove it, then schedule again)`);
  }
}

export function readSchedule(root: string, depth: Depth = 'deep'): StoredSchedule | undefined {
  const file = scheduleFile(root, depth);
  const raw = readJson(file) as Partial<StoredSchedule> | undefined;
  if (raw === undefined) return undefined;
  const ok =
    raw.format === SCHEDULE_FORMAT &&
    typeof raw.calendar === 'string' &&
    typeof raw.cron === 'string' &&
    typeof raw.randomizedDelaySec === 'number' &&
    (INTENSITIES as readonly string[]).includes(String(raw.intensity)) &&
    typeof raw.autoRepair === 'boolean' &&
    ([...NAMED_FREQUENCIES, 'custom'] as string[]).includes(String(raw.frequency)) &&
    typeof raw.calendarSince === 'string' &&
    (raw.depth ?? 'deep') === depth;
  if (!ok) throw operationalError(`corrupt ${file}: missing or bad fields (schedule again to rewrite it)`);
  return { ...raw, depth } as StoredSchedule;
}

export function readRuns(root: string): RunsLog {
  const raw = readJson(runsFile(root)) as Partial<RunsLog> | undefined;
  if (raw === undefined) return { format: SCHEDULE_FORMAT, runner: null, records: [] };
  if (raw.format !== SCHEDULE_FORMAT || !Array.isArray(raw.records)) {
    throw operationalError(`corrupt ${runsFile(root)}: missing or bad fields`);
  }
  return { format: SCHEDULE_FORMAT, runner: raw.runner ?? null, records: raw.records };
}

export function writeRuns(root: string, log: RunsLog): void {
  writeJsonAtomic(runsFile(root), { ...log, records: log.records.slice(-MAX_RECORDS) });
}

/** The last real run (not a skip) of the depth, if any. */
export function lastRun(log: RunsLog, depth: Depth = 'deep'): RunRecord | undefined {
  for (let i = log.records.length - 1; i >= 0; i--) {
    const r = log.records[i];
    if (r.kind === 'run' && (r.depth ?? 'deep') === depth) return r;
  }
  return undefined;
}

import path from 'node:path';
import { openPool, requirePoolOption } from '../core/pool';
import { formatCron } from './cron';
import { Frequency, parseFrequency } from './frequency';
import { parseDelay, parseDepth, parseScheduleIntensity, ScheduleIntensity } from './settings';
import type { Depth } from '../scrub/verify';
import { parseBoolean } from '../core/units';

// A validated request to schedule a pool. Option values are all checked
// (usage errors, exit 16) before the pool is opened (operational, exit 8), so
// a bad value is reported as such even when the pool is also wrong.

export interface ScheduleRequest {
  /** Absolute pool path, as given (not symlink-resolved: it names the unit instance). */
  root: string;
  poolId: string;
  /** Absolute paths of the pool's disk directories. */
  disks: string[];
  depth: Depth;
  frequency: Frequency;
  intensity: ScheduleIntensity;
  autoRepair: boolean;
  randomizedDelaySec: number;
}

export interface RawScheduleOptions {
  pool?: unknown;
  depth?: unknown;
  frequency?: unknown;
  intensity?: unknown;
  'auto-repair'?: unknown;
  'randomized-delay'?: unknown;
}

export const requirePool = (value: unknown): string => path.resolve(requirePoolOption(value));

/** The fields a schedule shows wherever it is described: the stored schedule and a dry run alike. */
export function describeRequest(req: ScheduleRequest) {
  const f = req.frequency;
  return {
    pool: req.root,
    depth: req.depth,
    frequency: f.name,
    calendar: f.calendar,
    cron: formatCron(f.spec),
    utc: f.spec.utc,
    randomizedDelaySec: req.randomizedDelaySec,
    intensity: req.intensity,
    autoRepair: req.autoRepair,
  };
}

export function buildRequest(o: RawScheduleOptions, now = new Date()): ScheduleRequest {
  const root = requirePool(o.pool);
  const depth = parseDepth(o.depth);
  const frequency = parseFrequency(o.frequency, now);
  const intensity = parseScheduleIntensity(o.intensity);
  const autoRepair = parseBoolean(o['auto-repair'], '--auto-repair', false);
  const delay = parseDelay(o['randomized-delay']);
  const pool = openPool(root);
  return {
    root,
    poolId: pool.config.id,
    disks: pool.disks.map((d) => d.path),
    depth,
    frequency,
    intensity,
    autoRepair,
    randomizedDelaySec: delay ?? frequency.randomizedDelaySec,
  };
}

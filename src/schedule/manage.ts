import fs from 'node:fs';
import path from 'node:path';
import { usageError } from '../core/errors';
import { formatTimestamp, nextElapses, parseSystemdCalendar } from './calendar';
import { executePlan, existingRemovals, Plan } from './plan';
import { buildRequest, describeRequest, RawScheduleOptions, requirePool } from './request';
import { planStandaloneApply, planStandaloneRemove } from './standalone';
import { lastRun, readRuns, readSchedule, scheduleFile } from './store';
import { listSystemdConfigs, planSystemdApply, planSystemdRemove, systemdRunning, SystemdTarget } from './systemd';
import { DEFAULT_CONFIG_DIR, DEFAULT_UNIT_DIR } from './units';
import { escapePath } from './escape';
import { DEPTHS, parseDepth } from './settings';
import type { Depth } from '../scrub/verify';

// The three things the CLI does besides running: schedule, remove, list. Each
// picks the backend, builds a Plan, and executes it unless it is a dry run.
// Results are plain data; the CLI decides how to print them.

export type Backend = 'systemd' | 'cron';

export interface Where {
  backend: Backend;
  target: SystemdTarget;
}

export interface WhereOptions {
  backend?: unknown;
  'unit-dir'?: unknown;
  'config-dir'?: unknown;
}

const dirOption = (v: unknown, option: string): string | undefined => {
  if (v === undefined) return undefined;
  if (v === true || v === '') throw usageError(`${option}: missing directory`);
  return path.resolve(String(v));
};

/**
 * systemd when it is PID 1 (or units are being staged with --unit-dir /
 * --config-dir), else the node-cron runner. DFS_SCHEDULE_UNIT_DIR and
 * DFS_SCHEDULE_CONFIG_DIR move the defaults without counting as a redirect.
 */
export function resolveWhere(o: WhereOptions): Where {
  const unitDir = dirOption(o['unit-dir'], '--unit-dir');
  const configDir = dirOption(o['config-dir'], '--config-dir');
  const redirected = unitDir !== undefined || configDir !== undefined;
  const choice = o.backend === undefined ? 'auto' : String(o.backend);
  if (!['auto', 'systemd', 'cron'].includes(choice)) {
    throw usageError(`--backend ${JSON.stringify(choice)}: expected auto|systemd|cron`);
  }
  if (choice === 'cron' && redirected) throw usageError('--unit-dir and --config-dir are for --backend systemd, not cron');
  const backend: Backend = choice === 'auto' ? (redirected || systemdRunning() ? 'systemd' : 'cron') : (choice as Backend);
  const liveConfigDir = path.resolve(process.env.DFS_SCHEDULE_CONFIG_DIR || DEFAULT_CONFIG_DIR);
  return {
    backend,
    target: {
      unitDir: unitDir ?? path.resolve(process.env.DFS_SCHEDULE_UNIT_DIR || DEFAULT_UNIT_DIR),
      configDir: configDir ?? liveConfigDir,
      redirected,
    },
  };
}

export interface FileOut {
  path: string;
  content: string;
  mode: string;
}

export interface ApplyResult {
  dryRun: boolean;
  pool: string;
  backend: Backend;
  depth: Depth;
  frequency: string;
  calendar: string;
  cron: string;
  utc: boolean;
  randomizedDelaySec: number;
  intensity: string;
  autoRepair: boolean;
  /** The systemd timer (systemd backend). */
  timer?: string;
  /** Its text, and the shipped template it comes from when no file is generated. */
  timerText?: string;
  shippedTemplate?: string;
  files: FileOut[];
  removes: string[];
  commands: string[][];
  /** Commands to run by hand (systemctl, when --unit-dir/--config-dir stage the files). */
  commandsNotRun: string[][];
  /** The next three runs, before any randomized delay. */
  next: string[];
  nextIso: string[];
}

const files = (plan: Plan): FileOut[] =>
  plan.writes.map((w) => ({ path: w.path, content: w.content, mode: w.mode.toString(8).padStart(4, '0') }));

export function applySchedule(o: RawScheduleOptions, where: Where, dryRun: boolean, now = new Date()): ApplyResult {
  const req = buildRequest(o, now);
  const f = req.frequency;
  let plan: Plan;
  let extra: Partial<ApplyResult> = {};
  if (where.backend === 'systemd') {
    const s = planSystemdApply(req, where.target);
    plan = s.plan;
    extra = { timer: s.timer, timerText: s.timerText, shippedTemplate: s.shippedTemplate };
  } else {
    plan = planStandaloneApply(req, now).plan;
  }
  const next = nextElapses(f.spec, now, 3);
  const result: ApplyResult = {
    dryRun,
    ...describeRequest(req),
    backend: where.backend,
    ...extra,
    files: files(plan),
    removes: existingRemovals(plan),
    commands: [...plan.preCommands, ...plan.commands],
    commandsNotRun: plan.skippedCommands,
    next: next.map((t) => formatTimestamp(t)),
    nextIso: next.map((t) => t.toISOString()),
  };
  if (!dryRun) executePlan(plan);
  return result;
}

export interface RemoveResult {
  dryRun: boolean;
  pool: string;
  backend: Backend;
  depth: Depth;
  found: boolean;
  /** Schedules of the other depth that stay. */
  kept: Depth[];
  removes: string[];
  commands: string[][];
  commandsNotRun: string[][];
}

/** Depths other than `depth` the pool still has a schedule of; a file that cannot be read counts as none. */
function otherDepths(root: string, where: Where, depth: Depth): Depth[] {
  try {
    return [...new Set(listSchedules(root, where).map((e) => e.depth))].filter((d) => d !== depth);
  } catch {
    return [];
  }
}

/** Removes the pool's schedule of the depth wherever it is; removing nothing is not an error. */
export function removeSchedule(poolOpt: unknown, where: Where, dryRun: boolean, depthOpt?: unknown): RemoveResult {
  const root = requirePool(poolOpt);
  const depth = parseDepth(depthOpt);
  const standalone = planStandaloneRemove(root, depth);
  const plan = standalone.plan;
  let found = standalone.found;
  if (where.backend === 'systemd') {
    const s = planSystemdRemove(root, where.target, depth);
    found ||= s.found;
    plan.preCommands.push(...s.plan.preCommands);
    plan.removes.push(...s.plan.removes);
    plan.commands.push(...s.plan.commands);
    plan.skippedCommands.push(...s.plan.skippedCommands);
  }
  const result: RemoveResult = {
    dryRun,
    pool: root,
    backend: where.backend,
    depth,
    found,
    kept: otherDepths(root, where, depth),
    removes: existingRemovals(plan),
    commands: [...plan.preCommands, ...plan.commands],
    commandsNotRun: plan.skippedCommands,
  };
  if (!dryRun) executePlan(plan);
  return result;
}

export interface ListEntry {
  pool: string;
  backend: Backend;
  depth: Depth;
  frequency: string;
  calendar: string;
  randomizedDelaySec: number;
  intensity: string;
  autoRepair: boolean;
  /** systemd: the timer; cron: the schedule file. */
  timer?: string;
  file: string;
  next: string | null;
  nextIso: string | null;
  lastRun?: { startedAt: string; finishedAt?: string; exitCode?: number | null; trigger: string };
}

function nextOf(calendar: string, now: Date): { next: string | null; nextIso: string | null } {
  try {
    const [t] = nextElapses(parseSystemdCalendar(calendar), now, 1);
    return t ? { next: formatTimestamp(t), nextIso: t.toISOString() } : { next: null, nextIso: null };
  } catch {
    return { next: null, nextIso: null };
  }
}

/** systemd schedules from the config dir, and the pool's own schedule file when --pool is given. */
export function listSchedules(poolOpt: unknown, where: Where, now = new Date()): ListEntry[] {
  const root = poolOpt === undefined ? undefined : requirePool(poolOpt);
  if (where.backend === 'cron' && root === undefined) {
    throw usageError('--list needs --pool without systemd (schedules are stored in each pool)');
  }
  const out: ListEntry[] = [];
  if (where.backend === 'systemd') {
    const instance = root === undefined ? undefined : escapePath(root);
    for (const { file, config } of listSystemdConfigs(where.target)) {
      if (instance !== undefined && path.basename(file) !== `${instance}.conf` && config.pool !== root) continue;
      out.push({ ...config, backend: 'systemd', file, ...nextOf(config.calendar, now) });
    }
  }
  for (const depth of DEPTHS) {
    if (root === undefined || !fs.existsSync(scheduleFile(root, depth))) continue;
    const s = readSchedule(root, depth)!;
    const last = lastRun(readRuns(root), depth);
    out.push({
      pool: s.pool,
      backend: 'cron',
      depth,
      frequency: s.frequency,
      calendar: s.calendar,
      randomizedDelaySec: s.randomizedDelaySec,
      intensity: s.intensity,
      autoRepair: s.autoRepair,
      file: scheduleFile(root, depth),
      ...nextOf(s.calendar, now),
      ...(last ? { lastRun: { startedAt: last.startedAt, finishedAt: last.finishedAt, exitCode: last.exitCode, trigger: last.trigger } } : {}),
    });
  }
  return out;
}

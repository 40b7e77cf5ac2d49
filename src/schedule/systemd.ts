import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, fsFailure } from '../core/errors';
import { escapePath } from './escape';
import { FREQUENCY_TABLE, NAMED_FREQUENCIES, NamedFrequency } from './frequency';
import { DEPTHS } from './settings';
import type { Depth } from '../scrub/verify';
import { emptyPlan, Plan } from './plan';
import { ScheduleRequest } from './request';
import { ScheduleIntensity } from './settings';
import { INTENSITIES } from '../scrub/pacing';
import {
  configFileName,
  disksOutside,
  DROP_IN_NAME,
  dropInDir,
  parseEnvFile,
  renderCustomTimer,
  renderFrequencyTimer,
  renderScrubConfig,
  renderServiceDropIn,
  ScrubConfig,
  serviceArgs,
  timerName,
  timerTemplate,
} from './units';

// The systemd backend: a pool's schedule of one depth is one enabled timer
// instance plus its EnvironmentFile. Named frequencies use the shipped timer
// templates of their depth; a custom calendar, a non-default delay or a
// frequency shipped only for the other depth gets a generated instance timer.

export const SYSTEMD_RUN_DIR = '/run/systemd/system';

export interface SystemdTarget {
  unitDir: string;
  configDir: string;
  /** --unit-dir/--config-dir given: files are staged, systemctl is not run. */
  redirected: boolean;
}

/** sd_booted(3): systemd is PID 1. DFS_SYSTEMD_RUN_DIR replaces the probed path (tests). */
export function systemdRunning(): boolean {
  return fs.existsSync(process.env.DFS_SYSTEMD_RUN_DIR || SYSTEMD_RUN_DIR);
}

export interface SystemdPlan {
  plan: Plan;
  instance: string;
  timer: string;
  /** The timer's text: the shipped template's, or the generated file's. */
  timerText: string;
  /** The shipped template used, when no timer file is generated. */
  shippedTemplate?: string;
}

const paths = (t: SystemdTarget, depth: Depth, instance: string) => ({
  config: path.join(t.configDir, configFileName(depth, instance)),
  customTimer: path.join(t.unitDir, timerName(depth, 'custom', instance)),
  dropInDir: path.join(t.unitDir, dropInDir(depth, instance)),
  dropIn: path.join(t.unitDir, dropInDir(depth, instance), DROP_IN_NAME),
});

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw fsFailure('cannot read', file, err);
  }
}

function toConfig(vars: Record<string, string>, depth: Depth): ScrubConfig | undefined {
  const freq = vars.DFS_SCRUB_FREQUENCY;
  if (!vars.DFS_SCRUB_POOL || !vars.DFS_SCRUB_TIMER || !([...NAMED_FREQUENCIES, 'custom'] as string[]).includes(freq)) {
    return undefined;
  }
  return {
    pool: vars.DFS_SCRUB_POOL,
    // Where the file lies says its depth (the service that reads it); configs from before depths are deep.
    depth,
    timer: vars.DFS_SCRUB_TIMER,
    frequency: freq as NamedFrequency | 'custom',
    calendar: vars.DFS_SCRUB_CALENDAR ?? '',
    randomizedDelaySec: Number(vars.DFS_SCRUB_RANDOMIZED_DELAY_SEC ?? 0),
    intensity: ((INTENSITIES as readonly string[]).includes(vars.DFS_SCRUB_INTENSITY) ? vars.DFS_SCRUB_INTENSITY : 'low') as ScheduleIntensity,
    autoRepair: vars.DFS_SCRUB_AUTO_REPAIR === 'true',
  };
}

export function readSystemdConfig(t: SystemdTarget, depth: Depth, instance: string): ScrubConfig | undefined {
  const text = readText(paths(t, depth, instance).config);
  return text === undefined ? undefined : toConfig(parseEnvFile(text), depth);
}

/** Every schedule in the config dir (deep, then light), with the file each came from. */
export function listSystemdConfigs(t: SystemdTarget): { file: string; config: ScrubConfig }[] {
  const out: { file: string; config: ScrubConfig }[] = [];
  for (const depth of DEPTHS) {
    const dir = path.dirname(path.join(t.configDir, configFileName(depth, 'x')));
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      throw fsFailure('cannot read', dir, err);
    }
    for (const n of names.filter((n) => n.endsWith('.conf')).sort()) {
      const file = path.join(dir, n);
      const config = toConfig(parseEnvFile(readText(file) ?? ''), depth);
      if (config) out.push({ file, config });
    }
  }
  return out;
}

function systemctl(plan: Plan, t: SystemdTarget, phase: 'pre' | 'post', ...args: string[]): void {
  (t.redirected ? plan.skippedCommands : phase === 'pre' ? plan.preCommands : plan.commands).push(['systemctl', ...args]);
}

export function planSystemdApply(req: ScheduleRequest, t: SystemdTarget): SystemdPlan {
  const instance = escapePath(req.root);
  const depth = req.depth;
  const p = paths(t, depth, instance);
  const previous = readSystemdConfig(t, depth, instance);
  const freq = req.frequency;
  // A named frequency of this depth at its own delay is exactly the shipped template.
  const info = freq.name === 'custom' ? undefined : FREQUENCY_TABLE[freq.name];
  const shipped = !!info && info.shippedFor === depth && req.randomizedDelaySec === info.randomizedDelaySec;
  const timer = timerName(depth, shipped ? (freq.name as NamedFrequency) : 'custom', instance);
  const timerText = shipped
    ? renderFrequencyTimer(freq.name as NamedFrequency)
    : renderCustomTimer(depth, req.root, freq, req.randomizedDelaySec);
  const config: ScrubConfig = {
    pool: req.root,
    depth,
    timer,
    frequency: freq.name,
    calendar: freq.calendar,
    randomizedDelaySec: req.randomizedDelaySec,
    intensity: req.intensity,
    autoRepair: req.autoRepair,
  };
  const plan = emptyPlan();
  plan.writes.push({ path: p.config, content: renderScrubConfig(config), mode: 0o644 });
  const oldTimerText = shipped ? undefined : readText(p.customTimer);
  if (shipped) plan.removes.push(p.customTimer);
  else plan.writes.push({ path: p.customTimer, content: timerText, mode: 0o644 });

  const needs = { pool: req.root, args: serviceArgs(depth, req.intensity, req.autoRepair), outsideDisks: disksOutside(req.root, req.disks) };
  plan.writes.push({ path: p.dropIn, content: renderServiceDropIn(needs), mode: 0o644 });

  if (previous && previous.timer !== timer) systemctl(plan, t, 'pre', 'disable', '--now', previous.timer);
  systemctl(plan, t, 'post', 'daemon-reload');
  systemctl(plan, t, 'post', 'enable', '--now', timer);
  // An active timer keeps its elapse time; restart it so a changed calendar counts now.
  if (previous?.timer === timer && oldTimerText !== undefined && oldTimerText !== timerText) {
    systemctl(plan, t, 'post', 'restart', timer);
  }
  return { plan, instance, timer, timerText, shippedTemplate: shipped ? timerTemplate(depth, freq.name as NamedFrequency) : undefined };
}

/** Disables the pool's timer of the depth and removes every file its schedule wrote; idempotent. */
export function planSystemdRemove(root: string, t: SystemdTarget, depth: Depth): { plan: Plan; found: boolean } {
  const instance = escapePath(root);
  const p = paths(t, depth, instance);
  const previous = readSystemdConfig(t, depth, instance);
  const plan = emptyPlan();
  const timers = new Set<string>();
  if (previous) timers.add(previous.timer);
  if (fs.existsSync(p.customTimer)) timers.add(timerName(depth, 'custom', instance));
  const files = [p.config, p.customTimer, p.dropIn].filter((f) => fs.existsSync(f));
  for (const timer of timers) systemctl(plan, t, 'pre', 'disable', '--now', timer);
  plan.removes.push(p.config, p.customTimer, p.dropIn, p.dropInDir);
  if (timers.size > 0 || files.length > 0) systemctl(plan, t, 'post', 'daemon-reload');
  return { plan, found: timers.size > 0 || files.length > 0 };
}

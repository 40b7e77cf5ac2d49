// Pools and persisted states for the metrics tests: real pools made by the
// core, states written with saveState, daemon info as the daemon writes it.
// The metrics read nothing else, so these are the exporter's whole input.

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cliAsync, collect, requireTool, type CliResult } from './helpers';
import { createPool, Pool } from '../src/core/pool';
import { writeJsonAtomic } from '../src/core/atomic-file';
import { diskLabelPath } from '../src/core/layout';
import { emptyState, PassSummary, saveState, ScrubState } from '../src/scrub/state';
import { DaemonInfo, daemonFile } from '../src/daemon/info';

export function makePool(dir: string, name = 'pool', diskCount = 3, redundancy = 'mirror:2'): Pool {
  return createPool({ root: path.join(dir, name), diskCount, redundancy });
}

export function passSummary(over: Partial<PassSummary> = {}): PassSummary {
  const finished = new Date(Date.now() - 60_000);
  return {
    id: 'pass-1',
    mode: 'verify',
    runner: 'dfs-scrub',
    startedAt: new Date(finished.getTime() - 42_000).toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: 42,
    outcome: 'clean',
    exitCode: 0,
    extentsScanned: 10,
    bytesRead: 1000,
    issuesFound: 0,
    repairsAttempted: 0,
    repairsSuccessful: 0,
    health: { healthy: 10, degraded: 0, unrecoverable: 0 },
    ...over,
  };
}

/** Writes a state: an empty one with `edit` applied, saved as the scrubber saves it. */
export function writeState(pool: Pool, edit: (s: ScrubState) => void = () => {}): ScrubState {
  const s = emptyState(pool.config.id);
  edit(s);
  saveState(pool.root, s);
  return s;
}

/** A clean completed pass over `extents` extents. */
export const cleanState = (pool: Pool, extents = 10) =>
  writeState(pool, (s) => {
    s.counters = { scrubsCompleted: 3, issuesFound: 2, repairsAttempted: 2, repairsSuccessful: 1, extentsScanned: 3 * extents, bytesRead: 3 * extents * 1000 };
    s.health = { healthy: extents, degraded: 0, unrecoverable: 0 };
    s.lastPass = passSummary({ extentsScanned: extents, health: { ...s.health } });
  });

/** The latest pass found one unrecoverable extent. */
export const unrecoverableState = (pool: Pool) =>
  writeState(pool, (s) => {
    s.counters = { scrubsCompleted: 1, issuesFound: 3, repairsAttempted: 0, repairsSuccessful: 0, extentsScanned: 10, bytesRead: 10_000 };
    s.health = { healthy: 8, degraded: 1, unrecoverable: 1 };
    s.lastPass = passSummary({ outcome: 'problems', exitCode: 4, issuesFound: 3, health: { ...s.health } });
  });

/** A pid that certainly names no process: one that ran and was reaped. */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

export function writeDaemonInfo(pool: Pool, over: Partial<DaemonInfo> = {}): void {
  const now = new Date().toISOString();
  const info: DaemonInfo = {
    pid: process.pid,
    startedAt: now,
    updatedAt: now,
    intensity: 'low',
    paused: false,
    autoRepair: true,
    throttled: null,
    ...over,
  };
  writeJsonAtomic(daemonFile(pool.root), info);
}

/** The value of one series in exposition text, or undefined when absent. */
export function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const [, k, v] of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[k] = v;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[4]);
  }
  return undefined;
}

/** `# TYPE name kind` of a family, or undefined. */
export const typeOf = (text: string, name: string) => new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1];

export const removeDiskLabel = (pool: Pool, index: number) => fs.rmSync(diskLabelPath(pool.disks[index].path));

export interface Served {
  child: ChildProcess;
  url: string;
  done: Promise<CliResult>;
  stop(): Promise<CliResult>;
}

/** Starts the exporter on a free port and waits for its "serving ... at URL" line. */
export async function serve(args: string[], name = 'dfs-metrics', pre: string[] = []): Promise<Served> {
  const child = cliAsync(name, [...pre, ...args, '--port', '0']);
  const done = collect(child);
  let seen = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "serving" line within 15 s: ${seen}`)), 15_000);
    child.stderr!.on('data', (s: Buffer | string) => {
      seen += s.toString();
      const m = /serving .* at (http:\/\/\S+)\/metrics/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void done.then((r) => reject(new Error(`exited ${r.status} before serving: ${r.stderr}`)));
  });
  return {
    child,
    url,
    done,
    stop: async () => {
      child.kill('SIGTERM');
      return done;
    },
  };
}

const GUIDE_COUNTER_COMPLAINT = /^dynamicfs_(scrubs_completed|scrub_issues_found|scrub_repairs_attempted|scrub_repairs_successful) counter metrics should have "_total" suffix$/;

/**
 * What `promtool check metrics` says of exposition text, less its complaints
 * about the guide's four counters (their names are kept without `_total`);
 * undefined when promtool is not installed (requireTool said so).
 */
export function promtoolComplaints(text: string): string[] | undefined {
  if (!requireTool('promtool')) return undefined;
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return (check.stdout + check.stderr).split('\n').filter((l) => l.trim() && !GUIDE_COUNTER_COMPLAINT.test(l));
}

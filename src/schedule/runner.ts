import { pidAlive } from '../daemon/info';
import fs from 'node:fs';
import path from 'node:path';
import { ChildProcess, spawn } from 'node:child_process';
import cron from 'node-cron';
import type { ScheduledTask } from 'node-cron';
import { errnoCode, operationalError } from '../core/errors';
import { CalendarSpec, nextElapse, parseSystemdCalendar } from './calendar';
import { formatCron } from './cron';
import { DEPTHS, scrubArgs } from './settings';
import type { Depth } from '../scrub/verify';
import {
  lastRun,
  readRuns,
  readSchedule,
  RunRecord,
  RunsLog,
  RunTrigger,
  scheduleFile,
  StoredSchedule,
  writeRuns,
} from './store';

// The node-cron runner (`dfs-scrub-schedule run`): what systemd timers do,
// for hosts without systemd. It fires dfs-scrub passes on the pool's stored
// schedules (a deep one, a light one, or both: one lane each), never two of
// one depth at once (a slot that comes while its pass runs is skipped and
// logged, as a timer does not start an active service again; across depths
// dfs-scrub's --when-busy decides), records every run in the pool's state
// dir, catches up a slot missed while it was down (Persistent=true), and
// follows edits, removals and additions of the schedule files.

/** How often the schedule file is checked for edits. */
const WATCH_INTERVAL_MS = 2000;

const EXIT_MEANING: Record<number, string> = {
  0: 'no problems found',
  1: 'problems found and all repaired',
  4: 'problems left',
  8: 'operational error',
  16: 'usage error',
  32: 'cancelled',
};

/**
 * The scrubber's argv prefix: DFS_SCRUB_COMMAND (an executable, for tests and
 * wrappers) or this installation's dfs-scrub, run with this node.
 */
export function scrubCommand(): string[] {
  const override = process.env.DFS_SCRUB_COMMAND;
  if (override) return [override];
  return [process.execPath, path.join(__dirname, '../cli/dfs-scrub.js')];
}

export interface RunnerOptions {
  root: string;
  /** One line per event (the CLI adds the timestamp). */
  log: (line: string) => void;
}

export interface RunnerHandle {
  /** Resolves once the runner has stopped and its last run is recorded. */
  done: Promise<void>;
  /** Stops firing, forwards SIGTERM to a running pass and waits for it. A second call kills it. */
  stop(reason: string): void;
}

interface Loaded {
  schedule: StoredSchedule;
  spec: CalendarSpec;
  /** Derived from the calendar, the file's single source of truth (its "cron" field is for people). */
  cronExpr: string;
}

function loadSchedule(root: string, depth: Depth): Loaded {
  const file = scheduleFile(root, depth);
  const schedule = readSchedule(root, depth);
  if (!schedule) {
    throw operationalError(`no schedule stored for pool ${root} (${file}): create one with dfs-scrub-schedule --pool ${root} --frequency ...`);
  }
  let spec: CalendarSpec;
  try {
    spec = parseSystemdCalendar(schedule.calendar);
  } catch (err) {
    throw operationalError(`${file}: bad calendar ${JSON.stringify(schedule.calendar)}: ${err instanceof Error ? err.message : err}`);
  }
  const cronExpr = formatCron(spec);
  if (!cron.validate(cronExpr)) throw operationalError(`${file}: calendar ${schedule.calendar} has no node-cron form`);
  return { schedule, spec, cronExpr };
}

interface Lane {
  depth: Depth;
  schedule: StoredSchedule;
  spec: CalendarSpec;
  cronExpr: string;
  task?: ScheduledTask;
  child?: ChildProcess;
  busy: boolean;
  cancelDelay?: () => void;
  finished: Promise<void>;
}

export function startRunner(opts: RunnerOptions): RunnerHandle {
  const { root, log } = opts;
  const present = DEPTHS.filter((d) => fs.existsSync(scheduleFile(root, d)));
  if (present.length === 0) {
    throw operationalError(`no schedule stored for pool ${root} (${scheduleFile(root)}): create one with dfs-scrub-schedule --pool ${root} --frequency ...`);
  }
  const loaded = new Map(present.map((d) => [d, loadSchedule(root, d)]));
  const runs: RunsLog = readRuns(root);
  if (runs.runner && runs.runner.pid !== process.pid && pidAlive(runs.runner.pid)) {
    throw operationalError(`pool ${root}: a schedule runner is already active (pid ${runs.runner.pid})`);
  }
  runs.runner = { pid: process.pid, startedAt: new Date().toISOString() };
  writeRuns(root, runs);

  const lanes = new Map<Depth, Lane>();
  // Lanes whose schedule was removed while a pass of theirs ran: a stop still waits for it.
  const retired: Lane[] = [];
  let stopping = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  // A full or read-only state dir must not kill the runner (or orphan a pass): say so and go on.
  const save = () => {
    try {
      writeRuns(root, runs);
    } catch (err) {
      log(`cannot record runs: ${err instanceof Error ? err.message : err}`);
    }
  };
  const record = (r: RunsLog['records'][number]) => {
    runs.records.push(r);
    save();
  };

  const describe = (l: Lane) =>
    `${l.depth} ${l.schedule.calendar} (cron "${l.cronExpr}"${l.spec.utc ? ', UTC' : ''}), intensity ${l.schedule.intensity}, ` +
    `auto-repair ${l.schedule.autoRepair ? 'on' : 'off'}`;

  /** Waits up to the randomized delay; false when stopped meanwhile. */
  const randomDelay = (l: Lane): Promise<boolean> => {
    const ms = Math.floor(Math.random() * l.schedule.randomizedDelaySec * 1000);
    if (ms <= 0) return Promise.resolve(true);
    log(`${l.depth}: waiting ${Math.round(ms / 1000)} s (randomized delay)`);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(true), ms);
      l.cancelDelay = () => {
        clearTimeout(timer);
        resolve(false);
      };
    });
  };

  const runPass = async (l: Lane, trigger: RunTrigger, slot: Date): Promise<void> => {
    if (!(await randomDelay(l)) || stopping || lanes.get(l.depth) !== l) return;
    const argv = [...scrubCommand(), '--pool', root, ...scrubArgs(l.depth, l.schedule.intensity, l.schedule.autoRepair)];
    const rec: RunRecord = { kind: 'run', depth: l.depth, trigger, slot: slot.toISOString(), startedAt: new Date().toISOString() };
    record(rec); // recorded at start too: a runner killed mid-pass must not catch this slot up again
    log(`${trigger === 'catch-up' ? 'catch-up run' : 'run'} (${l.depth}) for slot ${rec.slot} started: ${argv.join(' ')}`);
    await new Promise<void>((resolve) => {
      const c = spawn(argv[0], argv.slice(1), {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, DFS_SCRUB_RUNNER: 'schedule' },
      });
      l.child = c;
      // A spawn failure may bring 'error' alone or with 'close': settle once.
      let settled = false;
      const settle = (code: number | null, signal: NodeJS.Signals | null, error?: string) => {
        if (settled) return;
        settled = true;
        l.child = undefined;
        rec.finishedAt = new Date().toISOString();
        rec.exitCode = code;
        rec.signal = signal;
        if (error !== undefined) rec.error = error;
        save();
        const how =
          error !== undefined
            ? `could not start: ${error}`
            : signal
              ? `killed by ${signal}`
              : `exit ${code} (${EXIT_MEANING[code ?? -1] ?? 'unexpected'})`;
        log(`run (${l.depth}) for slot ${rec.slot} finished: ${how}`);
        resolve();
      };
      c.on('error', (err) => settle(null, null, err.message));
      c.on('close', (code, signal) => settle(code, signal));
    });
  };

  const fire = (l: Lane, trigger: RunTrigger, slot: Date) => {
    if (stopping) return;
    if (l.busy) {
      log(`${l.depth} slot ${slot.toISOString()} skipped: the previous ${l.depth} pass is still running`);
      record({ kind: 'skipped', depth: l.depth, reason: 'overlap', slot: slot.toISOString(), at: new Date().toISOString() });
      return;
    }
    l.busy = true;
    l.finished = runPass(l, trigger, slot)
      .catch((err) => log(`run failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        l.busy = false;
        l.cancelDelay = undefined;
      });
  };

  const scheduleLane = (l: Lane) => {
    l.task = cron.schedule(l.cronExpr, (ctx) => fire(l, 'schedule', ctx.date), {
      name: `dfs-scrub ${l.depth} ${root}`,
      timezone: l.spec.utc ? 'UTC' : undefined,
      logger: {
        info: () => undefined,
        debug: () => undefined,
        warn: (m) => log(`node-cron: ${m}`),
        error: (m) => log(`node-cron: ${m instanceof Error ? m.message : m}`),
      },
    });
  };

  /** Persistent=true: a slot between the last run and now means a run was missed. */
  const catchUp = (l: Lane) => {
    const last = lastRun(runs, l.depth);
    const since = [l.schedule.calendarSince, last?.slot, last?.startedAt]
      .filter((s): s is string => typeof s === 'string')
      .map((s) => new Date(s))
      .reduce((a, b) => (b > a ? b : a));
    const missed = nextElapse(l.spec, since);
    const now = new Date();
    if (missed && missed <= now) {
      log(`missed ${l.depth} slot ${missed.toISOString()} while not running (last run ${last?.startedAt ?? 'never'}): catching up now`);
      fire(l, 'catch-up', missed);
    }
  };

  const addLane = (depth: Depth, loadedSchedule: Loaded, started: boolean) => {
    const l: Lane = { depth, ...loadedSchedule, busy: false, finished: Promise.resolve() };
    lanes.set(depth, l);
    log(`${started ? 'schedule added' : 'schedule'}: ${describe(l)}`);
    scheduleLane(l);
    catchUp(l);
    const next = nextElapse(l.spec, new Date());
    if (next) log(`next ${depth} slot ${next.toISOString()}`);
  };

  /** A removed schedule stops firing; a pass of it already running finishes. */
  const dropLane = (l: Lane) => {
    void l.task?.destroy();
    l.cancelDelay?.();
    lanes.delete(l.depth);
    if (l.busy) retired.push(l);
  };

  const onScheduleEdit = (depth: Depth) => () => {
    if (stopping) return;
    const l = lanes.get(depth);
    if (!fs.existsSync(scheduleFile(root, depth))) {
      if (!l) return;
      dropLane(l);
      if (lanes.size === 0) stop(`the ${depth} schedule was removed, and no other is left`);
      else log(`the ${depth} schedule was removed`);
      return;
    }
    try {
      const next = loadSchedule(root, depth);
      if (!l) return addLane(depth, next, true);
      if (JSON.stringify(next.schedule) === JSON.stringify(l.schedule)) return;
      ({ schedule: l.schedule, spec: l.spec, cronExpr: l.cronExpr } = next);
      void l.task?.destroy();
      scheduleLane(l);
      log(`schedule changed: ${describe(l)}`);
    } catch (err) {
      log(`${depth} schedule file changed but cannot be used${l ? ', keeping the old one' : ''}: ${err instanceof Error ? err.message : err}`);
    }
  };
  const watchers = new Map(DEPTHS.map((d) => [d, onScheduleEdit(d)]));

  const stop = (reason: string) => {
    const running = [...lanes.values(), ...retired].filter((l) => l.child);
    if (stopping) {
      if (running.length > 0) {
        log('second stop request: killing the running pass');
        for (const l of running) l.child!.kill('SIGKILL');
      }
      return;
    }
    stopping = true;
    log(`stopping (${reason})`);
    for (const [d, w] of watchers) fs.unwatchFile(scheduleFile(root, d), w);
    const all = [...lanes.values(), ...retired];
    for (const l of all) {
      void l.task?.destroy();
      l.cancelDelay?.();
    }
    if (running.length > 0) {
      log('forwarding SIGTERM to the running pass and waiting for it');
      for (const l of running) l.child!.kill('SIGTERM');
    }
    void Promise.all(all.map((l) => l.finished)).then(() => {
      runs.runner = null;
      save();
      resolveDone();
    });
  };

  log(`runner for pool ${root} started`);
  for (const [depth, l] of loaded) addLane(depth, l, false);
  for (const [d, w] of watchers) fs.watchFile(scheduleFile(root, d), { interval: WATCH_INTERVAL_MS }, w);
  return { done, stop };
}

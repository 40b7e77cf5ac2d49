import { pidAlive } from '../daemon/info';
import fs from 'node:fs';
import path from 'node:path';
import { ChildProcess, spawn } from 'node:child_process';
import cron from 'node-cron';
import type { ScheduledTask } from 'node-cron';
import { errnoCode, operationalError } from '../core/errors';
import { CalendarSpec, nextElapse, parseSystemdCalendar } from './calendar';
import { formatCron } from './cron';
import { scrubArgs } from './settings';
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

// The node-cron runner (`dfs-scrub-schedule run`): what a systemd timer does,
// for hosts without systemd. It fires dfs-scrub passes on the stored
// schedule, never two at once (a slot that comes while a pass runs is skipped
// and logged, as a timer does not start an active service again), records
// every run in the pool's state dir, catches up a slot missed while it was
// down (Persistent=true), and follows edits of the schedule file.

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

function loadSchedule(root: string): Loaded {
  const file = scheduleFile(root);
  const schedule = readSchedule(root);
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

export function startRunner(opts: RunnerOptions): RunnerHandle {
  const { root, log } = opts;
  let { schedule, spec, cronExpr } = loadSchedule(root);
  const runs: RunsLog = readRuns(root);
  if (runs.runner && runs.runner.pid !== process.pid && pidAlive(runs.runner.pid)) {
    throw operationalError(`pool ${root}: a schedule runner is already active (pid ${runs.runner.pid})`);
  }
  runs.runner = { pid: process.pid, startedAt: new Date().toISOString() };
  writeRuns(root, runs);

  let task: ScheduledTask | undefined;
  let child: ChildProcess | undefined;
  let busy = false;
  let stopping = false;
  let cancelDelay: (() => void) | undefined;
  let finished: Promise<void> = Promise.resolve();
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

  const describe = () =>
    `${schedule.calendar} (cron "${cronExpr}"${spec.utc ? ', UTC' : ''}), intensity ${schedule.intensity}, ` +
    `auto-repair ${schedule.autoRepair ? 'on' : 'off'}`;

  /** Waits up to the randomized delay; false when stopped meanwhile. */
  const randomDelay = (): Promise<boolean> => {
    const ms = Math.floor(Math.random() * schedule.randomizedDelaySec * 1000);
    if (ms <= 0) return Promise.resolve(true);
    log(`waiting ${Math.round(ms / 1000)} s (randomized delay)`);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(true), ms);
      cancelDelay = () => {
        clearTimeout(timer);
        resolve(false);
      };
    });
  };

  const runPass = async (trigger: RunTrigger, slot: Date): Promise<void> => {
    if (!(await randomDelay()) || stopping) return;
    const argv = [...scrubCommand(), '--pool', root, ...scrubArgs(schedule.intensity, schedule.autoRepair)];
    const rec: RunRecord = { kind: 'run', trigger, slot: slot.toISOString(), startedAt: new Date().toISOString() };
    record(rec); // recorded at start too: a runner killed mid-pass must not catch this slot up again
    log(`${trigger === 'catch-up' ? 'catch-up run' : 'run'} for slot ${rec.slot} started: ${argv.join(' ')}`);
    await new Promise<void>((resolve) => {
      const c = spawn(argv[0], argv.slice(1), {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, DFS_SCRUB_RUNNER: 'schedule' },
      });
      child = c;
      // A spawn failure may bring 'error' alone or with 'close': settle once.
      let settled = false;
      const settle = (code: number | null, signal: NodeJS.Signals | null, error?: string) => {
        if (settled) return;
        settled = true;
        child = undefined;
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
        log(`run for slot ${rec.slot} finished: ${how}`);
        resolve();
      };
      c.on('error', (err) => settle(null, null, err.message));
      c.on('close', (code, signal) => settle(code, signal));
    });
  };

  const fire = (trigger: RunTrigger, slot: Date) => {
    if (stopping) return;
    if (busy) {
      log(`slot ${slot.toISOString()} skipped: the previous pass is still running`);
      record({ kind: 'skipped', reason: 'overlap', slot: slot.toISOString(), at: new Date().toISOString() });
      return;
    }
    busy = true;
    finished = runPass(trigger, slot)
      .catch((err) => log(`run failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        busy = false;
        cancelDelay = undefined;
      });
  };

  const schedule_ = () => {
    task = cron.schedule(cronExpr, (ctx) => fire('schedule', ctx.date), {
      name: `dfs-scrub ${root}`,
      timezone: spec.utc ? 'UTC' : undefined,
      logger: {
        info: () => undefined,
        debug: () => undefined,
        warn: (m) => log(`node-cron: ${m}`),
        error: (m) => log(`node-cron: ${m instanceof Error ? m.message : m}`),
      },
    });
  };

  /** Persistent=true: a slot between the last run and now means a run was missed. */
  const catchUp = () => {
    const last = lastRun(runs);
    const since = [schedule.calendarSince, last?.slot, last?.startedAt]
      .filter((s): s is string => typeof s === 'string')
      .map((s) => new Date(s))
      .reduce((a, b) => (b > a ? b : a));
    const missed = nextElapse(spec, since);
    const now = new Date();
    if (missed && missed <= now) {
      log(`missed slot ${missed.toISOString()} while not running (last run ${last?.startedAt ?? 'never'}): catching up now`);
      fire('catch-up', missed);
    }
  };

  const onScheduleEdit = () => {
    if (stopping) return;
    if (!fs.existsSync(scheduleFile(root))) {
      stop('the schedule was removed');
      return;
    }
    try {
      const next = loadSchedule(root);
      if (JSON.stringify(next.schedule) === JSON.stringify(schedule)) return;
      ({ schedule, spec, cronExpr } = next);
      void task?.destroy();
      schedule_();
      log(`schedule changed: ${describe()}`);
    } catch (err) {
      log(`schedule file changed but cannot be used, keeping the old one: ${err instanceof Error ? err.message : err}`);
    }
  };

  const stop = (reason: string) => {
    if (stopping) {
      if (child) {
        log('second stop request: killing the running pass');
        child.kill('SIGKILL');
      }
      return;
    }
    stopping = true;
    log(`stopping (${reason})`);
    fs.unwatchFile(scheduleFile(root), onScheduleEdit);
    void task?.destroy();
    cancelDelay?.();
    if (child) {
      log('forwarding SIGTERM to the running pass and waiting for it');
      child.kill('SIGTERM');
    }
    void finished.then(() => {
      runs.runner = null;
      save();
      resolveDone();
    });
  };

  log(`runner for pool ${root} started: ${describe()}`);
  schedule_();
  fs.watchFile(scheduleFile(root), { interval: WATCH_INTERVAL_MS }, onScheduleEdit);
  catchUp();
  const next = nextElapse(spec, new Date());
  if (next) log(`next slot ${next.toISOString()}`);
  return { done, stop };
}

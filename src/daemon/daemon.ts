import fs from 'node:fs';
import net from 'node:net';
import { openPool, Pool, onlineDisks } from '../core/pool';
import { operationalError } from '../core/errors';
import { writeJsonAtomic } from '../core/atomic-file';
import { acquireScrubLock } from '../scrub/lock';
import { PassReport, ScrubPass } from '../scrub/pass';
import { applyNice, pacingFor } from '../scrub/pacing';
import { CurrentPass, loadState, ScrubState } from '../scrub/state';
import type { Depth } from '../scrub/verify';
import { holdText, lastPassView, passView, resilverView } from './status';
import { DaemonInfo, DaemonSettings, daemonFile, Intensity } from './info';
import { DEFAULT_IO_PRESSURE_FLOOR, DEFAULT_SETTINGS, loadSettings, saveSettings } from './settings';
import { controlSocketPath } from './socket-path';
import { startControlServer } from './control-server';
import { ControlRequest, ControlResponse, DaemonStatus, IoPressureView } from './protocol';
import { notifyReady, notifyStatus, notifyStopping, notifyWatchdog, watchdogIntervalMs } from './notify';
import { ioPressureSome10 } from './pressure';
import { deadlineAchievable, deadlineDelayMs, deadlinePace, DeadlineProgress } from './deadline';
import { PressureHold, pressureHold, readCap } from './back-off';
import { log } from './log';
import { Alarm } from '../scrub/alarm';
import { lightPassDueAt } from './light-schedule';

export interface DaemonOptions {
  pool: string;
  /** Values given on the command line; the rest come from persisted settings. */
  overrides: Partial<DaemonSettings>;
  /** Group allowed on the control socket (mode 0660), if any. */
  socketGroup?: number;
}

const INFO_EVERY_MS = 10_000;
/** Passes start at most this often unless --pass-interval says otherwise. */
export const DEFAULT_PASS_INTERVAL_S = 60;
const MIN_PASS_INTERVAL_S = 1;
const STATUS_EVERY_MS = 1_000;
/** setTimeout cannot wait past 24.8 days: a light pass further off than this is looked at again then. */
const MAX_TIMER_MS = 3_600_000;

/**
 * The background scrubber: holds the pool's scrub lock for its life, serves
 * the control socket, runs deep passes back to back (or every
 * --pass-interval), resuming an interrupted pass from its persisted cursor,
 * and, with --light-interval, light passes between them: a deep pass in hand
 * stops at a checkpoint for the light pass and resumes after it.
 */
export class ScrubDaemon {
  private settings: DaemonSettings;
  private pool: Pool;
  private pass: ScrubPass | undefined;
  /** The depth of the pass in hand. */
  private depth: Depth = 'deep';
  /** Set while a deep pass is running: fires when a light pass falls due. */
  private lightTimer: NodeJS.Timeout | undefined;
  private server: net.Server | undefined;
  private stopping = false;
  private phase: DaemonStatus['phase'] = 'scrubbing';
  private throttled: string | null = null;
  /** The latest "some avg10" read (null: none, or the back-off is off). */
  private pressure: number | null = null;
  /** The rate held under I/O pressure, null while the pressure is under the limit. */
  private hold: PressureHold | null = null;
  private achievable = true;
  /**
   * The deep pass in hand as this daemon first saw it, and the time it has
   * waited since for the deadline's schedule: its rate without those waits is
   * what the intensity (and any cap) can do, the rate a deadline is judged by.
   */
  private paceFrom: { bytesDone: number; activeSeconds: number; waitedMs: number } | undefined;
  private nextPassAt: number | null = null;
  private readonly alarm = new Alarm();
  private readonly startedAt = new Date().toISOString();
  private lastStatusSent = 0;
  private timers: NodeJS.Timeout[] = [];
  private psiWarned = false;
  private release: (() => void) | undefined;
  private readonly socketPath: string;
  /** The persisted state as of the start and of the end of the latest pass. */
  private saved: ScrubState;

  constructor(private readonly opts: DaemonOptions) {
    this.pool = openPool(opts.pool);
    this.socketPath = controlSocketPath(this.pool.root);
    this.settings = { ...DEFAULT_SETTINGS, ...loadSettings(this.pool.root), ...opts.overrides };
    this.saved = loadState(this.pool.root, this.pool.config.id);
    for (const k of Object.keys(this.settings) as (keyof DaemonSettings)[]) if (this.settings[k] === undefined) delete this.settings[k];
  }

  async run(): Promise<number> {
    const root = this.pool.root;
    this.release = acquireScrubLock(root, 'dfs-scrubd');
    try {
      if (onlineDisks(this.pool).length === 0) throw operationalError(`pool ${root} is unreadable: no disk is online`);
      saveSettings(root, this.settings);
      this.server = await startControlServer(this.socketPath, (req) => this.handle(req), this.opts.socketGroup);
      this.publish();
      const nice = applyNice(pacingFor(this.settings.intensity).nice);
      if (nice) log('warning', nice);
      this.startTimers();
      notifyReady();
      log('info', `serving ${this.socketPath} for pool ${root} (PID ${process.pid}, intensity ${this.settings.intensity}${this.settings.paused ? ', paused' : ''})`);
      this.sendStatus(true);
      await this.loop();
      return 0;
    } finally {
      this.shutdown();
    }
  }

  /** SIGTERM, SIGINT, or the stop verb: finish the operation in hand, save, exit 0. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.phase = 'stopping';
    notifyStopping();
    log('info', 'stopping: finishing the operation in hand');
    this.pass?.cancel();
    this.wakeUp();
  }

  /** SIGHUP: re-read the persisted settings. */
  reload(): void {
    try {
      const s = { ...this.settings, ...loadSettings(this.pool.root) };
      this.apply(s);
      log('info', `settings reloaded: intensity ${s.intensity}, ${s.paused ? 'paused' : 'running'}, auto-repair ${s.autoRepair}`);
    } catch (err) {
      log('error', `cannot reload settings: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private apply(s: DaemonSettings): void {
    const was = this.settings;
    this.settings = s;
    if (s.intensity !== was.intensity) {
      this.pass?.setIntensity(s.intensity);
      const nice = applyNice(pacingFor(s.intensity).nice);
      if (nice) log('warning', nice);
    }
    this.pass?.setMaxRate(readCap(this.hold, s.maxRate));
    if (s.paused && !was.paused) this.pass?.pause();
    if (!s.paused && was.paused) this.pass?.resume();
    // A light pass that fell due while paused, or under another interval, is looked at again.
    this.armLightTimer();
    this.wakeUp();
    this.publish();
    this.sendStatus(true);
  }

  private change(patch: Partial<DaemonSettings>): void {
    const s = { ...this.settings, ...patch };
    saveSettings(this.pool.root, s);
    this.apply(s);
  }

  private async handle(req: ControlRequest): Promise<ControlResponse> {
    switch (req.cmd) {
      case 'status':
        break;
      case 'pause':
        this.change({ paused: true });
        log('info', 'paused');
        break;
      case 'resume':
        this.change({ paused: false });
        log('info', 'resumed');
        break;
      case 'set-intensity':
        if (!['low', 'medium', 'high', 'max'].includes(req.intensity)) return { ok: false, error: `bad intensity ${req.intensity}` };
        this.change({ intensity: req.intensity as Intensity });
        log('info', `intensity set to ${req.intensity}`);
        break;
      case 'set-max-rate':
        this.change({ maxRate: req.bytesPerSecond > 0 ? req.bytesPerSecond : undefined });
        break;
      case 'stop':
        setImmediate(() => this.stop());
        break;
      default:
        return { ok: false, error: `unknown command ${(req as { cmd: string }).cmd}` };
    }
    return { ok: true, status: this.status() };
  }

  private async loop(): Promise<void> {
    // When this daemon's latest deep pass began; the first one (often a resumed one) starts at once.
    let lastDeepStart: string | undefined;
    while (!this.stopping) {
      if (this.lightDue()) {
        await this.runPass('light');
        continue;
      }
      const deepAt = this.deepPassWait(lastDeepStart);
      if (deepAt !== null) {
        await this.idle(deepAt, lastDeepStart!);
        continue;
      }
      const report = await this.runPass('deep');
      // Cancelled: by a stop, which ends the loop, or for a light pass, which comes next.
      if (report.outcome !== 'cancelled') lastDeepStart = report.startedAt;
    }
  }

  /** Runs one pass of either depth with the daemon's settings; the deep one resumes the saved pass, if any. */
  private async runPass(depth: Depth): Promise<PassReport> {
    this.pool = openPool(this.pool.root);
    this.phase = this.settings.paused ? 'paused' : 'scrubbing';
    const mode = this.settings.autoRepair ? 'repair' : 'verify';
    const pass = new ScrubPass(this.pool, {
      mode,
      intensity: this.settings.intensity,
      maxRate: this.settings.maxRate,
      runner: 'dfs-scrubd',
      // A light pass saves no cursor and leaves the deep pass's where it is.
      ...(depth === 'light' ? { depth } : { resume: true, checkpointMs: 5_000 }),
      beforeOperation: () => this.gate(),
      onProgress: () => this.sendStatus(false),
    });
    if (this.settings.paused) pass.startPaused();
    this.pass = pass;
    this.depth = depth;
    const held = this.resumable();
    if (depth === 'light') log('info', `light pass starting${held ? `; deep pass ${held.id} resumes after it, at ${held.extentsDone}/${held.extentsTotal} extents` : ''}`);
    else {
      this.nextPassAt = null;
      if (held) log('info', `resuming pass ${held.id} at ${held.extentsDone}/${held.extentsTotal} extents`);
      this.armLightTimer();
    }
    this.sendStatus(true);
    let report: PassReport;
    try {
      report = await pass.run();
    } finally {
      this.disarmLightTimer();
      this.pass = undefined;
      this.depth = 'deep';
      // Nothing is held back between passes; the next pass's first operation reads the pressure again.
      this.hold = null;
      this.throttled = null;
      this.paceFrom = undefined;
    }
    this.saved = loadState(this.pool.root, this.pool.config.id);
    if (report.outcome !== 'cancelled') {
      const what = depth === 'light' ? `light pass ${report.pass}` : `pass ${report.pass}`;
      log(report.exitCode >= 4 ? 'warning' : 'info', `${what} finished: ${report.outcome}, ${report.extents.scanned} extents, ${report.issues.length} issues, ${report.repairs.successful} repaired`);
    } else if (depth === 'light' && report.extents.scanned > 0) {
      // Its extents are counted in the totals though no summary records them: say how many.
      log('info', `light pass ${report.pass} stopped after ${report.extents.scanned} extents`);
    }
    return report;
  }

  /** The saved deep pass the next deep pass resumes: one of the mode auto-repair gives (another is begun afresh). */
  private resumable(): CurrentPass | undefined {
    const cur = this.saved.current;
    return cur && cur.mode === (this.settings.autoRepair ? 'repair' : 'verify') ? cur : undefined;
  }

  /** When the next deep pass may begin, if not now: --pass-interval after the last began, unless a pass waits to be resumed or a replaced disk to be rebuilt. */
  private deepPassWait(lastStart: string | undefined): number | null {
    if (!lastStart || this.resumable()) return null;
    // A pass over a tiny pool takes milliseconds: without a floor the daemon would spin.
    const interval = Math.max(this.settings.passIntervalSeconds ?? DEFAULT_PASS_INTERVAL_S, MIN_PASS_INTERVAL_S);
    const at = Date.parse(lastStart) + interval * 1000;
    return at > Date.now() && !this.resilverWaiting(lastStart) ? at : null;
  }

  /** Between deep passes: idle until the next is due, a light pass falls due, a replaced disk waits for its rebuild, or a stop. */
  private async idle(deepAt: number, lastStart: string): Promise<void> {
    this.phase = 'waiting';
    this.nextPassAt = deepAt;
    this.sendStatus(true);
    this.publish();
    // A disk replaced meanwhile is rebuilt now, not at the next scheduled pass.
    while (!this.stopping && Date.now() < deepAt && !this.resilverWaiting(lastStart) && !this.lightDue()) {
      const light = this.settings.paused ? null : this.lightDueAt();
      await this.sleep(Math.min(deepAt - Date.now(), 10_000, light === null ? Infinity : light - Date.now()));
    }
  }

  /** When the next light pass falls due (0: now), or null when light passes are off. */
  private lightDueAt(): number | null {
    return lightPassDueAt(this.settings.lightIntervalSeconds, this.saved.lastLight);
  }

  /** A light pass is due and may run: not while paused (it waits for resume) or stopping. */
  private lightDue(): boolean {
    const at = this.lightDueAt();
    return at !== null && Date.now() >= at && !this.settings.paused && !this.stopping;
  }

  /** While a deep pass runs: a timer for the moment the next light pass falls due. */
  private armLightTimer(): void {
    this.disarmLightTimer();
    const at = this.lightDueAt();
    if (at === null || !this.pass || this.depth !== 'deep') return;
    this.lightTimer = setTimeout(() => this.lightFallsDue(), Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
  }

  private disarmLightTimer(): void {
    clearTimeout(this.lightTimer);
    this.lightTimer = undefined;
  }

  /**
   * The deep pass in hand stops after the operation in hand, its cursor and
   * counters checkpointed; the loop tells this from a stop (this.stopping),
   * runs the light pass, then resumes the deep one.
   */
  private lightFallsDue(): void {
    this.lightTimer = undefined;
    const pass = this.pass;
    if (!pass || this.depth !== 'deep') return;
    // Paused: apply() arms the timer again at resume.
    if (this.settings.paused || this.stopping) return;
    if (!this.lightDue()) return this.armLightTimer();
    const cur = pass.currentPass();
    log('info', `light pass due: pass ${cur?.id} stops at a checkpoint (${cur?.extentsDone}/${cur?.extentsTotal} extents) and resumes after it`);
    pass.cancel();
    // The gate may be holding the deep pass back: let it see the cancel now.
    this.wakeUp();
  }

  /** A disk replaced since the last pass began waits for a repair pass this daemon would run. */
  private resilverWaiting(lastPassStartedAt: string): boolean {
    if (!this.settings.autoRepair || this.settings.paused) return false;
    try {
      return openPool(this.pool.root, { record: false }).config.disks.some((d) => d.rebuilding && d.rebuilding.since > lastPassStartedAt);
    } catch {
      return false;
    }
  }

  /**
   * Before each operation: under foreground I/O pressure cap the reads at the
   * floor (or at the pace a deadline needs, when more), and wait while ahead
   * of the deadline schedule.
   */
  private async gate(): Promise<void> {
    for (;;) {
      // A pass stopping (for a stop or a light pass) finishes the operation in hand without waiting.
      if (this.stopping || !this.pass || this.pass.status === 'cancelling') return;
      // The deadline paces deep passes; a light one reads next to nothing and is not held back for it.
      const deadline = this.depth === 'deep' ? this.settings.deadlineSeconds : undefined;
      const cur = this.pass.currentPass();
      const dp = deadline && cur ? this.deadlineProgress(cur) : undefined;
      const hold = this.holdForPressure(deadline && dp ? deadlinePace(deadline, dp) : undefined);
      this.pass.setMaxRate(readCap(hold, this.settings.maxRate));
      // Under pressure a deadline slower than the floor is what holds the pass back; one faster has its pace held.
      const pressed = hold ? (hold.by === 'floor' && deadline ? 'deadline' : 'io pressure') : null;
      if (deadline && dp) {
        this.achievable = deadlineAchievable(deadline, dp);
        const delay = deadlineDelayMs(deadline, dp);
        if (delay > 0) {
          this.setThrottled(pressed ?? 'deadline');
          const t0 = Date.now();
          await this.sleep(Math.min(delay, 1000));
          if (this.paceFrom) this.paceFrom.waitedMs += Date.now() - t0;
          continue;
        }
      }
      this.setThrottled(pressed);
      return;
    }
  }

  /** Where the pass stands against its deadline, at the rate it can go. */
  private deadlineProgress(cur: CurrentPass): DeadlineProgress {
    const p = this.pass!.progress();
    const from = (this.paceFrom ??= { bytesDone: p.bytesDone, activeSeconds: p.activeSeconds, waitedMs: 0 });
    // Not the pass's average rate: paced to the schedule, that is the schedule's own, and says nothing of what the pass could do.
    const seconds = p.activeSeconds - from.activeSeconds - from.waitedMs / 1000;
    const measured = seconds > 0 ? (p.bytesDone - from.bytesDone) / seconds : 0;
    // The rate cap bounds the rate from the start, before any operation has been measured.
    const cap = this.settings.maxRate ?? Infinity;
    const rate = measured > 0 ? Math.min(measured, cap) : Number.isFinite(cap) ? cap : 0;
    return { startedAtMs: Date.parse(cur.startedAt), nowMs: Date.now(), bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: rate };
  }

  /** Reads the pressure; the rate to hold while it is above the limit, or null. */
  private holdForPressure(deadlineBytesPerSecond: number | undefined): PressureHold | null {
    const limit = this.settings.ioPressureLimit ?? 0;
    if (!(limit > 0)) {
      this.pressure = null;
      return this.setHold(null);
    }
    const psi = ioPressureSome10();
    if (psi === undefined && !this.psiWarned) {
      this.psiWarned = true;
      log('notice', 'no I/O pressure information (/proc/pressure/io): not backing off for foreground I/O');
    }
    this.pressure = psi ?? null;
    return this.setHold(pressureHold({ pressure: psi, limit, floor: this.floor(), deadlinePace: deadlineBytesPerSecond, maxRate: this.settings.maxRate }));
  }

  private floor(): number {
    return this.settings.ioPressureFloor ?? DEFAULT_IO_PRESSURE_FLOOR;
  }

  /** Records the hold; a change of what sets the rate is logged and published. */
  private setHold(hold: PressureHold | null): PressureHold | null {
    const was = this.hold;
    this.hold = hold;
    if ((hold?.by ?? null) !== (was?.by ?? null)) {
      const line = holdText(hold, this.floor());
      if (line) log('info', line);
      else log('info', 'io pressure back under the limit: reading at the intensity\'s pace');
      this.publish();
      this.sendStatus(true);
    }
    return hold;
  }

  private setThrottled(why: string | null): void {
    if (why === this.throttled) return;
    this.throttled = why;
    if (why === 'deadline') log('info', 'holding back: deadline');
    this.publish();
    this.sendStatus(true);
  }

  private sleep(ms: number): Promise<void> {
    return this.alarm.sleep(ms);
  }

  private wakeUp(): void {
    this.alarm.ring();
  }

  private startTimers(): void {
    const wd = watchdogIntervalMs();
    // Pings come from the event loop: a stuck loop misses them and systemd restarts us.
    if (wd) this.timers.push(setInterval(() => notifyWatchdog(), wd));
    this.timers.push(setInterval(() => this.publish(), INFO_EVERY_MS));
  }

  status(): DaemonStatus {
    const pass = this.pass;
    const cur = pass?.currentPass();
    const light = this.depth === 'light';
    const view = cur ? passView(cur, pass!.progress(), this.depth) : null;
    // During a light pass the deep pass it interrupted waits at its checkpoint; a resilver's progress is that pass's.
    const held = light ? this.resumable() : undefined;
    const deep = light ? (held ? passView(held) : null) : view;
    const lightAt = light ? null : this.lightDueAt();
    return {
      pool: this.pool.root,
      pid: process.pid,
      running: true,
      paused: this.settings.paused,
      intensity: this.settings.intensity,
      autoRepair: this.settings.autoRepair,
      maxRate: this.settings.maxRate ?? null,
      throttled: this.throttled,
      phase: this.stopping ? 'stopping' : this.settings.paused ? 'paused' : this.phase,
      startedAt: this.startedAt,
      nextPassAt: this.nextPassAt ? new Date(this.nextPassAt).toISOString() : null,
      pass: view,
      suspendedPass: held ? deep : null,
      lightIntervalSeconds: this.settings.lightIntervalSeconds || null,
      // Due since before this daemon began (or never run): due at its start.
      nextLightAt: lightAt === null ? null : new Date(Math.max(lightAt, Date.parse(this.startedAt))).toISOString(),
      resilver: resilverView(this.pool, deep, light ? held?.startedAt : cur?.startedAt),
      deadline: this.settings.deadlineSeconds ? { seconds: this.settings.deadlineSeconds, achievable: this.achievable } : null,
      ioPressure: this.ioPressureView() ?? null,
      // Live from the pass; between passes from the state read once after the last one (no disk read per STATUS=).
      counters: { ...(pass?.counters() ?? this.saved.counters) },
      lastPass: lastPassView(this.saved.lastPass),
      lastLight: lastPassView(this.saved.lastLight),
    };
  }

  /** The back-off as status shows it; undefined when it is off. */
  private ioPressureView(): IoPressureView | undefined {
    const limit = this.settings.ioPressureLimit ?? 0;
    if (!(limit > 0)) return undefined;
    return { limit, floorBytesPerSecond: this.floor(), pressure: this.pressure, holding: this.hold };
  }

  /** daemon.json: what the metrics and a socket-less status read. */
  private publish(): void {
    const info: DaemonInfo = {
      ...this.settings,
      pid: process.pid,
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      throttled: this.throttled,
      deadlineAchievable: this.settings.deadlineSeconds ? this.achievable : undefined,
      ioPressure: this.ioPressureView(),
    };
    try {
      writeJsonAtomic(daemonFile(this.pool.root), info);
    } catch (err) {
      log('warning', err instanceof Error ? err.message : String(err));
    }
  }

  /** STATUS= for `systemctl status`, at most once a second unless forced. */
  private sendStatus(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastStatusSent < STATUS_EVERY_MS) return;
    this.lastStatusSent = now;
    notifyStatus(statusLine(this.status()));
  }

  private shutdown(): void {
    this.disarmLightTimer();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.server?.close();
    this.server = undefined;
    try {
      fs.rmSync(this.socketPath, { force: true });
    } catch {
      // best effort: a later start removes a stale socket anyway
    }
    try {
      const now = new Date().toISOString();
      const info: DaemonInfo = { ...this.settings, pid: 0, startedAt: this.startedAt, updatedAt: now, throttled: null, stoppedAt: now };
      writeJsonAtomic(daemonFile(this.pool.root), info);
    } catch {
      // the pid check in readers covers a stale file
    }
    this.release?.();
    this.release = undefined;
  }
}

/** One line for systemd's STATUS=. */
export function statusLine(s: DaemonStatus): string {
  if (s.phase === 'stopping') return 'Stopping';
  if (!s.pass && !s.paused && s.phase !== 'waiting') return `Starting a pass, intensity ${s.intensity}`;
  const light = s.pass?.depth === 'light';
  const pass = s.pass ? `${s.pass.percent.toFixed(1)}% (${s.pass.extentsDone}/${s.pass.extentsTotal} extents)` : '';
  if (s.paused) return `Paused${s.pass ? `${light ? ' light scrub' : ''} at ${pass}` : ''}`;
  if (s.phase === 'waiting') return `Idle until ${s.nextPassAt}; last pass ${s.lastPass?.outcome ?? 'none'}`;
  // A light pass reads headers only: its byte rate says nothing.
  const rate = s.pass && !light ? `, ${(s.pass.bytesPerSecond / 1048576).toFixed(1)} MiB/s` : '';
  const eta = s.pass?.etaSeconds != null ? `, ETA ${Math.round(s.pass.etaSeconds)}s` : '';
  const hold = s.throttled === 'io pressure' && s.ioPressure ? holdText(s.ioPressure.holding, s.ioPressure.floorBytesPerSecond) : undefined;
  const held = hold ? `, ${hold}` : s.throttled ? `, throttled: ${s.throttled}` : '';
  const deep = s.suspendedPass ? `; deep pass resumes after it at ${s.suspendedPass.percent.toFixed(1)}%` : '';
  return `${light ? 'Light scrub' : 'Scrubbing'} ${pass}${rate}${eta}, ${s.counters.issuesFound} issues found, intensity ${s.intensity}${held}${deep}`;
}

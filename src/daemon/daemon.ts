import fs from 'node:fs';
import net from 'node:net';
import { openPool, Pool, onlineDisks } from '../core/pool';
import { operationalError } from '../core/errors';
import { writeJsonAtomic } from '../core/atomic-file';
import { acquireScrubLock } from '../scrub/lock';
import { ScrubPass } from '../scrub/pass';
import { applyNice, pacingFor } from '../scrub/pacing';
import { loadState, ScrubState } from '../scrub/state';
import { lastPassView, passView, resilverView } from './status';
import { DaemonInfo, DaemonSettings, daemonFile, Intensity } from './info';
import { DEFAULT_SETTINGS, loadSettings, saveSettings } from './settings';
import { controlSocketPath } from './socket-path';
import { startControlServer } from './control-server';
import { ControlRequest, ControlResponse, DaemonStatus } from './protocol';
import { notifyReady, notifyStatus, notifyStopping, notifyWatchdog, watchdogIntervalMs } from './notify';
import { ioPressureSome10 } from './pressure';
import { deadlineAchievable, deadlineDelayMs } from './deadline';
import { log } from './log';
import { Alarm } from '../scrub/alarm';

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

/**
 * The background scrubber: holds the pool's scrub lock for its life, serves
 * the control socket, runs passes back to back (or every --pass-interval),
 * resuming an interrupted pass from its persisted cursor.
 */
export class ScrubDaemon {
  private settings: DaemonSettings;
  private pool: Pool;
  private pass: ScrubPass | undefined;
  private server: net.Server | undefined;
  private stopping = false;
  private phase: DaemonStatus['phase'] = 'scrubbing';
  private throttled: string | null = null;
  private achievable = true;
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
    this.pass?.setMaxRate(s.maxRate ?? 0);
    if (s.paused && !was.paused) this.pass?.pause();
    if (!s.paused && was.paused) this.pass?.resume();
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
    while (!this.stopping) {
      this.pool = openPool(this.pool.root);
      this.phase = this.settings.paused ? 'paused' : 'scrubbing';
      const pass = new ScrubPass(this.pool, {
        mode: this.settings.autoRepair ? 'repair' : 'verify',
        intensity: this.settings.intensity,
        maxRate: this.settings.maxRate,
        runner: 'dfs-scrubd',
        resume: true,
        checkpointMs: 5_000,
        beforeOperation: () => this.gate(),
        onProgress: () => this.sendStatus(false),
      });
      if (this.settings.paused) pass.startPaused();
      this.pass = pass;
      const report = await pass.run();
      this.saved = loadState(this.pool.root, this.pool.config.id);
      this.pass = undefined;
      if (report.outcome === 'cancelled') break;
      log(report.exitCode >= 4 ? 'warning' : 'info', `pass ${report.pass} finished: ${report.outcome}, ${report.extents.scanned} extents, ${report.issues.length} issues, ${report.repairs.successful} repaired`);
      // A pass over a tiny pool takes milliseconds: without a floor the daemon would spin.
      const interval = Math.max(this.settings.passIntervalSeconds ?? DEFAULT_PASS_INTERVAL_S, MIN_PASS_INTERVAL_S);
      const nextAt = Date.parse(report.startedAt) + interval * 1000;
      if (nextAt > Date.now()) {
        this.phase = 'waiting';
        this.nextPassAt = nextAt;
        this.sendStatus(true);
        this.publish();
        // A disk replaced meanwhile is rebuilt now, not at the next scheduled pass.
        while (!this.stopping && Date.now() < nextAt && !this.resilverWaiting(report.startedAt)) await this.sleep(Math.min(nextAt - Date.now(), 10_000));
        this.nextPassAt = null;
      }
    }
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

  /** Before each operation: hold back for foreground I/O pressure and for the deadline schedule. */
  private async gate(): Promise<void> {
    for (;;) {
      if (this.stopping || !this.pass) return;
      const limit = this.settings.ioPressureLimit ?? 0;
      if (limit > 0) {
        const psi = ioPressureSome10();
        if (psi === undefined && !this.psiWarned) {
          this.psiWarned = true;
          log('notice', 'no I/O pressure information (/proc/pressure/io): not backing off for foreground I/O');
        }
        if (psi !== undefined && psi > limit) {
          this.setThrottled('io pressure');
          await this.sleep(1000);
          continue;
        }
      }
      const deadline = this.settings.deadlineSeconds;
      const cur = this.pass.currentPass();
      if (deadline && cur) {
        const p = this.pass.progress();
        // The rate cap bounds the rate from the start, before any operation has been measured.
        const cap = this.settings.maxRate ?? Infinity;
        const rate = p.bytesPerSecond > 0 ? Math.min(p.bytesPerSecond, cap) : Number.isFinite(cap) ? cap : 0;
        const dp = { startedAtMs: Date.parse(cur.startedAt), nowMs: Date.now(), bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: rate };
        this.achievable = deadlineAchievable(deadline, dp);
        const delay = deadlineDelayMs(deadline, dp);
        if (delay > 0) {
          this.setThrottled('deadline');
          await this.sleep(Math.min(delay, 1000));
          continue;
        }
      }
      this.setThrottled(null);
      return;
    }
  }

  private setThrottled(why: string | null): void {
    if (why === this.throttled) return;
    this.throttled = why;
    if (why) log('info', `holding back: ${why}`);
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
    const view = cur ? passView(cur, pass!.progress()) : null;
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
      resilver: resilverView(this.pool, view, cur?.startedAt),
      deadline: this.settings.deadlineSeconds ? { seconds: this.settings.deadlineSeconds, achievable: this.achievable } : null,
      // Live from the pass; between passes from the state read once after the last one (no disk read per STATUS=).
      counters: { ...(pass?.counters() ?? this.saved.counters) },
      lastPass: lastPassView(this.saved.lastPass),
      lastLight: lastPassView(this.saved.lastLight),
    };
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
  const pass = s.pass ? `${s.pass.percent.toFixed(1)}% (${s.pass.extentsDone}/${s.pass.extentsTotal} extents)` : '';
  if (s.paused) return `Paused${s.pass ? ` at ${pass}` : ''}`;
  if (s.phase === 'waiting') return `Idle until ${s.nextPassAt}; last pass ${s.lastPass?.outcome ?? 'none'}`;
  const rate = s.pass ? `, ${(s.pass.bytesPerSecond / 1048576).toFixed(1)} MiB/s` : '';
  const eta = s.pass?.etaSeconds != null ? `, ETA ${Math.round(s.pass.etaSeconds)}s` : '';
  const held = s.throttled ? `, throttled: ${s.throttled}` : '';
  return `Scrubbing ${pass}${rate}${eta}, ${s.counters.issuesFound} issues found, intensity ${s.intensity}${held}`;
}

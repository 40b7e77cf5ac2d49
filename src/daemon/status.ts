import { Pool } from '../core/pool';
import { CurrentPass, loadState, PassSummary } from '../scrub/state';
import { PassProgress } from '../scrub/pass';
import { DaemonStatus, PassView } from './protocol';
import { DEFAULT_IO_PRESSURE_FLOOR, DEFAULT_SETTINGS, loadSettings } from './settings';
import type { PressureHold } from './back-off';

/** A rate as status lines give it: MiB/s (one decimal below 10), KiB/s below 1 MiB/s. */
export function rateText(bytesPerSecond: number): string {
  const mib = bytesPerSecond / 1048576;
  if (mib < 1) return `${Math.round(bytesPerSecond / 1024)} KiB/s`;
  return `${mib < 10 ? Number(mib.toFixed(1)) : Math.round(mib)} MiB/s`;
}

/**
 * What the I/O-pressure back-off holds the daemon to, as status shows it: the
 * floor, or the deadline's pace and what it costs beyond the floor; undefined
 * while the pressure is under the limit.
 */
export function holdPhrase(hold: PressureHold | null, floor: number): string | undefined {
  if (!hold) return undefined;
  switch (hold.by) {
    case 'floor':
      return `io pressure, floor ${rateText(floor)}`;
    case 'max-rate':
      return `io pressure, rate cap ${rateText(hold.bytesPerSecond ?? 0)} (under the floor ${rateText(floor)})`;
    case 'deadline':
      return hold.bytesPerSecond === null
        ? `io pressure: the deadline has passed and wins over the back-off (floor ${rateText(floor)})`
        : `io pressure: deadline pace ${rateText(hold.bytesPerSecond)} wins over the back-off (${rateText(hold.bytesPerSecond - floor)} above the floor ${rateText(floor)})`;
  }
}

/** The same for the log and STATUS=: said to hold back unless the deadline wins. */
export function holdText(hold: PressureHold | null, floor: number): string | undefined {
  const phrase = holdPhrase(hold, floor);
  return phrase && hold?.by !== 'deadline' ? `holding back: ${phrase}` : phrase;
}

/** A pass as status shows it: live progress when running, else what its checkpoint says. */
export function passView(cur: CurrentPass, live?: PassProgress, depth: PassView['depth'] = 'deep'): PassView {
  const bytesDone = live?.bytesDone ?? cur.bytesDone;
  const bytesTotal = live?.bytesTotal ?? cur.bytesTotal;
  const extentsDone = live?.extentsDone ?? cur.extentsDone;
  const extentsTotal = live?.extentsTotal ?? cur.extentsTotal;
  const eta = live?.etaSeconds;
  return {
    id: cur.id,
    depth,
    mode: cur.mode,
    extentsDone,
    extentsTotal,
    bytesDone,
    bytesTotal,
    bytesPerSecond: live?.bytesPerSecond ?? (cur.activeSeconds > 0 ? cur.bytesDone / cur.activeSeconds : 0),
    etaSeconds: eta !== undefined && Number.isFinite(eta) ? eta : null,
    // A light pass reads headers only: it has no byte total, its progress is in extents.
    percent: bytesTotal > 0 ? (100 * bytesDone) / bytesTotal : extentsTotal > 0 ? (100 * extentsDone) / extentsTotal : 0,
  };
}

/** Rebuilding disks, with the progress of the repair pass that rebuilds them (one begun after the disk was replaced). */
export function resilverView(pool: Pool, pass: DaemonStatus['pass'], passStartedAt: string | undefined): DaemonStatus['resilver'] {
  return pool.disks
    .filter((d) => pool.config.disks[d.index]?.rebuilding)
    .map((d) => {
      const since = pool.config.disks[d.index].rebuilding!.since;
      const rebuilding = pass && pass.mode === 'repair' && passStartedAt !== undefined && passStartedAt >= since;
      return { disk: d.index, id: d.id, path: d.path, since, percent: rebuilding ? pass.percent : null, etaSeconds: rebuilding ? pass.etaSeconds : null };
    });
}

export function lastPassView(s: PassSummary | undefined): DaemonStatus['lastPass'] {
  return s ? { finishedAt: s.finishedAt, outcome: s.outcome, durationSeconds: s.durationSeconds, exitCode: s.exitCode } : null;
}

/** What `status` shows with no daemon running: the persisted state and settings. */
export function persistedStatus(pool: Pool): DaemonStatus {
  const st = loadState(pool.root, pool.config.id);
  const settings = { ...DEFAULT_SETTINGS, ...loadSettings(pool.root) };
  return {
    pool: pool.root,
    pid: 0,
    running: false,
    paused: settings.paused,
    intensity: settings.intensity,
    autoRepair: settings.autoRepair,
    maxRate: settings.maxRate ?? null,
    throttled: null,
    phase: 'waiting',
    startedAt: '',
    nextPassAt: null,
    // Light passes save no cursor: a saved pass is always a deep one.
    pass: st.current ? passView(st.current) : null,
    suspendedPass: null,
    lightIntervalSeconds: settings.lightIntervalSeconds || null,
    nextLightAt: null,
    resilver: resilverView(pool, st.current ? passView(st.current) : null, st.current?.startedAt),
    deadline: settings.deadlineSeconds ? { seconds: settings.deadlineSeconds, achievable: true } : null,
    ioPressure: settings.ioPressureLimit ? { limit: settings.ioPressureLimit, floorBytesPerSecond: settings.ioPressureFloor ?? DEFAULT_IO_PRESSURE_FLOOR, pressure: null, holding: null } : null,
    counters: { ...st.counters },
    lastPass: lastPassView(st.lastPass),
    lastLight: lastPassView(st.lastLight),
  };
}

import { Pool } from '../core/pool';
import { CurrentPass, loadState, PassSummary } from '../scrub/state';
import { PassProgress } from '../scrub/pass';
import { DaemonStatus, PassView } from './protocol';
import { DEFAULT_SETTINGS, loadSettings } from './settings';

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
    counters: { ...st.counters },
    lastPass: lastPassView(st.lastPass),
    lastLight: lastPassView(st.lastLight),
  };
}

import { Counter, Gauge, Registry } from 'prom-client';
import { PassOutcome } from '../scrub/state';
import { Intensity } from '../scrub/pacing';
import { DISK_STATES, onlineDisks } from '../core/pool';
import { DISK_ERROR_KINDS } from '../scrub/disk-errors';
import { COMPLETED_OUTCOMES, lastCompletedPass, oldestVerification, passProgress, PoolSnapshot, ReadableSnapshot } from './snapshot';
import { HELD_BY } from '../daemon/back-off';

// The Prometheus view of pool snapshots. A fresh Registry is built for every
// scrape (never prom-client's global one): the values are copies of persisted
// state, not increments this process observed, so nothing may carry over from
// the previous scrape, and a pool's counters stay right across restarts of the
// exporter and of the daemon alike.
//
// The guide's seven names (dynamicfs_scrubs_completed .. dynamicfs_extents_unrecoverable)
// are the user's (their alerts use them) and are
// kept although the four counters lack the `_total` suffix; everything added
// beside them follows Prometheus naming.

const OUTCOMES: readonly PassOutcome[] = ['clean', 'repaired', 'problems', 'cancelled', 'failed'];
const INTENSITIES: readonly Intensity[] = ['low', 'medium', 'high', 'max'];

const seconds = (iso: string | undefined): number | undefined => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t / 1000 : undefined;
};

const bool = (b: boolean) => (b ? 1 : 0);

/**
 * The metric families, each registered on first use: a family no pool has a
 * value for (no daemon, no pass yet) is left out instead of printed empty.
 */
function declareMetrics(registry: Registry) {
  const registers = [registry];
  const lazy = <T>(make: () => T) => {
    let made: T | undefined;
    return () => (made ??= make());
  };
  const gauge = (name: string, help: string, extra: string[] = []) =>
    lazy(() => new Gauge({ name, help, labelNames: ['pool', ...extra], registers }));
  // prom-client's Counter writes `# TYPE ... counter`; inc(value) on a fresh
  // registry sets it to the persisted total.
  const counter = (name: string, help: string, extra: string[] = []) =>
    lazy(() => new Counter({ name, help, labelNames: ['pool', ...extra], registers }));

  const m = {
    readable: gauge('dynamicfs_pool_readable', '1 if pool.json and the scrub state could be read at this scrape, else 0'),
    info: gauge('dynamicfs_pool_info', 'Pool identity: always 1, labelled with the pool id and default redundancy', ['pool_id', 'redundancy']),
    created: gauge('dynamicfs_pool_created_timestamp_seconds', 'When the pool was created, Unix time'),

    scrubsCompleted: counter('dynamicfs_scrubs_completed', 'Scrub passes completed over the pool\'s life'),
    issuesFound: counter('dynamicfs_scrub_issues_found', 'Problems found by scrubs over the pool\'s life'),
    repairsAttempted: counter('dynamicfs_scrub_repairs_attempted', 'Shard repairs attempted by scrubs over the pool\'s life'),
    repairsSuccessful: counter('dynamicfs_scrub_repairs_successful', 'Shard repairs that succeeded over the pool\'s life'),
    extentsScanned: counter('dynamicfs_scrub_extents_scanned_total', 'Extents verified by scrubs over the pool\'s life'),
    bytesRead: counter('dynamicfs_scrub_read_bytes_total', 'Bytes read by scrubs over the pool\'s life'),

    healthy: gauge('dynamicfs_extents_healthy', 'Extents with every shard present and valid, as of the latest scrub'),
    degraded: gauge('dynamicfs_extents_degraded', 'Extents missing shards but still rebuildable, as of the latest scrub'),
    unrecoverable: gauge('dynamicfs_extents_unrecoverable', 'Extents with too few valid shards to rebuild, as of the latest scrub'),

    lastCompleted: gauge('dynamicfs_scrub_last_completed_timestamp_seconds', 'When the latest completed scrub pass finished, Unix time'),
    lastDuration: gauge('dynamicfs_scrub_last_duration_seconds', 'How long the latest completed scrub pass took'),
    lastOutcome: gauge('dynamicfs_scrub_last_outcome', 'Outcome of the latest scrub pass: 1 for the outcome it had, 0 for the others', ['outcome']),
    // The names above keep the guide's meaning (deep passes); these say each depth apart.
    depthCompleted: gauge('dynamicfs_scrub_depth_last_completed_timestamp_seconds', 'When the latest completed pass of each depth (light: headers and sizes; deep: every byte) finished, Unix time', ['depth']),
    depthDuration: gauge('dynamicfs_scrub_depth_last_duration_seconds', 'How long the latest completed pass of each depth took', ['depth']),
    depthOutcome: gauge('dynamicfs_scrub_depth_last_outcome', 'Outcome of the latest pass of each depth: 1 for the outcome it had, 0 for the others', ['depth', 'outcome']),
    scheduleInterval: gauge('dynamicfs_scrub_schedule_interval_seconds', 'Longest time the scrub schedule of each depth lets pass between two runs (its calendar\'s longest gap plus its randomized delay); absent without a schedule', ['depth']),
    passInProgress: gauge('dynamicfs_scrub_pass_in_progress', '1 while a scrub pass has begun and not finished (running, paused or interrupted)'),
    passProgress: gauge('dynamicfs_scrub_pass_progress_ratio', 'Fraction of the current scrub pass done, 0 to 1'),
    passEta: gauge('dynamicfs_scrub_pass_eta_seconds', 'Estimated scrubbing time left in the current pass at its average rate so far'),
    verifiedOldest: gauge('dynamicfs_extents_oldest_verified_timestamp_seconds', 'When the least recently verified extent was last verified, Unix time'),
    verificationAge: gauge('dynamicfs_extents_verification_age_seconds', 'Age of the least recently verified extent\'s last verification'),

    daemonUp: gauge('dynamicfs_daemon_up', '1 if a scrub daemon is running for the pool, else 0'),
    daemonPaused: gauge('dynamicfs_daemon_paused', '1 if the running scrub daemon is paused, else 0'),
    daemonThrottled: gauge('dynamicfs_daemon_throttled', '1 if the running scrub daemon is holding back (I/O pressure, rate cap or deadline pacing), else 0'),
    daemonIntensity: gauge('dynamicfs_daemon_intensity', 'Intensity of the running scrub daemon: 1 for its level, 0 for the others', ['intensity']),
    daemonDeadline: gauge('dynamicfs_daemon_deadline_achievable', '1 if the running daemon can finish a pass within its --deadline, 0 if not (absent without a deadline)'),
    pressureFloor: gauge('dynamicfs_daemon_io_pressure_floor_bytes_per_second', 'Read rate the running daemon keeps verifying at while foreground I/O pressure exceeds its limit (absent when its back-off is off)'),
    pressureHeldRate: gauge('dynamicfs_daemon_io_pressure_held_rate_bytes_per_second', 'Read rate the running daemon holds to while foreground I/O pressure exceeds its limit: its floor, the pace its deadline needs when that is more, or --max-rate when that is less (absent while the pressure is under the limit)'),
    pressureHeldBy: gauge('dynamicfs_daemon_io_pressure_held_by', 'While foreground I/O pressure exceeds its limit: 1 for what sets the running daemon\'s read rate (floor, deadline, max-rate), 0 for the others (absent otherwise)', ['by']),
    daemonUpdated: gauge('dynamicfs_daemon_updated_timestamp_seconds', 'When a scrub daemon last published its state for the pool, Unix time'),

    disks: gauge('dynamicfs_disks', `Disks of the pool by state (${DISK_STATES.join(', ')})`, ['state']),

    // Per disk, `disk` being its id: stable when its mount point changes, new
    // when a drive is replaced. dynamicfs_disk_info joins it to index, path and state.
    diskInfo: gauge('dynamicfs_disk_info', 'A disk of the pool: always 1, labelled with its id, index, path and state', ['disk', 'index', 'path', 'state']),
    diskErrors: counter('dynamicfs_disk_errors_total', 'Read, checksum and write errors of a disk since its errors were last cleared (dfs-pool clear-errors resets it)', ['disk', 'kind']),
    diskQuarantineBytes: gauge('dynamicfs_disk_quarantine_bytes', 'Bytes of damaged files kept in a readable disk\'s quarantine', ['disk']),
    diskQuarantineEntries: gauge('dynamicfs_disk_quarantine_entries', 'Entries in a readable disk\'s quarantine', ['disk']),
    diskClaims: gauge('dynamicfs_disk_claims', 'Other pools whose disk lists name this disk (they are refused it; the operator should mend their pool.json)', ['disk']),
    resilverProgress: gauge('dynamicfs_disk_resilver_progress_ratio', 'Fraction of a rebuilding disk\'s repair pass done, 0 to 1 (0 while no repair pass has begun)', ['disk']),
    resilverEta: gauge('dynamicfs_disk_resilver_eta_seconds', 'Estimated time left in a rebuilding disk\'s repair pass at its average rate so far', ['disk']),
  };
  return m;
}

type Metrics = ReturnType<typeof declareMetrics>;

export function buildRegistry(snapshots: readonly PoolSnapshot[], now = Date.now()): Registry {
  const registry = new Registry();
  const m = declareMetrics(registry);
  for (const snap of snapshots) {
    const pool = snap.path;
    m.readable().set({ pool }, bool(snap.ok));
    if (snap.ok) addPool(m, snap, now);
  }
  return registry;
}

function addPool(m: Metrics, snap: ReadableSnapshot, now: number): void {
  const pool = snap.path;
  const { state, daemon } = snap;
  const set = (g: () => Gauge<string>, value: number | undefined, labels: Record<string, string> = {}) => {
    if (value !== undefined && Number.isFinite(value)) g().set({ pool, ...labels }, value);
  };

  set(m.info, 1, { pool_id: snap.pool.config.id, redundancy: snap.pool.config.redundancy });
  set(m.created, seconds(snap.pool.config.created));

  // A value a counter cannot hold (negative, not a number: a damaged state)
  // leaves its series out rather than failing the whole scrape.
  const count = (ctr: () => Counter<string>, value: number) => {
    if (Number.isFinite(value) && value >= 0) ctr().inc({ pool }, value);
  };
  const c = state.counters;
  count(m.scrubsCompleted, c.scrubsCompleted);
  count(m.issuesFound, c.issuesFound);
  count(m.repairsAttempted, c.repairsAttempted);
  count(m.repairsSuccessful, c.repairsSuccessful);
  count(m.extentsScanned, c.extentsScanned);
  count(m.bytesRead, c.bytesRead);

  set(m.healthy, state.health.healthy);
  set(m.degraded, state.health.degraded);
  set(m.unrecoverable, state.health.unrecoverable);

  const done = lastCompletedPass(state);
  set(m.lastCompleted, seconds(done?.finishedAt));
  set(m.lastDuration, done?.durationSeconds);
  if (state.lastPass) for (const o of OUTCOMES) set(m.lastOutcome, bool(state.lastPass.outcome === o), { outcome: o });
  for (const [depth, pass] of [['deep', state.lastPass], ['light', state.lastLight]] as const) {
    if (!pass) continue;
    if (COMPLETED_OUTCOMES.has(pass.outcome)) {
      set(m.depthCompleted, seconds(pass.finishedAt), { depth });
      set(m.depthDuration, pass.durationSeconds, { depth });
    }
    for (const o of OUTCOMES) set(m.depthOutcome, bool(pass.outcome === o), { depth, outcome: o });
  }

  for (const s of snap.schedules) set(m.scheduleInterval, s.intervalSeconds, { depth: s.depth });

  const cur = state.current;
  set(m.passInProgress, bool(!!cur));
  if (cur) {
    const progress = passProgress(cur);
    set(m.passProgress, progress.ratio);
    set(m.passEta, progress.etaSeconds);
  }

  const oldest = oldestVerification(snap);
  if (oldest !== undefined) {
    set(m.verifiedOldest, oldest / 1000);
    set(m.verificationAge, Math.max(0, (now - oldest) / 1000));
  }

  set(m.daemonUp, bool(daemon.running));
  set(m.daemonPaused, bool(daemon.paused));
  set(m.daemonThrottled, bool(!!daemon.throttled));
  if (daemon.running && daemon.intensity) {
    for (const i of INTENSITIES) set(m.daemonIntensity, bool(daemon.intensity === i), { intensity: i });
  }
  if (daemon.running && daemon.deadlineSeconds && daemon.deadlineAchievable !== undefined) {
    set(m.daemonDeadline, bool(daemon.deadlineAchievable));
  }
  const pressure = daemon.ioPressure;
  if (pressure) {
    set(m.pressureFloor, pressure.floorBytesPerSecond);
    const hold = pressure.holding;
    if (hold) {
      set(m.pressureHeldRate, hold.bytesPerSecond ?? undefined);
      for (const by of HELD_BY) set(m.pressureHeldBy, bool(hold.by === by), { by });
    }
  }
  if (daemon.known) set(m.daemonUpdated, seconds(daemon.updatedAt));

  for (const s of DISK_STATES) set(m.disks, snap.disks[s], { state: s });

  // The disks whose quarantine directory is read; the others' is out of reach.
  const reachable = new Set(onlineDisks(snap.pool).map((d) => d.id));
  for (const v of snap.diskViews) {
    const disk = { disk: v.id };
    set(m.diskInfo, 1, { ...disk, index: String(v.index), path: v.path, state: v.state });
    // Zeros included: a disk's series exist before its first error, so
    // increase() sees the first one.
    for (const kind of DISK_ERROR_KINDS) {
      const n = v.errors?.[kind];
      if (Number.isFinite(n) && n >= 0) m.diskErrors().inc({ pool, ...disk, kind }, n);
    }
    // A disk that cannot be read has no quarantine to count: left out, not 0.
    if (reachable.has(v.id)) {
      set(m.diskQuarantineBytes, v.quarantine.bytes, disk);
      set(m.diskQuarantineEntries, v.quarantine.entries, disk);
      set(m.diskClaims, v.claimedBy?.length ?? 0, disk);
    }
    if (v.state === 'rebuilding' && v.resilver) {
      set(m.resilverProgress, v.resilver.pass?.ratio ?? 0, disk);
      set(m.resilverEta, v.resilver.pass?.etaSeconds, disk);
    }
  }
}

/** The text exposition format 0.0.4 of the snapshots, and its content type. */
export async function renderMetrics(snapshots: readonly PoolSnapshot[], now = Date.now()): Promise<{ contentType: string; text: string }> {
  const registry = buildRegistry(snapshots, now);
  const text = await registry.metrics();
  // The format wants every line, the last included, ended by \n; prom-client leaves the last open.
  return { contentType: registry.contentType, text: text.endsWith('\n') ? text : text + '\n' };
}

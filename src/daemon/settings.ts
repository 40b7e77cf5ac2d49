import path from 'node:path';
import { stateDir } from '../core/layout';
import { readStateText } from '../core/safe-fs';
import { writeJsonAtomic } from '../core/atomic-file';
import { fsFailure, operationalError } from '../core/errors';
import { DaemonSettings } from './info';
import { INTENSITIES } from '../scrub/pacing';
import { MAX_DURATION_SECONDS } from '../core/units';

// Settings the operator changes at run time (pause, set-intensity) persist
// here, so a restarted daemon keeps them: paused stays paused. SIGHUP re-reads.

export const SETTINGS_FILE = 'daemon-settings.json';
export const settingsFile = (root: string) => path.join(stateDir(root), SETTINGS_FILE);

/**
 * Bytes/s verified under I/O pressure, at most. 1 MiB paced reads at 23.5 MB/s
 * left a queue-depth-1 4 KiB random reader's p99 within run-to-run noise
 * (PERF-NOTES); this is below that, and still verifies 10 TB in about a week.
 * Not lower: with cold reads the cap and low's idle spells compound, and a
 * 12 MiB/s cap gave 10.1-10.8 MB/s at low (bench/daemon.ts, latency), at the
 * edge of the 10 MB/s a busy disk should still be scrubbed at.
 */
export const DEFAULT_IO_PRESSURE_FLOOR = 16 * 1024 * 1024;
/** The smallest floor --max-rate would take too: never zero, so a busy disk is still scrubbed. */
export const MIN_IO_PRESSURE_FLOOR = 4096;

export const DEFAULT_SETTINGS: DaemonSettings = {
  intensity: 'low',
  paused: false,
  autoRepair: true,
  ioPressureLimit: 20,
  ioPressureFloor: DEFAULT_IO_PRESSURE_FLOOR,
};

const SETTING_KEYS: (keyof DaemonSettings)[] = ['intensity', 'paused', 'autoRepair', 'maxRate', 'deadlineSeconds', 'passIntervalSeconds', 'lightIntervalSeconds', 'ioPressureLimit', 'ioPressureFloor'];

export function loadSettings(root: string): Partial<DaemonSettings> {
  let text: string | undefined;
  try {
    text = readStateText(settingsFile(root), 64 * 1024);
  } catch (err) {
    throw fsFailure('cannot read daemon settings', settingsFile(root), err);
  }
  if (text === undefined) return {};
  let s: Partial<DaemonSettings>;
  try {
    s = JSON.parse(text);
  } catch {
    throw operationalError(`corrupt daemon settings ${settingsFile(root)}: not valid JSON`);
  }
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw operationalError(`corrupt daemon settings ${settingsFile(root)}: not a JSON object`);
  // Only our keys are taken: nothing else a planted file holds is copied into daemon.json.
  s = Object.fromEntries(Object.entries(s).filter(([k]) => SETTING_KEYS.includes(k as keyof DaemonSettings))) as Partial<DaemonSettings>;
  if (s.intensity !== undefined && !INTENSITIES.includes(s.intensity)) {
    throw operationalError(`corrupt daemon settings ${settingsFile(root)}: intensity ${JSON.stringify(s.intensity)}`);
  }
  // Refused, not guessed at: a broken interval would run light passes back to back, or never.
  const light = s.lightIntervalSeconds;
  if (light !== undefined && !(typeof light === 'number' && light >= 0 && light <= MAX_DURATION_SECONDS)) {
    throw operationalError(`corrupt daemon settings ${settingsFile(root)}: lightIntervalSeconds ${JSON.stringify(light)}`);
  }
  // A floor of zero (or none) would bring back the starvation the floor exists to end.
  const floor = s.ioPressureFloor;
  if (floor !== undefined && !(typeof floor === 'number' && Number.isSafeInteger(floor) && floor >= MIN_IO_PRESSURE_FLOOR)) {
    throw operationalError(`corrupt daemon settings ${settingsFile(root)}: ioPressureFloor ${JSON.stringify(floor)}`);
  }
  return s;
}

export function saveSettings(root: string, s: DaemonSettings): void {
  writeJsonAtomic(settingsFile(root), s);
}

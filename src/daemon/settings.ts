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

export const DEFAULT_SETTINGS: DaemonSettings = {
  intensity: 'low',
  paused: false,
  autoRepair: true,
  ioPressureLimit: 20,
};

const SETTING_KEYS: (keyof DaemonSettings)[] = ['intensity', 'paused', 'autoRepair', 'maxRate', 'deadlineSeconds', 'passIntervalSeconds', 'lightIntervalSeconds', 'ioPressureLimit'];

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
  return s;
}

export function saveSettings(root: string, s: DaemonSettings): void {
  writeJsonAtomic(settingsFile(root), s);
}

import path from 'node:path';
import { stateDir } from '../core/layout';
import { readStateText } from '../core/safe-fs';

// What a running daemon publishes about itself, beside the scrub state: read by
// `dfs-scrubd status` when the socket is unreachable, and by the metrics.

export const DAEMON_FILE = 'daemon.json';

import type { Intensity } from '../scrub/pacing';
import { pidAlive } from '../core/pid';
import type { IoPressureView } from './protocol';

export type { Intensity };
export { pidAlive };

export interface DaemonSettings {
  intensity: Intensity;
  paused: boolean;
  autoRepair: boolean;
  maxRate?: number;
  /** Target seconds for one full pass (--deadline), if pacing to a deadline. */
  deadlineSeconds?: number;
  passIntervalSeconds?: number;
  /** Seconds between the starts of light passes run between deep ones (--light-interval); absent: none. */
  lightIntervalSeconds?: number;
  ioPressureLimit?: number;
  /** Bytes/s verified while the I/O pressure exceeds the limit (--io-pressure-floor). */
  ioPressureFloor?: number;
}

export interface DaemonInfo extends DaemonSettings {
  pid: number;
  startedAt: string;
  updatedAt: string;
  /** Why operations are held back right now: 'io pressure', 'rate', 'deadline', or null. */
  throttled: string | null;
  /** False when the deadline cannot be met even at the allowed intensity. */
  deadlineAchievable?: boolean;
  /** The back-off as status shows it; absent when it is off. */
  ioPressure?: IoPressureView;
  /** Set by a clean stop: a daemon that stopped on purpose is not "down". */
  stoppedAt?: string;
}

export const daemonFile = (root: string) => path.join(stateDir(root), DAEMON_FILE);


/** The daemon's published info, or undefined when none was ever written. */
export function readDaemonInfo(root: string): DaemonInfo | undefined {
  try {
    const text = readStateText(daemonFile(root), 64 * 1024);
    const info = text === undefined ? undefined : (JSON.parse(text) as DaemonInfo);
    return typeof info === 'object' && info !== null ? info : undefined;
  } catch {
    return undefined;
  }
}

/** True when the info names a live process. */
export function daemonRunning(info: DaemonInfo | undefined): boolean {
  return !!info && pidAlive(info.pid);
}

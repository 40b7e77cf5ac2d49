import type { Intensity } from './info';
import type { PressureHold } from './back-off';

// The control protocol: one JSON request line, one JSON response line.

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'pause' }
  | { cmd: 'resume' }
  | { cmd: 'set-intensity'; intensity: Intensity }
  | { cmd: 'set-max-rate'; bytesPerSecond: number }
  | { cmd: 'stop' };

export type ControlResponse = { ok: true; status: DaemonStatus } | { ok: false; error: string };

export interface PassView {
  id: string;
  /** deep: every byte read and proven; light: each shard's type, size and header. */
  depth: 'deep' | 'light';
  mode: string;
  extentsDone: number;
  extentsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  /** Of the bytes for a deep pass, of the extents for a light one (it reads headers only). */
  percent: number;
}

export interface IoPressureView {
  /** "some avg10" percent above which the daemon slows to its floor. */
  limit: number;
  /** Bytes/s the daemon keeps verifying at under pressure. */
  floorBytesPerSecond: number;
  /** The latest "some avg10" read; null before the first read or where the kernel has no PSI. */
  pressure: number | null;
  /** While the pressure exceeds the limit: the read rate held and what sets it (the floor, a deadline that needs more, or --max-rate); else null. */
  holding: PressureHold | null;
}

export interface DaemonStatus {
  pool: string;
  pid: number;
  running: boolean;
  paused: boolean;
  intensity: Intensity;
  autoRepair: boolean;
  maxRate: number | null;
  /** Why operations are held back now ('io pressure', 'deadline', ...) or null. */
  throttled: string | null;
  phase: 'scrubbing' | 'paused' | 'waiting' | 'stopping';
  startedAt: string;
  /** When the next deep pass begins, while waiting for it. */
  nextPassAt: string | null;
  /** The pass in hand. */
  pass: PassView | null;
  /** The deep pass a light one interrupted, as of its checkpoint: it resumes when the light pass ends. */
  suspendedPass: PassView | null;
  /** Seconds between light passes (--light-interval), null when off. */
  lightIntervalSeconds: number | null;
  /** When the next light pass falls due (null when off, or while one runs). */
  nextLightAt: string | null;
  deadline: { seconds: number; achievable: boolean } | null;
  /** The I/O-pressure back-off; null when it is off (--io-pressure-limit 0). */
  ioPressure: IoPressureView | null;
  counters: {
    scrubsCompleted: number;
    extentsScanned: number;
    issuesFound: number;
    repairsAttempted: number;
    repairsSuccessful: number;
    bytesRead: number;
  };
  /** The latest completed deep pass (every byte proven). */
  lastPass: { finishedAt: string; outcome: string; durationSeconds: number; exitCode: number } | null;
  /** The latest completed light pass (headers and sizes), by any runner. */
  lastLight?: { finishedAt: string; outcome: string; durationSeconds: number; exitCode: number } | null;
  /** Replaced disks being rebuilt: progress of the repair pass rebuilding them, null while none has begun. */
  resilver: { disk: number; id: string; path: string; since: string; percent: number | null; etaSeconds: number | null }[];
}

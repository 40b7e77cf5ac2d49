import path from 'node:path';
import { writeJsonAtomic } from '../core/atomic-file';
import { fsFailure } from '../core/errors';
import { stateDir } from '../core/layout';
import { readRegularFile } from '../core/safe-fs';
import type { Finding } from './finding';

// Errors per disk, as `zpool status` shows READ / WRITE / CKSUM. The scrub
// state keeps them cumulative (saved with the cursor, so a crash neither loses
// nor doubles one); `dfs-pool clear-errors` records a baseline beside it, and
// what is shown is the count since then. Clearing so never races a running
// daemon's next save of the state.

export const DISK_ERROR_KINDS = ['read', 'checksum', 'write'] as const;
export type DiskErrorKind = (typeof DISK_ERROR_KINDS)[number];
export type DiskErrorCounts = Record<DiskErrorKind, number>;
/** Per disk id. */
export type DiskErrors = Record<string, DiskErrorCounts>;

export const zeroErrors = (): DiskErrorCounts => ({ read: 0, checksum: 0, write: 0 });

/**
 * What a finding counts against its disk: a read the drive refused, content
 * that fails its checksum, or a repair write that failed there.
 */
export function diskErrorKind(f: Finding, writeFailed: boolean): DiskErrorKind | undefined {
  if (writeFailed) return 'write';
  if (f.kind === 'unreadable' || f.kind === 'manifest-unreadable') return 'read';
  if (f.kind === 'checksum-mismatch' || f.kind === 'header-damaged' || f.kind === 'manifest-damaged') return 'checksum';
  return undefined;
}

export function addDiskError(errors: DiskErrors, diskId: string, kind: DiskErrorKind): void {
  (errors[diskId] ??= zeroErrors())[kind]++;
}

export const CLEARED_FILE = 'disk-errors-cleared.json';
const clearedFile = (root: string) => path.join(stateDir(root), CLEARED_FILE);

interface Cleared {
  /** Per disk id: the cumulative counts when they were last cleared, and when. */
  disks: Record<string, DiskErrorCounts & { at: string }>;
}

function loadCleared(root: string): Cleared {
  try {
    const raw = JSON.parse(readRegularFile(clearedFile(root), 1024 * 1024).toString('utf8')) as Cleared;
    return raw && typeof raw.disks === 'object' && raw.disks !== null ? raw : { disks: {} };
  } catch {
    // None yet, or unreadable: the cumulative counts show (more, never fewer).
    return { disks: {} };
  }
}

/** The counts since the last clear, and when that was, per disk id (every id given, zero included); one read of the baseline. */
export function errorsSinceCleared(root: string, cumulative: DiskErrors | undefined, diskIds: string[]): Record<string, DiskErrorCounts & { clearedAt?: string }> {
  const base = loadCleared(root).disks;
  const out: Record<string, DiskErrorCounts & { clearedAt?: string }> = {};
  for (const id of diskIds) {
    const c = cumulative?.[id] ?? zeroErrors();
    const b = base[id];
    out[id] = { read: 0, checksum: 0, write: 0 };
    for (const k of DISK_ERROR_KINDS) out[id][k] = Math.max(0, c[k] - (b?.[k] ?? 0));
    if (b?.at) out[id].clearedAt = b.at;
  }
  return out;
}

/** Sets the baseline of the given disks to their cumulative counts now. */
export function clearDiskErrors(root: string, cumulative: DiskErrors | undefined, diskIds: string[]): void {
  const cleared = loadCleared(root);
  const at = new Date().toISOString();
  for (const id of diskIds) cleared.disks[id] = { ...(cumulative?.[id] ?? zeroErrors()), at };
  try {
    writeJsonAtomic(clearedFile(root), cleared);
  } catch (err) {
    throw fsFailure('cannot write', clearedFile(root), err);
  }
}

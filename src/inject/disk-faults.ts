import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, fsFailure, operationalError } from '../core/errors';
import { fsyncDir } from '../core/atomic-file';
import { diskLabelPath } from '../core/layout';
import { Disk, Pool } from '../core/pool';
import { Change, diskRef } from './change';
import { resolveDisk } from './select';

// A detached disk is its directory renamed beside itself: the pool finds
// nothing at the configured path (as with a pulled drive or a failed mount),
// and attach can put back exactly what was there.

export const DETACHED_SUFFIX = '.detached';
export const detachedPath = (disk: Disk) => disk.path + DETACHED_SUFFIX;

type Kind = 'missing' | 'directory' | 'symbolic link' | 'file';

function kindOf(p: string): Kind {
  try {
    const st = fs.lstatSync(p);
    return st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symbolic link' : 'file';
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 'missing';
    throw fsFailure('cannot stat', p, err);
  }
}

function move(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
    fsyncDir(path.dirname(to));
  } catch (err) {
    const hint = errnoCode(err) === 'EBUSY' ? ' (a mount point cannot be renamed: unmount the drive instead)' : '';
    throw operationalError(`${fsFailure(`cannot move ${from} to`, to, err).message}${hint}`);
  }
}

export function detachDisk(pool: Pool, spec: string, changes: Change[]): void {
  const disk = resolveDisk(pool, spec);
  const aside = detachedPath(disk);
  const here = kindOf(disk.path);
  if (here === 'missing') {
    const already = kindOf(aside) === 'directory' ? ` (already detached: ${aside} exists)` : '';
    throw operationalError(`disk ${disk.index}: ${disk.path} does not exist${already}`);
  }
  if (here !== 'directory') throw operationalError(`refusing: disk ${disk.index} path ${disk.path} is a ${here}, not a directory (not followed)`);
  if (kindOf(aside) !== 'missing') throw operationalError(`refusing to detach disk ${disk.index}: ${aside} already exists`);
  move(disk.path, aside);
  changes.push({ action: 'detach-disk', path: disk.path, disk: diskRef(disk), movedTo: aside });
}

/** Another pool's disk put back under this name would be a new fault, not the end of a drill. */
function checkLabel(pool: Pool, disk: Disk, dir: string): void {
  let label: { pool?: unknown; disk?: unknown };
  try {
    label = JSON.parse(fs.readFileSync(diskLabelPath(dir), 'utf8'));
  } catch {
    return; // a missing or damaged label may be the drill itself
  }
  if (label && (label.pool !== pool.config.id || label.disk !== disk.id)) {
    throw operationalError(
      `refusing: ${diskLabelPath(dir)} names disk ${String(label.disk)} of pool ${String(label.pool)}, not disk ${disk.index} (${disk.id}) of pool ${pool.config.id}`,
    );
  }
}

export function attachDisk(pool: Pool, spec: string, changes: Change[]): void {
  const disk = resolveDisk(pool, spec);
  const aside = detachedPath(disk);
  const there = kindOf(aside);
  if (there === 'missing') throw operationalError(`disk ${disk.index} is not detached: ${aside} does not exist`);
  if (there !== 'directory') throw operationalError(`refusing: ${aside} is a ${there}, not a directory (not followed)`);
  const here = kindOf(disk.path);
  if (here !== 'missing') throw operationalError(`refusing to attach disk ${disk.index}: ${disk.path} exists (a ${here})`);
  checkLabel(pool, disk, aside);
  move(aside, disk.path);
  changes.push({ action: 'attach-disk', path: disk.path, disk: diskRef(disk), movedFrom: aside });
}

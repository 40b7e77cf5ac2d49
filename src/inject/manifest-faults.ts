import { operationalError, usageError } from '../core/errors';
import { manifestPath, objectsDir } from '../core/layout';
import { validateObjectName } from '../core/objects';
import { onlineDisks, Pool } from '../core/pool';
import { Change, diskRef } from './change';
import { entryBelow, refuseOdd, requireReachable, resolveDisk } from './select';
import { applyFlips, damageInPlace, FlipOptions, planFlips } from './shard-faults';

export interface ManifestDamageOptions extends FlipOptions {
  /** The copy on this disk (index or id); default the first online disk's copy. */
  disk?: string;
  /** Every copy: the object's name is then lost until a backup restores it. */
  all?: boolean;
}

/**
 * Flips bits in manifest copies, in place. Only the file is needed, not a
 * valid copy: damaging an already damaged manifest is a fair drill.
 */
export function damageManifest(pool: Pool, name: string, opts: ManifestDamageOptions, changes: Change[]): void {
  validateObjectName(name);
  if (opts.disk !== undefined && opts.all) throw usageError('--disk and --all cannot be combined');
  const disks = opts.disk !== undefined ? [requireReachable(resolveDisk(pool, opts.disk))] : onlineDisks(pool);
  const copies = disks.map((disk) => {
    const path = manifestPath(disk.path, name);
    return { disk, path, entry: entryBelow([objectsDir(disk.path)], path) };
  });
  const odd = copies.flatMap((c) => (c.entry.kind === 'odd' ? [c.entry.detail] : []));
  let files = copies.flatMap((c) => (c.entry.kind === 'file' ? [{ ...c, size: c.entry.size }] : []));
  // With --all every copy is meant; a link or directory among them is refused, not skipped.
  if (odd.length > 0 && (opts.all || files.length === 0)) throw refuseOdd(odd[0], 'manifest files');
  if (files.length === 0) {
    if (opts.disk !== undefined) throw operationalError(`no manifest copy of object ${JSON.stringify(name)} on disk ${disks[0].index} (${copies[0].path})`);
    throw operationalError(`no such object: ${JSON.stringify(name)} has no manifest copy on any online disk of ${pool.root}`);
  }
  if (!opts.all) files = files.slice(0, 1);
  const plans = files.map((f) => planFlips('manifest', f.path, 0, f.size, opts));
  files.forEach((f, i) => {
    const flips = damageInPlace(f.path, (fd) => applyFlips(fd, plans[i]));
    changes.push({ action: 'damage-manifest', path: f.path, disk: diskRef(f.disk), object: name, flips });
  });
}

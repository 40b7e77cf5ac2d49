import fs from 'node:fs';
import path from 'node:path';
import { Disk, Pool, writableDisks } from '../core/pool';
import { extentsDir, PREFIXES, SHARD_NAME_RE, shardPath } from '../core/layout';
import { isRealDirectory } from '../core/safe-fs';
import { checkShardFile, shardHeaderFor, writeShardFiles } from '../core/shard-file';
import { rankDisks } from '../core/placement';
import { shardCount } from '../core/scheme';
import { appendAudit } from './audit';
import { acquireScrubLock } from './lock';
import { dropDisk, resolveDisk, schemesTooWide } from '../core/disk-set';
import { operationalError } from '../core/errors';

// Before a readable disk leaves the pool, each valid shard on it is copied to
// a disk that holds no shard of its extent, and proven there. The leaving
// drive is not changed: its files stay until the operator wipes it.

export interface Evacuation {
  moved: number;
  /** Shard files on the disk that were not valid: the next repair pass rebuilds them from the others. */
  skipped: { path: string; problem: string }[];
  /** Valid shards that found no place or failed to copy: the disk must stay. */
  failed: { path: string; detail: string }[];
}

function* shardFiles(disk: Disk): Generator<{ path: string; id: string; index: number }> {
  const top = extentsDir(disk.path);
  if (!isRealDirectory(top)) return;
  for (const prefix of PREFIXES) {
    const dir = path.join(top, prefix);
    if (!isRealDirectory(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      const m = SHARD_NAME_RE.exec(name);
      if (m) yield { path: path.join(dir, name), id: m[1], index: Number(m[2]) };
    }
  }
}

export async function evacuateDisk(pool: Pool, leaving: Disk): Promise<Evacuation> {
  const targets = writableDisks(pool).filter((d) => d.index !== leaving.index);
  const out: Evacuation = { moved: 0, skipped: [], failed: [] };
  for (const f of shardFiles(leaving)) {
    const r = checkShardFile(f.path, f.id, f.index);
    if (!r.ok) {
      out.skipped.push({ path: f.path, problem: r.problem });
      continue;
    }
    const n = shardCount(r.header.scheme);
    const holds = (d: Disk) => {
      for (let i = 0; i < n; i++) if (fs.existsSync(shardPath(d.path, f.id, i))) return true;
      return false;
    };
    const target = rankDisks(f.id, targets).find((d) => !holds(d));
    if (!target) {
      out.failed.push({ path: f.path, detail: 'every other writable disk already holds a shard of this extent' });
      continue;
    }
    const file = shardPath(target.path, f.id, f.index);
    const [err] = await writeShardFiles([{ file, header: shardHeaderFor(f.id, f.index, r.header.scheme, r.header.extentLength, r.payload), payload: r.payload }]);
    const back = err ? undefined : checkShardFile(file, f.id, f.index);
    if (err || !back?.ok) {
      out.failed.push({ path: f.path, detail: err ? err.message : `copy at ${file} failed verification` });
      continue;
    }
    appendAudit(pool.root, { action: 'evacuate-shard', extent: f.id, shard: f.index, from: f.path, disk: target.index, path: file, result: 'moved' });
    out.moved++;
  }
  return out;
}

export interface DiskRemoval {
  removed: { index: number; id: string; path: string; state: string };
  /** Whether the disk could be read (its shards were copied off first). */
  readable: boolean;
  shardsMoved: number;
  shardsLeftForRepair: { path: string; problem: string }[];
}

/**
 * Takes a disk out of the pool, under the scrub lock: refused when a scheme in
 * use would no longer fit; a readable disk's valid shards are copied off
 * first, and it stays if any could not be; a dead one is dropped (the next
 * repair pass rebuilds its shards elsewhere). The drive itself is not changed.
 */
export async function removeDisk(pool: Pool, name: string): Promise<DiskRemoval> {
  const disk = resolveDisk(pool, name);
  const tooWide = schemesTooWide(pool, pool.disks.length - 1);
  if (tooWide.length) throw operationalError(`cannot remove disk ${disk.index} (${disk.path}): ${tooWide.join(', ')}, and ${pool.disks.length - 1} would remain`);
  const release = acquireScrubLock(pool.root, 'dfs-pool remove-disk');
  try {
    const readable = disk.state === 'online' || disk.state === 'read-only' || disk.state === 'rebuilding';
    const ev = readable ? await evacuateDisk(pool, disk) : undefined;
    if (ev && ev.failed.length) {
      throw operationalError(`disk ${disk.index} stays: ${ev.failed.length} valid shards could not be copied off it (first: ${ev.failed[0].path}: ${ev.failed[0].detail})`);
    }
    dropDisk(pool, disk);
    return { removed: { index: disk.index, id: disk.id, path: disk.path, state: disk.state }, readable, shardsMoved: ev?.moved ?? 0, shardsLeftForRepair: ev?.skipped ?? [] };
  } finally {
    release();
  }
}

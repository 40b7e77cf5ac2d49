import fs from 'node:fs';
import path from 'node:path';
import { Disk, Pool, writableDisks } from '../core/pool';
import { extentsDir, PREFIXES, SHARD_NAME_RE, shardPath } from '../core/layout';
import { isRealDirectory } from '../core/safe-fs';
import { checkShardFile, shardHeaderFor, writeShardFiles } from '../core/shard-file';
import { rankDisks } from '../core/placement';
import { shardCount } from '../core/scheme';
import { appendAudit } from './audit';

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

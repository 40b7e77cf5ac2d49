import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from './errors';
import { extentsDir, SHARD_NAME_RE } from './layout';
import { Disk, Pool } from './pool';

export interface DiskProbe {
  id: string;
  index: number;
  path: string;
  state: Disk['state'];
  detail?: string;
  /** write, fsync, read back, delete of a small file: 'ok' or what failed. */
  probe: string;
  probeMicros?: number;
  freeBytes?: number;
  totalBytes?: number;
  shards?: number;
}

/** Counts shard files on a disk (names only; the scrubber proves their content). */
export function countShards(diskPath: string): number {
  let n = 0;
  let dirs: string[];
  try {
    dirs = fs.readdirSync(extentsDir(diskPath));
  } catch {
    return 0;
  }
  for (const d of dirs) {
    try {
      for (const f of fs.readdirSync(path.join(extentsDir(diskPath), d))) if (SHARD_NAME_RE.test(f)) n++;
    } catch {
      // a stray file where a fan-out directory belongs: the scrubber reports it
    }
  }
  return n;
}

function writeProbe(disk: Disk): { result: string; micros?: number } {
  const file = path.join(disk.path, `.dfs-probe-${process.pid}`);
  const data = Buffer.from(`dynamicfs probe ${disk.id} ${Date.now()}\n`);
  const t0 = process.hrtime.bigint();
  let step = 'write';
  try {
    const fd = fs.openSync(file, 'wx');
    try {
      fs.writeSync(fd, data);
      step = 'fsync';
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    step = 'read';
    if (!fs.readFileSync(file).equals(data)) return { result: 'read back differs from what was written' };
    step = 'delete';
    fs.unlinkSync(file);
    return { result: 'ok', micros: Number((process.hrtime.bigint() - t0) / 1000n) };
  } catch (err) {
    if (step !== 'write' && step !== 'delete') fs.rmSync(file, { force: true });
    return { result: `${step} failed: ${errnoCode(err) ?? String(err)}` };
  }
}

export function probeDisks(pool: Pool): DiskProbe[] {
  return pool.disks.map((d) => {
    const p: DiskProbe = { id: d.id, index: d.index, path: d.path, state: d.state, detail: d.detail, probe: 'skipped (disk not online)' };
    if (d.state === 'missing') return p;
    try {
      const s = fs.statfsSync(d.path);
      p.freeBytes = s.bavail * s.bsize;
      p.totalBytes = s.blocks * s.bsize;
    } catch (err) {
      p.detail = p.detail ?? `statfs: ${errnoCode(err)}`;
    }
    if (d.state === 'online') {
      const w = writeProbe(d);
      p.probe = w.result;
      p.probeMicros = w.micros;
      if (w.result !== 'ok') {
        p.state = w.result.includes('EROFS') ? 'read-only' : 'unreadable';
        p.detail = w.result;
      }
    } else if (d.state === 'read-only') p.probe = 'skipped (read-only)';
    if (d.state !== 'foreign') p.shards = countShards(d.path);
    return p;
  });
}

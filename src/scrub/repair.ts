import { extentId } from '../core/hash';
import { shardPath } from '../core/layout';
import { checkWrittenCopy, Manifest, ManifestCopy, writeManifestCopy } from '../core/manifest';
import { Pool, writableDisks } from '../core/pool';
import { parseScheme, shardCount, Scheme } from '../core/scheme';
import { assembleExtent, rebuildShards } from '../core/erasure';
import { checkShardFile, shardHeaderFor, writeShardFiles } from '../core/shard-file';
import { rankDisks } from '../core/placement';
import { ExtentVerdict, ShardResult } from './verify';
import { quarantine } from './quarantine';
import { appendAudit } from './audit';

/** What one repair of one shard (or manifest copy) came to. */
export interface RepairOutcome {
  ok: boolean;
  action: 'rebuilt' | 'rewritten' | 'quarantined';
  path: string;
  disk: number;
  detail: string;
  quarantine?: string;
  /** Writing the rebuilt file failed on its disk (counted against that disk). */
  writeFailed?: boolean;
}

/** Every verdict on a file but a valid shard or a spare valid copy of one needs repair. */
export const isBroken = (r: ShardResult) => r.status !== 'ok' && r.status !== 'duplicate';

/** Re-reads the valid shards and rebuilds every payload, proven against the extent id. */
async function rebuildExtent(v: ExtentVerdict, scheme: Scheme): Promise<Buffer[]> {
  const n = shardCount(scheme);
  const payloads: (Buffer | undefined)[] = new Array(n).fill(undefined);
  for (const s of v.shards) {
    if (s.status !== 'ok' || payloads[s.index]) continue;
    const r = checkShardFile(s.path, v.id, s.index);
    if (r.ok) payloads[s.index] = r.payload;
  }
  const full = await rebuildShards(scheme, v.length!, payloads);
  const data = assembleExtent(scheme, v.length!, full);
  if (extentId(scheme, data) !== v.id) throw new Error('rebuilt extent does not match its id');
  return full;
}

/**
 * Repairs every broken shard of a degraded extent: rebuild from the valid
 * shards, prove the extent against its id, keep the damaged file in
 * quarantine, write the shard atomically in place (or onto a disk holding no
 * shard of this extent when it is missing), then re-read and verify it. Any
 * failure leaves the old state: nothing is replaced before the rebuilt extent
 * is proven, and each replacement is one rename.
 */
export async function repairExtent(pool: Pool, v: ExtentVerdict, passId: string): Promise<Map<ShardResult, RepairOutcome>> {
  const out = new Map<ShardResult, RepairOutcome>();
  const broken = v.shards.filter(isBroken);
  if (broken.length === 0 || !v.scheme || v.length === undefined) return out;
  const scheme = parseScheme(v.scheme);
  let full: Buffer[];
  try {
    full = await rebuildExtent(v, scheme);
  } catch (err) {
    const detail = `cannot rebuild: ${err instanceof Error ? err.message : String(err)}`;
    for (const s of broken) out.set(s, { ok: false, action: 'rebuilt', path: s.path, disk: s.disk, detail });
    return out;
  }
  const writable = new Set(writableDisks(pool).map((d) => d.index));
  const occupied = new Set(v.shards.filter((s) => s.disk >= 0).map((s) => s.disk));
  const jobs: { s: ShardResult; target: string; disk: number; kept?: string }[] = [];
  for (const s of broken) {
    if (s.status === 'index-out-of-range') {
      out.set(s, quarantineOnly(pool, v, s, passId));
      continue;
    }
    let target = s.path;
    let disk = s.disk;
    if (s.status === 'missing') {
      // A disk being rebuilt (the resilver) takes what it lost before any other disk does.
      const ranked = rankDisks(v.id, writableDisks(pool));
      const free = [...ranked.filter((d) => d.state === 'rebuilding'), ...ranked.filter((d) => d.state !== 'rebuilding')].find((d) => !occupied.has(d.index));
      if (!free) {
        out.set(s, { ok: false, action: 'rebuilt', path: '', disk: -1, detail: 'no writable disk without a shard of this extent' });
        continue;
      }
      occupied.add(free.index);
      disk = free.index;
      target = shardPath(free.path, v.id, s.index);
    } else if (!writable.has(s.disk)) {
      out.set(s, { ok: false, action: 'rebuilt', path: s.path, disk: s.disk, detail: 'disk is not writable' });
      continue;
    }
    // The damaged file is kept before anything replaces it.
    try {
      const kept = s.status === 'missing' ? undefined : quarantine(pool.disks[s.disk], s.path, { original: s.path, disk: s.disk, extent: v.id, shard: s.index, problem: s.status, detail: s.detail }, 'link');
      jobs.push({ s, target, disk, kept });
    } catch (err) {
      out.set(s, { ok: false, action: 'rebuilt', path: target, disk, detail: err instanceof Error ? err.message : String(err), writeFailed: true });
    }
  }
  const errors = await writeShardFiles(
    jobs.map((j) => ({ file: j.target, header: shardHeaderFor(v.id, j.s.index, scheme, v.length!, full[j.s.index]), payload: full[j.s.index] })),
  );
  const audit: Record<string, unknown>[] = [];
  jobs.forEach((j, i) => {
    let ok = false;
    let detail: string;
    if (errors[i]) detail = errors[i]!.message;
    else {
      // Counted as repaired only once the written shard reads back intact.
      const check = checkShardFile(j.target, v.id, j.s.index);
      ok = check.ok && check.payload.equals(full[j.s.index]);
      detail = ok ? `rebuilt shard ${j.s.index}` : `written shard failed verification: ${check.ok ? 'content differs' : check.problem}`;
    }
    audit.push({ pass: passId, action: 'rebuild-shard', extent: v.id, shard: j.s.index, disk: j.disk, path: j.target, problem: j.s.status, quarantine: j.kept, result: ok ? 'repaired' : 'failed', ...(ok ? {} : { error: detail }) });
    out.set(j.s, { ok, action: 'rebuilt', path: j.target, disk: j.disk, detail, quarantine: j.kept, writeFailed: !ok });
  });
  appendAudit(pool.root, audit);
  return out;
}

/** A file named as a shard index the scheme does not have: keep it in quarantine, take it off the disk. */
function quarantineOnly(pool: Pool, v: ExtentVerdict, s: ShardResult, passId: string): RepairOutcome {
  try {
    const kept = quarantine(pool.disks[s.disk], s.path, { original: s.path, disk: s.disk, extent: v.id, shard: s.index, problem: s.status, detail: s.detail }, 'move');
    appendAudit(pool.root, { pass: passId, action: 'quarantine', extent: v.id, shard: s.index, disk: s.disk, path: s.path, quarantine: kept, result: 'repaired' });
    return { ok: true, action: 'quarantined', path: s.path, disk: s.disk, detail: 'moved to quarantine', quarantine: kept };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    appendAudit(pool.root, { pass: passId, action: 'quarantine', extent: v.id, shard: s.index, disk: s.disk, path: s.path, result: 'failed', error: detail });
    return { ok: false, action: 'quarantined', path: s.path, disk: s.disk, detail };
  }
}

/** Rewrites one bad or missing manifest copy from the best valid one. */
export function repairManifestCopy(pool: Pool, copy: ManifestCopy, best: Manifest, passId: string): RepairOutcome {
  let kept: string | undefined;
  try {
    if (copy.problem !== 'missing') {
      kept = quarantine(copy.disk, copy.path, { original: copy.path, disk: copy.disk.index, problem: 'manifest-damaged', detail: copy.problem }, 'link');
    }
    const { path: file, checksum } = writeManifestCopy(copy.disk, best);
    const ok = checkWrittenCopy(file, checksum) === undefined;
    appendAudit(pool.root, { pass: passId, action: 'rewrite-manifest', object: best.name, disk: copy.disk.index, path: file, problem: copy.problem, quarantine: kept, result: ok ? 'repaired' : 'failed' });
    return { ok, action: 'rewritten', path: file, disk: copy.disk.index, detail: ok ? 'manifest copy rewritten' : 'rewritten copy failed verification', quarantine: kept };
  } catch (err) {
    return { ok: false, action: 'rewritten', path: copy.path, disk: copy.disk.index, detail: err instanceof Error ? err.message : String(err), quarantine: kept, writeFailed: true };
  }
}

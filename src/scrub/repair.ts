import { shardPath } from '../core/layout';
import { checkWrittenCopy, Manifest, ManifestCopy, writeManifestCopy } from '../core/manifest';
import { Pool, writableDisks } from '../core/pool';
import { parseScheme } from '../core/scheme';
import { checkShardBytes, shardHeaderFor, ShardWrite, writeShardFiles } from '../core/shard-file';
import { HEADER_SIZE, PAYLOAD_CHECKSUM_AT } from '../core/shard-header';
import { rankDisks } from '../core/placement';
import { ExtentVerdict, ShardResult } from './verify';
import { quarantine } from './quarantine';
import { isBroken, isImage, Rebuilt, RebuiltShard, rebuildOrExplain } from './rebuild';
import { appendAudit, appendAuditSynced, appendAuditUnsynced } from './audit';

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

/** A rebuilt shard on its way to disk. */
interface ShardJob {
  s: ShardResult;
  target: string;
  disk: number;
  /** Where the damaged file was kept, once it was (right before the rebuilt one replaces it). */
  kept?: string;
  /** The payload's checksum, as its header has it. */
  checksum: bigint;
  write: ShardWrite;
}

/** A file that only moves to quarantine (its index is not the scheme's), with where its outcome goes. */
interface QuarantineMove {
  v: ExtentVerdict;
  s: ShardResult;
  out: Map<ShardResult, RepairOutcome>;
}

/**
 * Repairs every broken shard of degraded extents: rebuild each from its valid
 * shards, prove it against its id, keep each damaged file in quarantine,
 * write the shards atomically in place (or onto a disk holding no shard of
 * the extent when one is missing), then re-read and verify them. Any failure
 * leaves the old state: nothing is replaced before its rebuilt extent is
 * proven, and each replacement is one rename. The extents are repaired as one
 * batch: their writes and fsyncs are in flight together, each directory is
 * fsynced once, and the audit log takes one append. `done`: extents already
 * rebuilt (or found not rebuildable), by id. `recorded`: the caller's record
 * of what is to be repaired, on its way to disk; the temp files are written
 * meanwhile, but nothing is kept in quarantine, moved or renamed before it is
 * there, and its failure is the batch's.
 */
export async function repairExtents(
  pool: Pool,
  verdicts: ExtentVerdict[],
  passId: string,
  done?: Map<string, Rebuilt>,
  recorded: Promise<void> = Promise.resolve(),
): Promise<Map<ShardResult, RepairOutcome>[]> {
  // Its failure is awaited below, once the writes have stopped at it: not an unhandled rejection meanwhile.
  recorded.catch(() => undefined);
  const outs = verdicts.map(() => new Map<ShardResult, RepairOutcome>());
  const writable = new Set(writableDisks(pool).map((d) => d.index));
  // Files named as shard indexes their scheme does not have: moved to quarantine once the record is on disk.
  const moves: QuarantineMove[] = [];
  // A verify thread may have rebuilt the extent already (see verify-worker.ts); else it is rebuilt here.
  const rebuilt = await Promise.all(verdicts.map((v) => (v.shards.some(isBroken) && v.scheme !== undefined && v.length !== undefined ? (done?.get(v.id) ?? rebuildOrExplain(v)) : undefined)));
  const jobs: ShardJob[][] = verdicts.map((v, i) => {
    const full = rebuilt[i];
    if (full === undefined) return [];
    const broken = v.shards.filter(isBroken);
    if (typeof full === 'string') {
      for (const s of broken) outs[i].set(s, { ok: false, action: 'rebuilt', path: s.path, disk: s.disk, detail: full });
      return [];
    }
    return placeShards(pool, v, broken, full, writable, outs[i], moves);
  });
  const flat = jobs.flatMap((list, i) => list.map((j) => ({ j, v: verdicts[i], out: outs[i] })));
  for (const { j, v } of flat) {
    // The damaged file is kept before anything replaces it, once the record is on disk.
    j.write.beforeRename = async () => {
      await recorded;
      if (j.s.status !== 'missing') j.kept = quarantine(pool.disks[j.s.disk], j.s.path, { original: j.s.path, disk: j.s.disk, extent: v.id, shard: j.s.index, problem: j.s.status, detail: j.s.detail }, 'link');
    };
  }
  const line = (j: ShardJob, v: ExtentVerdict, ok: boolean, detail: string) =>
    ({ pass: passId, action: 'rebuild-shard', extent: v.id, shard: j.s.index, disk: j.disk, path: j.target, problem: j.s.status, quarantine: j.kept, result: ok ? 'repaired' : 'failed', ...(ok ? {} : { error: detail }) });
  const rebuiltDetail = (j: ShardJob) => `rebuilt shard ${j.s.index}`;
  const errors = await writeShardFiles(
    flat.map((f) => f.j.write),
    // Each shard's audit line is written as it is renamed into place: a resumed pass counts the repairs its
    // pending record names and finds done, and a kill -9 between a rename and its line (which would count a
    // repair the log does not have) has only the gap between two syscalls to land in.
    (k) => appendAuditUnsynced(pool.root, [line(flat[k].j, flat[k].v, true, rebuiltDetail(flat[k].j))]),
    // Placed only once what was written is proven, fsynced, before the rename: its payload against its
    // header's checksum, and that checksum the one the rebuilt payload was given. (The check, a read-back
    // then, came after the rename, between it and the line, until a kill there counted a repair with no
    // line: torture, 53 counted for 52 lines.)
    (k, written) => {
      const { j, v } = flat[k];
      const check = checkShardBytes(written, v.id, j.s.index);
      const ok = check.ok && check.header.payloadChecksum === j.checksum && check.payload.length === j.write.payload.length;
      return ok ? undefined : `written shard failed verification: ${check.ok ? 'content differs' : check.problem}`;
    },
  );
  // A record that never reached the disk fails the batch, as it stopped every rename.
  await recorded;
  for (const { v, s: shard, out } of moves) out.set(shard, quarantineOnly(pool, v, shard, passId));
  const late: Record<string, unknown>[] = [];
  flat.forEach(({ j, v, out }, k) => {
    const err = errors[k];
    // Failed before its rename (a failed check included), or its directory's fsync failed after it (then
    // its line already said repaired, and this one says otherwise).
    if (err) late.push(line(j, v, false, err.message));
    out.set(j.s, { ok: !err, action: 'rebuilt', path: j.target, disk: j.disk, detail: err ? err.message : rebuiltDetail(j), quarantine: j.kept, writeFailed: !!err });
  });
  // The batch's lines go to disk together, after the renames they record.
  await appendAuditSynced(pool.root, late);
  return outs;
}

/** Where each broken shard of one extent goes; what cannot go anywhere is answered in `out` at once, what only moves is added to `moves`. */
function placeShards(
  pool: Pool,
  v: ExtentVerdict,
  broken: ShardResult[],
  full: (RebuiltShard | undefined)[],
  writable: Set<number>,
  out: Map<ShardResult, RepairOutcome>,
  moves: QuarantineMove[],
): ShardJob[] {
  const scheme = parseScheme(v.scheme!);
  const occupied = new Set(v.shards.filter((s) => s.disk >= 0).map((s) => s.disk));
  const jobs: ShardJob[] = [];
  for (const s of broken) {
    if (s.status === 'index-out-of-range') {
      moves.push({ v, s, out });
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
    const rebuilt = full[s.index];
    if (!rebuilt) {
      out.set(s, { ok: false, action: 'rebuilt', path: target, disk, detail: `cannot rebuild: shard ${s.index} was not rebuilt` });
      continue;
    }
    try {
      const write = shardWrite(target, rebuilt, () => shardHeaderFor(v.id, s.index, scheme, v.length!, rebuilt as Buffer));
      jobs.push({ s, target, disk, checksum: write.header.readBigUInt64LE(PAYLOAD_CHECKSUM_AT), write });
    } catch (err) {
      out.set(s, { ok: false, action: 'rebuilt', path: target, disk, detail: err instanceof Error ? err.message : String(err), writeFailed: true });
    }
  }
  return jobs;
}

/** The write of a rebuilt shard: a payload with its header made here, or a whole file as a verify thread made it, written from where it lies. */
function shardWrite(file: string, r: RebuiltShard, header: () => Buffer): ShardWrite {
  if (!isImage(r)) return { file, header: header(), payload: r };
  return { file, header: r.slot.subarray(0, HEADER_SIZE), payload: r.slot.subarray(HEADER_SIZE, r.size), aligned: r.slot };
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

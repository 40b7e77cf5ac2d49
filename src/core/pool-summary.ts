import path from 'node:path';
import { writeJsonAtomic } from './atomic-file';
import { blake3Hex } from './hash';
import { stateDir } from './layout';
import { eachObject, ObjectEntry } from './manifest';
import { fingerprintWith, manifestFingerprint, ManifestFingerprint } from './manifest-fingerprint';
import { Pool } from './pool';
import { readStateText } from './safe-fs';
import { parseScheme } from './scheme';
import { stateDirProblem } from './state-dir';

// What `status` says of the objects, saved in the state directory with the
// manifest fingerprint it was counted under. It is shown only while the
// fingerprint still matches and the file proves itself; anything else (no
// file, an older pool, a damaged or planted file, a manifest written since)
// is counted afresh from the manifests. Saving is best effort: a user who may
// read the pool but not write it still gets exact numbers. The checksum finds
// damage, not forgery: whoever may write the state directory can write a
// summary that checks out, as they can the scrub state, and mislead about
// that pool alone (DESIGN.md §5).

export interface SchemeCounts {
  objects: number;
  /** Distinct extents of this scheme (an extent id names its scheme). */
  extents: number;
  bytes: number;
}

export interface PoolSummary {
  objects: number;
  /** Distinct extents named by manifests. */
  extents: number;
  /** Logical bytes of all objects. */
  bytes: number;
  /** Objects whose every manifest copy is damaged. */
  unreadableObjects: number;
  schemes: Record<string, SchemeCounts>;
}

interface SummaryFile {
  schema: number;
  poolId: string;
  fingerprint: string;
  summary: PoolSummary;
  checksum: string;
}

export const SUMMARY_FILE = 'pool-summary.json';
const SUMMARY_SCHEMA = 1;
/** A few schemes' counts fit in a few hundred bytes. */
const MAX_SUMMARY_BYTES = 64 * 1024;
const MAX_SCHEMES = 256;

export const summaryFile = (root: string) => path.join(stateDir(root), SUMMARY_FILE);

/**
 * Counts objects one by one as a walk over every manifest meets them, and
 * saves the count if no manifest changed while it walked. A walk that reads
 * every manifest anyway (rm; the scrub pass's extent index build could
 * too: `const counter = new SummaryCounter(pool)`, `counter.add(o)` for
 * each object, `counter.save()` at the end) keeps status current for free,
 * at the price of a Set of every distinct extent (a 16-byte key each).
 */
export class SummaryCounter {
  readonly summary: PoolSummary = { objects: 0, extents: 0, bytes: 0, unreadableObjects: 0, schemes: {} };
  /** The manifests as the walk began; `except`, the manifest file of an object being removed. */
  readonly before: ManifestFingerprint;
  private readonly seen = new Set<string>();

  constructor(
    private readonly pool: Pool,
    except?: string,
  ) {
    this.before = manifestFingerprint(pool, except);
  }

  add(o: ObjectEntry): void {
    const m = o.manifest;
    if (!m) {
      this.summary.unreadableObjects++;
      return;
    }
    this.summary.objects++;
    this.summary.bytes += m.size;
    const s = (this.summary.schemes[m.scheme] ??= { objects: 0, extents: 0, bytes: 0 });
    s.objects++;
    s.bytes += m.size;
    for (let i = 0; i < m.extents.count; i++) {
      const key = m.extents.key(i);
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      s.extents++;
      this.summary.extents++;
    }
  }

  /**
   * Saves the count unless a manifest changed since the walk began (it may
   * be torn: the next status counts again). Best effort, never an error: a
   * read-only pool, or one whose state directory cannot be trusted, is just
   * not written.
   */
  save(): boolean {
    try {
      const after = manifestFingerprint(this.pool);
      if (after.hash !== this.before.hash || after.names !== this.before.names) return false;
      if (stateDirProblem(this.pool.root) !== undefined) return false;
      const id = this.pool.config.id;
      const file: SummaryFile = { schema: SUMMARY_SCHEMA, poolId: id, fingerprint: after.hash, summary: this.summary, checksum: checksumOf(id, after.hash, this.summary) };
      writeJsonAtomic(summaryFile(this.pool.root), file);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * A put's object added to the saved summary, so the next status need not
 * count every manifest again. Begun before the put writes anything, and only
 * where the saved summary holds for the manifests as they are, no copy of the
 * object's manifest file exists yet (not a replace, nor damaged copies counted
 * as unreadable) and every disk of the pool is online (an extent whose shards
 * are all on an absent disk looks new). Saved after the manifest copies land,
 * and only if the manifests but this object's are as they were when it began:
 * a put, rm or edit meanwhile leaves the summary stale, and the next status
 * counts afresh, as it does whenever this gives up.
 *
 * The put says how many distinct extents the object adds; it may say so only
 * of extents no other manifest names, which it knows from no shard of them
 * being on any disk before it wrote them. What it cannot see: a manifest that
 * names an extent whose every shard is gone from every disk (unrecoverable),
 * put again byte for byte, is counted once more until the next full count.
 */
export class SummaryGrowth {
  private constructor(
    private readonly pool: Pool,
    private readonly fileName: string,
    private readonly before: ManifestFingerprint,
    private readonly summary: PoolSummary,
  ) {}

  /** The pool's distinct extents before the put. */
  get extents(): number {
    return this.summary.extents;
  }

  /** Undefined when the summary cannot be kept current by addition (see above): the put then just puts. */
  static begin(pool: Pool, fileName: string): SummaryGrowth | undefined {
    try {
      if (pool.disks.some((d) => d.state !== 'online')) return undefined;
      const fp = fingerprintWith(pool, fileName);
      if (fp.seen) return undefined;
      const summary = loadSummary(pool, fp.without);
      return summary && new SummaryGrowth(pool, fileName, fp.without, summary);
    } catch {
      return undefined;
    }
  }

  /**
   * Adds the object whose manifest was just written: `extents` distinct
   * extents that no other manifest names. Best effort, like SummaryCounter.save.
   */
  save(scheme: string, bytes: number, extents: number): boolean {
    try {
      const fp = fingerprintWith(this.pool, this.fileName);
      if (!fp.seen || fp.without.hash !== this.before.hash || fp.without.names !== this.before.names) return false;
      if (stateDirProblem(this.pool.root) !== undefined) return false;
      const old = this.summary;
      const was = old.schemes[scheme] ?? { objects: 0, extents: 0, bytes: 0 };
      const summary: PoolSummary = {
        objects: old.objects + 1,
        extents: old.extents + extents,
        bytes: old.bytes + bytes,
        unreadableObjects: old.unreadableObjects,
        schemes: { ...old.schemes, [scheme]: { objects: was.objects + 1, extents: was.extents + extents, bytes: was.bytes + bytes } },
      };
      const id = this.pool.config.id;
      const hash = fp.with.hash;
      const file: SummaryFile = { schema: SUMMARY_SCHEMA, poolId: id, fingerprint: hash, summary, checksum: checksumOf(id, hash, summary) };
      writeJsonAtomic(summaryFile(this.pool.root), file);
      return true;
    } catch {
      return false;
    }
  }
}

const checksumOf = (poolId: string, fingerprint: string, summary: PoolSummary) => `blake3:${blake3Hex(JSON.stringify([SUMMARY_SCHEMA, poolId, fingerprint, summary]))}`;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The summary as saved, if it is whole, adds up, and was counted under this very fingerprint. */
function provenSummary(f: SummaryFile, poolId: string, fp: ManifestFingerprint): PoolSummary | undefined {
  if (typeof f !== 'object' || f === null || f.schema !== SUMMARY_SCHEMA || f.poolId !== poolId || f.fingerprint !== fp.hash) return undefined;
  const s = f.summary;
  if (typeof s !== 'object' || s === null || f.checksum !== checksumOf(poolId, fp.hash, s)) return undefined;
  if (![s.objects, s.extents, s.bytes, s.unreadableObjects].every(isCount)) return undefined;
  // Every manifest file name is one object, readable or not.
  if (s.objects + s.unreadableObjects !== fp.names) return undefined;
  if (typeof s.schemes !== 'object' || s.schemes === null || Array.isArray(s.schemes)) return undefined;
  const entries = Object.entries(s.schemes);
  if (entries.length > MAX_SCHEMES) return undefined;
  const sum = { objects: 0, extents: 0, bytes: 0 };
  for (const [text, c] of entries) {
    try {
      parseScheme(text);
    } catch {
      return undefined;
    }
    if (typeof c !== 'object' || c === null || ![c.objects, c.extents, c.bytes].every(isCount)) return undefined;
    sum.objects += c.objects;
    sum.extents += c.extents;
    sum.bytes += c.bytes;
  }
  if (sum.objects !== s.objects || sum.extents !== s.extents || sum.bytes !== s.bytes) return undefined;
  return s;
}

/** The saved summary if it holds for these manifests; undefined for anything it cannot prove. */
export function loadSummary(pool: Pool, fp: ManifestFingerprint): PoolSummary | undefined {
  try {
    // Never through a link, never blocking on a FIFO, capped: a planted file is just not a summary.
    const text = readStateText(summaryFile(pool.root), MAX_SUMMARY_BYTES);
    return text === undefined ? undefined : provenSummary(JSON.parse(text) as SummaryFile, pool.config.id, fp);
  } catch {
    return undefined;
  }
}

/** The pool's summary: the saved one while it holds, else counted from every manifest (and saved for next time). */
export function poolSummary(pool: Pool): PoolSummary {
  const counter = new SummaryCounter(pool);
  const saved = loadSummary(pool, counter.before);
  if (saved) return saved;
  eachObject(pool, (o) => counter.add(o));
  counter.save();
  return counter.summary;
}

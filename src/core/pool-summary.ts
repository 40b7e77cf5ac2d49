import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from './atomic-file';
import { blake3Hex } from './hash';
import { manifestPath, stateDir } from './layout';
import { eachObject, ObjectEntry } from './manifest';
import { manifestFingerprint, ManifestFingerprint } from './manifest-fingerprint';
import { withManifestLock } from './manifest-lock';
import { onlineDisks, Pool } from './pool';
import { randomBytes } from './random';
import { readStateText } from './safe-fs';
import { parseScheme } from './scheme';
import { stateDirProblem } from './state-dir';

// What `status` says of the objects, saved in the state directory with the
// manifest fingerprint (manifest-fingerprint.ts) it was counted under. It is
// shown only while the fingerprint still matches and the file proves itself;
// anything else (no file, an older pool, a damaged or planted file, a
// manifest written since) is counted afresh from the manifests. A put or rm
// changes the manifests holding the manifest lock and rewrites the file
// every time: the summary with its object added or removed when it can prove
// the summary held before, else a mark that drops it. Saving is best effort:
// a user who may read the pool but not write it still gets exact numbers.
// The checksum finds damage, not forgery: whoever may write the state
// directory can write a summary that checks out, as they can the scrub
// state, and mislead about that pool alone (DESIGN.md §5).

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
const SUMMARY_SCHEMA = 2;
/** A few schemes' counts fit in a few hundred bytes. */
const MAX_SUMMARY_BYTES = 64 * 1024;
const MAX_SCHEMES = 256;

export const summaryFile = (root: string) => path.join(stateDir(root), SUMMARY_FILE);

/** The summary file's text as it is now (undefined: none): a put or rm between two looks always changes it. */
function savedText(pool: Pool): string | undefined {
  try {
    // Never through a link, never blocking on a FIFO, capped: a planted file is just not a summary.
    return readStateText(summaryFile(pool.root), MAX_SUMMARY_BYTES);
  } catch (err) {
    return `unreadable: ${String(err)}`;
  }
}

/** The manifests and the summary file as one look saw them. */
interface Look {
  fp: ManifestFingerprint;
  text: string | undefined;
}

const look = (pool: Pool): Look => ({ fp: manifestFingerprint(pool), text: savedText(pool) });
const unchangedSince = (pool: Pool, was: Look) => manifestFingerprint(pool).hash === was.fp.hash && savedText(pool) === was.text;

function writeSummary(pool: Pool, fp: ManifestFingerprint, summary: PoolSummary): void {
  const id = pool.config.id;
  const file: SummaryFile = { schema: SUMMARY_SCHEMA, poolId: id, fingerprint: fp.hash, summary, checksum: checksumOf(id, fp.hash, summary) };
  writeJsonAtomic(summaryFile(pool.root), file);
}

/** A mark in place of the summary, unlike any before it: the next status counts afresh. Best effort. */
function dropSummaryFile(pool: Pool): void {
  try {
    if (stateDirProblem(pool.root) !== undefined) return;
    writeJsonAtomic(summaryFile(pool.root), { schema: SUMMARY_SCHEMA, dropped: `${new Date().toISOString()} ${randomBytes(8).toString('hex')}` });
  } catch {
    // Unwritable: whoever can write the manifests but not the state directory is read by the fingerprint alone.
  }
}

/**
 * Makes a change to the manifests (`change`: a put's writes, a removal's
 * unlinks) holding the manifest lock; then saves `next` as the summary if
 * the manifests and the summary file were as `base` saw them, else drops the
 * summary. Saving is best effort; the change is made whatever becomes of it.
 */
function changeCounted<T>(pool: Pool, owner: string, base: Look | undefined, change: () => T, next: (() => PoolSummary) | undefined): T {
  return withManifestLock(pool, owner, (locked) => {
    let holds = false;
    try {
      holds = locked && base !== undefined && next !== undefined && unchangedSince(pool, base);
    } catch {
      holds = false;
    }
    if (!holds) dropSummaryFile(pool);
    let out: T;
    try {
      out = change();
    } catch (err) {
      // Some manifests may have changed, in the tick of the look: the summary cannot follow.
      if (holds) dropSummaryFile(pool);
      throw err;
    }
    try {
      if (holds) writeSummary(pool, manifestFingerprint(pool), next!());
    } catch {
      dropSummaryFile(pool);
    }
    return out;
  });
}

/** Writes or removes manifests where no summary can follow them (a replace, a put into a pool not counted): drops it. */
export function changeManifests<T>(pool: Pool, owner: string, change: () => T): T {
  return changeCounted(pool, owner, undefined, change, undefined);
}

/**
 * For the scrub, on finding an object no manifest copy of which reads (damage
 * in place, which the fingerprint cannot see): the next status counts afresh.
 * A second at most for the lock, the daemon's event loop waiting: a put
 * holds it for a few writes; without it the mark is written all the same.
 */
export function dropSummary(pool: Pool): void {
  withManifestLock(pool, 'scrub', () => dropSummaryFile(pool), 1000);
}

/**
 * Counts objects one by one as a walk over every manifest meets them, and
 * saves the count if no manifest changed while it walked. A walk that reads
 * every manifest anyway (status without a summary to believe; rm) keeps
 * status current for free, at the price of a Set of every distinct extent
 * (a 16-byte key each).
 */
export class SummaryCounter {
  readonly summary: PoolSummary = { objects: 0, extents: 0, bytes: 0, unreadableObjects: 0, schemes: {} };
  /** The manifests and the summary file as the walk began. */
  readonly before: Look;
  private readonly seen = new Set<string>();

  constructor(private readonly pool: Pool) {
    this.before = look(pool);
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
   * Saves the count unless a manifest or the summary file changed since the
   * walk began (it may be torn: the next status counts again). Best effort,
   * never an error: a read-only pool, or one whose state directory cannot be
   * trusted, is just not written.
   */
  save(): boolean {
    try {
      // Not worth a wait: a writer holding the lock is about to change what was counted.
      return withManifestLock(
        this.pool,
        'status',
        (locked) => {
          if (!locked || !unchangedSince(this.pool, this.before)) return false;
          writeSummary(this.pool, this.before.fp, this.summary);
          return true;
        },
        0,
      );
    } catch {
      return false;
    }
  }

  /** Removes an object's manifests (`remove`), the walk having counted every object but it: its count is the summary after. */
  removing<T>(remove: () => T): T {
    return changeCounted(this.pool, 'rm', this.before, remove, () => this.summary);
  }
}

/**
 * A put's object added to the saved summary, so the next status need not
 * count every manifest again. Begun before the put writes anything, and only
 * where the saved summary holds for the manifests as they are, no copy of the
 * object's manifest file exists yet (not a replace, nor damaged copies counted
 * as unreadable) and every disk of the pool is online (an extent whose shards
 * are all on an absent disk looks new). Its manifest is written holding the
 * manifest lock, and the object added only if the manifests and the summary
 * file are still as they were when it began: a put, rm or edit meanwhile
 * drops the summary, and the next status counts afresh, as it does whenever
 * this gives up.
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
    private readonly before: Look,
    private readonly summary: PoolSummary,
  ) {}

  /** The pool's distinct extents before the put. */
  get extents(): number {
    return this.summary.extents;
  }

  /** Undefined when the summary cannot be kept current by addition (see above): the put then drops it. */
  static begin(pool: Pool, name: string): SummaryGrowth | undefined {
    try {
      if (pool.disks.some((d) => d.state !== 'online')) return undefined;
      if (onlineDisks(pool).some((d) => fs.lstatSync(manifestPath(d.path, name), { throwIfNoEntry: false }))) return undefined;
      const before = look(pool);
      const summary = before.text === undefined ? undefined : provenSummary(before.text, pool.config.id, before.fp);
      return summary && new SummaryGrowth(pool, before, summary);
    } catch {
      return undefined;
    }
  }

  /**
   * Writes the object's manifest (`write`) and adds the object to the
   * summary: `extents` distinct extents that no other manifest names, or
   * undefined where the put cannot say (the summary is dropped).
   */
  adding<T>(write: () => T, scheme: string, bytes: number, extents: number | undefined): T {
    const old = this.summary;
    const grown = (): PoolSummary => {
      const was = old.schemes[scheme] ?? { objects: 0, extents: 0, bytes: 0 };
      return {
        objects: old.objects + 1,
        extents: old.extents + extents!,
        bytes: old.bytes + bytes,
        unreadableObjects: old.unreadableObjects,
        schemes: { ...old.schemes, [scheme]: { objects: was.objects + 1, extents: was.extents + extents!, bytes: was.bytes + bytes } },
      };
    };
    return changeCounted(this.pool, 'put', this.before, write, extents === undefined ? undefined : grown);
  }
}

const checksumOf = (poolId: string, fingerprint: string, summary: PoolSummary) => `blake3:${blake3Hex(JSON.stringify([SUMMARY_SCHEMA, poolId, fingerprint, summary]))}`;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The summary in `text`, if it is whole, adds up, and was counted under this very fingerprint. */
function provenSummary(text: string, poolId: string, fp: ManifestFingerprint): PoolSummary | undefined {
  let f: SummaryFile;
  try {
    f = JSON.parse(text) as SummaryFile;
  } catch {
    return undefined;
  }
  if (typeof f !== 'object' || f === null || f.schema !== SUMMARY_SCHEMA || f.poolId !== poolId || f.fingerprint !== fp.hash) return undefined;
  const s = f.summary;
  if (typeof s !== 'object' || s === null || f.checksum !== checksumOf(poolId, fp.hash, s)) return undefined;
  if (![s.objects, s.extents, s.bytes, s.unreadableObjects].every(isCount)) return undefined;
  if (typeof s.schemes !== 'object' || s.schemes === null || Array.isArray(s.schemes)) return undefined;
  const entries = Object.entries(s.schemes);
  if (entries.length > MAX_SCHEMES) return undefined;
  const sum = { objects: 0, extents: 0, bytes: 0 };
  for (const [scheme, c] of entries) {
    try {
      parseScheme(scheme);
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

/** The pool's summary: the saved one while it holds, else counted from every manifest (and saved for next time). */
export function poolSummary(pool: Pool): PoolSummary {
  const counter = new SummaryCounter(pool);
  const { text, fp } = counter.before;
  const saved = text === undefined ? undefined : provenSummary(text, pool.config.id, fp);
  if (saved) return saved;
  eachObject(pool, (o) => counter.add(o));
  counter.save();
  return counter.summary;
}

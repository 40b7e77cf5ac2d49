import { checkShardBytes, checkShardFile, checkShardHeader, ReadBuffer, ReadPacing, readShardMatches, ShardProblem, shardMatches } from '../core/shard-file';
import { alignUp } from '../core/aligned-memory';
import { ShardTemplate } from '../core/shard-header';
import { shardPayloadLength } from '../core/erasure';
import { formatScheme, minShards, parseScheme, Scheme, shardCount } from '../core/scheme';
import { ExtentPlan } from './inventory';

export type Health = 'healthy' | 'degraded' | 'unrecoverable';

/** deep: every byte read and proven; light: each file's type, size and header, payloads unread. */
export type Depth = 'deep' | 'light';

/** The verdict on one file (or one absent file) of an extent. */
export interface ShardResult {
  index: number;
  /** Disk index, or -1 for a shard found on no disk. */
  disk: number;
  path: string;
  status: 'ok' | 'duplicate' | ShardProblem | 'scheme-mismatch' | 'index-out-of-range';
  detail?: string;
}

export interface ExtentVerdict {
  id: string;
  scheme?: string;
  length?: number;
  health: Health;
  /** Shard indices with at least one valid file. */
  valid: number[];
  shards: ShardResult[];
  bytesRead: number;
}

const schemes = new Map<string, Scheme>();
/** Parsed once per text: a pass sees a handful of schemes and millions of shards. */
function schemeOf(text: string): Scheme {
  let s = schemes.get(text);
  if (!s) schemes.set(text, (s = parseScheme(text)));
  return s;
}

const templates = new Map<string, ShardTemplate>();
/** One per scheme and length (objects end in extents of their own length): a bounded few. */
function templateOf(schemeText: string, scheme: Scheme, length: number): ShardTemplate {
  const key = `${length}/${schemeText}`;
  let t = templates.get(key);
  if (!t) {
    if (templates.size >= 1024) templates.clear();
    templates.set(key, (t = new ShardTemplate(scheme, length, shardPayloadLength(scheme, length))));
  }
  return t;
}

/** Bitmasks of shard indices stay exact up to here; wider schemes take the slow way. */
const MAX_QUICK_SHARDS = 30;

/**
 * The bytes read when the extent's listed files are exactly its shards, one
 * each, every one the shard the manifest expects byte for byte: then
 * verifyExtent would call it healthy with every file ok, and its verdict
 * crosses as a number (packVerdict). Else -1, and nothing is concluded.
 */
function soundExtentBytes(plan: ExtentPlan, buf: ReadBuffer, pacing: ReadPacing | undefined, depth: Depth, read?: ReadAlready): number {
  if (plan.scheme === undefined || plan.length === undefined) return -1;
  const scheme = schemeOf(plan.scheme);
  const n = shardCount(scheme);
  if (plan.files.length !== n || n > MAX_QUICK_SHARDS) return -1;
  const template = templateOf(plan.scheme, scheme, plan.length).extent(plan.id);
  let seen = 0;
  let bytes = 0;
  for (let i = 0; i < plan.files.length; i++) {
    const f = plan.files[i];
    const bit = 1 << f.index;
    if (f.index >= n || seen & bit) return -1;
    seen |= bit;
    const already = read?.[i];
    const got = already ? readShardMatches(already, template.shard(f.index)) : shardMatches(f.path, template.shard(f.index), depth === 'light', buf, pacing, f.regular);
    if (got < 0) return -1;
    bytes += got;
  }
  return bytes;
}

/**
 * A deep check's files already read whole (see DirectReads), by their place
 * in plan.files: each the file's first bytes, its size + 1 asked for; an
 * undefined entry is read here.
 */
export type ReadAlready = (Buffer | undefined)[];

/** The size a sound shard file of the plan has, or -1 when the plan does not say (an orphan). */
export function soundFileSize(plan: ExtentPlan): number {
  if (plan.scheme === undefined || plan.length === undefined) return -1;
  return templateOf(plan.scheme, schemeOf(plan.scheme), plan.length).fileSize;
}

/**
 * One extent's verdict as it crosses between threads: the quick byte-for-byte
 * proof first (soundExtentBytes), the file-by-file judgement only for an
 * extent that fails it. A damaged extent is read twice; a healthy one, once
 * and without building a verdict.
 */
export function checkExtent(plan: ExtentPlan, buf: ReadBuffer, pacing: ReadPacing | undefined, depth: Depth, read?: ReadAlready): VerdictMessage {
  const bytes = soundExtentBytes(plan, buf, pacing, depth, read);
  return bytes >= 0 ? bytes : packVerdict(plan, verifyExtent(plan, buf, pacing, depth, read && wholeFiles(plan, read)));
}

/**
 * Of the files read already, those read to their end: fewer bytes than were
 * asked for (alignUp(size + 1)), so the count is the file's size. A longer
 * one is judged the buffered way, which learns its size from fstat.
 */
export function wholeFiles(plan: ExtentPlan, read: ReadAlready): ReadAlready {
  const asked = alignUp(soundFileSize(plan) + 1);
  return read.map((b) => (b && b.length < asked ? b : undefined));
}

/**
 * Reads and proves every file of one extent and classifies the extent
 * (DESIGN §2); a light check reads headers only, so a shard it calls valid may
 * still hold rot. Pure reading: never writes, never throws for bad data.
 * `whole`: files already read to their end (see wholeFiles), judged from
 * those bytes.
 */
export function verifyExtent(plan: ExtentPlan, buf: ReadBuffer, pacing?: ReadPacing, depth: Depth = 'deep', whole?: ReadAlready): ExtentVerdict {
  const results: ShardResult[] = [];
  const valid = new Set<number>();
  let bytesRead = 0;
  const checks = plan.files.map((f, i) => {
    const read = depth === 'deep' ? whole?.[i] : undefined;
    const r = depth === 'light' ? checkShardHeader(f.path, plan.id, f.index, buf, f.regular) : read ? checkShardBytes(read, plan.id, f.index) : checkShardFile(f.path, plan.id, f.index, buf, pacing);
    bytesRead += r.fileSize ?? 0;
    return { f, r };
  });
  // An orphan has no manifest: its scheme comes from its own valid headers.
  let schemeText = plan.scheme;
  let length = plan.length;
  if (!schemeText) {
    const first = checks.find((c) => c.r.ok);
    if (first?.r.ok) {
      schemeText = formatScheme(first.r.header.scheme);
      length = first.r.header.extentLength;
    }
  }
  const scheme = schemeText ? schemeOf(schemeText) : undefined;
  const n = scheme ? shardCount(scheme) : 0;
  for (const { f, r } of checks) {
    const base = { index: f.index, disk: f.disk, path: f.path };
    if (scheme && f.index >= n) {
      results.push({ ...base, status: 'index-out-of-range', detail: `${schemeText} has shards 0..${n - 1}` });
    } else if (!r.ok) {
      results.push({ ...base, status: r.problem, detail: r.detail });
    } else if (formatScheme(r.header.scheme) !== schemeText || r.header.extentLength !== length) {
      results.push({ ...base, status: 'scheme-mismatch', detail: `header says ${formatScheme(r.header.scheme)} length ${r.header.extentLength}, manifest ${schemeText} length ${length}` });
    } else if (r.header.payloadLength !== shardPayloadLength(scheme!, length!)) {
      results.push({ ...base, status: 'scheme-mismatch', detail: `payload of ${r.header.payloadLength} bytes, ${schemeText} with length ${length} makes shards of ${shardPayloadLength(scheme!, length!)}` });
    } else if (valid.has(f.index)) {
      results.push({ ...base, status: 'duplicate', detail: 'another valid copy of this shard exists' });
    } else {
      valid.add(f.index);
      results.push({ ...base, status: 'ok' });
    }
  }
  for (let i = 0; i < n; i++) {
    if (!plan.files.some((f) => f.index === i)) results.push({ index: i, disk: -1, path: '', status: 'missing', detail: 'missing from every online disk' });
  }
  let health: Health = 'unrecoverable';
  if (scheme && valid.size === n) health = 'healthy';
  else if (scheme && valid.size >= minShards(scheme)) health = 'degraded';
  return { id: plan.id, scheme: schemeText, length, health, valid: [...valid].sort((a, b) => a - b), shards: results, bytesRead };
}

/**
 * A verdict as it crosses between threads: for an extent whose listed files
 * all proved valid (nearly every extent of a healthy pool) just its bytes
 * read, since the plan the main thread holds says the rest. Cloning paths
 * back and forth cost more than a light check itself.
 */
export type VerdictMessage = ExtentVerdict | number;

export function packVerdict(plan: ExtentPlan, v: ExtentVerdict): VerdictMessage {
  const plain =
    v.health === 'healthy' &&
    v.scheme === plan.scheme &&
    v.length === plan.length &&
    v.shards.length === plan.files.length &&
    v.shards.every((s) => s.status === 'ok' && s.detail === undefined);
  return plain ? v.bytesRead : v;
}

export function unpackVerdict(plan: ExtentPlan, m: VerdictMessage): ExtentVerdict {
  if (typeof m !== 'number') return m;
  const shards: ShardResult[] = plan.files.map((f) => ({ index: f.index, disk: f.disk, path: f.path, status: 'ok' }));
  return { id: plan.id, scheme: plan.scheme, length: plan.length, health: 'healthy', valid: shards.map((s) => s.index).sort((a, b) => a - b), shards, bytesRead: m };
}

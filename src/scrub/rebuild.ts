import { extentId } from '../core/hash';
import { parseScheme, shardCount } from '../core/scheme';
import { assembleExtent, codecBytes, rebuildInto, rebuildShards, shardPayloadLength } from '../core/erasure';
import { checkShardFile, readPayloadInto, shardHeaderFor } from '../core/shard-file';
import { HEADER_SIZE } from '../core/shard-header';
import type { SharedSlots } from '../core/shared-slots';
import type { ExtentVerdict, ReadAlready, ShardResult } from './verify';
import type { ExtentPlan } from './inventory';

/** Every verdict on a file but a valid shard or a spare valid copy of one needs repair. */
export const isBroken = (r: ShardResult) => r.status !== 'ok' && r.status !== 'duplicate';

/** An extent a repair pass rebuilds: some shard is broken, and enough are valid to rebuild it from. */
export const needsRebuild = (v: ExtentVerdict) => v.health !== 'unrecoverable' && v.scheme !== undefined && v.length !== undefined && v.shards.some(isBroken);

/**
 * A rebuilt shard's whole file, header then payload (`size` bytes), in a
 * page-aligned slot another thread lent (see SharedSlots): written from
 * there with O_DIRECT, no copy. `release` hands the slot back; nothing may
 * touch `slot` after it.
 */
export interface ShardImage {
  /** Page-aligned, whole pages: room past `size` to the next page boundary. */
  slot: Buffer;
  size: number;
  release(): void;
}

/** What was rebuilt of one shard: its payload, or its whole file (ShardImage). */
export type RebuiltShard = Buffer | ShardImage;

/** The payloads of an extent by shard index (every one, or at least each broken one's), or why it could not be rebuilt. */
export type Rebuilt = (RebuiltShard | undefined)[] | string;

/** A ShardImage as it crosses: its offset in the lending thread's SharedSlots. */
export interface SlotRef {
  at: number;
  size: number;
}

/** Rebuilt, as it crosses from a verify thread. */
export type CrossingRebuilt = (Buffer | SlotRef | undefined)[] | string;

export const isImage = (r: RebuiltShard): r is ShardImage => !Buffer.isBuffer(r);

/** Gives back every slot a Rebuilt holds (a Rebuilt of payloads holds none). */
export function releaseRebuilt(r: Rebuilt): void {
  if (typeof r === 'string') return;
  for (const x of r) if (x && isImage(x)) x.release();
}

/**
 * Re-reads the valid shards and rebuilds every payload, proven against the
 * extent id; into `scratch` (see rebuildInto) when given, where it can.
 * `inPlace`: the shards whose valid payloads `scratch` holds already, each
 * in its place (a cold pass copies them there from its direct reads, which
 * leave nothing in the page cache to read again).
 */
export async function rebuildExtent(v: ExtentVerdict, scratch?: Buffer, inPlace?: ReadonlySet<number>): Promise<Buffer[]> {
  const scheme = parseScheme(v.scheme!);
  const valid = (index: number) => v.shards.filter((s) => s.status === 'ok' && s.index === index);
  const proven = (full: Buffer[]) => extentId(scheme, assembleExtent(scheme, v.length!, full)) === v.id;
  if (scheme.kind === 'rs') {
    // Each valid payload is read straight into the codec's buffer; what is rebuilt from them is proven below.
    const fill = (index: number, dest: Buffer) => !!inPlace?.has(index) || valid(index).some((s) => readPayloadInto(s.path, v.id, index, dest));
    const full = await rebuildInto(scheme, v.length!, fill, scratch);
    if (proven(full)) return full;
    // A source whose header is sound but whose payload rotted (a light pass cannot tell): each payload proven by its checksum.
  }
  const payloads: (Buffer | undefined)[] = new Array(shardCount(scheme)).fill(undefined);
  for (const s of v.shards) {
    if (s.status !== 'ok' || payloads[s.index]) continue;
    const r = checkShardFile(s.path, v.id, s.index);
    if (r.ok) payloads[s.index] = r.payload;
  }
  const full = await rebuildShards(scheme, v.length!, payloads);
  if (!proven(full)) throw new Error('rebuilt extent does not match its id');
  return full;
}

/** An extent's valid payloads in codec buffers, each in its place (see rebuildExtent's `inPlace`). */
export interface SourcesInPlace {
  scratch: Buffer;
  shards: Set<number>;
}

/**
 * Copies the valid payloads of an erasure-coded extent out of its files read
 * whole already (`whole`, by each file's place in plan.files: see
 * wholeFiles) into a codec buffer `take` gives, each in its place. Undefined
 * for a mirror, when none was read so, or when `take` has no buffer now: the
 * rebuild then reads the files again.
 */
export function sourcesInPlace(v: ExtentVerdict, plan: ExtentPlan, whole: ReadAlready, take: (bytes: number) => Buffer | undefined): SourcesInPlace | undefined {
  const scheme = parseScheme(v.scheme!);
  if (scheme.kind !== 'rs') return undefined;
  const len = shardPayloadLength(scheme, v.length!);
  let scratch: Buffer | undefined;
  const shards = new Set<number>();
  plan.files.forEach((f, j) => {
    const bytes = whole[j];
    // Only a file judged valid from these very bytes: one judged otherwise was read again.
    const r = bytes && bytes.length === HEADER_SIZE + len ? v.shards.find((s) => s.path === f.path) : undefined;
    if (!r || r.status !== 'ok' || shards.has(r.index)) return;
    scratch ??= take(codecBytes(scheme, v.length!));
    if (!scratch) return;
    bytes!.copy(scratch, r.index * len, HEADER_SIZE, HEADER_SIZE + len);
    shards.add(r.index);
  });
  return scratch && { scratch, shards };
}

/** rebuildExtent, with a failure said as its reason. */
export async function rebuildOrExplain(v: ExtentVerdict, scratch?: Buffer, inPlace?: ReadonlySet<number>): Promise<Buffer[] | string> {
  try {
    return await rebuildExtent(v, scratch, inPlace);
  } catch (err) {
    return `cannot rebuild: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * What of a rebuilt extent a repair writes: each broken shard, in memory of
 * its own. The codec's buffers hold every shard (k + m payloads); a verify
 * thread sends the main thread only the ones it will write (two of six when
 * two shards are lost), a third of the bytes held until written. Each goes
 * as its whole shard file in a slot of `slots` while one is free (the header
 * made here, of the payload the extent id proved; the main thread writes the
 * slot as it is), else as a copy of its payload.
 */
export function brokenShardFiles(v: ExtentVerdict, full: Buffer[] | string, slots?: SharedSlots): CrossingRebuilt {
  if (typeof full === 'string') return full;
  const out: (Buffer | SlotRef | undefined)[] = new Array(full.length).fill(undefined);
  for (const s of v.shards) {
    const payload = full[s.index];
    if (!isBroken(s) || !payload || out[s.index]) continue;
    const size = HEADER_SIZE + payload.length;
    const at = slots ? slots.take(size) : -1;
    if (at < 0) {
      out[s.index] = Buffer.from(payload);
      continue;
    }
    const file = Buffer.from(slots!.memory!, at, size);
    shardHeaderFor(v.id, s.index, parseScheme(v.scheme!), v.length!, payload).copy(file, 0);
    payload.copy(file, HEADER_SIZE);
    out[s.index] = { at, size };
  }
  return out;
}

/** Bytes brokenShardFiles keeps of an extent (payloads). */
export function brokenBytes(v: ExtentVerdict): number {
  const indexes = new Set(v.shards.filter(isBroken).map((s) => s.index));
  return indexes.size * shardPayloadLength(parseScheme(v.scheme!), v.length!);
}

/** Bytes of codec buffers rebuilding an extent takes (rebuildExtent's scratch), or 0 for a mirror, which needs none. */
export function scratchBytes(v: ExtentVerdict): number {
  const scheme = parseScheme(v.scheme!);
  return scheme.kind === 'rs' ? codecBytes(scheme, v.length!) : 0;
}

import fs from 'node:fs';
import path from 'node:path';
import { eachObjectBorrowing, ObjectEntry } from '../core/manifest';
import { PREFIXES, stateDir } from '../core/layout';
import { Pool } from '../core/pool';
import { parseScheme, Scheme, shardCount } from '../core/scheme';
import { HEADER_SIZE } from '../core/shard-header';
import { shardPayloadLength } from '../core/erasure';
import { fsFailure } from '../core/errors';
import { appendFileSafe, openRegularFile, readFully, removeOwnTree } from '../core/safe-fs';
import { IdTable } from './id-table';

// The extents the manifests name, spilled to the pool's state directory in 256
// bucket files by the first byte of the id. A pass then holds one bucket
// (1/256 of the pool) in memory at a time, and the daemon's memory does not
// grow with the extent count. An index small enough that no bucket ever
// filled its buffer is written as one file instead. The index is work space of whoever holds the
// scrub lock: rebuilt by every pass, removed when it ends.

/** id (32 bytes), scheme index (1), extent length (4), object ordinal (4). */
const RECORD = 41;
/** Records buffered per bucket before they are appended to its file. */
const FLUSH_RECORDS = 100;
/** Objects kept per extent, for findings. */
export const MAX_NAMES = 3;
/** Every this many object names, the names file's offset is kept in memory. */
const NAME_BLOCK = 1024;

export interface ExtentIndex {
  dir: string;
  schemes: string[];
  /** Offsets in the names file of object ordinals 0, NAME_BLOCK, 2*NAME_BLOCK, ... */
  nameBlocks: number[];
  /** Distinct extents the manifests name. */
  extents: number;
  /** What reading every shard of those extents costs. */
  bytes: number;
  /** The same two, per fan-out prefix (PREFIXES order): how a pass cuts its operations. */
  prefixExtents: number[];
  prefixBytes: number[];
  /**
   * A small index is one file, every bucket's records in prefix order: where
   * each bucket starts in it, in records (257 entries, the last the end).
   */
  packed?: number[];
}

export const extentIndexDir = (root: string) => path.join(stateDir(root), 'extent-index');

/** What reading every shard of an extent costs, from its scheme (no stat per file). */
function expectedBytes(scheme: Scheme, length: number): number {
  return shardCount(scheme) * (HEADER_SIZE + shardPayloadLength(scheme, length));
}

/** One bucket file per fan-out prefix, named by it. */
const bucketFile = (dir: string, prefix: string) => path.join(dir, prefix);
const namesFile = (dir: string) => path.join(dir, 'names');
const packedFile = (dir: string) => path.join(dir, 'records');

function append(file: string, data: string | Buffer): void {
  try {
    appendFileSafe(file, data);
  } catch (err) {
    throw fsFailure('cannot write the extent index', file, err);
  }
}

/**
 * Reads every manifest once, hands each object to `onObject` (its copies and
 * verdicts; its extent list is valid during the call only), and writes the index.
 */
export function buildExtentIndex(pool: Pool, onObject: (o: ObjectEntry) => void = () => undefined): ExtentIndex {
  const dir = extentIndexDir(pool.root);
  try {
    removeOwnTree(dir);
    fs.mkdirSync(dir);
  } catch (err) {
    throw fsFailure('cannot create the extent index', dir, err);
  }
  const index: ExtentIndex = { dir, schemes: [], nameBlocks: [], extents: 0, bytes: 0, prefixExtents: [], prefixBytes: [] };
  try {
    fillIndex(pool, index, onObject);
  } catch (err) {
    // Half an index is of no use to anyone, and may be what filled the disk.
    removeExtentIndex(index);
    throw err;
  }
  // What the build read through (the biggest object's extent list, 3.6 MB at
  // 100k extents, and the buckets' buffers) lies outside the heap and would stay
  // resident until a mark-compact, seconds into the pass, when the verify
  // threads' heaps are at their largest: the daemon (node --expose-gc) lets it
  // go now, in one collection of a few ms. A daemon pass over a million 4 KiB
  // extents in objects of 100k: VmHWM 86.9-88.2 MB, against 88.9-89.9 without.
  (globalThis as { gc?: () => void }).gc?.();
  return index;
}

function fillIndex(pool: Pool, index: ExtentIndex, onObject: (o: ObjectEntry) => void): void {
  const dir = index.dir;
  const pending = PREFIXES.map(() => ({ buf: Buffer.alloc(0), n: 0 }));
  // The bucket is the id's first byte (PREFIXES run 00 to ff).
  let flushed = false;
  const flush = (bucket: number) => {
    const p = pending[bucket];
    if (p.n === 0) return;
    flushed = true;
    append(bucketFile(dir, PREFIXES[bucket]), p.buf.subarray(0, p.n * RECORD));
    p.n = 0;
  };
  // Object names go to a names file (one JSON string per line), not memory.
  let names = '';
  let namesAt = 0;
  let objects = 0;
  const flushNames = () => {
    if (names) append(namesFile(dir), names);
    names = '';
  };
  // Neither this nor onObject keeps an object's extent list past its call: they may share storage.
  eachObjectBorrowing(pool, (o) => {
    onObject(o);
    const m = o.manifest;
    if (!m) return;
    let si = index.schemes.indexOf(m.scheme);
    if (si < 0) si = index.schemes.push(m.scheme) - 1;
    const ordinal = objects++;
    if (ordinal % NAME_BLOCK === 0) index.nameBlocks.push(namesAt);
    const line = JSON.stringify(m.name) + '\n';
    names += line;
    namesAt += Buffer.byteLength(line);
    if (names.length > 64 * 1024) flushNames();
    for (let i = 0; i < m.extents.count; i++) {
      const bucket = m.extents.firstIdByte(i);
      const p = pending[bucket];
      if (p.buf.length === 0) p.buf = Buffer.allocUnsafe(FLUSH_RECORDS * RECORD);
      const at = p.n * RECORD;
      m.extents.copyId(i, p.buf, at);
      p.buf.writeUInt8(si, at + 32);
      p.buf.writeUInt32LE(m.extents.length(i), at + 33);
      p.buf.writeUInt32LE(ordinal, at + 37);
      if (++p.n === FLUSH_RECORDS) flush(bucket);
    }
  });
  // No bucket ever filled: every record is in memory, and goes to one file, not 256 (a pass over a small
  // pool spent more creating and removing them than reading its manifests).
  if (!flushed) {
    index.packed = [0];
    for (const p of pending) index.packed.push(index.packed[index.packed.length - 1] + p.n);
    append(packedFile(dir), Buffer.concat(pending.map((p) => p.buf.subarray(0, p.n * RECORD))));
  } else for (let b = 0; b < PREFIXES.length; b++) flush(b);
  flushNames();
  // Totals count an extent named by several objects once; one bucket in memory at a time.
  const schemes = new Map(index.schemes.map((text) => [text, parseScheme(text)]));
  // Counted on the raw ids, not decoded into extents as a pass does.
  const seen = new IdTable();
  for (const prefix of PREFIXES) {
    let extents = 0;
    let bytes = 0;
    seen.clear();
    eachIndexRecord(index, prefix, (data, at, scheme, length) => {
      const known = seen.count;
      if (seen.add(data, at) < known) return;
      extents++;
      bytes += expectedBytes(schemes.get(index.schemes[scheme])!, length);
    });
    index.prefixExtents.push(extents);
    index.prefixBytes.push(bytes);
    index.extents += extents;
    index.bytes += bytes;
  }
}

/** Records read from a bucket file at a time: a reused buffer, not one of the bucket's size. */
const RECORDS_PER_READ = 4096;
let recordBuffer: Buffer | undefined;

/** One record as read: its id the 32 bytes of `data` at `at` (valid during the call only), its scheme an index in the index's schemes. */
export type IndexRecord = (data: Buffer, at: number, scheme: number, length: number, object: number) => void;

/**
 * Calls `fn` with each record of one bucket, in the order written; an
 * extent several objects name has a record for each; nothing when no
 * extent has the prefix. Read through
 * one buffer: a bucket a read was 160 KB of garbage outside the V8 heap per
 * prefix at a million extents, 41 MB a pass that waited on a collection, and
 * the daemon's resident memory grew by it.
 */
export function eachIndexRecord(index: Pick<ExtentIndex, 'dir' | 'packed'>, prefix: string, fn: IndexRecord): void {
  const packed = index.packed;
  // Packed: the bucket's records are a range of the one records file.
  const bucket = parseInt(prefix, 16);
  const from = packed ? packed[bucket] * RECORD : 0;
  if (packed && packed[bucket + 1] === packed[bucket]) return;
  const file = packed ? packedFile(index.dir) : bucketFile(index.dir, prefix);
  let opened: { fd: number; size: number };
  try {
    // Our own files, but never through a link or a FIFO planted in their place.
    opened = openRegularFile(file, 256 * 1024 * 1024);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fsFailure('cannot read the extent index', file, err);
  }
  const buf = (recordBuffer ??= Buffer.allocUnsafe(RECORDS_PER_READ * RECORD));
  try {
    const whole = packed ? Math.min(opened.size, packed[bucket + 1] * RECORD) : opened.size - (opened.size % RECORD);
    for (let pos = from; pos < whole; ) {
      const chunk = buf.subarray(0, Math.min(buf.length, whole - pos));
      let got: number;
      try {
        got = readFully(opened.fd, chunk, pos);
      } catch (err) {
        throw fsFailure('cannot read the extent index', file, err);
      }
      for (let at = 0; at + RECORD <= got; at += RECORD) fn(chunk, at, chunk[at + 32], chunk.readUInt32LE(at + 33), chunk.readUInt32LE(at + 37));
      if (got < chunk.length) break;
      pos += got;
    }
  } finally {
    fs.closeSync(opened.fd);
  }
}

/** The names of objects by ordinal: one block of the names file read per name (findings only). */
export function objectNames(index: ExtentIndex, ordinals: number[]): string[] {
  return ordinals.map((ordinal) => {
    const block = Math.floor(ordinal / NAME_BLOCK);
    const start = index.nameBlocks[block];
    const end = index.nameBlocks[block + 1];
    let text: string;
    try {
      const fd = fs.openSync(namesFile(index.dir), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
      try {
        const len = end === undefined ? fs.fstatSync(fd).size - start : end - start;
        const buf = Buffer.alloc(len);
        fs.readSync(fd, buf, 0, len, start);
        text = buf.toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      throw fsFailure('cannot read the extent index', namesFile(index.dir), err);
    }
    return JSON.parse(text.split('\n')[ordinal % NAME_BLOCK]) as string;
  });
}

/** Best effort: a directory that cannot go now makes the next build fail with its name. */
export function removeExtentIndex(index: ExtentIndex): void {
  try {
    removeOwnTree(index.dir);
  } catch {
    /* reported by the next buildExtentIndex */
  }
}

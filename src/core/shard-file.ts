import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, fsFailure, operationalError } from './errors';
import { isRealDirectory } from './safe-fs';
import { checksum64 } from './hash';
import { decodeShardHeader, encodeShardHeader, HEADER_SIZE, PAYLOAD_CHECKSUM_AT, ShardHeader, ShardTemplate } from './shard-header';
import { fsCall, fsyncDir, fsyncDirAsync, TEMP_CREATE, tempPathFor, writeFileAtomic } from './atomic-file';
import { Scheme } from './scheme';
import { HeaderFile, HeaderReads } from './header-reads';
import { BufferPool } from './buffer-pool';
import { alignUp, DIRECT_ALIGN, mapAligned } from './aligned-memory';

/** What can be wrong with one shard file (DESIGN §2). */
export type ShardProblem =
  | 'missing'
  | 'not-regular'
  | 'unreadable'
  | 'header-damaged'
  | 'truncated'
  | 'oversized'
  | 'checksum-mismatch'
  | 'wrong-extent'
  | 'wrong-index';

export type ShardFailure = { ok: false; problem: ShardProblem; detail: string; header?: ShardHeader; fileSize?: number };
export type ShardCheck = { ok: true; header: ShardHeader; payload: Buffer; fileSize: number } | ShardFailure;
/** A light check's verdict: the file's type, size and header, its payload unread. */
export type ShardHeaderCheck = { ok: true; header: ShardHeader; fileSize: number } | ShardFailure;
// fileSize is the bytes actually read (what a pass accounts for), at most MAX_SHARD_FILE.

/**
 * Where a shard's bytes are read to. Reading into a buffer that starts a little
 * past its allocation's start was measured 2x faster (PERF-NOTES: 7.4 vs 17 GB/s).
 */
export class ReadBuffer {
  private buf = Buffer.alloc(0);
  take(size: number): Buffer {
    if (this.buf.length < size) this.buf = Buffer.allocUnsafe(size + 64).subarray(64);
    return this.buf.subarray(0, size);
  }
}

/** The header plus the largest extent a pool may have (256 MiB, a mirror copy). */
export const MAX_SHARD_FILE = HEADER_SIZE + 256 * 1024 * 1024;

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
/** One per thread: whether this thread's recent header reads came from memory. */
const headerReads = new HeaderReads(OPEN_FLAGS);

/**
 * How a background reader spaces its reads: at most `chunk` bytes per read
 * (0: the whole file at once), and `after` is called after each with the bytes
 * and milliseconds it took; it sleeps there, or throws ReadStopped to drop the
 * read (the file is then not judged).
 */
export interface ReadPacing {
  chunk: number;
  after: (bytes: number, ms: number) => void;
}

/** Thrown by a ReadPacing to stop reading (a cancelled pass): never a verdict on the file. */
export class ReadStopped extends Error {}

/**
 * Reads and proves one shard file against the name it was found under. Never
 * follows a symlink, never opens a FIFO or device (lstat first, O_NOFOLLOW |
 * O_NONBLOCK and fstat after, for the race), never throws for a bad shard.
 * With `into`, the payload lives in that reusable buffer until the next call.
 */
export function checkShardFile(file: string, extentId: string, index: number, into?: ReadBuffer, pacing?: ReadPacing): ShardCheck {
  return inspectShard(file, extentId, index, false, into, pacing) as ShardCheck;
}

/**
 * Reads a shard's payload straight into `dest` (the codec's buffer, for a
 * rebuild): true when the file is a regular one of exactly the header and
 * dest's length, its header names this extent and index, and the whole payload
 * was read. The payload's checksum is not proven here: the caller proves what
 * it rebuilds from it against the extent id (which a bad source fails).
 */
export function readPayloadInto(file: string, extentId: string, index: number, dest: Buffer): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch {
    return false;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size !== HEADER_SIZE + dest.length) return false;
    const head = payloadHeader;
    if (fs.readSync(fd, head, 0, HEADER_SIZE, 0) !== HEADER_SIZE) return false;
    const header = decodeShardHeader(head);
    if (typeof header === 'string' || header.extentId !== extentId || header.index !== index || header.payloadLength !== dest.length) return false;
    let got = 0;
    while (got < dest.length) {
      const n = fs.readSync(fd, dest, got, dest.length - got, HEADER_SIZE + got);
      if (n === 0) return false;
      got += n;
    }
    return true;
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}
const payloadHeader = Buffer.alloc(HEADER_SIZE);

/**
 * The light check: everything checkShardFile proves but the payload's
 * checksum. One read of the 128-byte header; finds missing, truncated,
 * oversized, misplaced, non-regular and header-damaged shards, never rot
 * inside the payload.
 */
export function checkShardHeader(file: string, extentId: string, index: number, into?: ReadBuffer, listedRegular = false): ShardHeaderCheck {
  return inspectShard(file, extentId, index, true, into, undefined, listedRegular);
}

/** What one read of a shard file got: the bytes read (into the caller's buffer) and the file's size. */
type ShardBytes = { ok: true; data: Buffer; size: number } | ShardFailure;

/**
 * `listedRegular`: the directory listing just said this name is a regular
 * file (d_type), which is what the lstat would say: a swap since then is the
 * same race the lstat leaves, and fstat catches it before any read. Saves a
 * syscall per shard where a light pass does little else.
 */
function readShard(file: string, headerOnly: boolean, into?: ReadBuffer, pacing?: ReadPacing, listedRegular = false): ShardBytes {
  if (!listedRegular) {
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(file, { throwIfNoEntry: false });
    } catch (err) {
      return { ok: false, problem: 'unreadable', detail: errnoCode(err) ?? String(err) };
    }
    if (!st) return { ok: false, problem: 'missing', detail: 'no such file' };
    if (!st.isFile()) return { ok: false, problem: 'not-regular', detail: describeType(st) };
  }
  let f: HeaderFile;
  try {
    f = headerOnly ? headerReads.open(file) : { fd: fs.openSync(file, OPEN_FLAGS), direct: false };
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return { ok: false, problem: 'missing', detail: 'no such file' };
    // O_NOFOLLOW on a symlink that replaced a listed file.
    if (code === 'ELOOP') return { ok: false, problem: 'not-regular', detail: 'symbolic link' };
    return { ok: false, problem: 'unreadable', detail: `${code ?? String(err)} on open` };
  }
  const fd = f.fd;
  let got = 0;
  try {
    const fst = fs.fstatSync(fd);
    if (!fst.isFile()) return { ok: false, problem: 'not-regular', detail: describeType(fst) };
    // No shard is larger than this; a bigger file is judged by its header alone.
    const size = Math.min(fst.size, headerOnly ? HEADER_SIZE : MAX_SHARD_FILE);
    const buf = into ? into.take(size) : Buffer.allocUnsafe(size);
    got = headerOnly ? headerReads.read(f, buf, file, fst.dev) : readPaced(fd, buf, size, pacing, { progress: (n) => (got = n) });
    return { ok: true, data: buf.subarray(0, got), size: fst.size };
  } catch (err) {
    if (err instanceof ReadStopped) throw err;
    // A bad sector: say where, as a drive's error log would.
    return { ok: false, problem: 'unreadable', detail: `${errnoCode(err) ?? String(err)} reading at offset ${got}`, fileSize: got };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads up to `size` bytes from the start of the file into buf, in the
 * pacing's chunks; the count read (less at end of file). `progress` hears the
 * count after each read, so a failure can say at which offset it came.
 * `shortIsEnd`: a read that returns fewer bytes than asked for ends it, which
 * for a regular file is its end, and saves the read that would return 0.
 */
function readPaced(fd: number, buf: Buffer, size: number, pacing?: ReadPacing, how: { progress?: (got: number) => void; shortIsEnd?: boolean } = {}): number {
  let got = 0;
  while (got < size) {
    const want = pacing?.chunk ? Math.min(pacing.chunk, size - got) : size - got;
    const t0 = pacing ? performance.now() : 0;
    const n = fs.readSync(fd, buf, got, want, got);
    if (n === 0) break;
    got += n;
    how.progress?.(got);
    pacing?.after(n, performance.now() - t0);
    if (how.shortIsEnd && n < want) break;
  }
  return got;
}

function inspectShard(
  file: string,
  extentId: string,
  index: number,
  headerOnly: boolean,
  into?: ReadBuffer,
  pacing?: ReadPacing,
  listedRegular = false,
): ShardCheck | ShardHeaderCheck {
  const r = readShard(file, headerOnly, into, pacing, listedRegular);
  if (!r.ok) return r;
  return judgeShard(r.data, r.size, extentId, index, headerOnly);
}

/** checkShardFile over a whole file's bytes already in memory (a written shard, as written). */
export function checkShardBytes(data: Buffer, extentId: string, index: number): ShardCheck {
  return judgeShard(data, data.length, extentId, index, false) as ShardCheck;
}

/** The verdict on a shard file of `size` bytes whose first `data.length` bytes were read. */
function judgeShard(data: Buffer, size: number, extentId: string, index: number, headerOnly: boolean): ShardCheck | ShardHeaderCheck {
  const got = data.length;
  const header = decodeShardHeader(data);
  if (typeof header === 'string') {
    if (header === 'short') {
      return { ok: false, problem: 'truncated', detail: `${got} bytes, shorter than the ${HEADER_SIZE}-byte header`, fileSize: got };
    }
    return { ok: false, problem: 'header-damaged', detail: header === 'magic' ? 'bad magic' : header, fileSize: got };
  }
  if (header.extentId !== extentId) {
    return { ok: false, problem: 'wrong-extent', detail: `header names extent ${header.extentId}`, header, fileSize: got };
  }
  if (header.index !== index) {
    return { ok: false, problem: 'wrong-index', detail: `header names shard ${header.index}`, header, fileSize: got };
  }
  const want = HEADER_SIZE + header.payloadLength;
  if (size < want) return { ok: false, problem: 'truncated', detail: `${size} of ${want} bytes`, header, fileSize: got };
  if (size > want) return { ok: false, problem: 'oversized', detail: `${size} bytes, header says ${want}`, header, fileSize: got };
  if (headerOnly) return { ok: true, header, fileSize: got };
  if (got < want) return { ok: false, problem: 'truncated', detail: `read ${got} of ${want} bytes`, header, fileSize: got };
  const payload = data.subarray(HEADER_SIZE, want);
  if (checksum64(payload) !== header.payloadChecksum) {
    return { ok: false, problem: 'checksum-mismatch', detail: 'payload checksum mismatch', header, fileSize: got };
  }
  return { ok: true, header, payload, fileSize: got };
}

/**
 * Whether a shard file is exactly the one `expected` describes (see
 * ShardTemplate), proven as checkShardHeader (headerOnly) or checkShardFile
 * would: the bytes read, or -1 when the file needs a closer look. Compares
 * bytes instead of decoding the header, so a pass spends nothing on objects
 * for the shards that are fine (nearly all of them).
 */
export function shardMatches(file: string, expected: ShardTemplate, headerOnly: boolean, into?: ReadBuffer, pacing?: ReadPacing, listedRegular = false): number {
  if (!headerOnly) {
    if (!listedRegular) return -1;
    const data = readExpected(file, expected.fileSize, into, pacing);
    return data ? readShardMatches(data, expected) : -1;
  }
  if (listedRegular && headerReads.warm) {
    const header = readSizedHeader(file, expected.fileSize, into);
    return header && expected.matches(header) ? header.length : -1;
  }
  const r = readShard(file, headerOnly, into, pacing, listedRegular);
  if (!r.ok) return -1;
  const { data, size } = r;
  if (size !== expected.fileSize || data.length < HEADER_SIZE || !expected.matches(data)) return -1;
  return data.length;
}

/**
 * shardMatches' deep proof over a file's first bytes already read, more
 * than its size asked for (so a longer file shows it): the bytes, or -1.
 */
export function readShardMatches(data: Buffer, expected: ShardTemplate): number {
  if (data.length !== expected.fileSize || !expected.matches(data)) return -1;
  return checksum64(data.subarray(HEADER_SIZE)) === data.readBigUInt64LE(PAYLOAD_CHECKSUM_AT) ? data.length : -1;
}

const probe = Buffer.alloc(2);

/**
 * The header of a file the listing called regular, if the file is exactly
 * `size` bytes long: proven by a two-byte read at size - 1 that gets one
 * byte, where an fstat and its fs.Stats cost twice as much. Only while the
 * files come from memory (the probe's page is then cached too): a cold pass
 * fstats, so the device reads nothing but headers. Undefined for anything
 * else, which the full check (lstat, fstat) then looks at.
 */
function readSizedHeader(file: string, size: number, into?: ReadBuffer): Buffer | undefined {
  let f: HeaderFile;
  try {
    f = { fd: fs.openSync(file, OPEN_FLAGS), direct: false };
  } catch {
    return undefined;
  }
  try {
    const buf = into ? into.take(HEADER_SIZE) : Buffer.allocUnsafe(HEADER_SIZE);
    // Timed by headerReads like every header read: a slow one means the pool went cold.
    if (headerReads.read(f, buf, file, 0) !== HEADER_SIZE) return undefined;
    return fs.readSync(f.fd, probe, 0, 2, size - 1) === 1 ? buf : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(f.fd);
  }
}

/**
 * A file the listing called regular, read whole with one byte more than
 * `size`: a read that stops at `size` proves the size, so no fstat is made
 * (it cost a tenth of a pass over small shards, most of it in the Stats
 * object). Anything but a regular file of that size fails the count (a
 * FIFO opened without blocking reads nothing, a device gives more), and the
 * full check, which lstats and fstats, looks at it. Undefined on any error.
 */
function readExpected(file: string, size: number, into?: ReadBuffer, pacing?: ReadPacing): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch {
    return undefined;
  }
  try {
    const buf = into ? into.take(size + 1) : Buffer.allocUnsafe(size + 1);
    // A read that stops short of a file's end (some network file systems') fails the count: the full check reads again.
    return buf.subarray(0, readPaced(fd, buf, size + 1, pacing, { shortIsEnd: true }));
  } catch (err) {
    if (err instanceof ReadStopped) throw err;
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function describeType(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'symbolic link (not followed)';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO (not opened)';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device node (not opened)';
  return 'not a regular file';
}

export function shardHeaderFor(extentId: string, index: number, scheme: Scheme, extentLength: number, payload: Buffer): Buffer {
  return encodeShardHeader({
    extentId,
    index,
    scheme,
    extentLength,
    payloadLength: payload.length,
    payloadChecksum: checksum64(payload),
  });
}

/** Makes sure a shard's fan-out directory is a real directory (never a link out of the disk). */
function prepareShardDir(file: string): void {
  const dir = path.dirname(file);
  const top = path.dirname(dir);
  if (!isRealDirectory(top)) throw operationalError(`cannot write ${file}: ${top} is not a real directory`);
  let made = false;
  try {
    fs.mkdirSync(dir);
    made = true;
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw fsFailure('cannot create', dir, err);
  }
  // Never write through a symlink that stands where a fan-out directory belongs.
  if (!isRealDirectory(dir)) throw operationalError(`cannot write ${file}: ${dir} is not a real directory`);
  if (made) fsyncDir(top);
}

/** Writes a shard atomically (replacing whatever is at the name, link or file). */
export function writeShardFile(file: string, header: Buffer, payload: Buffer): void {
  prepareShardDir(file);
  writeFileAtomic(file, [header, payload]);
}

export interface ShardWrite {
  file: string;
  header: Buffer;
  payload: Buffer;
  /**
   * Header and payload as one page-aligned buffer (they are views of it),
   * whole pages long: written from as it is with O_DIRECT, never changed,
   * where other writes are copied into aligned memory of this module's.
   */
  aligned?: Buffer;
  /**
   * Run once the temp file is written and passed its check, right before its
   * rename: what must be so before the shard is in place (a record on disk,
   * the damaged file kept). A throw stops the write: nothing renamed, the
   * temp file removed, the error the write's.
   */
  beforeRename?: () => void | Promise<void>;
}

/**
 * Writes several shards atomically, all in flight together (they are
 * usually on different disks): each temp file is fsynced, renamed into
 * place, and then each directory that took a rename is fsynced once for the
 * whole batch, not once per file. Nothing counts as written before its
 * directory's fsync returned. Returns, per write, undefined or the error that
 * stopped it. `check(i, written)`, given the fsynced temp file's bytes (a big
 * shard's as the buffer its O_DIRECT write went out from, a small one's read
 * back through the page cache), may refuse it (a problem said, the temp file
 * removed, nothing renamed). `onPlaced(i)` is called right after write i is
 * renamed into place, with no other work between the two: a record made there
 * can be cut off from the rename by a kill -9 only in the microseconds between
 * two syscalls.
 */
export async function writeShardFiles(writes: ShardWrite[], onPlaced?: (i: number) => void, check?: (i: number, written: Buffer) => string | undefined): Promise<(Error | undefined)[]> {
  const errors = await Promise.all(writes.map((w, i) => writeAndRename(w, () => onPlaced?.(i), check && ((written) => check(i, written)))));
  const renamedIn = new Map<string, number[]>();
  errors.forEach((err, i) => {
    if (err) return;
    const dir = path.dirname(writes[i].file);
    const list = renamedIn.get(dir);
    if (list) list.push(i);
    else renamedIn.set(dir, [i]);
  });
  await Promise.all(
    [...renamedIn].map(async ([dir, which]) => {
      try {
        await fsyncDirAsync(dir);
      } catch (err) {
        for (const i of which) errors[i] = err instanceof Error ? err : new Error(String(err));
      }
    }),
  );
  return errors;
}

/**
 * Temp file, write, fsync, check, rename: the directory's fsync is the
 * batch's (see writeShardFiles). A big shard goes around the page cache
 * (directWrite); a small one is written through it on this thread, quick from
 * the page cache (profile: each trip through the pool cost the main thread
 * more than the call itself). The rename stays on this thread, so the
 * caller's record of it follows in the same tick.
 */
async function writeAndRename(w: ShardWrite, onPlaced: () => void, check?: (written: Buffer) => string | undefined): Promise<Error | undefined> {
  const tmp = tempPathFor(w.file);
  let fd: number | undefined;
  try {
    prepareShardDir(w.file);
    const big = w.payload.length >= DIRECT_WRITE_BYTES;
    // A create blocks in the filesystem while other fsyncs are in flight (profile of a repair pass: 340 ms of
    // its main thread's time): a big shard's goes to the thread pool.
    fd = big ? await fsCall<number>((cb) => fs.open(tmp, TEMP_FLAGS, 0o644, cb)) : fs.openSync(tmp, TEMP_FLAGS, 0o644);
    // The mode is the file's, whatever the umask of the service that writes it.
    fs.fchmodSync(fd, 0o644);
    const direct = big ? await directWrite(fd, tmp, w, check) : 'unsupported';
    if (direct === 'unsupported') {
      writeAll(fd, [w.header, w.payload]);
      const synced = fd;
      await new Promise<void>((resolve, reject) => fs.fsync(synced, (err) => (err ? reject(err) : resolve())));
      const problem = check?.(readBackSync(fd, w.header.length + w.payload.length));
      if (problem) throw new Error(problem);
    } else if (direct) throw new Error(direct);
    await w.beforeRename?.();
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, w.file);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    return err instanceof Error ? err : new Error(String(err));
  }
  // In place: the caller's record of it follows at once, before anything else is awaited.
  onPlaced();
  return undefined;
}

const TEMP_FLAGS = fs.constants.O_RDWR | TEMP_CREATE;

/** Shards this big have their blocks written with O_DIRECT, on the thread pool. */
const DIRECT_WRITE_BYTES = 64 * 1024;
/** Aligned memory the direct writes in flight hold at most (one always may). */
const directBuffers = new BufferPool(32 * 2 ** 20, mapAligned);
/** Disks (extents directories) whose filesystem or device refused O_DIRECT: written through the page cache from then on. */
const noDirect = new Set<string>();

/**
 * Writes a big shard's temp file with O_DIRECT: its whole blocks from one
 * aligned buffer, through a second descriptor of the same file (reopened by
 * /proc/self/fd, so no name is looked up twice), its last part block through
 * the page cache; fsynced, then the buffer it was written from goes to check.
 * Through the page cache, a repair pass over 1 MiB shards spent most of its
 * CPU (perf: 29% of all samples) copying payloads into freshly allocated cache
 * pages. Resolves once the temp file is written and passed its check, to a
 * problem, or to 'unsupported' where the filesystem, /proc or the memory is
 * not up to it. The caller closes `fd` and, on a problem, removes the file.
 */
async function directWrite(fd: number, tmp: string, w: ShardWrite, check?: (written: Buffer) => string | undefined): Promise<string | undefined | 'unsupported'> {
  const disk = path.dirname(path.dirname(tmp));
  if (noDirect.has(disk)) return 'unsupported';
  const size = w.header.length + w.payload.length;
  const whole = Math.floor(size / DIRECT_ALIGN) * DIRECT_ALIGN;
  // Given in place (a slot), or lent by directBuffers until this write ends.
  const own = w.aligned ? undefined : await directBuffers.take(alignUp(size));
  const buf = w.aligned ?? own;
  if (!buf) return 'unsupported';
  let direct: number | undefined;
  try {
    try {
      // On this thread: no create, nothing for the filesystem to wait on (through the pool it cost more).
      direct = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDWR | fs.constants.O_DIRECT);
    } catch (err) {
      // EINVAL: a filesystem without O_DIRECT; ENOENT: no /proc; EACCES, EPERM: a sandbox that hides it.
      if (!NO_DIRECT_ERRORS.has(errnoCode(err) ?? '')) throw err;
      noDirect.add(disk);
      return 'unsupported';
    }
    if (!w.aligned) {
      w.header.copy(buf, 0);
      w.payload.copy(buf, w.header.length);
    }
    try {
      for (let off = 0; off < whole; ) off += await fsCall<number>((cb) => fs.write(direct!, buf, off, whole - off, off, cb));
    } catch (err) {
      // A device whose blocks are bigger than a page: the page cache writes it all again from the start.
      if (errnoCode(err) !== 'EINVAL') throw err;
      noDirect.add(disk);
      return 'unsupported';
    }
    // At its offset: fd's own position is still 0.
    for (let off = whole; off < size; ) off += fs.writeSync(fd, buf, off, size - off, off);
    await fsCall<void>((cb) => fs.fsync(fd, cb));
    // The bytes the write went out from, as they are once it is done (a slot another thread lent and took
    // back too early would show here). Not read back from the disk: that doubled what a repair asks of the
    // device (a warm repair pass 4.3-4.9 s with it, 3.3-4.1 s without), and a drive answers a read of what it
    // was just given from its own cache, so it proved the path, not the medium; the next pass reads the medium.
    return check?.(buf.subarray(0, size));
  } finally {
    if (direct !== undefined) fs.closeSync(direct);
    if (own) directBuffers.give(own);
  }
}

/** How the reopen with O_DIRECT fails where it cannot be had: the page cache will do. */
const NO_DIRECT_ERRORS = new Set(['EINVAL', 'ENOENT', 'EACCES', 'EPERM', 'EOPNOTSUPP', 'ENOTSUP']);

/** One buffer for the read-backs of shards written through the page cache (each read and checked at once). */
const readBack = new ReadBuffer();

/** The file behind `fd`, up to `size` bytes, read from its start. */
function readBackSync(fd: number, size: number): Buffer {
  const buf = readBack.take(size);
  return buf.subarray(0, readPaced(fd, buf, size));
}

/** Writes the chunks whole, one after the other (a write may be short). */
function writeAll(fd: number, chunks: Buffer[]): void {
  let n = fs.writevSync(fd, chunks);
  for (const c of chunks) {
    if (n >= c.length) {
      n -= c.length;
      continue;
    }
    for (let off = n; off < c.length; ) off += fs.writeSync(fd, c, off, c.length - off);
    n = 0;
  }
}

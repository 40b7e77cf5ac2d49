import fs from 'node:fs';
import path from 'node:path';
import { blake3Pieces } from './hash';
import { errnoCode, fsFailure, operationalError } from './errors';
import { manifestPath, MANIFEST_NAME_RE, objectsDir } from './layout';
import { Disk, onlineDisks, Pool, writableDisks } from './pool';
import { AtomicWriter } from './atomic-file';
import { isRealDirectory, NotRegularFile, openRegularFile, readFailure, readFully } from './safe-fs';
import { parseScheme } from './scheme';
import { ExtentList, ExtentStorage } from './extent-list';
import { ManifestBodyParser, MAX_EXTENT_LENGTH } from './manifest-parser';

export { ExtentList, ManifestExtent } from './extent-list';

// Object manifests are metadata: one checksummed copy on every online disk
// (DESIGN §1), so losing any disks short of all of them loses no object names.
// A copy is {"manifest":M,"checksum":"blake3:H"}, H the BLAKE3 of the exact
// text M; copies are read and written in chunks, never held whole as text.

export const MANIFEST_FORMAT = 1;
const MAX_NAME_BYTES = 4096;
/**
 * A manifest copy larger than this is judged damaged unread: about 2.5M
 * extents, a 10 TiB object of 4 MiB extents.
 */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

export interface ManifestFields {
  format: number;
  name: string;
  size: number;
  scheme: string;
  extentSize: number;
  created: string;
}

export interface Manifest extends ManifestFields {
  extents: ExtentList;
}

/** A manifest read without its extent list (listings): how many it names is kept. */
export interface ManifestSummary extends ManifestFields {
  extentCount: number;
}

const HEAD_BYTES = Buffer.from('{"manifest":');
const SUM_KEY_BYTES = Buffer.from(',"checksum":"');
/** Room for the checksum member and trailing white space at the end of a copy. */
const TAIL_BYTES = 4096;

/** Writes a manifest copy's bytes through `write`, in chunks of about 1 MiB; returns the checksum it carries. */
export function encodeManifestTo(m: Manifest, write: (chunk: Buffer) => void): string {
  const sum = blake3Pieces();
  const body = (text: string) => {
    const b = Buffer.from(text);
    sum.update(b);
    write(b);
  };
  write(HEAD_BYTES);
  const head = `{"format":${m.format},"name":${JSON.stringify(m.name)},"size":${m.size},"scheme":${JSON.stringify(m.scheme)},"extentSize":${m.extentSize},"created":${JSON.stringify(m.created)},"extents":[`;
  let text = head;
  for (let i = 0; i < m.extents.count; i++) {
    text += `${i ? ',' : ''}{"id":"${m.extents.id(i)}","length":${m.extents.length(i)}}`;
    if (text.length >= CHUNK_BYTES) {
      body(text);
      text = '';
    }
  }
  body(`${text}]}`);
  const checksum = `blake3:${sum.hex()}`;
  write(Buffer.from(`,"checksum":"${checksum}"}\n`));
  return checksum;
}

export function encodeManifest(m: Manifest): Buffer {
  const chunks: Buffer[] = [];
  encodeManifestTo(m, (c) => chunks.push(c));
  return Buffer.concat(chunks);
}

/** The header members, checked; every number is checked before anything sizes a buffer by it. */
function manifestFields(p: ManifestBodyParser): ManifestFields | string {
  const f = p.fields;
  const [format, name, size, scheme, extentSize, created] = ['format', 'name', 'size', 'scheme', 'extentSize', 'created'].map((k) => f.get(k));
  if (format !== MANIFEST_FORMAT || typeof name !== 'string' || !p.sawExtents) return 'unsupported format';
  if (typeof created !== 'string' || created.length > 64) return 'bad creation time';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `object name longer than ${MAX_NAME_BYTES} bytes`;
  try {
    parseScheme(String(scheme));
  } catch {
    return `bad scheme ${String(scheme).slice(0, 64)}`;
  }
  if (typeof extentSize !== 'number' || !Number.isInteger(extentSize) || extentSize <= 0 || extentSize > MAX_EXTENT_LENGTH) return `bad extent size ${JSON.stringify(extentSize)}`;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size !== p.total) return `size ${JSON.stringify(size)} is not the sum of its extents (${p.total})`;
  return { format, name, size, scheme: scheme as string, extentSize, created };
}

/** Where a copy's body ends and the checksum it claims, from its first and last bytes. */
function copyFrame(first: Buffer, last: Buffer, size: number): { bodyEnd: number; sum: string } | string {
  let end = last.length;
  while (end > 0 && (last[end - 1] === 0x0a || last[end - 1] === 0x0d || last[end - 1] === 0x20 || last[end - 1] === 0x09)) end--;
  const at = last.lastIndexOf(SUM_KEY_BYTES, end - 1);
  const lastAt = size - last.length;
  // Quotes inside M are escaped, so the checksum key occurs only as the key.
  if (!first.subarray(0, HEAD_BYTES.length).equals(HEAD_BYTES) || at < 0 || lastAt + at < HEAD_BYTES.length + 2 || end < at + SUM_KEY_BYTES.length + 2 || last[end - 2] !== 0x22 || last[end - 1] !== 0x7d) {
    return 'not a manifest';
  }
  return { bodyEnd: lastAt + at, sum: last.toString('latin1', at + SUM_KEY_BYTES.length, end - 2) };
}

type Proven = { sum: string; parser?: ManifestBodyParser };
/** The parser for a copy's body, given the checksum it claims; none when that checksum was parsed already. */
type ParserFor = (sum: string, bodyBytes: number) => ManifestBodyParser | undefined;

/**
 * The one buffer copies are read through (a proof is synchronous, and the
 * parser copies what it keeps): a walk over a pool's manifests proves every
 * copy on every disk, and a fresh megabyte for each was garbage that the
 * daemon's resident memory grew by.
 */
let chunkBuffer: Buffer | undefined;
const readChunk = () => (chunkBuffer ??= Buffer.allocUnsafe(CHUNK_BYTES));

/**
 * Proves one open copy against its checksum, streaming it in chunks; when
 * `parserFor` gives a parser (not for a copy whose checksum was seen on
 * another disk), the body is parsed on the way.
 */
function proveOpenCopy(fd: number, size: number, parserFor: ParserFor): Proven | string {
  // Nearly every copy fits one chunk: one read, not three (a pass over many
  // small objects is mostly system calls on manifests).
  if (size <= CHUNK_BYTES) return proveWholeCopy(readChunk().subarray(0, size), fd, parserFor);
  const first = Buffer.alloc(Math.min(size, HEAD_BYTES.length));
  readFully(fd, first, 0);
  const last = Buffer.alloc(Math.min(size, TAIL_BYTES));
  readFully(fd, last, size - last.length);
  const frame = copyFrame(first, last, size);
  if (typeof frame === 'string') return frame;
  const parser = parserFor(frame.sum, frame.bodyEnd - HEAD_BYTES.length);
  const hash = blake3Pieces();
  const chunk = readChunk().subarray(0, Math.min(CHUNK_BYTES, frame.bodyEnd - HEAD_BYTES.length));
  for (let at = HEAD_BYTES.length; at < frame.bodyEnd; ) {
    const want = chunk.subarray(0, Math.min(chunk.length, frame.bodyEnd - at));
    const got = readFully(fd, want, at);
    if (got < want.length) return 'truncated while read';
    hash.update(want);
    parser?.feed(want);
    at += got;
  }
  if (frame.sum !== `blake3:${hash.hex()}`) return 'checksum mismatch';
  return { sum: frame.sum, parser };
}

function proveWholeCopy(whole: Buffer, fd: number, parserFor: ParserFor): Proven | string {
  if (readFully(fd, whole, 0) < whole.length) return 'truncated while read';
  return proveBytes(whole, parserFor);
}

/** proveOpenCopy over a copy's bytes in memory: parsed only once proven. */
function proveBytes(data: Buffer, parserFor: ParserFor): Proven | string {
  const frame = copyFrame(data, data.subarray(Math.max(0, data.length - TAIL_BYTES)), data.length);
  if (typeof frame === 'string') return frame;
  const body = data.subarray(HEAD_BYTES.length, frame.bodyEnd);
  const hash = blake3Pieces();
  hash.update(body);
  if (frame.sum !== `blake3:${hash.hex()}`) return 'checksum mismatch';
  const parser = parserFor(frame.sum, body.length);
  parser?.feed(body);
  return { sum: frame.sum, parser };
}

export interface ManifestCopy<M extends ManifestFields = Manifest> {
  disk: Disk;
  path: string;
  /** The parsed copy (eachObject keeps it on the best copy only, to save memory). */
  manifest?: M;
  /** When a valid copy was written: an older one than the best is stale. */
  created?: string;
  /** Why this copy is unusable (missing, unreadable, damaged). */
  problem?: string;
}

/** A parsed and checked manifest, or why not. */
function manifestOf(parser: ManifestBodyParser, keepExtents: boolean): Manifest | ManifestSummary | string {
  const problem = parser.end();
  if (problem !== undefined) return problem;
  const fields = manifestFields(parser);
  if (typeof fields === 'string') return fields;
  return keepExtents ? { ...fields, extents: parser.extents! } : { ...fields, extentCount: parser.count };
}

/**
 * Every copy of one manifest file name, each proven; identical copies share
 * one parse (and one object in memory), so a pool's manifests are parsed once,
 * not once per disk.
 */
function readCopies<M extends ManifestFields>(
  disks: Disk[],
  fileOf: (d: Disk, i: number) => string,
  keepExtents: boolean,
  storages?: ExtentStorage[],
  dirsChecked?: boolean[],
): ManifestCopy<M>[] {
  const parsed = new Map<string, M | string>();
  // Copies that differ are parsed each into their own storage.
  const storageFor = (k: number) => storages && (storages[k] ??= new ExtentStorage());
  return disks.map((disk, i) => {
    const file = fileOf(disk, i);
    const copy: ManifestCopy<M> = { disk, path: file };
    const proven = proveCopy(file, (sum, bodyBytes) => (parsed.has(sum) ? undefined : new ManifestBodyParser(keepExtents, bodyBytes, storageFor(parsed.size))), dirsChecked?.[i]);
    if (typeof proven === 'string') {
      copy.problem = proven;
      return copy;
    }
    if (proven.parser) parsed.set(proven.sum, manifestOf(proven.parser, keepExtents) as M | string);
    const m = parsed.get(proven.sum)!;
    if (typeof m === 'string') copy.problem = m;
    else {
      copy.manifest = m;
      copy.created = m.created;
    }
    return copy;
  });
}

/**
 * Opens one copy like a shard (no symlink, no FIFO, size capped) and proves it;
 * `dirChecked` when the caller has just found its directory real.
 */
function proveCopy(file: string, parserFor: ParserFor, dirChecked = false): Proven | string {
  if (!dirChecked && !isRealDirectory(path.dirname(file))) {
    try {
      fs.lstatSync(file);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'missing';
    }
    return `${path.dirname(file)} is not a real directory`;
  }
  let opened: { fd: number; size: number };
  try {
    opened = openRegularFile(file, MAX_MANIFEST_BYTES);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 'missing';
    if (errnoCode(err) === 'EFBIG') return `larger than ${MAX_MANIFEST_BYTES} bytes`;
    return err instanceof NotRegularFile ? 'not a regular file' : `unreadable (${readFailure(err)})`;
  }
  try {
    return proveOpenCopy(opened.fd, opened.size, parserFor);
  } catch (err) {
    return `unreadable (${readFailure(err)})`;
  } finally {
    fs.closeSync(opened.fd);
  }
}

/** One manifest file, proven and parsed (a copy just written, read back). */
export function readManifestFile(file: string): Manifest | string {
  return provenManifest((parserFor) => proveCopy(file, parserFor));
}

/** A manifest whole, from a proof (of a file or of bytes) that parses as it goes. */
function provenManifest(prove: (parserFor: ParserFor) => Proven | string): Manifest | string {
  let parser: ManifestBodyParser | undefined;
  const proven = prove((_, bodyBytes) => (parser = new ManifestBodyParser(true, bodyBytes)));
  if (typeof proven === 'string') return proven;
  return manifestOf(parser!, true) as Manifest | string;
}

/** A manifest copy's bytes, proven and parsed. */
export function decodeManifest(data: Buffer): Manifest | string {
  return provenManifest((parserFor) => proveBytes(data, parserFor));
}

/**
 * Why a copy just written is not the one meant, or undefined when its bytes
 * prove against the checksum it was written with (read back in chunks, not parsed).
 */
export function checkWrittenCopy(file: string, checksum: string): string | undefined {
  const proven = proveCopy(file, () => undefined);
  if (typeof proven === 'string') return proven;
  return proven.sum === checksum ? undefined : `carries ${proven.sum}, not ${checksum}`;
}

/** Every online disk's copy of one object's manifest. */
export function readManifestCopies(pool: Pool, name: string): ManifestCopy[] {
  return readCopies<Manifest>(onlineDisks(pool), (d) => manifestPath(d.path, name), true);
}

/** The newest valid copy: after an interrupted replace, copies may differ. */
export function bestCopy<M extends ManifestFields>(copies: ManifestCopy<M>[]): M | undefined {
  let best: M | undefined;
  for (const c of copies) {
    if (c.manifest && (!best || c.manifest.created > best.created)) best = c.manifest;
  }
  return best;
}

export interface ObjectEntry<M extends ManifestFields = Manifest> {
  name: string;
  fileName: string;
  manifest?: M;
  copies: ManifestCopy<M>[];
}

/** Manifest file names held in memory at once while listing (~170 bytes each). */
export const NAMES_PER_ROUND = 65536;

/**
 * Calls `fn` with each manifest file name in one disk's objects/, streamed (no
 * array of the whole directory); `fn` returns false to stop early. `wanted`,
 * when given, is asked first: cheaper than the name's full check.
 */
export function eachManifestName(dir: string, fn: (name: string) => boolean, wanted?: (name: string) => boolean): void {
  let handle: fs.Dir;
  try {
    if (!isRealDirectory(dir)) return;
    // More entries per getdents than the default 32: a sixth less time per listing.
    handle = fs.opendirSync(dir, { bufferSize: 256 });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw fsFailure('cannot list manifests in', dir, err);
  }
  try {
    for (let e; (e = handle.readSync()) !== null; ) if ((!wanted || wanted(e.name)) && MANIFEST_NAME_RE.test(e.name) && !fn(e.name)) return;
  } catch (err) {
    throw fsFailure('cannot list manifests in', dir, err);
  } finally {
    handle.closeSync();
  }
}

const hexDigit = (c: number) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : 16);
/** The first byte a manifest file name's hex spells (anything for other names: the name check judges those). */
const firstByte = (name: string) => hexDigit(name.charCodeAt(0)) * 16 + hexDigit(name.charCodeAt(1));

/**
 * The manifest file names on any disk whose first byte is in [lo, hi), sorted;
 * undefined past `limit` of them. With `counts`, the listing goes on past the
 * limit to count each disk's names by first byte into it (256 per disk).
 */
function manifestNames(disks: Disk[], lo: number, hi: number, limit: number, counts?: Uint32Array[]): string[] | undefined {
  let names: Set<string> | undefined = new Set<string>();
  const inRange = (name: string) => {
    const b = firstByte(name);
    return b >= lo && b < hi;
  };
  for (const d of disks) {
    const count = counts && new Uint32Array(256);
    if (count) counts!.push(count);
    eachManifestName(
      objectsDir(d.path),
      (name) => {
        if (count) count[firstByte(name)]++;
        if (names) {
          names.add(name);
          if (names.size > limit) names = undefined;
        }
        return names !== undefined || count !== undefined;
      },
      inRange,
    );
    if (!names && !counts) return undefined;
  }
  return names && [...names].sort();
}

/**
 * Ranges of first bytes [lo, hi) holding up to `perRound` names each, by the
 * disk with the most names of each byte (the copies of one object share a
 * name, so most names are on every disk).
 */
function roundsOf(counts: Uint32Array[], perRound: number): [number, number][] {
  const rounds: [number, number][] = [];
  let lo = 0;
  let held = 0;
  for (let b = 0; b < 256; b++) {
    const n = Math.max(...counts.map((c) => c[b]));
    if (b > lo && held + n > perRound) {
      rounds.push([lo, b]);
      lo = b;
      held = 0;
    }
    held += n;
  }
  rounds.push([lo, 256]);
  return rounds;
}

/**
 * Every object known to any online disk, with all its copies, one at a time in
 * file-name order: a pass over a big pool never holds every manifest, nor
 * every manifest's name, at once. Past `perRound` names, the first listing
 * counts the names by their first byte, and they are listed again in rounds of
 * consecutive first bytes of up to `perRound` names each (a byte a round at
 * most, whatever it holds). Damaged copies are grouped by file name, so an
 * object whose every copy is damaged still shows.
 */
export function eachObject(pool: Pool, fn: (o: ObjectEntry) => void, perRound = NAMES_PER_ROUND): void {
  walkObjects<Manifest>(pool, true, fn, perRound);
}

/** eachObject without the extent lists: what listings need, in little memory however long the objects. */
export function eachObjectSummary(pool: Pool, fn: (o: ObjectEntry<ManifestSummary>) => void): void {
  walkObjects<ManifestSummary>(pool, false, fn, NAMES_PER_ROUND);
}

/**
 * eachObject for a walk that keeps no extent list past the call of `fn` for
 * its object: every object's lists are parsed into the same few storages
 * (ExtentStorage), not into fresh memory each. Building the extent index of
 * ten 100k-extent objects left 36 MB of lists as garbage at once otherwise.
 */
export function eachObjectBorrowing(pool: Pool, fn: (o: ObjectEntry) => void): void {
  walkObjects<Manifest>(pool, true, fn, NAMES_PER_ROUND, []);
}

function walkObjects<M extends ManifestFields>(pool: Pool, keepExtents: boolean, fn: (o: ObjectEntry<M>) => void, perRound: number, storages?: ExtentStorage[]): void {
  const disks = onlineDisks(pool);
  const counts: Uint32Array[] = [];
  const all = manifestNames(disks, 0, 256, perRound, counts);
  if (all) return walkNames(disks, all, keepExtents, fn, storages);
  // Listed once per round, not once per hex digit: 17 listings of every
  // directory were half a pass over 100,000 small objects. Names put since the
  // count may overfill a round: past twice its share it goes a byte at a time.
  for (const [lo, hi] of roundsOf(counts, perRound)) {
    const names = manifestNames(disks, lo, hi, hi - lo > 1 ? 2 * perRound : Infinity);
    if (names) walkNames(disks, names, keepExtents, fn, storages);
    else for (let b = lo; b < hi; b++) walkNames(disks, manifestNames(disks, b, b + 1, Infinity)!, keepExtents, fn, storages);
  }
}

function walkNames<M extends ManifestFields>(disks: Disk[], names: string[], keepExtents: boolean, fn: (o: ObjectEntry<M>) => void, storages?: ExtentStorage[]): void {
  // Checked once per round of names, not once per copy: an lstat per copy was a
  // fifth of a pass over small objects. A directory found a symlink keeps the
  // per-copy check (and its verdict); a swap during the round is as possible
  // as one between a check and an open.
  const dirs = disks.map((d) => objectsDir(d.path));
  const dirsChecked = dirs.map(isRealDirectory);
  for (const fileName of names) {
    const copies = readCopies<M>(disks, (d, i) => path.join(dirs[i], fileName), keepExtents, storages, dirsChecked);
    const manifest = bestCopy(copies);
    // One parsed manifest per object is enough; the other copies keep their verdict and date.
    for (const c of copies) if (c.manifest !== manifest) delete c.manifest;
    fn({ name: manifest?.name ?? `?${fileName}`, fileName, manifest, copies });
  }
}

export function loadManifest(pool: Pool, name: string): Manifest {
  const copies = readManifestCopies(pool, name);
  const m = bestCopy(copies);
  if (m) return m;
  if (copies.every((c) => c.problem === 'missing')) throw operationalError(`no such object: ${name}`);
  const detail = copies.filter((c) => c.problem !== 'missing').map((c) => `${c.path}: ${c.problem}`).join('; ');
  throw operationalError(`every copy of the manifest of ${name} is damaged: ${detail}`);
}

/** Writes the manifest to every writable disk. */
export function writeManifest(pool: Pool, m: Manifest): void {
  for (const d of writableDisks(pool)) writeManifestCopy(d, m);
}

/** Writes one copy (repair of a damaged or missing copy): where, and the checksum it carries. */
export function writeManifestCopy(disk: Disk, m: Manifest): { path: string; checksum: string } {
  const file = manifestPath(disk.path, m.name);
  const dir = path.dirname(file);
  // objects/ is made with the disk's label: where it is gone, so is the drive (unmounted mid-pass), and the
  // empty mount point on the parent filesystem must not be written.
  if (!isRealDirectory(dir)) throw operationalError(`cannot write ${file}: ${dir} is not a real directory (is the drive still mounted?)`);
  let w: AtomicWriter | undefined;
  try {
    w = new AtomicWriter(file);
    const checksum = encodeManifestTo(m, (chunk) => w!.write(chunk));
    w.commit();
    return { path: file, checksum };
  } catch (err) {
    w?.abort();
    throw fsFailure('cannot write', file, err);
  }
}

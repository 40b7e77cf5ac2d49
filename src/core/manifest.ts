import fs from 'node:fs';
import path from 'node:path';
import { blake3Hex, EXTENT_ID_RE } from './hash';
import { errnoCode, fsFailure, operationalError } from './errors';
import { manifestFileName, manifestPath, MANIFEST_NAME_RE, objectsDir } from './layout';
import { Disk, onlineDisks, Pool, writableDisks } from './pool';
import { writeFileAtomic } from './atomic-file';
import { isRealDirectory, readFailure, readRegularFile } from './safe-fs';
import { parseScheme } from './scheme';

// Object manifests are metadata: one checksummed copy on every online disk
// (DESIGN §1), so losing any disks short of all of them loses no object names.

export const MANIFEST_FORMAT = 1;
/** No extent is longer than the largest extent size a pool may have. */
const MAX_EXTENT_LENGTH = 256 * 1024 * 1024;
const MAX_NAME_BYTES = 4096;
/**
 * A manifest copy larger than this is judged damaged unread: about 2.5M
 * extents, a 10 TiB object of 4 MiB extents.
 */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

export interface ManifestExtent {
  id: string;
  length: number;
}

export interface Manifest {
  format: number;
  name: string;
  size: number;
  scheme: string;
  extentSize: number;
  created: string;
  extents: ManifestExtent[];
}

export function encodeManifest(m: Manifest): Buffer {
  const body = JSON.stringify(m);
  return Buffer.from(JSON.stringify({ manifest: m, checksum: `blake3:${blake3Hex(body)}` }) + '\n');
}

/** A manifest, or a one-line reason the copy is bad. */
const HEAD_BYTES = Buffer.from('{"manifest":');
const SUM_KEY_BYTES = Buffer.from(',"checksum":"');

/**
 * A copy's manifest text, proven against its checksum without parsing it: the
 * file is {"manifest":M,"checksum":"blake3:H"} where M is the exact JSON that
 * was hashed (quotes inside M are escaped, so SUM_KEY only occurs as the key).
 */
function provenBody(data: Buffer): { body: string; sum: string } | string {
  // Proven on the bytes, and decoded once, after: a big manifest is not held as text twice.
  let end = data.length;
  while (end > 0 && (data[end - 1] === 0x0a || data[end - 1] === 0x0d || data[end - 1] === 0x20 || data[end - 1] === 0x09)) end--;
  const at = data.lastIndexOf(SUM_KEY_BYTES, end - 1);
  if (end < HEAD_BYTES.length + 2 || !data.subarray(0, HEAD_BYTES.length).equals(HEAD_BYTES) || at < HEAD_BYTES.length || data[end - 2] !== 0x22 || data[end - 1] !== 0x7d) {
    return 'not a manifest';
  }
  const sum = data.toString('latin1', at + SUM_KEY_BYTES.length, end - 2);
  if (sum !== `blake3:${blake3Hex(data.subarray(HEAD_BYTES.length, at))}`) return 'checksum mismatch';
  return { body: data.toString('utf8', HEAD_BYTES.length, at), sum };
}

function parseBody(body: string): Manifest | string {
  let m: Manifest;
  try {
    m = JSON.parse(body) as Manifest;
  } catch {
    return 'not valid JSON';
  }
  if (!m || typeof m !== 'object' || m.format !== MANIFEST_FORMAT || typeof m.name !== 'string' || !Array.isArray(m.extents)) return 'unsupported format';
  if (typeof m.created !== 'string' || m.created.length > 64) return 'bad creation time';
  if (Buffer.byteLength(m.name) > MAX_NAME_BYTES) return `object name longer than ${MAX_NAME_BYTES} bytes`;
  try {
    parseScheme(m.scheme);
  } catch {
    return `bad scheme ${m.scheme}`;
  }
  // Every number is checked before anything sizes a buffer by it: a hostile copy is damaged, never a crash.
  let total = 0;
  for (const e of m.extents) {
    if (typeof e !== 'object' || e === null || typeof e.id !== 'string' || !EXTENT_ID_RE.test(e.id)) return 'bad extent list';
    if (!Number.isInteger(e.length) || e.length <= 0 || e.length > MAX_EXTENT_LENGTH) return `bad extent length ${JSON.stringify(e.length)}`;
    total += e.length;
  }
  if (!Number.isSafeInteger(m.size) || m.size !== total) return `size ${JSON.stringify(m.size)} is not the sum of its extents (${total})`;
  return m;
}

/** A manifest, or a one-line reason the copy is bad. */
export function decodeManifest(data: Buffer): Manifest | string {
  const proven = provenBody(data);
  return typeof proven === 'string' ? proven : parseBody(proven.body);
}

export interface ManifestCopy {
  disk: Disk;
  path: string;
  /** The parsed copy (scanManifests keeps it on the best copy only, to save memory). */
  manifest?: Manifest;
  /** When a valid copy was written: an older one than the best is stale. */
  created?: string;
  /** Why this copy is unusable (missing, unreadable, damaged). */
  problem?: string;
}

/** Reads and proves one copy; `body` is its manifest text when the checksum holds (parsed by the caller). */
function readRawCopy(disk: Disk, file: string): { copy: ManifestCopy; proven?: { body: string; sum: string } } {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    return { copy: { disk, path: file, problem: errnoCode(err) === 'ENOENT' ? 'missing' : `unreadable (${errnoCode(err)})` } };
  }
  if (!st.isFile()) return { copy: { disk, path: file, problem: 'not a regular file' } };
  if (!isRealDirectory(path.dirname(file))) return { copy: { disk, path: file, problem: `${path.dirname(file)} is not a real directory` } };
  let data: Buffer;
  try {
    data = readRegularFile(file, MAX_MANIFEST_BYTES);
  } catch (err) {
    if (errnoCode(err) === 'EFBIG') return { copy: { disk, path: file, problem: `larger than ${MAX_MANIFEST_BYTES} bytes` } };
    return { copy: { disk, path: file, problem: `unreadable (${readFailure(err)})` } };
  }
  const proven = provenBody(data);
  return typeof proven === 'string' ? { copy: { disk, path: file, problem: proven } } : { copy: { disk, path: file }, proven };
}

/**
 * Every copy of one manifest file name, each proven; identical copies share
 * one parse (and one object in memory), so a pool's manifests are parsed once,
 * not once per disk.
 */
function readCopies(disks: Disk[], fileOf: (d: Disk) => string): ManifestCopy[] {
  const parsed = new Map<string, Manifest | string>();
  // One copy's text in memory at a time: a big manifest is not held once per disk.
  return disks.map((d) => {
    const { copy, proven } = readRawCopy(d, fileOf(d));
    if (!proven) return copy;
    let m = parsed.get(proven.sum);
    if (m === undefined) {
      m = parseBody(proven.body);
      parsed.set(proven.sum, m);
    }
    if (typeof m === 'string') copy.problem = m;
    else {
      copy.manifest = m;
      copy.created = m.created;
    }
    return copy;
  });
}

/** Every online disk's copy of one object's manifest. */
export function readManifestCopies(pool: Pool, name: string): ManifestCopy[] {
  return readCopies(onlineDisks(pool), (d) => manifestPath(d.path, name));
}

/** The newest valid copy: after an interrupted replace, copies may differ. */
export function bestCopy(copies: ManifestCopy[]): Manifest | undefined {
  let best: Manifest | undefined;
  for (const c of copies) {
    if (c.manifest && (!best || c.manifest.created > best.created)) best = c.manifest;
  }
  return best;
}

export interface ObjectEntry {
  name: string;
  fileName: string;
  manifest?: Manifest;
  copies: ManifestCopy[];
}

/** Manifest file names held in memory at once while listing (~170 bytes each). */
export const NAMES_PER_ROUND = 65536;

/**
 * Calls `fn` with each manifest file name in one disk's objects/, streamed (no
 * array of the whole directory); `fn` returns false to stop early.
 */
function eachManifestName(dir: string, fn: (name: string) => boolean): void {
  let handle: fs.Dir;
  try {
    if (!isRealDirectory(dir)) return;
    handle = fs.opendirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw fsFailure('cannot list manifests in', dir, err);
  }
  try {
    for (let e; (e = handle.readSync()) !== null; ) if (MANIFEST_NAME_RE.test(e.name) && !fn(e.name)) return;
  } catch (err) {
    throw fsFailure('cannot list manifests in', dir, err);
  } finally {
    handle.closeSync();
  }
}

/** The manifest file names starting with `prefix` on any disk, sorted; undefined past `limit` of them. */
function manifestNames(disks: Disk[], prefix: string, limit: number): string[] | undefined {
  const names = new Set<string>();
  for (const d of disks) {
    eachManifestName(objectsDir(d.path), (name) => {
      if (name.startsWith(prefix)) names.add(name);
      return names.size <= limit;
    });
    if (names.size > limit) return undefined;
  }
  return [...names].sort();
}

/**
 * Every object known to any online disk, with all its copies, one at a time in
 * file-name order: a pass over a big pool never holds every manifest, nor
 * every manifest's name, at once. Past `perRound` names, the names are listed
 * again in rounds by their next leading hex digit (up to two digits). Damaged
 * copies are grouped by file name, so an object whose every copy is damaged
 * still shows.
 */
export function eachObject(pool: Pool, fn: (o: ObjectEntry) => void, perRound = NAMES_PER_ROUND, prefix = ''): void {
  const disks = onlineDisks(pool);
  const names = manifestNames(disks, prefix, prefix.length < 2 ? perRound : Infinity);
  if (!names) {
    for (let digit = 0; digit < 16; digit++) eachObject(pool, fn, perRound, prefix + digit.toString(16));
    return;
  }
  for (const fileName of names) {
    const copies = readCopies(disks, (d) => path.join(objectsDir(d.path), fileName));
    const manifest = bestCopy(copies);
    // One parsed manifest per object is enough; the other copies keep their verdict and date.
    for (const c of copies) if (c.manifest !== manifest) delete c.manifest;
    fn({ name: manifest?.name ?? `?${fileName}`, fileName, manifest, copies });
  }
}

/** Every object at once (listings and status, not passes). */
export function scanManifests(pool: Pool): ObjectEntry[] {
  const out: ObjectEntry[] = [];
  eachObject(pool, (o) => out.push(o));
  return out;
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
  const data = encodeManifest(m);
  for (const d of writableDisks(pool)) writeManifestCopy(d, m, data);
}

/** Writes one copy (repair of a damaged or missing copy). */
export function writeManifestCopy(disk: Disk, m: Manifest, data = encodeManifest(m)): string {
  const file = manifestPath(disk.path, m.name);
  const dir = path.dirname(file);
  // objects/ is made with the disk's label: where it is gone, so is the drive (unmounted mid-pass), and the
  // empty mount point on the parent filesystem must not be written.
  if (!isRealDirectory(dir)) throw operationalError(`cannot write ${file}: ${dir} is not a real directory (is the drive still mounted?)`);
  writeFileAtomic(file, data);
  return file;
}

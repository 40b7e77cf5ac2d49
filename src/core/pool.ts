import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from './random';
import { DfsError, errnoCode, fsFailure, operationalError, usageError } from './errors';
import { parseScheme, Scheme, shardCount, formatScheme } from './scheme';
import { writeJsonAtomic, fsyncDir } from './atomic-file';
import { readRegularFile } from './safe-fs';
import { diskLabelPath, poolFile, stateDir, POOL_FILE, DISK_LABEL, extentsDir, objectsDir } from './layout';
import { DiskMove, findDisks, Relabel } from './disk-identity';
import { claimsOn, fileClaims } from './disk-claims';
import { dirToken, readDirToken } from './pool-dir-token';
import { notice } from './notice';
import { checkStateDir } from './state-dir';

export const POOL_FORMAT = 1;
export const DEFAULT_EXTENT_SIZE = 4 * 1024 * 1024;
const MIN_EXTENT_SIZE = 4096;
const MAX_EXTENT_SIZE = 256 * 1024 * 1024;

export interface DiskConfig {
  id: string;
  /** Where the disk was last seen. Relative paths are relative to the pool directory (demo and test disks). */
  path: string;
  /** Set by replace-disk: a blank disk that the next repair pass fills (the resilver). */
  rebuilding?: { since: string; replaces?: string };
}

export interface PoolConfig {
  format: number;
  id: string;
  created: string;
  redundancy: string;
  extentSize: number;
  disks: DiskConfig[];
}

export interface DiskLabel {
  format: number;
  pool: string;
  disk: string;
  /** The real path of the pool directory that labelled it (labels before it have none). */
  place?: string;
  /** That directory's token (pool-dir-token.ts): proof for a moved pool that it wrote the label. */
  placeToken?: string;
}

export type DiskState = 'online' | 'missing' | 'foreign' | 'unreadable' | 'read-only' | 'rebuilding';
export const DISK_STATES: readonly DiskState[] = ['online', 'rebuilding', 'read-only', 'missing', 'foreign', 'unreadable'];

export interface Disk {
  id: string;
  index: number;
  /** Absolute path of the disk directory. */
  path: string;
  state: DiskState;
  /** Why a disk is not online, for messages. */
  detail?: string;
  /** Other pools' directories that name this disk too (they are refused it; see disk-claims.ts). */
  claimedBy?: string[];
}

export interface Pool {
  root: string;
  config: PoolConfig;
  scheme: Scheme;
  disks: Disk[];
}

/** Disks that can be read: their label is this pool's and nothing is in doubt. */
export const onlineDisks = (pool: Pool) => pool.disks.filter((d) => d.state === 'online' || d.state === 'read-only' || d.state === 'rebuilding');
/** Disks that may be written: a rebuilding disk takes its rebuilt shards and new writes. */
export const writableDisks = (pool: Pool) => pool.disks.filter((d) => d.state === 'online' || d.state === 'rebuilding');

function readJson(file: string): unknown {
  return JSON.parse(readRegularFile(file, 1024 * 1024).toString('utf8'));
}

function validateConfig(raw: unknown, file: string): PoolConfig {
  const bad = (why: string) => operationalError(`corrupt pool config ${file}: ${why}`);
  if (typeof raw !== 'object' || raw === null) throw bad('not a JSON object');
  const c = raw as Record<string, unknown>;
  if (c.format !== POOL_FORMAT) throw bad(`unsupported format ${JSON.stringify(c.format)}`);
  if (typeof c.id !== 'string' || !c.id) throw bad('missing id');
  if (typeof c.redundancy !== 'string') throw bad('missing redundancy');
  if (typeof c.extentSize !== 'number' || !Number.isInteger(c.extentSize) || c.extentSize < MIN_EXTENT_SIZE) {
    throw bad('bad extentSize');
  }
  if (!Array.isArray(c.disks) || c.disks.length === 0) throw bad('no disks');
  for (const d of c.disks) {
    if (typeof d !== 'object' || d === null || typeof d.id !== 'string' || !d.id || typeof d.path !== 'string' || !d.path) {
      throw bad('bad disk entry');
    }
    if (d.rebuilding !== undefined && (typeof d.rebuilding !== 'object' || d.rebuilding === null || typeof d.rebuilding.since !== 'string')) {
      throw bad(`bad rebuilding mark on disk ${d.id}`);
    }
  }
  try {
    parseScheme(c.redundancy);
  } catch {
    throw bad(`bad redundancy ${c.redundancy}`);
  }
  return c as unknown as PoolConfig;
}

/** The --pool option's value: given once, not empty. */
export function requirePoolOption(value: unknown): string {
  if (Array.isArray(value)) throw usageError('--pool given more than once');
  if (value === undefined || value === true || value === '') throw usageError('--pool PATH is required');
  return String(value);
}

export interface OpenOptions {
  /** Write disks' new paths to pool.json when they were found elsewhere (default true; the read-only exporter says false). */
  record?: boolean;
}

export function openPool(rootArg: string, opts: OpenOptions = {}): Pool {
  const root = path.resolve(rootArg);
  const file = poolFile(root);
  let raw: unknown;
  try {
    raw = readJson(file);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      throw operationalError(`not a pool: ${file} does not exist`);
    }
    if (code) throw fsFailure('cannot read pool config', file, err);
    throw operationalError(`corrupt pool config ${file}: not valid JSON`);
  }
  const config = validateConfig(raw, file);
  checkStateDir(root);
  const rootReal = fs.realpathSync(root);
  const owner = fs.statSync(root).uid;
  // Only the pool's owner writes what opening finds (a tool run as root over
  // another's pool becomes the owner first; one that does not only reads).
  const mayWrite = opts.record !== false && process.geteuid?.() === owner;
  const token = mayWrite ? dirToken(root) : readDirToken(root);
  const { disks, moves, relabels, claims } = findDisks(config.id, config.disks, root, { real: rootReal, owner, token });
  for (const m of moves) notice(`disk ${m.index} (${m.id}) found at ${m.to}, recorded at ${m.from}: using it there`);
  for (const r of relabels) notice(`disk ${r.index} (${r.label.disk}) was labelled by this pool at ${r.from} (moved): adopting it here`);
  if (mayWrite) {
    if (moves.length > 0) recordMoves(root, config, moves);
    relabel(relabels, rootReal);
    fileClaims(rootReal, claims);
  }
  const usable = disks.filter((d) => d.state === 'online' || d.state === 'read-only' || d.state === 'rebuilding');
  const claimedBy = claimsOn(rootReal, usable);
  for (const d of usable) if (claimedBy.has(d.id)) d.claimedBy = claimedBy.get(d.id);
  return { root, config, scheme: parseScheme(config.redundancy), disks };
}

/** Writes a moved pool's new place into its disks' labels (best effort: a read-only disk keeps the old one). */
function relabel(relabels: Relabel[], rootReal: string): void {
  for (const r of relabels) {
    try {
      writeJsonAtomic(diskLabelPath(r.path), { ...r.label, place: rootReal });
    } catch (err) {
      notice(`could not write the new place into ${diskLabelPath(r.path)}: ${errnoCode(err) ?? String(err)}`);
    }
  }
}

/** Brings pool.json's disk paths up to date after disks were found elsewhere (best effort: a read-only pool keeps the old ones). */
function recordMoves(root: string, config: PoolConfig, moves: DiskMove[]): void {
  const updated: PoolConfig = { ...config, disks: config.disks.map((d) => ({ ...d })) };
  for (const m of moves) updated.disks[m.index].path = m.toRecorded;
  try {
    writeJsonAtomic(poolFile(root), updated);
    config.disks = updated.disks;
    notice(`recorded the new disk paths in ${poolFile(root)}`);
  } catch (err) {
    notice(`could not record the new disk paths in ${poolFile(root)}: ${errnoCode(err) ?? String(err)}`);
  }
}

/** Writes pool.json anew (disk set changes), atomically. */
export function savePoolConfig(root: string, config: PoolConfig): void {
  try {
    writeJsonAtomic(poolFile(root), config);
  } catch (err) {
    throw fsFailure('cannot write', poolFile(root), err);
  }
}

export interface CreatePoolOptions {
  root: string;
  diskCount?: number;
  diskPaths?: string[];
  redundancy: string;
  extentSize?: number;
}

/** Walks up from dir looking for a disk label: a pool must not live inside a disk. */
function enclosingDisk(dir: string): string | undefined {
  let cur = path.resolve(dir);
  for (;;) {
    if (fs.existsSync(path.join(cur, DISK_LABEL))) return cur;
    const up = path.dirname(cur);
    if (up === cur) return undefined;
    cur = up;
  }
}

export function parseExtentSize(text: string): number {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(text.trim());
  if (!m) throw usageError(`--extent-size ${JSON.stringify(text)}: expected a size such as 4M or 1048576`);
  const unit = (m[2] ?? '').toUpperCase()[0];
  const n = Number(m[1]) * (unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1);
  if (n < MIN_EXTENT_SIZE || n > MAX_EXTENT_SIZE || n % 4096 !== 0) {
    throw usageError(`--extent-size ${text}: must be a multiple of 4 KiB between 4 KiB and 256 MiB`);
  }
  return n;
}

/**
 * Creates a pool. Everything is checked before anything is written, and
 * pool.json is written last: a failure midway removes what this call made.
 */
export function createPool(opts: CreatePoolOptions): Pool {
  const root = path.resolve(opts.root);
  const scheme = parseScheme(opts.redundancy);
  const extentSize = opts.extentSize ?? DEFAULT_EXTENT_SIZE;
  const named = opts.diskPaths ?? [];
  if (opts.diskCount !== undefined && named.length > 0) throw usageError('--disks and --disk cannot be combined');
  const count = opts.diskCount ?? named.length;
  if (count < 1) throw usageError('a pool needs disks: give --disks N or --disk PATH');
  if (opts.diskCount !== undefined && (!Number.isInteger(count) || count > 64)) {
    throw usageError(`--disks ${opts.diskCount}: expected a whole number from 1 to 64`);
  }
  if (shardCount(scheme) > count) {
    throw usageError(`--redundancy ${formatScheme(scheme)} needs ${shardCount(scheme)} disks, the pool has ${count}`);
  }
  if (fs.existsSync(poolFile(root))) throw operationalError(`${root} is already a pool (${POOL_FILE} exists)`);
  const host = enclosingDisk(root);
  if (host) throw operationalError(`${root} is inside disk ${host} (it has ${DISK_LABEL}): a pool cannot live on its own disk`);
  if (fs.existsSync(root) && !fs.statSync(root).isDirectory()) throw operationalError(`${root} exists and is not a directory`);

  const diskAbs = named.length > 0 ? named.map((p) => path.resolve(p)) : [];
  const seen = new Set<string>();
  for (const d of diskAbs) {
    if (seen.has(d)) throw usageError(`--disk ${d} given twice`);
    seen.add(d);
    let st: fs.Stats;
    try {
      st = fs.statSync(d);
    } catch (err) {
      throw fsFailure('--disk', d, err);
    }
    if (!st.isDirectory()) throw usageError(`--disk ${d}: not a directory`);
    if (fs.existsSync(diskLabelPath(d))) throw operationalError(`--disk ${d} already belongs to a pool (${DISK_LABEL} exists)`);
    if (d === root || d.startsWith(stateDir(root) + path.sep)) throw usageError(`--disk ${d}: cannot be the pool directory itself`);
  }

  const made: string[] = [];
  // 0755 whatever the umask: the pool and its state are writable by their owner alone (see state-dir.ts).
  const mkdir = (dir: string) => {
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      made.push(dir);
      fs.chmodSync(dir, 0o755);
    }
  };
  const config: PoolConfig = {
    format: POOL_FORMAT,
    id: randomUUID(),
    created: new Date().toISOString(),
    redundancy: formatScheme(scheme),
    extentSize,
    disks: [],
  };
  try {
    mkdir(root);
    mkdir(stateDir(root));
    const token = dirToken(root);
    for (let i = 0; i < count; i++) {
      const rel = named.length > 0 ? diskAbs[i] : path.join('disks', `d${i}`);
      const abs = path.resolve(root, rel);
      mkdir(abs);
      const id = randomUUID();
      mkdir(extentsDir(abs));
      mkdir(objectsDir(abs));
      const label: DiskLabel = { format: POOL_FORMAT, pool: config.id, disk: id, place: fs.realpathSync(root), placeToken: token };
      writeJsonAtomic(diskLabelPath(abs), label);
      made.push(diskLabelPath(abs));
      config.disks.push({ id, path: rel });
    }
    writeJsonAtomic(poolFile(root), config);
    fsyncDir(root);
    checkStateDir(root);
  } catch (err) {
    for (const p of made.reverse()) fs.rmSync(p, { recursive: true, force: true });
    if (err instanceof DfsError) throw err;
    throw fsFailure('cannot create pool at', root, err);
  }
  return openPool(root);
}

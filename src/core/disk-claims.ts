import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from './random';
import { errnoCode } from './errors';
import { blake3Hex } from './hash';
import { readRegularFile } from './safe-fs';

// Two pools may name one disk: a pool.json copied or edited by hand, or a
// user's pool listing root's drives. The pool the disk's label does not
// agree with is refused it (disk-identity.ts); the pool the disk belongs to is
// told through a note left in a host-wide directory, sticky and writable by
// all like /tmp, since the two pools may have different owners and neither
// may write the other. A note only says where to look: the pool it names is
// read and must really name the disk, so a forged or stale note shows nothing.

export const CLAIMS_DIR = '/run/dynamicfs/claims';
const NOTE_BYTES = 8192;
const MAX_NOTES = 100_000;

/**
 * Disk ids as labels and pool.json give them may be anything; a note is named
 * by one only if it is a plain word (our ids are UUIDs), never a path.
 */
const NOTE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** The names in the claims directory, read as a stream and capped: a directory stuffed with junk costs no more. */
function noteNames(): string[] {
  const out: string[] = [];
  let dir: fs.Dir | undefined;
  try {
    dir = fs.opendirSync(CLAIMS_DIR);
    for (let e; out.length < MAX_NOTES && (e = dir.readSync()) !== null; ) if (e.isFile()) out.push(e.name);
  } catch {
    // unreadable: no notes
  } finally {
    dir?.closeSync();
  }
  return out;
}

/** Where a claimant's notes end: one name per claimant directory, the same on every run. */
const claimantTag = (claimantReal: string) => blake3Hex(`claimant:${claimantReal}`).slice(0, 32);

/** The claims directory, when it is root's, sticky and not a link: a note elsewhere could be anyone's trap. */
function claimsDirUsable(): boolean {
  try {
    const st = fs.lstatSync(CLAIMS_DIR);
    return st.isDirectory() && st.uid === 0 && (st.mode & 0o1000) !== 0;
  } catch {
    return false;
  }
}

/** Makes the claims directory (as root, before a tool becomes a pool's owner); quietly does nothing otherwise. */
export function ensureClaimsDir(): void {
  if (process.getuid?.() !== 0) return;
  try {
    const parent = path.dirname(CLAIMS_DIR);
    if (!fs.existsSync(parent)) fs.mkdirSync(parent, { mode: 0o755 });
    if (!fs.lstatSync(parent).isDirectory()) return;
    if (!fs.existsSync(CLAIMS_DIR)) {
      fs.mkdirSync(CLAIMS_DIR);
      fs.chmodSync(CLAIMS_DIR, 0o1777);
    }
  } catch {
    // no /run to write: the claimant is still told, the disk's pool is not
  }
}

export interface Claim {
  /** The id of the disk claimed (its label's). */
  disk: string;
}

/**
 * Leaves a note for each disk this pool names but may not have, and takes back
 * its notes for disks it no longer claims. Best effort: without a usable
 * claims directory, only this pool's operator is told.
 */
export function fileClaims(claimantReal: string, claims: Claim[]): void {
  if (!claimsDirUsable()) return;
  claims = claims.filter((c) => NOTE_ID_RE.test(c.disk));
  const names = noteNames();
  // Nothing to file and no note to take back, the usual case: no tag is
  // needed, and opening a pool (status) loads no BLAKE3 addon for one.
  if (claims.length === 0 && names.length === 0) return;
  const tag = claimantTag(claimantReal);
  const want = new Set(claims.map((c) => `${c.disk}.${tag}`));
  const uid = process.getuid?.();
  for (const name of names) {
    if (!name.endsWith(`.${tag}`) || want.has(name)) continue;
    try {
      const file = path.join(CLAIMS_DIR, name);
      if (fs.lstatSync(file).uid === uid) fs.unlinkSync(file);
    } catch {
      // gone already, or not ours to take back
    }
  }
  const have = new Set(names);
  for (const c of claims) {
    const name = `${c.disk}.${tag}`;
    if (have.has(name)) continue;
    const tmp = path.join(CLAIMS_DIR, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
      try {
        fs.writeSync(fd, JSON.stringify({ claimant: claimantReal, disk: c.disk, seen: new Date().toISOString() }) + '\n');
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, path.join(CLAIMS_DIR, name));
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  }
}

/** True when the pool at `poolDir` has pool id `poolId` and names the directory `disk` (same device and inode). */
export function poolNamesDir(poolDir: string, poolId: string | undefined, disk: fs.Stats): boolean {
  let config: { id?: unknown; disks?: unknown };
  try {
    config = JSON.parse(readRegularFile(path.join(poolDir, 'pool.json'), 1024 * 1024).toString('utf8'));
  } catch {
    return false;
  }
  if (!config || (poolId !== undefined && config.id !== poolId) || !Array.isArray(config.disks)) return false;
  return config.disks.some((d: { path?: unknown }) => {
    if (!d || typeof d.path !== 'string') return false;
    try {
      const st = fs.statSync(path.resolve(poolDir, d.path));
      return st.dev === disk.dev && st.ino === disk.ino;
    } catch {
      return false;
    }
  });
}

/**
 * The other pools that name each of our disks, by their directories: every
 * note for a disk's id is checked against the pool it names. Stale notes are
 * removed where this process may.
 */
export function claimsOn(ownReal: string, disks: { id: string; path: string }[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (disks.length === 0 || !claimsDirUsable()) return out;
  const names = noteNames();
  for (const d of disks) {
    const mine = names.filter((n) => n.startsWith(`${d.id}.`));
    if (mine.length === 0) continue;
    let disk: fs.Stats;
    try {
      disk = fs.statSync(d.path);
    } catch {
      continue;
    }
    const by: string[] = [];
    for (const name of mine) {
      const claimant = noteClaimant(path.join(CLAIMS_DIR, name));
      if (claimant === undefined || claimant === ownReal || `${d.id}.${claimantTag(claimant)}` !== name) continue;
      if (poolNamesDir(claimant, undefined, disk)) by.push(claimant);
      else removeStale(path.join(CLAIMS_DIR, name));
    }
    if (by.length) out.set(d.id, by.sort());
  }
  return out;
}

function noteClaimant(file: string): string | undefined {
  try {
    const claimant: unknown = JSON.parse(readRegularFile(file, NOTE_BYTES).toString('utf8')).claimant;
    return typeof claimant === 'string' && path.isAbsolute(claimant) ? claimant : undefined;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') removeStale(file);
    return undefined;
  }
}

function removeStale(file: string): void {
  try {
    fs.unlinkSync(file); // the sticky bit leaves only our own notes (or root's) ours to remove
  } catch {
    // another user's note: it stays, and shows nothing
  }
}

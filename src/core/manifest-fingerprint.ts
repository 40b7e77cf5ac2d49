import fs from 'node:fs';
import { errnoCode, fsFailure } from './errors';
import { blake3Pieces } from './hash';
import { objectsDir } from './layout';
import { eachManifestName } from './manifest';
import { onlineDisks, Pool } from './pool';

// What the object manifests look like from their directories alone, without
// reading a byte of them: which disks are read, and each manifest file's
// inode, size and times. Every write through the filesystem (an atomic
// replace is a new inode; a write in place moves mtime and ctime, and ctime
// cannot be set back by anyone) changes it; costs one lstat per copy, not
// reading and proving every manifest.

export interface ManifestFingerprint {
  hash: string;
  /** Distinct manifest file names on the online disks: objects, readable or not. */
  names: number;
}

function statLine(file: string): string {
  try {
    // Times in milliseconds with a fraction: a double keeps them to a fraction of a microsecond.
    const st = fs.lstatSync(file);
    return `${st.mode} ${st.ino} ${st.size} ${st.mtimeMs} ${st.ctimeMs}`;
  } catch (err) {
    // Gone between the listing and the lstat: a put or rm in flight, and a line unlike any other.
    if (errnoCode(err) === 'ENOENT') return 'gone';
    throw fsFailure('cannot stat', file, err);
  }
}

/** The fingerprint of the manifests on the online disks, leaving out file name `except` (an object being removed). */
export function manifestFingerprint(pool: Pool, except?: string): ManifestFingerprint {
  return fingerprintWith(pool, except).without;
}

/**
 * The fingerprint without file name `except` and, from the same listing and
 * lstats, with it: a put compares the first with the one taken before it
 * wrote (did anything else change a manifest?) and saves the summary under
 * the second. `seen`: some online disk holds a file of that name.
 */
export function fingerprintWith(pool: Pool, except?: string): { without: ManifestFingerprint; with: ManifestFingerprint; seen: boolean } {
  // One piecewise digest at a time (hash.ts): the second is fed after the first is taken.
  const without = blake3Pieces();
  const withTexts: string[] = [];
  const names = new Set<string>();
  let seen = false;
  for (const d of onlineDisks(pool)) {
    const dir = objectsDir(d.path);
    const lines: string[] = [];
    let exceptLine: string | undefined;
    eachManifestName(dir, (name) => {
      const line = `${name} ${statLine(`${dir}/${name}`)}`;
      if (name === except) {
        seen = true;
        exceptLine = line;
      } else {
        names.add(name);
        lines.push(line);
      }
      return true;
    });
    // Directory order is the filesystem's whim; the fingerprint is not.
    lines.sort();
    let dirLine: string;
    try {
      const st = fs.lstatSync(dir);
      dirLine = `${st.mode} ${st.ino}`;
    } catch (err) {
      dirLine = errnoCode(err) ?? 'unreadable';
    }
    const head = `disk ${d.index} ${d.id} ${d.state} ${d.path}\0${dirLine}\n`;
    without.update(Buffer.from(`${head}${lines.join('\n')}\n`));
    if (except === undefined) continue;
    if (exceptLine !== undefined) {
      lines.push(exceptLine);
      lines.sort();
    }
    withTexts.push(`${head}${lines.join('\n')}\n`);
  }
  const fp = { hash: without.hex(), names: names.size };
  if (except === undefined) return { without: fp, with: fp, seen };
  const withIt = blake3Pieces();
  for (const text of withTexts) withIt.update(Buffer.from(text));
  return { without: fp, with: { hash: withIt.hex(), names: names.size + (seen ? 1 : 0) }, seen };
}

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
  const hash = blake3Pieces();
  const names = new Set<string>();
  for (const d of onlineDisks(pool)) {
    const dir = objectsDir(d.path);
    const lines: string[] = [];
    eachManifestName(dir, (name) => {
      if (name !== except) {
        names.add(name);
        lines.push(`${name} ${statLine(`${dir}/${name}`)}`);
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
    hash.update(Buffer.from(`disk ${d.index} ${d.id} ${d.state} ${d.path}\0${dirLine}\n${lines.join('\n')}\n`));
  }
  return { hash: hash.hex(), names: names.size };
}

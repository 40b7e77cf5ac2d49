import fs from 'node:fs';
import { errnoCode } from './errors';
import { blake3Hex } from './hash';
import { objectsDir } from './layout';
import { onlineDisks, Pool } from './pool';

// What the object manifests look like from their directories alone: which
// disks are read, and each objects directory's inode, size, link count and
// times. Creating, renaming or removing a manifest there (every manifest
// write is an atomic replace: a rename) moves the directory's mtime and
// ctime, and ctime cannot be set back by anyone; so it costs one lstat per
// disk, whatever the number of objects. What it cannot see: bytes written in
// place into a manifest file (the scrub reads every manifest, and drops the
// saved summary when it finds a copy damaged), and on a kernel with coarse
// timestamps a second change in the clock tick of one already seen (the
// tools' own puts and removals take the manifest lock, and each rewrites the
// summary file, so it is only a hand's change at that very moment).

export interface ManifestFingerprint {
  hash: string;
}

function dirLine(dir: string): string {
  try {
    // Times in milliseconds with a fraction: a double keeps them to a fraction of a microsecond.
    const st = fs.lstatSync(dir);
    return `${st.mode} ${st.ino} ${st.nlink} ${st.size} ${st.mtimeMs} ${st.ctimeMs}`;
  } catch (err) {
    return errnoCode(err) ?? 'unreadable';
  }
}

/** The fingerprint of the objects directories of the online disks. */
export function manifestFingerprint(pool: Pool): ManifestFingerprint {
  const lines = onlineDisks(pool).map((d) => `disk ${d.index} ${d.id} ${d.state} ${d.path}\0${dirLine(objectsDir(d.path))}\n`);
  return { hash: blake3Hex(lines.join('')) };
}

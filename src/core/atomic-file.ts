import fs from 'node:fs';
import path from 'node:path';
import { fsFailure } from './errors';

let tempCounter = 0;

/** A temp name in the same directory that no reader mistakes for a final file. */
export function tempPathFor(finalPath: string): string {
  tempCounter += 1;
  return path.join(path.dirname(finalPath), `.tmp-${process.pid}-${tempCounter}-${path.basename(finalPath)}`);
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replaces finalPath atomically: temp file in the same directory, fsync, rename,
 * fsync of the directory. A crash leaves the old file or the new one, never a
 * torn one. Writing never follows a symlink at finalPath: rename replaces the link.
 */
export function writeFileAtomic(finalPath: string, chunks: Uint8Array | Uint8Array[], mode = 0o644): void {
  const tmp = tempPathFor(finalPath);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
    for (const c of Array.isArray(chunks) ? chunks : [chunks]) {
      let off = 0;
      while (off < c.length) off += fs.writeSync(fd, c, off, c.length - off);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, finalPath);
    fsyncDir(path.dirname(finalPath));
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw fsFailure('cannot write', finalPath, err);
  }
}

export function writeJsonAtomic(finalPath: string, value: unknown, mode = 0o644): void {
  writeFileAtomic(finalPath, Buffer.from(JSON.stringify(value, null, 2) + '\n'), mode);
}

export const TEMP_FILE_RE = /^\.tmp-\d+-\d+-/;

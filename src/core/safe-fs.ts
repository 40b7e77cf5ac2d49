import fs from 'node:fs';
import { randomBytes } from './random';
import { errnoCode } from './errors';

// Pool files are read and written only through real directories and regular
// files: never through a symlink out of the pool, never blocking on a FIFO
// that sits where a label or manifest belongs.

/** True when p is a directory itself, not a symlink to one. */
export function isRealDirectory(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

export class NotRegularFile extends Error {
  readonly code = 'ENOTREGULAR';
}

/**
 * Reads a small regular file without following a symlink or opening a FIFO
 * for blocking reads; throws the errno error, or NotRegularFile, or EFBIG
 * when it is larger than maxBytes.
 */
export function readRegularFile(file: string, maxBytes = 16 * 1024 * 1024): Buffer {
  const { fd, size } = openRegularFile(file, maxBytes);
  try {
    const buf = Buffer.allocUnsafe(size);
    const got = readFully(fd, buf, 0);
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** An open regular file (see readRegularFile) and its size; the caller closes it. */
export function openRegularFile(file: string, maxBytes: number): { fd: number; size: number } {
  // No lstat first (it was a third of a pass over small objects' manifests):
  // O_NOFOLLOW refuses a symlink (ELOOP), O_NONBLOCK opens a FIFO without
  // waiting for a writer, a socket refuses (ENXIO), and fstat judges what
  // opened. A device node is opened before fstat refuses it; only root can
  // make one, and not across filesystems by a link.
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ELOOP' || code === 'ENXIO') throw new NotRegularFile(`${file}: not a regular file`);
    throw err;
  }
  try {
    const fst = fs.fstatSync(fd);
    if (!fst.isFile()) throw new NotRegularFile(`${file}: not a regular file`);
    if (fst.size > maxBytes) throw Object.assign(new Error(`${file}: larger than ${maxBytes} bytes`), { code: 'EFBIG' });
    return { fd, size: fst.size };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/**
 * Fills `buf` from `position` on, short only at the end of the file; a failed
 * read (a bad sector) carries the offset where it failed, for the message.
 */
export function readFully(fd: number, buf: Buffer, position: number): number {
  let got = 0;
  try {
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, position + got);
      if (n === 0) break;
      got += n;
    }
  } catch (err) {
    throw Object.assign(err as Error, { offset: position + got });
  }
  return got;
}

/** An errno code, or 'not a regular file', for messages. */
export function readFailure(err: unknown): string {
  if (err instanceof NotRegularFile) return 'not a regular file';
  const offset = (err as { offset?: unknown }).offset;
  return `${errnoCode(err) ?? String(err)}${typeof offset === 'number' ? ` reading at offset ${offset}` : ''}`;
}

/**
 * Opens a log or audit file for appending without following a symlink or
 * blocking on a FIFO planted at its name; anything but a regular file is refused.
 */
export function openAppend(file: string, mode = 0o640): number {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK, mode);
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new NotRegularFile(`${file}: not a regular file`);
  }
  return fd;
}

/** Appends whole, fsynced (see openAppend). */
export function appendFileSafe(file: string, data: string | Buffer, sync = false): void {
  const fd = openAppend(file);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (sync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** appendFileSafe with the fsync on the thread pool: the caller's thread goes on while it waits on the disk. */
export async function appendFileSafeSynced(file: string, data: string | Buffer): Promise<void> {
  const fd = openAppend(file);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
  } finally {
    fs.closeSync(fd);
  }
}

/** A small state file's text, or undefined when it does not exist (see readRegularFile for the rest). */
export function readStateText(file: string, maxBytes: number): string | undefined {
  try {
    return readRegularFile(file, maxBytes).toString('utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Removes a directory tree we made (the extent index) without a path anyone
 * could swap midway: it is first renamed to an unguessable name beside it,
 * and what is inside is removed entry by entry, links unlinked, never followed.
 */
export function removeOwnTree(dir: string): void {
  const gone = `${dir}.gone-${process.pid}-${randomBytes(8).toString('hex')}`;
  try {
    fs.renameSync(dir, gone);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  const walk = (d: string): void => {
    const st = fs.lstatSync(d);
    if (!st.isDirectory()) {
      fs.unlinkSync(d);
      return;
    }
    for (const name of fs.readdirSync(d)) walk(`${d}/${name}`);
    fs.rmdirSync(d);
  };
  walk(gone);
}

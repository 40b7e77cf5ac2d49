import fs from 'node:fs';
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
  const st = fs.lstatSync(file);
  if (!st.isFile()) throw new NotRegularFile(`${file}: not a regular file`);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    const fst = fs.fstatSync(fd);
    if (!fst.isFile()) throw new NotRegularFile(`${file}: not a regular file`);
    if (fst.size > maxBytes) throw Object.assign(new Error(`${file}: larger than ${maxBytes} bytes`), { code: 'EFBIG' });
    const buf = Buffer.allocUnsafe(fst.size);
    let got = 0;
    try {
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      // Where the read failed (a bad sector), for the message.
      throw Object.assign(err as Error, { offset: got });
    }
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** An errno code, or 'not a regular file', for messages. */
export function readFailure(err: unknown): string {
  if (err instanceof NotRegularFile) return 'not a regular file';
  const offset = (err as { offset?: unknown }).offset;
  return `${errnoCode(err) ?? String(err)}${typeof offset === 'number' ? ` reading at offset ${offset}` : ''}`;
}

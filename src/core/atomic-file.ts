import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from './random';
import { fsFailure } from './errors';

let tempCounter = 0;

/**
 * A temp name in the same directory that no reader mistakes for a final file,
 * and nobody can guess ahead (it is opened O_EXCL | O_NOFOLLOW besides).
 */
export function tempPathFor(finalPath: string): string {
  tempCounter += 1;
  return path.join(path.dirname(finalPath), `.tmp-${process.pid}-${tempCounter}-${randomBytes(6).toString('hex')}-${path.basename(finalPath)}`);
}

/** How a temp file is created: new (O_EXCL), never through a link; the caller adds O_WRONLY or O_RDWR. */
export const TEMP_CREATE = fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** An fs call with a callback, as a promise: the fs.promises API allocates a FileHandle per open. */
export const fsCall = <T>(call: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void) =>
  new Promise<T>((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value))));

/** fsyncDir on the thread pool, so that many directories' fsyncs are in flight together. */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const fd = await fsCall<number>((cb) => fs.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW, cb));
  try {
    await fsCall<void>((cb) => fs.fsync(fd, cb));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replaces finalPath atomically: temp file in the same directory, fsync, rename,
 * fsync of the directory. A crash leaves the old file or the new one, never a
 * torn one. Writing never follows a symlink at finalPath: rename replaces the link.
 */
export class AtomicWriter {
  private fd: number | undefined;
  readonly tempPath: string;

  constructor(
    readonly finalPath: string,
    opts: { mode?: number; tempPath?: string } = {},
  ) {
    this.tempPath = opts.tempPath ?? tempPathFor(finalPath);
    this.fd = fs.openSync(this.tempPath, fs.constants.O_WRONLY | TEMP_CREATE, opts.mode ?? 0o644);
    // The mode is the file's, whatever the umask of the service that writes it.
    fs.fchmodSync(this.fd, opts.mode ?? 0o644);
  }

  write(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd!, chunk, off, chunk.length - off);
  }

  commit(): void {
    fs.fsyncSync(this.fd!);
    fs.closeSync(this.fd!);
    this.fd = undefined;
    fs.renameSync(this.tempPath, this.finalPath);
    fsyncDir(path.dirname(this.finalPath));
  }

  abort(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    fs.rmSync(this.tempPath, { force: true });
  }
}

export function writeFileAtomic(finalPath: string, chunks: Uint8Array | Uint8Array[], mode = 0o644): void {
  let w: AtomicWriter | undefined;
  try {
    w = new AtomicWriter(finalPath, { mode });
    for (const c of Array.isArray(chunks) ? chunks : [chunks]) w.write(c);
    w.commit();
  } catch (err) {
    w?.abort();
    throw fsFailure('cannot write', finalPath, err);
  }
}

/**
 * writeFileAtomic with its open, writes and fsyncs on the thread pool (the
 * rename stays on this thread): the caller's thread goes on while the disk
 * works. Resolves once the file and its directory are on disk.
 */
export async function writeFileAtomicAsync(finalPath: string, data: Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempPathFor(finalPath);
  let fd: number | undefined;
  try {
    fd = await fsCall<number>((cb) => fs.open(tmp, fs.constants.O_WRONLY | TEMP_CREATE, mode, cb));
    // The mode is the file's, whatever the umask of the service that writes it.
    fs.fchmodSync(fd, mode);
    const open = fd;
    for (let off = 0; off < data.length; ) off += await fsCall<number>((cb) => fs.write(open, data, off, data.length - off, off, cb));
    await fsCall<void>((cb) => fs.fsync(open, cb));
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, finalPath);
    await fsyncDirAsync(path.dirname(finalPath));
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

import fs from 'node:fs';

// A light pass reads the 128-byte header of each shard. Through the page
// cache the kernel reads ahead 16 KiB or more of each file it opens cold and
// keeps it: more than the 1% of a deep pass's bytes a light pass may cost
// (1 MiB shards), and it evicts what the host had cached. With O_DIRECT the
// device reads one block and nothing is cached. But a direct read ignores the
// cache: on a warm pool it goes to the device for what memory already holds.
// So the reader times its buffered reads: a few slow ones in a row mean the
// files are not in memory, and it reads directly from then on, trying a
// buffered read every RECHECK_EVERY files to see whether that still holds.

/**
 * A buffered 128-byte read from memory takes 1-3 us here; from an NVMe drive
 * some 80, and from a loop device whose image sits in the host's cache 20 or
 * more: anything slower than this did not come from memory.
 */
const COLD_READ_MS = 0.01;
/**
 * Slow buffered reads in a row that make the files cold. One alone says
 * little: a page fault, or another thread scheduled in its place, costs tens
 * of microseconds too, and sending 255 warm files to the device for it made a
 * warm light pass of 1 MiB shards 100x slower (250 us a direct read here).
 */
const COLD_AFTER = 3;
const RECHECK_EVERY = 256;
const BLOCK = 4096;
/**
 * Filesystems that refuse (EINVAL) a direct read smaller than their block
 * but aligned to the device's 512-byte sectors, rather than serve it through
 * the cache: there a 512-byte read is both safe and an eighth of the bytes.
 * Elsewhere (btrfs serves a read below its sector size from the page cache
 * without a word) a direct read is one filesystem block.
 */
const SECTOR_READS_OK = new Set([0xef53 /* ext2/3/4 */, 0x58465342 /* xfs */]);

/** The WebAssembly global (this project's TypeScript lib has no DOM or wasm types). */
const Wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;

export interface HeaderFile {
  fd: number;
  direct: boolean;
}

export class HeaderReads {
  private cold = false;
  private slowInARow = 0;
  private sinceCheck = 0;
  private usable = true;
  /** Page-aligned memory for direct reads: a WebAssembly memory starts on a page. */
  private readonly aligned = Buffer.from(new Wasm.Memory({ initial: 1 }).buffer, 0, BLOCK);
  /** Direct read size per device (st_dev). */
  private readonly sizes = new Map<number, number>();

  constructor(private readonly flags: number) {}

  /** Whether the files read lately came from memory (then a buffered read costs the device nothing). */
  get warm(): boolean {
    return !this.cold;
  }

  /** Opens a shard for its header read, directly when the files look cold. Throws as fs.openSync does. */
  open(file: string): HeaderFile {
    const direct = this.cold && this.usable && ++this.sinceCheck % RECHECK_EVERY !== 0;
    if (!direct) return { fd: fs.openSync(file, this.flags), direct: false };
    try {
      return { fd: fs.openSync(file, this.flags | fs.constants.O_DIRECT), direct: true };
    } catch (err) {
      // EINVAL: this filesystem has no O_DIRECT (tmpfs before Linux 6.6, some FUSE).
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      this.usable = false;
      return { fd: fs.openSync(file, this.flags), direct: false };
    }
  }

  /** Reads up to buf.length bytes from the start of the file into buf; the count read. */
  read(f: HeaderFile, buf: Buffer, file: string, dev: number): number {
    if (f.direct) {
      let size = this.sizes.get(dev);
      if (size === undefined) {
        size = SECTOR_READS_OK.has(fs.statfsSync(file).type) ? 512 : BLOCK;
        this.sizes.set(dev, size);
      }
      let n: number;
      try {
        n = fs.readSync(f.fd, this.aligned, 0, size, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        if (size < BLOCK) {
          // A 4Kn drive under ext4 or xfs: whole blocks only.
          this.sizes.set(dev, BLOCK);
          return this.read(f, buf, file, dev);
        }
        // Refused even a whole block: no direct reads here; this file is read through the cache.
        this.usable = false;
        const fd = fs.openSync(file, this.flags);
        try {
          // Opened again by name: the same checks as the first open had.
          if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error(`${file}: no longer a regular file`), { code: 'ENOTREG' });
          return this.read({ fd, direct: false }, buf, file, dev);
        } finally {
          fs.closeSync(fd);
        }
      }
      return this.aligned.copy(buf, 0, 0, Math.min(n, buf.length));
    }
    const t0 = performance.now();
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(f.fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    if (performance.now() - t0 <= COLD_READ_MS) {
      this.slowInARow = 0;
      this.cold = false;
    } else if (++this.slowInARow >= COLD_AFTER || this.cold) this.cold = true;
    return got;
  }
}

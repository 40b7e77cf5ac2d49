import fs from 'node:fs';
import path from 'node:path';
import { PREFIXES } from '../core/layout';

// A verify thread reads one file at a time, synchronously (PERF-NOTES: the
// fastest way from the page cache). From a cold disk that leaves one read in
// flight per thread, and the device wants several: 8 parallel readers get
// 1.6x more out of it than one. So when a thread's reads show that its data
// is not in memory, it names the files of each slice to the main thread
// before reading them, and the main thread (idle while the threads verify)
// has libuv's pool read them all at once; the thread's own reads then find
// them in the page cache, or wait on a read already under way. From the page
// cache a second read would only cost time: warm data is never fetched ahead.
// A pass reads cold files of 1 to 16 MiB with O_DIRECT instead (see
// DirectReads), and the rest so; a repair rebuilds from what it read
// directly (see sourcesInPlace), with nothing in the page cache to read again.

/** Reads slower than this (bytes per ms) come from the device, not from memory (cold ~0.9, warm >= 4 GB/s here)... */
const COLD_BYTES_PER_MS = 2e6;
/** ...and so do reads that take this long each: from memory a small read takes a few microseconds, from the device hundreds. */
const COLD_MS_PER_READ = 0.05;
/** Reads (and bytes) a judgement takes: a few slices of a small pool, one of a big one. */
const SAMPLE_READS = 16;
const SAMPLE_BYTES = 4 * 2 ** 20;

/**
 * A verify thread's judgement of where its reads come from. Warm, it turns
 * cold only when most reads of a judgement were slow: a few slow ones are a
 * thread preempted on a busy core or pages of a fresh buffer faulted in (a
 * warm pass judged cold once in five runs, by the total time of its first 4
 * MiB, and read ahead from memory). Cold, it turns warm only when the reads'
 * total time is that of memory: fetched ahead, many reads find their data
 * already there, while the pass is still bound by the device.
 */
export class ReadSpeed {
  private reads = 0;
  private slowReads = 0;
  private bytes = 0;
  private ms = 0;
  /** The last reads judged came from the device. */
  cold = false;

  /** What one read took. */
  observe(bytes: number, ms: number): void {
    this.reads++;
    if (slow(bytes, ms)) this.slowReads++;
    this.bytes += bytes;
    this.ms += ms;
  }

  /** At the end of a slice: judge by the reads since the last judgement, once there are enough of them. */
  settle(): void {
    if (this.reads < SAMPLE_READS && this.bytes < SAMPLE_BYTES) return;
    this.cold = this.cold ? slow(this.bytes, this.ms, this.reads) : 2 * this.slowReads > this.reads;
    this.reads = 0;
    this.slowReads = 0;
    this.bytes = 0;
    this.ms = 0;
  }
}

/** `reads` reads of `bytes` in all took `ms`: as long as the device takes, not memory. */
function slow(bytes: number, ms: number, reads = 1): boolean {
  return ms > bytes / COLD_BYTES_PER_MS && ms > reads * COLD_MS_PER_READ;
}

/** Each fetch reads into the same scratch bytes: what lands there is never looked at. */
const SCRATCH_BYTES = 4 * 2 ** 20;
let scratch: Buffer | undefined;

/**
 * Reads the files into the page cache, all in flight at once; a file that
 * cannot be read is left to the check that follows, and so is one whose size
 * `leave` picks (the verify threads read those directly, see DirectReads).
 */
export function fetchAhead(files: string[], leave?: (size: number) => boolean): void {
  const into = (scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES));
  for (const file of files) {
    fs.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK, (err, fd) => {
      if (err) return;
      const more = (e: Error | null, n: number) => {
        if (e || n < into.length) return fs.close(fd, () => undefined);
        fs.read(fd, into, 0, into.length, null, more);
      };
      if (!leave) return fs.read(fd, into, 0, into.length, null, more);
      fs.fstat(fd, (e, st) => (e || leave(st.size) ? fs.close(fd, () => undefined) : fs.read(fd, into, 0, into.length, null, more)));
    });
  }
}

/** Directories listed ahead at once: a few dozen names each... or thousands, in a big pool. */
const LISTS_IN_FLIGHT = 16;

/**
 * Lists every fan-out directory of the disks, prefix by prefix, in the
 * background: cold, a thread's listing of a prefix waited on the device for
 * each of its directories in turn (a quarter of a cold pass over a 1 GiB
 * pool). The names are dropped: what is kept is the kernel's cache of them.
 */
export function listAhead(extentDirs: string[]): void {
  const dirs = PREFIXES.flatMap((p) => extentDirs.map((d) => path.join(d, p)));
  let next = 0;
  const one = (): void => {
    if (next >= dirs.length) return;
    fs.readdir(dirs[next++], () => one());
  };
  for (let i = 0; i < LISTS_IN_FLIGHT; i++) one();
}

/** The files of one directory, read ahead (see fetchAhead); names a reader never takes (temp files) are left. */
export function readAheadDir(dir: string, leave?: (size: number) => boolean): void {
  fs.readdir(dir, (err, names) => {
    if (!err) fetchAhead(names.filter((n) => !n.startsWith('.')).map((n) => path.join(dir, n)), leave);
  });
}

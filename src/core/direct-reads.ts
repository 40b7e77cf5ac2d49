import fs from 'node:fs';
import { alignUp, DIRECT_ALIGN } from './aligned-memory';
import { SharedSlots } from './shared-slots';

// A cold scrub reads each byte once. Through the page cache every 4 KiB of it
// costs a fresh page (allocated, copied out of, evicted later: on this VM each
// a fault the host serves), and what it reads evicts what the host had
// cached. With O_DIRECT the device writes straight into the reader's memory.
// Measured here over the 6.4 GB of shard files of a 4 GiB rs:4+2 pool, cache
// dropped: 8 parallel `cat`s 4.6-5.1 s; whole-file direct reads from one
// thread, 2 to 8 in flight, 3.3-3.9 s and 0.9 s of CPU in all. A direct read
// goes to the device even for what memory holds, so it is for files known
// to be cold: the caller judges that.

/** A file read directly is read whole into one slot: bigger ones are left to the caller's buffered reads. */
export const MAX_DIRECT_FILE = 16 * 2 ** 20;
/**
 * Smaller files gain nothing: cold, 12,288 files of 256 KiB took 2.3-3.2 s
 * read so (4 to 32 in flight per thread) against 1.9-2.2 s through the page
 * cache, read ahead by the main thread; 24,576 of 64 KiB 2.1-3.1 s against
 * 1.7-2.0 s. Files of 1 MiB and more went as fast, or faster, with half the
 * system CPU time.
 */
export const MIN_DIRECT_FILE = 2 ** 20;

/** Whether a file of `size` bytes is one to read directly when cold. */
export const readsDirectly = (size: number) => size >= MIN_DIRECT_FILE && size + 1 <= MAX_DIRECT_FILE;

const DIRECT_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_DIRECT;

/** A file to read and the size it should have. */
export interface SizedFile {
  path: string;
  size: number;
}

/**
 * One thread's direct reads: page-aligned memory lent in slots, a few
 * reads in flight on libuv's pool. `usable` turns false for good when a
 * filesystem refuses O_DIRECT (tmpfs before Linux 6.6, some FUSE).
 */
export class DirectReads {
  readonly slots: SharedSlots;
  usable = true;
  /** Files read directly so far. */
  filesRead = 0;

  constructor(
    bytes: number,
    readonly inFlight: number,
  ) {
    this.slots = new SharedSlots(bytes);
  }

  /** Starts reading `files` in order; an undefined entry is not read (the caller reads it its own way). */
  start(files: (SizedFile | undefined)[]): DirectBatch {
    return new DirectBatch(this, files);
  }
}

/**
 * What became of one file: its first bytes, size + 1 of them where the file
 * has that many (so a longer file shows it; a few more at most, to the end
 * of the last page), or undefined: read it the buffered way.
 */
type Outcome = Buffer | undefined;

/**
 * Reads of a list of files, started in order as slots and the in-flight
 * limit allow, taken in order with get() and handed back with free(). A
 * file gets no direct read (undefined) when it is too big, when its open or
 * read failed in any way (the buffered check that follows says how), or
 * when the files taken and not yet freed hold every slot.
 */
export class DirectBatch {
  private next = 0;
  private running = 0;
  private closing = false;
  private readonly done: (Outcome | null)[];
  private readonly at: number[];
  private waiting: { i: number; wake: () => void } | undefined;
  private idle: (() => void) | undefined;

  constructor(
    private readonly reads: DirectReads,
    private readonly files: (SizedFile | undefined)[],
  ) {
    this.done = files.map(() => null);
    this.at = files.map(() => -1);
    this.pump();
  }

  /** File i's outcome, once its read is over (undefined after a close). Take them in order. */
  async get(i: number): Promise<Outcome> {
    if (this.done[i] === null && !this.closing) {
      await new Promise<void>((wake) => {
        this.waiting = { i, wake };
        this.pump();
      });
    }
    return this.done[i] ?? undefined;
  }

  /** Done with file i's bytes: its slot is lent again. */
  free(i: number): void {
    if (this.at[i] < 0) return;
    this.reads.slots.give(this.at[i]);
    this.at[i] = -1;
    this.pump();
  }

  /** Starts no more reads, waits for those in flight, gives back every slot. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.running > 0) await new Promise<void>((r) => (this.idle = r));
    for (let i = 0; i < this.at.length; i++) this.free(i);
  }

  private pump(): void {
    while (this.next < this.files.length && this.running < this.reads.inFlight && !this.closing) {
      const i = this.next;
      const f = this.files[i];
      if (!f || f.size + 1 > MAX_DIRECT_FILE || !this.reads.usable) {
        this.settle(i, undefined);
        continue;
      }
      const want = alignUp(f.size + 1);
      const at = this.reads.slots.take(want);
      if (at < 0) {
        // The files taken and not freed hold every slot, and the taker waits for this one: it reads it itself.
        if (this.waiting?.i === i) this.settle(i, undefined);
        else if (!this.reads.slots.memory) this.reads.usable = false; // no memory to be had: buffered from now on
        else break;
        continue;
      }
      this.at[i] = at;
      this.next++;
      this.running++;
      readWhole(f.path, Buffer.from(this.reads.slots.memory!, at, want), (got, refused) => {
        this.running--;
        if (refused) this.reads.usable = false;
        if (got) this.reads.filesRead++;
        this.done[i] = got;
        if (!got) this.free(i);
        this.wakeFor(i);
        if (this.running === 0 && this.idle) this.idle();
        this.pump();
      });
    }
  }

  /** File i is not read here: next. */
  private settle(i: number, got: Outcome): void {
    this.done[i] = got;
    this.next = Math.max(this.next, i + 1);
    this.wakeFor(i);
  }

  private wakeFor(i: number): void {
    if (this.waiting?.i !== i) return;
    const { wake } = this.waiting;
    this.waiting = undefined;
    wake();
  }
}

/**
 * Reads a file from its start into `into` (page-aligned, whole pages),
 * to its end or into's end. `refused`: the filesystem has no O_DIRECT.
 */
function readWhole(file: string, into: Buffer, then: (got: Outcome, refused?: boolean) => void): void {
  fs.open(file, DIRECT_FLAGS, (err, fd) => {
    if (err?.code === 'EINVAL') return refusesDirect(file, (refused) => then(undefined, refused));
    if (err) return then(undefined);
    let got = 0;
    const more = (e: NodeJS.ErrnoException | null, n: number): void => {
      if (e || n < 0) return fs.close(fd, () => then(undefined, e?.code === 'EINVAL'));
      got += n;
      // A direct read stops short only at the end of the file (an unaligned count) or of the memory.
      if (n > 0 && got < into.length && got % DIRECT_ALIGN === 0) return void fs.read(fd, into, got, into.length - got, got, more);
      fs.close(fd, () => then(into.subarray(0, got)));
    };
    fs.read(fd, into, 0, into.length, 0, more);
  });
}

/**
 * Whether an EINVAL at a direct open was the filesystem's (no O_DIRECT here)
 * and not the file's: a FIFO or device put in a shard's place since the
 * listing refuses it too, and the buffered check that follows says what it is.
 */
function refusesDirect(file: string, then: (refused: boolean) => void): void {
  fs.open(file, DIRECT_FLAGS & ~fs.constants.O_DIRECT, (err, fd) => {
    if (err) return then(false);
    fs.fstat(fd, (e, st) => fs.close(fd, () => then(!e && st.isFile())));
  });
}

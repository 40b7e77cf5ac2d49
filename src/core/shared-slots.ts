// Memory a verify thread fills and the main thread writes from: a rebuilt
// shard crossed as a fresh buffer of its own (every page of it a fault on
// first touch: a third of a verify thread's time in a repair pass) and was
// copied once more on the main thread into page-aligned memory for O_DIRECT.
// Shared memory crosses by reference, and a WebAssembly.Memory is mapped
// whole, so each slot below starts page-aligned and stays mapped from use to
// use.

import { alignUp, mapSharedAligned } from './aligned-memory';

/**
 * Page-aligned shared memory lent out in slots by offset. The lending thread
 * alone keeps the books; the other side holds a slot until it says it is
 * done with it (give). Nothing is mapped before the first take.
 */
export class SharedSlots {
  private mem: SharedArrayBuffer | undefined;
  /** Free runs of pages, as [start, end) byte offsets, in order. */
  private free: [number, number][] = [];
  private lent = new Map<number, number>();

  constructor(readonly bytes: number) {}

  /** The memory every slot is an offset of (undefined until a take mapped it, or when none could be). */
  get memory(): SharedArrayBuffer | undefined {
    return this.mem;
  }

  /** The offset of a free slot of at least `size` bytes (whole pages), or -1 when none is free or no memory can be had. */
  take(size: number): number {
    if (!this.map()) return -1;
    const want = alignUp(size);
    const i = this.free.findIndex(([s, e]) => e - s >= want);
    if (i < 0) return -1;
    const at = this.free[i][0];
    if (this.free[i][1] - at === want) this.free.splice(i, 1);
    else this.free[i][0] += want;
    this.lent.set(at, want);
    return at;
  }

  /** Takes back the slot at `at`; an offset not lent out is ignored (given twice, or of another memory). */
  give(at: number): void {
    const size = this.lent.get(at);
    if (size === undefined) return;
    this.lent.delete(at);
    const end = at + size;
    let i = this.free.findIndex(([s]) => s > at);
    if (i < 0) i = this.free.length;
    this.free.splice(i, 0, [at, end]);
    // Joined with its neighbours, so a big slot can be had again once the small ones around it are back.
    if (i + 1 < this.free.length && this.free[i + 1][0] === end) this.free[i][1] = this.free.splice(i + 1, 1)[0][1];
    if (i > 0 && this.free[i - 1][1] === at) this.free[i - 1][1] = this.free.splice(i, 1)[0][1];
  }

  /** Bytes lent out now. */
  get out(): number {
    let n = 0;
    for (const size of this.lent.values()) n += size;
    return n;
  }

  private map(): boolean {
    if (this.mem) return true;
    // No address space for it (a tight ulimit -v): the caller does without.
    this.mem = mapSharedAligned(this.bytes);
    if (this.mem) this.free = [[0, this.mem.byteLength]];
    return this.mem !== undefined;
  }
}

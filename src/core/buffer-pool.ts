// Big buffers a hot path takes and gives back, reused: memory touched once
// stays mapped, where a fresh buffer costs a page fault per page (on a VM one
// the host serves too: a repair pass over 1 MiB shards spent a third of its
// verify threads' time allocating and first touching codec buffers).

/**
 * Buffers of `allocate`'s making, reused. At most `budget` bytes are held,
 * but one buffer always may be; a taker past the budget waits for one to come
 * back. All are let go after `idleMs` with none out, so a daemon between
 * passes holds none.
 */
export class BufferPool {
  private free: Buffer[] = [];
  private held = 0;
  private out = 0;
  private waiting: (() => void)[] = [];
  private idle: NodeJS.Timeout | undefined;

  /** `allocate(size)`: a new buffer of at least `size` bytes, or undefined where none can be had. */
  constructor(private readonly budget: number, private readonly allocate: (size: number) => Buffer | undefined, private readonly idleMs = 10_000) {}

  /** A buffer of at least `size` bytes (its whole capacity), or undefined where none can be made. */
  async take(size: number): Promise<Buffer | undefined> {
    for (;;) {
      const b = this.takeNow(size);
      if (b !== null) return b;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** take, but never waiting: undefined also where a buffer would have to come back first. */
  tryTake(size: number): Buffer | undefined {
    return this.takeNow(size) ?? undefined;
  }

  /** take's buffer, or null: past the budget, with none back to make room. */
  private takeNow(size: number): Buffer | undefined | null {
    clearTimeout(this.idle);
    for (;;) {
      const i = this.free.findIndex((b) => b.length >= size);
      if (i >= 0) return this.lend(this.free.splice(i, 1)[0]);
      if (this.held + size <= this.budget || this.held === 0) {
        const b = this.allocate(size);
        if (!b) return undefined;
        this.held += b.length;
        return this.lend(b);
      }
      // Those that are back are too small for this one: one makes room.
      if (this.free.length === 0) return null;
      this.held -= this.free.shift()!.length;
    }
  }

  give(b: Buffer): void {
    this.out--;
    this.free.push(b);
    this.waiting.shift()?.();
    if (this.out === 0) {
      this.idle = setTimeout(() => this.letGo(), this.idleMs);
      this.idle.unref();
    }
  }

  private lend(b: Buffer): Buffer {
    this.out++;
    return b;
  }

  private letGo(): void {
    for (const b of this.free) this.held -= b.length;
    this.free = [];
  }
}

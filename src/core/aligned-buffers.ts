// Direct I/O (O_DIRECT) needs memory aligned to the device's blocks, and a
// Buffer lies wherever malloc put it. A WebAssembly.Memory is mapped whole by
// V8, so its first byte is page-aligned: that is where these buffers come from.

/** What direct I/O aligns to here: a page, which covers 512- and 4096-byte devices alike. */
export const DIRECT_ALIGN = 4096;
const WASM_PAGE = 65536;

/** `n` rounded up to a multiple of DIRECT_ALIGN. */
export const alignUp = (n: number) => Math.ceil(n / DIRECT_ALIGN) * DIRECT_ALIGN;

/**
 * Page-aligned buffers, reused: memory touched once stays mapped (a fresh
 * page costs a fault, on a VM one the host serves too). At most `budget` bytes are held, but one buffer always may be;
 * a taker past the budget waits for one to come back. All are let go after
 * `idleMs` with none out, so a daemon between passes holds none.
 */
export class AlignedBuffers {
  private free: Buffer[] = [];
  private held = 0;
  private out = 0;
  private waiting: (() => void)[] = [];
  private idle: NodeJS.Timeout | undefined;

  constructor(private readonly budget: number, private readonly idleMs = 10_000) {}

  /** A buffer of at least `size` bytes (its whole capacity), or undefined where none can be mapped. */
  async take(size: number): Promise<Buffer | undefined> {
    clearTimeout(this.idle);
    for (;;) {
      const i = this.free.findIndex((b) => b.length >= size);
      if (i >= 0) return this.lend(this.free.splice(i, 1)[0]);
      const bytes = Math.ceil(size / WASM_PAGE) * WASM_PAGE;
      if (this.held + bytes <= this.budget || this.held === 0) {
        const b = mapAligned(bytes);
        if (!b) return undefined;
        this.held += bytes;
        return this.lend(b);
      }
      // Those that are back are too small for this one: one makes room.
      if (this.free.length > 0) this.held -= this.free.shift()!.length;
      else await new Promise<void>((resolve) => this.waiting.push(resolve));
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

// Node's global; the compiler's lib (no DOM) does not declare it.
declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } };

function mapAligned(bytes: number): Buffer | undefined {
  try {
    return Buffer.from(new WebAssembly.Memory({ initial: bytes / WASM_PAGE }).buffer);
  } catch {
    // No address space for it (a tight ulimit -v): the caller writes through the page cache.
    return undefined;
  }
}

// Direct I/O (O_DIRECT) needs memory aligned to the device's blocks, and a
// Buffer lies wherever malloc put it. A WebAssembly.Memory is mapped whole by
// V8, so its first byte is page-aligned: that is where this memory comes from.

/** What direct I/O aligns to here: a page, which covers 512- and 4096-byte devices alike. */
export const DIRECT_ALIGN = 4096;
const WASM_PAGE = 65536;

/** `n` rounded up to a multiple of DIRECT_ALIGN. */
export const alignUp = (n: number) => Math.ceil(n / DIRECT_ALIGN) * DIRECT_ALIGN;

// Node's global; the compiler's lib (no DOM) does not declare it.
declare const WebAssembly: { Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => { buffer: ArrayBuffer } };

/** A page-aligned buffer of at least `size` bytes (whole 64 KiB pages), or undefined where none can be mapped. */
export function mapAligned(size: number): Buffer | undefined {
  try {
    return Buffer.from(new WebAssembly.Memory({ initial: Math.ceil(size / WASM_PAGE) }).buffer);
  } catch {
    // No address space for it (a tight ulimit -v): the caller does without.
    return undefined;
  }
}

/**
 * Page-aligned memory of at least `size` bytes (whole 64 KiB pages) that
 * crosses between threads by reference, or undefined where none can be mapped.
 */
export function mapSharedAligned(size: number): SharedArrayBuffer | undefined {
  const pages = Math.ceil(size / WASM_PAGE);
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer as unknown as SharedArrayBuffer;
  } catch {
    return undefined;
  }
}

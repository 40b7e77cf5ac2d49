// Extent ids as a verify thread collects them for one fan-out prefix (see
// PrefixListing): their 32 bytes in memory outside the V8 heap, numbered in
// the order first seen, looked up by hash, sorted by a native sort. Strings,
// a Set and a Map of them made a million-extent pass allocate 8 MB of a
// thread's heap per prefix, 1.9 MB of it long-lived enough to be promoted.

const ID_BYTES = 32;
const WORDS = ID_BYTES / 4;
/** Numbers fit beside 40 bits of id in a 64-bit sort key. */
const MAX_IDS = 2 ** 24;

export class IdTable {
  count = 0;
  private ids: Buffer;
  /** The same memory as 32-bit words: comparing and hashing without a call per id. */
  private words: Uint32Array;
  /** Open addressing: an id's number + 1, 0 for an empty slot. */
  private slots: Int32Array;
  /** sorted()'s working memory, kept between calls. */
  private keys: BigUint64Array = new BigUint64Array(0);
  private order: Uint32Array = new Uint32Array(0);

  constructor(room = 1024) {
    // A power of two: the hash table's mask relies on it, and doubling keeps it one.
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(2, room)));
    this.ids = Buffer.allocUnsafeSlow(capacity * ID_BYTES);
    this.words = new Uint32Array(this.ids.buffer, this.ids.byteOffset, capacity * WORDS);
    this.slots = new Int32Array(capacity * 2);
  }

  /** The number of the id in `data` at `at`, added if new. */
  add(data: Buffer, at: number): number {
    this.room();
    data.copy(this.ids, this.count * ID_BYTES, at, at + ID_BYTES);
    return this.place();
  }

  /** The same for an id spelt as the 64 lowercase hex digits `text` starts with (a shard file's name). */
  addHex(text: string): number {
    this.room();
    this.ids.write(text, this.count * ID_BYTES, ID_BYTES, 'hex');
    return this.place();
  }

  /** Id number `n` as its 64 hex digits. */
  hex(n: number): string {
    return this.ids.toString('hex', n * ID_BYTES, (n + 1) * ID_BYTES);
  }

  /** The ids' numbers in id order (valid until the table changes). */
  sorted(): Uint32Array {
    const n = this.count;
    if (this.keys.length < n) {
      this.keys = new BigUint64Array(this.ids.length / ID_BYTES);
      this.order = new Uint32Array(this.keys.length);
    }
    // A key is the id's first 40 bits and its number: one native sort, then runs of equal first bits put right.
    const keys = this.keys.subarray(0, n);
    const halves = new Uint32Array(keys.buffer, 0, 2 * n);
    const bytes = this.ids;
    for (let u = 0; u < n; u++) {
      const at = u * ID_BYTES;
      halves[2 * u + 1] = bytes.readUInt32BE(at);
      halves[2 * u] = ((bytes[at + 4] << 24) | u) >>> 0;
    }
    keys.sort();
    const order = this.order.subarray(0, n);
    for (let j = 0; j < n; j++) order[j] = halves[2 * j] & 0xffffff;
    for (let j = 0; j < n; ) {
      let end = j + 1;
      while (end < n && halves[2 * end + 1] === halves[2 * j + 1] && halves[2 * end] >>> 24 === halves[2 * j] >>> 24) end++;
      if (end - j > 1) order.subarray(j, end).sort((a, b) => bytes.compare(bytes, b * ID_BYTES, (b + 1) * ID_BYTES, a * ID_BYTES, (a + 1) * ID_BYTES));
      j = end;
    }
    return order;
  }

  /** Empty again, its memory kept. */
  clear(): void {
    this.count = 0;
    this.slots.fill(0);
  }

  /** Copies id number `n`'s bytes to `target` at `offset`. */
  copy(n: number, target: Buffer, offset: number): void {
    this.ids.copy(target, offset, n * ID_BYTES, (n + 1) * ID_BYTES);
  }

  /** The id just written at the end: its number if it was there already, else the next one. */
  private place(): number {
    const w = this.words;
    const mask = this.slots.length - 1;
    const at = this.count * WORDS;
    // Ids are content hashes: any of their words is a hash already.
    for (let s = w[at + 1] & mask; ; s = (s + 1) & mask) {
      const held = this.slots[s] - 1;
      if (held < 0) {
        this.slots[s] = this.count + 1;
        return this.count++;
      }
      const of = held * WORDS;
      let k = 0;
      while (k < WORDS && w[of + k] === w[at + k]) k++;
      if (k === WORDS) return held;
    }
  }

  /** Room for one more id, the hash table kept at most half full. */
  private room(): void {
    if (this.count >= MAX_IDS) throw new Error(`more than ${MAX_IDS} extent ids under one prefix`);
    if ((this.count + 1) * ID_BYTES <= this.ids.length) return;
    const capacity = (this.ids.length / ID_BYTES) * 2;
    const ids = Buffer.allocUnsafeSlow(capacity * ID_BYTES);
    this.ids.copy(ids, 0, 0, this.count * ID_BYTES);
    this.ids = ids;
    this.words = new Uint32Array(ids.buffer, ids.byteOffset, capacity * WORDS);
    this.slots = new Int32Array(capacity * 2);
    const mask = this.slots.length - 1;
    for (let u = 0; u < this.count; u++) {
      let s = this.words[u * WORDS + 1] & mask;
      while (this.slots[s] !== 0) s = (s + 1) & mask;
      this.slots[s] = u + 1;
    }
  }
}

// A manifest's extents, packed: 32 bytes of id and 4 of length each. As an
// array of {id, length} objects a 2M-extent manifest took ~400 MB of heap; in
// this form it takes 72 MB, off the heap.

export interface ManifestExtent {
  id: string;
  length: number;
}

const ID_BYTES = 32;

/**
 * Room a list may borrow instead of allocating its own, handed on to the next
 * list by a walk that keeps no list past the object it is about (see
 * eachObjectBorrowing): the extent index of a pool of big objects otherwise
 * leaves each object's list (3.6 MB for 100k extents) as garbage outside the
 * V8 heap, which a small heap does not collect before tens of them pile up.
 */
export class ExtentStorage {
  ids: Buffer = Buffer.alloc(0);
  lengths: Uint32Array = new Uint32Array(0);
}

export class ExtentList {
  count = 0;
  private ids: Buffer;
  private lengths: Uint32Array;

  /**
   * `most`: no more extents can come (a decoder knows it from the file size), so growth stops there.
   * `storage`: room borrowed, and grown there when too small; the list is valid until the storage is lent again.
   */
  constructor(
    capacity = 16,
    private readonly most = Infinity,
    private readonly storage?: ExtentStorage,
  ) {
    if (storage && storage.lengths.length >= capacity) {
      this.ids = storage.ids;
      this.lengths = storage.lengths;
      return;
    }
    this.ids = Buffer.alloc(capacity * ID_BYTES);
    this.lengths = new Uint32Array(capacity);
    if (storage) [storage.ids, storage.lengths] = [this.ids, this.lengths];
  }

  static from(extents: Iterable<ManifestExtent>): ExtentList {
    const list = new ExtentList();
    for (const e of extents) list.push(e.id, e.length);
    return list;
  }

  /** `id` is 64 hex digits and `length` below 2^32: the caller has checked both. */
  push(id: string, length: number): void {
    if (this.count === this.lengths.length) this.grow();
    this.ids.write(id, this.count * ID_BYTES, ID_BYTES, 'hex');
    this.lengths[this.count++] = length;
  }

  /** The same, with the id as 32 bytes at `from` in `source`. */
  pushBytes(source: Buffer, from: number, length: number): void {
    if (this.count === this.lengths.length) this.grow();
    source.copy(this.ids, this.count * ID_BYTES, from, from + ID_BYTES);
    this.lengths[this.count++] = length;
  }

  id(i: number): string {
    return this.ids.toString('hex', i * ID_BYTES, (i + 1) * ID_BYTES);
  }

  /**
   * A set key for extent i: the first 16 bytes of its id, as text. Ids are
   * BLAKE3 digests, so half of one is as good a key, at half the memory.
   */
  key(i: number): string {
    return this.ids.toString('latin1', i * ID_BYTES, i * ID_BYTES + 16);
  }

  length(i: number): number {
    return this.lengths[i];
  }

  /** The first byte of extent i's id (its fan-out prefix). */
  firstIdByte(i: number): number {
    return this.ids[i * ID_BYTES];
  }

  /** Copies extent i's id, as 32 bytes, into `target` at `offset`. */
  copyId(i: number, target: Buffer, offset: number): void {
    this.ids.copy(target, offset, i * ID_BYTES, (i + 1) * ID_BYTES);
  }

  indexOf(id: string): number {
    const want = Buffer.from(id, 'hex');
    if (want.length !== ID_BYTES) return -1;
    for (let i = 0; i < this.count; i++) if (this.ids.compare(want, 0, ID_BYTES, i * ID_BYTES, (i + 1) * ID_BYTES) === 0) return i;
    return -1;
  }

  equals(other: ExtentList): boolean {
    if (other.count !== this.count) return false;
    const n = this.count;
    return (
      this.ids.subarray(0, n * ID_BYTES).equals(other.ids.subarray(0, n * ID_BYTES)) &&
      Buffer.from(this.lengths.buffer, 0, n * 4).equals(Buffer.from(other.lengths.buffer, 0, n * 4))
    );
  }

  *[Symbol.iterator](): IterableIterator<ManifestExtent> {
    for (let i = 0; i < this.count; i++) yield { id: this.id(i), length: this.lengths[i] };
  }

  private grow(): void {
    const doubled = Math.max(16, this.lengths.length * 2);
    const capacity = this.most > this.lengths.length ? Math.min(doubled, this.most) : doubled;
    const ids = Buffer.alloc(capacity * ID_BYTES);
    this.ids.copy(ids);
    const lengths = new Uint32Array(capacity);
    lengths.set(this.lengths);
    this.ids = ids;
    this.lengths = lengths;
    if (this.storage) [this.storage.ids, this.storage.lengths] = [ids, lengths];
  }
}

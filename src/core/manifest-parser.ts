import { ExtentList, ExtentStorage } from './extent-list';
import { EXTENT_ID_RE } from './hash';

// A manifest body, parsed as it streams from disk in chunks: memory holds the
// header members, the packed extent list and one unfinished member, never the
// text. The body is one JSON object of scalar members and an "extents" array
// of flat {"id", "length"} objects; anything else is a damaged copy, reported
// with a reason, never a crash.

/** No extent is longer than the largest extent size a pool may have. */
export const MAX_EXTENT_LENGTH = 256 * 1024 * 1024;
/** A header member or extent item longer than this is not one we wrote. */
const MAX_UNIT_BYTES = 256 * 1024;
const MAX_HEADER_BYTES = 1024 * 1024;
/** The shortest extent item, {"id":"<64 hex digits>","length":1}: bounds how many a body can hold. */
const MIN_ITEM_BYTES = 84;
const NUMBER_RE = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

export type Scalar = string | number | boolean | null;

const EMPTY = Buffer.alloc(0);
/** Thrown when a unit runs past the bytes fed so far. */
const MORE = Symbol('more');
/** A member whose value is an object or array where a scalar belongs. */
const NESTED = Symbol('nested');

class Damaged {
  constructor(readonly reason: string) {}
}

const enum State {
  Start,
  FirstMember,
  Member,
  AfterMember,
  FirstItem,
  Item,
  AfterItem,
  Done,
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export class ManifestBodyParser {
  readonly fields = new Map<string, Scalar>();
  /** The extents, when kept; `count` and `total` are known either way. */
  readonly extents: ExtentList | undefined;
  count = 0;
  total = 0;
  sawExtents = false;
  private state = State.Start;
  private work: Buffer = Buffer.alloc(0);
  private pendingBytes = 0;
  /** Whether buf is work's bytes (a pending unit and the chunk after it) or the caller's chunk. */
  private inWork = false;
  private problem: string | undefined;
  private headerBytes = 0;
  private buf: Buffer = EMPTY;
  private pos = 0;

  /** `bodyBytes`: the body's length, which bounds how many extents it can name. */
  constructor(keepExtents: boolean, bodyBytes: number, storage?: ExtentStorage) {
    const most = Math.floor(bodyBytes / MIN_ITEM_BYTES) + 1;
    this.extents = keepExtents ? new ExtentList(Math.min(most, 1024), most, storage) : undefined;
  }

  feed(chunk: Buffer): void {
    if (this.problem !== undefined) return;
    this.inWork = this.pendingBytes > 0;
    this.buf = this.inWork ? this.afterPending(chunk) : chunk;
    this.pendingBytes = 0;
    this.pos = 0;
    try {
      for (;;) {
        this.skipSpace();
        const start = this.pos;
        if (start === this.buf.length) return;
        try {
          this.unit();
        } catch (err) {
          if (err !== MORE) throw err;
          this.keepPending(start);
          return;
        }
        if (this.pos - start > MAX_UNIT_BYTES) throw new Damaged(`unsupported format (a member longer than ${MAX_UNIT_BYTES} bytes)`);
      }
    } catch (err) {
      if (!(err instanceof Damaged)) throw err;
      this.problem = err.reason;
    } finally {
      this.buf = EMPTY;
    }
  }

  /**
   * An unfinished unit waits in `work`, copied (the reader reuses its chunk
   * buffer); the next chunk is appended behind it there, so feeding allocates
   * nothing once `work` has grown to a unit plus a chunk.
   */
  private keepPending(start: number): void {
    const rest = this.buf.length - start;
    if (rest > MAX_UNIT_BYTES) throw new Damaged(`unsupported format (a member longer than ${MAX_UNIT_BYTES} bytes)`);
    if (this.inWork) this.work.copyWithin(0, start, this.buf.length);
    else this.buf.copy(this.ensureWork(rest), 0, start);
    this.pendingBytes = rest;
  }

  private afterPending(chunk: Buffer): Buffer {
    const total = this.pendingBytes + chunk.length;
    const work = this.ensureWork(total);
    chunk.copy(work, this.pendingBytes);
    return work.subarray(0, total);
  }

  private ensureWork(bytes: number): Buffer {
    if (this.work.length < bytes) {
      const grown = Buffer.alloc(Math.max(bytes, this.work.length * 2));
      this.work.copy(grown, 0, 0, this.pendingBytes);
      this.work = grown;
    }
    return this.work;
  }

  /** Undefined when the body was one whole object of the expected shape; else why not. */
  end(): string | undefined {
    if (this.problem !== undefined) return this.problem;
    if (this.pendingBytes || this.state !== State.Done) return 'not valid JSON';
    return undefined;
  }

  private unit(): void {
    switch (this.state) {
      case State.Start:
        if (this.byte() !== 0x7b) throw new Damaged('unsupported format');
        this.state = State.FirstMember;
        return;
      case State.FirstMember:
        if (this.peek() === 0x7d) {
          this.pos++;
          this.state = State.Done;
        } else this.member();
        return;
      case State.Member:
        this.member();
        return;
      case State.AfterMember: {
        const c = this.byte();
        if (c === 0x2c) this.state = State.Member;
        else if (c === 0x7d) this.state = State.Done;
        else throw new Damaged('not valid JSON');
        return;
      }
      case State.FirstItem:
        if (this.peek() === 0x5d) {
          this.pos++;
          this.state = State.AfterMember;
        } else this.item();
        return;
      case State.Item:
        this.item();
        return;
      case State.AfterItem: {
        const c = this.byte();
        if (c === 0x2c) this.state = State.Item;
        else if (c === 0x5d) this.state = State.AfterMember;
        else throw new Damaged('bad extent list');
        return;
      }
      case State.Done:
        throw new Damaged('not valid JSON');
    }
  }

  private member(): void {
    const start = this.pos;
    const key = this.string();
    this.colon();
    if (key === 'extents') {
      if (this.sawExtents) throw new Damaged('not valid JSON (two extent lists)');
      if (this.byte() !== 0x5b) throw new Damaged('unsupported format');
      this.sawExtents = true;
      this.state = State.FirstItem;
      return;
    }
    const value = this.scalar();
    if (value === NESTED) throw new Damaged('unsupported format');
    if (this.fields.has(key)) throw new Damaged(`not valid JSON (two members named ${JSON.stringify(key.slice(0, 64))})`);
    this.headerBytes += this.pos - start;
    if (this.headerBytes > MAX_HEADER_BYTES) throw new Damaged(`unsupported format (a header longer than ${MAX_HEADER_BYTES} bytes)`);
    this.fields.set(key, value);
    this.state = State.AfterMember;
  }

  /**
   * One {"id": ..., "length": ...} item. The common shape, 64 lowercase hex
   * digits and a plain integer, is read straight from the bytes: two million
   * items parse in about a second, where strings and regular expressions per
   * item took four.
   */
  private item(): void {
    if (this.byte() !== 0x7b) throw new Damaged('bad extent list');
    let id: Scalar | typeof ID_IN_SCRATCH | undefined;
    let length: Scalar | undefined;
    this.skipSpace();
    if (this.peek() === 0x7d) throw new Damaged('bad extent list');
    for (;;) {
      this.skipSpace();
      const key = this.itemKey();
      this.colon();
      if (key === 'id') {
        if (id !== undefined) throw new Damaged('bad extent list');
        id = this.hexId() ? ID_IN_SCRATCH : this.itemScalar();
      } else if (key === 'length') {
        if (length !== undefined) throw new Damaged('bad extent list');
        length = this.plainInteger() ?? this.itemScalar();
      } else this.itemScalar();
      this.skipSpace();
      const c = this.byte();
      if (c === 0x7d) break;
      if (c !== 0x2c) throw new Damaged('bad extent list');
    }
    if (id !== ID_IN_SCRATCH) {
      if (typeof id !== 'string' || !EXTENT_ID_RE.test(id)) throw new Damaged('bad extent list');
      this.scratch.write(id, 0, 32, 'hex');
    }
    if (typeof length !== 'number' || !Number.isInteger(length) || length <= 0 || length > MAX_EXTENT_LENGTH) {
      throw new Damaged(`bad extent length ${JSON.stringify(length)}`);
    }
    this.extents?.pushBytes(this.scratch, 0, length);
    this.count++;
    this.total += length;
    this.state = State.AfterItem;
  }

  private readonly scratch = Buffer.alloc(32);

  /** An item's key: "id" and "length" matched on the bytes, any other decoded. */
  private itemKey(): string {
    if (this.keyIs(ID_KEY)) {
      this.pos += ID_KEY.length;
      return 'id';
    }
    if (this.keyIs(LENGTH_KEY)) {
      this.pos += LENGTH_KEY.length;
      return 'length';
    }
    return this.string();
  }

  /** Whether the bytes at pos are `key`; MORE while the bytes fed so far could still be it. */
  private keyIs(key: Buffer): boolean {
    // A byte loop: Buffer#compare with offsets validates its five arguments, and cost more than the parse of the item.
    const buf = this.buf;
    const n = Math.min(key.length, buf.length - this.pos);
    for (let i = 0; i < n; i++) if (buf[this.pos + i] !== key[i]) return false;
    if (n < key.length) throw MORE;
    return true;
  }

  /** True, with the id's 32 bytes in scratch, when the value is "<64 lowercase hex digits>". */
  private hexId(): boolean {
    const buf = this.buf;
    const p = this.pos;
    if (p + 66 > buf.length) throw MORE;
    if (buf[p] !== 0x22 || buf[p + 65] !== 0x22) return false;
    for (let i = 0; i < 32; i++) {
      const hi = HEX[buf[p + 1 + 2 * i]];
      const lo = HEX[buf[p + 2 + 2 * i]];
      if (hi > 15 || lo > 15) return false;
      this.scratch[i] = (hi << 4) | lo;
    }
    this.pos += 66;
    return true;
  }

  /** A positive integer of up to 15 digits followed by a delimiter, else undefined (read it as a scalar). */
  private plainInteger(): number | undefined {
    const buf = this.buf;
    let i = this.pos;
    if (i >= buf.length) throw MORE;
    if (buf[i] < 0x31 || buf[i] > 0x39) return undefined;
    let n = 0;
    for (; i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39; i++) n = n * 10 + (buf[i] - 0x30);
    if (i >= buf.length) throw MORE;
    const c = buf[i];
    if (c === 0x2e || c === 0x65 || c === 0x45 || i - this.pos > 15) return undefined;
    this.pos = i;
    return n;
  }

  private itemScalar(): Scalar {
    const value = this.scalar();
    if (value === NESTED) throw new Damaged('bad extent list');
    return value;
  }

  private colon(): void {
    this.skipSpace();
    if (this.byte() !== 0x3a) throw new Damaged('not valid JSON');
    this.skipSpace();
  }

  private scalar(): Scalar | typeof NESTED {
    const c = this.peek();
    if (c === 0x22) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c === 0x7b || c === 0x5b) return NESTED;
    for (const [word, value] of LITERALS) {
      if (c !== word[0]) continue;
      if (this.pos + word.length > this.buf.length) throw MORE;
      if (!this.buf.subarray(this.pos, this.pos + word.length).equals(word)) break;
      this.pos += word.length;
      return value;
    }
    throw new Damaged('not valid JSON');
  }

  private string(): string {
    if (this.byte() !== 0x22) throw new Damaged('not valid JSON');
    const buf = this.buf;
    const from = this.pos;
    let escaped = false;
    let i = from;
    for (;;) {
      if (i >= buf.length) throw MORE;
      const c = buf[i];
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        i += 2;
      } else if (c < 0x20) throw new Damaged('not valid JSON');
      else i++;
    }
    this.pos = i + 1;
    const text = buf.toString('utf8', from, i);
    if (!escaped) return text;
    try {
      return JSON.parse(`"${text}"`) as string;
    } catch {
      throw new Damaged('not valid JSON');
    }
  }

  private number(): number {
    const buf = this.buf;
    let i = this.pos;
    for (;;) {
      if (i >= buf.length) throw MORE;
      const c = buf[i];
      if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) i++;
      else break;
      if (i - this.pos > 64) throw new Damaged('not valid JSON');
    }
    const text = buf.toString('latin1', this.pos, i);
    if (!NUMBER_RE.test(text)) throw new Damaged('not valid JSON');
    this.pos = i;
    return Number(text);
  }

  private skipSpace(): void {
    while (this.pos < this.buf.length && isSpace(this.buf[this.pos])) this.pos++;
  }

  private peek(): number {
    if (this.pos >= this.buf.length) throw MORE;
    return this.buf[this.pos];
  }

  private byte(): number {
    const c = this.peek();
    this.pos++;
    return c;
  }
}

/** Stands for an id read straight into scratch. */
const ID_IN_SCRATCH = Symbol('id in scratch');
const ID_KEY = Buffer.from('"id"');
const LENGTH_KEY = Buffer.from('"length"');
/** Byte to hex digit value; 255 for anything but 0-9 and a-f (ids are lowercase). */
const HEX = new Uint8Array(256).fill(255);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;

const LITERALS: [Buffer, Scalar][] = [
  [Buffer.from('true'), true],
  [Buffer.from('false'), false],
  [Buffer.from('null'), null],
];

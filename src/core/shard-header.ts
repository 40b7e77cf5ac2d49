import { checksum64 } from './hash';
import { Scheme } from './scheme';

/**
 * The fixed 128-byte header at the start of every shard file. It makes a shard
 * self-describing: from the file alone the scrubber knows its extent, index,
 * scheme and extent length, and can prove both header and payload intact.
 *
 *   0  8  magic "DFSSHRD1"      24  8  extent length (u64 LE)
 *   8  2  format version (1)    32  8  payload length (u64 LE)
 *  10  2  header length (128)   40 32  extent id (raw BLAKE3)
 *  12  1  scheme: 1 mirror 2 rs 72  8  payload XXH3-64
 *  13  1  copies | K            80 40  zero
 *  14  1  0      | M           120  8  XXH3-64 of bytes 0..119
 *  16  2  shard index
 */
export const HEADER_SIZE = 128;
export const SHARD_FORMAT = 1;
const MAGIC = Buffer.from('DFSSHRD1');

export interface ShardHeader {
  extentId: string;
  index: number;
  scheme: Scheme;
  extentLength: number;
  payloadLength: number;
  payloadChecksum: bigint;
}

export function encodeShardHeader(h: ShardHeader): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(b, 0);
  b.writeUInt16LE(SHARD_FORMAT, 8);
  b.writeUInt16LE(HEADER_SIZE, 10);
  if (h.scheme.kind === 'mirror') {
    b.writeUInt8(1, 12);
    b.writeUInt8(h.scheme.copies, 13);
  } else {
    b.writeUInt8(2, 12);
    b.writeUInt8(h.scheme.k, 13);
    b.writeUInt8(h.scheme.m, 14);
  }
  b.writeUInt16LE(h.index, 16);
  b.writeBigUInt64LE(BigInt(h.extentLength), 24);
  b.writeBigUInt64LE(BigInt(h.payloadLength), 32);
  Buffer.from(h.extentId, 'hex').copy(b, 40);
  b.writeBigUInt64LE(h.payloadChecksum, 72);
  b.writeBigUInt64LE(checksum64(b.subarray(0, 120)), 120);
  return b;
}

/** Where the payload's checksum sits in the header. */
export const PAYLOAD_CHECKSUM_AT = 72;
const HEADER_CHECKSUM_AT = 120;

/**
 * The header every sound shard of one extent carries, up to its payload
 * checksum (bytes 0..71: magic, format, scheme, index, lengths, extent id),
 * set to one shard at a time. A file whose header equals it and proves its
 * own checksum decodes to exactly these fields; any other needs decoding.
 */
export class ShardTemplate {
  private readonly bytes: Buffer;
  /** The size a sound shard file has. */
  readonly fileSize: number;

  constructor(scheme: Scheme, extentLength: number, payloadLength: number) {
    this.bytes = encodeShardHeader({ extentId: '0'.repeat(64), index: 0, scheme, extentLength, payloadLength, payloadChecksum: 0n });
    this.fileSize = HEADER_SIZE + payloadLength;
  }

  /** Makes it a header of extent `extentId` (64 hex digits); shard() picks the shard. */
  extent(extentId: string): this {
    this.bytes.write(extentId, 40, 32, 'hex');
    return this;
  }

  shard(index: number): this {
    this.bytes.writeUInt16LE(index, 16);
    return this;
  }

  /** Whether `header` (128 bytes or more) is this one with an intact header checksum. */
  matches(header: Buffer): boolean {
    return (
      this.bytes.compare(header, 0, PAYLOAD_CHECKSUM_AT, 0, PAYLOAD_CHECKSUM_AT) === 0 &&
      checksum64(header.subarray(0, HEADER_CHECKSUM_AT)) === header.readBigUInt64LE(HEADER_CHECKSUM_AT)
    );
  }
}

export type HeaderProblem = 'short' | 'magic' | 'header-checksum' | 'format';

/** Decodes and proves a header; returns what is wrong instead of throwing. */
export function decodeShardHeader(b: Uint8Array): ShardHeader | HeaderProblem {
  if (b.length < HEADER_SIZE) return 'short';
  const buf = Buffer.from(b.buffer, b.byteOffset, HEADER_SIZE);
  if (!buf.subarray(0, 8).equals(MAGIC)) return 'magic';
  if (buf.readBigUInt64LE(120) !== checksum64(buf.subarray(0, 120))) return 'header-checksum';
  if (buf.readUInt16LE(8) !== SHARD_FORMAT || buf.readUInt16LE(10) !== HEADER_SIZE) return 'format';
  const kind = buf.readUInt8(12);
  let scheme: Scheme;
  if (kind === 1 && buf.readUInt8(13) >= 2) scheme = { kind: 'mirror', copies: buf.readUInt8(13) };
  else if (kind === 2 && buf.readUInt8(13) >= 1 && buf.readUInt8(14) >= 1) {
    scheme = { kind: 'rs', k: buf.readUInt8(13), m: buf.readUInt8(14) };
  } else return 'format';
  return {
    extentId: buf.subarray(40, 72).toString('hex'),
    index: buf.readUInt16LE(16),
    scheme,
    extentLength: Number(buf.readBigUInt64LE(24)),
    payloadLength: Number(buf.readBigUInt64LE(32)),
    payloadChecksum: buf.readBigUInt64LE(72),
  };
}

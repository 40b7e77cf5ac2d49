import { xxh3 } from '@node-rs/xxhash';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { formatScheme, Scheme } from './scheme';

// Measured here (bench/, PERF-NOTES): the reused streaming XXH3 runs at ~25 GB/s
// on 4 MiB buffers but costs ~750 ns a call; the one-shot call gives the same
// digest and wins below ~20 KiB. Payload checks are the scrub's hot path.
const STREAMING_THRESHOLD = 20 * 1024;
const streaming = xxh3.Xxh3.withSeed(0n);

/** XXH3-64 of a buffer: the payload and header checksum of shard files. */
export function checksum64(data: Uint8Array): bigint {
  if (data.length < STREAMING_THRESHOLD) return xxh3.xxh64(data);
  streaming.reset();
  streaming.update(data);
  return streaming.digest();
}

const EXTENT_DOMAIN = 'dynamicfs-extent-v1\0';

// One BLAKE3 hasher per thread, reset for each digest: @napi-rs/blake-hash
// 1.3.4 never frees a Blake3Hasher (~2.3 KB each, measured: 600k hashers kept
// 1.4 GB after gc), which made a daemon grow by every manifest it proved.
// A reused hasher holds flat (2M digests: +1 MB). Every digest here is
// synchronous, so no two callers can interleave on it.
const blake3 = new Blake3Hasher();

/**
 * The extent id: BLAKE3 over the scheme and the data. A cryptographic hash, so a
 * rebuilt extent can be proven against its own name; the scheme is hashed in so
 * the same bytes under two schemes are two extents (DESIGN §1).
 */
export function extentId(scheme: Scheme, data: Uint8Array): string {
  blake3.reset();
  blake3.update(Buffer.from(`${EXTENT_DOMAIN}${formatScheme(scheme)}\0`));
  blake3.update(asBuffer(data));
  return blake3.digest('hex');
}

/** BLAKE3 hex of arbitrary bytes (manifest checksums, object file names). */
export function blake3Hex(data: Uint8Array | string): string {
  blake3.reset();
  blake3.update(typeof data === 'string' ? Buffer.from(data) : asBuffer(data));
  return blake3.digest('hex');
}

// A second hasher for digests fed in pieces (manifests streamed to and from
// disk), so a one-shot digest taken between two pieces cannot reset it. One
// piecewise digest at a time: each is taken within one synchronous call.
const pieces = new Blake3Hasher();

/** BLAKE3 over bytes given in pieces; starting another discards this one. */
export function blake3Pieces(): { update(data: Uint8Array): void; hex(): string } {
  pieces.reset();
  return { update: (data) => void pieces.update(asBuffer(data)), hex: () => pieces.digest('hex') };
}

export const EXTENT_ID_RE = /^[0-9a-f]{64}$/;

const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length));

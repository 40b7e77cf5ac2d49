import type * as Xxhash from '@node-rs/xxhash';
import type * as BlakeHash from '@napi-rs/blake-hash';
import { formatScheme, Scheme } from './scheme';
import { lazy } from './lazy';
import { requireNapiPackage } from './napi-package';

// Both addons load on the first digest, not with the module: --help, status
// and a verify thread's start need none of them.
export const xxhash = lazy(() => requireNapiPackage<typeof Xxhash>('@node-rs/xxhash'));
const blakeHash = lazy(() => requireNapiPackage<typeof BlakeHash>('@napi-rs/blake-hash'));

// Measured here (bench/, PERF-NOTES): the reused streaming XXH3 runs at ~25 GB/s
// on 4 MiB buffers but costs ~750 ns a call; the one-shot call gives the same
// digest and wins below ~20 KiB. Payload checks are the scrub's hot path.
const STREAMING_THRESHOLD = 20 * 1024;
const streaming = lazy(() => xxhash().xxh3.Xxh3.withSeed(0n));

/** XXH3-64 of a buffer: the payload and header checksum of shard files. */
export function checksum64(data: Uint8Array): bigint {
  if (data.length < STREAMING_THRESHOLD) return xxhash().xxh3.xxh64(data);
  const s = streaming();
  s.reset();
  s.update(data);
  return s.digest();
}

const EXTENT_DOMAIN = 'dynamicfs-extent-v1\0';

// One BLAKE3 hasher per thread, reset for each digest: @napi-rs/blake-hash
// 1.3.4 never frees a Blake3Hasher (~2.3 KB each, measured: 600k hashers kept
// 1.4 GB after gc), which made a daemon grow by every manifest it proved.
// A reused hasher holds flat (2M digests: +1 MB). Every digest here is
// synchronous, so no two callers can interleave on it.
const blake3 = lazy(() => new (blakeHash().Blake3Hasher)());

/**
 * The extent id: BLAKE3 over the scheme and the data. A cryptographic hash, so a
 * rebuilt extent can be proven against its own name; the scheme is hashed in so
 * the same bytes under two schemes are two extents (DESIGN §1).
 */
export function extentId(scheme: Scheme, data: Uint8Array): string {
  const h = blake3();
  h.reset();
  h.update(Buffer.from(`${EXTENT_DOMAIN}${formatScheme(scheme)}\0`));
  h.update(asBuffer(data));
  return h.digest('hex');
}

/** BLAKE3 hex of arbitrary bytes (manifest checksums, object file names). */
export function blake3Hex(data: Uint8Array | string): string {
  const h = blake3();
  h.reset();
  h.update(typeof data === 'string' ? Buffer.from(data) : asBuffer(data));
  return h.digest('hex');
}

// A second hasher for digests fed in pieces (manifests streamed to and from
// disk), so a one-shot digest taken between two pieces cannot reset it. One
// piecewise digest at a time: each is taken within one synchronous call.
const pieces = lazy(() => new (blakeHash().Blake3Hasher)());

/** BLAKE3 over bytes given in pieces; starting another discards this one. */
export function blake3Pieces(): { update(data: Uint8Array): void; hex(): string } {
  const h = pieces();
  h.reset();
  return { update: (data) => void h.update(asBuffer(data)), hex: () => h.digest('hex') };
}

export const EXTENT_ID_RE = /^[0-9a-f]{64}$/;

const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length));

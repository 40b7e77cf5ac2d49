import type ReedSolomonModule from '@ronomon/reed-solomon';
import { Scheme, shardCount, minShards } from './scheme';
import { lazy } from './lazy';

// @ronomon/reed-solomon (native, SIMD) measured here at ~10 GB/s encoding rs:4+2
// and ~7 GB/s rebuilding two shards, against ~0.7 GB/s for the WASM ports
// (PERF-NOTES.md, bench/). It needs shard sizes that are multiples of 8.
// Loaded on the first encode: a verify thread and a status never encode.
const ReedSolomon = lazy((): typeof ReedSolomonModule => require('@ronomon/reed-solomon'));

const contexts = new Map<string, unknown>();
function context(k: number, m: number): unknown {
  const key = `${k}+${m}`;
  let c = contexts.get(key);
  if (!c) {
    c = ReedSolomon().create(k, m);
    contexts.set(key, c);
  }
  return c;
}

/** Payload bytes of each shard of an extent of the given length. */
export function shardPayloadLength(scheme: Scheme, extentLength: number): number {
  if (scheme.kind === 'mirror') return extentLength;
  return Math.ceil(extentLength / scheme.k / 8) * 8;
}

function rsEncode(k: number, m: number, sources: number, targets: number, data: Buffer, parity: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    ReedSolomon().encode(context(k, m), sources, targets, data, 0, data.length, parity, 0, parity.length, (err: Error | null) =>
      err ? reject(err) : resolve(),
    );
  });
}

/** Cuts an extent into the payloads of all its shards (data shards first). */
export async function encodeExtent(scheme: Scheme, data: Buffer): Promise<Buffer[]> {
  if (scheme.kind === 'mirror') return Array.from({ length: scheme.copies }, () => data);
  const { k, m } = scheme;
  const len = shardPayloadLength(scheme, data.length);
  // A full extent is already k shards laid end to end: encode from it without a copy.
  let dataBuf = data;
  if (data.length !== len * k) {
    dataBuf = Buffer.alloc(len * k);
    data.copy(dataBuf, 0);
  }
  const parity = Buffer.allocUnsafe(len * m);
  let sources = 0;
  for (let i = 0; i < k; i++) sources |= 1 << i;
  let targets = 0;
  for (let i = k; i < k + m; i++) targets |= 1 << i;
  await rsEncode(k, m, sources, targets, dataBuf, parity);
  const out: Buffer[] = [];
  for (let i = 0; i < k; i++) out.push(dataBuf.subarray(i * len, (i + 1) * len));
  for (let i = 0; i < m; i++) out.push(parity.subarray(i * len, (i + 1) * len));
  return out;
}

/**
 * Given the valid payloads (undefined where a shard is missing or bad), returns
 * every shard's payload. Needs at least minShards(scheme) valid ones.
 */
export async function rebuildShards(scheme: Scheme, extentLength: number, shards: (Buffer | undefined)[]): Promise<Buffer[]> {
  if (scheme.kind === 'mirror') {
    const n = shardCount(scheme);
    const good = shards.find((s) => s !== undefined);
    if (!good) throw new Error(`only 0 of ${n} shards valid, need ${minShards(scheme)}`);
    return Array.from({ length: n }, (_, i) => shards[i] ?? good);
  }
  if (shards.every((s) => s !== undefined)) return shards as Buffer[];
  return rebuildInto(scheme, extentLength, (i, dest) => {
    const s = shards[i];
    if (s) s.copy(dest);
    return s !== undefined;
  });
}

/** Bytes of the codec's buffers for one extent: every shard's payload (rebuildInto's `scratch`). */
export function codecBytes(scheme: Scheme, extentLength: number): number {
  return shardPayloadLength(scheme, extentLength) * shardCount(scheme);
}

/**
 * rebuildShards for an erasure-coded extent, with the valid payloads put in
 * place by `fill(index, dest)` (true when it filled dest): a caller reading
 * shard files copies each straight into the codec's buffers, with no buffer
 * of its own per shard. The buffers are `scratch` (codecBytes long at least)
 * when given: the payloads returned are views of it, shard i's at i times the
 * payload length, where `fill` may find one already in place.
 */
export async function rebuildInto(scheme: Scheme, extentLength: number, fill: (index: number, dest: Buffer) => boolean, scratch?: Buffer): Promise<Buffer[]> {
  if (scheme.kind !== 'rs') throw new Error('rebuildInto: a mirror is rebuilt by copying a valid shard');
  const { k, m } = scheme;
  const n = k + m;
  const len = shardPayloadLength(scheme, extentLength);
  if (scratch && scratch.length < len * n) throw new Error(`rebuildInto: scratch of ${scratch.length} bytes, need ${len * n}`);
  // Every data shard is filled or rebuilt, and the extent id proves them: no zeroing. Parity to be rebuilt
  // is zeroed, as it is proven only by the codec that writes it; what `fill` found in place is kept.
  const dataBuf = scratch ? scratch.subarray(0, len * k) : Buffer.allocUnsafe(len * k);
  const parity = scratch ? scratch.subarray(len * k, len * n) : Buffer.alloc(len * m);
  let sources = 0;
  let targets = 0;
  let have = 0;
  for (let i = 0; i < n; i++) {
    const dest = i < k ? dataBuf.subarray(i * len, (i + 1) * len) : parity.subarray((i - k) * len, (i - k + 1) * len);
    if (fill(i, dest)) {
      sources |= 1 << i;
      have++;
    } else {
      targets |= 1 << i;
      if (i >= k && scratch) dest.fill(0);
    }
  }
  if (have < minShards(scheme)) throw new Error(`only ${have} of ${n} shards valid, need ${minShards(scheme)}`);
  if (targets !== 0) await rsEncode(k, m, sources, targets, dataBuf, parity);
  const out: Buffer[] = [];
  for (let i = 0; i < k; i++) out.push(dataBuf.subarray(i * len, (i + 1) * len));
  for (let i = 0; i < m; i++) out.push(parity.subarray(i * len, (i + 1) * len));
  return out;
}

/** The extent's bytes from a full set of payloads. */
export function assembleExtent(scheme: Scheme, extentLength: number, payloads: Buffer[]): Buffer {
  if (scheme.kind === 'mirror') return payloads[0].subarray(0, extentLength);
  const parts = payloads.slice(0, scheme.k);
  const contiguous = parts.every((p, i) => i === 0 || p.buffer === parts[0].buffer && p.byteOffset === parts[i - 1].byteOffset + parts[i - 1].length);
  const joined = contiguous ? Buffer.from(parts[0].buffer, parts[0].byteOffset, parts.length * parts[0].length) : Buffer.concat(parts);
  return joined.subarray(0, extentLength);
}

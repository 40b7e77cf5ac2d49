import { randomBytes, randomInt } from 'node:crypto';

/**
 * Where fault positions and garbage bytes come from. Real bit rot is random,
 * so the default is the system generator; a seed makes a drill repeatable
 * (the same command on the same pool damages the same bits).
 */
export interface Random {
  /** A whole number in [0, n), n <= 2^48. */
  int(n: number): number;
  bytes(n: number): Buffer;
}

export const systemRandom = (): Random => ({
  int: (n) => randomInt(n),
  bytes: (n) => randomBytes(n),
});

/** mulberry32: tiny, fast, and plenty for choosing bit positions; not for secrets. */
export function seededRandom(seed: number): Random {
  let state = (seed % 2 ** 32 ^ Math.floor(seed / 2 ** 32)) | 0;
  const next32 = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    // 53 bits of randomness, so ranges beyond 2^32 bits (large shards) stay uniform.
    int: (n) => Math.floor(((next32() >>> 5) * 2 ** 26 + (next32() >>> 6)) / 2 ** 53 * n),
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i += 4) {
        const v = next32();
        for (let j = 0; j < 4 && i + j < n; j++) b[i + j] = (v >>> (8 * j)) & 0xff;
      }
      return b;
    },
  };
}

/**
 * k distinct numbers from [0, n), ascending (Floyd's algorithm: k draws
 * whatever n is, so flipping a few bits of a huge shard costs nothing).
 */
export function distinctSample(random: Random, n: number, k: number): number[] {
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = random.int(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

import { usageError } from './errors';

/** Per-extent redundancy: N full copies, or K data + M parity Reed-Solomon shards. */
export type Scheme =
  | { kind: 'mirror'; copies: number }
  | { kind: 'rs'; k: number; m: number };

// The limits of @ronomon/reed-solomon (ReedSolomon.MAX_K / MAX_M).
const RS_MAX_K = 24;
const RS_MAX_M = 6;
const MIRROR_MAX_COPIES = 16;

export function parseScheme(text: string, culprit = '--redundancy'): Scheme {
  const mirror = /^mirror:(\d{1,3})$/.exec(text);
  if (mirror) {
    const copies = Number(mirror[1]);
    if (copies < 2 || copies > MIRROR_MAX_COPIES) {
      throw usageError(`${culprit} ${text}: mirror needs 2 to ${MIRROR_MAX_COPIES} copies`);
    }
    return { kind: 'mirror', copies };
  }
  const rs = /^rs:(\d{1,3})\+(\d{1,3})$/.exec(text);
  if (rs) {
    const k = Number(rs[1]);
    const m = Number(rs[2]);
    if (k < 1 || m < 1 || k > RS_MAX_K || m > RS_MAX_M) {
      throw usageError(`${culprit} ${text}: rs needs 1 <= K <= ${RS_MAX_K} and 1 <= M <= ${RS_MAX_M}`);
    }
    return { kind: 'rs', k, m };
  }
  throw usageError(`${culprit} ${JSON.stringify(text)}: unknown redundancy (expected mirror:N or rs:K+M)`);
}

export function formatScheme(s: Scheme): string {
  return s.kind === 'mirror' ? `mirror:${s.copies}` : `rs:${s.k}+${s.m}`;
}

/** How many shard files one extent of this scheme has. */
export function shardCount(s: Scheme): number {
  return s.kind === 'mirror' ? s.copies : s.k + s.m;
}

/** The fewest valid shards from which the extent can be rebuilt. */
export function minShards(s: Scheme): number {
  return s.kind === 'mirror' ? 1 : s.k;
}

export function sameScheme(a: Scheme, b: Scheme): boolean {
  return formatScheme(a) === formatScheme(b);
}

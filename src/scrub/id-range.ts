// Extent ids are BLAKE3 digests, so within a fan-out prefix they spread
// evenly: equal slices of the id space hold about equal numbers of extents,
// and a pass can cut its operations without listing anything first.

/** The ids of one fan-out prefix with lo <= id < hi; hi '' runs to the prefix's end. */
export interface IdRange {
  prefix: string;
  lo: string;
  hi: string;
}

/** Hex digits after the prefix that bound a slice: 2^32 slices per prefix at most. */
const SLICE_DIGITS = 8;
const SLICE_SPACE = 2 ** (4 * SLICE_DIGITS);

/** `prefix` cut into `parts` slices of equal width, in id order. */
export function splitPrefix(prefix: string, parts: number): IdRange[] {
  const n = Math.max(1, Math.min(SLICE_SPACE, Math.floor(parts)));
  const bound = (i: number) => (i === 0 ? prefix : i === n ? '' : prefix + Math.floor((i * SLICE_SPACE) / n).toString(16).padStart(SLICE_DIGITS, '0'));
  return Array.from({ length: n }, (_, i) => ({ prefix, lo: bound(i), hi: bound(i + 1) }));
}

// The extent index as the tests look at it: a bucket's extents as objects by
// id. A pass never builds these (it lists from the records, see
// PrefixListing); the tests compare it with what a pass lists.

import { eachIndexRecord, ExtentIndex, MAX_NAMES } from '../src/scrub/extent-index';

/** One extent as the manifests describe it. */
export interface IndexedExtent {
  id: string;
  scheme: string;
  length: number;
  /** Ordinals of (at most three of) the objects that reference it, in the order first named: objectNames() names them. */
  objects: number[];
}

/** The extents the manifests name under one fan-out prefix, by id; the first record of each says its scheme and length. */
export function readBucket(index: Pick<ExtentIndex, 'dir' | 'schemes' | 'packed'>, prefix: string): Map<string, IndexedExtent> {
  const out = new Map<string, IndexedExtent>();
  eachIndexRecord(index, prefix, (data, at, scheme, length, object) => {
    const id = data.toString('hex', at, at + 32);
    const seen = out.get(id);
    if (seen) {
      if (seen.objects.length < MAX_NAMES && !seen.objects.includes(object)) seen.objects.push(object);
      return;
    }
    out.set(id, { id, scheme: index.schemes[scheme], length, objects: [object] });
  });
  return out;
}

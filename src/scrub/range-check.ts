import { ReadBuffer, ReadPacing } from '../core/shard-file';
import { ExtentIndex } from './extent-index';
import { IdRange } from './id-range';
import { ExtentPlan, ListedDisk, StrayFile } from './inventory';
import { PrefixListing } from './prefix-listing';
import { checkExtent, Depth, ExtentVerdict, ReadAlready, soundFileSize, VerdictMessage, verifyExtent } from './verify';
import { readsDirectly, type DirectReads, type SizedFile } from '../core/direct-reads';

// A verify thread walks a slice of a fan-out prefix itself: it lists the
// prefix (once per prefix, kept for the slices that follow), reads its bucket
// of the extent index, checks the extents in the slice and sends back only
// what is not plainly healthy. Plans and verdicts crossing between threads
// cost more than a light check of the extent itself (profile: cloning and
// rebuilding them took a third of a light pass), so a healthy extent never
// crosses at all: it is counted.

/** Where the thread finds the pool: its online disks and the pass's extent index. */
export interface Walk {
  disks: ListedDisk[];
  index: Pick<ExtentIndex, 'dir' | 'schemes' | 'packed'>;
}

export interface RangeRequest {
  walk: Walk;
  range: IdRange;
  /** Only ids after this one (a resumed pass's cursor). */
  after: string;
  /** Report the prefix's stray files with this slice (one slice per prefix does). */
  strays: boolean;
  /** Ids whose verdicts the pass needs in full even when healthy (open problems, repairs in flight). */
  verbatim: string[];
}

export interface RangeResult {
  /** The extents not plainly healthy, and those asked for verbatim, with their verdicts, in id order. */
  plans: ExtentPlan[];
  verdicts: ExtentVerdict[];
  /** Extents found healthy, every listed file valid, and the bytes their checks read. */
  healthy: number;
  healthyBytes: number;
  /** The last id checked ('' when the slice held none). */
  lastId: string;
  /** Extents no manifest names (judged at the end of the pass). */
  orphans: ExtentPlan[];
  strays: StrayFile[];
}

interface Listing {
  key: string;
  listed: PrefixListing;
  strays: StrayFile[];
}

let last: Listing | undefined;

/** One prefix in id order, listed once for the slices of it this thread gets. */
function listing(walk: Walk, prefix: string): Listing {
  const key = `${walk.index.dir}\0${prefix}`;
  if (last?.key !== key) {
    const strays: StrayFile[] = [];
    // The new listing takes the old one's memory; a failed listing leaves nothing stale behind.
    const spent = last?.listed;
    last = undefined;
    last = { key, listed: PrefixListing.list(walk.disks, walk.index, prefix, strays, spent), strays };
  }
  return last;
}

/** A slice's extents, from the listing: where they start and end in it, and the result to fill. */
function openSlice(req: RangeRequest) {
  const { listed, strays } = listing(req.walk, req.range.prefix);
  const out: RangeResult = { plans: [], verdicts: [], healthy: 0, healthyBytes: 0, lastId: '', orphans: [], strays: req.strays ? strays : [] };
  const { lo, hi } = req.range;
  // Ids after the cursor only: the cursor's own was checked.
  let first = listed.firstAtOrAfter(lo > req.after ? lo : req.after);
  if (first < listed.count && req.after !== '' && listed.id(first) === req.after) first++;
  const end = hi === '' ? listed.count : Math.max(first, listed.firstAtOrAfter(hi));
  return { listed, out, first, end, verbatim: new Set(req.verbatim) };
}

/** An extent's verdict, counted when healthy, kept when not. */
function tally(out: RangeResult, plan: ExtentPlan, v: VerdictMessage | ExtentVerdict): void {
  if (typeof v === 'number') {
    out.healthy++;
    out.healthyBytes += v;
  } else {
    out.plans.push(plan);
    out.verdicts.push(v);
  }
  out.lastId = plan.id;
}

/**
 * Checks every extent of the slice; `stopped` is asked between extents (a
 * cancelled pass drops the slice). `ahead` hears the slice's files before any
 * is read (see prefetch.ts).
 */
export function checkRange(req: RangeRequest, buf: ReadBuffer, pacing: ReadPacing | undefined, depth: Depth, stopped: () => boolean, ahead?: (files: string[]) => void): RangeResult | null {
  const { listed, out, first, end, verbatim } = openSlice(req);
  // Read ahead, the slice's plans are made once, for their files, and kept for the checks.
  const made = ahead ? Array.from({ length: end - first }, (_, k) => listed.plan(first + k)) : undefined;
  if (ahead) ahead(made!.flatMap((p) => p.files.map((f) => f.path)));
  for (let i = first; i < end; i++) {
    const plan = made ? made[i - first] : listed.plan(i);
    if (!plan.scheme) {
      out.orphans.push(plan);
      continue;
    }
    if (stopped()) return null;
    tally(out, plan, verbatim.has(plan.id) ? verifyExtent(plan, buf, pacing, depth) : checkExtent(plan, buf, pacing, depth));
  }
  return out;
}

/**
 * checkRange's deep check of a cold slice: its shard files of 1 to 16 MiB
 * read whole with O_DIRECT, a few in flight, the extents checked in order as
 * their files arrive (see DirectReads). A file not read so (smaller, bigger,
 * not listed as a regular file, a failed read) and every extent that is not
 * plainly sound is read and judged the buffered way, as checkRange would.
 * `probe` paces the first extent's reads, made the buffered way: timed, they
 * show whether the pool has come back into memory, which a direct read
 * cannot. `ahead` hears the slice's other files before any is read (see
 * prefetch.ts): read the buffered way one at a time, they would keep one
 * read in flight. `held` hears each extent found not plainly healthy while
 * its files read directly are still held (a repair takes what it rebuilds
 * from out of them). Undefined, having read nothing, when no file of the
 * slice is for direct reads: checkRange's is the better way there.
 */
export async function checkRangeDirect(
  req: RangeRequest,
  buf: ReadBuffer,
  pacing: ReadPacing | undefined,
  stopped: () => boolean,
  reads: DirectReads,
  probe?: ReadPacing,
  ahead?: (files: string[]) => void,
  held?: (v: ExtentVerdict, plan: ExtentPlan, read: ReadAlready) => void,
): Promise<RangeResult | null | undefined> {
  const { listed, out, first, end, verbatim } = openSlice(req);
  const plans: ExtentPlan[] = [];
  for (let i = first; i < end; i++) plans.push(listed.plan(i));
  const probed = probe ? plans.findIndex((p) => p.scheme !== undefined) : -1;
  const starts: number[] = [];
  const files: (SizedFile | undefined)[] = [];
  plans.forEach((plan) => {
    starts.push(files.length);
    const size = plan.scheme && !verbatim.has(plan.id) ? soundFileSize(plan) : -1;
    for (const f of plan.files) files.push(size >= 0 && f.regular ? { path: f.path, size } : undefined);
  });
  const direct = (f: SizedFile | undefined) => f !== undefined && readsDirectly(f.size);
  if (!files.some(direct)) return undefined;
  // The probed extent's files are read the buffered way, as they come, for the timing.
  if (probed >= 0) files.fill(undefined, starts[probed], starts[probed] + plans[probed].files.length);
  const others = files.filter((f): f is SizedFile => f !== undefined && !direct(f));
  if (ahead && others.length > 0) ahead(others.map((f) => f.path));
  const batch = reads.start(files.map((f) => (direct(f) ? f : undefined)));
  try {
    for (let k = 0; k < plans.length; k++) {
      const plan = plans[k];
      if (!plan.scheme) {
        out.orphans.push(plan);
        continue;
      }
      const read: ReadAlready = [];
      for (let j = 0; j < plan.files.length; j++) read.push(await batch.get(starts[k] + j));
      if (stopped()) return null;
      const paced = k === probed ? probe : pacing;
      const v = verbatim.has(plan.id) ? verifyExtent(plan, buf, paced, 'deep') : checkExtent(plan, buf, paced, 'deep', read);
      tally(out, plan, v);
      if (held && typeof v !== 'number') held(v, plan, read);
      for (let j = 0; j < plan.files.length; j++) batch.free(starts[k] + j);
    }
    return out;
  } finally {
    await batch.close();
  }
}

// How a verify thread lists one fan-out prefix (src/scrub/prefix-listing.ts,
// src/scrub/id-table.ts): ids kept as bytes, numbered as first seen and
// sorted natively, give exactly the plans a listing of strings, a Set and a
// Map gave (the oracle below): every named extent and every shard-like file,
// in id order, each extent's files by disk then as listed, its scheme and
// length from its first record, at most three distinct objects; orphans,
// symlinks, FIFOs and strays as before; ids alike in their first 40 bits put
// in order; a listing that reuses a spent one's memory equals a fresh one.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { scratchDir } from './helpers';
import { canUseLoopDevices, cleanupDrives, makeDrive } from './loop-drives';
import { createPool, openPool } from '../src/core/pool';
import { ExtentList, Manifest, writeManifest, MANIFEST_FORMAT } from '../src/core/manifest';
import { extentsDir } from '../src/core/layout';
import { buildExtentIndex, removeExtentIndex } from '../src/scrub/extent-index';
import { readBucket } from './index-fixtures';
import { ExtentPlan, listedDisks, shardIndex, StrayFile } from '../src/scrub/inventory';
import { IdTable } from '../src/scrub/id-table';
import { listPrefixes, PrefixListing } from '../src/scrub/prefix-listing';
import { checkRange } from '../src/scrub/range-check';
import { ReadBuffer } from '../src/core/shard-file';

const hex = (prefix: string) => prefix + randomBytes(31).toString('hex');
/** Ids that share their first 40 bits (prefix and 4 more bytes) and differ after. */
const alike = (prefix: string, n: number) => {
  const head = prefix + randomBytes(4).toString('hex');
  return Array.from({ length: n }, () => head + randomBytes(27).toString('hex'));
};

test('IdTable: numbers in first-seen order, duplicates found, sorted like the hex strings, reusable', () => {
  // Room for 3 at first (a power of two is made of it), grown many times.
  const table = new IdTable(3);
  for (const round of [0, 1]) {
    table.clear();
    const ids = [...Array.from({ length: 3000 + round * 2000 }, () => hex('ab')), ...alike('ab', 9), ...alike('ab', 3), ...Array.from({ length: 50 }, () => hex('7f'))];
    const first = new Map<string, number>();
    for (let k = 0; k < ids.length * 2; k++) {
      // Every id twice, in a shuffled order, from bytes and from names.
      const id = ids[(k * 7919) % ids.length];
      const n = k % 2 ? table.addHex(`${id}.${k % 10}`) : table.add(Buffer.concat([Buffer.from([k & 0xff]), Buffer.from(id, 'hex')]), 1);
      if (!first.has(id)) first.set(id, first.size);
      assert.is(n, first.get(id), `number of ${id}`);
    }
    assert.is(table.count, new Set(ids).size);
    for (const [id, n] of first) assert.is(table.hex(n), id);
    assert.equal([...table.sorted()].map((n) => table.hex(n)), [...first.keys()].sort());
  }
});

// A pool whose index names extents the disks hold, hold in part, or lack; files no manifest names; strays.
// Its three disks in one directory tree, or one on each drive given.
function listingPool(root: string, diskPaths?: string[]) {
  createPool({ root, ...(diskPaths ? { diskPaths } : { diskCount: 3 }), redundancy: 'mirror:2', extentSize: 4096 });
  const pool = openPool(root);
  const many = [...Array.from({ length: 5000 }, () => hex('ab')), ...alike('ab', 6)];
  const shared = hex('cd');
  const few = [...Array.from({ length: 20 }, () => hex('cd')), ...alike('cd', 4), shared];
  let object = 0;
  const put = (scheme: string, extents: { id: string; length: number }[]) => {
    const m: Manifest = { format: MANIFEST_FORMAT, name: `obj-${object++}`, size: extents.reduce((a, e) => a + e.length, 0), scheme, extentSize: 4096, created: new Date().toISOString(), extents: ExtentList.from(extents) };
    writeManifest(pool, m);
  };
  put('mirror:2', many.slice(0, 4000).map((id, i) => ({ id, length: 1 + (i % 4096) })));
  put('rs:2+1', many.slice(4000).map((id) => ({ id, length: 4096 })));
  put('mirror:2', few.map((id, i) => ({ id, length: 100 + i })));
  // Named by five objects, once twice by the same one: three distinct objects kept, in the order named.
  for (let k = 0; k < 5; k++) put(k === 2 ? 'rs:2+1' : 'mirror:2', [{ id: shared, length: 50 + k }, { id: shared, length: 50 + k }]);
  const disks = listedDisks(pool);
  const dirOf = (disk: number, prefix: string) => path.join(extentsDir(disks[disk].path), prefix);
  for (const d of disks) for (const p of ['ab', 'cd', '00']) fs.mkdirSync(dirOf(d.index, p), { recursive: true });
  const touch = (file: string) => fs.writeFileSync(file, '');
  [...many, ...few].forEach((id, i) => {
    const prefix = id.slice(0, 2);
    // Some extents lack files; most have copies on two disks, some on all three, one a shard 12.
    if (i % 13 === 0) return;
    for (let c = 0; c < (i % 11 === 0 ? 3 : 2); c++) touch(path.join(dirOf((i + c) % 3, prefix), `${id}.${i % 17 === 0 ? 12 : c}`));
  });
  // Orphans (alike ones among them), a symlink and a FIFO named like shards, strays of every kind.
  const orphans = [...Array.from({ length: 40 }, () => hex('ab')), ...alike('ab', 3), hex('cd')];
  for (const [k, id] of orphans.entries()) touch(path.join(dirOf(k % 3, id.slice(0, 2)), `${id}.0`));
  fs.symlinkSync('/etc/hostname', path.join(dirOf(1, 'ab'), `${many[1]}.7`));
  execFileSync('mkfifo', [path.join(dirOf(2, 'cd'), `${few[0]}.7`)]);
  touch(path.join(dirOf(0, 'ab'), `${hex('cd')}.0`));
  touch(path.join(dirOf(0, 'ab'), 'notes.txt'));
  touch(path.join(dirOf(1, 'cd'), `.${few[1]}.0.tmp-123`));
  fs.mkdirSync(path.join(dirOf(2, 'ab'), `${hex('ab')}.1`));
  const index = buildExtentIndex(pool);
  return { pool, disks, dirOf, index, many, few, shared };
}
type ListingPool = ReturnType<typeof listingPool>;
const main = listingPool(path.join(scratchDir('dfs-prefix-listing-'), 'pool'));
const { pool, disks, index, many, few, shared } = main;

/** The listing as one of strings, a Set and a Map made it. */
function oracle(prefix: string, { disks, dirOf, index }: ListingPool = main): { plans: ExtentPlan[]; strays: number } {
  const named = readBucket(index, prefix);
  const files = new Map<string, ExtentPlan['files']>();
  let strays = 0;
  for (const d of disks) {
    const dir = dirOf(d.index, prefix);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const i = shardIndex(e.name);
      if (i < 0 || !e.name.startsWith(prefix)) {
        strays++;
        continue;
      }
      const id = e.name.slice(0, 64);
      const f = { index: i, disk: d.index, path: `${dir}/${e.name}`, ...(e.isFile() ? { regular: true } : {}) };
      files.set(id, [...(files.get(id) ?? []), f]);
    }
  }
  const ids = [...new Set([...named.keys(), ...files.keys()])].sort();
  const plans = ids.map((id): ExtentPlan => {
    const n = named.get(id);
    const f = files.get(id) ?? [];
    return n ? { id, scheme: n.scheme, length: n.length, objects: n.objects.slice(0, 3), files: f } : { id, files: f };
  });
  return { plans, strays };
}

test('the listing gives the plans of a listing of strings, whatever memory it reuses', () => {
  let spent: PrefixListing | undefined;
  // Big, small, empty, big again: each on the memory of the one before.
  for (const prefix of ['ab', 'cd', '00', 'ab', 'cd']) {
    const want = oracle(prefix);
    const strays: StrayFile[] = [];
    const listing = PrefixListing.list(disks, index, prefix, strays, spent);
    const got = Array.from({ length: listing.count }, (_, i) => listing.plan(i));
    assert.equal(got, want.plans, `prefix ${prefix}`);
    assert.is(strays.length, want.strays, `strays of ${prefix}`);
    // Where a slice starts: exact ids, partial ones, before and after them all.
    const ids = want.plans.map((p) => p.id);
    for (const at of ['', prefix, `${prefix}8`, 'ff', ...ids.filter((_, i) => i % 97 === 0), ...ids.slice(-2), `${ids[3] ?? ''}0`]) {
      const k = ids.findIndex((id) => id >= at);
      assert.is(listing.firstAtOrAfter(at), k < 0 ? ids.length : k, `first at or after ${JSON.stringify(at)}`);
    }
    spent = listing;
  }
  // Every prefix from 'ab' on, each on the memory of the one before, as a main-thread walk lists them.
  const walked = [...listPrefixes(pool, index, [], 'ab')];
  assert.is(walked.length, 256 - 0xab);
  assert.equal(walked[0], oracle('ab').plans);
  assert.equal(walked[0xcd - 0xab], oracle('cd').plans);
  assert.ok(walked.every((plans, k) => k === 0 || k === 0xcd - 0xab || plans.length === 0));
  // The index's totals count each extent once, also one an object names twice in a row (adjacent records).
  assert.is(index.extents, many.length + few.length);
  const cd = oracle('cd').plans;
  const s = cd.find((p) => p.id === shared)!;
  assert.is(s.objects!.length, 3, 'five objects name it: three kept');
  assert.ok(cd.some((p) => p.files.some((f) => f.index === 7 && !f.regular)), 'a FIFO is listed, not as a regular file');
  assert.ok(oracle('ab').plans.some((p) => p.files.some((f) => f.index === 7 && !f.regular)), 'a symlink is listed, not as a regular file');
  assert.ok(oracle('ab').plans.filter((p) => p.scheme === 'rs:2+1').length === 1006, 'two schemes in one prefix');
});

test('a slice holds the ids from its start or after the cursor, whichever is later, up to its end', () => {
  const ids = oracle('ab').plans.map((p) => p.id);
  const walk = { disks, index };
  const cases: [string, string, string][] = [
    ['ab', '', ''],
    ['ab', ids[100].slice(0, 6), ''],
    ['ab', ids[100], ids[2000]],
    [ids[100], ids[2000], ids[1500]],
    ['ab', ids[2000], `${ids[3000].slice(0, 5)}`],
    [ids[10], ids[10], ids[11]],
    [ids[ids.length - 1], '', ''],
  ];
  for (const [lo, after, hi] of cases) {
    const r = checkRange({ walk, range: { prefix: 'ab', lo, hi }, after, strays: false, verbatim: [] }, new ReadBuffer(), undefined, 'light', () => false)!;
    // Every file is empty: no extent is plainly healthy, so every one comes back, named or not.
    const got = [...r.plans, ...r.orphans].map((p) => p.id).sort();
    const want = ids.filter((id) => id >= lo && id > after && (hi === '' || id < hi));
    assert.equal(got, want, `lo ${lo.slice(0, 8)} after ${after.slice(0, 8)} hi ${hi.slice(0, 8)}`);
  }
});

test('on one disk each of ext4, xfs and btrfs, the listing is the same as the listing of strings (d_type of each)', () => {
  if (!canUseLoopDevices('a prefix listed on real drives')) return;
  const dir = scratchDir('dfs-prefix-listing-drives-');
  try {
    const drives = (['ext4', 'xfs', 'btrfs'] as const).map((kind) => makeDrive(dir, `d-${kind}`, kind));
    const on = listingPool(path.join(dir, 'pool'), drives.map((d) => d.mountPoint));
    let spent: PrefixListing | undefined;
    for (const prefix of ['ab', 'cd', '00']) {
      const want = oracle(prefix, on);
      spent = PrefixListing.list(on.disks, on.index, prefix, [], spent);
      const listing = spent;
      assert.equal(Array.from({ length: listing.count }, (_, i) => listing.plan(i)), want.plans, `prefix ${prefix}`);
      // The symlink (xfs), the directory named like a shard and the FIFO (btrfs) are told from regular files by d_type there.
      const odd = want.plans.flatMap((p) => p.files.filter((f) => !f.regular).map((f) => `${f.disk}:${f.index}`)).sort();
      assert.equal(odd, { ab: ['1:7', '2:1'], cd: ['2:7'], '00': [] }[prefix], `${prefix}: the files not regular`);
    }
    removeExtentIndex(on.index);
  } finally {
    cleanupDrives();
  }
});

test.after(() => removeExtentIndex(index));

test.run();

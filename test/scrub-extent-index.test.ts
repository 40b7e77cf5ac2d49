// The extent index a pass builds from the manifests (src/scrub/extent-index.ts):
// every named extent lands in the bucket of its first id byte, once however
// many objects share it; manifests listed in rounds on pools of many objects; the names of the objects behind an extent come back
// from the names file for ordinals past the first in-memory block; totals; a
// build that fails part-way leaves nothing behind, and removal takes it all.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { scratchDir } from './helpers';
import { createPool, openPool } from '../src/core/pool';
import { eachObject, ExtentList, Manifest, writeManifest, MANIFEST_FORMAT } from '../src/core/manifest';
import { PREFIXES } from '../src/core/layout';
import { buildExtentIndex, extentIndexDir, objectNames, removeExtentIndex } from '../src/scrub/extent-index';
import { readBucket } from './index-fixtures';

// More objects than one block of in-memory name offsets (1024), with names a
// names file must carry intact.
const OBJECTS = 1100;
const nameOf = (i: number) => (i % 7 === 0 ? `dir/obj ${i} "quoted"\nline` : `obj-${i}`);

const root = path.join(scratchDir('dfs-extent-index-'), 'pool');
createPool({ root, diskCount: 2, redundancy: 'mirror:2', extentSize: 4096 });
const pool = openPool(root);
const shared = randomBytes(32).toString('hex');
/** extent id -> names of the objects that reference it. */
const expected = new Map<string, string[]>();
const lengths = new Map<string, number>();
for (let i = 0; i < OBJECTS; i++) {
  const extents = [{ id: randomBytes(32).toString('hex'), length: 100 + (i % 50) }];
  if (i === 3 || i === 1090) extents.push({ id: shared, length: 4096 });
  const m: Manifest = { format: MANIFEST_FORMAT, name: nameOf(i), size: extents.reduce((a, e) => a + e.length, 0), scheme: 'mirror:2', extentSize: 4096, created: new Date().toISOString(), extents: ExtentList.from(extents) };
  writeManifest(pool, m);
  for (const e of extents) {
    expected.set(e.id, [...(expected.get(e.id) ?? []), m.name]);
    lengths.set(e.id, e.length);
  }
}

test('every extent once, in its bucket, with its objects named; totals count a shared extent once', () => {
  let objects = 0;
  const index = buildExtentIndex(pool, () => objects++);
  try {
    assert.is(objects, OBJECTS, 'every object handed to onObject');
    assert.is(index.extents, OBJECTS + 1);
    // mirror:2: two shards per extent, each a 128-byte header and the whole extent.
    assert.is(index.bytes, [...lengths.values()].reduce((a, len) => a + 2 * (128 + len), 0));
    let seen = 0;
    for (const prefix of PREFIXES) {
      for (const e of readBucket(index, prefix).values()) {
        seen++;
        assert.is(e.id.slice(0, 2), prefix, `${e.id} in bucket ${prefix}`);
        assert.is(e.scheme, 'mirror:2');
        assert.equal(objectNames(index, e.objects).sort(), [...expected.get(e.id)!].sort(), `names of ${e.id}`);
      }
    }
    assert.is(seen, OBJECTS + 1);
    // No bucket reached its flush size: one records file, not a file per bucket.
    assert.ok(index.packed, 'a small index is packed');
    assert.equal(fs.readdirSync(index.dir).sort(), ['names', 'records']);
  } finally {
    removeExtentIndex(index);
  }
  assert.not.ok(fs.existsSync(extentIndexDir(root)), 'removed');
});

test('objects are listed in rounds by leading hex digits past perRound names: same objects, same order', () => {
  const listed = (perRound?: number) => {
    const out: string[] = [];
    eachObject(pool, (o) => out.push(`${o.fileName} ${o.name}`), perRound);
    return out;
  };
  const all = listed();
  assert.is(all.length, OBJECTS);
  assert.equal(all, [...all].sort(), 'file-name order');
  assert.equal(listed(100), all, 'rounds of about 100 names');
  assert.equal(listed(3), all, 'a first byte a round');
  assert.equal(listed(OBJECTS - 1), all, 'two rounds');
});

test('names that appear after the count overfill a round: it is listed a first byte at a time, and every name comes', () => {
  const planted = Array.from({ length: 250 }, (_, i) => `ff${i.toString(16).padStart(2, '0')}${randomBytes(30).toString('hex')}.manifest`).sort();
  const objectsDir = path.join(root, 'disks', 'd0', 'objects');
  const out: string[] = [];
  try {
    eachObject(
      pool,
      (o) => {
        // Planted during the first round: the last round (first byte ff) was counted without them.
        if (out.length === 0) for (const f of planted) fs.writeFileSync(path.join(objectsDir, f), 'not a manifest');
        out.push(o.fileName);
      },
      100,
    );
  } finally {
    for (const f of planted) fs.rmSync(path.join(objectsDir, f), { force: true });
  }
  const before: string[] = [];
  eachObject(pool, (o) => before.push(o.fileName));
  assert.equal(out, [...before, ...planted].sort(), 'the objects and the planted names, each once, in order');
});

test('an index with a full bucket spills to a file per bucket, and reads back the same', () => {
  const bigRoot = path.join(scratchDir('dfs-extent-index-big-'), 'pool');
  createPool({ root: bigRoot, diskCount: 2, redundancy: 'mirror:2', extentSize: 4096 });
  const big = openPool(bigRoot);
  // 150 extents under one prefix: past the 100 records a bucket holds in memory.
  const ids = Array.from({ length: 150 }, () => `ab${randomBytes(31).toString('hex')}`);
  ids.push(randomBytes(32).toString('hex'));
  ids.forEach((id, i) => {
    const m: Manifest = { format: MANIFEST_FORMAT, name: `big-${i}`, size: 10, scheme: 'mirror:2', extentSize: 4096, created: new Date().toISOString(), extents: ExtentList.from([{ id, length: 10 }]) };
    writeManifest(big, m);
  });
  const index = buildExtentIndex(big);
  try {
    assert.is(index.packed, undefined, 'a bucket filled: spilled');
    assert.ok(fs.existsSync(path.join(index.dir, 'ab')), 'the full bucket has its own file');
    assert.is(index.extents, ids.length);
    const back = PREFIXES.flatMap((prefix) => [...readBucket(index, prefix).keys()]);
    assert.equal(back.sort(), [...ids].sort());
    assert.is(readBucket(index, 'ab').size, 150 + (ids[150].startsWith('ab') ? 1 : 0));
  } finally {
    removeExtentIndex(index);
  }
});

test('a build that fails part-way (here: onObject throws) leaves no index behind', () => {
  let n = 0;
  assert.throws(
    () =>
      buildExtentIndex(pool, () => {
        if (++n === 600) throw new Error('boom');
      }),
    /boom/,
  );
  assert.not.ok(fs.existsSync(extentIndexDir(root)), 'no half-written index');
});

test.run();

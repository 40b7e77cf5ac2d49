// What the main thread and the verify threads exchange, made small: shard
// names are parsed exactly as SHARD_NAME_RE would (fuzzed against it), a
// plan sent without its paths comes back with the very paths the walk built,
// and a verdict sent as a number unpacks to the full verdict it stands for.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { SHARD_NAME_RE, extentsDir } from '../src/core/layout';
import { ExtentPlan, fromWire, shardIndex, toWire } from '../src/scrub/inventory';
import { packVerdict, unpackVerdict, ExtentVerdict } from '../src/scrub/verify';

const ID = '0123456789abcdef'.repeat(4);

/** shardIndex's answer in the regex's terms: [id, index] or null. */
const shardName = (s: string) => {
  const i = shardIndex(s);
  return i < 0 ? null : [s.slice(0, 64), String(i)];
};

const viaRegex = (s: string) => {
  const m = SHARD_NAME_RE.exec(s);
  return m ? [m[1], m[2]] : null;
};

test('shardIndex agrees with SHARD_NAME_RE on edge cases and 200k random names', () => {
  const edge = ['.0', '.00', '.01', '.1', '.10', '.999', '.1000', '.', '.a', '.0 ', '.12', '.9', '.-1', '.1e2'].map((t) => ID + t);
  edge.push('A' + ID.slice(1) + '.0', ID.slice(1) + '.0', 'g' + ID.slice(1) + '.1', ID + 'x0', ID + '.0/', '');
  for (const s of edge) assert.equal(shardName(s), viaRegex(s), JSON.stringify(s));
  let seed = 42;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const alphabet = '0123456789abcdef.AgZ/ ';
  for (let i = 0; i < 200_000; i++) {
    let s: string;
    if (rnd(2)) s = ID.slice(0, 60 + rnd(5)) + ID.slice(0, rnd(5)) + '.' + String(rnd(2000)).padStart(rnd(5), '0');
    else s = Array.from({ length: 60 + rnd(12) }, () => alphabet[rnd(alphabet.length)]).join('');
    assert.equal(shardName(s), viaRegex(s), JSON.stringify(s));
  }
});

test('a plan crosses to a verify thread without its paths and comes back with the same ones', () => {
  const disks = ['/srv/pool/disks/d0', '/mnt/disk 1', '/mnt/d2/'];
  const dirs = disks.map(extentsDir);
  const plan: ExtentPlan = {
    id: ID,
    scheme: 'rs:2+1',
    length: 4096,
    objects: [3],
    files: [0, 1, 2].map((i) => ({ index: i, disk: i, path: `${path.join(extentsDir(disks[i]), ID.slice(0, 2))}/${ID}.${i}`, ...(i === 1 ? {} : { regular: true }) })),
  };
  const back = fromWire(structuredClone(toWire(plan)), dirs);
  assert.equal(back.files, plan.files);
  assert.is(back.id, plan.id);
  assert.is(back.scheme, plan.scheme);
  assert.is(back.length, plan.length);
});

test('a healthy verdict travels as its byte count; anything else travels whole', () => {
  const plan: ExtentPlan = { id: ID, scheme: 'mirror:2', length: 10, files: [{ index: 1, disk: 3, path: '/a' }, { index: 0, disk: 0, path: '/b' }] };
  const healthy: ExtentVerdict = {
    id: ID, scheme: 'mirror:2', length: 10, health: 'healthy', valid: [0, 1], bytesRead: 276,
    shards: [{ index: 1, disk: 3, path: '/a', status: 'ok' }, { index: 0, disk: 0, path: '/b', status: 'ok' }],
  };
  assert.is(packVerdict(plan, healthy), 276);
  assert.equal(unpackVerdict(plan, packVerdict(plan, healthy)), healthy);
  const dup: ExtentVerdict = { ...healthy, shards: [healthy.shards[0], { ...healthy.shards[1], status: 'duplicate', detail: 'x' }] };
  assert.is(packVerdict(plan, dup), dup);
  const degraded: ExtentVerdict = { ...healthy, health: 'degraded' };
  assert.is(packVerdict(plan, degraded), degraded);
  assert.is(packVerdict({ ...plan, scheme: undefined }, healthy), healthy, 'an orphan keeps the scheme its headers gave');
});

test.run();

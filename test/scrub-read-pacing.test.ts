// How a paced scrub reads one shard file: in pieces of at most 1 MiB, each
// reported with its size and time (where low and medium intensity sleep), the
// whole file still judged as one; a pacer that stops the read (a cancelled
// pass) stops it with ReadStopped, never with a verdict on the file. The pacing
// table: the background levels are paced, high and max read whole files.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { makePool } from './scrub-fixtures.test';
import { checkShardFile, ReadStopped } from '../src/core/shard-file';
import { pacingFor } from '../src/scrub/pacing';

const MiB = 1024 * 1024;

/** One 4 MiB extent, mirror:2: shard files of 4 MiB + header. */
function bigShard(): { file: string; id: string; index: number; size: number } {
  const fx = makePool({ disks: 2, redundancy: 'mirror:2', extentSize: '4M', objects: [{ name: 'big', size: 4 * MiB }] });
  const s = fx.shards[0];
  return { file: s.path, id: s.extent, index: s.index, size: fs.statSync(s.path).size };
}

const shard = bigShard();

test('paced: reads of at most 1 MiB, each reported with bytes and time, adding up to the file; the shard is proven whole', () => {
  const reads: { bytes: number; ms: number }[] = [];
  const r = checkShardFile(shard.file, shard.id, shard.index, undefined, { chunk: MiB, after: (bytes, ms) => reads.push({ bytes, ms }) });
  assert.ok(r.ok, r.ok ? "" : `${r.problem}: ${r.detail}`);
  assert.ok(reads.length >= 5, `${reads.length} reads for ${shard.size} bytes`);
  assert.ok(reads.every((x) => x.bytes > 0 && x.bytes <= MiB && x.ms >= 0), JSON.stringify(reads));
  assert.is(reads.reduce((a, x) => a + x.bytes, 0), shard.size);
});

test('unpaced: one read of the whole file', () => {
  const reads: number[] = [];
  const r = checkShardFile(shard.file, shard.id, shard.index, undefined, { chunk: 0, after: (bytes) => reads.push(bytes) });
  assert.ok(r.ok);
  assert.equal(reads, [shard.size]);
});

test('a pacer that stops the read throws ReadStopped: no verdict, not "unreadable"', () => {
  let calls = 0;
  assert.throws(
    () =>
      checkShardFile(shard.file, shard.id, shard.index, undefined, {
        chunk: MiB,
        after: () => {
          if (++calls === 2) throw new ReadStopped();
        },
      }),
    (err: unknown) => err instanceof ReadStopped,
  );
  assert.is(calls, 2, 'reading stopped at once');
});

test('the table: low and medium are paced (low the most), high and max read flat out', () => {
  assert.ok(pacingFor('low').tranquility > pacingFor('medium').tranquility, 'low idles longer than medium');
  assert.ok(pacingFor('medium').tranquility > 0);
  assert.is(pacingFor('high').tranquility, 0);
  assert.is(pacingFor('max').tranquility, 0);
});

test.run();

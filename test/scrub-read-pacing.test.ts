// How a paced scrub reads one shard file: in pieces of at most 1 MiB, each
// reported with its size and time (where low and medium intensity sleep), the
// whole file still judged as one; a pacer that stops the read (a cancelled
// pass) stops it with ReadStopped, never with a verdict on the file. The verify
// threads' ReadPacer: idle T times each read's time (capped), the rate cap, and
// the abort flag. The pacing table: the background levels are paced, high and
// max read whole files. (Sleeps are checked by lower bounds, with loose upper
// ones: they prove the pacer waits, not how fast this machine is.)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { makePool } from './scrub-fixtures.test';
import { checkShardFile, ReadStopped } from '../src/core/shard-file';
import { pacingFor } from '../src/scrub/pacing';
import { MAX_IDLE_MS, PACED_CHUNK, ReadPacer } from '../src/scrub/read-pacer';

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

const flag = () => new Int32Array(new SharedArrayBuffer(4));
const timed = (fn: () => void) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};

test('ReadPacer: unpaced reads the whole file; tranquility idles T times the read time, at most MAX_IDLE_MS', () => {
  const pacer = new ReadPacer(flag());
  assert.is(pacer.pacing(0, 0).chunk, 0);
  const low = pacer.pacing(0, 20);
  assert.is(low.chunk, PACED_CHUNK);
  const idle = timed(() => low.after(PACED_CHUNK, 5));
  assert.ok(idle >= 95 && idle < 1000, `a 5 ms read at T=20 idles ~100 ms: ${idle.toFixed(0)} ms`);
  const capped = timed(() => low.after(PACED_CHUNK, 1000));
  assert.ok(capped >= MAX_IDLE_MS - 5 && capped < MAX_IDLE_MS + 1000, `a 1 s read at T=20 idles ${MAX_IDLE_MS} ms, not 20 s: ${capped.toFixed(0)} ms`);
});

test('ReadPacer: the rate cap holds 3 MiB at 10 MiB/s to >= ~0.2 s (100 ms burst)', () => {
  const capped = new ReadPacer(flag()).pacing(10 * MiB, 0);
  assert.is(capped.chunk, PACED_CHUNK);
  const ms = timed(() => {
    for (let i = 0; i < 3; i++) capped.after(MiB, 0);
  });
  assert.ok(ms >= 190 && ms < 2000, `${ms.toFixed(0)} ms`);
});

test('ReadPacer: with the abort flag set, the next read stops with ReadStopped at once, paced or not', () => {
  const f = flag();
  const pacer = new ReadPacer(f);
  Atomics.store(f, 0, 1);
  for (const p of [pacer.pacing(0, 0), pacer.pacing(0, 20), pacer.pacing(MiB, 20)]) {
    const ms = timed(() => assert.throws(() => p.after(MiB, 1000), (err: unknown) => err instanceof ReadStopped));
    assert.ok(ms < 500, `stopped after ${ms.toFixed(0)} ms`);
  }
});

test.run();

// Pool section of the benchmarks: how fast dfs-pool stores and reads a 1 GiB
// object, and how fast the Reed-Solomon code runs, each next to `cat` of the
// same bytes in the same run (hot page cache), so the ratio survives a change
// of machine better than the absolute number does.
//
//   node dist/bench/run.js pool
//
// Environment: DFS_BENCH_BYTES (default 1 GiB, a multiple of 4 MiB),
// DFS_BENCH_REPEAT (timed runs of cat, median taken; default 3), TMPDIR (where
// the scratch directory goes; it is removed afterwards).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeExtent, rebuildShards } from '../src/core/erasure';
import { Scheme } from '../src/core/scheme';

import { benchScratch, envInt, GiB, gbps, makeRandomFile, median, MiB, now, row, sameBytes, timed } from './measure';
const CHUNK = 4 * MiB; // rs:4+2 with 1 MiB shards: one extent of 4 MiB
const DFS_POOL = path.resolve(__dirname, '..', 'src', 'cli', 'dfs-pool.js');

export async function poolBench(): Promise<void> {
  const bytes = envInt('DFS_BENCH_BYTES', GiB);
  if (bytes % CHUNK !== 0) throw new Error(`DFS_BENCH_BYTES=${bytes}: must be a multiple of 4 MiB`);
  const repeat = envInt('DFS_BENCH_REPEAT', 3);
  if (!fs.existsSync(DFS_POOL)) throw new Error(`${DFS_POOL} is not built (make build)`);

  const base = os.tmpdir();
  const st = fs.statfsSync(base);
  const need = bytes * 6; // the file, a mirror:2 pool (2x), an rs:4+2 pool (1.5x), one OUT copy, slack
  if (st.bavail * st.bsize < need) {
    throw new Error(`${base}: ${(st.bavail * st.bsize / GiB).toFixed(1)} GiB free, the pool bench needs ${(need / GiB).toFixed(1)} GiB`);
  }
  const { dir, done } = benchScratch(base, 'dfs-bench-pool-');
  try {
    const file = path.join(dir, 'random.bin');
    let t0 = now();
    makeRandomFile(file, bytes);
    console.log(`scratch ${dir} (${os.cpus().length} CPUs, node ${process.version}); GB/s = 1e9 bytes/s`);
    console.log(`made ${(bytes / GiB).toFixed(2)} GiB of random bytes in ${(now() - t0).toFixed(1)} s`);

    // Baseline: cat of the same bytes, page cache warm.
    const devNull = fs.openSync('/dev/null', 'w');
    let catGBps: number;
    try {
      await timed('cat', [file], ['ignore', devNull, 'inherit']); // warm the cache
      const times: number[] = [];
      for (let i = 0; i < repeat; i++) times.push(await timed('cat', [file], ['ignore', devNull, 'inherit']));
      const t = median(times);
      catGBps = gbps(bytes, t);
      row(`cat FILE > /dev/null (median of ${repeat})`, bytes, t);

      for (const [scheme, disks] of [
        ['mirror:2', 6],
        ['rs:4+2', 6],
      ] as const) {
        const pool = path.join(dir, `pool-${scheme.replace(/\W/g, '')}`);
        await timed(process.execPath, [DFS_POOL, 'create', '--pool', pool, '--disks', String(disks), '--redundancy', scheme]);
        const tPut = await timed(process.execPath, [DFS_POOL, 'put', '--pool', pool, file, 'obj']);
        row(`dfs-pool put ${scheme} (${disks} disks)`, bytes, tPut, catGBps);
        const tGetNull = await timed(process.execPath, [DFS_POOL, 'get', '--pool', pool, 'obj'], ['ignore', devNull, 'inherit']);
        row(`dfs-pool get ${scheme} > /dev/null`, bytes, tGetNull, catGBps);
        const out = path.join(dir, 'out.bin');
        const tGetFile = await timed(process.execPath, [DFS_POOL, 'get', '--pool', pool, 'obj', out]);
        row(`dfs-pool get ${scheme} OUT (with fsync)`, bytes, tGetFile, catGBps);
        if (!sameBytes(file, out)) throw new Error(`get ${scheme}: OUT differs from the file put`);
        fs.rmSync(out);
        fs.rmSync(pool, { recursive: true, force: true });
      }
    } finally {
      fs.closeSync(devNull);
    }

    // Reed-Solomon rs:4+2 over the same bytes, 4 MiB extents = 1 MiB shards,
    // one extent at a time as put and get do it. Only the codec calls are timed.
    const scheme: Scheme = { kind: 'rs', k: 4, m: 2 };
    const chunk = Buffer.allocUnsafe(CHUNK + 64).subarray(64, 64 + CHUNK);
    const fd = fs.openSync(file, 'r');
    let tEncode = 0;
    let tRebuild = 0;
    let checked = false;
    try {
      for (let off = 0; off < bytes; off += CHUNK) {
        fs.readSync(fd, chunk, 0, CHUNK, off);
        t0 = now();
        const shards = await encodeExtent(scheme, chunk);
        tEncode += now() - t0;
        // Two data shards lost: the costly rebuild (parity alone would be a re-encode).
        const have: (Buffer | undefined)[] = shards.map((s, i) => (i === 0 || i === 1 ? undefined : s));
        t0 = now();
        const rebuilt = await rebuildShards(scheme, CHUNK, have);
        tRebuild += now() - t0;
        if (!checked) {
          if (shards[0].length !== MiB) throw new Error(`shard size ${shards[0].length}, expected 1 MiB`);
          if (!rebuilt[0].equals(shards[0]) || !rebuilt[1].equals(shards[1])) throw new Error('rebuild does not give back the lost shards');
          checked = true;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    row('rs:4+2 encodeExtent, 1 MiB shards', bytes, tEncode, catGBps);
    row('rs:4+2 rebuildShards, 2 data shards lost', bytes, tRebuild, catGBps);
  } finally {
    done();
  }
}

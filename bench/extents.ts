// Extents section: passes over a pool of many small extents, where the cost
// per extent (listing, opening, messages between threads) is what counts,
// not bytes. A mirror:2 pool of 4 KiB extents (two shard files each), built
// in memory (DFS_BENCH_FAST_DIR, default /dev/shm: building a million extents
// on a disk with fsync takes hours), scrubbed light and deep at --intensity
// max from the page cache. Targets: light >= 50,000 extents/s and deep >=
// 20,000 extents/s at a million extents.
//
//   node dist/bench/run.js extents     (DFS_BENCH_EXTENTS, default 1000000; DFS_BENCH_REPEAT)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { benchScratch, envInt, fastDir, makeRandomFile, median, MiB, now } from './measure';

const CLI = (name: string) => path.resolve(__dirname, '..', 'src', 'cli', `${name}.js`);
const PER_OBJECT = 100_000;
const EXTENT = 4096;

function run(cli: string, args: string[]): string {
  const r = spawnSync(process.execPath, [CLI(cli), ...args], { encoding: 'utf8', maxBuffer: 256 * MiB });
  if (r.status !== 0 && !(cli === 'dfs-scrub' && r.status !== null && r.status < 8)) throw new Error(`${cli} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}


export async function extentsBench(): Promise<void> {
  let extents = envInt('DFS_BENCH_EXTENTS', 1_000_000);
  const repeat = envInt('DFS_BENCH_REPEAT', 3);
  const base = fastDir();
  const st = fs.statfsSync(base);
  const perExtent = 2 * 8192 + 600; // two shard files (4 KiB + header: two pages on tmpfs) and their share of manifests
  const room = Math.floor((st.bavail * st.bsize - PER_OBJECT * EXTENT * 2) / perExtent);
  if (room < extents) {
    console.log(`${base}: room for ${room} extents, not ${extents}: measuring ${Math.max(room, 0)} (set DFS_BENCH_FAST_DIR)`);
    extents = Math.max(0, room - (room % 1000));
    if (extents < 10_000) throw new Error(`${base}: too little space for the extents bench`);
  }
  const { dir, done } = benchScratch(base, 'dfs-bench-extents-');
  try {
    const pool = path.join(dir, 'pool');
    const t0 = now();
    run('dfs-pool', ['create', '--pool', pool, '--disks', '6', '--redundancy', 'mirror:2', '--extent-size', String(EXTENT)]);
    const src = path.join(dir, 'object.bin');
    for (let i = 0, left = extents; left > 0; i++, left -= PER_OBJECT) {
      makeRandomFile(src, Math.min(PER_OBJECT, left) * EXTENT); // fresh bytes: no extent stored twice
      run('dfs-pool', ['put', src, `obj-${i}`, '--pool', pool]);
    }
    fs.rmSync(src);
    console.log(`built a mirror:2 pool of ${extents} extents of 4 KiB in ${base} in ${(now() - t0).toFixed(0)} s (${os.cpus().length} CPUs, node ${process.version})`);
    for (const [what, args, target] of [
      ['light', ['--light'], 50_000],
      ['deep', [], 20_000],
    ] as const) {
      const runs = Array.from({ length: repeat }, () => {
        const w0 = now();
        const report = JSON.parse(run('dfs-scrub', ['--pool', pool, '--intensity', 'max', '--json', ...args]));
        return { wall: now() - w0, pass: report.durationSeconds as number, scanned: report.extents.scanned as number };
      });
      const pass = median(runs.map((r) => r.pass));
      const wall = median(runs.map((r) => r.wall));
      const rate = runs[0].scanned / pass;
      console.log(
        `${what} pass (warm, max): ${runs[0].scanned} extents in ${pass.toFixed(2)} s: ${Math.round(rate)} extents/s ` +
          `(target >= ${target.toLocaleString('en')}/s: ${rate >= target ? 'met' : 'missed'}); whole command ${wall.toFixed(2)} s, median of ${repeat}`,
      );
    }
  } finally {
    done();
  }
}

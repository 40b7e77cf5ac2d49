// Extents section: passes over a pool of many small extents, where the cost
// per extent (listing, opening, messages between threads) is what counts,
// not bytes. A mirror:2 pool of 4 KiB extents (two shard files each), built
// in memory (DFS_BENCH_FAST_DIR, default /dev/shm: building a million extents
// on a disk with fsync takes hours), scrubbed light and deep at --intensity
// max from the page cache. Targets: light >= 50,000 extents/s and deep >=
// 20,000 extents/s at a million extents. Then a daemon at max scrubs the same
// pool, and a pool of 10k extents for comparison: its peak resident memory
// (VmHWM) <= 120 MB and within 10% of its peak at 10k; its slowest control
// socket answer during the pass <= 50 ms; a /metrics scrape of dfs-metrics
// <= 50 ms and `dynamicfs status` <= 200 ms while it runs.
//
//   node dist/bench/run.js extents     (DFS_BENCH_EXTENTS, default 1000000; DFS_BENCH_REPEAT)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { benchScratch, envInt, fastDir, makeRandomFile, median, MiB, now } from './measure';
import { control, procStatus, startDaemon } from './daemon-probe';

const CLI = (name: string) => path.resolve(__dirname, '..', 'src', 'cli', `${name}.js`);
const PER_OBJECT = 100_000;
const EXTENT = 4096;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A mirror:2 pool of `extents` 4 KiB extents, in objects of at most PER_OBJECT extents. */
function buildPool(pool: string, dir: string, extents: number): void {
  run('dfs-pool', ['create', '--pool', pool, '--disks', '6', '--redundancy', 'mirror:2', '--extent-size', String(EXTENT)]);
  const src = path.join(dir, 'object.bin');
  for (let i = 0, left = extents; left > 0; i++, left -= PER_OBJECT) {
    makeRandomFile(src, Math.min(PER_OBJECT, left) * EXTENT); // fresh bytes: no extent stored twice
    run('dfs-pool', ['put', src, `obj-${i}`, '--pool', pool]);
  }
  fs.rmSync(src);
}

/** dfs-metrics serving the pool on a free loopback port: its base URL and a stop. */
async function startExporter(pool: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [CLI('dfs-metrics'), '--pool', pool, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /status page (http:\/\/\S+)\//.exec(err);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`dfs-metrics exited ${code}: ${err}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;

/** One full daemon pass at max over the pool, watched from outside: peak memory, control answers, scrapes, status. */
async function daemonPass(pool: string, extents: number) {
  const d = await startDaemon(pool, ['--intensity', 'max', '--pass-interval', '1h', '--io-pressure-limit', '0']);
  const exporter = await startExporter(pool);
  // This process's first fetch loads its HTTP client (undici): 52-66 ms measured here, which the first scrape
  // timed until a request for a page that does not exist took it first.
  await (await fetch(`${exporter.url}/no-such-page`)).text();
  const answers: number[] = [];
  const scrapes: number[] = [];
  const statuses: number[] = [];
  try {
    for (let i = 0; ; i++) {
      const t0 = now();
      const st = await control(pool, { cmd: 'status' });
      answers.push(now() - t0);
      if (st.phase === 'waiting' && st.lastPass) {
        return { hwm: procStatus(d.pid).hwm, seconds: st.lastPass.durationSeconds, extents, answers, scrapes, statuses };
      }
      if (i % 5 === 2) {
        const s0 = now();
        const res = await fetch(`${exporter.url}/metrics`);
        await res.text();
        scrapes.push(now() - s0);
        const c0 = now();
        run('dynamicfs', ['status', '--pool', pool]);
        statuses.push(now() - c0);
      }
      await sleep(100);
    }
  } finally {
    exporter.stop();
    await d.stop();
  }
}

const worst = (xs: number[]) => Math.max(0, ...xs);

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
    buildPool(pool, dir, extents);
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
    const small = path.join(dir, 'small');
    fs.mkdirSync(small);
    buildPool(path.join(small, 'pool'), small, 10_000);
    const tenK = await daemonPass(path.join(small, 'pool'), 10_000);
    const big = await daemonPass(pool, extents);
    const hwmOk = big.hwm <= 120e6 && big.hwm <= 1.1 * tenK.hwm;
    console.log(
      `daemon at max: ${big.extents} extents in ${big.seconds.toFixed(1)} s (${Math.round(big.extents / big.seconds)}/s); ` +
        `VmHWM ${(big.hwm / 1e6).toFixed(1)} MB, ${(tenK.hwm / 1e6).toFixed(1)} MB at ${tenK.extents} extents ` +
        `(target <= 120 MB and within 10%: ${hwmOk ? 'met' : 'missed'})`,
    );
    const line = (what: string, xs: number[], target: number) =>
      `${what} ${ms(median(xs))} median, ${ms(worst(xs))} worst of ${xs.length} (target <= ${ms(target)}: ${worst(xs) <= target ? 'met' : 'missed'})`;
    console.log(`during that pass: ${line('control answer', big.answers, 0.05)}; ${line('/metrics', big.scrapes, 0.05)}; ${line('dynamicfs status', big.statuses, 0.2)}`);
  } finally {
    done();
  }
}

// Daemon section of the benchmarks: what dfs-scrubd costs the machine.
//
//   rss      resident memory (VmRSS 1 s and 11 s after, VmHWM) of a daemon
//            (with the node flags its wrapper passes) after a full pass over
//            pools of 10k and 200k extents (4 KiB extents, rs:4+2: 60k and
//            1.2M shard files), and the worst control-socket answer time
//            during the pass (an event loop blocked by a big inventory shows
//            here, and would miss systemd watchdog pings).
//            A third pool holds DFS_BENCH_DAEMON_OBJECTS (100k) objects of one
//            extent each: nothing may grow with the object count either.
//            Target: RSS < 120 MB and not growing with the extent count.
//   paused   CPU time (utime+stime from /proc/PID/stat) of a daemon paused in
//            the middle of a pass, over 60 s. Target: ~0.
//   latency  p50/p99/p99.9 of a foreground 4 KiB random-read load
//            (fio --rw=randread --bs=4k --direct=1, queue depth 1) that never
//            pauses, beside a daemon at low intensity scrubbing a cold 1 GiB
//            pool of 4 MiB extents on the same disk, the daemon paused and
//            resumed in turn beneath the one load (bench/fio-load.ts): with
//            its default settings (the load keeps I/O pressure above the
//            limit, so the daemon holds to its floor), with the back-off off
//            (pacing alone), capped, and at medium; MB/s the daemon verified
//            while running. A last slice with the daemon stopped shows that
//            paused costs the load nothing.
//            Target, defaults: >= 10 MB/s verified, and the median over the
//            running slices of each one's p99 rise over the mean of the paused
//            slices either side of it <= 10%. (Separate runs alone differ by
//            up to 16% in p99 here, and the device drifts within a minute:
//            slices of one run, side by side, see the same device.)
//
//   node dist/bench/daemon.js [rss] [paused] [latency]      (default: all)
//   node dist/bench/run.js daemon                           (once registered)
//
// Environment:
//   DFS_BENCH_DAEMON_EXTENTS  extent counts for rss (default 10000,200000)
//   DFS_BENCH_DAEMON_OBJECTS  one-extent objects for rss (default 100000)
//   DFS_BENCH_PAUSED_SECONDS  measuring time for paused (default 60)
//   DFS_BENCH_LATENCY_PAIRS   running slices per daemon, each between two
//                             paused ones (default 10)
//   DFS_BENCH_LATENCY_SLICE_SECONDS  each slice (default 5)
//   DFS_BENCH_LATENCY_CASES   which daemons, comma-separated: defaults, off,
//                             cap, medium (default all)
//   DFS_BENCH_FAST_DIR        where the many-small-file pools go (default
//                             /dev/shm when writable: building 1.2M files on a
//                             disk with fsync takes ~20 min; memory, not disk,
//                             is what rss measures)
//   TMPDIR                    the disk for the latency part (a real disk: the
//                             point is I/O contention)
// Dropping the page cache before the latency runs needs root; without it the
// daemon reads from the cache and the comparison says less (it is printed).

import { spawnSync } from 'node:child_process';
import { asTheWrappersDo, dropCaches, fastDir, makeRandomFile, median } from './measure';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createPool } from '../src/core/pool';
import { putObject } from '../src/core/objects';
import type { DaemonStatus } from '../src/daemon/protocol';
import { control, cpuSeconds, procStatus, startDaemon } from './daemon-probe';
import { holdPhrase } from '../src/daemon/status';
import { FIO_LOAD, Latencies, latenciesWithin, quantile, runLoggedLoad } from './fio-load';

const MiB = 1024 * 1024;
const CLI = path.resolve(__dirname, '..', 'src', 'cli');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e9;

function envNum(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
}

function run(cli: string, args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(CLI, `${cli}.js`), ...args], { encoding: 'utf8', maxBuffer: 64 * MiB, env: { ...process.env, NO_COLOR: '1' } });
  if (r.status !== 0) throw new Error(`${cli} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A pool of `extents` extents of `extentSize` bytes, stored as objects of at most 10k extents each. */
function buildPool(root: string, extents: number, extentSize: number, redundancy = 'rs:4+2'): number {
  const t0 = now();
  run('dfs-pool', ['create', '--pool', root, '--disks', '6', '--redundancy', redundancy, '--extent-size', String(extentSize)]);
  const per = Math.min(extents, Math.max(1, Math.floor((40 * MiB) / extentSize)));
  const src = path.join(path.dirname(root), 'object.bin');
  for (let i = 0, left = extents; left > 0; i++, left -= per) {
    makeRandomFile(src, Math.min(per, left) * extentSize); // fresh bytes: no extent is stored twice
    run('dfs-pool', ['put', src, `obj-${i}`, '--pool', root]);
  }
  fs.rmSync(src);
  return now() - t0;
}

/**
 * A pool of `objects` objects of one 4 KiB extent each, put through the
 * library (a CLI run per object would take hours). Prints what a put costs
 * at the start and at the end: it may not grow with the object count.
 */
async function buildPoolOfObjects(root: string, objects: number): Promise<number> {
  const t0 = now();
  const pool = createPool({ root, diskCount: 6, redundancy: 'rs:4+2', extentSize: 4096 });
  const src = path.join(path.dirname(root), 'object.bin');
  const window = Math.max(1, Math.min(1000, Math.floor(objects / 10)));
  const spent = { first: 0, last: 0 };
  for (let i = 0; i < objects; i++) {
    fs.writeFileSync(src, randomBytes(4096));
    const p0 = now();
    await putObject(pool, src, `obj-${i}`);
    if (i < window) spent.first += now() - p0;
    if (i >= objects - window) spent.last += now() - p0;
  }
  fs.rmSync(src);
  const each = (s: number) => `${((s / window) * 1000).toFixed(1)} ms`;
  console.log(`  a put into that pool: ${each(spent.first)} each over the first ${window}, ${each(spent.last)} over the last ${window} (target: no growth with the object count)`);
  return now() - t0;
}

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

async function rssPart(fastDir: string): Promise<void> {
  const counts = (process.env.DFS_BENCH_DAEMON_EXTENTS || '10000,200000').split(',').map((s) => Number(s.trim()));
  const objects = envNum('DFS_BENCH_DAEMON_OBJECTS', 100_000);
  console.log(`rss: pools in ${fastDir}, 4 KiB extents, rs:4+2; daemon --intensity max, first pass then idle`);
  const cases: [string, (root: string) => Promise<number>][] = [
    ...counts.map((n): [string, (root: string) => Promise<number>] => [`${String(n).padStart(7)} extents in objects of 10k`, async (root) => buildPool(root, n, 4096)]),
    [`${String(objects).padStart(7)} objects of one extent`, (root) => buildPoolOfObjects(root, objects)],
  ];
  for (const [label, build] of cases) {
    const dir = fs.mkdtempSync(path.join(fastDir, 'dfs-bench-daemon-'));
    try {
      const root = path.join(dir, 'pool');
      const built = await build(root);
      const d = await startDaemon(root, ['--intensity', 'max', '--pass-interval', '1h', '--io-pressure-limit', '0']);
      let peakRss = 0;
      let worstAnswer = 0;
      let st: DaemonStatus;
      for (;;) {
        const t0 = now();
        st = await control(root, { cmd: 'status' });
        worstAnswer = Math.max(worstAnswer, now() - t0);
        peakRss = Math.max(peakRss, procStatus(d.pid).rss);
        if (st.phase === 'waiting' && st.lastPass) break;
        await sleep(200);
      }
      await sleep(1000);
      const after = procStatus(d.pid);
      // V8 gives memory back once the daemon has been idle a few seconds.
      await sleep(10_000);
      const idle = procStatus(d.pid);
      const n = st.counters.extentsScanned; // one pass so far
      console.log(
        `  ${label} (built in ${built.toFixed(0)} s): pass ${st.lastPass!.durationSeconds.toFixed(1)} s ` +
          `(${(n / st.lastPass!.durationSeconds).toFixed(0)} extents/s); RSS 1 s after the pass ${mb(after.rss)}, 11 s after ${mb(idle.rss)}; ` +
          `peak sampled ${mb(peakRss)}, VmHWM ${mb(after.hwm)}; slowest status answer during the pass ${(worstAnswer * 1000).toFixed(0)} ms`,
      );
      await d.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

async function pausedPart(fastDir: string): Promise<void> {
  const secs = envNum('DFS_BENCH_PAUSED_SECONDS', 60);
  const dir = fs.mkdtempSync(path.join(fastDir, 'dfs-bench-daemon-'));
  try {
    const root = path.join(dir, 'pool');
    buildPool(root, 10_000, 4096);
    const d = await startDaemon(root, ['--intensity', 'low']);
    await sleep(3000);
    await control(root, { cmd: 'pause' });
    await sleep(1000);
    const c0 = cpuSeconds(d.pid);
    const done0 = (await control(root, { cmd: 'status' })).counters.extentsScanned;
    await sleep(secs * 1000);
    const c1 = cpuSeconds(d.pid);
    const s = await control(root, { cmd: 'status' });
    console.log(
      `paused: CPU ${((c1 - c0) * 1000).toFixed(0)} ms over ${secs} s (${((100 * (c1 - c0)) / secs).toFixed(3)}% of a core); ` +
        `extents scanned meanwhile ${s.counters.extentsScanned - done0}; RSS ${mb(procStatus(d.pid).rss)}`,
    );
    await d.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** fio's file laid out (fio writes it before its first read) and the device warmed up: a short run, its figures unread. */
function layOutLoad(file: string): void {
  const r = spawnSync('fio', [...FIO_LOAD, `--filename=${file}`, '--runtime=2', '--output-format=terse'], { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (r.status !== 0) throw new Error(`fio: ${r.stderr}`);
}

const signedPercent = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(0)}%`;
const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** What the daemon was held to as the load ended: the back-off's phrase, or the throttle reason. */
function heldAs(s: DaemonStatus): string {
  const p = s.ioPressure;
  const hold = p && s.throttled === 'io pressure' ? holdPhrase(p.holding, p.floorBytesPerSecond) : undefined;
  return hold ? `, held: ${hold}` : s.throttled ? `, throttled: ${s.throttled}` : '';
}

/** The daemons the load runs beside: key (for DFS_BENCH_LATENCY_CASES), label, options. */
const LATENCY_CASES: [string, string, string[]][] = [
  ['defaults', 'beside daemon low, defaults', ['--intensity', 'low']],
  ['off', 'beside daemon low, back-off off', ['--intensity', 'low', '--io-pressure-limit', '0']],
  ['cap', 'beside daemon low, off, 10M/s cap', ['--intensity', 'low', '--io-pressure-limit', '0', '--max-rate', '10M']],
  ['medium', 'beside daemon medium, back-off off', ['--intensity', 'medium', '--io-pressure-limit', '0']],
];

function latencyCaseChosen(key: string): boolean {
  const chosen = (process.env.DFS_BENCH_LATENCY_CASES || '').split(',').map((k) => k.trim()).filter(Boolean);
  const unknown = chosen.filter((k) => !LATENCY_CASES.some(([known]) => known === k));
  if (unknown.length) throw new Error(`DFS_BENCH_LATENCY_CASES: unknown ${unknown.join(', ')} (cases: ${LATENCY_CASES.map(([k]) => k).join(', ')})`);
  return chosen.length === 0 || chosen.includes(key);
}

/** Targets for the defaults line. */
const TARGET_MB_S = 10;
const TARGET_P99_RISE = 0.1;
/** The first part of each slice is left out: a pause or resume takes effect within a read (a few ms). */
const SETTLE_MS = 250;

/** A stretch of the load: when (ms since the epoch), and whether the daemon scrubbed through it (and how much). */
interface Slice {
  from: number;
  to: number;
  daemon: 'running' | 'paused' | 'none';
  bytes: number;
}

/** The load's latencies within one slice. */
function sliceLatency(l: Latencies, s: Slice): { p50: number; p99: number; p999: number } {
  const sorted = latenciesWithin(l, s.from, s.to);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), p999: quantile(sorted, 0.999) };
}

/**
 * One load that never pauses, beside one daemon: paused (the slice before the
 * first), then running and paused in turn, `pairs` times, then stopped (a
 * last slice with no daemon at all: a paused daemon costs the load nothing,
 * and this shows it). Each running slice's p99 is held to the mean of the
 * paused slices either side of it.
 */
async function alternate(root: string, target: string, args: string[], pairs: number, sliceMs: number, logPrefix: string) {
  // A fresh pass over cold data, and only this run's options (start keeps saved ones).
  fs.rmSync(path.join(root, '.dynamicfs', 'scrub-state.json'), { force: true });
  fs.rmSync(path.join(root, '.dynamicfs', 'daemon-settings.json'), { force: true });
  dropCaches();
  // A pass that ends (medium reads the pool in seconds) starts again at once, over data dropped from the page cache.
  const d = await startDaemon(root, [...args, '--pass-interval', '1s'], { DFS_PSI_IO_FILE: '' });
  await control(root, { cmd: 'pause' });
  const slicesMs = (2 * pairs + 2) * sliceMs;
  const load = runLoggedLoad(target, Math.ceil((slicesMs + 4000) / 1000), logPrefix);
  await sleep(1000); // fio started and reading; I/O pressure is the load's
  const slices: Slice[] = [];
  let last: DaemonStatus | undefined;
  try {
    for (let i = 0; i <= 2 * pairs; i++) {
      const running = i % 2 === 1;
      if (running) dropCaches();
      if (i > 0) await control(root, { cmd: running ? 'resume' : 'pause' });
      const from = Date.now();
      const b0 = (await control(root, { cmd: 'status' })).counters.bytesRead;
      await sleep(sliceMs);
      last = await control(root, { cmd: 'status' });
      slices.push({ from: from + SETTLE_MS, to: Date.now(), daemon: running ? 'running' : 'paused', bytes: last.counters.bytesRead - b0 });
    }
  } finally {
    await d.stop();
  }
  const from = Date.now();
  await sleep(sliceMs);
  slices.push({ from: from + SETTLE_MS, to: Date.now(), daemon: 'none', bytes: 0 });
  const l = await load;
  const lat = slices.map((s) => sliceLatency(l, s));
  const rises: number[] = [];
  for (let i = 1; i < slices.length - 1; i += 2) {
    const base = (lat[i - 1].p99 + lat[i + 1].p99) / 2;
    rises.push((lat[i].p99 - base) / base);
  }
  const of = (kind: Slice['daemon']) => lat.filter((_, i) => slices[i].daemon === kind);
  const running = slices.filter((s) => s.daemon === 'running');
  const rate = running.reduce((a, s) => a + s.bytes, 0) / (running.reduce((a, s) => a + s.to - s.from + SETTLE_MS, 0) / 1000);
  return { rises, rise: median(rises), rate, running: of('running'), paused: of('paused'), none: of('none')[0], last: last!, requests: l.atMs.length };
}

async function latencyPart(): Promise<void> {
  if (spawnSync('fio', ['--version']).status !== 0) {
    console.log('latency: SKIPPED: fio is not installed (make deps installs it)');
    return;
  }
  const pairs = envNum('DFS_BENCH_LATENCY_PAIRS', 10);
  const sliceMs = envNum('DFS_BENCH_LATENCY_SLICE_SECONDS', 5) * 1000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-bench-daemon-'));
  try {
    const target = path.join(dir, 'fio.dat');
    const root = path.join(dir, 'pool');
    buildPool(root, 256, 4 * MiB); // 1 GiB of data, 1.5 GB of shards
    layOutLoad(target);
    const dropped = dropCaches();
    const cases = LATENCY_CASES.filter(([key]) => latencyCaseChosen(key));
    console.log(
      `latency: fio 4 KiB randread O_DIRECT QD1 that never pauses, in ${dir}, beside a daemon scrubbing a 1 GiB pool of 4 MiB extents rs:4+2 on the same disk, ` +
        `paused and resumed in turn: ${pairs} slices of ${sliceMs / 1000} s running, each held to the paused slices either side (the first ${SETTLE_MS} ms of every slice left out); ` +
        `page cache ${dropped ? 'dropped before each running slice' : 'NOT dropped (not root): the daemon reads from cache'}; load average ${loadAverage()}`,
    );
    const us = (xs: number[]) => median(xs).toFixed(0).padStart(5);
    let goal: { rate: number; rise: number } | undefined;
    for (const [key, name, args] of cases) {
      const r = await alternate(root, target, args, pairs, sliceMs, path.join(dir, `lat-${key}`));
      const passes = r.last.counters.scrubsCompleted > 0 ? `, ${r.last.counters.scrubsCompleted} pass(es) ended, each begun again at once (--pass-interval 1s)` : '';
      console.log(
        `  ${name.padEnd(34)} p99 running ${us(r.running.map((x) => x.p99))} us, paused ${us(r.paused.map((x) => x.p99))} us, no daemon ${r.none.p99.toFixed(0)} us (medians of the slices); ` +
          `p99 per running slice ${r.rises.map(signedPercent).join(' ')}: median ${signedPercent(r.rise)}`,
      );
      console.log(
        `  ${''.padEnd(34)} p50 running ${us(r.running.map((x) => x.p50))} us, paused ${us(r.paused.map((x) => x.p50))} us; p99.9 running ${us(r.running.map((x) => x.p999))} us, paused ${us(r.paused.map((x) => x.p999))} us; ` +
          `${r.requests} requests; daemon verified ${(r.rate / 1e6).toFixed(1)} MB/s while running${heldAs(r.last)}${passes}`,
      );
      if (key === 'defaults') goal = { rate: r.rate, rise: r.rise };
    }
    if (goal) {
      const met = goal.rate >= TARGET_MB_S * 1e6 && goal.rise <= TARGET_P99_RISE;
      console.log(
        `  target, defaults: >= ${TARGET_MB_S} MB/s verified beside the load, p99 <= +${TARGET_P99_RISE * 100}% over the paused slices either side: ${met ? 'met' : 'NOT met'} ` +
          `(${(goal.rate / 1e6).toFixed(1)} MB/s, p99 ${signedPercent(goal.rise)}, the median of ${pairs} slices); load average ${loadAverage()}`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function daemonBench(parts: string[] = []): Promise<void> {
  const all = ['rss', 'paused', 'latency'];
  const chosen = parts.length ? parts : all;
  for (const p of chosen) if (!all.includes(p)) throw new Error(`unknown part ${p} (parts: ${all.join(', ')})`);
  if (chosen.includes('rss')) await rssPart(fastDir());
  if (chosen.includes('paused')) await pausedPart(fastDir());
  if (chosen.includes('latency')) await latencyPart();
}

if (require.main === module) {
  asTheWrappersDo();
  daemonBench(process.argv.slice(2)).then(
    () => undefined,
    (err) => {
      process.stderr.write(`bench daemon: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

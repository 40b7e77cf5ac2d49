// Start-up section of the benchmarks (issue 12): how much longer than a bare
// `node -e 0` the short commands take, against a target of 30 ms each, and
// how long a verify thread takes to start and answer.
//
//   node dist/bench/run.js startup
//
// Each command runs as the installed /bin/sh wrapper execs it: node, the
// flags src/cli/node-flags.ts gives that command, the script (not bin/dev-run,
// which runs node twice). Rounds are interleaved (one run of each command per
// round) so a busy machine slows all of them alike; medians are compared.
// Environment: DFS_BENCH_STARTUP_RUNS (rounds, default 20).

import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { nodeFlags } from '../src/cli/node-flags';
import type { VerifyRequest } from '../src/scrub/verify-worker';
import { benchScratch, envInt, makeRandomFile, median, now, unsetByWrappers } from './measure';

const TARGET_MS = 30;
const CLI = (name: string) => path.resolve(__dirname, '..', 'src', 'cli', `${name}.js`);
const VERIFY_WORKER = path.resolve(__dirname, '..', 'src', 'scrub', 'verify-worker.js');

interface Command {
  what: string;
  argv: string[];
  /** The exit status it gives when all is well (dfs-scrubd status with no daemon: 3). */
  status: number;
  /** Variables on top of this process's environment. */
  env?: Record<string, string>;
}

/** `name args...` as the installed wrapper runs it. */
function installed(name: string, args: string[], status = 0): Command {
  return { what: `${name} ${args.join(' ')}`, argv: [...nodeFlags(name, args), CLI(name), ...args], status };
}

/** Milliseconds from spawn to exit of `node argv...`. */
function runOnce(c: Command): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(process.execPath, c.argv, { stdio: 'ignore', env: { ...process.env, NO_COLOR: '1', ...c.env } });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const ms = (now() - t0) * 1000;
      if (code === c.status) resolve(ms);
      else reject(new Error(`${c.what}: exit ${signal ?? code}, expected ${c.status}`));
    });
  });
}

/** Milliseconds from `new Worker(file)` to its first answer; `ask` is what it is sent. */
function workerAnswer(file: string, ask: unknown, options: object): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const w = new Worker(file, options);
    w.once('error', reject);
    const onMessage = (m: { started?: boolean }) => {
      // A verify thread says it has loaded before it answers (see VerifyWorkers.started).
      if (m?.started) return;
      w.off('message', onMessage);
      const ms = (now() - t0) * 1000;
      void w.terminate().then(() => resolve(ms));
    };
    w.on('message', onMessage);
    w.postMessage(ask);
  });
}

/** A verify thread started as src/scrub/workers.ts starts one, asked for an empty batch; and a bare thread that echoes. */
async function workerStarts(runs: number): Promise<{ verify: number[]; bare: number[] }> {
  const abortFlag = new Int32Array(new SharedArrayBuffer(4));
  const options = { workerData: { abortFlag }, resourceLimits: { maxYoungGenerationSizeMb: 4 } };
  const ask: VerifyRequest = { kind: 'plans', plans: [], dirs: [], bytesPerSecond: 0, tranquility: 0, depth: 'deep', seq: 1 };
  const bare = "require('node:worker_threads').parentPort.once('message', (m) => require('node:worker_threads').parentPort.postMessage(m))";
  const verify: number[] = [];
  const bareTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    verify.push(await workerAnswer(VERIFY_WORKER, ask, options));
    bareTimes.push(await workerAnswer(bare, 1, { ...options, eval: true }));
  }
  return { verify, bare: bareTimes };
}

/** Width of the first column. */
const W = 38;
const ms = (x: number) => `${x.toFixed(1).padStart(6)} ms`;

export async function startupBench(): Promise<void> {
  const runs = envInt('DFS_BENCH_STARTUP_RUNS', 20);
  const { dir, done } = benchScratch(os.tmpdir(), 'dfs-bench-startup-');
  try {
    const pool = path.join(dir, 'pool');
    const file = path.join(dir, 'small.bin');
    makeRandomFile(file, 100_000);
    for (const args of [['create', '--pool', pool, '--disks', '3', '--redundancy', 'mirror:2'], ['put', '--pool', pool, file]]) {
      await runOnce(installed('dfs-pool', args));
    }
    const bare: Command = { what: 'node -e 0', argv: ['-e', '0'], status: 0 };
    const commands = [
      installed('dfs-scrub', ['--help']),
      installed('dynamicfs', ['status', '--pool', pool]),
      installed('dfs-scrubd', ['status', '--pool', pool], 3),
    ];
    const all = [bare, ...commands];
    const times = all.map(() => [] as number[]);
    for (const c of all) await runOnce(c); // warm the page cache
    for (let round = 0; round < runs; round++) {
      for (let i = 0; i < all.length; i++) times[i].push(await runOnce(all[i]));
    }
    const base = median(times[0]);
    console.log(`${runs} interleaved rounds, medians (min); ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}, node ${process.version}; pool: 3 disks, mirror:2, one 100 kB object`);
    console.log(`${'node -e 0'.padEnd(W)} ${ms(base)} (${Math.min(...times[0]).toFixed(1)})`);
    commands.forEach((c, j) => {
      const t = median(times[j + 1]);
      const over = t - base;
      const shown = c.what.replace(pool, 'P');
      console.log(`${shown.padEnd(W)} ${ms(t)} (${Math.min(...times[j + 1]).toFixed(1)})  +${over.toFixed(1)} ms over node -e 0: ${over <= TARGET_MS ? 'met' : 'missed'} (target +${TARGET_MS} ms)`);
    });
    const unset = Object.keys(unsetByWrappers);
    if (unset.length) {
      // The environment gave node variables the wrappers unset: what they would have cost each start.
      const withThem: Command = { ...bare, what: `node -e 0 with ${unset.join(', ')}`, env: unsetByWrappers };
      const t = [] as number[];
      for (let round = 0; round < runs; round++) t.push(await runOnce(withThem));
      console.log(`${withThem.what} (set here; the wrappers unset it): ${ms(median(t))} (${Math.min(...t).toFixed(1)})`);
    }
    const w = await workerStarts(Math.max(5, Math.ceil(runs / 2)));
    const v = median(w.verify);
    const b = median(w.bare);
    console.log(`${'verify thread: start to first answer'.padEnd(W)} ${ms(v)}  +${(v - b).toFixed(1)} ms over a bare thread (${b.toFixed(1)} ms)`);
  } finally {
    done();
  }
}

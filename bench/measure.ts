// What every bench section measures with: timing commands, making data,
// printing a rate beside its baseline.

import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UNSET_ENV } from '../src/cli/node-flags';

/**
 * What this environment set that the installed wrappers unset (node-flags.ts,
 * UNSET_ENV), once asTheWrappersDo has run: the bench runs every command, and
 * the bare `node -e 0` it weighs them against, with the environment the
 * wrappers give node; the startup section shows what the variables cost.
 */
export const unsetByWrappers: Record<string, string> = {};

export function asTheWrappersDo(): void {
  for (const k of UNSET_ENV) {
    const v = process.env[k];
    if (v === undefined) continue;
    unsetByWrappers[k] = v;
    delete process.env[k];
  }
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export const now = () => Number(process.hrtime.bigint()) / 1e9;
export const gbps = (bytes: number, seconds: number) => bytes / seconds / 1e9;
/** The middle value; of an even count, the mean of the two middle ones (the upper one alone would lean high). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Writes back and drops the page cache (root only); false where it cannot. */
export function dropCaches(): boolean {
  try {
    spawnSync('sync');
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

export function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive whole number`);
  return n;
}

/** Runs a command to completion with the given stdio; returns seconds taken. */
export function timed(cmd: string, args: string[], stdio: StdioOptions = ['ignore', 'ignore', 'inherit']): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(cmd, args, { stdio, env: { ...process.env, NO_COLOR: '1' } });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const t = now() - t0;
      if (code === 0) resolve(t);
      else reject(new Error(`${path.basename(cmd)} ${args.join(' ')}: exit ${signal ?? code}`));
    });
  });
}

export function makeRandomFile(file: string, bytes: number): void {
  const buf = Buffer.allocUnsafe(16 * MiB);
  const fd = fs.openSync(file, 'w');
  try {
    for (let done = 0; done < bytes; ) {
      const n = Math.min(buf.length, bytes - done);
      randomFillSync(buf, 0, n);
      let off = 0;
      while (off < n) off += fs.writeSync(fd, buf, off, n - off);
      done += n;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** True when both files hold the same bytes. */
export function sameBytes(a: string, b: string): boolean {
  if (fs.statSync(a).size !== fs.statSync(b).size) return false;
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  const ba = Buffer.allocUnsafe(16 * MiB);
  const bb = Buffer.allocUnsafe(16 * MiB);
  try {
    for (;;) {
      const na = fs.readSync(fa, ba, 0, ba.length, null);
      const nb = fs.readSync(fb, bb, 0, bb.length, null);
      if (na !== nb) return false;
      if (na === 0) return true;
      if (!ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

export function row(what: string, bytes: number, seconds: number, catGBps?: number): void {
  const rate = gbps(bytes, seconds);
  const ratio = catGBps ? `${(rate / catGBps).toFixed(3)} x cat (${catGBps.toFixed(2)} GB/s)` : '';
  console.log(`${what.padEnd(44)} ${rate.toFixed(3).padStart(8)} GB/s  ${seconds.toFixed(3).padStart(8)} s  ${ratio}`);
}


/** DFS_BENCH_FAST_DIR, else /dev/shm, where it is writable: pools of many small files build there in minutes, not hours. */
export function fastDir(): string {
  const wanted = process.env.DFS_BENCH_FAST_DIR || '/dev/shm';
  try {
    fs.accessSync(wanted, fs.constants.W_OK);
    return wanted;
  } catch {
    return os.tmpdir();
  }
}

/**
 * A scratch directory under `base`, removed by `done()` and on SIGINT or
 * SIGTERM (the signal is then raised again, so the run still ends by it).
 */
export function benchScratch(base: string, prefix: string): { dir: string; done: () => void } {
  const dir = fs.mkdtempSync(path.join(base, prefix));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  const onSignal = (sig: NodeJS.Signals) => {
    cleanup();
    process.kill(process.pid, sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    dir,
    done: () => {
      cleanup();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

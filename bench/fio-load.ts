// A foreground load that never pauses, and what each of its requests waited:
// fio 4 KiB random reads, O_DIRECT, queue depth 1, every completion logged
// with its wall-clock time, so the latency of any stretch of the run can be
// read afterwards. The daemon is paused and resumed in turn beneath one run:
// stretches next to each other share the device's state, which drifts
// between runs by more than the effect measured (two runs of 20 s alone
// differ by up to 16% in p99 here).

import { spawn } from 'node:child_process';
import fs from 'node:fs';

/** The 4 KiB random reads, as every latency figure of the benchmarks has them. */
export const FIO_LOAD = ['--name=fg', '--rw=randread', '--bs=4k', '--direct=1', '--ioengine=psync', '--size=1G', '--time_based'];

/** Each request's completion: when (ms since the epoch) and how long it waited (us). */
export interface Latencies {
  atMs: Float64Array;
  us: Float64Array;
}

/** Starts fio on `file` for `seconds`, logging every request; resolves with the log once fio has ended. */
export function runLoggedLoad(file: string, seconds: number, logPrefix: string): Promise<Latencies> {
  const child = spawn('fio', [...FIO_LOAD, `--filename=${file}`, `--runtime=${seconds}`, `--write_lat_log=${logPrefix}`, '--log_avg_msec=0', '--log_unix_epoch=1', '--output-format=terse'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)));
  return new Promise<Latencies>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`fio exited ${code}: ${err}`));
      try {
        resolve(readLatencyLog(`${logPrefix}_clat.1.log`));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Parses fio's log lines "time_ms, latency_ns, direction, bs, offset"; about 2 million lines for 2 minutes here. */
export function readLatencyLog(file: string): Latencies {
  const text = fs.readFileSync(file);
  let lines = 0;
  for (let i = 0; i < text.length; i++) if (text[i] === 10) lines++;
  const atMs = new Float64Array(lines);
  const us = new Float64Array(lines);
  let n = 0;
  let field = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c >= 48 && c <= 57) value = value * 10 + (c - 48);
    else if (c === 44) {
      if (field === 0) atMs[n] = value;
      else if (field === 1) us[n] = value / 1000;
      field++;
      value = 0;
    } else if (c === 10) {
      n++;
      field = 0;
      value = 0;
    }
  }
  return { atMs: atMs.subarray(0, n), us: us.subarray(0, n) };
}

/** The latencies completed within [fromMs, toMs), sorted: one scan of the log and one sort per stretch. */
export function latenciesWithin(l: Latencies, fromMs: number, toMs: number): Float64Array {
  const within: number[] = [];
  for (let i = 0; i < l.atMs.length; i++) if (l.atMs[i] >= fromMs && l.atMs[i] < toMs) within.push(l.us[i]);
  return Float64Array.from(within).sort();
}

/** The q-quantile (0.99 for p99) of sorted latencies; NaN when there are none. */
export function quantile(sorted: Float64Array, q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN;
}

import os from 'node:os';
import { usageError } from '../core/errors';
import type { Depth } from './verify';
export type Intensity = 'low' | 'medium' | 'high' | 'max';

export interface Pacing {
  /** Pause between operations. */
  pauseMs: number;
  /** Extents verified per operation. */
  extentsPerOp: number;
  /** The process's nice value: its main thread, which answers the control socket and walks the pool. */
  nice: number;
  /**
   * The verify threads'. At max they are the whole CPU's worth of hashing:
   * a step below the main thread, they still take every idle cycle, and a
   * shell's command runs first (`dynamicfs status` beside a daemon pass at
   * max over a million extents, 2 cores, 4 runs each: 125-134 ms median and
   * 156-172 worst at nice 0; 84-94 and 115-141 at nice 5; the pass 20.9-22.8 s
   * either way).
   */
  verifyNice: number;
  /** Operations in flight at once (worker threads). */
  parallel: number;
  /**
   * Within an operation, reads are 1 MiB at most and each is followed by an
   * idle spell this many times as long as it took: the scrub then holds at
   * most 1/(T+1) of the disk's time, on a fast disk or a slow one, and a
   * foreground request never waits behind a multi-MiB burst (PERF-NOTES).
   */
  tranquility: number;
}

let cpus = 0;
/** os.cpus() reads /proc/cpuinfo and costs ~50 us: asked once per process, not once per operation. */
function cpuCount(): number {
  return (cpus ||= Math.max(1, os.cpus().length));
}

/**
 * A light pass checks this many extents where the table says one: a header
 * check is a few syscalls (~10 us a shard), a deep one reads the extent, so
 * the table's pacing would leave a light pass slower than it needs to be
 * by two orders of magnitude while sparing the disk nothing.
 */
const LIGHT_EXTENTS_PER_EXTENT = 64;

/** The guide's intensity table for a pass of the depth; `max` is for maintenance windows and benchmarks. */
export function pacingFor(intensity: Intensity, depth: Depth = 'deep'): Pacing {
  const p = intensityTable(intensity);
  return depth === 'light' ? { ...p, extentsPerOp: p.extentsPerOp * LIGHT_EXTENTS_PER_EXTENT } : p;
}

function intensityTable(intensity: Intensity): Pacing {
  switch (intensity) {
    case 'low':
      return { pauseMs: 100, extentsPerOp: 1, nice: 10, verifyNice: 10, parallel: 1, tranquility: 20 };
    case 'medium':
      return { pauseMs: 50, extentsPerOp: 5, nice: 5, verifyNice: 5, parallel: 1, tranquility: 4 };
    case 'high':
      return { pauseMs: 10, extentsPerOp: 20, nice: 1, verifyNice: 1, parallel: 1, tranquility: 0 };
    case 'max':
      return { pauseMs: 0, extentsPerOp: 4, nice: 0, verifyNice: 5, parallel: cpuCount(), tranquility: 0 };
  }
}

export const INTENSITIES: Intensity[] = ['low', 'medium', 'high', 'max'];

export function parseIntensity(text: unknown, culprit = '--intensity'): Intensity {
  const s = String(text);
  if ((INTENSITIES as string[]).includes(s)) return s as Intensity;
  throw usageError(`${culprit} ${JSON.stringify(s)}: expected one of ${INTENSITIES.join(', ')}`);
}

/** Bytes per second: a number with an optional K/M/G (powers of 1024) suffix and optional B or /s. */
export function parseRate(text: unknown, culprit = '--max-rate'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?(\/s)?$/i.exec(String(text).trim());
  if (!m) throw usageError(`${culprit} ${JSON.stringify(String(text))}: expected bytes per second, e.g. 50M or 1048576`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const n = Math.floor(Number(m[1]) * mult);
  if (n < 4096) throw usageError(`${culprit} ${text}: must be at least 4096 bytes per second`);
  return n;
}

/** Lowers our CPU priority per the table; raising it back needs privilege, so a refusal is not an error. */
export function applyNice(nice: number): string | undefined {
  try {
    os.setPriority(0, nice);
    return undefined;
  } catch (err) {
    return `cannot set nice ${nice}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

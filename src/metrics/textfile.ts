import fs from 'node:fs';
import path from 'node:path';
import { AtomicWriter } from '../core/atomic-file';
import { DfsError, fsFailure } from '../core/errors';
import { readSnapshots } from './snapshot';
import { renderMetrics } from './registry';

// node_exporter's textfile collector reads DIR/*.prom at every scrape. A file
// it reads must be complete, so ours is replaced atomically: written under a
// temp name in the same directory that does NOT end in .prom (the core's
// temp names do, so writeFileAtomic cannot be used), fsynced, renamed over
// the final name, and the directory fsynced. No timestamps are written
// (node_exporter rejects them) and no process metrics: they would describe
// this short-lived writer, not the pool.

/** The temp name for final: hidden, and ending in .tmp so the collector's glob skips it. */
export const textfileTempPath = (final: string) => path.join(path.dirname(final), `.${path.basename(final)}.${process.pid}.tmp`);

/** Replaces dir/name with text atomically; the file is world-readable whatever the umask. */
export function writeTextfile(dir: string, name: string, text: string): string {
  const final = path.join(dir, name);
  const tmp = textfileTempPath(final);
  let w: AtomicWriter | undefined;
  try {
    fs.rmSync(tmp, { force: true }); // ours by name: left by a killed writer with a recycled pid
    // node_exporter runs as another user: the file is 0644 whatever the service's UMask.
    w = new AtomicWriter(final, { mode: 0o644, tempPath: tmp });
    w.write(Buffer.from(text, 'utf8'));
    w.commit();
    return final;
  } catch (err) {
    w?.abort();
    throw fsFailure('cannot write textfile', final, err);
  }
}

export interface TextfileResult {
  file: string;
  /** One line per pool that could not be read (its file still says pool_readable 0). */
  poolErrors: string[];
}

/** One export: snapshots of the pools, rendered, written. */
export async function exportTextfile(pools: readonly string[], dir: string, name: string): Promise<TextfileResult> {
  const snapshots = readSnapshots(pools);
  const { text } = await renderMetrics(snapshots);
  const file = writeTextfile(dir, name, text);
  const poolErrors = snapshots.flatMap((s) => (s.ok ? [] : [s.error]));
  return { file, poolErrors };
}

export interface TextfileLoopOptions {
  pools: readonly string[];
  dir: string;
  name: string;
  intervalSeconds: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

/**
 * Exports every interval until signal aborts. A failed export is logged and
 * retried at the next tick: the collector keeps serving the last good file,
 * and node_textfile_mtime_seconds shows its age.
 */
export async function runTextfileLoop(opts: TextfileLoopOptions): Promise<void> {
  let lastProblem = '';
  while (!opts.signal.aborted) {
    let problem = '';
    try {
      const r = await exportTextfile(opts.pools, opts.dir, opts.name);
      problem = r.poolErrors.join('; ');
    } catch (err) {
      problem = err instanceof DfsError ? err.message : String(err);
    }
    // Log a problem when it starts or changes, and its end, not once a minute.
    if (problem !== lastProblem) opts.log(problem || 'textfile export recovered');
    lastProblem = problem;
    await sleep(opts.intervalSeconds * 1000, opts.signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

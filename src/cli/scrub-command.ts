// The scrub pass itself, required by dfs-scrub.ts only when a pass runs:
// `dfs-scrub --help` loads none of the pool and pass code (issue 12).
import { openPool, onlineDisks } from '../core/pool';
import { EXIT, operationalError, usageError } from '../core/errors';
import { lockPool, parseWhenBusy } from '../scrub/busy-pool';
import { ScrubPass } from '../scrub/pass';
import { applyNice, pacingFor, parseIntensity, parseRate } from '../scrub/pacing';
import { requirePool } from './program';
import { progressLine, renderReport } from './scrub-report';
import { printable, printJson } from './format';
import { atMostBytes } from '../core/units';

export interface Opts {
  pool?: string;
  json?: boolean;
  repair?: boolean;
  intensity?: string;
  'max-rate'?: string;
  resume?: boolean;
  verbose?: boolean;
  light?: boolean;
  'only-known'?: boolean;
  'when-busy'?: string;
}

export async function scrubCommand(opts: Opts): Promise<number> {
  const root = requirePool(opts);
  if (opts.resume && (opts.light || opts['only-known'])) throw usageError('--resume continues an interrupted deep pass; light and --only-known passes are short and start afresh');
  const intensity = parseIntensity(opts.intensity ?? 'high');
  const maxRate = opts['max-rate'] === undefined ? undefined : atMostBytes(parseRate(opts['max-rate']), opts['max-rate'], '--max-rate');
  const whenBusy = parseWhenBusy(opts['when-busy']);
  const pool = openPool(root);
  if (onlineDisks(pool).length === 0) throw operationalError(`pool ${pool.root} is unreadable: no disk is online`);
  let stopped = false;
  const stopWaiting = () => (stopped = true);
  process.on('SIGINT', stopWaiting);
  process.on('SIGTERM', stopWaiting);
  const lock = await lockPool(pool.root, 'dfs-scrub', whenBusy, () => stopped, (h) =>
    process.stderr.write(`dfs-scrub: waiting for ${printable(h.owner)} (PID ${h.pid}, since ${printable(h.since)}) to finish with pool ${printable(pool.root)}\n`),
  ).finally(() => {
    process.off('SIGINT', stopWaiting);
    process.off('SIGTERM', stopWaiting);
  });
  if ('cancelled' in lock) {
    process.stderr.write('dfs-scrub: stopped while waiting for the pool; nothing was scrubbed\n');
    return EXIT.CANCELLED;
  }
  if ('skipped' in lock) {
    const h = lock.skipped;
    const why = `pool ${pool.root} is being scrubbed by ${h.owner} (PID ${h.pid}, since ${h.since})`;
    if (opts.json) printJson({ skipped: true, reason: why, heldBy: h });
    else process.stderr.write(`dfs-scrub: skipped: ${printable(why)}; the pass in hand covers this one\n`);
    return EXIT.OK;
  }
  const release = lock.release;
  const niceWarning = applyNice(pacingFor(intensity).nice);
  if (niceWarning) process.stderr.write(`dfs-scrub: ${niceWarning}\n`);
  const tty = !!process.stderr.isTTY && !opts.json;
  const pass = new ScrubPass(pool, {
    mode: opts.repair ? 'repair' : 'verify',
    intensity,
    maxRate,
    // Scheduled runs say so in the persisted state (the timer's service and the cron runner set it).
    runner: process.env.DFS_SCRUB_RUNNER || 'dfs-scrub',
    resume: !!opts.resume,
    depth: opts.light ? 'light' : 'deep',
    onlyKnown: !!opts['only-known'],
    onProgress: tty ? (p) => process.stderr.write(progressLine(p)) : undefined,
  });
  const stop = () => pass.cancel();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const report = await pass.run();
    if (tty) process.stderr.write('\r\x1b[K');
    if (opts.json) printJson(report);
    else console.log(renderReport(report, !!opts.verbose));
    return report.exitCode;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    release();
  }
}


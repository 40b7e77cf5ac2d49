#!/usr/bin/env node
import { openPool, onlineDisks } from '../core/pool';
import { EXIT, operationalError, usageError } from '../core/errors';
import { lockPool, parseWhenBusy, WHEN_BUSY } from '../scrub/busy-pool';
import { ScrubPass } from '../scrub/pass';
import { applyNice, INTENSITIES, pacingFor, parseIntensity, parseRate } from '../scrub/pacing';
import { jsonOption, poolOption, ProgramSpec, requirePool, runProgram, VERSION } from './program';
import { progressLine, renderReport } from './scrub-report';
import { printable, printJson } from './format';
import { atMostBytes } from '../core/units';

interface Opts {
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

export const scrubProgram: ProgramSpec = {
  runsAsPoolOwner: true,
  name: 'dfs-scrub',
  version: VERSION,
  description: 'One scrub pass: read every shard of every extent, prove it, optionally repair from redundancy',
  single: true,
  common: [],
  commands: [
    {
      usage: '',
      description: 'One scrub pass over the pool, then exit',
      options: [
        poolOption,
        { flag: '--repair', description: 'Rebuild bad or missing shards and manifest copies (damaged files go to quarantine)' },
        jsonOption,
        { flag: '--intensity', value: 'LEVEL', choices: INTENSITIES, description: 'low, medium, high or max (no pauses, all cores)', default: 'high' },
        { flag: '--max-rate', value: 'BYTES', description: 'Cap reads at BYTES per second (K, M, G suffixes)' },
        { flag: '--resume', description: 'Continue an interrupted pass from its saved cursor instead of starting afresh' },
        { flag: '--verbose', description: 'List every informational finding, not just the first few' },
        { flag: '--light', description: "Check each shard's type, size and header without reading its payload: finds lost and truncated shards in a fraction of the time, never rot" },
        { flag: '--only-known', description: 'Re-check only the extents and manifest copies the last passes left as problems' },
        {
          flag: '--when-busy',
          value: 'WHAT',
          choices: WHEN_BUSY,
          description: 'When another scrubber holds the pool: fail (exit 8), skip (exit 0, nothing done) or wait for its pass to end (not for the daemon)',
          default: 'fail',
        },
      ],
      examples: ['--pool /tmp/pool', '--pool /tmp/pool --repair', '--pool /tmp/pool --repair --json', '--pool /tmp/pool --light', '--pool /tmp/pool --only-known --repair'],
      action: scrubCommand,
    },
  ],
};

if (require.main === module) void runProgram(scrubProgram);

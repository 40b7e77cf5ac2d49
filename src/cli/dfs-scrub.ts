#!/usr/bin/env node
import { openPool, onlineDisks } from '../core/pool';
import { operationalError } from '../core/errors';
import { acquireScrubLock } from '../scrub/lock';
import { ScrubPass } from '../scrub/pass';
import { applyNice, INTENSITIES, pacingFor, parseIntensity, parseRate } from '../scrub/pacing';
import { jsonOption, poolOption, ProgramSpec, requirePool, runProgram, VERSION } from './program';
import { progressLine, renderReport } from './scrub-report';
import { printJson } from './format';
import { atMostBytes } from '../core/units';

interface Opts {
  pool?: string;
  json?: boolean;
  repair?: boolean;
  intensity?: string;
  'max-rate'?: string;
  resume?: boolean;
  verbose?: boolean;
}

export async function scrubCommand(opts: Opts): Promise<number> {
  const root = requirePool(opts);
  const intensity = parseIntensity(opts.intensity ?? 'high');
  const maxRate = opts['max-rate'] === undefined ? undefined : atMostBytes(parseRate(opts['max-rate']), opts['max-rate'], '--max-rate');
  const pool = openPool(root);
  if (onlineDisks(pool).length === 0) throw operationalError(`pool ${pool.root} is unreadable: no disk is online`);
  const release = acquireScrubLock(pool.root, 'dfs-scrub');
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
      ],
      examples: ['--pool /tmp/pool', '--pool /tmp/pool --repair', '--pool /tmp/pool --repair --json'],
      action: scrubCommand,
    },
  ],
};

if (require.main === module) void runProgram(scrubProgram);

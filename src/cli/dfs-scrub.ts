#!/usr/bin/env node
import { INTENSITIES } from '../scrub/pacing';
import { WHEN_BUSY } from '../scrub/busy-pool';
import { jsonOption, poolOption, ProgramSpec, runProgram, VERSION } from './program';
import type { Opts } from './scrub-command';

const scrubCommand = (opts: Opts): Promise<number> => (require('./scrub-command') as typeof import('./scrub-command')).scrubCommand(opts);

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

/** Runs dfs-scrub on argv as process.argv has it; the umbrella runs its commands here, with this executable's own copy of the core. */
export const main = (argv?: string[]) => runProgram(scrubProgram, argv);

if (require.main === module) void main();

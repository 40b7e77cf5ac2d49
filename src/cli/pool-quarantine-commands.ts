import { openPool } from '../core/pool';
import { usageError } from '../core/errors';
import { parseDuration } from '../core/units';
import { listQuarantine, purgeQuarantine, QuarantineEntry, restoreQuarantine } from '../scrub/quarantine';
import { CommandSpec, requirePool } from './program';
import { bytes, printable, printJson, table } from './format';

// dfs-pool quarantine list | restore ENTRY | purge --older-than DURATION.

interface Opts {
  pool?: string;
  json?: boolean;
  [k: string]: unknown;
}

const entryJson = (e: QuarantineEntry) => ({ name: e.name, disk: e.disk ?? null, quarantinedAt: e.quarantinedAt, original: e.original, problem: e.problem, bytes: e.bytes, content: e.content ?? null, note: e.note });

export const quarantineCommand: CommandSpec = {
  usage: 'quarantine <action> [entry]',
  description: 'Damaged files kept by repairs and gc: list, restore ENTRY to where it was, or purge --older-than DURATION',
  options: [
    { flag: '--older-than', value: 'DURATION', description: 'purge: only entries kept longer than this (required, e.g. 90d)' },
    { flag: '--dry-run', description: 'purge: show what would go, delete nothing' },
    { flag: '--force', description: 'restore: quarantine the file now at the original path first' },
  ],
  examples: ['quarantine list --pool /srv/pool', 'quarantine purge --pool /srv/pool --older-than 90d'],
  action: (action: string, entry: string | undefined, opts: Opts) => {
    // Values are checked before the pool is opened: a bad one changes nothing.
    const olderThan = action === 'purge' && opts['older-than'] !== undefined ? parseDuration(opts['older-than'], '--older-than') : undefined;
    const pool = openPool(requirePool(opts));
    if (action === 'list') {
      const entries = listQuarantine(pool);
      if (opts.json) return printJson({ entries: entries.map(entryJson) });
      if (entries.length === 0) return console.log('quarantine is empty');
      console.log(table([['ENTRY', 'DISK', 'KEPT', 'SIZE', 'PROBLEM', 'ORIGINAL'], ...entries.map((e) => [printable(e.name), e.disk ? String(e.disk.index) : 'pool', printable(e.quarantinedAt), bytes(e.bytes), printable(e.problem), printable(e.original)])]));
      return;
    }
    if (action === 'restore') {
      if (!entry) throw usageError('quarantine restore needs an ENTRY (see dfs-pool quarantine list)');
      const r = restoreQuarantine(pool, entry, !!opts.force);
      if (opts.json) return printJson(r);
      console.log(`restored ${printable(r.entry)} to ${printable(r.restoredTo)}${r.displaced ? ` (the file that was there is kept in ${printable(r.displaced)})` : ''}`);
      return;
    }
    if (action === 'purge') {
      if (olderThan === undefined) throw usageError('quarantine purge needs --older-than DURATION: nothing is deleted by default');
      const gone = purgeQuarantine(pool, olderThan, !!opts['dry-run']);
      if (opts.json) return printJson({ dryRun: !!opts['dry-run'], purged: gone.map(entryJson) });
      const total = gone.reduce((a, e) => a + e.bytes, 0);
      console.log(`${opts['dry-run'] ? 'would purge' : 'purged'} ${gone.length} entries, ${bytes(total)}`);
      return;
    }
    throw usageError(`quarantine ${action}: expected list, restore or purge`);
  },
};

import kleur from 'kleur';
import { openPool } from '../core/pool';
import type { DiskChange } from '../core/disk-set';
import { loadState } from '../scrub/state';
import { clearDiskErrors } from '../scrub/disk-errors';
import { CommandSpec, requirePool } from './program';
import { printable, printJson } from './format';

// dfs-pool's verbs that change the set of disks, and clear-errors.
// What they change disks with is required when one runs: dfs-pool status
// and --help load none of it (issue 12).
const diskSet = (): typeof import('../core/disk-set') => require('../core/disk-set');

interface Opts {
  pool?: string;
  json?: boolean;
  force?: boolean;
  [k: string]: unknown;
}

const forceOption = (what: string) => ({ flag: '--force', description: what });

function printChange(opts: Opts, verb: string, r: DiskChange, next: string): void {
  if (opts.json) return printJson(r);
  console.log(`${verb} disk ${r.disk.index} at ${printable(r.disk.path)} (${printable(r.disk.id)}), ${r.disk.state}; ${r.manifests} manifests copied onto it`);
  console.log(next);
}

export const diskCommands: CommandSpec[] = [
  {
    usage: 'replace-disk <old> <new>',
    description: 'Put a blank drive (NEW, a mount point) in the place of a dead disk (OLD: index, id or path); the next repair pass rebuilds it',
    options: [forceOption('Accept a NEW that is not empty or sits on the pool directory\'s filesystem, or an OLD that is still online')],
    examples: ['replace-disk --pool /srv/pool 3 /mnt/disk3-new'],
    action: (oldName: string, newDir: string, opts: Opts) => {
      const pool = openPool(requirePool(opts));
      const r = diskSet().replaceDisk(pool, oldName, newDir, !!opts.force);
      printChange(opts, 'replaced by', r, `now rebuilding: run dfs-scrub --pool ${printable(pool.root)} --repair (or let the daemon with auto-repair do it); dfs-pool status shows the progress`);
    },
  },
  {
    usage: 'add-disk <new>',
    description: 'Add a blank drive (a mount point) to the pool for new writes',
    options: [forceOption('Accept a directory that is not empty or sits on the pool directory\'s filesystem')],
    action: (newDir: string, opts: Opts) => {
      const pool = openPool(requirePool(opts));
      printChange(opts, 'added', diskSet().addDisk(pool, newDir, !!opts.force), 'new extents are placed on it from now on');
    },
  },
  {
    usage: 'remove-disk <disk>',
    description: "Take a disk out of the pool: a readable disk's shards are copied to the others first; a dead one is dropped when every scheme still fits",
    options: [],
    action: async (name: string, opts: Opts) => {
      const pool = openPool(requirePool(opts));
      const { removeDisk }: typeof import('../scrub/evacuate') = require('../scrub/evacuate');
      const r = await removeDisk(pool, name);
      if (opts.json) return printJson({ removed: r.removed, shardsMoved: r.shardsMoved, shardsLeftForRepair: r.shardsLeftForRepair });
      console.log(`removed disk ${r.removed.index} (${printable(r.removed.path)}, ${r.removed.state}): ${r.shardsMoved} shards copied to the other disks; the drive itself is left as it was`);
      if (!r.readable || r.shardsLeftForRepair.length) {
        console.log(kleur.yellow(`its ${r.readable ? `${r.shardsLeftForRepair.length} damaged ` : ''}shards are now missing: run dfs-scrub --pool ${printable(pool.root)} --repair to rebuild them on the other disks`));
      }
    },
  },
  {
    usage: 'clear-errors [disk]',
    description: "Reset the read, checksum and write error counts of one disk (index, id or path), or of every disk",
    options: [],
    action: (name: string | undefined, opts: Opts) => {
      const pool = openPool(requirePool(opts));
      const disks = name === undefined ? pool.disks : [diskSet().resolveDisk(pool, name)];
      clearDiskErrors(pool.root, loadState(pool.root, pool.config.id).diskErrors, disks.map((d) => d.id));
      if (opts.json) return printJson({ cleared: disks.map((d) => ({ index: d.index, id: d.id })) });
      console.log(`cleared the error counts of ${disks.map((d) => `disk ${d.index}`).join(', ')}`);
    },
  },
];

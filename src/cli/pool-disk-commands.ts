import kleur from 'kleur';
import { openPool } from '../core/pool';
import { addDisk, DiskChange, dropDisk, replaceDisk, resolveDisk, schemesTooWide } from '../core/disk-set';
import { operationalError } from '../core/errors';
import { acquireScrubLock } from '../scrub/lock';
import { evacuateDisk } from '../scrub/evacuate';
import { loadState } from '../scrub/state';
import { clearDiskErrors } from '../scrub/disk-errors';
import { CommandSpec, requirePool } from './program';
import { printable, printJson } from './format';

// dfs-pool's verbs that change the set of disks, and clear-errors.

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
      const r = replaceDisk(pool, oldName, newDir, !!opts.force);
      printChange(opts, 'replaced by', r, `now rebuilding: run dfs-scrub --pool ${printable(pool.root)} --repair (or let the daemon with auto-repair do it); dfs-pool status shows the progress`);
    },
  },
  {
    usage: 'add-disk <new>',
    description: 'Add a blank drive (a mount point) to the pool for new writes',
    options: [forceOption('Accept a directory that is not empty or sits on the pool directory\'s filesystem')],
    action: (newDir: string, opts: Opts) => {
      const pool = openPool(requirePool(opts));
      printChange(opts, 'added', addDisk(pool, newDir, !!opts.force), 'new extents are placed on it from now on');
    },
  },
  {
    usage: 'remove-disk <disk>',
    description: "Take a disk out of the pool: a readable disk's shards are copied to the others first; a dead one is dropped when every scheme still fits",
    options: [],
    action: async (name: string, opts: Opts) => {
      const pool = openPool(requirePool(opts));
      const disk = resolveDisk(pool, name);
      const tooWide = schemesTooWide(pool, pool.disks.length - 1);
      if (tooWide.length) throw operationalError(`cannot remove disk ${disk.index} (${disk.path}): ${tooWide.join(', ')}, and ${pool.disks.length - 1} would remain`);
      const release = acquireScrubLock(pool.root, 'dfs-pool remove-disk');
      try {
        const readable = disk.state === 'online' || disk.state === 'read-only' || disk.state === 'rebuilding';
        const ev = readable ? await evacuateDisk(pool, disk) : undefined;
        if (ev && ev.failed.length) {
          throw operationalError(`disk ${disk.index} stays: ${ev.failed.length} valid shards could not be copied off it (first: ${ev.failed[0].path}: ${ev.failed[0].detail})`);
        }
        dropDisk(pool, disk);
        const result = { removed: { index: disk.index, id: disk.id, path: disk.path, state: disk.state }, shardsMoved: ev?.moved ?? 0, shardsLeftForRepair: ev?.skipped ?? [] };
        if (opts.json) return printJson(result);
        console.log(`removed disk ${disk.index} (${printable(disk.path)}, ${disk.state}): ${result.shardsMoved} shards copied to the other disks; the drive itself is left as it was`);
        if (!readable || ev!.skipped.length) {
          console.log(kleur.yellow(`its ${readable ? `${ev!.skipped.length} damaged ` : ''}shards are now missing: run dfs-scrub --pool ${printable(pool.root)} --repair to rebuild them on the other disks`));
        }
      } finally {
        release();
      }
    },
  },
  {
    usage: 'clear-errors [disk]',
    description: "Reset the read, checksum and write error counts of one disk (index, id or path), or of every disk",
    options: [],
    action: (name: string | undefined, opts: Opts) => {
      const pool = openPool(requirePool(opts));
      const disks = name === undefined ? pool.disks : [resolveDisk(pool, name)];
      clearDiskErrors(pool.root, loadState(pool.root, pool.config.id).diskErrors, disks.map((d) => d.id));
      if (opts.json) return printJson({ cleared: disks.map((d) => ({ index: d.index, id: d.id })) });
      console.log(`cleared the error counts of ${disks.map((d) => `disk ${d.index}`).join(', ')}`);
    },
  },
];

#!/usr/bin/env node
import { usageError } from '../core/errors';
import { openPool, Pool } from '../core/pool';
import { Change, describeChange } from '../inject/change';
import { attachDisk, detachDisk } from '../inject/disk-faults';
import { listShards } from '../inject/list';
import { damageManifest } from '../inject/manifest-faults';
import { Random, seededRandom, systemRandom } from '../inject/random';
import { ShardSelection } from '../inject/select';
import { corruptShards, deleteShards, extendShards, truncateShards } from '../inject/shard-faults';
import { printable, printJson, table } from './format';
import { jsonOption, OptionSpec, poolOption, ProgramSpec, runProgram, VERSION } from './program';

type Opts = Record<string, unknown> & { _?: unknown[] };

// sade (mri) hands over numbers for numeric-looking values, arrays for
// repeated options and `true` for a missing value; these turn that into what
// each option means, or a usage error naming the option.

function single(opts: Opts, key: string): unknown {
  const v = opts[key];
  if (Array.isArray(v)) throw usageError(`--${key} given more than once`);
  if (v === true) throw usageError(`--${key} needs a value`);
  return v;
}

function text(opts: Opts, key: string): string | undefined {
  const v = single(opts, key);
  return v === undefined || v === false ? undefined : String(v);
}

/** Garbage appended by one extend: far more than any shard, yet a buffer that can be allocated. */
const MAX_EXTEND_BYTES = 2 ** 30;

function wholeNumber(key: string, v: unknown, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw usageError(`--${key} ${JSON.stringify(v)}: expected a whole number`);
  if (n > max) throw usageError(`--${key} ${JSON.stringify(v)}: at most ${max}`);
  return n;
}

function number(opts: Opts, key: string, max?: number): number | undefined {
  const v = single(opts, key);
  return v === undefined ? undefined : wholeNumber(key, v, max);
}

function numbers(opts: Opts, key: string): number[] | undefined {
  const v = opts[key];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).map((x) => {
    if (x === true) throw usageError(`--${key} needs a value`);
    return wholeNumber(key, x);
  });
}

function flag(opts: Opts, key: string): boolean {
  const v = opts[key];
  if (v === undefined || v === false) return false;
  if (v === true || (Array.isArray(v) && v.every((x) => x === true))) return true;
  throw usageError(`--${key} takes no value (got ${JSON.stringify(Array.isArray(v) ? v.find((x) => x !== true) : v)})`);
}

function openFrom(opts: Opts): Pool {
  const extra = (opts._ ?? []).filter((a) => a !== undefined);
  if (extra.length > 0) throw usageError(`unexpected argument ${JSON.stringify(String(extra[0]))}`);
  flag(opts, 'json');
  const root = text(opts, 'pool');
  if (!root) throw usageError('--pool PATH is required');
  return openPool(root);
}

const selection = (opts: Opts): ShardSelection => ({
  object: text(opts, 'object'),
  extent: text(opts, 'extent'),
  extentIndex: number(opts, 'extent-index'),
  allExtents: flag(opts, 'all-extents'),
  shards: numbers(opts, 'shard'),
  disk: text(opts, 'disk'),
});

function randomFrom(opts: Opts): Random {
  const seed = number(opts, 'seed');
  return seed === undefined ? systemRandom() : seededRandom(seed);
}

/**
 * Runs one fault and prints what changed, also when it fails midway: the
 * operator must know exactly what was damaged before the error.
 */
function inject(opts: Opts, command: string, fault: (pool: Pool, changes: Change[]) => void): void {
  const pool = openFrom(opts);
  const changes: Change[] = [];
  let failed = true;
  try {
    fault(pool, changes);
    failed = false;
  } finally {
    if (opts.json) {
      if (changes.length > 0 || !failed) printJson({ pool: pool.root, command, changes });
    } else for (const c of changes) process.stdout.write(printable(describeChange(c)) + '\n');
  }
}

const targetOptions: OptionSpec[] = [
  { flag: '--object', value: 'NAME', description: 'Damage an extent of this object' },
  { flag: '--extent-index', value: 'I', description: "Which of the object's extents, from 0 (default 0)" },
  { flag: '--all-extents', description: 'Every extent of the object' },
  { flag: '--extent', value: 'ID', description: 'Damage this extent (64 hex digits) instead' },
  { flag: '--shard', value: 'I', description: 'Shard index (default 0, or the shard on --disk); repeat for several' },
  { flag: '--disk', value: 'N|ID', description: 'The shard on this disk (index or id)' },
];

const seedOption: OptionSpec = { flag: '--seed', value: 'N', description: 'Seed the random choices, to repeat a drill exactly' };

const flipOptions: OptionSpec[] = [
  { flag: '--offset', value: 'N', description: 'Flip bits of this byte of the region (default random bytes)' },
  { flag: '--bits', value: 'N', description: 'How many distinct bits to flip', default: 1 },
  seedOption,
];

export const injectProgram: ProgramSpec = {
  runsAsPoolOwner: true,
  name: 'dfs-inject',
  version: VERSION,
  description: 'Inject faults into a DynamicFS pool for drills and tests: corrupt, truncate, delete and extend shards, detach disks, damage manifests',
  common: [poolOption, jsonOption],
  commands: [
    {
      usage: 'list',
      description: 'Show where the shards of an object or extent are, and whether each reads back intact',
      options: [
        { flag: '--object', value: 'NAME', description: 'Every extent of this object' },
        { flag: '--extent-index', value: 'I', description: 'Only this extent of the object' },
        { flag: '--extent', value: 'ID', description: 'This extent (64 hex digits)' },
      ],
      examples: ['list --pool /tmp/pool --object photo.jpg'],
      action: (opts: Opts) => {
        const pool = openFrom(opts);
        const extents = listShards(pool, { object: text(opts, 'object'), extent: text(opts, 'extent'), extentIndex: number(opts, 'extent-index') });
        if (opts.json) return printJson({ pool: pool.root, extents });
        for (const e of extents) {
          const owner = e.object === undefined ? 'no manifest names it' : `object "${printable(e.object)}" extent ${e.extentIndex}`;
          console.log(`extent ${printable(e.extent)} (${printable(e.scheme ?? 'scheme unknown')}, ${owner})`);
          const rows = e.shards.map((s) => [String(s.shard), s.disk ? String(s.disk.index) : '-', printable(s.state), s.size === undefined ? '-' : String(s.size), s.path === undefined ? '-' : printable(s.path)]);
          console.log(table([['  SHARD', 'DISK', 'STATE', 'SIZE', 'PATH'], ...rows.map((r) => ['  ' + r[0], ...r.slice(1)])]));
        }
      },
    },
    {
      usage: 'corrupt',
      description: 'Flip bits of a shard in place, in its payload or its header',
      options: [...targetOptions, { flag: '--where', value: 'header|payload', choices: ['header', 'payload'], description: 'Which region of the shard file', default: 'payload' }, ...flipOptions],
      examples: ['corrupt --pool /tmp/pool --object photo.jpg --shard 1 --bits 3'],
      action: (opts: Opts) => {
        const where = text(opts, 'where');
        if (where !== 'header' && where !== 'payload') throw usageError(`--where ${JSON.stringify(where)}: expected header or payload`);
        inject(opts, 'corrupt', (pool, changes) =>
          corruptShards(pool, selection(opts), { where, offset: number(opts, 'offset'), bits: number(opts, 'bits') ?? 1, random: randomFrom(opts) }, changes),
        );
      },
    },
    {
      usage: 'truncate',
      description: 'Cut a shard file short in place (default to half its size)',
      options: [
        ...targetOptions,
        { flag: '--size', value: 'N', description: 'New size in bytes, smaller than the file' },
        { flag: '--half', description: 'Half the current size (the default)' },
        { flag: '--zero', description: 'Size 0' },
      ],
      examples: ['truncate --pool /tmp/pool --object photo.jpg --shard 2 --size 100'],
      action: (opts: Opts) =>
        inject(opts, 'truncate', (pool, changes) =>
          truncateShards(pool, selection(opts), { size: number(opts, 'size'), half: flag(opts, 'half'), zero: flag(opts, 'zero') }, changes),
        ),
    },
    {
      usage: 'delete',
      description: 'Remove a shard file',
      options: targetOptions,
      examples: ['delete --pool /tmp/pool --object photo.jpg --shard 0 --shard 1'],
      action: (opts: Opts) => inject(opts, 'delete', (pool, changes) => deleteShards(pool, selection(opts), changes)),
    },
    {
      usage: 'extend',
      description: 'Append garbage to a shard file, so it is longer than its header says',
      options: [...targetOptions, { flag: '--bytes', value: 'N', description: 'How many garbage bytes to append', default: 512 }, seedOption],
      examples: ['extend --pool /tmp/pool --object photo.jpg --disk 3'],
      action: (opts: Opts) =>
        inject(opts, 'extend', (pool, changes) => extendShards(pool, selection(opts), { bytes: number(opts, 'bytes', MAX_EXTEND_BYTES) ?? 512, random: randomFrom(opts) }, changes)),
    },
    {
      usage: 'detach-disk',
      description: 'Move a disk directory aside to DISK.detached, so the pool finds it missing',
      options: [{ flag: '--disk', value: 'N|ID', description: 'The disk (index or id)' }],
      examples: ['detach-disk --pool /tmp/pool --disk 2'],
      action: (opts: Opts) => inject(opts, 'detach-disk', (pool, changes) => detachDisk(pool, requiredDisk(opts), changes)),
    },
    {
      usage: 'attach-disk',
      description: 'Move a detached disk back to its place',
      options: [{ flag: '--disk', value: 'N|ID', description: 'The disk (index or id)' }],
      examples: ['attach-disk --pool /tmp/pool --disk 2'],
      action: (opts: Opts) => inject(opts, 'attach-disk', (pool, changes) => attachDisk(pool, requiredDisk(opts), changes)),
    },
    {
      usage: 'damage-manifest',
      description: "Flip bits of an object's manifest copy on one disk (default the first), or of every copy",
      options: [
        { flag: '--object', value: 'NAME', description: 'The object' },
        { flag: '--disk', value: 'N|ID', description: 'The copy on this disk (index or id)' },
        { flag: '--all', description: 'Every copy on every online disk' },
        ...flipOptions,
      ],
      examples: ['damage-manifest --pool /tmp/pool --object photo.jpg --all'],
      action: (opts: Opts) =>
        inject(opts, 'damage-manifest', (pool, changes) => {
          const name = text(opts, 'object');
          if (name === undefined) throw usageError('--object NAME is required');
          damageManifest(pool, name, { disk: text(opts, 'disk'), all: flag(opts, 'all'), offset: number(opts, 'offset'), bits: number(opts, 'bits') ?? 1, random: randomFrom(opts) }, changes);
        }),
    },
  ],
};

function requiredDisk(opts: Opts): string {
  const disk = text(opts, 'disk');
  if (disk === undefined) throw usageError('--disk N|ID is required');
  return disk;
}

/** Runs dfs-inject on argv as process.argv has it; the umbrella runs its commands here, with this executable's own copy of the core. */
export const main = (argv?: string[]) => runProgram(injectProgram, argv);

if (require.main === module) void main();

import fs from 'node:fs';
import path from 'node:path';
import { DfsError, errnoCode, fsFailure, operationalError, usageError } from '../core/errors';
import { fsyncDir } from '../core/atomic-file';
import { Pool } from '../core/pool';
import { HEADER_SIZE } from '../core/shard-header';
import { ByteFlip, Change, diskRef } from './change';
import { distinctSample, Random } from './random';
import { selectShards, ShardSelection, ShardTarget } from './select';

// Faults are written in place, never by temp file and rename: real bit rot,
// torn writes and lost blocks change the file under its name, and that is
// what the scrubber must catch.

const OPEN_FOR_DAMAGE = fs.constants.O_RDWR | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Opens a file for in-place damage, refusing anything that is not a regular file (a link swapped in since lstat included). */
export function openForDamage(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FOR_DAMAGE);
  } catch (err) {
    if (errnoCode(err) === 'ELOOP') throw operationalError(`refusing: ${file} is a symbolic link (not followed)`);
    throw fsFailure('cannot open', file, err);
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw operationalError(`refusing: ${file} is not a regular file`);
  }
  return fd;
}

/** Runs `damage` on an open file and makes it durable: the drill must survive a reboot, as real damage would. */
export function damageInPlace<T>(file: string, damage: (fd: number) => T): T {
  const fd = openForDamage(file);
  try {
    const r = damage(fd);
    fs.fsyncSync(fd);
    return r;
  } catch (err) {
    if (err instanceof DfsError) throw err;
    throw fsFailure('cannot damage', file, err);
  } finally {
    fs.closeSync(fd);
  }
}

export interface FlipOptions {
  /** Byte within the region; absent: random bytes anywhere in it. */
  offset?: number;
  bits: number;
  random: Random;
}

export interface FlipPlan {
  regionStart: number;
  bytes: { offset: number; bits: number[] }[];
}

/**
 * Chooses distinct bits of a region before anything is written, so that a bad
 * --offset or --bits for any one target refuses the whole command.
 */
export function planFlips(what: string, file: string, regionStart: number, regionLength: number, opts: FlipOptions): FlipPlan {
  if (!Number.isSafeInteger(opts.bits) || opts.bits < 1) throw usageError(`--bits ${opts.bits}: expected a whole number of at least 1`);
  if (regionLength <= 0) throw operationalError(`${file} has no ${what} bytes to damage (it is ${regionStart + Math.max(regionLength, 0)} bytes long)`);
  if (opts.offset !== undefined) {
    if (opts.offset >= regionLength) throw usageError(`--offset ${opts.offset}: outside the ${what} of ${file} (bytes 0-${regionLength - 1})`);
    if (opts.bits > 8) throw usageError(`--bits ${opts.bits}: one byte (--offset) has only 8 bits`);
    return { regionStart, bytes: [{ offset: opts.offset, bits: distinctSample(opts.random, 8, opts.bits) }] };
  }
  if (opts.bits > regionLength * 8) throw usageError(`--bits ${opts.bits}: the ${what} of ${file} has only ${regionLength * 8} bits`);
  const bytes = new Map<number, number[]>();
  for (const pos of distinctSample(opts.random, regionLength * 8, opts.bits)) {
    const off = Math.floor(pos / 8);
    bytes.set(off, [...(bytes.get(off) ?? []), pos % 8]);
  }
  return { regionStart, bytes: [...bytes].map(([offset, bits]) => ({ offset, bits })) };
}

/** Flips the planned bits one byte at a time, as a failing medium would. */
export function applyFlips(fd: number, plan: FlipPlan): ByteFlip[] {
  const one = Buffer.alloc(1);
  return plan.bytes.map(({ offset, bits }) => {
    const fileOffset = plan.regionStart + offset;
    if (fs.readSync(fd, one, 0, 1, fileOffset) !== 1) throw operationalError(`byte ${fileOffset} is past the end of the file (it shrank meanwhile?)`);
    const before = one[0];
    one[0] = before ^ bits.reduce((mask, b) => mask | (1 << b), 0);
    fs.writeSync(fd, one, 0, 1, fileOffset);
    return { offset, fileOffset, bits, before, after: one[0] };
  });
}

export type Region = 'header' | 'payload';

export interface CorruptOptions extends FlipOptions {
  where: Region;
}

const shardRef = (t: ShardTarget) => ({ path: t.path, disk: diskRef(t.disk), extent: t.extent.id, shard: t.shard });

/** Flips bits in the header or the payload of each selected shard. */
export function corruptShards(pool: Pool, sel: ShardSelection, opts: CorruptOptions, changes: Change[]): void {
  const targets = selectShards(pool, sel);
  const plans = targets.map((t) => {
    // Header damage of a truncated file can only hit the bytes that are there.
    const [start, length] = opts.where === 'header' ? [0, Math.min(HEADER_SIZE, t.size)] : [HEADER_SIZE, t.size - HEADER_SIZE];
    return planFlips(opts.where, t.path, start, length, opts);
  });
  targets.forEach((t, i) => {
    const flips = damageInPlace(t.path, (fd) => applyFlips(fd, plans[i]));
    changes.push({ action: 'corrupt', ...shardRef(t), region: opts.where, flips });
  });
}

export interface TruncateOptions {
  size?: number;
  half?: boolean;
  zero?: boolean;
}

export function truncateShards(pool: Pool, sel: ShardSelection, opts: TruncateOptions, changes: Change[]): void {
  const ways = [opts.size !== undefined, !!opts.half, !!opts.zero].filter(Boolean).length;
  if (ways > 1) throw usageError('give at most one of --size N, --half, --zero');
  const targets = selectShards(pool, sel);
  const sizes = targets.map((t) => {
    if (opts.size !== undefined) {
      if (opts.size >= t.size) throw usageError(`--size ${opts.size}: ${t.path} is ${t.size} bytes; truncate only shortens (extend lengthens)`);
      return opts.size;
    }
    if (t.size === 0) throw operationalError(`${t.path} is already empty`);
    return opts.zero ? 0 : Math.floor(t.size / 2);
  });
  targets.forEach((t, i) => {
    damageInPlace(t.path, (fd) => fs.ftruncateSync(fd, sizes[i]));
    changes.push({ action: 'truncate', ...shardRef(t), sizeBefore: t.size, sizeAfter: sizes[i] });
  });
}

export function deleteShards(pool: Pool, sel: ShardSelection, changes: Change[]): void {
  for (const t of selectShards(pool, sel)) {
    try {
      // unlink never follows a link, but this tool deletes shard files only.
      if (!fs.lstatSync(t.path).isFile()) throw operationalError(`refusing: ${t.path} is not a regular file`);
      fs.unlinkSync(t.path);
      fsyncDir(path.dirname(t.path));
    } catch (err) {
      if (err instanceof DfsError) throw err;
      throw fsFailure('cannot delete', t.path, err);
    }
    changes.push({ action: 'delete', ...shardRef(t), size: t.size });
  }
}

export interface ExtendOptions {
  bytes: number;
  random: Random;
}

/** Appends garbage: the file then runs past the length its header records. */
export function extendShards(pool: Pool, sel: ShardSelection, opts: ExtendOptions, changes: Change[]): void {
  if (!Number.isSafeInteger(opts.bytes) || opts.bytes < 1) throw usageError(`--bytes ${opts.bytes}: expected a whole number of at least 1`);
  for (const t of selectShards(pool, sel)) {
    const garbage = opts.random.bytes(opts.bytes);
    const sizes = damageInPlace(t.path, (fd) => {
      const before = fs.fstatSync(fd).size;
      let off = 0;
      while (off < garbage.length) off += fs.writeSync(fd, garbage, off, garbage.length - off, before + off);
      return { sizeBefore: before, sizeAfter: before + garbage.length };
    });
    changes.push({ action: 'extend', ...shardRef(t), ...sizes });
  }
}
